/* spark-bench: which host this process is, and the run.
 *
 *   spark-bench                 emulated: this process is host a, a child it
 *                               starts is host b, both on softroce (the default
 *                               when this machine has no RDMA device)
 *   spark-bench --server        host b of two real machines (or two emulated
 *                               hosts started by hand, with --softroce)
 *   spark-bench PEER            host a: connects to PEER's --server, runs, prints */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"

#define SB_REEXEC_ENV "SPARK_BENCH_SOFTROCE_LOADED"
#define SB_ACCEPT_MS 600000

/* This program's path (exec'd by path, not as /proc/self/exe, so that tools
 * such as valgrind that run it follow the exec). */
static const char *self_exe(void)
{
	static char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		sb_die("readlink /proc/self/exe failed");
	exe[n] = '\0';
	return exe;
}

static void exe_dir(char *out, size_t len)
{
	char exe[PATH_MAX];
	snprintf(exe, sizeof exe, "%s", self_exe());
	snprintf(out, len, "%s", dirname(exe));
}

static bool have_rdma_device(void)
{
	DIR *d = opendir("/sys/class/infiniband");
	if (d == NULL)
		return false;
	bool any = false;
	for (struct dirent *de; (de = readdir(d)) != NULL && !any;)
		any = de->d_name[0] != '.';
	closedir(d);
	return any;
}

/* softroce is a libibverbs.so.1 of its own: the loader must find it before the
 * system one, so the process starts again with LD_LIBRARY_PATH set. */
static void use_softroce(struct sb_opts *o, char **argv)
{
	if (getenv(SB_REEXEC_ENV) != NULL)
		return;
	char dir[PATH_MAX], lib[PATH_MAX + 32];
	if (o->softroce_dir)
		snprintf(dir, sizeof dir, "%s", o->softroce_dir);
	else if (getenv("SPARK_BENCH_SOFTROCE"))
		snprintf(dir, sizeof dir, "%s", getenv("SPARK_BENCH_SOFTROCE"));
	else {
		exe_dir(dir, sizeof dir);
		strncat(dir, "/softroce", sizeof dir - strlen(dir) - 1);
	}
	snprintf(lib, sizeof lib, "%s/libibverbs.so.1", dir);
	if (access(lib, R_OK) != 0)
		sb_die("emulated mode needs softroce's %s (build it with `make`, or give "
		       "--softroce=DIR)", lib);
	const char *old = getenv("LD_LIBRARY_PATH");
	char path[2 * PATH_MAX];
	snprintf(path, sizeof path, "%s%s%s", dir, old && *old ? ":" : "", old ? old : "");
	setenv("LD_LIBRARY_PATH", path, 1);
	setenv(SB_REEXEC_ENV, "1", 1);
	execv(self_exe(), argv);
	sb_die("re-exec with softroce failed");
}

/* --plugin; else next to this program (build/), or ../lib of an installed
 * one; else the loader's search path (a .deb installs it there). */
static const char *plugin_path(const struct sb_opts *o)
{
	static char path[PATH_MAX + 64];
	if (o->plugin)
		return o->plugin;
	char dir[PATH_MAX];
	exe_dir(dir, sizeof dir);
	static const char *const rel[] = {"", "/../lib"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s%s/libnccl-net-spark.so", dir, rel[i]);
		if (access(path, R_OK) == 0)
			return path;
	}
	return "libnccl-net-spark.so";
}

static size_t buffer_bytes(const struct sb_plan *p)
{
	uint64_t hi = 64u << 20;   /* the caps are measured with 64 MiB */
	for (uint32_t i = 0; i < p->nsizes; i++)
		hi = p->sizes[i] > hi ? p->sizes[i] : hi;
	for (uint32_t i = 0; i < p->nlat; i++)
		hi = p->lat_sizes[i] > hi ? p->lat_sizes[i] : hi;
	/* Eight slots of the largest message, but no more than 256 MiB unless one
	 * message needs it: past that, slots share the buffer (nothing checks data). */
	const uint64_t roomy = 256ull << 20;
	if (hi >= roomy)
		return (size_t)hi;
	return (size_t)(hi * 8 < roomy ? hi * 8 : roomy);
}

/* Populated: a registration pins its pages on a real NIC, but softroce's
 * does not touch them, so unpopulated pages would fault in on their first
 * delivery, charged to whichever transport uses a slot first (ours: it
 * runs first in every repetition; 64 MiB x 1 on two comms read 0.93 x stock
 * from that alone). */
static uint8_t *alloc_buf(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		sb_die("cannot map %zu bytes", len);
	return p;
}

