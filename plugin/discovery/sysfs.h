/* Small sysfs reads relative to a directory (an ibv_device's ibdev_path).
 * Every reader returns false when the file is missing or unreadable; the
 * caller decides whether that matters. */
#ifndef SPARK_SYSFS_H
#define SPARK_SYSFS_H

#include <stdbool.h>
#include <stdint.h>

/* First line of dir/rel, without its newline. */
bool spark_sysfs_read(const char *dir, const char *rel, char *buf, int len);
/* The first line as one number (4, 0x15b3). Text that is not wholly a number
 * that fits a long is rejected (false) with a WARN: the kernel never writes
 * it, so something is wrong with the system. */
bool spark_sysfs_read_long(const char *dir, const char *rel, long *out);
/* "0002:c903:00f1:a2b4" (sysfs GUID form) → 0x0002c90300f1a2b4. */
bool spark_sysfs_parse_guid(const char *text, uint64_t *out);
/* The name of the first entry in dir/rel ("device/net" → "enp1s0f0np0"). */
bool spark_sysfs_first_entry(const char *dir, const char *rel, char *buf, int len);

/* The netdev of port `port` (1-based) among the entries of dir/rel
 * ("device/net"): the one whose dev_port is port - 1, else the first by name. */
bool spark_sysfs_netdev_for_port(const char *dir, const char *rel, int port, char *buf, int len);

#endif
