/* CPU cost of the data path per message, for callgrind (scripts/cpucost.sh).
 * Host a sends, host b receives, one comm, WINDOW messages of SIZE bytes in
 * flight per round. Every plugin call that is measured makes progress: the
 * driver first waits (nanosleep, outside the measurement) until the peer's
 * clear-to-sends or the completions have surely arrived, then makes the
 * calls with callgrind's collection switched on around them only. A call
 * that still finds nothing to do is counted and reported (its cost then
 * inflates the figures). Each side reports its own calls; the script turns
 * the callgrind profiles into instructions, post_send and poll_cq per message.
 * Without valgrind's header the toggles are no-ops (the driver still runs).
 *
 * Two shapes of "8 in flight" (CPUCOST_MODE):
 *   rounds (default): the receiver posts 8, the sender sends 8, both test
 *     the 8 once every completion has surely arrived. Each round starts
 *     from idle rails, so the planner cuts its first messages (both rails,
 *     or the other rail, idle: cutting finishes each sooner).
 *   slide: NCCL's proxy shape, a window kept full: a new send as soon as the
 *     oldest completes. Host a's links are slowed (softroce's rate fault) so
 *     that one message's wire time outlasts a step of the driver by far:
 *     when the oldest message has landed, the 7 after it are still queued on
 *     the rails, as on a busy window. Per step: b waits until message k has
 *     landed (a stamp in its last bytes), then test(k) and irecv(k + 8)
 *     measured; a then test(k) and isend(k + 8) measured. The first 8
 *     (filling the window from idle) and the last 8 (draining it) are not
 *     measured. A step the machine ran too late for (the next message
 *     completed too) still counts, at its real cost: the post_send count
 *     shows how many messages were cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../datapath/dp_harness.h"

#ifdef HAVE_CALLGRIND_H   /* module.mk: valgrind's header is installed */
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#endif

#define WINDOW 8
#define SIZE (64 * 1024)
#define SETTLE_US 30000   /* time for CTS or completions to land, under valgrind */
/* slide: host a's links at this fraction of their rate (64 KiB: ~100 ms on
 * the wire), and the time an IMM, ACK or CTS takes once the data landed. */
#define SLIDE_RATE "0.001"
#define SLIDE_SETTLE_US 5000
#define STAMP_OFF (SIZE - sizeof(uint64_t))

static int env_int(const char *name, int dflt, int lo, int hi)
{
	const char *v = getenv(name);
	char *end;
	long n = v != NULL ? strtol(v, &end, 10) : dflt;
	DP_CHECK(v == NULL || (*v != '\0' && *end == '\0'), "%s=%s is not a number", name, v);
	DP_CHECK(n >= lo && n <= hi, "%s=%ld out of %d..%d", name, n, lo, hi);
	return (int)n;
}

struct side {
	const ncclNet_v8_t *net;
	void *comm, *mh;
	uint8_t *buf;
	int idle_calls;   /* measured calls that made no progress */
};

static void *post(struct side *s, bool recv, int k)
{
	void *req = NULL, *b = s->buf + (size_t)(k % WINDOW) * SIZE;
	int size = SIZE, tag = 1;
	CALLGRIND_TOGGLE_COLLECT;
	ncclResult_t res = recv ? s->net->irecv(s->comm, 1, &b, &size, &tag, &s->mh, &req)
				: s->net->isend(s->comm, b, SIZE, tag, s->mh, &req);
	CALLGRIND_TOGGLE_COLLECT;
	DP_OK(res);
	s->idle_calls += req == NULL;
	while (req == NULL) {   /* not ready after all: retried unmeasured */
		dp_sleep_us(1000);
		DP_OK(recv ? s->net->irecv(s->comm, 1, &b, &size, &tag, &s->mh, &req)
			   : s->net->isend(s->comm, b, SIZE, tag, s->mh, &req));
	}
	return req;
}

static void finish(struct side *s, void *req)
{
	int done = 0, got = 0;
	CALLGRIND_TOGGLE_COLLECT;
	ncclResult_t res = s->net->test(req, &done, &got);
	CALLGRIND_TOGGLE_COLLECT;
	DP_OK(res);
	s->idle_calls += !done;
	while (!done) {   /* retried unmeasured */
		dp_sleep_us(1000);
		DP_OK(s->net->test(req, &done, &got));
	}
	DP_CHECK(got == SIZE, "completed with %d bytes", got);
}

static void rounds(struct side *s, struct dp_pair *p, int nrounds)
{
	void *req[WINDOW] = {NULL};
	for (int r = 0; r < nrounds; r++) {
		/* b posts the window's receives; a sends once the CTS are in */
		if (p->is_b)
			for (int k = 0; k < WINDOW; k++)
				req[k] = post(s, true, k);
		dp_sync(p);
		dp_sleep_us(SETTLE_US);
		if (!p->is_b)
			for (int k = 0; k < WINDOW; k++)
				req[k] = post(s, false, k);
		dp_sync(p);
		dp_sleep_us(SETTLE_US);   /* data, IMMs and ACKs land */
		for (int k = 0; k < WINDOW; k++)
			finish(s, req[k]);
		dp_sync(p);
	}
}

/* Message k's stamp: written by a into the buffer's last bytes before the
 * isend, looked for by b (the NIC writes it: acquire). */
