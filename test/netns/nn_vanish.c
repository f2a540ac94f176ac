/* nn-vanish: one host of check-vanish.sh, whose peer vanishes without a FIN.
 *
 *   nn-vanish a DIR    connects a busy comm (a sends a stream to b) and an
 *                      idle one (a waits for a message b never sends)
 *   nn-vanish b DIR    the other end of both: receives and checks the stream
 *
 * The script takes host b's links down, drops DIR/fault (host a's clock
 * starts there), then kills or stops b. Host a exits 0 once both its comms
 * have failed and closed, printing each one's time to error for the figures
 * (bounded only as a hang guard, never a timing check). Host b, when it was
 * stopped and is continued (its links still down), must see both its comms
 * fail too: the stream it was receiving, and an isend on its idle comm; its
 * clock starts when it notices it was stopped. DIR/progress: the messages
 * host a has completed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dp_harness.h"
#include "nn_fifos.h"

#define MSG (1 << 20)
#define WINDOW 4
#define SETUP_S 120.0         /* connects and traffic before the fault: a hang guard */
#define FROZEN_S 1.0          /* a gap this long between b's steps: b was stopped */

struct host {
	const ncclNet_v8_t *net;
	bool is_b;
	void *busy, *idle;              /* a: send, recv; b: recv, send */
	void *bmh, *imh;
	uint8_t *bbuf, *ibuf;
	void *req[WINDOW], *ireq;
	long posted, done;
	double t0;                      /* a: the fault seen; b: found itself resumed */
	double last;                    /* b: when its loop last went round */
	double t_busy, t_idle;          /* when each comm failed; 0 = not yet */
	double bound;                   /* the hang guard after t0 */
	char dir[256];
};

static bool exists(const struct host *h, const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", h->dir, name);
	return stat(path, &st) == 0;
}

