#define _GNU_SOURCE
#include "dp_harness.h"

#include <criterion/types.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_S 60.0

static struct dp_pair *current;
static int nap_us;
static const char *host_name = "a";
/* This process's role: host b (exec'd, or forked by a program without
 * Criterion) and its two pipe ends. One per process, hence static. */
static struct {
	bool active;
	int rfd, wfd;
} host_b = {false, -1, -1};

void dp_sleep_us(long us)
{
	struct timespec left = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

void dp_set_nap(int us) { nap_us = us; }

void dp_nap(void)
{
	if (nap_us > 0)
		dp_sleep_us(nap_us);
}

const char *dp_host(void) { return host_name; }

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "could not remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void dp_fail(void)
{
	fflush(NULL);
	if (host_b.active)
		_exit(1);
	if (current != NULL && current->child > 0) {
		kill(current->child, SIGKILL);
		waitpid(current->child, NULL, 0);
		remove_tree(current->fabric);
	}
	abort();
}

double dp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		   const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	if (level != NCCL_LOG_WARN && getenv("DP_DEBUG") == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%s] %s ", host_name, level == NCCL_LOG_WARN ? "WARN" : "INFO");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* build/ is two levels above this executable (build/test/<dir>/<bin>). */
static void build_dir(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	DP_CHECK(n > 0, "readlink /proc/self/exe");
	exe[n] = '\0';
	char *dir = dirname(exe);
	snprintf(out, len, "%s/../..", dir);
}

/* Libraries dlopen'd by dp_load_plugin, kept for the life of the process and
 * never closed: the plugin keeps its device contexts open (ncclNet_v8 has no
 * finalize; NCCL never unloads a net plugin either), and softroce's NIC
 * thread runs code of libibverbs.so.1 until the process exits. */
static struct {
	void *verbs, *mlx5, *plugin;
} loaded;

const ncclNet_v8_t *dp_load_plugin(void)
{
	char build[PATH_MAX], path[PATH_MAX + 64];
	build_dir(build, sizeof build);
	snprintf(path, sizeof path, "%s/softroce/libibverbs.so.1", build);
	loaded.verbs = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	DP_CHECK(loaded.verbs != NULL, "%s", dlerror());
	/* Optional: loaded first so that the plugin's own dlopen("libmlx5.so.1")
	 * finds softroce's; without it the plugin goes without mlx5dv. */
	snprintf(path, sizeof path, "%s/softroce/libmlx5.so.1", build);
	loaded.mlx5 = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	snprintf(path, sizeof path, "%s/libnccl-net-spark.so", build);
	loaded.plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	DP_CHECK(loaded.plugin != NULL, "%s", dlerror());
	const ncclNet_v8_t *net = dlsym(loaded.plugin, "ncclNetPlugin_v8");
	DP_CHECK(net != NULL, "no ncclNetPlugin_v8");
	DP_OK(net->init(logger));
	return net;
}

/* Host b is a process of its own, started with fork + exec of this same
 * executable, never with a fork that goes on running the test: a Criterion
 * worker already has threads when the test forks, and a fork of a threaded
 * process that then starts threads (softroce's NIC) is what neither
 * ThreadSanitizer nor qemu-user supports. The exec'd image takes the
 * constructor below, which runs the current test's body from the start as
 * host b (Criterion's main never runs there), and the test's dp_pair_start
 * returns in host b with is_b set. The body is Criterion's
 * <category>_<name>_impl function, looked up by name (module.mk exports the
 * *_impl symbols to the dynamic symbol table).
 * b's exit status is its result: 0 from dp_pair_finish(p, 0), 1 from a failed
 * DP_CHECK, whatever else a crash or a sanitizer gives. */
#define HOST_B_ARG "--dp-host-b"
#define HOST_B_FDS "DP_HOST_B_FDS"     /* "<read fd>,<write fd>" of b's pipe ends */
#define HOST_B_TEST "DP_HOST_B_TEST"   /* symbol of the test body */

/* Set by libcriterion while a test runs; NULL in a program without
 * Criterion (the bench), which links this file too. */
extern const struct criterion_test *const criterion_current_test __attribute__((weak));

static int fd_number(const char *text, char **end)
{
	errno = 0;
	long v = strtol(text, end, 10);
	DP_CHECK(errno == 0 && *end != text && v >= 0 && v <= INT_MAX, "bad fd in '%s'", text);
	return (int)v;
}

/* argc/argv as glibc passes them to an executable's constructors. */
__attribute__((constructor)) static void dp_host_b_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], HOST_B_ARG) != 0)
		return;
	host_b.active = true;
	host_name = "b";
	const char *fds = getenv(HOST_B_FDS), *test = getenv(HOST_B_TEST);
	DP_CHECK(fds != NULL && test != NULL, "%s or %s missing", HOST_B_FDS, HOST_B_TEST);
	char *end;
	host_b.rfd = fd_number(fds, &end);
	DP_CHECK(*end == ',', "%s=%s", HOST_B_FDS, fds);
	host_b.wfd = fd_number(end + 1, &end);
	void (*test_body)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, test);
	DP_CHECK(test_body != NULL, "no test body %s: %s", test, dlerror());
	test_body();
	DP_CHECK(false, "the test returned without dp_pair_finish in host b");
}

