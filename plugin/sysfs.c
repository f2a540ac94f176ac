#include "sysfs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool spark_sysfs_read_long(const char *dir, const char *rel, long *out)
{
	char buf[64];
	char *end;
	if (!spark_sysfs_read(dir, rel, buf, sizeof buf))
		return false;
	long value = strtol(buf, &end, 0);
	if (end == buf)
		return false;
	*out = value;
	return true;
}

bool spark_sysfs_parse_guid(const char *text, uint64_t *out)
{
	unsigned a, b, c, d;
	int used = 0;
	if (sscanf(text, "%4x:%4x:%4x:%4x%n", &a, &b, &c, &d, &used) != 4 || used != 19)
		return false;
	*out = (uint64_t)a << 48 | (uint64_t)b << 32 | (uint64_t)c << 16 | d;
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
