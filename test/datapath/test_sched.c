/* How one comm uses its two rails, read from softroce's port counters on
 * host a (the sender): both rails carry data at the same time; a deep window
 * sends messages whole, alternating rails; a shallow one cuts each message.
 * Whole or cut shows in the packet count: a message of 128 KiB + 2 KiB is
 * 33 packets of 4 KiB whole, 2 x 17 cut in two. Native only: under qemu
 * softroce retransmits (docs/building.md), and resent packets count. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dp_harness.h"

#define KiB 1024
#define MiB (1024 * KiB)
#define RAIL0 "rocep1s0f0"
#define RAIL1 "roceP2p1s0f0"

#define NATIVE_ONLY()                                                                       \
	do {                                                                                \
		if (dp_under_qemu())                                                        \
			cr_skip_test("needs native timing (softroce retransmits under qemu)"); \
	} while (0)

struct counts {
	uint64_t bytes[2], pkts[2];
};

static void read_counts(const struct dp_pair *p, struct counts *c)
{
	static const char *const rails[2] = {RAIL0, RAIL1};
	for (int r = 0; r < 2; r++) {
		c->bytes[r] = dp_counter(p, "a", rails[r], "port_xmit_data");
		c->pkts[r] = dp_counter(p, "a", rails[r], "port_xmit_packets");
	}
}

/* The counters once the traffic has left them: softroce rewrites the files
 * every 5 ms, but on a loaded host a rewrite can come tens of ms late and
 * lands one file at a time, so wait until the two rails together show at
 * least `words` (4-byte words) in at least words / 1024 packets (MTU 4096)
 * and three reads 20 ms apart agree. */