/* environ with SOFTROCE_HOST=b and b's fds and test added, and BoxFort's
 * BXFI_MAP (which marks a Criterion worker) left out. Built before fork:
 * between fork and exec a child of a threaded process may only make
 * async-signal-safe calls. */
static char **host_b_environ(const struct dp_pair *p, const struct criterion_test *test,
			     char vars[3][256])
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **env = calloc(n + 4, sizeof *env);
	DP_CHECK(env != NULL, "calloc");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "BXFI_MAP=", 9) != 0 &&
		    strncmp(environ[i], "SOFTROCE_HOST=", 14) != 0)
			env[k++] = environ[i];
	snprintf(vars[0], 256, "SOFTROCE_HOST=b");
	snprintf(vars[1], 256, HOST_B_FDS "=%d,%d", p->pipe_ab[0], p->pipe_ba[1]);
	int len = snprintf(vars[2], 256, HOST_B_TEST "=%s_%s_impl", test->category, test->name);
	DP_CHECK(len > 0 && len < 256, "test name too long");
	for (int i = 0; i < 3; i++)
		env[k++] = vars[i];
	return env;
}

/* In the child: b's pipe ends survive exec, a's are closed by it. */
static void exec_host_b(const struct dp_pair *p, pid_t parent, char **env)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	if (fcntl(p->pipe_ab[0], F_SETFD, 0) != 0 || fcntl(p->pipe_ba[1], F_SETFD, 0) != 0)
		_exit(1);
	char *argv[] = {"dp-host-b", HOST_B_ARG, NULL};
	execve("/proc/self/exe", argv, env);
	_exit(127);
}

