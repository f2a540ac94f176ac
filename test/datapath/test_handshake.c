/* The bootstrap refuses what it must: a foreign connector is turned away
 * while the listener keeps waiting for the real peer, a corrupted handle is
 * an error, rails on different subnets are left out, and no common rail is
 * a clear error on both sides. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../plugin/common/wire.h"
#include "dp_harness.h"

static void send_junk_to_listener(const char *handle_bytes)
{
	struct spark_handle h;
	char reason[SPARK_REASON_LEN];
	DP_CHECK(spark_handle_decode((const uint8_t *)handle_bytes, &h, reason, sizeof reason) == 0,
		 "%s", reason);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(h.port)};
	memcpy(&sa.sin_addr, h.addr, 4);
	DP_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "raw connect");
	char junk[SPARK_MSG_SIZE];
	memset(junk, 'x', sizeof junk);
	DP_CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk, "junk write");
	close(fd);
}

Test(handshake, foreign_connector_is_refused_and_listening_goes_on, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	if (p.is_b) {
		void *rc = dp_connect_recv(&p, net, 0);
		DP_OK(net->closeRecv(rc));
		dp_pair_finish(&p, 0);
	}
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	dp_recv(&p, handle, sizeof handle);
	send_junk_to_listener(handle);
	void *sc = NULL;
	double end = dp_now() + 30;
	while (sc == NULL && dp_now() < end)
		DP_OK(net->connect(0, handle, &sc, NULL));
	cr_assert_not_null(sc, "the real connect did not complete after a foreign one");
	DP_OK(net->closeSend(sc));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

Test(handshake, corrupted_handle_is_an_error, .timeout = 30)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	if (p.is_b)
		dp_pair_finish(&p, 0);
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = NULL, *sc = NULL;
	DP_OK(net->listen(0, handle, &lc));
	handle[4] ^= 0x7f;     /* version */
	cr_assert_neq(net->connect(0, handle, &sc, NULL), ncclSuccess);
	cr_assert_null(sc);
	DP_OK(net->closeListen(lc));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* Rail 0 of host b on another subnet: rail 0 is left out, rail 1 carries. */
Test(handshake, rail_on_another_subnet_is_left_out, .timeout = 60)
{
	struct dp_pair p;
	const char *const *env = NULL;
	dp_pair_start(&p, env);
	dp_write_topology(&p, "set b rocep1s0f0 subnet=10.77.0\n");
	const ncclNet_v8_t *net = dp_load_plugin();
	size_t cap = 4 << 20;
	uint8_t *buf = dp_alloc(cap);
	void *mh = NULL, *req = NULL;
	int size = 3 << 20, tag = 0, got = -1;
	if (p.is_b) {
		void *rc = dp_connect_recv(&p, net, 0);
		DP_OK(net->regMr(rc, buf, cap, NCCL_PTR_HOST, &mh));
		void *b = buf;
		int posted = (int)cap;
		DP_OK(net->irecv(rc, 1, &b, &posted, &tag, &mh, &req));
		DP_CHECK(req != NULL, "irecv");
		DP_OK(dp_wait(net, req, &got));
		DP_CHECK(got == size && dp_verify(buf, (size_t)size, 5) < 0, "data over rail 1");
		DP_OK(net->deregMr(rc, mh));
		DP_OK(net->closeRecv(rc));
		dp_pair_finish(&p, 0);
	}
	void *sc = dp_connect_send(&p, net, 0);
	DP_OK(net->regMr(sc, buf, cap, NCCL_PTR_HOST, &mh));
	dp_fill(buf, (size_t)size, 5);
	while (req == NULL)
		DP_OK(net->isend(sc, buf, size, tag, mh, &req));
	DP_OK(dp_wait(net, req, NULL));
	dp_sleep_us(50000);   /* counters are rewritten every few ms */
	uint64_t left_out = dp_counter(&p, "a", "rocep1s0f0", "port_xmit_data");
	uint64_t kept = dp_counter(&p, "a", "roceP2p1s0f0", "port_xmit_data");
	cr_assert_geq(kept, (uint64_t)size, "rail 1 carried %llu bytes", (unsigned long long)kept);
	cr_assert_lt(left_out, (uint64_t)size / 100, "the rail left out carried %llu bytes",
		     (unsigned long long)left_out);
	DP_OK(net->deregMr(sc, mh));
	DP_OK(net->closeSend(sc));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

Test(handshake, no_common_rail_is_an_error_on_both_sides, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	dp_write_topology(&p, "set b rocep1s0f0 subnet=10.77.0\nset b roceP2p1s0f0 subnet=10.78.0\n");
	const ncclNet_v8_t *net = dp_load_plugin();
	ncclResult_t res = ncclSuccess;
	double end = dp_now() + 30;
	if (p.is_b) {
		char handle[NCCL_NET_HANDLE_MAXSIZE];
		void *lc = NULL, *rc = NULL;
		DP_OK(net->listen(0, handle, &lc));
		dp_send(&p, handle, sizeof handle);
		while (rc == NULL && res == ncclSuccess && dp_now() < end)
			res = net->accept(lc, &rc, NULL);
		DP_CHECK(res != ncclSuccess && rc == NULL, "accept succeeded without a common rail");
		DP_OK(net->closeListen(lc));
		dp_pair_finish(&p, 0);
	}
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *sc = NULL;
	dp_recv(&p, handle, sizeof handle);
	while (sc == NULL && res == ncclSuccess && dp_now() < end)
		res = net->connect(0, handle, &sc, NULL);
	cr_assert_neq(res, ncclSuccess, "connect succeeded without a common rail");
	cr_assert_null(sc);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* NCCL_SOCKET_IFNAME is honoured: an interface that does not exist is a
 * clear error at listen; "=lo" gives a loopback address. */
Test(handshake, socket_ifname_is_honoured, .timeout = 30)
{
	struct dp_pair p;
	const char *env[] = {"NCCL_SOCKET_IFNAME=nosuchif9", NULL};
	dp_pair_start(&p, env);
	const ncclNet_v8_t *net = dp_load_plugin();
	if (p.is_b)
		dp_pair_finish(&p, 0);
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = (void *)0x1;
	cr_assert_eq(net->listen(0, handle, &lc), ncclInvalidUsage);
	cr_assert_null(lc);
	setenv("NCCL_SOCKET_IFNAME", "=lo", 1);
	DP_OK(net->listen(0, handle, &lc));
	struct spark_handle h;
	char reason[SPARK_REASON_LEN];
	cr_assert_eq(spark_handle_decode((uint8_t *)handle, &h, reason, sizeof reason), 0, "%s", reason);
	cr_assert_eq(h.addr[0], 127, "=lo gave a non-loopback address");
	DP_OK(net->closeListen(lc));
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
