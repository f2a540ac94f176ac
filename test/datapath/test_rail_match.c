/* Rails are matched by subnet, not by position (rail_match.c, the REPLY's
 * pairing): a host whose first half lost its IPv4 address (softroce
 * `ipv4=no`: the half stays ACTIVE with only link-local GIDs, so discovery
 * leaves it out and the device is [roceP2p1s0f0]) talks to a two-rail peer
 * over the half they share; NCCL_SPARK_PAIRS written in opposite orders on
 * the two hosts still uses both rails, each with the right keys; no shared
 * subnet is a WARN naming both sides' rails and an error on both sides.
 * Traffic goes both ways (a comm each way), so each host is once the
 * connector and once the acceptor, once the sender and once the receiver. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dp_harness.h"

#define MiB (1024 * 1024)
#define CAP (8 * MiB)
#define RAIL0 "rocep1s0f0"
#define RAIL1 "roceP2p1s0f0"

struct msg {
	int n;
	int size[2];
};

/* Single buffers around the immediate's and the stripe's edges, cut ones
 * (3 and 7 MiB: both rails when both are up), and grouped receives (the
 * completion record). */
static const struct msg msgs[] = {
	{1, {0}}, {1, {1}}, {1, {4096}}, {1, {65539}}, {1, {3 * MiB}}, {1, {7 * MiB}},
	{2, {MiB, 100}}, {2, {0, 5000}}, {1, {5 * MiB + 128}},
};
#define NMSGS (int)(sizeof msgs / sizeof msgs[0])

struct host {
	const ncclNet_v8_t *net;
	void *send, *recv, *smh, *rmh;
	uint8_t *sbuf, *rbuf;
};

static uint32_t msg_id(int dir, int m, int j) { return (uint32_t)(dir * 1000 + m * 2 + j + 1); }

static void sender(struct host *h, int dir)
{
	for (int m = 0; m < NMSGS; m++) {
		void *req[2] = {NULL, NULL};
		for (int j = 0; j < msgs[m].n; j++) {
			uint8_t *b = h->sbuf + (size_t)j * (CAP / 2);
			dp_fill(b, (size_t)msgs[m].size[j], msg_id(dir, m, j));
			double end = dp_now() + 60;
			while (req[j] == NULL) {
				DP_OK(h->net->isend(h->send, b, msgs[m].size[j], j + 1, h->smh, &req[j]));
				DP_CHECK(dp_now() < end, "isend of message %d never got its CTS", m);
			}
		}
		for (int j = 0; j < msgs[m].n; j++)
			DP_OK(dp_wait(h->net, req[j], NULL));
	}
}

static void receiver(struct host *h, int dir)
{
	for (int m = 0; m < NMSGS; m++) {
		int n = msgs[m].n, tags[2] = {1, 2}, posted[2], got[2] = {-1, -1};
		void *data[2], *mh[2] = {h->rmh, h->rmh}, *req = NULL;
		for (int j = 0; j < n; j++) {
			data[j] = h->rbuf + (size_t)j * (CAP / 2);
			posted[j] = n == 1 ? CAP : CAP / 2;
			memset(data[j], 0xee, (size_t)msgs[m].size[j] + 1);
		}
		double end = dp_now() + 60;
		while (req == NULL) {
			DP_OK(h->net->irecv(h->recv, n, data, posted, tags, mh, &req));
			DP_CHECK(dp_now() < end, "irecv of message %d", m);
		}
		DP_OK(dp_wait(h->net, req, got));
		for (int j = 0; j < n; j++) {
			long bad = dp_verify(data[j], (size_t)msgs[m].size[j], msg_id(dir, m, j));
			DP_CHECK(got[j] == msgs[m].size[j] && bad < 0,
				 "message %d buffer %d: %d bytes of %d, first wrong byte %ld", m, j,
				 got[j], msgs[m].size[j], bad);
		}
	}
}

/* A comm each way: b listens first, then a. Then a sends to b, b to a. */
static void exchange(struct dp_pair *p, struct host *h)
{
	h->net = dp_load_plugin();
	h->sbuf = dp_alloc(CAP);
	h->rbuf = dp_alloc(CAP);
	if (p->is_b) {
		h->recv = dp_connect_recv(p, h->net, 0);
		h->send = dp_connect_send(p, h->net, 0);
	} else {
		h->send = dp_connect_send(p, h->net, 0);
		h->recv = dp_connect_recv(p, h->net, 0);
	}
	DP_OK(h->net->regMr(h->send, h->sbuf, CAP, NCCL_PTR_HOST, &h->smh));
	DP_OK(h->net->regMr(h->recv, h->rbuf, CAP, NCCL_PTR_HOST, &h->rmh));
	for (int dir = 0; dir < 2; dir++) {
		if (p->is_b == (dir == 1))
			sender(h, dir);
		else
			receiver(h, dir);
		dp_sync(p);
	}
	dp_sleep_us(50000);   /* counters are rewritten every few ms */
}

static void close_host(struct host *h)
{
	DP_OK(h->net->deregMr(h->send, h->smh));
	DP_OK(h->net->deregMr(h->recv, h->rmh));
	DP_OK(h->net->closeSend(h->send));
	DP_OK(h->net->closeRecv(h->recv));
	dp_free(h->sbuf, CAP);
	dp_free(h->rbuf, CAP);
}

static uint64_t total_bytes(void)
{
	uint64_t t = 0;
	for (int m = 0; m < NMSGS; m++)
		for (int j = 0; j < msgs[m].n; j++)
			t += (uint64_t)msgs[m].size[j];
	return t;
}

static uint64_t xmit(const struct dp_pair *p, const char *host, const char *hca)
{
	return dp_counter(p, host, hca, "port_xmit_data");
}

