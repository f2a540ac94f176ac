/* A lost rail's shares are re-sent only where the receiver lacks them
 * (docs/design.md, "Losing a rail"). Two emulated Sparks, a sends, b
 * receives. The exact case of the defect it fixes: a share lands at the
 * receiver but its ACK never reaches the sender (softroce's control
 * "a roceP2p1s0f0 acks drop": b's responses on that half are lost on their
 * way into a), the receiver completes the receive, reposts the same buffer
 * and gets a newer message into it over the other half; then the first
 * half's port goes down. Re-sending the unacknowledged share (what the
 * plugin did before) writes the old bytes over the newer ones; the
 * receiver's RESEND says it had the share, so nothing is re-sent and the
 * first message's request completes on the sender all the same.
 *
 * The RC retry timeout is long (NCCL_SPARK_IB_TIMEOUT=30: 44 s a try), so
 * the share whose ACK is lost is not retransmitted while the test runs. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "dp_harness.h"

#define SIZE (32 * 1024)   /* under 2 x the minimum stripe: whole on one rail */
#define HANG_S 20.0

static const char *const env[] = {"NCCL_SPARK_IB_TIMEOUT=30", NULL};

static void control(const struct dp_pair *p, const char *line)
{
	char path[300];
	snprintf(path, sizeof path, "%s/control", p->fabric);
	FILE *f = fopen(path, "a");
	DP_CHECK(f != NULL, "control");
	fputs(line, f);
	fclose(f);
}

static void *post_recv(const ncclNet_v8_t *net, void *comm, void *buf, void *mh)
{
	void *req = NULL;
	int size = SIZE, tag = 0;
	double end = dp_now() + HANG_S;
	while (req == NULL) {
		DP_OK(net->irecv(comm, 1, &buf, &size, &tag, &mh, &req));
		DP_CHECK(dp_now() < end, "irecv never accepted");
	}
	return req;
}

static void *post_send(const ncclNet_v8_t *net, void *comm, void *buf, void *mh)
{
	void *req = NULL;
	double end = dp_now() + HANG_S;
	while (req == NULL) {
		DP_OK(net->isend(comm, buf, SIZE, 0, mh, &req));
		DP_CHECK(dp_now() < end, "isend never found a receive");
	}
	return req;
}

/* b: the receive is complete and holds message id. */
static void received(const ncclNet_v8_t *net, void *req, const uint8_t *buf, uint32_t id)
{
	int got = -1;
	DP_OK(dp_wait(net, req, &got));
	DP_CHECK(got == SIZE, "message %u: %d bytes", id, got);
	long bad = dp_verify(buf, SIZE, id);
	DP_CHECK(bad < 0, "message %u: byte %ld wrong", id, bad);
}

/* a: responses on roceP2p1s0f0 lost from now on; messages 0..n-1 filled. */
static void drop_acks(const struct dp_pair *p, uint8_t *buf, uint32_t n)
{
	control(p, "a roceP2p1s0f0 acks drop\n");
	dp_sleep_us(100 * 1000);   /* softroce applies it within 10 ms */
	for (uint32_t id = 0; id < n; id++)
		dp_fill(buf + id * SIZE, SIZE, id);
}

/* b: messages 0 and 1, one per half (idle rails take turns). */
static void receive_two(const ncclNet_v8_t *net, void *comm, uint8_t *buf, void *mh)
{
	void *r0 = post_recv(net, comm, buf, mh), *r1 = post_recv(net, comm, buf + SIZE, mh);
	received(net, r0, buf, 0);
	received(net, r1, buf + SIZE, 1);
}

/* a: sends messages 0 and 1 (req[0], req[1]); returns the one that does not
 * complete: its share landed (b completed it) and its ACK was dropped. */
