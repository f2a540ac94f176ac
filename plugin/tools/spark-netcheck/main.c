/* spark-netcheck: options, discovery through the plugin's own code, the
 * checks, output and the exit status (0 clean, 1 costs bandwidth, 2 stops
 * NCCL). See docs/troubleshooting.md for every finding. */
#define _GNU_SOURCE
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netcheck.h"
#include "scan.h"

#ifndef NC_VERSION
#define NC_VERSION "unknown"
#endif
#define NC_DEFAULT_PORT 18515

const char *nc_version(void)
{
	return NC_VERSION;
}

struct options {
	bool json, serve, once, probe, verbose;
	const char *peer;
	int port;
};

/* The plugin's WARNs describe what our findings already say; -v shows them. */
static bool verbose_log;
static char first_param_warn[NC_TEXT_LEN];

static void logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		   const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (level == NCCL_LOG_WARN && first_param_warn[0] == '\0' && strstr(msg, "NCCL_SPARK_"))
		snprintf(first_param_warn, sizeof first_param_warn, "%.600s",
			 msg + strlen(SPARK_LOG_PREFIX));
	if (verbose_log && level <= NCCL_LOG_INFO)
		fprintf(stderr, "%s %s\n", level == NCCL_LOG_WARN ? "WARN" : "INFO", msg);
}

static void env_path(char *dst, size_t len, const char *var, const char *def)
{
	const char *v = getenv(var);
	snprintf(dst, len, "%s", v != NULL && v[0] != '\0' ? v : def);
}

static void default_paths(struct nc_paths *p)
{
	memset(p, 0, sizeof *p);
	env_path(p->dev_dir, sizeof p->dev_dir, "SPARK_NETCHECK_DEV_DIR", "/dev/infiniband");
	env_path(p->etc_conf, sizeof p->etc_conf, "SPARK_NETCHECK_ETC_CONF", "/etc/nccl.conf");
	/* NCCL reads NCCL_CONF_FILE instead of ~/.nccl.conf when it is set, and
	 * takes the home directory from the password database, not $HOME. */
	char home[256];
	const char *conf = getenv("NCCL_CONF_FILE");
	struct passwd pwd, *pw = NULL;
	char pwbuf[1024];
	if (getpwuid_r(getuid(), &pwd, pwbuf, sizeof pwbuf, &pw) != 0)
		pw = NULL;
	snprintf(home, sizeof home, "%s/.nccl.conf", pw != NULL ? pw->pw_dir : "");
	env_path(p->user_conf, sizeof p->user_conf, "SPARK_NETCHECK_USER_CONF",
		 conf != NULL && conf[0] != '\0' ? conf : home);
	env_path(p->plugin, sizeof p->plugin, "SPARK_NETCHECK_PLUGIN", "");
	p->rate_scale = 1.0;
	const char *scale = getenv("SPARK_NETCHECK_RATE_SCALE");
	if (scale != NULL) {
		char *end;
		double v = strtod(scale, &end);
		if (end != scale && *end == '\0' && v > 0 && v <= 1)
			p->rate_scale = v;
		else
			fprintf(stderr, "spark-netcheck: SPARK_NETCHECK_RATE_SCALE=%s is not a "
				"number in (0, 1]; using 1\n", scale);
	}
	p->memlock_min = 1L << 30;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: spark-netcheck [--json] [-v] [--peer HOST [--no-probe]] [--port N]\n"
		"       spark-netcheck --serve [--once] [--port N]\n"
		"Checks this DGX Spark's RoCE setup as libnccl-net-spark.so will see it; with\n"
		"--peer (and spark-netcheck --serve on the other Spark) also compares both and\n"
		"probes each rail through the plugin. Exit 0 clean, 1 findings that cost\n"
		"bandwidth, 2 findings that stop NCCL. Options:\n"
		"  --json        one JSON object on stdout\n"
		"  --peer HOST   compare with HOST and probe each rail (TCP port %d)\n"
		"  --serve       answer one --peer at a time (--once: one, then exit)\n"
		"  --no-probe    with --peer: compare only\n"
		"  --port N      TCP port of --serve/--peer\n"
		"  --plugin PATH the libnccl-net-spark.so the probe loads\n"
		"  -v            show the plugin's own log lines on stderr\n"
		"Paths (for containers and tests): SPARK_NETCHECK_DEV_DIR (/dev/infiniband),\n"
		"SPARK_NETCHECK_ETC_CONF (/etc/nccl.conf), SPARK_NETCHECK_USER_CONF\n"
		"(NCCL_CONF_FILE or ~/.nccl.conf), SPARK_NETCHECK_PLUGIN, SPARK_NETCHECK_RATE_SCALE.\n",
		NC_DEFAULT_PORT);
}

