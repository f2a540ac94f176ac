/* nccl_check: see nccl_check.h. Options (nccl-tests' letters where they exist):
 *   -b/-e BYTES  smallest / largest size (8 / 64M; K, M suffixes)
 *   -f N         size factor (4)         -n N / -w N  iterations / warm-ups (5 / 1)
 *   --net Spark|IB   our plugin (default) or NCCL's own IB transport
 *   --plugin PATH    the plugin for --net Spark (default: next to this binary)
 *   --expect-dev S   NCCL's log must contain S (Spark default: the fused pair)
 *   --expect-table vN  NCCL's log must say it loaded our table vN
 *   --wrap 'CMD {host} --'  run each rank under CMD (e.g. softroce-run -H {host} --)
 *   --logdir DIR   NCCL logs, the unique id, the fabric (default /tmp/nccl-check.PID)
 *   --timeout S    whole run (300)
 * Exit: 0 pass, 77 skipped (no GPU), 1 fail, 2 wrong results (a rank). */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nccl_check.h"

static size_t parse_bytes(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return 0;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	return *end == '\0' ? (size_t)v : 0;
}

static int parse_int(const char *s, int lo, int hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	return (end != s && *end == '\0' && v >= lo && v <= hi) ? (int)v : -1;
}

static int usage(const char *why)
{
	fprintf(stderr, "nccl_check: %s (see test/nccl/nccl_check.c for the options)\n", why);
	return 1;
}

int main(int argc, char **argv)
{
	static char plugin[PATH_MAX], real_plugin[PATH_MAX], logdir[64], exe[PATH_MAX],
		exe_dir[PATH_MAX];
	struct nc_opts o = {.rank = -1, .min_bytes = 8, .max_bytes = NC_MAX_BYTES, .factor = 4,
			    .iters = 5, .warmup = 1, .timeout_s = 300, .net = "Spark",
			    .expect_dev = NULL, .expect_table = "", .wrap = "", .logdir = NULL};
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return usage("cannot find my own executable");
	exe[n] = '\0';
	snprintf(exe_dir, sizeof exe_dir, "%s", exe);
	snprintf(plugin, sizeof plugin, "%s/../../libnccl-net-spark.so", dirname(exe_dir));
	/* NCCL_NET_PLUGIN must be absolute; this one is even when not resolved. */
	o.plugin = realpath(plugin, real_plugin) != NULL ? real_plugin : plugin;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			return usage("option without a value");
		i++;
		if (strcmp(a, "--rank") == 0) o.rank = parse_int(v, 0, 1);
		else if (strcmp(a, "--id-file") == 0) o.id_file = v;
		else if (strcmp(a, "-b") == 0) o.min_bytes = parse_bytes(v);
		else if (strcmp(a, "-e") == 0) o.max_bytes = parse_bytes(v);
		else if (strcmp(a, "-f") == 0) o.factor = parse_int(v, 2, 1024);
		else if (strcmp(a, "-n") == 0) o.iters = parse_int(v, 1, 100000);
		else if (strcmp(a, "-w") == 0) o.warmup = parse_int(v, 0, 100000);
		else if (strcmp(a, "--timeout") == 0) o.timeout_s = parse_int(v, 1, 86400);
		else if (strcmp(a, "--net") == 0) o.net = v;
		else if (strcmp(a, "--plugin") == 0) o.plugin = v;
		else if (strcmp(a, "--expect-dev") == 0) o.expect_dev = v;
		else if (strcmp(a, "--expect-table") == 0) o.expect_table = v;
		else if (strcmp(a, "--wrap") == 0) o.wrap = v;
		else if (strcmp(a, "--logdir") == 0) o.logdir = v;
		else return usage(a);
	}
	if (o.min_bytes < 8 || o.max_bytes < o.min_bytes || o.max_bytes > NC_MAX_BYTES ||
	    o.factor < 0 || o.iters < 0 || o.warmup < 0 || o.timeout_s < 0)
		return usage("bad size, factor, iteration or timeout value");
	if (strcmp(o.net, "Spark") != 0 && strcmp(o.net, "IB") != 0)
		return usage("--net is Spark or IB");
	if (o.rank >= 0) {
		if (o.id_file == NULL)
			return usage("--rank needs --id-file");
		return nc_rank_main(&o);
	}
	if (o.expect_dev == NULL)
		o.expect_dev = strcmp(o.net, "Spark") == 0 ? "rocep1s0f0+roceP2p1s0f0" : "";
	if (o.logdir == NULL) {
		snprintf(logdir, sizeof logdir, "/tmp/nccl-check.%d", (int)getpid());
		o.logdir = logdir;
	}
	return nc_launch_main(&o, exe);
}
