/* Rails that fail and come back, between two emulated Sparks (hosts a and
 * b, one process each): a sends, b receives, every byte checked. softroce's
 * control file takes a port down or up on both ends of the cable at once
 * ("a roceP2p1s0f0 down"), and each host's HCA raises IBV_EVENT_PORT_ERR or
 * _ACTIVE. The RC retry timeout is made long (NCCL_SPARK_IB_TIMEOUT=30:
 * 44 s per try in softroce's time), so a transfer that finishes within the
 * bounds below cannot have waited for the transport's retries: the port
 * events did it. Bounds are hang checks, generous, never speed checks. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "dp_harness.h"

#define KiB 1024ul
#define MiB (1024ul * KiB)
#define INFL 8
#define SLOT (1 * MiB)
/* softroce's ACK timeout at NCCL_SPARK_IB_TIMEOUT=30: 4.096 us x 2^30 x 0.01. */
#define RETRY_TIMEOUT_S 44.0
#define HANG_S 20.0

static const char *const long_retry_env[] = {"NCCL_SPARK_IB_TIMEOUT=30", "NCCL_SPARK_FAILBACK=1",
					     NULL};

struct run {
	struct dp_pair p;
	const ncclNet_v8_t *net;
	void *comm, *mh;
	uint8_t *buf;
	uint32_t id;   /* next message */
};

static void control(const struct run *t, const char *line)
{
	char path[300];
	snprintf(path, sizeof path, "%s/control", t->p.fabric);
	FILE *f = fopen(path, "a");
	DP_CHECK(f != NULL, "control");
	fputs(line, f);
	fclose(f);
}

static void run_start(struct run *t)
{
	dp_pair_start(&t->p, long_retry_env);
	t->net = dp_load_plugin();
	t->buf = dp_alloc(SLOT * INFL);
	t->comm = t->p.is_b ? dp_connect_recv(&t->p, t->net, 0) : dp_connect_send(&t->p, t->net, 0);
	DP_OK(t->net->regMr(t->comm, t->buf, SLOT * INFL, NCCL_PTR_HOST, &t->mh));
	t->id = 0;
	dp_sync(&t->p);
}

static void run_end(struct run *t)
{
	DP_OK(t->net->deregMr(t->comm, t->mh));
	DP_OK(t->p.is_b ? t->net->closeRecv(t->comm) : t->net->closeSend(t->comm));
	dp_free(t->buf, SLOT * INFL);
}

static int msg_size(uint32_t id) { return (int)(SLOT - (id % 97) * 4096); }

static void *post(struct run *t, uint32_t id)
{
	uint8_t *b = t->buf + (size_t)(id % INFL) * SLOT;
	void *req = NULL;
	double end = dp_now() + HANG_S;
	while (req == NULL) {
		if (t->p.is_b) {
			void *vb = b;
			int posted = (int)SLOT, tag = 0;
			DP_OK(t->net->irecv(t->comm, 1, &vb, &posted, &tag, &t->mh, &req));
		} else {
			DP_OK(t->net->isend(t->comm, b, msg_size(id), 0, t->mh, &req));
		}
		DP_CHECK(dp_now() < end, "message %u never posted", id);
	}
	return req;
}

static void finish(struct run *t, void *req, uint32_t id)
{
	int got = -1;
	DP_OK(dp_wait(t->net, req, &got));
	DP_CHECK(got == msg_size(id), "message %u: %d bytes, want %d", id, got, msg_size(id));
	if (t->p.is_b)
		DP_CHECK(dp_verify(t->buf + (size_t)(id % INFL) * SLOT, (size_t)got, id) < 0,
			 "message %u: wrong data", id);
	else   /* the slot is free again: the next message's bytes */
		dp_fill(t->buf + (size_t)(id % INFL) * SLOT, (size_t)msg_size(id + INFL),
			id + INFL);
}

/* n messages, INFL in flight; host a writes `line` to the control file
 * (NULL: none) once message `at` is posted. Returns the seconds it took. */
