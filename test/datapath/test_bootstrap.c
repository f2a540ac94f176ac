/* The bootstrap against a hostile network: ten raw TCP clients of every kind
 * reach the listening port before the real peer and the real peer still gets
 * in, each of them dropped by the listener (their sockets see it close); a
 * connect started while the listener refuses retries until it listens; the
 * retries are bounded; and a handle's rail count is checked against the
 * listener's. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../plugin/common/wire.h"
#include "dp_harness.h"

#define NJUNK 10

static struct spark_handle handle_of(const char *bytes)
{
	struct spark_handle h;
	char reason[SPARK_REASON_LEN];
	DP_CHECK(spark_handle_decode((const uint8_t *)bytes, &h, reason, sizeof reason) == 0,
		 "%s", reason);
	return h;
}

/* A blocking TCP connect to the handle's address: fd, or -1 with errno. */
static int raw_connect(const struct spark_handle *h)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	DP_CHECK(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(h->port)};
	memcpy(&sa.sin_addr, h->addr, 4);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
	DP_CHECK(write(fd, buf, len) == (ssize_t)len, "write: %s", strerror(errno));
}

/* A HELLO as a peer would send it, for nonce. */
static void make_hello(uint64_t nonce, uint8_t out[SPARK_MSG_SIZE])
{
	struct spark_conn_msg m;
	memset(&m, 0, sizeof m);
	m.kind = SPARK_MSG_HELLO;
	m.nonce = nonce;
	m.nrails = 1;
	snprintf(m.rail[0].name, sizeof m.rail[0].name, "rocep1s0f0");
	m.rail[0].gid[10] = 0xff;
	m.rail[0].gid[11] = 0xff;
	m.rail[0].gid[12] = 192;
	m.rail[0].gid[13] = 168;
	m.rail[0].gid[14] = 100;
	m.rail[0].gid[15] = 9;
	m.rail[0].ipv4 = 0xc0a86409;
	m.rail[0].prefix = 24;
	m.rail[0].qpn = 0x1234;
	m.rail[0].mtu = 4096;
	m.rail[0].rkey = 7;
	m.rail[0].addr = 0x10000;
	spark_msg_encode(&m, out);
}

/* The ten clients, in the order they reach the port; -1 where the client
 * itself closed (nothing left to observe). */
static void junk_clients(const struct spark_handle *h, int fds[NJUNK])
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: spark\r\n\r\n";
	uint8_t hello[SPARK_MSG_SIZE], bytes[100];
	memset(bytes, 0x5a, sizeof bytes);
	for (int i = 0; i < NJUNK; i++) {
		fds[i] = raw_connect(h);
		DP_CHECK(fds[i] >= 0, "junk client %d: %s", i, strerror(errno));
	}
	/* 0: silent */
	send_all(fds[1], "\x01\x02\x03\x04\x05\x06\x07", 7);          /* 7 bytes, stays */
	send_all(fds[2], http, sizeof http - 1);                      /* HTTP, stays */
	/* 3, 4, 5: silent */
	make_hello(h->nonce ^ 0x5bd1e995u, hello);                    /* replayed HELLO */
	send_all(fds[6], hello, sizeof hello);
	send_all(fds[7], bytes, sizeof bytes);                        /* 100 bytes, close */
	close(fds[7]);
	fds[7] = -1;
	close(fds[8]);                                                /* connect, close */
	fds[8] = -1;
	make_hello(h->nonce, hello);                                  /* half-open: the */
	send_all(fds[9], hello, 40);                                  /* right start only */
}