static void settled_counts(const struct dp_pair *p, struct counts *c, uint64_t words)
{
	struct counts prev;
	int same = 0;
	read_counts(p, &prev);
	for (int i = 0; i < 200 && same < 2; i++) {
		dp_sleep_us(20000);
		read_counts(p, c);
		bool all = c->bytes[0] + c->bytes[1] >= words &&
			   c->pkts[0] + c->pkts[1] >= words / 1024;
		same = all && memcmp(c, &prev, sizeof prev) == 0 ? same + 1 : 0;
		prev = *c;
	}
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

static void *post(const ncclNet_v8_t *net, bool recv, void *comm, void *buf, int size, void *mh)
{
	void *req = NULL;
	int tag = 0;
	double end = dp_now() + 60;
	while (req == NULL) {
		DP_OK(recv ? net->irecv(comm, 1, &buf, &size, &tag, &mh, &req)
			   : net->isend(comm, buf, size, tag, mh, &req));
		DP_CHECK(dp_now() < end, "no progress");
	}
	return req;
}

struct run {
	struct dp_pair p;
	const ncclNet_v8_t *net;
	void *comm, *mh;
	uint8_t *buf;
	size_t cap;
};

/* Fixed weights: each rail's PCIe link rate (a topology may lower one). */
static void open_run(struct run *t, size_t cap, const char *topology)
{
	const char *env[] = {"NCCL_SPARK_ADAPTIVE_WEIGHTS=0", NULL};
	dp_pair_start(&t->p, env);
	if (topology != NULL)
		dp_write_topology(&t->p, topology);
	t->net = dp_load_plugin();
	t->cap = cap;
	t->buf = dp_alloc(cap);
	t->comm = t->p.is_b ? dp_connect_recv(&t->p, t->net, 0)
			    : dp_connect_send(&t->p, t->net, 0);
	DP_OK(t->net->regMr(t->comm, t->buf, cap, NCCL_PTR_HOST, &t->mh));
}

static void close_run(struct run *t)
{
	DP_OK(t->net->deregMr(t->comm, t->mh));
	DP_OK(t->p.is_b ? t->net->closeRecv(t->comm) : t->net->closeSend(t->comm));
	if (t->p.is_b)
		dp_pair_finish(&t->p, 0);
	cr_assert(dp_pair_finish(&t->p, 0), "host b failed");
}

/* `count` messages of `size`, `depth` in flight; returns the counters moved. */
static void stream(struct run *t, int size, int depth, int count, struct counts *moved)
{
	void *req[16];
	struct counts before, after;
	dp_sync(&t->p);
	if (!t->p.is_b)
		settled_counts(&t->p, &before, 0);
	for (int i = 0; i < count + depth; i++) {
		int k = i % depth;
		if (i >= depth)
			DP_OK(dp_wait(t->net, req[k], NULL));
		if (i < count)
			req[k] = post(t->net, t->p.is_b, t->comm, t->buf + (size_t)k * (size_t)size,
				      size, t->mh);
	}
	dp_sync(&t->p);
	if (t->p.is_b)
		return;
	settled_counts(&t->p, &after,
		       before.bytes[0] + before.bytes[1] + (uint64_t)count * (uint64_t)size / 4);
	for (int r = 0; r < 2; r++) {
		moved->bytes[r] = after.bytes[r] - before.bytes[r];
		moved->pkts[r] = after.pkts[r] - before.pkts[r];
	}
}

static double share0(const struct counts *m)
{
	return (double)m->bytes[0] / (double)(m->bytes[0] + m->bytes[1]);
}

/* The rails of one comm overlap: with host b's NIC frozen nothing can
 * complete, so whatever both rails transmit after eight isends, they
 * transmit at the same time. A pipeline that waited on one rail's
 * completion before feeding the other would move one rail only. */
Test(sched, both_rails_of_one_comm_carry_data_at_once, .timeout = 90)
{
	NATIVE_ONLY();
	enum { W = 8, SIZE = 128 * KiB };
	struct run t;
	open_run(&t, (size_t)W * SIZE, NULL);
	void *req[W];
	if (t.p.is_b) {
		for (int k = 0; k < W; k++)
			req[k] = post(t.net, true, t.comm, t.buf + (size_t)k * SIZE, SIZE, t.mh);
		dp_sync(&t.p);
		dp_sync(&t.p);   /* a froze us, sent, looked, thawed us */
		for (int k = 0; k < W; k++)
			DP_OK(dp_wait(t.net, req[k], NULL));
		close_run(&t);
	}
	dp_sync(&t.p);
	dp_sleep_us(50000);           /* the CTS entries have landed */
	control(&t.p, "b freeze");
	dp_sleep_us(200000);          /* a NIC thread has read the control file (every 5 ms) */
	struct counts before, after;
	read_counts(&t.p, &before);
	for (int k = 0; k < W; k++)
		req[k] = post(t.net, false, t.comm, t.buf + (size_t)k * SIZE, SIZE, t.mh);
	dp_sleep_us(100000);
	read_counts(&t.p, &after);
	for (int k = 0; k < W; k++) {
		int done = 1;
		DP_OK(t.net->test(req[k], &done, NULL));
		cr_assert_eq(done, 0, "message %d completed with the receiver's NIC frozen", k);
	}
	uint64_t d0 = after.bytes[0] - before.bytes[0], d1 = after.bytes[1] - before.bytes[1];
	cr_assert(d0 >= 2 * SIZE && d1 >= 2 * SIZE,
		  "before any completion rail 0 sent %llu bytes, rail 1 %llu: the rails of one "
		  "comm do not overlap", (unsigned long long)d0, (unsigned long long)d1);
	control(&t.p, "b thaw");
	for (int k = 0; k < W; k++)
		DP_OK(dp_wait(t.net, req[k], NULL));
	dp_sync(&t.p);
	close_run(&t);
}

/* Deep window (8 x 128 KiB + 2 KiB in flight): both rails stay busy with
 * whole messages, so nearly every message is 33 packets, not 34, and the
 * bytes split evenly. */
Test(sched, deep_window_sends_whole_messages_on_both_rails, .timeout = 120)
{
	NATIVE_ONLY();
	enum { W = 8, SIZE = 128 * KiB + 2 * KiB, COUNT = 256 };
	struct run t;
	open_run(&t, (size_t)W * SIZE, NULL);
	struct counts m;
	stream(&t, SIZE, W, COUNT, &m);
	if (!t.p.is_b) {
		double pkts = (double)(m.pkts[0] + m.pkts[1]) / COUNT;
		cr_expect(pkts < 33.2, "%.2f packets per message: deep windows should send "
			  "whole messages (33), not cut ones (34)", pkts);
		cr_expect(share0(&m) > 0.4 && share0(&m) < 0.6, "rail 0 carried %.3f", share0(&m));
	}
	close_run(&t);
}

/* Shallow window (one 1 MiB + 2 KiB message at a time): each message is cut
 * over both rails (2 x 129 packets, not 257 whole). */
Test(sched, shallow_window_cuts_each_message, .timeout = 120)
{
	NATIVE_ONLY();
	enum { SIZE = MiB + 2 * KiB, COUNT = 32 };
	struct run t;
	open_run(&t, SIZE, NULL);
	struct counts m;
	stream(&t, SIZE, 1, COUNT, &m);
	if (!t.p.is_b) {
		double pkts = (double)(m.pkts[0] + m.pkts[1]) / COUNT;
		cr_expect(pkts >= 258 && pkts < 258.5,
			  "%.2f packets per message: one in flight should be cut in two "
			  "(2 x 129), not sent whole (257)", pkts);
		cr_expect(share0(&m) > 0.45 && share0(&m) < 0.55, "rail 0 carried %.3f",
			  share0(&m));
	}
	close_run(&t);
}

/* Deep window (8 x 1 MiB) with rail 1 on a Gen5 x1 link, a quarter of rail
 * 0's rate: no message goes whole on either rail (whole, 1 MiB is 256
 * packets; cut at a 4:1 level on 128-byte lines, 205 + 52), and rail 1
 * carries its fifth. Rails that far apart would otherwise send whole
 * messages, the slow one holding one at a time and idling between them. */
Test(sched, deep_window_on_a_quarter_rate_half_cuts_every_message, .timeout = 120)
{
	NATIVE_ONLY();
	enum { W = 8, SIZE = MiB, COUNT = 64 };
	struct run t;
	open_run(&t, (size_t)W * SIZE, "set " RAIL1 " link=gen5x1\n");
	struct counts m;
	stream(&t, SIZE, W, COUNT, &m);
	if (!t.p.is_b) {
		double pkts = (double)(m.pkts[0] + m.pkts[1]) / COUNT;
		cr_expect(pkts > 256.8, "%.2f packets per message: a quarter-rate half should "
			  "take a piece of every message (257), not whole ones (256)", pkts);
		cr_expect(share0(&m) > 0.75 && share0(&m) < 0.85, "rail 0 carried %.3f",
			  share0(&m));
	}
	close_run(&t);
}
