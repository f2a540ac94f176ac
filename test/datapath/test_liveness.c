/* Liveness per comm (docs/reliability.md, "Liveness"): a side that only
 * waits — a receiver waiting for data, a sender waiting for a clear-to-send,
 * nothing in flight that a NIC could time out — gets ncclRemoteError when
 * its peer is killed (also when a forked child keeps the peer's socket
 * open), frozen past NCCL_SPARK_PEER_TIMEOUT, or when the peer's comm fails
 * (its FAILED notice, whose reason the WARN quotes); a peer frozen for less
 * than the timeout is waited for. Host a is the side that waits; it kills,
 * stops and resumes host b. Times appear only as hang bounds
 * (3 x the timeout and a margin), never as speed checks. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dp_harness.h"

#define MSG (1 << 20)
#define JUNK_LEN 256            /* more than one control frame */
#define RAIL0 "rocep1s0f0"
#define RAIL1 "roceP2p1s0f0"

struct live {
	struct dp_pair p;
	const ncclNet_v8_t *net;
	void *comm, *mh;
	uint8_t *buf;
	int timeout_s;
	bool recv;                      /* this side receives */
};

/* a_receives: host a is the receiver (the listener). */
static void open_live(struct live *t, int timeout_s, bool a_receives, const char *extra)
{
	static char timeout_env[64];
	snprintf(timeout_env, sizeof timeout_env, "NCCL_SPARK_PEER_TIMEOUT=%d", timeout_s);
	const char *env[] = {timeout_env, extra, NULL};
	dp_pair_start(&t->p, env);
	t->timeout_s = timeout_s;
	t->net = dp_load_plugin();
	t->buf = dp_alloc(MSG);
	t->recv = t->p.is_b != a_receives;
	t->comm = t->recv ? dp_connect_recv(&t->p, t->net, 0) : dp_connect_send(&t->p, t->net, 0);
	DP_OK(t->net->regMr(t->comm, t->buf, MSG, NCCL_PTR_HOST, &t->mh));
}

/* The hang bound of a wait for an error. */
static double bound(const struct live *t) { return 3.0 * t->timeout_s + 5.0; }

static void *post_recv(struct live *t)
{
	void *req = NULL, *b = t->buf;
	int size = MSG, tag = 0;
	double end = dp_now() + 30;
	while (req == NULL) {
		DP_OK(t->net->irecv(t->comm, 1, &b, &size, &tag, &t->mh, &req));
		DP_CHECK(dp_now() < end, "irecv never accepted");
	}
	return req;
}

/* Reported for docs/reliability.md's table, never asserted. */
static ncclResult_t report(double start, ncclResult_t res)
{
	fprintf(stderr, "[%s] error %d after %.2f s of waiting\n", dp_host(), res, dp_now() - start);
	return res;
}

/* test() until it fails; done is a failure of the test. */
static ncclResult_t wait_error(struct live *t, void *req)
{
	double start = dp_now(), end = start + bound(t);
	for (;;) {
		int done = 0;
		ncclResult_t res = t->net->test(req, &done, NULL);
		if (res != ncclSuccess)
			return report(start, res);
		DP_CHECK(!done, "the request completed although its peer is gone");
		DP_CHECK(dp_now() < end, "no error within %.0f s", bound(t));
		dp_sleep_us(1000);
	}
}

/* isend while there is no clear-to-send, until it fails. */
static ncclResult_t isend_error(struct live *t)
{
	double start = dp_now(), end = start + bound(t);
	for (;;) {
		void *req = NULL;
		ncclResult_t res = t->net->isend(t->comm, t->buf, MSG, 0, t->mh, &req);
		if (res != ncclSuccess)
			return report(start, res);
		DP_CHECK(req == NULL, "isend found a receive nobody posted");
		DP_CHECK(dp_now() < end, "no error within %.0f s", bound(t));
		dp_sleep_us(1000);
	}
}

/* Host b: waits to be killed (never returns). */
static void b_wait_for_the_end(struct live *t)
{
	dp_sync(&t->p);
	for (;;)
		pause();
}

static void kill_b(struct live *t) { DP_CHECK(kill(t->p.child, SIGKILL) == 0, "kill b"); }

static void close_comm(struct live *t)
{
	DP_OK(t->net->deregMr(t->comm, t->mh));
	DP_OK(t->recv ? t->net->closeRecv(t->comm) : t->net->closeSend(t->comm));
}

/* Host a, after killing b: reaps it (no verdict: it was killed) and removes
 * the fabric, once nothing here uses it any more. */
static void finish_killed(struct live *t)
{
	close_comm(t);
	(void)dp_pair_finish(&t->p, 0);
}

