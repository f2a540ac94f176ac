/* Findings about how NCCL will (or will not) reach the plugin: which net
 * plugin library its loader opens first, and settings in the environment or
 * in /etc/nccl.conf / ~/.nccl.conf that bypass or break it. The loader rules
 * (NCCL 2.28 ... 2.32, src/plugin/net.cc and plugin_open.cc): NCCL_NET_PLUGIN
 * unset → "libnccl-net.so"; "none" → no external plugin; otherwise each
 * comma-separated name in order, first dlopen'd as written, then (when it has
 * no '/' and is not already lib*.so) as libnccl-net-<name>.so. The first one
 * that loads and initialises wins; NCCL_NET must equal its name. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netcheck.h"
#include "socket.h"

#define OUR_NAME "Spark"

struct candidate {
	char tried[256];     /* the name dlopen found */
	char path[512];      /* where it came from */
	char name[64];       /* the plugin's own name, "" when not a net plugin */
};

/* The net table NCCL would take (newest version first) and its name. */
static void plugin_name(void *lib, char *name, int len)
{
	static const char *const syms[] = {"ncclNetPlugin_v12", "ncclNetPlugin_v11",
		"ncclNetPlugin_v10", "ncclNetPlugin_v9", "ncclNetPlugin_v8",
		"ncclNetPlugin_v7", "ncclNetPlugin_v6"};
	name[0] = '\0';
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		const char *const *table = dlsym(lib, syms[i]);
		if (table != NULL) {
			/* Every version's table starts with const char *name. */
			snprintf(name, (size_t)len, "%s", *table != NULL ? *table : "?");
			return;
		}
	}
}

