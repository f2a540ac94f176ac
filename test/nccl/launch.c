/* The launcher of nccl_check (nccl_check.h): skips without a GPU, starts the
 * two ranks with their per-host environment (under an optional wrapper such
 * as softroce-run), enforces one deadline over both, and reads NCCL's logs
 * for the transport and device that carried the run. */
#define _GNU_SOURCE
#include <cuda_runtime.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nccl_check.h"

#define MAX_ARGS 64

static const char *const hosts[2] = {"a", "b"};

static int gpu_present(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n < 1) {
		printf("SKIP nccl_check: no GPU (cudaGetDeviceCount: %s, %d devices)\n",
		       e != cudaSuccess ? cudaGetErrorString(e) : "ok", n);
		return 0;
	}
	return 1;
}

static void set_default(const char *k, const char *v)
{
	if (getenv(k) == NULL)
		setenv(k, v, 1);
}

/* In the child, before exec: what makes NCCL see host `h`. */
static void rank_env(const struct nc_opts *o, int r)
{
	char v[4096];
	snprintf(v, sizeof v, "spark-check-%s", hosts[r]);
	setenv("NCCL_HOSTID", v, 1);          /* two hosts to NCCL: only NET connects them */
	setenv("SOFTROCE_HOST", hosts[r], 1);
	snprintf(v, sizeof v, "%s/nccl.%s.log", o->logdir, hosts[r]);
	setenv("NCCL_DEBUG_FILE", v, 1);
	set_default("NCCL_DEBUG", "INFO");
	set_default("NCCL_DEBUG_SUBSYS", "INIT,NET,ENV");
	set_default("NCCL_SOCKET_IFNAME", "lo");   /* both "hosts" are this machine */
	/* softroce's verbs first, for the plugin and for NCCL's own dlopen,
	 * which tries the unversioned libibverbs.so before .so.1 (see
	 * link_softroce); the child execs next, nothing to free. */
	const char *old = getenv("LD_LIBRARY_PATH");
	char *path = NULL;
	if (asprintf(&path, "%s/verbs%s%s", o->logdir, old != NULL ? ":" : "",
		     old != NULL ? old : "") > 0)
		setenv("LD_LIBRARY_PATH", path, 1);
	if (strcmp(o->net, "Spark") == 0) {
		setenv("NCCL_NET_PLUGIN", o->plugin, 1);
		setenv("NCCL_NET", "Spark", 1);   /* fail rather than fall back */
	} else {
		setenv("NCCL_NET_PLUGIN", "none", 1);
		setenv("NCCL_NET", o->net, 1);
	}
}

/* OUTDIR/verbs: softroce's libraries under every name NCCL and the plugin
 * dlopen (libibverbs.so and .so.1, libmlx5.so and .so.1), so a real
 * rdma-core on the machine is never picked instead. They sit beside the
 * plugin, in build/softroce. */