Test(liveness, receiver_waiting_for_data_sees_a_killed_sender, .timeout = 60)
{
	struct live t;
	open_live(&t, 2, true, NULL);
	if (t.p.is_b)
		b_wait_for_the_end(&t);
	void *req = post_recv(&t);
	dp_sync(&t.p);
	dp_sleep_us(100000);               /* the clear-to-send has landed */
	kill_b(&t);
	cr_assert_eq(wait_error(&t, req), ncclRemoteError);
	finish_killed(&t);
}

Test(liveness, sender_waiting_for_a_clear_to_send_sees_a_killed_receiver, .timeout = 60)
{
	struct live t;
	open_live(&t, 2, false, NULL);
	if (t.p.is_b)
		b_wait_for_the_end(&t);
	dp_sync(&t.p);
	kill_b(&t);
	cr_assert_eq(isend_error(&t), ncclRemoteError);
	finish_killed(&t);
}

/* b forks a child that sleeps with b's sockets open, so b's death closes
 * no socket: only the heartbeats stopping tell a. */
Test(liveness, a_forked_child_holding_the_socket_does_not_hide_a_killed_peer, .timeout = 60)
{
	struct live t;
	open_live(&t, 2, true, NULL);
	if (t.p.is_b) {
		pid_t kid = fork();
		DP_CHECK(kid >= 0, "fork");
		if (kid == 0) {
			dp_sleep_us(20 * 1000000L);   /* a kills it sooner */
			_exit(0);
		}
		dp_send(&t.p, &kid, sizeof kid);
		b_wait_for_the_end(&t);
	}
	pid_t kid;
	dp_recv(&t.p, &kid, sizeof kid);
	void *req = post_recv(&t);
	dp_sync(&t.p);
	dp_sleep_us(100000);
	kill_b(&t);
	cr_assert_eq(wait_error(&t, req), ncclRemoteError);
	cr_assert_eq(kill(kid, 0), 0, "b's child, which holds the socket, has gone");
	kill(kid, SIGKILL);
	finish_killed(&t);
}

Test(liveness, a_peer_frozen_past_the_timeout_is_an_error, .timeout = 60)
{
	struct live t;
	open_live(&t, 2, true, NULL);
	if (t.p.is_b)
		b_wait_for_the_end(&t);
	void *req = post_recv(&t);
	dp_sync(&t.p);
	dp_sleep_us(100000);
	DP_CHECK(kill(t.p.child, SIGSTOP) == 0, "stop b");
	cr_assert_eq(wait_error(&t, req), ncclRemoteError);
	kill_b(&t);
	finish_killed(&t);
}

/* Frozen for 1 s of a 3 s timeout: a keeps waiting, and once b runs again
 * the message arrives whole. */
Test(liveness, a_peer_frozen_shorter_than_the_timeout_is_waited_for, .timeout = 60)
{
	struct live t;
	open_live(&t, 3, true, NULL);
	if (t.p.is_b) {
		char go;
		dp_fill(t.buf, MSG, 7);
		dp_sync(&t.p);
		dp_recv(&t.p, &go, 1);     /* a stops us in here, then says go */
		void *req = NULL;
		double end = dp_now() + 30;
		while (req == NULL) {
			DP_OK(t.net->isend(t.comm, t.buf, MSG, 0, t.mh, &req));
			DP_CHECK(dp_now() < end, "no clear-to-send");
		}
		DP_OK(dp_wait(t.net, req, NULL));
		dp_sync(&t.p);
		close_comm(&t);
		dp_pair_finish(&t.p, 0);
	}
	void *req = post_recv(&t);
	dp_sync(&t.p);
	dp_sleep_us(100000);
	DP_CHECK(kill(t.p.child, SIGSTOP) == 0, "stop b");
	double until = dp_now() + 1.0;
	while (dp_now() < until) {
		int done = 0;
		cr_assert_eq(t.net->test(req, &done, NULL), ncclSuccess, "an error while b is stopped");
		cr_assert(!done);
		dp_sleep_us(1000);
	}
	DP_CHECK(kill(t.p.child, SIGCONT) == 0, "resume b");
	dp_send(&t.p, "g", 1);
	int size = -1;
	cr_assert_eq(dp_wait(t.net, req, &size), ncclSuccess);
	cr_assert_eq(size, MSG);
	cr_assert_eq(dp_verify(t.buf, MSG, 7), -1, "message corrupted");
	dp_sync(&t.p);
	close_comm(&t);
	cr_assert(dp_pair_finish(&t.p, 0), "host b failed");
}

static void control(const struct dp_pair *p, const char *line)
{
	char path[300];
	snprintf(path, sizeof path, "%s/control", p->fabric);
	FILE *f = fopen(path, "a");
	DP_CHECK(f != NULL, "control file");
	fprintf(f, "%s\n", line);
	fclose(f);
}

/* Both halves of the cable down: b (the sender) has its message in flight
 * and fails when the NIC gives up; a only waits for the data, its NIC has
 * nothing to time out, and learns from b's FAILED notice. A short RC timeout
 * (NCCL_SPARK_IB_TIMEOUT=22, about 1.4 s per rail on softroce) keeps it short. */
