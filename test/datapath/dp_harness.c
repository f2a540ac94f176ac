#define _GNU_SOURCE
#include "dp_harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_S 60.0

static struct dp_pair *current;
static int nap_us;

void dp_set_nap(int us) { nap_us = us; }

void dp_nap(void)
{
	if (nap_us > 0)
		usleep((useconds_t)nap_us);
}
static const char *host_name = "a";

const char *dp_host(void) { return host_name; }

void dp_fail(void)
{
	fflush(NULL);
	if (current != NULL && current->is_b)
		_exit(1);
	if (current != NULL && current->child > 0)
		kill(current->child, SIGKILL);
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

const ncclNet_v8_t *dp_load_plugin(void)
{
	char build[PATH_MAX], path[PATH_MAX + 64];
	build_dir(build, sizeof build);
	snprintf(path, sizeof path, "%s/softroce/libibverbs.so.1", build);
	DP_CHECK(dlopen(path, RTLD_NOW | RTLD_GLOBAL) != NULL, "%s", dlerror());
	snprintf(path, sizeof path, "%s/softroce/libmlx5.so.1", build);
	(void)dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	snprintf(path, sizeof path, "%s/libnccl-net-spark.so", build);
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	DP_CHECK(lib != NULL, "%s", dlerror());
	const ncclNet_v8_t *net = dlsym(lib, "ncclNetPlugin_v8");
	DP_CHECK(net != NULL, "no ncclNetPlugin_v8");
	DP_OK(net->init(logger));
	return net;
}

void dp_pair_start(struct dp_pair *p, const char *const *extra_env)
{
	memset(p, 0, sizeof *p);
	snprintf(p->fabric, sizeof p->fabric, "/tmp/dp-fabric-XXXXXX");
	DP_CHECK(mkdtemp(p->fabric) != NULL, "mkdtemp: %s", strerror(errno));
	setenv("SOFTROCE_FABRIC", p->fabric, 1);
	setenv("SOFTROCE_REORDER", "1", 0);
	setenv("NCCL_SOCKET_IFNAME", "lo", 0);
	/* softroce scales ACK timeouts by 0.01: NCCL's default 20 would give
	 * up after 0.35 s, which a loaded 2-core host can stall a process for. */
	setenv("NCCL_SPARK_IB_TIMEOUT", "24", 0);
	for (; extra_env != NULL && *extra_env != NULL; extra_env++)
		putenv((char *)*extra_env);
	DP_CHECK(pipe(p->pipe_ab) == 0 && pipe(p->pipe_ba) == 0, "pipe");
	fflush(NULL);
	current = p;
	p->child = fork();
	DP_CHECK(p->child >= 0, "fork: %s", strerror(errno));
	p->is_b = p->child == 0;
	host_name = p->is_b ? "b" : "a";
	setenv("SOFTROCE_HOST", host_name, 1);
	if (p->is_b)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
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
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->fabric);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", p->fabric);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
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
		if (!done && nap_us > 0)
			usleep((useconds_t)nap_us);
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
	unsigned long long v = 0;
	DP_CHECK(fscanf(f, "%llu", &v) == 1, "counter %s unreadable", path);
	fclose(f);
	return strstr(name, "_data") != NULL ? v * 4 : v;
}
