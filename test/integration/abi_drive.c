/* abi_drive.h: loading, logging, and the exchange every version shares. */
#define _GNU_SOURCE
#include "abi_drive.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_S 30.0

static struct {
	char text[1 << 16];
	int warns;
} log_state;

void abi_logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	if (level == NCCL_LOG_TRACE)
		return;    /* NCCL prints these only with NCCL_DEBUG=TRACE */
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t used = strlen(log_state.text);
	snprintf(log_state.text + used, sizeof log_state.text - used, "%s %s\n",
		 level == NCCL_LOG_WARN ? "WARN" : "INFO", msg);
	if (level == NCCL_LOG_WARN) {
		log_state.warns++;
		fprintf(stderr, "[%s] WARN %s\n", dp_host(), msg);
	}
}

int abi_log_has(const char *needle) { return strstr(log_state.text, needle) != NULL; }
int abi_log_warns(void) { return log_state.warns; }
const char *abi_log(void) { return log_state.text; }

/* build/ is two levels above this executable (build/test/integration/<bin>). */
static void build_path(char *out, size_t len, const char *rel)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	DP_CHECK(n > 0, "readlink /proc/self/exe");
	exe[n] = '\0';
	snprintf(out, len, "%s/../../%s", dirname(exe), rel);
}

/* Never closed: softroce's NIC thread runs library code until exit. */
static struct {
	void *verbs, *mlx5, *plugin;
} loaded;

const void *abi_load(const char *symbol)
{
	char path[PATH_MAX + 64];
	build_path(path, sizeof path, "softroce/libibverbs.so.1");
	loaded.verbs = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	DP_CHECK(loaded.verbs != NULL, "%s", dlerror());
	build_path(path, sizeof path, "softroce/libmlx5.so.1");
	loaded.mlx5 = dlopen(path, RTLD_NOW | RTLD_GLOBAL);    /* optional, as in dp_harness */
	build_path(path, sizeof path, "libnccl-net-spark.so");
	loaded.plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	DP_CHECK(loaded.plugin != NULL, "%s", dlerror());
	const void *table = dlsym(loaded.plugin, symbol);
	DP_CHECK(table != NULL, "%s not exported", symbol);
	log_state.text[0] = '\0';
	log_state.warns = 0;
	return table;
}

static void wait_done(const struct abi_net *net, void *req, int *size)
{
	int done = 0;
	double end = dp_now() + DEADLINE_S;
	while (!done) {
		DP_OK(net->test(req, &done, size));
		DP_CHECK(dp_now() < end, "v%d: request never completed", net->version);
	}
}

static void receive_side(struct dp_pair *p, const struct abi_net *net, int dev, size_t size)
{
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = NULL, *rc = NULL, *mh = NULL, *req = NULL;
	DP_OK(net->listen(net->ctx, dev, handle, &lc));
	DP_CHECK(lc != NULL, "v%d: listen returned no comm", net->version);
	dp_send(p, handle, sizeof handle);
	double end = dp_now() + DEADLINE_S;
	while (rc == NULL) {
		DP_OK(net->accept(lc, &rc));
		DP_CHECK(dp_now() < end, "v%d: accept did not finish", net->version);
	}
	DP_OK(net->close_listen(lc));     /* NCCL closes the listener at once */
	uint8_t *buf = dp_alloc(size);
	memset(buf, 0, size);
	DP_OK(net->reg_mr(rc, buf, size, &mh));
	while (req == NULL)
		DP_OK(net->irecv(rc, buf, size, 7, mh, &req));
	int got = -1;
	wait_done(net, req, &got);
	DP_CHECK(got == (int)size, "v%d: received %d bytes, sent %zu", net->version, got, size);
	long bad = dp_verify(buf, size, 0xab00u + (uint32_t)net->version);
	DP_CHECK(bad < 0, "v%d: byte %ld differs", net->version, bad);
	dp_sync(p);
	DP_OK(net->dereg_mr(rc, mh));
	DP_OK(net->close_recv(rc));
	dp_free(buf, size);
}

static void send_side(struct dp_pair *p, const struct abi_net *net, int dev, size_t size)
{
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *sc = NULL, *mh = NULL, *req = NULL;
	dp_recv(p, handle, sizeof handle);
	double end = dp_now() + DEADLINE_S;
	while (sc == NULL) {      /* the same handle buffer on every retry */
		DP_OK(net->connect(net->ctx, dev, handle, &sc));
		DP_CHECK(dp_now() < end, "v%d: connect did not finish", net->version);
	}
	uint8_t *buf = dp_alloc(size);
	dp_fill(buf, size, 0xab00u + (uint32_t)net->version);
	DP_OK(net->reg_mr(sc, buf, size, &mh));
	end = dp_now() + DEADLINE_S;
	while (req == NULL) {     /* NULL: the receiver has not posted yet */
		DP_OK(net->isend(sc, buf, size, 7, mh, &req));
		DP_CHECK(dp_now() < end, "v%d: isend never accepted", net->version);
	}
	wait_done(net, req, NULL);
	dp_sync(p);
	DP_OK(net->dereg_mr(sc, mh));
	DP_OK(net->close_send(sc));
	dp_free(buf, size);
}

void abi_exchange(struct dp_pair *p, const struct abi_net *net, int dev, size_t size)
{
	if (p->is_b)
		send_side(p, net, dev, size);
	else
		receive_side(p, net, dev, size);
}
