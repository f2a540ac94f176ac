/* Drives the plugin's v8 table as NCCL's proxy does: non-blocking
 * listen/connect/accept, regMr, up to NC_PROBE_INFLIGHT isend/irecv and test.
 * Every loop has a deadline; every resource is released on every path. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "probe.h"

#define CONNECT_S 20.0
#define TRANSFER_S 60.0
#define TAG 7

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void quiet_logger(ncclDebugLogLevel level, unsigned long flags, const char *file,
			 int line, const char *fmt, ...)
{
	(void)level; (void)flags; (void)file; (void)line; (void)fmt;
}

bool nc_probe_open(struct nc_probe *p, const struct nc_host *h, const struct nc_paths *paths,
		   char *err, int len)
{
	char pairs[SPARK_MAX_HCAS * (SPARK_NAME_LEN + 1)] = "", path[512];
	memset(p, 0, sizeof *p);
	for (int i = 0, used = 0; i < h->nhcas; i++)
		if (spark_hca_usable(&h->hcas[i]) && used < (int)sizeof pairs - SPARK_NAME_LEN - 1)
			used += snprintf(pairs + used, sizeof pairs - (size_t)used, "%s%s",
					 used > 0 ? "," : "", h->hcas[i].name);
	if (pairs[0] == '\0') {
		snprintf(err, (size_t)len, "no usable rail to probe");
		return false;
	}
	if (!nc_plugin_find(paths, path, sizeof path)) {
		snprintf(err, (size_t)len, "libnccl-net-spark.so not found (--plugin PATH)");
		return false;
	}
	setenv("NCCL_SPARK_PAIRS", pairs, 1); /* read by the plugin's init below */
	p->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (p->lib == NULL) {
		snprintf(err, (size_t)len, "dlopen %s: %s", path, dlerror());
		return false;
	}
	p->net = dlsym(p->lib, "ncclNetPlugin_v8");
	if (p->net == NULL || p->net->init(quiet_logger) != ncclSuccess ||
	    p->net->devices(&p->ndev) != ncclSuccess) {
		snprintf(err, (size_t)len, "%s: no ncclNetPlugin_v8, or its init failed", path);
		nc_probe_close(p);
		return false;
	}
	return true;
}

void nc_probe_close(struct nc_probe *p)
{
	if (p->lib != NULL)
		dlclose(p->lib);
	memset(p, 0, sizeof *p);
}

int nc_probe_dev(const struct nc_probe *p, const char *rail)
{
	for (int d = 0; d < p->ndev; d++) {
		ncclNetProperties_v8_t props;
		if (p->net->getProperties(d, &props) == ncclSuccess && props.name != NULL &&
		    strcmp(props.name, rail) == 0)
			return d;
	}
	return -1;
}

static void hex_encode(const unsigned char *in, int n, char *out)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool hex_decode(const char *in, unsigned char *out, int n)
{
	if ((int)strlen(in) != 2 * n)
		return false;
	for (int i = 0; i < n; i++) {
		int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* count messages through comm, NC_PROBE_INFLIGHT at a time. */
static bool transfer(const ncclNet_v8_t *net, void *comm, bool send, int count, char *err,
		     int len)
{
	size_t bytes = (size_t)NC_PROBE_MSG * NC_PROBE_INFLIGHT;
	char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *mh = NULL, *req[NC_PROBE_INFLIGHT] = {NULL};
	if (buf == MAP_FAILED || net->regMr(comm, buf, bytes, NCCL_PTR_HOST, &mh) != ncclSuccess) {
		snprintf(err, (size_t)len, "regMr of %zu bytes failed", bytes);
		if (buf != MAP_FAILED)
			munmap(buf, bytes);
		return false;
	}
	memset(buf, 0x5a, bytes);
	int posted = 0, done = 0;
	bool ok = true;
	double end = now_s() + TRANSFER_S;
	while (ok && done < count) {
		int before = done;
		for (int s = 0; ok && s < NC_PROBE_INFLIGHT; s++) {
			void *data = buf + (size_t)s * NC_PROBE_MSG;
			int size = NC_PROBE_MSG, tag = TAG, fin = 0;
			if (req[s] == NULL && posted < count) {
				ok = (send ? net->isend(comm, data, size, tag, mh, &req[s])
					   : net->irecv(comm, 1, &data, &size, &tag, &mh, &req[s])) ==
				     ncclSuccess;
				posted += req[s] != NULL;
			} else if (req[s] != NULL) {
				ok = net->test(req[s], &fin, &size) == ncclSuccess;
				if (ok && fin) {
					req[s] = NULL;
					done++;
				}
			}
		}
		if (done == before) {
			/* Nothing finished: let the NIC's (or softroce's) threads run. */
			struct timespec nap = {0, 20000};
			nanosleep(&nap, NULL);
		}
		if (ok && now_s() > end) {
			snprintf(err, (size_t)len, "%d of %d messages after %.0f s", done, count,
				 TRANSFER_S);
			ok = false;
		} else if (!ok) {
			snprintf(err, (size_t)len, "%s failed after %d messages",
				 send ? "isend/test" : "irecv/test", done);
		}
	}
	net->deregMr(comm, mh);
	munmap(buf, bytes);
	return ok;
}

bool nc_probe_recv(struct nc_probe *p, int dev, int fd, int count, char *err, int len)
{
	unsigned char handle[NCCL_NET_HANDLE_MAXSIZE] = {0};
	char hex[2 * NCCL_NET_HANDLE_MAXSIZE + 1];
	void *lc = NULL, *rc = NULL;
	ncclNetDeviceHandle_v8_t *devh = NULL;
	if (p->net->listen(dev, handle, &lc) != ncclSuccess || lc == NULL) {
		snprintf(err, (size_t)len, "listen failed");
		return false;
	}
	hex_encode(handle, NCCL_NET_HANDLE_MAXSIZE, hex);
	bool ok = nc_line_send(fd, "handle %s", hex);
	double end = now_s() + CONNECT_S;
	while (ok && rc == NULL && now_s() < end)
		ok = p->net->accept(lc, &rc, &devh) == ncclSuccess;
	p->net->closeListen(lc);
	if (rc == NULL) {
		snprintf(err, (size_t)len, "accept %s", ok ? "timed out" : "failed");
		return false;
	}
	ok = transfer(p->net, rc, false, count, err, len);
	p->net->closeRecv(rc);
	return ok;
}

bool nc_probe_send(struct nc_probe *p, int dev, const char *handle_hex, int count,
		   double *seconds, char *err, int len)
{
	unsigned char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *sc = NULL;
	ncclNetDeviceHandle_v8_t *devh = NULL;
	if (!hex_decode(handle_hex, handle, NCCL_NET_HANDLE_MAXSIZE)) {
		snprintf(err, (size_t)len, "malformed handle from the peer");
		return false;
	}
	bool ok = true;
	double end = now_s() + CONNECT_S;
	while (ok && sc == NULL && now_s() < end)
		ok = p->net->connect(dev, handle, &sc, &devh) == ncclSuccess;
	if (sc == NULL) {
		snprintf(err, (size_t)len, "connect %s", ok ? "timed out" : "failed");
		return false;
	}
	double t0 = now_s();
	ok = transfer(p->net, sc, true, count, err, len);
	*seconds = now_s() - t0;
	p->net->closeSend(sc);
	return ok;
}