static int link_softroce(const struct nc_opts *o)
{
	static const char *const links[][2] = {
		{"libibverbs.so", "libibverbs.so.1"}, {"libibverbs.so.1", "libibverbs.so.1"},
		{"libmlx5.so", "libmlx5.so.1"}, {"libmlx5.so.1", "libmlx5.so.1"}};
	char dir[4096], src[8192], dst[8192];
	snprintf(dir, sizeof dir, "%s", o->plugin);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return 1;
	*slash = '\0';
	snprintf(dst, sizeof dst, "%s/verbs", o->logdir);
	if (mkdir(dst, 0755) != 0 && errno != EEXIST)
		return 1;
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(src, sizeof src, "%s/softroce/%s", dir, links[i][1]);
		snprintf(dst, sizeof dst, "%s/verbs/%s", o->logdir, links[i][0]);
		unlink(dst);
		if (access(src, R_OK) != 0 || symlink(src, dst) != 0) {
			fprintf(stderr, "nccl_check: softroce's %s: %s\n", src, strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* argv: the wrapper's words ({host} replaced), then self as rank r. */
static void build_argv(const struct nc_opts *o, const char *self, int r, char **argv,
		       char *words, size_t words_len, char *const *rank_args)
{
	int n = 0;
	if (o->wrap[0] != '\0') {
		snprintf(words, words_len, "%s", o->wrap);
		for (char *save = NULL, *w = strtok_r(words, " ", &save); w != NULL && n < MAX_ARGS - 24;
		     w = strtok_r(NULL, " ", &save))
			argv[n++] = strcmp(w, "{host}") == 0 ? (char *)hosts[r] : w;
	}
	argv[n++] = (char *)self;
	for (int i = 0; rank_args[i] != NULL; i++)
		argv[n++] = rank_args[i];
	argv[n] = NULL;
}

static pid_t start_rank(const struct nc_opts *o, const char *self, int r)
{
	static char words[2][2048];
	char rank[8], id[4096], lo[32], hi[32], fac[16], it[16], wu[16], to[16];
	snprintf(rank, sizeof rank, "%d", r);
	snprintf(id, sizeof id, "%s/unique-id", o->logdir);
	snprintf(lo, sizeof lo, "%zu", o->min_bytes);
	snprintf(hi, sizeof hi, "%zu", o->max_bytes);
	snprintf(fac, sizeof fac, "%d", o->factor);
	snprintf(it, sizeof it, "%d", o->iters);
	snprintf(wu, sizeof wu, "%d", o->warmup);
	snprintf(to, sizeof to, "%d", o->timeout_s);
	char *rank_args[] = {"--rank", rank, "--id-file", id, "-b", lo, "-e", hi, "-f", fac,
			     "-n", it, "-w", wu, "--timeout", to, "--net", (char *)o->net, NULL};
	char *argv[MAX_ARGS];
	build_argv(o, self, r, argv, words[r], sizeof words[r], rank_args);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);        /* the launcher can kill the rank's whole tree */
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* and a killed launcher leaves no rank */
		rank_env(o, r);
		execvp(argv[0], argv);
		fprintf(stderr, "nccl_check: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Both ranks' status, killing both at the deadline: never hangs. */
static int wait_ranks(const pid_t pid[2], int timeout_s, int status[2])
{
	int left = 2, timed_out = 0;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	status[0] = status[1] = -1;
	while (left > 0) {
		for (int r = 0; r < 2; r++) {
			int st;
			if (status[r] == -1 && waitpid(pid[r], &st, WNOHANG) == pid[r]) {
				status[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				left--;
				if (status[r] != 0 && status[1 - r] == -1)
					kill(-pid[1 - r], SIGTERM);   /* its peer would wait forever */
			}
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!timed_out && t.tv_sec - start.tv_sec > timeout_s) {
			fprintf(stderr, "nccl_check: ranks still running after %d s: killed\n",
				timeout_s);
			timed_out = 1;
			for (int r = 0; r < 2; r++)
				if (status[r] == -1)
					kill(-pid[r], SIGKILL);
		}
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
	}
	return timed_out;
}

static int log_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* What NCCL's INFO log must show on both hosts. */
static int check_logs(const struct nc_opts *o)
{
	int bad = 0;
	for (int r = 0; r < 2; r++) {
		char path[4096], want[3][256];
		snprintf(path, sizeof path, "%s/nccl.%s.log", o->logdir, hosts[r]);
		snprintf(want[0], sizeof want[0], "via NET/%s/", o->net);
		snprintf(want[1], sizeof want[1], "%s", o->expect_dev);
		snprintf(want[2], sizeof want[2], "Loaded net plugin Spark (%s)", o->expect_table);
		for (int w = 0; w < 3; w++) {
			if ((w == 1 && o->expect_dev[0] == '\0') ||
			    (w == 2 && o->expect_table[0] == '\0'))
				continue;
			int ok = log_has(path, want[w]);
			printf("# host %s log %s: %s\n", hosts[r], ok ? "shows" : "LACKS", want[w]);
			bad += !ok;
		}
	}
	return bad;
}

int nc_launch_main(const struct nc_opts *o, const char *self)
{
	if (!gpu_present())
		return NC_SKIP;
	if (mkdir(o->logdir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "nccl_check: mkdir %s: %s\n", o->logdir, strerror(errno));
		return 1;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/unique-id", o->logdir);
	unlink(path);
	snprintf(path, sizeof path, "%s/fabric", o->logdir);
	mkdir(path, 0755);
	set_default("SOFTROCE_FABRIC", path);      /* both ranks: one emulated cable */
	if (link_softroce(o) != 0)
		return 1;
	pid_t pid[2];
	for (int r = 0; r < 2; r++)
		pid[r] = start_rank(o, self, r);
	int status[2];
	int timed_out = wait_ranks(pid, o->timeout_s, status);
	int bad_logs = check_logs(o);
	int ok = !timed_out && status[0] == 0 && status[1] == 0 && bad_logs == 0;
	printf("# nccl_check: %s (net %s; rank status %d/%d%s; logs in %s)\n",
	       ok ? "PASS" : "FAIL", o->net, status[0], status[1],
	       timed_out ? ", timed out" : "", o->logdir);
	return ok ? 0 : 1;
}