static uint8_t send_two(const ncclNet_v8_t *net, void *comm, uint8_t *buf, void *mh,
			void *req[2])
{
	req[0] = post_send(net, comm, buf, mh);
	req[1] = post_send(net, comm, buf + SIZE, mh);
	int done[2] = {0, 0};
	double end = dp_now() + HANG_S;
	while (!done[0] && !done[1]) {
		for (int k = 0; k < 2; k++)
			DP_OK(net->test(req[k], &done[k], NULL));
		DP_CHECK(dp_now() < end, "neither message 0 nor 1 completed");
	}
	uint8_t stuck = done[0] ? 1 : 0;
	DP_CHECK(!done[stuck], "message %u completed too: no ACK was dropped", stuck);
	return stuck;
}

Test(resend, a_share_whose_ack_was_lost_is_not_written_again_over_a_reused_buffer,
     .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, env);
	const ncclNet_v8_t *net = dp_load_plugin();
	uint8_t *buf = dp_alloc(4 * SIZE);
	void *comm = p.is_b ? dp_connect_recv(&p, net, 0) : dp_connect_send(&p, net, 0);
	void *mh = NULL;
	DP_OK(net->regMr(comm, buf, 4 * SIZE, NCCL_PTR_HOST, &mh));
	uint8_t stuck = 0;
	if (!p.is_b)
		drop_acks(&p, buf, 4);
	dp_sync(&p);
	if (p.is_b) {
		receive_two(net, comm, buf, mh);
		dp_recv(&p, &stuck, 1);
		/* The buffer of the message whose ACK a never got, reposted:
		 * message 2 lands in it (over the other half). */
		uint8_t *reused = buf + stuck * SIZE;
		received(net, post_recv(net, comm, reused, mh), reused, 2);
		dp_sync(&p);
		/* Message 3 comes once a saw message `stuck` complete after the
		 * port went down; meanwhile b's polls see the port go and answer
		 * the sender. A re-sent copy would have gone on the survivor's
		 * QP before message 3, so it has landed by now. */
		received(net, post_recv(net, comm, buf + 3 * SIZE, mh), buf + 3 * SIZE, 3);
		long bad = dp_verify(reused, SIZE, 2);
		DP_CHECK(bad < 0, "message 2 overwritten from byte %ld: message %u's share, whose "
			 "ACK was lost, was written again after the buffer was reused", bad, stuck);
	} else {
		void *req[2];
		stuck = send_two(net, comm, buf, mh, req);
		dp_send(&p, &stuck, 1);
		DP_OK(dp_wait(net, post_send(net, comm, buf + 2 * SIZE, mh), NULL));
		dp_sync(&p);
		control(&p, "a roceP2p1s0f0 down\n");
		int got = -1;
		DP_OK(dp_wait(net, req[stuck], &got));
		DP_CHECK(got == SIZE, "message %u: %d bytes", stuck, got);
		DP_OK(dp_wait(net, post_send(net, comm, buf + 3 * SIZE, mh), NULL));
	}
	DP_OK(net->deregMr(comm, mh));
	DP_OK(p.is_b ? net->closeRecv(comm) : net->closeSend(comm));
	dp_free(buf, 4 * SIZE);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* The receiver never answers a rail loss (here: its process makes no call
 * for longer than the timeout, while its heartbeats go on; in the field: a
 * peer without confirmed re-sends): the sender, which re-sends nothing
 * without the answer, fails the comm after NCCL_SPARK_PEER_TIMEOUT with a
 * WARN that says so, instead of waiting for ever. */