static void progress(const struct host *h)
{
	char path[300], tmp[310];
	snprintf(path, sizeof path, "%s/progress", h->dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	DP_CHECK(f != NULL, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%ld\n", h->done);
	DP_CHECK(fclose(f) == 0 && rename(tmp, path) == 0, "%s: %s", path, strerror(errno));
}

/* b: a gap in its loop is the stop it was given (it may have been stopped
 * anywhere in a step, and notice in the same step). */
static void b_resumed(struct host *h)
{
	double now = dp_now();
	if (h->is_b && h->t0 == 0 && now - h->last > FROZEN_S) {
		h->t0 = now;
		fprintf(stderr, "[b] resumed after %.2f s\n", now - h->last);
	}
}

/* A comm's error: only after the fault, recorded once. */
static void failed(struct host *h, bool busy, ncclResult_t res)
{
	b_resumed(h);
	/* b is killed or stopped right after its links go down: it may see
	 * them go first, and that is no error of the test. */
	DP_CHECK(h->t0 != 0 || h->is_b, "%s comm failed (%d) before the fault",
		 busy ? "busy" : "idle", res);
	if (h->t0 == 0)
		h->t0 = dp_now();
	double *t = busy ? &h->t_busy : &h->t_idle;
	if (*t != 0)
		return;
	*t = dp_now();
	fprintf(stderr, "[%s] %s comm: error %d %.2f s after the %s\n", h->is_b ? "b" : "a",
		busy ? "busy" : "idle", res, *t - h->t0, h->is_b ? "resume" : "fault");
}

/* a's busy comm: keep WINDOW sends in flight, complete the oldest. */
static void a_busy_step(struct host *h)
{
	if (h->posted - h->done < WINDOW) {
		void *r = NULL;
		uint8_t *b = h->bbuf + (size_t)(h->posted % WINDOW) * MSG;
		ncclResult_t res = h->net->isend(h->busy, b, MSG, 0, h->bmh, &r);
		if (res != ncclSuccess)
			return failed(h, true, res);
		if (r != NULL) {
			h->req[h->posted++ % WINDOW] = r;
			return;
		}
	}
	if (h->done == h->posted)
		return;
	int fin = 0;
	ncclResult_t res = h->net->test(h->req[h->done % WINDOW], &fin, NULL);
	if (res != ncclSuccess)
		return failed(h, true, res);
	if (fin && ++h->done % 8 == 0)
		progress(h);
}

/* b's busy comm: keep WINDOW receives posted, check the oldest's bytes. */
static void b_busy_step(struct host *h)
{
	if (h->posted - h->done < WINDOW) {
		void *b = h->bbuf + (size_t)(h->posted % WINDOW) * MSG, *r = NULL;
		int size = MSG, tag = 0;
		ncclResult_t res = h->net->irecv(h->busy, 1, &b, &size, &tag, &h->bmh, &r);
		if (res != ncclSuccess)
			return failed(h, true, res);
		if (r != NULL) {
			h->req[h->posted++ % WINDOW] = r;
			return;
		}
	}
	if (h->done == h->posted)
		return;
	int fin = 0, got = -1;
	ncclResult_t res = h->net->test(h->req[h->done % WINDOW], &fin, &got);
	if (res != ncclSuccess)
		return failed(h, true, res);
	if (!fin)
		return;
	DP_CHECK(got == MSG, "message %ld: %d bytes", h->done, got);
	long bad = dp_verify(h->bbuf + (size_t)(h->done % WINDOW) * MSG, MSG,
			     (uint32_t)(h->done % WINDOW));
	DP_CHECK(bad < 0, "message %ld: byte %ld wrong", h->done, bad);
	h->done++;
}

/* The idle comm: a waits in a receive; b (after its resume) sends once. */
static void idle_step(struct host *h)
{
	ncclResult_t res = ncclSuccess;
	int fin = 0;
	if (h->ireq == NULL && h->is_b && h->t0 != 0)
		res = h->net->isend(h->idle, h->ibuf, 4096, 0, h->imh, &h->ireq);
	else if (h->ireq != NULL)
		res = h->net->test(h->ireq, &fin, NULL);
	if (res != ncclSuccess)
		return failed(h, false, res);
	DP_CHECK(!fin, "the idle comm completed an operation its peer never matched");
}

static void connect_both(struct host *h, struct dp_pair *p)
{
	h->net = dp_load_plugin();
	/* b listens first (a's stream), then a (b's idle sends). */
	if (h->is_b) {
		h->busy = dp_connect_recv(p, h->net, 0);
		h->idle = dp_connect_send(p, h->net, 0);
	} else {
		h->busy = dp_connect_send(p, h->net, 0);
		h->idle = dp_connect_recv(p, h->net, 0);
	}
	h->bbuf = dp_alloc((size_t)MSG * WINDOW);
	h->ibuf = dp_alloc(MSG);
	for (int i = 0; !h->is_b && i < WINDOW; i++)
		dp_fill(h->bbuf + (size_t)i * MSG, MSG, (uint32_t)i);
	DP_OK(h->net->regMr(h->busy, h->bbuf, (size_t)MSG * WINDOW, NCCL_PTR_HOST, &h->bmh));
	DP_OK(h->net->regMr(h->idle, h->ibuf, MSG, NCCL_PTR_HOST, &h->imh));
	if (!h->is_b) {
		void *b = h->ibuf;
		int size = MSG, tag = 0;
		double end = dp_now() + SETUP_S;
		while (h->ireq == NULL) {
			DP_OK(h->net->irecv(h->idle, 1, &b, &size, &tag, &h->imh, &h->ireq));
			DP_CHECK(dp_now() < end, "irecv never accepted");
		}
	}
}

static void close_both(struct host *h)
{
	double start = dp_now();
	DP_OK(h->net->deregMr(h->busy, h->bmh));
	DP_OK(h->net->deregMr(h->idle, h->imh));
	DP_OK(h->is_b ? h->net->closeRecv(h->busy) : h->net->closeSend(h->busy));
	DP_OK(h->is_b ? h->net->closeSend(h->idle) : h->net->closeRecv(h->idle));
	fprintf(stderr, "[%s] both comms closed in %.2f s\n", h->is_b ? "b" : "a",
		dp_now() - start);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "a") != 0 && strcmp(argv[1], "b") != 0)) {
		fprintf(stderr, "usage: nn-vanish a|b DIR\n");
		return 2;
	}
	static struct host h;
	struct dp_pair p;
	const char *timeout = getenv("NCCL_SPARK_PEER_TIMEOUT");
	h.is_b = argv[1][0] == 'b';
	h.bound = 3.0 * (timeout != NULL ? strtod(timeout, NULL) : 30.0) + 10.0;
	snprintf(h.dir, sizeof h.dir, "%s", argv[2]);
	nn_open_fifos(&p, h.dir, h.is_b);
	connect_both(&h, &p);
	fprintf(stderr, "[%s] connected\n", argv[1]);
	double setup_end = dp_now();
	setup_end += SETUP_S;
	h.last = dp_now();
	while (h.t_busy == 0 || h.t_idle == 0) {
		double now = dp_now();
		b_resumed(&h);
		if (!h.is_b && h.t0 == 0 && exists(&h, "fault"))
			h.t0 = now;
		h.last = now;
		if (h.t_busy == 0)
			(h.is_b ? b_busy_step : a_busy_step)(&h);
		if (h.t_idle == 0)
			idle_step(&h);
		DP_CHECK(h.t0 != 0 ? now < h.t0 + h.bound : now < setup_end,
			 "%s: no error within %.0f s (busy %s, idle %s)",
			 h.t0 != 0 ? "after the fault" : "before the fault", h.t0 != 0 ? h.bound : SETUP_S,
			 h.t_busy != 0 ? "failed" : "waiting", h.t_idle != 0 ? "failed" : "waiting");
		dp_sleep_us(100);
	}
	close_both(&h);
	printf("nn-vanish %s: busy comm failed %.2f s and idle comm %.2f s after the %s; "
	       "%ld messages before\n", argv[1], h.t_busy - h.t0, h.t_idle - h.t0,
	       h.is_b ? "resume" : "fault", h.done);
	return 0;
}
