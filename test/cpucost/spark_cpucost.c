/* CPU cost of the data path per message, for callgrind (scripts/cpucost.sh).
 * Host a sends, host b receives, one comm, WINDOW messages of SIZE bytes in
 * flight per round. Every plugin call that is measured makes progress: the
 * driver first waits (nanosleep, outside the measurement) until the peer's
 * clear-to-sends or the completions have surely arrived, then makes the
 * calls with callgrind's collection switched on around them only. A call
 * that still finds nothing to do is counted and reported (its cost then
 * inflates the figures). Each side reports its own calls; the script turns
 * the callgrind profiles into instructions, post_send and poll_cq per message.
 * Without valgrind's header the toggles are no-ops (the driver still runs). */
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
	void *req = NULL, *b = s->buf + (size_t)k * SIZE;
	int size = SIZE, tag = 1;
	CALLGRIND_TOGGLE_COLLECT;
	ncclResult_t res = recv ? s->net->irecv(s->comm, 1, &b, &size, &tag, &s->mh, &req)
				: s->net->isend(s->comm, b, SIZE, tag, s->mh, &req);
	CALLGRIND_TOGGLE_COLLECT;
	DP_OK(res);
	while (req == NULL) {   /* not ready after all: retried unmeasured */
		s->idle_calls++;
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
	while (!done) {
		s->idle_calls++;
		dp_sleep_us(1000);
		DP_OK(s->net->test(req, &done, &got));
	}
	DP_CHECK(got == SIZE, "completed with %d bytes", got);
}

int main(void)
{
	int rounds = env_int("CPUCOST_ROUNDS", 64, 1, 100000);
	struct dp_pair p;
	setenv("SOFTROCE_REORDER", "0", 1);
	dp_pair_start(&p, NULL);
	struct side s = {.net = dp_load_plugin()};
	s.buf = dp_alloc((size_t)WINDOW * SIZE);
	s.comm = p.is_b ? dp_connect_recv(&p, s.net, 0) : dp_connect_send(&p, s.net, 0);
	DP_OK(s.net->regMr(s.comm, s.buf, (size_t)WINDOW * SIZE, NCCL_PTR_HOST, &s.mh));
	void *req[WINDOW] = {NULL};
	for (int r = 0; r < rounds; r++) {
		/* b posts the window's receives; a sends once the CTS are in */
		if (p.is_b)
			for (int k = 0; k < WINDOW; k++)
				req[k] = post(&s, true, k);
		dp_sync(&p);
		dp_sleep_us(SETTLE_US);
		if (!p.is_b)
			for (int k = 0; k < WINDOW; k++)
				req[k] = post(&s, false, k);
		dp_sync(&p);
		dp_sleep_us(SETTLE_US);   /* data, IMMs and ACKs land */
		for (int k = 0; k < WINDOW; k++)
			finish(&s, req[k]);
		dp_sync(&p);
	}
	fprintf(stderr, "cpucost %s: %d messages of %d bytes, %d in flight; %d measured calls "
		"made no progress\n", p.is_b ? "receiver" : "sender", rounds * WINDOW, SIZE,
		WINDOW, s.idle_calls);
	DP_OK(s.net->deregMr(s.comm, s.mh));
	DP_OK(p.is_b ? s.net->closeRecv(s.comm) : s.net->closeSend(s.comm));
	if (p.is_b)
		dp_pair_finish(&p, 0);
	return dp_pair_finish(&p, 0) ? 0 : 1;
}
