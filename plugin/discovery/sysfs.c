#include "sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexfields.h"
#include "log.h"

bool spark_sysfs_read(const char *dir, const char *rel, char *buf, int len)
{
	char path[512];
	if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
		return false;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	bool ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* The whole of text is one number in C syntax (4, 0x15b3, -1) that fits a
 * long. */
static bool parse_long(const char *text, long *out)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 0);
	if (end == text || *end != '\0' || errno == ERANGE)
		return false;
	*out = value;
	return true;
}

bool spark_sysfs_read_long(const char *dir, const char *rel, long *out)
{
	char buf[64];
	if (!spark_sysfs_read(dir, rel, buf, sizeof buf))
		return false;
	if (!parse_long(buf, out)) {
		SPARK_WARN("%s/%s: '%s' is not a number: ignored", dir, rel, buf);
		return false;
	}
	return true;
}

bool spark_sysfs_parse_guid(const char *text, uint64_t *out)
{
	static const char pattern[] = "xxxx:xxxx:xxxx:xxxx";
	unsigned long field[4];
	if (spark_hex_fields(text, pattern, field, 4) != 4 || text[sizeof pattern - 1] != '\0')
		return false;
	*out = (uint64_t)field[0] << 48 | (uint64_t)field[1] << 32 | (uint64_t)field[2] << 16 |
	       field[3];
	return true;
}

bool spark_sysfs_first_entry(const char *dir, const char *rel, char *buf, int len)
{
	char path[512];
	if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
		return false;
	DIR *d = opendir(path);
	if (d == NULL)
		return false;
	bool found = false;
	const struct dirent *e;
	/* Sorted pick, so the answer does not depend on directory order. */
	buf[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (!found || strcmp(e->d_name, buf) < 0) {
			snprintf(buf, (size_t)len, "%s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

bool spark_sysfs_netdev_for_port(const char *dir, const char *rel, int port, char *buf, int len)
{
	char path[512];
	if (!spark_sysfs_first_entry(dir, rel, buf, len))
		return false;
	if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
		return true;
	DIR *d = opendir(path);
	if (d == NULL)
		return true;
	const struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char dev_port_rel[320];
		long dev_port;
		if (e->d_name[0] == '.')
			continue;
		snprintf(dev_port_rel, sizeof dev_port_rel, "%s/dev_port", e->d_name);
		if (spark_sysfs_read_long(path, dev_port_rel, &dev_port) && dev_port == port - 1) {
			snprintf(buf, (size_t)len, "%s", e->d_name);
			break;
		}
	}
	closedir(d);
	return true;
}