Test(liveness, both_rails_down_fails_the_waiting_side_too, .timeout = 90)
{
	struct live t;
	open_live(&t, 3, true, "NCCL_SPARK_IB_TIMEOUT=22");
	if (t.p.is_b) {
		dp_sync(&t.p);             /* a posted its receive; the rails are down */
		void *req = NULL;
		int done = 0;
		ncclResult_t res = ncclSuccess;
		double end = dp_now() + bound(&t) + 20;
		/* Should a's clear-to-send not have landed before the rails went
		 * down (a loaded host), a's comm fails first and isend gets its
		 * FAILED: both sides error all the same. */
		while (res == ncclSuccess && req == NULL) {
			res = t.net->isend(t.comm, t.buf, MSG, 0, t.mh, &req);
			DP_CHECK(dp_now() < end, "no clear-to-send and no error");
		}
		while (res == ncclSuccess && !done) {
			res = t.net->test(req, &done, NULL);
			DP_CHECK(dp_now() < end, "the sender got no error");
		}
		DP_CHECK(res == ncclRemoteError, "the sender: result %d, done %d", res, done);
		close_comm(&t);
		dp_pair_finish(&t.p, 0);
	}
	void *req = post_recv(&t);
	dp_sleep_us(300000);               /* the clear-to-send has landed */
	control(&t.p, "a " RAIL0 " down");
	control(&t.p, "a " RAIL1 " down");
	dp_sleep_us(50000);                /* softroce reads the control file every 5 ms */
	dp_sync(&t.p);
	/* b's NIC retries each rail before it gives up: allow for both. */
	t.timeout_s += 5;
	cr_assert_eq(wait_error(&t, req), ncclRemoteError);
	close_comm(&t);
	cr_assert(dp_pair_finish(&t.p, 0), "host b failed");
}

/* The comm's bootstrap socket: the one connected TCP socket here. */
static int bootstrap_fd(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof sa;
		memset(&sa, 0, sizeof sa);
		int type = 0, listening = 1;
		socklen_t tl = sizeof type, ll = sizeof listening;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) != 0 || listening ||
		    getpeername(fd, (struct sockaddr *)&sa, &len) != 0 ||
		    (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
			continue;
		return fd;
	}
	return -1;
}

/* Runs fn with this process's stderr (the harness logger's WARNs) going
 * into `out`. */
static void capture_stderr(char *out, size_t len, void (*fn)(struct live *), struct live *t)
{
	char path[300];
	snprintf(path, sizeof path, "%s/stderr-%s", t->p.fabric, dp_host());
	int file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	DP_CHECK(file >= 0, "open %s", path);
	int saved = dup(2);
	DP_CHECK(saved >= 0 && dup2(file, 2) == 2, "dup2");
	fn(t);
	DP_CHECK(dup2(saved, 2) == 2, "restore stderr");
	close(saved);
	ssize_t n = pread(file, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(file);
	fputs(out, stderr);
}

static void b_waits_for_data(struct live *t)
{
	void *req = post_recv(t);
	DP_CHECK(wait_error(t, req) == ncclRemoteError, "b: no ncclRemoteError");
}

/* Something that is not a control frame on a's socket fails a's comm (the
 * stream cannot be trusted); a tells b, which only waits for data, and b's
 * WARN carries a's reason. */
Test(liveness, a_failed_comm_tells_its_peer_why, .timeout = 60)
{
	struct live t;
	open_live(&t, 10, false, NULL);
	if (t.p.is_b) {
		char junk[JUNK_LEN], log[16384];
		memset(junk, 'J', sizeof junk);
		int fd = bootstrap_fd();
		DP_CHECK(fd >= 0, "no bootstrap socket found");
		DP_CHECK(send(fd, junk, sizeof junk, MSG_NOSIGNAL) == (ssize_t)sizeof junk, "send");
		dp_sync(&t.p);
		/* Only once a has failed: a receive posted earlier would let a's
		 * isend match its clear-to-send before a reads the junk. */
		dp_sync(&t.p);
		capture_stderr(log, sizeof log, b_waits_for_data, &t);
		DP_CHECK(strstr(log, "failed its side of this comm") != NULL &&
			 strstr(log, "malformed control frame") != NULL,
			 "b's WARN lacks a's reason:\n%s", log);
		dp_sync(&t.p);
		close_comm(&t);
		dp_pair_finish(&t.p, 0);
	}
	dp_sync(&t.p);
	/* a waits for a clear-to-send and reads the junk instead. */
	cr_assert_eq(isend_error(&t), ncclRemoteError);
	dp_sync(&t.p);
	close_comm(&t);   /* FAILED has gone out by now (at the latest at close) */
	dp_sync(&t.p);
	cr_assert(dp_pair_finish(&t.p, 0), "host b failed");
}