Test(resend, a_verdict_that_never_comes_fails_the_comm, .timeout = 120)
{
	static const char *const quiet_env[] = {"NCCL_SPARK_IB_TIMEOUT=30",
						"NCCL_SPARK_PEER_TIMEOUT=2", NULL};
	struct dp_pair p;
	dp_pair_start(&p, quiet_env);
	const ncclNet_v8_t *net = dp_load_plugin();
	uint8_t *buf = dp_alloc(SIZE);
	void *comm = p.is_b ? dp_connect_recv(&p, net, 0) : dp_connect_send(&p, net, 0);
	void *mh = NULL;
	DP_OK(net->regMr(comm, buf, SIZE, NCCL_PTR_HOST, &mh));
	dp_sync(&p);
	if (p.is_b) {
		received(net, post_recv(net, comm, buf, mh), buf, 0);
		dp_sync(&p);
		dp_sync(&p);   /* no call into the plugin until a is done */
		int done = 0;
		ncclResult_t res = ncclSuccess;
		double end = dp_now() + HANG_S;
		void *req = NULL;
		while (res == ncclSuccess && req == NULL && dp_now() < end) {
			int size = SIZE, tag = 0;
			void *vb = buf;
			res = net->irecv(comm, 1, &vb, &size, &tag, &mh, &req);
		}
		while (res == ncclSuccess && !done && dp_now() < end)
			res = net->test(req, &done, NULL);
		DP_CHECK(res == ncclRemoteError, "receiver: result %d, the sender failed the comm",
			 (int)res);
	} else {
		dp_fill(buf, SIZE, 0);
		DP_OK(dp_wait(net, post_send(net, comm, buf, mh), NULL));
		dp_sync(&p);
		struct dp_capture cap;
		dp_capture_start(&cap);
		control(&p, "a roceP2p1s0f0 down\n");
		ncclResult_t res = ncclSuccess;
		void *req = NULL;
		double start = dp_now();
		/* No receive is posted: isend looks at the ports and the peer. */
		while (res == ncclSuccess && dp_now() < start + HANG_S)
			res = net->isend(comm, buf, SIZE, 0, mh, &req);
		double s = dp_now() - start;
		char text[8192];
		dp_capture_end(&cap, text, sizeof text);
		DP_CHECK(res == ncclRemoteError && req == NULL, "isend: result %d after %.1f s",
			 (int)res, s);
		DP_CHECK(strstr(text, "never said which of its shares landed") != NULL,
			 "no WARN about the missing RESEND in:\n%s", text);
		dp_sync(&p);
	}
	DP_OK(net->deregMr(comm, mh));
	(void)(p.is_b ? net->closeRecv(comm) : net->closeSend(comm));
	dp_free(buf, SIZE);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* NCCL may stop calling a recv comm once its receives are done and close it
 * later. A rail lost in between leaves the sender holding the share whose
 * ACK was lost until the receiver answers; closeRecv's last look at the
 * frames answers it, so the sender's last send completes (before: it failed
 * 2 s after the receiver's close, with the data long delivered). */
Test(resend, a_receiver_that_closes_after_the_loss_still_answers, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, env);
	const ncclNet_v8_t *net = dp_load_plugin();
	uint8_t *buf = dp_alloc(2 * SIZE);
	void *comm = p.is_b ? dp_connect_recv(&p, net, 0) : dp_connect_send(&p, net, 0);
	void *mh = NULL;
	DP_OK(net->regMr(comm, buf, 2 * SIZE, NCCL_PTR_HOST, &mh));
	if (!p.is_b)
		drop_acks(&p, buf, 2);
	dp_sync(&p);
	if (p.is_b) {
		receive_two(net, comm, buf, mh);
		dp_sync(&p);      /* no call into the plugin until a told of the loss */
	} else {
		void *req[2];
		uint8_t stuck = send_two(net, comm, buf, mh, req);
		int done = 0;
		control(&p, "a roceP2p1s0f0 down\n");
		/* Half a second of tests: the port event is seen (~20 ms), the
		 * rail failed, RAIL_DOWN sent; the share waits for b's answer. */
		double until = dp_now() + 0.5;
		while (dp_now() < until) {
			DP_OK(net->test(req[stuck], &done, NULL));
			DP_CHECK(!done, "message %u completed before the receiver answered", stuck);
		}
		dp_sync(&p);      /* b closes now */
		int got = -1;
		DP_OK(dp_wait(net, req[stuck], &got));
		DP_CHECK(got == SIZE, "message %u: %d bytes", stuck, got);
	}
	DP_OK(net->deregMr(comm, mh));
	DP_OK(p.is_b ? net->closeRecv(comm) : net->closeSend(comm));
	dp_free(buf, 2 * SIZE);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
