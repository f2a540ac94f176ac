/* The control stream cut inside a frame, end to end: host b writes the first
 * 100 bytes of a frame on its comm's bootstrap socket and shuts the socket's
 * sending side (EOF after them), as a peer that died writing a frame leaves
 * it. Host a, a receiver waiting for data, must fail the comm with
 * ncclRemoteError and a WARN that says the stream ended inside a frame and
 * how much of it came: not a hang, not a frame decoded from the part, not
 * the 2 s grace of a clean close (the WARN tells which path fired). The cut
 * part of test/unit/test_ctl_rx.c's reader tests, through the plugin. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dp_harness.h"

#define MSG 4096
#define CUT 100                 /* of a control frame's 192 bytes */

/* The comm's bootstrap socket: the one connected TCP socket here. */
static int bootstrap_fd(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof sa;
		int type = 0, listening = 1;
		socklen_t tl = sizeof type, ll = sizeof listening;
		memset(&sa, 0, sizeof sa);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM &&
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) == 0 && !listening &&
		    getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
		    (sa.ss_family == AF_INET || sa.ss_family == AF_INET6))
			return fd;
	}
	return -1;
}

/* test() until the request fails (within a hang bound), stderr into log. */
static ncclResult_t wait_error_logged(const ncclNet_v8_t *net, void *req, char *log, size_t len)
{
	struct dp_capture cap;
	dp_capture_start(&cap);
	ncclResult_t res = ncclSuccess;
	double start = dp_now();
	while (res == ncclSuccess && dp_now() < start + 20) {
		int done = 0;
		res = net->test(req, &done, NULL);
		DP_CHECK(!done, "a receive nobody sent completed");
		dp_sleep_us(1000);
	}
	dp_capture_end(&cap, log, len);
	fprintf(stderr, "[a] error %d after %.2f s\n", res, dp_now() - start);
	return res;
}

Test(ctl_stream, a_stream_cut_inside_a_frame_fails_the_comm_with_a_warn, .timeout = 60)
{
	/* Timeout 30: b's heartbeats come once a second, far from the two
	 * syscalls below (a beat between them would make the cut a misparse). */
	const char *env[] = {"NCCL_SPARK_PEER_TIMEOUT=30", NULL};
	struct dp_pair p;
	dp_pair_start(&p, env);
	const ncclNet_v8_t *net = dp_load_plugin();
	uint8_t *buf = dp_alloc(MSG);
	void *comm = p.is_b ? dp_connect_send(&p, net, 0) : dp_connect_recv(&p, net, 0), *mh;
	DP_OK(net->regMr(comm, buf, MSG, NCCL_PTR_HOST, &mh));
	if (p.is_b) {
		static const uint8_t magic[4] = {'S', 'P', 'C', 'F'};
		uint8_t part[CUT];
		memset(part, 0, sizeof part);
		memcpy(part, magic, sizeof magic);
		int fd = bootstrap_fd();
		DP_CHECK(fd >= 0, "no bootstrap socket found");
		dp_sync(&p);                       /* a's receive is posted */
		DP_CHECK(send(fd, part, sizeof part, MSG_NOSIGNAL) == (ssize_t)sizeof part, "send");
		DP_CHECK(shutdown(fd, SHUT_WR) == 0, "shutdown");
		dp_sync(&p);                       /* a has failed */
		DP_OK(net->deregMr(comm, mh));
		DP_OK(net->closeSend(comm));
		dp_pair_finish(&p, 0);
	}
	void *req = NULL, *b = buf;
	int size = MSG, tag = 0;
	while (req == NULL)
		DP_OK(net->irecv(comm, 1, &b, &size, &tag, &mh, &req));
	dp_sync(&p);
	char log[8192];
	cr_assert_eq(wait_error_logged(net, req, log, sizeof log), ncclRemoteError);
	cr_assert(strstr(log, "ended inside a control frame") != NULL &&
		  strstr(log, "EOF after 100 of the 192 bytes of control frame") != NULL,
		  "no WARN of the cut frame:\n%s", log);
	cr_assert(strstr(log, "malformed") == NULL, "the cut part was decoded:\n%s", log);
	dp_sync(&p);
	DP_OK(net->deregMr(comm, mh));
	DP_OK(net->closeRecv(comm));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