static double stream(struct run *t, uint32_t n, uint32_t at, const char *line)
{
	void *req[INFL];
	double start = dp_now();
	uint32_t first = t->id;
	if (!t->p.is_b)
		for (uint32_t k = 0; k < INFL; k++)
			dp_fill(t->buf + (size_t)((first + k) % INFL) * SLOT,
				(size_t)msg_size(first + k), first + k);
	for (uint32_t m = 0; m < n + INFL; m++) {
		uint32_t id = first + m;
		if (m >= INFL)
			finish(t, req[(id - INFL) % INFL], id - INFL);
		if (m >= n)
			continue;
		req[id % INFL] = post(t, id);
		if (m == at && line != NULL && !t->p.is_b)
			control(t, line);
	}
	t->id = first + n;
	return dp_now() - start;
}

static uint64_t xmit(const struct run *t, const char *hca)
{
	return dp_counter(&t->p, "a", hca, "port_xmit_data");
}

/* PORT_ERR moves the pieces at once. What decides is the cause each host's
 * WARN gives for the loss: its own port event, or the peer's RAIL_DOWN
 * (sent on the peer's port event); never the transport's retries. The time
 * is a hang bound: natively 20 s (the 44 s retry timeout could not fit);
 * under qemu it is reported only, and the bound is that of a live rail
 * losing a packet once (softroce's responder drops what follows a lost
 * packet until the requester's ACK timeout, 44 s here, resends: seen once
 * at 44.2 s, docs/building.md) on top of the 20 s. */
Test(failback, port_down_fails_over_before_the_retry_timeout, .timeout = 150)
{
	struct run t;
	run_start(&t);
	stream(&t, 16, ~0u, NULL);
	uint64_t before = t.p.is_b ? 0 : xmit(&t, "roceP2p1s0f0");
	struct dp_capture cap;
	char log[16384];
	dp_capture_start(&cap);
	double s = stream(&t, 48, 4, "a roceP2p1s0f0 down\n");
	dp_capture_end(&cap, log, sizeof log);
	fprintf(stderr, "[%s] 48 MiB after the port went down: %.2f s\n", dp_host(), s);
	const char *lost = strstr(log, "rail roceP2p1s0f0 lost: ");
	DP_CHECK(lost != NULL, "no WARN of the rail's loss");
	lost += strlen("rail roceP2p1s0f0 lost: ");
	DP_CHECK(strncmp(lost, "its port went down", 18) == 0 ||
		 strncmp(lost, "the peer lost it", 16) == 0,
		 "the rail was lost by another path than the port's event: %.80s", lost);
	double bound = dp_under_qemu() ? HANG_S + RETRY_TIMEOUT_S : HANG_S;
	DP_CHECK(s < bound, "%.1f s for 48 MiB after the port went down: the failover waited "
		 "(retry timeout %.0f s)", s, RETRY_TIMEOUT_S);
	if (!t.p.is_b)
		DP_CHECK(before > 0, "roceP2p1s0f0 carried nothing before it went down");
	run_end(&t);
	if (t.p.is_b)
		dp_pair_finish(&t.p, 0);
	cr_assert(dp_pair_finish(&t.p, 0), "host b failed");
}

/* Both halves down: no rail is left, the comm fails on the side that has
 * work in flight (and on the receiver that waits, which sees its ports go
 * down too), with a WARN naming both rails; not after the retry timeout. */
