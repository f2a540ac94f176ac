/* "ours": the plugin, loaded with dlopen and driven only through its exported
 * ncclNetPlugin_v8 table, as NCCL's proxy drives it. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nccl/net_v8.h"
#include "sb.h"

#define SB_CONNECT_S 60.0

static const ncclNet_v8_t *net;

static void logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		   const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	if (level != NCCL_LOG_WARN && getenv("SPARK_BENCH_DEBUG") == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "plugin %s: ", level == NCCL_LOG_WARN ? "WARN" : "INFO");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* The library is never closed: NCCL never unloads a net plugin either, and
 * the plugin keeps its devices open for the life of the process. */
void sb_ours_load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		sb_die("cannot load the plugin: %s (build it with `make`, or give --plugin PATH)",
		       dlerror());
	net = dlsym(h, "ncclNetPlugin_v8");
	if (net == NULL)
		sb_die("%s exports no ncclNetPlugin_v8", path);
	if (net->init(logger) != ncclSuccess)
		sb_die("the plugin's init failed (see its WARN lines above)");
	// cppcheck-suppress resourceLeak ; the handle lives as long as the process, see above
}

int sb_ours_ndev(void)
{
	int n = 0;
	if (net->devices(&n) != ncclSuccess)
		sb_die("the plugin's devices() failed");
	return n;
}

const char *sb_ours_device_name(int dev)
{
	static char name[256];
	ncclNetProperties_v8_t props;
	if (net->getProperties(dev, &props) != ncclSuccess || props.name == NULL)
		return "?";
	snprintf(name, sizeof name, "%s (%d Mb/s)", props.name, props.speed);
	return name;
}

static int ours_isend(void *comm, void *mh, void *buf, size_t size, void **req)
{
	return net->isend(comm, buf, (int)size, 0, mh, req) != ncclSuccess;
}

static int ours_irecv(void *comm, void *mh, void *buf, size_t size, void **req)
{
	int sz = (int)size, tag = 0;
	return net->irecv(comm, 1, &buf, &sz, &tag, &mh, req) != ncclSuccess;
}

static int ours_test(void *req, int *done, size_t *size)
{
	int sz = 0;
	if (net->test(req, done, &sz) != ncclSuccess)
		return 1;
	if (*done && size)
		*size = (size_t)sz;
	return 0;
}

static const struct sb_ops ours_ops = {ours_isend, ours_irecv, ours_test};

/* Both hosts listen, swap handles over the control channel, then connect and
 * accept together (both calls are non-blocking, NCCL re-calls them). */
static void connect_link(struct sb_env *e, int dev, struct sb_link *l)
{
	char mine[NCCL_NET_HANDLE_MAXSIZE], peer[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = NULL;
	memset(mine, 0, sizeof mine);
	if (net->listen(dev, mine, &lc) != ncclSuccess || lc == NULL)
		sb_die("the plugin's listen on device %d failed", dev);
	sb_oob_send(e->fd, mine, sizeof mine);
	sb_oob_recv(e->fd, peer, sizeof peer);
	double end = sb_now() + SB_CONNECT_S;
	l->send = l->recv = NULL;
	while (l->send == NULL || l->recv == NULL) {
		ncclNetDeviceHandle_v8_t *dh = NULL;
		if (l->send == NULL && net->connect(dev, peer, &l->send, &dh) != ncclSuccess)
			sb_die("the plugin's connect failed");
		if (l->recv == NULL && net->accept(lc, &l->recv, &dh) != ncclSuccess)
			sb_die("the plugin's accept failed");
		if (sb_now() > end)
			sb_die("the plugin did not connect within %.0f s", SB_CONNECT_S);
		if (l->send == NULL || l->recv == NULL)
			sb_sleep_us(SB_NAP_US);
	}
	net->closeListen(lc);
	if (net->regMr(l->send, e->sbuf, e->cap, NCCL_PTR_HOST, &l->smh) != ncclSuccess ||
	    net->regMr(l->recv, e->rbuf, e->cap, NCCL_PTR_HOST, &l->rmh) != ncclSuccess)
		sb_die("the plugin's regMr of %zu bytes failed (memlock? `ulimit -l`)", e->cap);
}

void sb_ours_setup(struct sb_env *e, struct sb_impl *im, int dev, int nlinks)
{
	im->name = "ours";
	im->ops = &ours_ops;
	im->nlinks = nlinks;
	im->links_per_comm = 1;
	for (int j = 0; j < nlinks; j++)
		connect_link(e, dev, &im->link[j]);
	sb_oob_sync(e->fd);
}

void sb_ours_teardown(struct sb_impl *im)
{
	for (int j = 0; j < im->nlinks; j++) {
		struct sb_link *l = &im->link[j];
		net->deregMr(l->send, l->smh);
		net->deregMr(l->recv, l->rmh);
		net->closeSend(l->send);
		net->closeRecv(l->recv);
	}
	im->nlinks = 0;
}
