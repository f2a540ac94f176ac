/* The loops that move messages, the same for every transport: NCCL's proxy
 * shape. Requests complete in posting order (the oldest is tested, once per
 * loop); a loop that made no progress naps SB_NAP_US, as the plugin's own
 * data-path harness does (on a 2-core host, spinning pollers starve the
 * emulated NICs). */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

#define SB_STREAM_S 120.0   /* a stream that takes longer has hung */

static int nap_us = SB_NAP_US;

void sb_set_nap(int us)
{
	nap_us = us;
}

/* One direction of traffic on this host: `total` messages, `window` in flight. */
struct lane {
	bool send;
	int posted, done, total, window;
	void *req[SB_MAX_WINDOW];
};

static uint8_t *slot_buf(uint8_t *base, size_t cap, size_t size, int k)
{
	size_t off = (size_t)k * size;
	return off + size <= cap ? base + off : base;
}

/* One step: test the oldest request, post the next. True if anything moved. */
static bool step(struct sb_env *e, const struct sb_impl *im, int nlinks, size_t size,
		 struct lane *ln)
{
	bool moved = false;
	if (ln->done < ln->posted) {
		int done = 0;
		if (im->ops->test(ln->req[ln->done % ln->window], &done, NULL) != 0)
			sb_die("%s: test failed", im->name);
		if (done) {
			ln->done++;
			moved = true;
		}
	}
	if (ln->posted < ln->total && ln->posted - ln->done < ln->window) {
		int k = ln->posted % ln->window;
		const struct sb_link *l = &im->link[ln->posted % nlinks];
		void *req = NULL;
		int rc = ln->send ? im->ops->isend(l->send, l->smh, slot_buf(e->sbuf, e->cap, size, k),
						   size, &req)
				  : im->ops->irecv(l->recv, l->rmh, slot_buf(e->rbuf, e->cap, size, k),
						   size, &req);
		if (rc != 0)
			sb_die("%s: %s failed", im->name, ln->send ? "isend" : "irecv");
		if (req != NULL) {
			ln->req[k] = req;
			ln->posted++;
			moved = true;
		}
	}
	return moved;
}

static void run_lanes(struct sb_env *e, const struct sb_impl *im, int nlinks, size_t size,
		      struct lane *ln, int n)
{
	double end = sb_now() + SB_STREAM_S;
	for (;;) {
		bool moved = false, all = true;
		for (int i = 0; i < n; i++) {
			if (ln[i].done < ln[i].total)
				moved |= step(e, im, nlinks, size, &ln[i]);
			all &= ln[i].done == ln[i].total;
		}
		if (all)
			return;
		if (!moved) {
			if (nap_us)
				sb_sleep_us(nap_us);
			else
				sched_yield();
			if (sb_now() > end)
				sb_die("%s: %zu-byte messages stopped moving", im->name, size);
		}
	}
}

/* Timed from the first post to the last completion, at least two windows:
 * requests complete in posting order only as far as the test loop sees them
 * (links finish out of order), so a timer started mid-stream would count
 * messages that were already on the wire. */
double sb_stream(struct sb_env *e, const struct sb_impl *im, int nlinks, size_t size,
		 int window, int count, enum sb_dir dir)
{
	if (window < 1 || window > SB_MAX_WINDOW || nlinks < 1 || nlinks > im->nlinks)
		sb_die("stream: window %d on %d links unsupported", window, nlinks);
	struct lane ln[2];
	memset(ln, 0, sizeof ln);
	int n = 0, total = count > 2 * window ? count : 2 * window;
	bool sends = e->client || dir == SB_BIDIR, recvs = !e->client || dir == SB_BIDIR;
	if (sends)
		ln[n++] = (struct lane){.send = true, .total = total, .window = window};
	if (recvs)
		ln[n++] = (struct lane){.send = false, .total = total, .window = window};
	sb_oob_sync(e->fd);
	double t0 = sb_now();
	run_lanes(e, im, nlinks, size, ln, n);
	double t = sb_now() - t0;
	sb_oob_sync(e->fd);
	return e->client ? (double)size * total * n / t / 1e9 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void wait_req(const struct sb_impl *im, void *req)
{
	double end = sb_now() + SB_STREAM_S;
	for (int done = 0; !done;) {
		if (im->ops->test(req, &done, NULL) != 0)
			sb_die("%s: test failed", im->name);
		if (done)
			break;
		sched_yield();   /* spin, but let the emulated NICs of this core run */
		if (sb_now() > end)
			sb_die("%s: a round trip never completed", im->name);
	}
}

static void *post(struct sb_env *e, const struct sb_impl *im, bool send, size_t size)
{
	const struct sb_link *l = &im->link[0];
	double end = sb_now() + SB_STREAM_S;
	for (;;) {
		void *req = NULL;
		int rc = send ? im->ops->isend(l->send, l->smh, e->sbuf, size, &req)
			      : im->ops->irecv(l->recv, l->rmh, e->rbuf, size, &req);
		if (rc != 0)
			sb_die("%s: post failed", im->name);
		if (req != NULL)
			return req;
		sched_yield();
		if (sb_now() > end)
			sb_die("%s: the peer never posted", im->name);
	}
}

/* Latency: both hosts spin (NCCL's proxy does), the median is the path's; on a
 * shared host the tail is the scheduler's. */
double sb_pingpong(struct sb_env *e, const struct sb_impl *im, size_t size, int iters)
{
	double *t = calloc((size_t)iters, sizeof *t);
	if (t == NULL)
		sb_die("out of memory");
	sb_oob_sync(e->fd);
	for (int i = 0; i < iters; i++) {
		double t0 = sb_now();
		if (e->client) {
			void *r = post(e, im, false, size);
			wait_req(im, post(e, im, true, size));
			wait_req(im, r);
		} else {
			wait_req(im, post(e, im, false, size));
			wait_req(im, post(e, im, true, size));
		}
		t[i] = sb_now() - t0;
	}
	sb_oob_sync(e->fd);
	qsort(t, (size_t)iters, sizeof t[0], cmp_double);
	double med = t[iters / 2] * 1e6;
	free(t);
	return e->client ? med : 0;
}
