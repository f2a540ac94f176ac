/* spark-netcheck: checks a DGX Spark's RoCE setup before NCCL runs, using the
 * plugin's own discovery code, so what it reports is what the plugin will do.
 * Shared types of the tool's files. */
#ifndef SPARK_NETCHECK_H
#define SPARK_NETCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "hca.h"
#include "pairing.h"
#include "param.h"

/* Severity of a finding; the exit status is the highest one found. */
enum nc_severity {
	NC_NOTE = 0,        /* worth knowing, costs nothing measurable */
	NC_BANDWIDTH = 1,   /* NCCL runs, slower than the cable allows */
	NC_FATAL = 2,       /* NCCL fails, hangs or cannot use the plugin at all */
};

#define NC_MAX_FINDINGS 96
#define NC_TEXT_LEN 640

struct nc_finding {
	char id[32];               /* stable name, e.g. "half-unaddressed" */
	enum nc_severity severity;
	char subject[64];          /* HCA, file or variable the finding is about */
	char cause[NC_TEXT_LEN];
	char fix[NC_TEXT_LEN];     /* exact commands */
};

struct nc_report {
	struct nc_finding f[NC_MAX_FINDINGS];
	int n;
};

void nc_add(struct nc_report *r, const char *id, enum nc_severity sev, const char *subject,
	    const char *fix, const char *cause_fmt, ...) __attribute__((format(printf, 6, 7)));
int nc_exit_status(const struct nc_report *r);
const char *nc_severity_name(enum nc_severity s);

/* Paths and knobs a test (or an unusual system) may move; see docs/troubleshooting.md. */
struct nc_paths {
	char dev_dir[256];         /* /dev/infiniband (SPARK_NETCHECK_DEV_DIR) */
	char etc_conf[256];        /* /etc/nccl.conf (SPARK_NETCHECK_ETC_CONF) */
	char user_conf[256];       /* ~/.nccl.conf, or NCCL_CONF_FILE (SPARK_NETCHECK_USER_CONF) */
	char plugin[512];          /* the plugin the probe loads ("" = search) */
	double rate_scale;         /* SPARK_NETCHECK_RATE_SCALE: emulated rates × this */
	long memlock_min;          /* bytes of RLIMIT_MEMLOCK below which we warn */
};

/* What this host looks like: the plugin's discovery, plus what the checks read. */
struct nc_host {
	struct spark_params params;
	int params_rejected;                    /* NCCL_SPARK_* values refused */
	char params_warn[NC_TEXT_LEN];          /* the first such WARN */
	struct spark_hca hcas[SPARK_MAX_HCAS];
	int nhcas;
	struct spark_ldev devs[SPARK_MAX_DEVS];
	int ndevs;
	bool gid_pinned;                        /* NCCL_IB_GID_INDEX or NCCL_SPARK_GID_INDEX set */
};

/* The environment NCCL will see: the process's, then NCCL_CONF_FILE or
 * ~/.nccl.conf, then /etc/nccl.conf (a variable already set wins). */
#define NC_MAX_ENV 128
struct nc_env {
	int n;
	struct {
		char name[64];
		char value[256];
		char origin[256];      /* "environment" or the file */
	} v[NC_MAX_ENV];
};
const char *nc_env_get(const struct nc_env *e, const char *name, const char **origin);
void nc_env_load(struct nc_env *e, const struct nc_paths *paths);

/* The version of this tool (make's PKG_VERSION when built). */
const char *nc_version(void);

/* The PCIe link the function is capable of (sysfs max_link_*). */
bool nc_pcie_cap(const struct spark_hca *h, struct spark_pcie_link *cap);
/* "A" / "B": which PCIe half of its port an HCA is; "-" when it has no twin. */
const char *nc_half(const struct nc_host *h, int i);

/* Checks, each adding findings (check_*.c). */
void nc_check_hcas(const struct nc_host *h, struct nc_report *r);
void nc_check_host(const struct nc_host *h, const struct nc_paths *paths, struct nc_report *r);
void nc_check_nccl(const struct nc_host *h, const struct nc_env *env, const struct nc_paths *paths,
		   struct nc_report *r);

/* The plugin the probe and the version check use: path found (or ""). */
bool nc_plugin_find(const struct nc_paths *paths, char *path, int len);
uint64_t nc_file_hash(const char *path);

/* Text and JSON output (output.c). */
/* What --peer learnt, for both output forms ("" when --peer was not given). */
struct nc_peer_out {
	char json[8192];           /* a JSON object */
	char text[2048];           /* lines for the text report */
};
void nc_print_text(const struct nc_host *h, const struct nc_report *r,
		   const struct nc_peer_out *peer);
void nc_print_json(const struct nc_host *h, const struct nc_report *r,
		   const struct nc_peer_out *peer);
void nc_json_string(char *out, int len, const char *s);

/* --serve / --peer (peer.c, probe.c). */
int nc_serve(const struct nc_host *h, const struct nc_paths *paths, int port, bool once);
/* Compares with the peer and probes each rail; findings into r, the peer's
 * description and the probe's rates into out. */
void nc_peer(const struct nc_host *h, const struct nc_paths *paths, const char *peer, int port,
	     bool probe, struct nc_report *r, struct nc_peer_out *out);

#endif