/* True once the listener closed this client's connection. */
static bool dropped(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

Test(bootstrap, junk_clients_do_not_keep_the_real_peer_out, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	if (!p.is_b) {
		void *sc = dp_connect_send(&p, net, 0);
		DP_OK(net->closeSend(sc));
		cr_assert(dp_pair_finish(&p, 0), "host b failed");
		return;
	}
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = NULL, *rc = NULL;
	DP_OK(net->listen(0, handle, &lc));
	struct spark_handle h = handle_of(handle);
	int fds[NJUNK];
	junk_clients(&h, fds);
	dp_send(&p, handle, sizeof handle);   /* only now does the real peer connect */
	double end = dp_now() + 60;
	while (rc == NULL) {
		DP_OK(net->accept(lc, &rc, NULL));
		DP_CHECK(dp_now() < end, "the real peer did not get in past the junk clients");
	}
	/* The listener goes on serving: every junk client still open is dropped
	 * (the silent and half-open ones at their deadline), none is accepted. */
	int left = NJUNK;
	while (left > 0) {
		void *extra = NULL;
		DP_OK(net->accept(lc, &extra, NULL));
		DP_CHECK(extra == NULL, "a junk client was accepted as a peer");
		left = 0;
		for (int i = 0; i < NJUNK; i++)
			left += fds[i] >= 0 && !dropped(fds[i]);
		DP_CHECK(dp_now() < end, "%d junk clients were never dropped", left);
		dp_sleep_us(10000);
	}
	for (int i = 0; i < NJUNK; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	DP_OK(net->closeListen(lc));
	DP_OK(net->closeRecv(rc));
	dp_pair_finish(&p, 0);
}

/* The listening socket of port `port` among this process's descriptors. */
static int find_listener(uint16_t port)
{
	DIR *d = opendir("/proc/self/fd");
	DP_CHECK(d != NULL, "opendir");
	int found = -1;
	for (struct dirent *e; found < 0 && (e = readdir(d)) != NULL;) {
		int fd = (int)strtol(e->d_name, NULL, 10), on = 0;
		struct sockaddr_storage sa;
		memset(&sa, 0, sizeof sa);
		socklen_t sl = sizeof sa, ol = sizeof on;
		if (e->d_name[0] == '.' || fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) != 0 || !on ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0 || sa.ss_family != AF_INET)
			continue;
		if (ntohs(((struct sockaddr_in *)&sa)->sin_port) == port)
			found = fd;
	}
	closedir(d);
	DP_CHECK(found >= 0, "no listening socket on port %u", port);
	return found;
}

/* Linux: shutdown() of a listening socket stops it listening (connects to
 * its port are refused) and releases the port it was given. */
static int stop_listening(uint16_t port)
{
	int fd = find_listener(port);
	DP_CHECK(shutdown(fd, SHUT_RD) == 0, "shutdown: %s", strerror(errno));
	return fd;
}

/* "The listener's process has not reached listen() yet": the plugin's
 * listening descriptor becomes a socket bound to the same port that does not
 * listen (connects are refused) until resume_listening. */
static int pause_listening(uint16_t port)
{
	int fd = stop_listening(port);
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	DP_CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0, "getsockname");
	sa.sin_port = htons(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	DP_CHECK(s >= 0, "socket");
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	DP_CHECK(bind(s, (struct sockaddr *)&sa, sizeof sa) == 0, "bind port %u again: %s", port,
		 strerror(errno));
	DP_CHECK(dup2(s, fd) == fd, "dup2: %s", strerror(errno));
	close(s);
	return fd;
}

Test(bootstrap, connect_retries_until_the_listener_listens, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	char handle[NCCL_NET_HANDLE_MAXSIZE], go = 'g';
	if (p.is_b) {
		void *lc = NULL, *rc = NULL;
		DP_OK(net->listen(0, handle, &lc));
		int fd = pause_listening(handle_of(handle).port);
		dp_send(&p, handle, sizeof handle);
		dp_recv(&p, &go, 1);              /* a's connect is being refused */
		DP_CHECK(listen(fd, 64) == 0, "listen again: %s", strerror(errno));
		double end = dp_now() + 60;
		while (rc == NULL) {
			DP_OK(net->accept(lc, &rc, NULL));
			DP_CHECK(dp_now() < end, "accept did not finish");
		}
		DP_OK(net->closeListen(lc));
		DP_OK(net->closeRecv(rc));
		dp_pair_finish(&p, 0);
	}
	dp_recv(&p, handle, sizeof handle);
	struct spark_handle h = handle_of(handle);
	cr_assert_eq(raw_connect(&h), -1, "the listener is not listening yet");
	cr_assert_eq(errno, ECONNREFUSED, "%s", strerror(errno));
	void *sc = NULL;
	double until = dp_now() + 0.3;
	while (dp_now() < until) {
		cr_assert_eq(net->connect(0, handle, &sc, NULL), ncclSuccess,
			     "a refused connect is retried, not an error");
		cr_assert_null(sc);
		dp_sleep_us(1000);
	}
	dp_send(&p, &go, 1);
	double end = dp_now() + 60;
	while (sc == NULL && dp_now() < end)
		cr_assert_eq(net->connect(0, handle, &sc, NULL), ncclSuccess);
	cr_assert_not_null(sc, "connect did not get in once the listener listened");
	DP_OK(net->closeSend(sc));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

Test(bootstrap, connect_retries_are_bounded, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	if (p.is_b)
		dp_pair_finish(&p, 0);
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = NULL, *sc = NULL;
	DP_OK(net->listen(0, handle, &lc));
	(void)stop_listening(handle_of(handle).port);
	ncclResult_t res = ncclSuccess;
	double end = dp_now() + 60;
	while (res == ncclSuccess && sc == NULL && dp_now() < end) {
		res = net->connect(0, handle, &sc, NULL);
		dp_sleep_us(1000);
	}
	cr_assert_eq(res, ncclRemoteError, "a listener that never listens ends the retries");
	cr_assert_null(sc);
	DP_OK(net->closeListen(lc));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* The fuzzed handle: 3 rails for a 2-rail listener was accepted. A
 * count above any device's is refused at once; one that differs from the
 * listener's own is refused when its REPLY shows the truth. */
Test(bootstrap, handle_rail_count_is_checked, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	char handle[NCCL_NET_HANDLE_MAXSIZE], done = 'd';
	if (p.is_b) {
		void *lc = NULL, *rc = NULL;
		DP_OK(net->listen(0, handle, &lc));
		dp_send(&p, handle, sizeof handle);
		struct pollfd pf = {.fd = p.pipe_ab[0], .events = POLLIN};
		double end = dp_now() + 60;
		while (poll(&pf, 1, 0) == 0) {
			DP_OK(net->accept(lc, &rc, NULL));
			DP_CHECK(rc == NULL, "a connector with a wrong handle got in");
			DP_CHECK(dp_now() < end, "host a never finished");
		}
		dp_recv(&p, &done, 1);
		DP_OK(net->closeListen(lc));
		dp_pair_finish(&p, 0);
	}
	dp_recv(&p, handle, sizeof handle);
	void *sc = NULL;
	char bad[NCCL_NET_HANDLE_MAXSIZE];
	memcpy(bad, handle, sizeof bad);
	bad[10] = 3;
	cr_assert_eq(net->connect(0, bad, &sc, NULL), ncclInvalidUsage, "3 rails");
	cr_assert_null(sc);
	memcpy(bad, handle, sizeof bad);
	bad[10] = 1;              /* the listener's device has 2 */
	ncclResult_t res = ncclSuccess;
	double end = dp_now() + 60;
	while (res == ncclSuccess && sc == NULL && dp_now() < end)
		res = net->connect(0, bad, &sc, NULL);
	cr_assert_eq(res, ncclInvalidUsage, "1 rail in the handle, 2 in the REPLY");
	cr_assert_null(sc);
	dp_send(&p, &done, 1);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
