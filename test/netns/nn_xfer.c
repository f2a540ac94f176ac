/* nn-xfer: one emulated Spark of a two-host transfer, as a process of its own
 * (check-netns.sh starts each in its own network namespace), driving the
 * plugin through ncclNetPlugin_v8 as NCCL's proxy does.
 *
 *   nn-xfer recv DIR     host b: listen, accept, receive and check every byte
 *   nn-xfer send DIR     host a: connect, send until b says how many
 *
 * DIR holds two FIFOs made by the caller, a2b and b2a (the handle goes b → a,
 * the message count a ← b), and is where the caller drops a file "stop" to
 * end the stream. The receiver publishes DIR/progress (messages checked so
 * far), so the caller can act on the traffic mid-stream. Messages of 2..4 MiB
 * (each size and content a function of its index), up to WINDOW in flight.
 * The receiver decides the end: on "stop" it posts no more receives and tells
 * the sender the count; a send beyond it can never match a receive, so the
 * sender stops there. Exit 0 only when every message arrived with its size
 * and every byte right. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_harness.h"
#include "nn_fifos.h"

#define MiB (1024ul * 1024ul)
#define SLOT (4 * MiB)
#define WINDOW 8
#define DEADLINE_S 240.0      /* the whole run; a hang guard, not a measurement */

struct xfer {
	const ncclNet_v8_t *net;
	void *comm, *mh;
	uint8_t *buf;
	void *req[WINDOW];
	long posted, done, total;   /* total: -1 until the receiver has decided */
	unsigned long long bytes;
	char dir[256];
	bool recv;
};

static int msg_size(long m) { return (int)(SLOT - (size_t)(m % 256) * 8192); }

static bool exists(const struct xfer *x, const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", x->dir, name);
	return stat(path, &st) == 0;
}

static void progress(const struct xfer *x)
{
	char path[300], tmp[310];
	snprintf(path, sizeof path, "%s/progress", x->dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	DP_CHECK(f != NULL, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%ld\n", x->done);
	DP_CHECK(fclose(f) == 0 && rename(tmp, path) == 0, "%s: %s", path, strerror(errno));
}

/* One step of the receiver: post (until stop), or complete the oldest. */
static void recv_step(struct xfer *x, struct dp_pair *p)
{
	if (x->total < 0 && exists(x, "stop")) {
		x->total = x->posted;
		dp_send(p, &x->total, sizeof x->total);
	}
	if (x->total < 0 && x->posted - x->done < WINDOW) {
		void *b = x->buf + (size_t)(x->posted % WINDOW) * SLOT;
		int size = (int)SLOT, tag = 0;
		void **req = &x->req[x->posted % WINDOW];
		DP_OK(x->net->irecv(x->comm, 1, &b, &size, &tag, &x->mh, req));
		if (*req != NULL)
			x->posted++;
		else
			dp_sleep_us(50);          /* "not yet": NCCL calls again */
		return;
	}
	if (x->done == x->posted)
		return;
	int fin = 0, got = -1;
	DP_OK(x->net->test(x->req[x->done % WINDOW], &fin, &got));
	if (!fin) {
		dp_sleep_us(50);
		return;
	}
	DP_CHECK(got == msg_size(x->done), "message %ld: %d bytes, want %d", x->done, got,
		 msg_size(x->done));
	long bad = dp_verify(x->buf + (size_t)(x->done % WINDOW) * SLOT, (size_t)got,
			     (uint32_t)x->done);
	DP_CHECK(bad < 0, "message %ld: byte %ld wrong", x->done, bad);
	x->bytes += (unsigned long long)got;
	x->done++;
	if (x->done % 4 == 0)
		progress(x);
}

/* One step of the sender: learn the count, post the next, complete the oldest. */
static void send_step(struct xfer *x, struct dp_pair *p)
{
	if (x->total < 0) {
		ssize_t n = read(p->pipe_ba[0], &x->total, sizeof x->total);
		DP_CHECK(n != 0, "the receiver went away");
		DP_CHECK(n < 0 ? errno == EAGAIN : n == (ssize_t)sizeof x->total,
			 "count from the receiver: %zd bytes", n);
		if (n < 0)
			x->total = -1;
	}
	if (x->posted - x->done < WINDOW && (x->total < 0 || x->posted < x->total)) {
		uint8_t *b = x->buf + (size_t)(x->posted % WINDOW) * SLOT;
		void **req = &x->req[x->posted % WINDOW];
		if (*req == NULL)                 /* filled once, however often isend says "not yet" */
			dp_fill(b, (size_t)msg_size(x->posted), (uint32_t)x->posted);
		*req = (void *)1;
		void *r = NULL;
		DP_OK(x->net->isend(x->comm, b, msg_size(x->posted), 0, x->mh, &r));
		if (r != NULL) {
			*req = r;
			x->posted++;
			return;
		}
	}
	if (x->done == x->posted) {
		dp_sleep_us(50);
		return;
	}
	int fin = 0, got = -1;
	DP_OK(x->net->test(x->req[x->done % WINDOW], &fin, &got));
	if (!fin)
		return;
	DP_CHECK(got == msg_size(x->done), "send %ld reported %d bytes", x->done, got);
	x->req[x->done % WINDOW] = NULL;
	x->bytes += (unsigned long long)got;
	x->done++;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "send") != 0 && strcmp(argv[1], "recv") != 0)) {
		fprintf(stderr, "usage: nn-xfer send|recv DIR\n");
		return 2;
	}
	static struct xfer x;
	x.recv = strcmp(argv[1], "recv") == 0;
	x.total = -1;
	snprintf(x.dir, sizeof x.dir, "%s", argv[2]);
	struct dp_pair p;
	nn_open_fifos(&p, x.dir, x.recv);
	x.net = dp_load_plugin();
	int ndev = 0;
	DP_OK(x.net->devices(&ndev));
	DP_CHECK(ndev == 1, "%d plugin devices, want the one fused pair", ndev);
	x.buf = dp_alloc(SLOT * WINDOW);
	x.comm = x.recv ? dp_connect_recv(&p, x.net, 0) : dp_connect_send(&p, x.net, 0);
	/* The handle has come (dp_recv blocks); the count is polled for. */
	if (!x.recv)
		DP_CHECK(fcntl(p.pipe_ba[0], F_SETFL, O_NONBLOCK) == 0, "fcntl");
	DP_OK(x.net->regMr(x.comm, x.buf, SLOT * WINDOW, NCCL_PTR_HOST, &x.mh));
	fprintf(stderr, "nn-xfer %s: connected\n", argv[1]);
	double end = dp_now() + DEADLINE_S;
	while (x.total < 0 || x.done < x.total) {
		if (x.recv)
			recv_step(&x, &p);
		else
			send_step(&x, &p);
		DP_CHECK(dp_now() < end, "not done after %.0f s: %ld of %ld messages", DEADLINE_S,
			 x.done, x.total);
	}
	if (x.recv)
		progress(&x);
	DP_OK(x.net->deregMr(x.comm, x.mh));
	DP_OK(x.recv ? x.net->closeRecv(x.comm) : x.net->closeSend(x.comm));
	dp_free(x.buf, SLOT * WINDOW);
	printf("nn-xfer %s: %ld messages, %llu bytes, every byte right\n", argv[1], x.done,
	       x.bytes);
	return 0;
}
