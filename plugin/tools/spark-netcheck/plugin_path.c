/* Which libnccl-net-spark.so the probe loads and the version check hashes:
 * --plugin / SPARK_NETCHECK_PLUGIN, else the one beside this executable (the
 * build tree: build/spark-netcheck next to build/libnccl-net-spark.so), else
 * <prefix>/lib next to <prefix>/bin, else whatever dlopen finds (the .deb
 * puts it in the loader's default path). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netcheck.h"

#define SO_NAME "libnccl-net-spark.so"

static bool exists(const char *path)
{
	return access(path, R_OK) == 0;
}

bool nc_plugin_find(const struct nc_paths *paths, char *path, int len)
{
	if (paths->plugin[0] != '\0') {
		snprintf(path, (size_t)len, "%s", paths->plugin);
		return exists(path);
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL)
			*slash = '\0';
		snprintf(path, (size_t)len, "%s/%s", exe, SO_NAME);
		if (exists(path))
			return true;
		snprintf(path, (size_t)len, "%s/../lib/%s", exe, SO_NAME);
		if (exists(path))
			return true;
	}
	void *lib = dlopen(SO_NAME, RTLD_LAZY | RTLD_LOCAL);
	struct link_map *lm = NULL;
	bool found = lib != NULL && dlinfo(lib, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL;
	if (found)
		snprintf(path, (size_t)len, "%s", lm->l_name);
	if (lib != NULL)
		dlclose(lib);
	return found;
}

/* FNV-1a over the file: equal on both hosts when the same build is installed. */
uint64_t nc_file_hash(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	fclose(f);
	return h;
}