static int parse_options(int argc, char **argv, struct options *o, struct nc_paths *paths)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'j'}, {"peer", required_argument, NULL, 'p'},
		{"serve", no_argument, NULL, 's'}, {"once", no_argument, NULL, '1'},
		{"no-probe", no_argument, NULL, 'n'}, {"port", required_argument, NULL, 'P'},
		{"plugin", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->probe = true;
	o->port = NC_DEFAULT_PORT;
	int c;
	while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'j': o->json = true; break;
		case 'p': o->peer = optarg; break;
		case 's': o->serve = true; break;
		case '1': o->once = true; break;
		case 'n': o->probe = false; break;
		case 'v': o->verbose = true; break;
		case 'L': snprintf(paths->plugin, sizeof paths->plugin, "%s", optarg); break;
		case 'P':
			o->port = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o->port <= 0 || o->port > 65535) {
				fprintf(stderr, "spark-netcheck: --port %s: not a TCP port\n", optarg);
				return 3;
			}
			break;
		case 'V': printf("spark-netcheck %s\n", nc_version()); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 3;
		}
	}
	if (optind < argc || (o->serve && o->peer != NULL)) {
		usage(stderr);
		return 3;
	}
	return 0;
}

/* NCCL applies its config files to its own environment (without overwriting);
 * do the same so the plugin's discovery below sees what it would in NCCL. */
static void apply_conf_files(const struct nc_env *env)
{
	for (int i = 0; i < env->n; i++)
		if (strcmp(env->v[i].origin, "environment") != 0)
			setenv(env->v[i].name, env->v[i].value, 0);
}

static void discover(struct nc_host *h, const struct nc_env *env)
{
	memset(h, 0, sizeof *h);
	h->params_rejected = spark_params_load(&h->params, (const char *const *)environ);
	snprintf(h->params_warn, sizeof h->params_warn, "%s", first_param_warn);
	if (spark_discover(&h->params, h->hcas, SPARK_MAX_HCAS, &h->nhcas) != ncclSuccess)
		h->nhcas = 0;
	h->ndevs = spark_build_devices(h->hcas, h->nhcas, &h->params, h->devs, SPARK_MAX_DEVS);
	h->gid_pinned = nc_env_get(env, "NCCL_IB_GID_INDEX", NULL) != NULL ||
			h->params.gid_index >= 0;
}

int main(int argc, char **argv)
{
	static struct nc_host host;
	static struct nc_report report;
	static struct nc_env env;
	static struct nc_peer_out peer;
	struct nc_paths paths;
	struct options o;
	default_paths(&paths);
	int rc = parse_options(argc, argv, &o, &paths);
	if (rc != 0)
		return rc;
	verbose_log = o.verbose;
	spark_log_set_logger(logger);
	nc_env_load(&env, &paths);
	apply_conf_files(&env);
	discover(&host, &env);
	if (o.serve)
		return nc_serve(&host, &paths, o.port, o.once);
	nc_check_hcas(&host, &report);
	nc_check_host(&host, &paths, &report);
	nc_check_nccl(&host, &env, &paths, &report);
	if (o.peer != NULL)
		nc_peer(&host, &paths, o.peer, o.port, o.probe, &report, &peer);
	fflush(stderr);
	if (o.json)
		nc_print_json(&host, &report, &peer);
	else
		nc_print_text(&host, &report, &peer);
	return nc_exit_status(&report);
}