static bool try_open(const char *file, struct candidate *c)
{
	void *lib = dlopen(file, RTLD_LAZY | RTLD_LOCAL);
	if (lib == NULL)
		return false;
	struct link_map *lm = NULL;
	snprintf(c->tried, sizeof c->tried, "%s", file);
	if (dlinfo(lib, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL)
		snprintf(c->path, sizeof c->path, "%s", lm->l_name);
	else
		snprintf(c->path, sizeof c->path, "%s", file);
	plugin_name(lib, c->name, sizeof c->name);
	dlclose(lib);
	return true;
}

/* One entry of NCCL_NET_PLUGIN resolved as NCCL's loader does. */
static bool resolve(const char *entry, struct candidate *c)
{
	if (try_open(entry, c))
		return true;
	size_t n = strlen(entry);
	bool full = strncmp(entry, "lib", 3) == 0 && n >= 3 && strcmp(entry + n - 3, ".so") == 0;
	if (strchr(entry, '/') != NULL || full)
		return false;
	char file[300];
	snprintf(file, sizeof file, "libnccl-net-%s.so", entry);
	return try_open(file, c);
}

/* Ours loads first: is it the build this tool belongs to? An old copy earlier
 * in LD_LIBRARY_PATH than the installed one is easy to miss. */
static void check_same_build(const struct candidate *c, const struct nc_paths *paths,
			     struct nc_report *r)
{
	char mine[512];
	if (!nc_plugin_find(paths, mine, sizeof mine) || nc_file_hash(mine) == nc_file_hash(c->path))
		return;
	char fix[NC_TEXT_LEN];
	snprintf(fix, sizeof fix, "point NCCL_NET_PLUGIN at the build you mean (e.g. "
		 "NCCL_NET_PLUGIN=%.200s), or remove the other copy", mine);
	nc_add(r, "plugin-shadowed", NC_NOTE, c->path, fix, "NCCL would load %s, a different "
	       "build from %s that this spark-netcheck checks and probes with", c->path, mine);
}

static void check_loader(const struct nc_env *env, const struct nc_paths *paths,
			 struct nc_report *r)
{
	const char *origin = "environment";
	const char *value = nc_env_get(env, "NCCL_NET_PLUGIN", &origin);
	const char *fix = "export NCCL_NET_PLUGIN=spark in every rank's environment (or the "
			  "full path of libnccl-net-spark.so)";
	if (value != NULL && strcasecmp(value, "none") == 0) {
		nc_add(r, "plugin-disabled", NC_BANDWIDTH, "NCCL_NET_PLUGIN", fix,
		       "NCCL_NET_PLUGIN=none (from %s): NCCL loads no external plugin and uses its "
		       "own IB transport, which drives the two halves as separate NICs", origin);
		return;
	}
	char list[512];
	snprintf(list, sizeof list, "%s", value != NULL ? value : "libnccl-net.so");
	char *save = NULL;
	for (char *e = strtok_r(list, ",", &save); e != NULL; e = strtok_r(NULL, ",", &save)) {
		struct candidate c;
		memset(&c, 0, sizeof c);
		if (!resolve(e, &c))
			continue;
		if (strcmp(c.name, OUR_NAME) == 0) {
			check_same_build(&c, paths, r);
			return; /* ours comes first */
		}
		if (c.name[0] == '\0')
			continue; /* not a net plugin: NCCL skips it too */
		nc_add(r, "other-plugin", NC_BANDWIDTH, c.path, fix,
		       "NCCL would load %s first (net plugin '%s', from NCCL_NET_PLUGIN=%s): it "
		       "takes the NICs before libnccl-net-spark.so is tried (NGC images ship "
		       "HPC-X or aws-ofi plugins as libnccl-net.so)", c.path, c.name,
		       value != NULL ? value : "(unset, the default libnccl-net.so)");
		return;
	}
	if (value == NULL)
		nc_add(r, "plugin-not-selected", NC_BANDWIDTH, "NCCL_NET_PLUGIN", fix,
		       "NCCL_NET_PLUGIN is not set: NCCL tries only libnccl-net.so and never "
		       "loads libnccl-net-spark.so (this shell's environment; check the job's)");
	else
		nc_add(r, "plugin-not-found", NC_BANDWIDTH, "NCCL_NET_PLUGIN",
		       "install the package (dpkg -i libnccl-net-spark_*.deb) or add the "
		       "plugin's directory to LD_LIBRARY_PATH, or give the full path in "
		       "NCCL_NET_PLUGIN",
		       "NCCL_NET_PLUGIN=%s (from %s), but no library it names loads here "
		       "(dlopen searches LD_LIBRARY_PATH, then ld.so.cache): NCCL silently uses its "
		       "own transports", value, origin);
}

static void check_settings(const struct nc_env *env, struct nc_report *r)
{
	const char *origin = NULL, *v;
	if ((v = nc_env_get(env, "NCCL_NET", &origin)) != NULL && strcasecmp(v, OUR_NAME) != 0) {
		char fix[NC_TEXT_LEN];
		snprintf(fix, sizeof fix, "unset NCCL_NET (or NCCL_NET=Spark)%s%s",
			 strcmp(origin, "environment") != 0 ? ": remove the line from " : "",
			 strcmp(origin, "environment") != 0 ? origin : "");
		nc_add(r, "nccl-net", NC_BANDWIDTH, "NCCL_NET", fix,
		       "NCCL_NET=%s (from %s): NCCL uses only the transport of that name and "
		       "skips the plugin", v, origin);
	}
	if ((v = nc_env_get(env, "NCCL_IB_HCA", &origin)) != NULL)
		nc_add(r, "nccl-ib-hca", NC_NOTE, "NCCL_IB_HCA", "to choose the plugin's HCAs use "
		       "NCCL_SPARK_HCA (same grammar); keep NCCL_IB_HCA listing both halves for "
		       "runs without the plugin",
		       "NCCL_IB_HCA=%s (from %s) selects HCAs for NCCL's own IB transport only; "
		       "the plugin ignores it", v, origin);
	if ((v = nc_env_get(env, "NCCL_IB_GID_INDEX", &origin)) != NULL)
		nc_add(r, "gid-pinned", NC_NOTE, "NCCL_IB_GID_INDEX", "unset NCCL_IB_GID_INDEX (in "
		       "compose files map it to null: an empty value means index 0, fe80::)",
		       "NCCL_IB_GID_INDEX=%s (from %s) pins NCCL's IB transport to one GID index; "
		       "the RoCE v2 IPv4 GID moves (3 to 4 or 5) and differs between hosts", v,
		       origin);
	char reason[256];
	struct spark_sock_addr addr;
	if (nc_env_get(env, "NCCL_SOCKET_IFNAME", &origin) != NULL &&
	    spark_sock_pick(&addr, reason, sizeof reason) != 0)
		nc_add(r, "socket-ifname", NC_FATAL, "NCCL_SOCKET_IFNAME", "set NCCL_SOCKET_IFNAME "
		       "to an interface that is UP on every host (ip -br addr), e.g. the "
		       "management NIC enP7s7, or unset it",
		       "%s (from %s): NCCL's bootstrap and the plugin's connection setup have no "
		       "interface to use and fail at init", reason, origin);
}

/* Settings that come from a file apply to every job on the host, silently. */
static void check_conf_files(const struct nc_env *env, struct nc_report *r)
{
	char names[NC_TEXT_LEN], file[256];
	for (int pass = 0; pass < env->n; pass++) {
		const char *o = env->v[pass].origin;
		bool first = strcmp(o, "environment") != 0;
		for (int k = 0; k < pass && first; k++)
			first = strcmp(env->v[k].origin, o) != 0;
		if (!first)
			continue;
		snprintf(file, sizeof file, "%s", o);
		int used = 0, count = 0;
		names[0] = '\0';
		for (int i = 0; i < env->n; i++)
			if (strcmp(env->v[i].origin, file) == 0 && used < (int)sizeof names - 72) {
				used += snprintf(names + used, sizeof names - (size_t)used, "%s%s=%s",
						 count > 0 ? " " : "", env->v[i].name,
						 env->v[i].value);
				count++;
			}
		char fix[NC_TEXT_LEN];
		snprintf(fix, sizeof fix, "keep only what you mean every job to use: sudo mv %s "
			 "%s.disabled (or edit it)", file, file);
		nc_add(r, "nccl-conf", NC_NOTE, file, fix, "%s sets %d variable%s for every NCCL "
		       "job on this host that does not set them itself: %s", file, count,
		       count == 1 ? "" : "s", names);
	}
}

void nc_check_nccl(const struct nc_host *h, const struct nc_env *env, const struct nc_paths *paths,
		   struct nc_report *r)
{
	if (h->params_rejected > 0)
		nc_add(r, "spark-param", NC_BANDWIDTH, "NCCL_SPARK_*", "correct or unset the variable "
		       "named (docs/configuration.md lists the accepted forms)",
		       "%d NCCL_SPARK_* value%s rejected, the default used instead: %s",
		       h->params_rejected, h->params_rejected == 1 ? "" : "s", h->params_warn);
	check_loader(env, paths, r);
	check_settings(env, r);
	check_conf_files(env, r);
}