Test(failback, both_rails_down_fails_the_comm_naming_both, .timeout = 90)
{
	struct run t;
	run_start(&t);
	stream(&t, 8, ~0u, NULL);
	void *req = NULL;
	if (t.p.is_b)
		req = post(&t, t.id);
	dp_sync(&t.p);
	struct dp_capture cap;
	dp_capture_start(&cap);
	ncclResult_t res = ncclSuccess;
	double start = dp_now();
	if (!t.p.is_b) {
		control(&t, "a rocep1s0f0 down\na roceP2p1s0f0 down\n");
		dp_sleep_us(100 * 1000);   /* softroce applies it within a few ms */
		/* The receive's CTS has usually landed; on a loaded host it may
		 * not have before the rails went (then it never does), and the
		 * isend that waits for it sees the ports and fails the comm. */
		while (req == NULL && res == ncclSuccess && dp_now() < start + HANG_S)
			res = t.net->isend(t.comm, t.buf + (size_t)(t.id % INFL) * SLOT,
					   msg_size(t.id), 0, t.mh, &req);
	}
	int done = 0;
	while (res == ncclSuccess && !done && dp_now() < start + HANG_S)
		res = t.net->test(req, &done, NULL);
	double s = dp_now() - start;
	/* Each side names both rails: in its own WARN, or in the peer's
	 * "comm failed" it reports when the peer noticed first. */
	char text[8192];
	dp_capture_end(&cap, text, sizeof text);
	DP_CHECK(strstr(text, "every rail is down") != NULL && strstr(text, "rocep1s0f0") != NULL &&
		 strstr(text, "roceP2p1s0f0") != NULL, "no WARN naming both rails in:\n%s", text);
	DP_CHECK(!done && res == ncclRemoteError, "%s: done %d, result %d after %.1f s",
		 t.p.is_b ? "receiver" : "sender", done, (int)res, s);
	run_end(&t);
	if (t.p.is_b)
		dp_pair_finish(&t.p, 0);
	cr_assert(dp_pair_finish(&t.p, 0), "host b failed");
}

/* a -> b: go on (1) or stop (0) after a round. */
static bool agree(struct run *t, bool go_on)
{
	char v = go_on;
	if (t->p.is_b)
		dp_recv(&t->p, &v, 1);
	else
		dp_send(&t->p, &v, 1);
	return v != 0;
}

/* A flap: roceP2p1s0f0 down mid-stream (the comm carries on over
 * rocep1s0f0), up again: the rail rejoins and carries traffic again (both
 * hosts' counters of it grow: a's data, b's clear-to-sends); then the other
 * rail fails and the comm carries on over the one that came back. */
Test(failback, flapped_rail_carries_traffic_again, .timeout = 200)
{
	struct run t;
	run_start(&t);
	stream(&t, 16, ~0u, NULL);
	double s = stream(&t, 32, 4, "a roceP2p1s0f0 down\n");
	DP_CHECK(s < HANG_S, "%.1f s for 32 MiB after roceP2p1s0f0 went down", s);
	uint64_t a0 = 0, b0 = 0;
	if (!t.p.is_b) {
		control(&t, "a roceP2p1s0f0 up\n");
		dp_sleep_us(50 * 1000);
		a0 = xmit(&t, "roceP2p1s0f0");
		b0 = dp_counter(&t.p, "b", "roceP2p1s0f0", "port_xmit_data");
	}
	double start = dp_now();
	bool back = false;
	int rounds = 0;
	/* Under qemu a round of 8 MiB takes seconds and one lost packet an ACK
	 * timeout (softroce sends no sequence NAK): one CI run saw 3 rounds in
	 * 44.2 s, none yet on the rail; the bound is that of the port-down test. */
	double limit = dp_under_qemu() ? HANG_S + RETRY_TIMEOUT_S : HANG_S;
	while (agree(&t, !back && dp_now() < start + limit)) {
		stream(&t, 8, ~0u, NULL);
		rounds++;
		if (!t.p.is_b)
			back = xmit(&t, "roceP2p1s0f0") > a0 + 2 * SLOT &&
			       dp_counter(&t.p, "b", "roceP2p1s0f0", "port_xmit_data") > b0;
	}
	if (!t.p.is_b)
		DP_CHECK(back, "roceP2p1s0f0 carried no traffic %.1f s (%d rounds of 8 MiB) after "
			 "its port came back (a sent %llu bytes on it, b %llu)", dp_now() - start,
			 rounds, (unsigned long long)(xmit(&t, "roceP2p1s0f0") - a0),
			 (unsigned long long)(dp_counter(&t.p, "b", "roceP2p1s0f0",
							 "port_xmit_data") - b0));
	s = stream(&t, 32, 4, "a rocep1s0f0 down\n");
	DP_CHECK(s < HANG_S, "%.1f s for 32 MiB after rocep1s0f0 went down too", s);
	run_end(&t);
	if (t.p.is_b)
		dp_pair_finish(&t.p, 0);
	cr_assert(dp_pair_finish(&t.p, 0), "host b failed");
}
