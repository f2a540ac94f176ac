/* Discovery: every (HCA, port) libibverbs lists, described from verbs, the
 * device's sysfs tree (ibdev_path, PCIe link included) and the netdev's IPv4
 * addresses.
 * Nothing opened here stays open: contexts and libmlx5 are released
 * before returning, so NCCL may dlclose the plugin at any time. */
#ifndef SPARK_SCAN_H
#define SPARK_SCAN_H

#include "hca.h"
#include "nccl/err.h"
#include "param.h"

struct ibv_context;

/* Fills out[0..*n). Zero HCAs is not an error here. */
ncclResult_t spark_discover(const struct spark_params *p, struct spark_hca *out, int max, int *n);

/* Scans the port's GID table again and picks the GID (the data path calls
 * this at every connect: the index can change while the process runs). */
ncclResult_t spark_gid_rescan(struct ibv_context *ctx, struct spark_hca *h, int override_index);

#endif