static int thread_count(void)
{
	DIR *dir = opendir("/proc/self/task");
	DP_CHECK(dir != NULL, "/proc/self/task: %s", strerror(errno));
	int n = 0;
	for (const struct dirent *e; (e = readdir(dir)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* A program that is not a Criterion test (the bench) has no test body to
 * re-enter: its child goes on as host b after a plain fork, which is sound
 * only from a single-threaded process, so that is checked. */
static void fork_host_b(struct dp_pair *p)
{
	DP_CHECK(thread_count() == 1, "dp_pair_start outside a Criterion test, "
		 "from a process with threads");
	fflush(NULL);
	p->child = fork();
	DP_CHECK(p->child >= 0, "fork: %s", strerror(errno));
	if (p->child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		host_b.active = true;
		host_b.rfd = p->pipe_ab[0];
		host_b.wfd = p->pipe_ba[1];
	}
}

static void spawn_host_b(struct dp_pair *p)
{
	if (&criterion_current_test == NULL || criterion_current_test == NULL) {
		fork_host_b(p);
		return;
	}
	char vars[3][256];
	char **env = host_b_environ(p, criterion_current_test, vars);
	pid_t parent = getpid();
	fflush(NULL);
	p->child = fork();
	if (p->child == 0)
		exec_host_b(p, parent, env);
	free(env);
	DP_CHECK(p->child > 0, "fork: %s", strerror(errno));
}

bool dp_under_qemu(void)
{
	const char *qemu = getenv("SPARK_TEST_QEMU");
	return qemu != NULL && strcmp(qemu, "0") != 0 && qemu[0] != '\0';
}

static void set_env(const char *const *extra_env)
{
	/* qemu-user has no process_vm_readv/writev. softroce's start-up probe
	 * already picks streaming there; saying so explicitly keeps these tests
	 * independent of that probe. */
	if (dp_under_qemu())
		setenv("SOFTROCE_COPY", "stream", 0);
	setenv("SOFTROCE_REORDER", "1", 0);
	setenv("NCCL_SOCKET_IFNAME", "lo", 0);
	/* softroce scales ACK timeouts by 0.01: NCCL's default 20 would give
	 * up after 0.35 s, which a loaded 2-core host can stall a process for. */
	setenv("NCCL_SPARK_IB_TIMEOUT", "24", 0);
	for (; extra_env != NULL && *extra_env != NULL; extra_env++)
		putenv((char *)*extra_env);
}

/* a: makes the fabric and the pipes, starts b. b (exec'd): takes both from
 * what a passed down; b (forked): is already there when spawn_host_b returns. */
void dp_pair_start(struct dp_pair *p, const char *const *extra_env)
{
	memset(p, 0, sizeof *p);
	p->pipe_ab[0] = p->pipe_ab[1] = p->pipe_ba[0] = p->pipe_ba[1] = -1;
	current = p;
	if (!host_b.active) {
		snprintf(p->fabric, sizeof p->fabric, "/tmp/dp-fabric-XXXXXX");
		DP_CHECK(mkdtemp(p->fabric) != NULL, "mkdtemp: %s", strerror(errno));
		setenv("SOFTROCE_FABRIC", p->fabric, 1);
		set_env(extra_env);
		DP_CHECK(pipe2(p->pipe_ab, O_CLOEXEC) == 0 && pipe2(p->pipe_ba, O_CLOEXEC) == 0,
			 "pipe: %s", strerror(errno));
		spawn_host_b(p);
	} else {
		const char *fabric = getenv("SOFTROCE_FABRIC");
		DP_CHECK(fabric != NULL, "host b without SOFTROCE_FABRIC");
		snprintf(p->fabric, sizeof p->fabric, "%s", fabric);
		set_env(extra_env);
	}
	p->is_b = host_b.active;
	host_name = p->is_b ? "b" : "a";
	setenv("SOFTROCE_HOST", host_name, 1);
	/* Each side keeps its own two ends, so a read sees EOF once the peer is gone. */
	if (p->is_b) {
		p->pipe_ab[0] = host_b.rfd;
		p->pipe_ba[1] = host_b.wfd;
		close_fd(&p->pipe_ab[1]);
		close_fd(&p->pipe_ba[0]);
	} else {
		close_fd(&p->pipe_ab[0]);
		close_fd(&p->pipe_ba[1]);
	}
}

bool dp_pair_finish(struct dp_pair *p, int b_status)
{
	if (p->is_b) {
		fflush(NULL);
		_exit(b_status);
	}
	int status = 0;
	DP_CHECK(waitpid(p->child, &status, 0) == p->child, "waitpid");
	p->child = 0;
	current = NULL;
	close_fd(&p->pipe_ab[1]);
	close_fd(&p->pipe_ba[0]);
	remove_tree(p->fabric);
	if (WIFSIGNALED(status))
		fprintf(stderr, "[a] host b killed by signal %d\n", WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		fprintf(stderr, "[a] host b exited with status %d\n", WEXITSTATUS(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
void dp_write_topology(const struct dp_pair *p, const char *text)
{
	char path[sizeof p->fabric + 16], tmp[sizeof p->fabric + 32];
	snprintf(path, sizeof path, "%s/topology", p->fabric);
	snprintf(tmp, sizeof tmp, "%s.%s", path, host_name);
	FILE *f = fopen(tmp, "w");
	DP_CHECK(f != NULL, "%s: %s", tmp, strerror(errno));
	bool written = fputs(text, f) >= 0;
	written = fclose(f) == 0 && written;
	DP_CHECK(written && rename(tmp, path) == 0, "%s: %s", path, strerror(errno));
	setenv("SOFTROCE_TOPOLOGY", path, 1);
}

static int wfd(struct dp_pair *p) { return p->is_b ? p->pipe_ba[1] : p->pipe_ab[1]; }
static int rfd(struct dp_pair *p) { return p->is_b ? p->pipe_ab[0] : p->pipe_ba[0]; }

void dp_send(struct dp_pair *p, const void *buf, size_t len)
{
	DP_CHECK(write(wfd(p), buf, len) == (ssize_t)len, "pipe write");
}

void dp_recv(struct dp_pair *p, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(rfd(p), (char *)buf + got, len - got);
		DP_CHECK(n > 0, "pipe read: peer gone");
		got += (size_t)n;
	}
}

void dp_sync(struct dp_pair *p)
{
	char c = 's';
	dp_send(p, &c, 1);
	dp_recv(p, &c, 1);
}

void *dp_connect_recv(struct dp_pair *p, const ncclNet_v8_t *net, int dev)
{
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = NULL, *rc = NULL;
	ncclNetDeviceHandle_v8_t *devh = (void *)0x1;
	DP_OK(net->listen(dev, handle, &lc));
	DP_CHECK(lc != NULL, "listen returned no comm");
	dp_send(p, handle, sizeof handle);
	double end = dp_now() + DEADLINE_S;
	while (rc == NULL) {
		DP_OK(net->accept(lc, &rc, &devh));
		DP_CHECK(dp_now() < end, "accept did not finish");
	}
	DP_CHECK(devh == NULL, "host plugin must return a NULL device handle");
	DP_OK(net->closeListen(lc));
	return rc;
}

void *dp_connect_send(struct dp_pair *p, const ncclNet_v8_t *net, int dev)
{
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *sc = NULL;
	dp_recv(p, handle, sizeof handle);
	double end = dp_now() + DEADLINE_S;
	/* NCCL re-calls connect with the same handle buffer, sometimes with a
	 * NULL device-handle pointer. */
	while (sc == NULL) {
		DP_OK(net->connect(dev, handle, &sc, NULL));
		DP_CHECK(dp_now() < end, "connect did not finish");
	}
	return sc;
}

ncclResult_t dp_wait(const ncclNet_v8_t *net, void *req, int *sizes)
{
	int done = 0;
	double end = dp_now() + DEADLINE_S;
	while (!done) {
		ncclResult_t res = net->test(req, &done, sizes);
		if (res != ncclSuccess)
			return res;
		if (!done)
			dp_nap();
		DP_CHECK(dp_now() < end, "request never completed");
	}
	return ncclSuccess;
}

static inline uint8_t pattern(size_t i, uint32_t id)
{
	uint32_t x = (uint32_t)i * 2654435761u ^ id * 40503u;
	return (uint8_t)(x >> 13 ^ x);
}

void dp_fill(void *buf, size_t len, uint32_t id)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = pattern(i, id);
}

long dp_verify(const void *buf, size_t len, uint32_t id)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern(i, id))
			return (long)i;
	return -1;
}

void *dp_alloc(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	DP_CHECK(p != MAP_FAILED, "mmap %zu: %s", len, strerror(errno));
	return p;
}

void dp_free(void *p, size_t len)
{
	munmap(p, len ? len : 1);
}

uint64_t dp_counter(const struct dp_pair *p, const char *host, const char *hca,
		    const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/sys/%s/class/infiniband/%s/ports/1/counters/%s",
		 p->fabric, host, hca, name);
	FILE *f = fopen(path, "r");
	DP_CHECK(f != NULL, "no counter %s", path);
	char text[32];
	bool got = fgets(text, sizeof text, f) != NULL;
	fclose(f);
	DP_CHECK(got, "counter %s empty", path);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	DP_CHECK(errno == 0 && text[0] >= '0' && text[0] <= '9' && (*end == '\n' || *end == '\0'),
		 "counter %s unreadable: '%s'", path, text);
	return strstr(name, "_data") != NULL ? v * 4 : v;
}

/* hot: the comm's layout is the plugin's own (comm.h, same compiler and
 * flags); only its control-area pointer is read. */
#include "comm.h"

void *dp_send_fifo(void *send_comm)
{
	const struct spark_comm *c = send_comm;
	DP_CHECK(c->kind == SPARK_COMM_SEND, "not a send comm");
	return c->ctl;
}

void *dp_recv_records(void *recv_comm)
{
	const struct spark_comm *c = recv_comm;
	DP_CHECK(c->kind == SPARK_COMM_RECV, "not a recv comm");
	return c->ctl;
}

/* ---- added for test/stress ---------------------------------------------- */
uint64_t dp_count_bad(const void *buf, size_t len, uint32_t id)
{
	long first = dp_verify(buf, len, id);
	if (first < 0)
		return 0;
	const uint8_t *b = buf;
	uint64_t bad = 0;
	for (size_t i = (size_t)first; i < len; i++)
		bad += b[i] != pattern(i, id);
	return bad;
}

void dp_capture_start(struct dp_capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	DP_CHECK(c->tmp != NULL, "tmpfile: %s", strerror(errno));
	c->saved = dup(2);
	DP_CHECK(c->saved >= 0 && dup2(fileno(c->tmp), 2) == 2, "dup2: %s", strerror(errno));
}

void dp_capture_end(struct dp_capture *c, char *out, size_t len)
{
	fflush(stderr);
	DP_CHECK(dup2(c->saved, 2) == 2, "restoring stderr: %s", strerror(errno));
	close(c->saved);
	rewind(c->tmp);
	size_t n = fread(out, 1, len - 1, c->tmp);
	out[n] = '\0';
	fclose(c->tmp);
	fputs(out, stderr);
}