static void run_host(struct sb_opts *o, struct sb_env *e, const char *fabric)
{
	static struct sb_results res;
	struct sb_plan *p = &o->plan;
	if (e->client) {
		p->emulated = o->emulated || o->softroce;
		p->cap = buffer_bytes(p);
		sb_plan_check(p);
		sb_oob_send(e->fd, p, sizeof *p);
	} else {
		sb_oob_recv(e->fd, p, sizeof *p);
		sb_plan_check(p);
	}
	e->emulated = p->emulated;
	e->cap = p->cap;
	e->sbuf = alloc_buf(e->cap);
	e->rbuf = alloc_buf(e->cap);
	e->hca[0] = o->hca[0];
	e->hca[1] = o->hca[1];
	if (p->impls & SB_IMPL_OURS) {
		sb_ours_load(plugin_path(o));
		if ((int)p->dev >= sb_ours_ndev())
			sb_die("the plugin has %d devices, --dev %u asked", sb_ours_ndev(), p->dev);
		if (e->client)
			sb_progress("ours: plugin device %u = %s", p->dev, sb_ours_device_name((int)p->dev));
	}
	sb_plan_run(e, p, &res, fabric);
	if (!e->client)
		return;
	if (o->csv)
		sb_report_csv(&res, stdout);
	else if (p->tests & SB_T_UNI && p->nwin * p->ncomms > 1 && o->out)
		sb_report_table(p, &res, stdout);
	else
		sb_report_nccl_tests(p, &res, stdout);
	if (o->out) {
		char path[PATH_MAX];
		mkdir(o->out, 0755);
		const char *names[3] = {"results.csv", "summary.json", "table.txt"};
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof path, "%s/%s", o->out, names[k]);
			FILE *f = fopen(path, "w");
			if (f == NULL)
				sb_die("cannot write %s", path);
			if (k == 0)
				sb_report_csv(&res, f);
			else if (k == 1)
				sb_report_json(&res, f);
			else
				sb_report_table(p, &res, f);
			fclose(f);
		}
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* Host b of an emulated pair: this executable again, SOFTROCE_HOST=b, given
 * the listening socket. */
static pid_t start_host_b(const struct sb_opts *o, int lfd, char **argv)
{
	pid_t pid = fork();
	if (pid < 0)
		sb_die("fork failed");
	if (pid > 0)
		return pid;
	fcntl(lfd, F_SETFD, 0);
	setenv("SOFTROCE_HOST", "b", 1);
	char fd[16], hca[256];
	snprintf(fd, sizeof fd, "%d", lfd);
	snprintf(hca, sizeof hca, "%s,%s", o->hca[0], o->hca[1]);
	char *args[] = {argv[0], "--server", "--softroce", "--listen-fd", fd, "--hca", hca,
			"--plugin", (char *)plugin_path(o), NULL};
	execv(self_exe(), args);
	_exit(127);
}

static int run_emulated(struct sb_opts *o, char **argv)
{
	char tmpl[] = "/tmp/spark-bench.XXXXXX";
	const char *fabric = getenv("SOFTROCE_FABRIC");
	bool own = fabric == NULL;
	if (own && (fabric = mkdtemp(tmpl)) == NULL)
		sb_die("mkdtemp failed");
	setenv("SOFTROCE_FABRIC", fabric, 1);
	setenv("SOFTROCE_HOST", "a", 1);
	setenv("SOFTROCE_REORDER", "0", 0);   /* measure the fabric, not the shuffler */
	int port = 0, lfd = sb_oob_listen("127.0.0.1", 0, &port);
	pid_t child = start_host_b(o, lfd, argv);
	close(lfd);
	struct sb_env e = {.client = true};
	e.fd = sb_oob_connect("127.0.0.1", port, 10000);
	run_host(o, &e, fabric);
	close(e.fd);
	int st = 0;
	waitpid(child, &st, 0);
	if (own)
		nftw(fabric, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		sb_die("host b failed (status %d)", st);
	return 0;
}

int main(int argc, char **argv)
{
	static struct sb_opts o;
	/* A nap of SB_NAP_US must last about that long: with the default 50 µs
	 * timer slack a 100 µs nanosleep took 130-300 µs on the shared hosts. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	sb_options(argc, argv, &o);
	if (!o.server && o.peer == NULL && !o.emulated) {
		if (have_rdma_device() && getenv(SB_REEXEC_ENV) == NULL)
			sb_die("this machine has RDMA devices: run `spark-bench --server` on one "
			       "Spark and `spark-bench <that host>` on the other, or --emulated");
		o.emulated = true;
	}
	if (o.emulated || o.softroce)
		use_softroce(&o, argv);
	if (o.emulated && !o.server && o.peer == NULL)
		return run_emulated(&o, argv);
	struct sb_env e = {.client = !o.server};
	if (o.server) {
		int lfd = o.listen_fd, port = o.port;
		if (lfd < 0) {
			lfd = sb_oob_listen(NULL, o.port, &port);
			sb_progress("waiting for the peer on port %d", port);
		}
		e.fd = sb_oob_accept(lfd, SB_ACCEPT_MS);
		close(lfd);
	} else {
		e.fd = sb_oob_connect(o.peer, o.port, 30000);
	}
	run_host(&o, &e, getenv("SOFTROCE_FABRIC"));
	close(e.fd);
	return 0;
}