Test(rail_match, one_rail_host_moves_every_byte_over_the_shared_half, .timeout = 120)
{
	struct dp_pair p;
	struct host h;
	dp_pair_start(&p, NULL);
	dp_write_topology(&p, "set a " RAIL0 " ipv4=no\n");
	exchange(&p, &h);
	if (!p.is_b) {
		/* Host a really is a one-rail host: its device is roceP2p1s0f0 alone. */
		ncclNetProperties_v8_t props;
		DP_OK(h.net->getProperties(0, &props));
		cr_assert(strstr(props.name, RAIL0) == NULL, "device %s still has %s", props.name,
			  RAIL0);
		uint64_t all = total_bytes();
		for (int i = 0; i < 2; i++) {
			const char *host = i == 0 ? "a" : "b";
			cr_assert_eq(xmit(&p, host, RAIL0), 0, "%s's %s sent %llu bytes", host, RAIL0,
				     (unsigned long long)xmit(&p, host, RAIL0));
			cr_assert_eq(dp_counter(&p, host, RAIL0, "port_rcv_data"), 0);
			cr_assert_geq(xmit(&p, host, RAIL1), all, "%s's %s sent %llu of %llu bytes",
				      host, RAIL1, (unsigned long long)xmit(&p, host, RAIL1),
				      (unsigned long long)all);
		}
	}
	close_host(&h);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* a: rail 0 = rocep1s0f0; b: rail 0 = roceP2p1s0f0. Position would connect
 * rocep1s0f0 to roceP2p1s0f0 (another subnet); keys by the local index
 * would make every cut write fail its rkey check. */
Test(rail_match, pairs_in_opposite_orders_use_both_rails, .timeout = 120)
{
	struct dp_pair p;
	struct host h;
	const char *env[] = {"NCCL_SPARK_ADAPTIVE_WEIGHTS=0", NULL};
	dp_pair_start(&p, env);
	setenv("NCCL_SPARK_PAIRS", p.is_b ? RAIL1 "+" RAIL0 : RAIL0 "+" RAIL1, 1);
	exchange(&p, &h);
	if (!p.is_b) {
		for (int i = 0; i < 2; i++) {
			const char *host = i == 0 ? "a" : "b";
			/* 3, 7 and 5 MiB are cut over both rails: each carries MiBs. */
			cr_assert_geq(xmit(&p, host, RAIL0), (uint64_t)MiB, "%s's %s sent %llu", host,
				      RAIL0, (unsigned long long)xmit(&p, host, RAIL0));
			cr_assert_geq(xmit(&p, host, RAIL1), (uint64_t)MiB, "%s's %s sent %llu", host,
				      RAIL1, (unsigned long long)xmit(&p, host, RAIL1));
		}
	}
	close_host(&h);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* stderr (where the harness's logger writes) into a file, to read the WARN. */
static int capture_stderr(char *path, size_t len, const char *host)
{
	snprintf(path, len, "/tmp/spark-rail-match-%s-%d.log", host, (int)getpid());
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	DP_CHECK(fd >= 0, "open %s", path);
	int saved = dup(2);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static void restore_stderr(int saved, const char *path, char *text, size_t len)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *f = fopen(path, "r");
	DP_CHECK(f != NULL, "reopen %s", path);
	size_t n = fread(text, 1, len - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	fputs(text, stderr);
}

/* a: [roceP2p1s0f0 192.168.101.1]; b: rocep1s0f0 192.168.100.2 and
 * roceP2p1s0f0 on 10.78.0.2: nothing in common. */
Test(rail_match, no_shared_subnet_warns_with_both_sides_and_fails, .timeout = 90)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	dp_write_topology(&p, "set a " RAIL0 " ipv4=no\nset b " RAIL1 " subnet=10.78.0\n");
	const ncclNet_v8_t *net = dp_load_plugin();
	char handle[NCCL_NET_HANDLE_MAXSIZE], path[128], text[8192];
	void *lc = NULL, *comm = NULL;
	ncclResult_t res = ncclSuccess;
	double end = dp_now() + 60;
	if (p.is_b) {
		DP_OK(net->listen(0, handle, &lc));
		dp_send(&p, handle, sizeof handle);
	} else {
		dp_recv(&p, handle, sizeof handle);
	}
	int saved = capture_stderr(path, sizeof path, dp_host());
	while (comm == NULL && res == ncclSuccess && dp_now() < end)
		res = p.is_b ? net->accept(lc, &comm, NULL) : net->connect(0, handle, &comm, NULL);
	restore_stderr(saved, path, text, sizeof text);
	DP_CHECK(res == ncclRemoteError && comm == NULL, "%s gave %d, comm %p",
		 p.is_b ? "accept" : "connect", (int)res, comm);
	DP_CHECK(strstr(text, "no rail of this device shares a subnet") != NULL, "no WARN");
	const char *a_rails = RAIL1 " 192.168.101.1/24";
	const char *b_rails = RAIL0 " 192.168.100.2/24, " RAIL1 " 10.78.0.2/24";
	char ours[160], theirs[160];
	snprintf(ours, sizeof ours, "ours: %s;", p.is_b ? b_rails : a_rails);
	snprintf(theirs, sizeof theirs, "the peer's: %s)", p.is_b ? a_rails : b_rails);
	DP_CHECK(strstr(text, ours) != NULL && strstr(text, theirs) != NULL,
		 "the WARN does not name both sides (%s / %s)", ours, theirs);
	DP_CHECK(strstr(text, "Fix:") != NULL, "the WARN gives no fix");
	if (p.is_b) {
		DP_OK(net->closeListen(lc));
		dp_pair_finish(&p, 0);
	}
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