static uint64_t *stamp_of(struct side *s, int k)
{
	return (uint64_t *)(void *)(s->buf + (size_t)(k % WINDOW) * SIZE + STAMP_OFF);
}

static void slow_links(const struct dp_pair *p)
{
	char path[300];
	snprintf(path, sizeof path, "%s/control", p->fabric);
	FILE *f = fopen(path, "a");
	DP_CHECK(f != NULL, "%s", path);
	fprintf(f, "a rocep1s0f0 rate %s\na roceP2p1s0f0 rate %s\n", SLIDE_RATE, SLIDE_RATE);
	DP_CHECK(fclose(f) == 0, "%s", path);
}

static void *post_unmeasured(struct side *s, bool recv, int k)
{
	if (!recv)
		*stamp_of(s, k) = (uint64_t)k + 1;
	void *req = NULL, *b = s->buf + (size_t)(k % WINDOW) * SIZE;
	int size = SIZE, tag = 1;
	while (req == NULL) {
		DP_OK(recv ? s->net->irecv(s->comm, 1, &b, &size, &tag, &s->mh, &req)
			   : s->net->isend(s->comm, b, SIZE, tag, s->mh, &req));
		if (req == NULL)
			dp_sleep_us(SETTLE_US);
	}
	return req;
}

static void slide(struct side *s, struct dp_pair *p, int nmsgs)
{
	void *req[WINDOW] = {NULL};
	if (!p->is_b)
		slow_links(p);
	dp_sync(p);
	dp_sleep_us(SETTLE_US);   /* every process has read the control file */
	if (p->is_b)   /* the window, filled from idle: not measured */
		for (int k = 0; k < WINDOW; k++)
			req[k] = post_unmeasured(s, true, k);
	dp_sync(p);
	dp_sleep_us(SETTLE_US);
	if (!p->is_b)
		for (int k = 0; k < WINDOW; k++)
			req[k] = post_unmeasured(s, false, k);
	for (int k = 0; k < nmsgs; k++) {
		int w = k % WINDOW;
		if (p->is_b) {
			while (__atomic_load_n(stamp_of(s, k), __ATOMIC_ACQUIRE) != (uint64_t)k + 1)
				dp_sleep_us(200);
			dp_sleep_us(SLIDE_SETTLE_US);   /* the IMM after the data */
			finish(s, req[w]);
			req[w] = post(s, true, k + WINDOW);
			dp_sync(p);
		} else {
			dp_sync(p);   /* message k landed, the CTS of k + 8 is posted */
			dp_sleep_us(SLIDE_SETTLE_US);
			finish(s, req[w]);
			*stamp_of(s, k + WINDOW) = (uint64_t)(k + WINDOW) + 1;
			req[w] = post(s, false, k + WINDOW);
		}
	}
	/* The drain, not measured: once every message has surely landed (a
	 * call made while collection is off still counts as a call in
	 * callgrind's profile, so the calls are few, not a polling loop). */
	if (p->is_b)
		for (int k = nmsgs; k < nmsgs + WINDOW; k++)
			while (__atomic_load_n(stamp_of(s, k), __ATOMIC_ACQUIRE) != (uint64_t)k + 1)
				dp_sleep_us(1000);
	dp_sync(p);
	dp_sleep_us(SETTLE_US);
	for (int k = nmsgs; k < nmsgs + WINDOW; k++) {
		int done = 0, got = 0;
		while (!done) {
			DP_OK(s->net->test(req[k % WINDOW], &done, &got));
			if (!done)
				dp_sleep_us(SETTLE_US);
		}
	}
	dp_sync(p);
}

int main(void)
{
	int nrounds = env_int("CPUCOST_ROUNDS", 64, 1, 100000);
	const char *mode = getenv("CPUCOST_MODE");
	if (mode == NULL)
		mode = "rounds";
	bool sliding = strcmp(mode, "slide") == 0;
	DP_CHECK(sliding || strcmp(mode, "rounds") == 0, "CPUCOST_MODE=%s: rounds or slide", mode);
	struct dp_pair p;
	setenv("SOFTROCE_REORDER", "0", 1);
	dp_pair_start(&p, NULL);
	struct side s = {.net = dp_load_plugin()};
	s.buf = dp_alloc((size_t)WINDOW * SIZE);
	s.comm = p.is_b ? dp_connect_recv(&p, s.net, 0) : dp_connect_send(&p, s.net, 0);
	DP_OK(s.net->regMr(s.comm, s.buf, (size_t)WINDOW * SIZE, NCCL_PTR_HOST, &s.mh));
	if (sliding)
		slide(&s, &p, nrounds * WINDOW);
	else
		rounds(&s, &p, nrounds);
	fprintf(stderr, "cpucost %s: %d messages of %d bytes, 8 in flight (%s); %d measured "
		"calls made no progress\n", p.is_b ? "receiver" : "sender", nrounds * WINDOW, SIZE,
		sliding ? "a sliding window" : "rounds of 8 from idle", s.idle_calls);
	DP_OK(s.net->deregMr(s.comm, s.mh));
	DP_OK(p.is_b ? s.net->closeRecv(s.comm) : s.net->closeSend(s.comm));
	if (p.is_b)
		dp_pair_finish(&p, 0);
	return dp_pair_finish(&p, 0) ? 0 : 1;
}
