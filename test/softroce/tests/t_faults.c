/* Rule 10 (completions are asynchronous), cable semantics (what reaches
 * what), faults from the control file (port down, freeze, rate, a killed
 * peer) and the port counters. No test asserts on timing: only on states,
 * statuses, events and counters. */
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule10_async, .fini = sr_teardown, .timeout = 60);
TestSuite(cable, .fini = sr_teardown, .timeout = 60);
TestSuite(faults, .fini = sr_teardown, .timeout = 60);
TestSuite(counters, .fini = sr_teardown, .timeout = 60);

/* The control file takes effect within 10 ms; give it ten times that. */
static void settle(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static void expect_retry_exceeded(struct sr_ep *ep, uint64_t wr_id)
{
	struct ibv_wc wc;
	sr_expect_wc(ep->scq, wr_id, IBV_WC_RETRY_EXC_ERR, &wc);
	cr_assert_eq(wc.vendor_err, 0x81u, "vendor_err %#x, mlx5 gives 0x81", wc.vendor_err);
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
}

/* Host b frozen: a WRITE can not complete, not inside the post, not in a
 * poll right after it, not for a while; after the thaw the retransmission
 * (within the modelled timeout) completes it. */
Test(rule10_async, no_completion_until_peer_answers)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.timeout = 24; /* 4.096us * 2^24 * 0.01 = 0.69 s per attempt, 8 attempts */
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x2d, 4096);
	sr_control("b freeze");
	settle();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 1, 0, 4096, SR_MR_FULL, 0, IBV_SEND_SIGNALED,
			     0), 0);
	struct ibv_wc wc;
	cr_assert_eq(ibv_poll_cq(ep->scq, 1, &wc), 0, "completion visible right after the post");
	cr_assert_eq(sr_poll_quiet(ep->scq, 200), 0, "completed while the responder is frozen");
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS);
	sr_control("b thaw");
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, NULL);
	uint8_t got[4096];
	sr_peer_read(&p, 0, 0, sizeof(got), got);
	for (size_t i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], 0x2d);
	sr_pair_stop(&p);
}

Test(cable, unowned_gid_is_retry_exceeded)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep *ep = sr_ep_create(&side, &o);
	static const uint8_t nobody[16] = { [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 168,
					    [14] = 100, [15] = 77 };
	memcpy(ep->remote.gid.raw, nobody, 16);
	ep->remote.qpn = 0x4242;
	ep->remote.mr[0] = (struct sr_mr_info){ .addr = 0x10000, .rkey = 0x1234, .len = 4096 };
	cr_assert_eq(sr_ep_connect(ep), 0, "RTR/RTS do not check reachability");
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 3, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	expect_retry_exceeded(ep, 3);
	sr_side_destroy(&side);
}

/* Connect host a's rocep1s0f0 QP to host b's QP on another HCA. */
static void cross_connect(const char *topology)
{
	sr_fabric_setup();
	if (topology)
		sr_topology(topology);
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	peer.hca = SR_HCA2;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 4, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	expect_retry_exceeded(ep, 4);
	uint8_t got[64], zero[64] = { 0 };
	sr_peer_read(&p, 0, 0, 64, got);
	cr_assert_arr_eq(got, zero, 64, "data crossed from one cable to another");
	sr_pair_stop(&p);
}

Test(cable, other_hca_is_unreachable)
{
	cross_connect(NULL);
}

Test(cable, other_hca_on_same_subnet_is_unreachable)
{
	/* b's roceP2p1s0f0 moved onto a's rocep1s0f0 subnet: still another cable. */
	cross_connect("set b " SR_HCA2 " subnet=192.168.100\n");
}

Test(cable, same_hca_other_subnet_is_unreachable)
{
	sr_fabric_setup();
	sr_topology("set b " SR_HCA0 " subnet=192.168.99\n");
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(ep->remote.gid.raw[14], 99, "topology did not move b's subnet");
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 5, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	expect_retry_exceeded(ep, 5);
	sr_pair_stop(&p);
}

Test(cable, same_hca_same_subnet_on_p2_half_works)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	o.hca = SR_HCA2;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &o);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x81, 64);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 6, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 6, IBV_WC_SUCCESS, NULL);
	uint8_t got[64];
	sr_peer_read(&p, 0, 0, 64, got);
	cr_assert_eq(got[63], 0x81);
	sr_pair_stop(&p);
}

static int peer_port_state(struct sr_pair *p)
{
	struct sr_cmd c = { .op = SR_OP_PORT_STATE, .ep = 0 };
	struct sr_reply rep;
	sr_peer(p, &c, &rep);
	return rep.rc;
}

static int peer_event(struct sr_pair *p)
{
	struct sr_cmd c = { .op = SR_OP_ASYNC, .ep = 0, .timeout_ms = SR_DEADLINE_MS };
	struct sr_reply rep;
	sr_peer(p, &c, &rep);
	return rep.rc;
}

static int port_state(struct ibv_context *ctx)
{
	struct ibv_port_attr pa;
	cr_assert_eq(ibv_query_port(ctx, 1, &pa), 0);
	return pa.state;
}

Test(faults, port_down_at_both_ends)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	struct ibv_context *other = sr_open(&p.side, SR_HCA2);
	sr_control("a " SR_HCA0 " down");
	struct ibv_async_event ev;
	cr_assert_eq(sr_async_event(ep->ctx, SR_DEADLINE_MS, &ev), IBV_EVENT_PORT_ERR,
		     "host a: no PORT_ERR");
	cr_assert_eq(ev.element.port_num, 1);
	cr_assert_eq(port_state(ep->ctx), IBV_PORT_DOWN);
	cr_assert_eq(peer_event(&p), IBV_EVENT_PORT_ERR, "host b (other cable end): no PORT_ERR");
	cr_assert_eq(peer_port_state(&p), IBV_PORT_DOWN, "host b's end must be DOWN too");
	cr_assert_eq(port_state(other), IBV_PORT_ACTIVE, "the other HCA is not on that cable");
	char path[4200], buf[64];
	snprintf(path, sizeof(path), "%s/ports/1/state", ep->ctx->device->ibdev_path);
	long long end = sr_now_ms() + SR_DEADLINE_MS;
	while (sr_read_file(path, buf, sizeof(buf)) > 0 && !strstr(buf, "DOWN") && sr_now_ms() < end)
		;
	cr_assert(strstr(buf, "DOWN"), "sysfs state says '%s'", buf);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 7, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	expect_retry_exceeded(ep, 7);

	sr_control("a " SR_HCA0 " up");
	cr_assert_eq(sr_async_event(ep->ctx, SR_DEADLINE_MS, NULL), IBV_EVENT_PORT_ACTIVE);
	cr_assert_eq(port_state(ep->ctx), IBV_PORT_ACTIVE);
	cr_assert_eq(peer_event(&p), IBV_EVENT_PORT_ACTIVE);
	cr_assert_eq(peer_port_state(&p), IBV_PORT_ACTIVE);
	sr_pair_stop(&p);
}

/* A WR already in flight (a SEND retrying on RNR) when the link drops fails
 * with RETRY_EXC, not RNR_RETRY_EXC and not never. */
Test(faults, in_flight_wr_fails_on_port_down)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 8, 0, 64, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	cr_assert_eq(sr_poll_quiet(ep->scq, 30), 0);
	sr_control("b " SR_HCA0 " down");
	expect_retry_exceeded(ep, 8);
	sr_pair_stop(&p);
}

Test(faults, freeze_past_timeout_is_retry_exceeded)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p); /* timeout 14: a few ms in all */
	struct sr_ep *ep = &p.side.ep[0];
	sr_control("b freeze");
	settle();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 9, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	expect_retry_exceeded(ep, 9);
	sr_control("b thaw");
	sr_pair_stop(&p);
}

/* A peer process that is alive, reachable and receiving, but gets no CPU
 * (SIGSTOP here; a loaded host or a sanitizer in practice), is not a broken
 * link: a ConnectX-7 acks whatever its host CPU does. Stopped for ten times
 * the whole retry budget, it must still complete the WRITE once it runs. */
Test(faults, stopped_but_live_peer_is_not_retry_exceeded)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.timeout = 14;   /* the 20 ms floor */
	o.retry_cnt = 1;  /* a lost packet fails after ~40 ms */
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x5a, 4096);
	cr_assert_eq(kill(p.child, SIGSTOP), 0);
	int st; /* stopped for real: until then its NIC thread may still ack */
	cr_assert_eq(waitpid(p.child, &st, WUNTRACED), p.child);
	cr_assert(WIFSTOPPED(st));
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 12, 0, 4096, SR_MR_FULL, 0, IBV_SEND_SIGNALED,
			     0), 0);
	cr_assert_eq(sr_poll_quiet(ep->scq, 400), 0, "completed while the responder was stopped");
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS, "a slow peer was taken for a lost link");
	cr_assert_eq(kill(p.child, SIGCONT), 0);
	sr_expect_wc(ep->scq, 12, IBV_WC_SUCCESS, NULL);
	uint8_t got[4096];
	sr_peer_read(&p, 0, 0, sizeof(got), got);
	for (size_t i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], 0x5a);
	sr_pair_stop(&p);
}

Test(faults, killed_peer_is_retry_exceeded)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	kill(p.child, SIGKILL); /* reaped by sr_teardown */
	settle();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 10, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0),
		     0);
	expect_retry_exceeded(ep, 10);
	sr_side_destroy(&p.side);
}

/* A degraded link still moves data correctly (the rate itself is measured by
 * softroce-perf, not here). */
Test(faults, rate_fault_keeps_data_correct)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	o.buf_len = 1 << 20;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &o);
	struct sr_ep *ep = &p.side.ep[0];
	sr_control("a " SR_HCA0 " rate 0.25");
	settle();
	for (uint32_t i = 0; i < o.buf_len; i++)
		ep->buf[i] = (uint8_t)(i * 7 + 3);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 11, 0, o.buf_len, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 11, IBV_WC_SUCCESS, NULL);
	for (uint32_t off = 0; off < o.buf_len; off += SR_MAX_DATA) {
		static uint8_t got[SR_MAX_DATA];
		sr_peer_read(&p, 0, off, SR_MAX_DATA, got);
		for (uint32_t i = 0; i < SR_MAX_DATA; i++)
			cr_assert_eq(got[i], (uint8_t)((off + i) * 7 + 3), "byte %u", off + i);
	}
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS);
	sr_pair_stop(&p);
}

/* Wait until the counter reaches at least want; returns the last value. */
static long long counter_reaches(const char *host, const char *name, long long want)
{
	long long end = sr_now_ms() + SR_DEADLINE_MS, v;
	while ((v = sr_counter(host, SR_HCA0, name)) < want && sr_now_ms() < end)
		;
	return v;
}

Test(counters, xmit_and_rcv_data_count_4_byte_words)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	o.buf_len = 1 << 20;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &o);
	struct sr_ep *ep = &p.side.ep[0];
	long long x0 = sr_counter("a", SR_HCA0, "port_xmit_data");
	long long r0 = sr_counter("b", SR_HCA0, "port_rcv_data");
	long long xp0 = sr_counter("a", SR_HCA0, "port_xmit_packets");
	long long rp0 = sr_counter("b", SR_HCA0, "port_rcv_packets");
	cr_assert(x0 >= 0 && r0 >= 0 && xp0 >= 0 && rp0 >= 0, "counter files missing");
	const long long bytes = 1 << 20, words = bytes / 4;
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 12, 0, (uint32_t)bytes, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 12, IBV_WC_SUCCESS, NULL);
	long long dx = counter_reaches("a", "port_xmit_data", x0 + words) - x0;
	long long dr = counter_reaches("b", "port_rcv_data", r0 + words) - r0;
	/* Payload in 4-byte words; headers may add a few percent, no more. */
	cr_assert(dx >= words && dx <= words + words / 10,
		  "port_xmit_data grew by %lld words for %lld bytes (want ~%lld)", dx, bytes, words);
	cr_assert(dr >= words && dr <= words + words / 10,
		  "port_rcv_data grew by %lld words for %lld bytes (want ~%lld)", dr, bytes, words);
	long long dxp = counter_reaches("a", "port_xmit_packets", xp0 + bytes / 4096) - xp0;
	long long drp = counter_reaches("b", "port_rcv_packets", rp0 + bytes / 4096) - rp0;
	cr_assert_geq(dxp, bytes / 4096, "MTU 4096: at least %lld packets", bytes / 4096);
	cr_assert_geq(drp, bytes / 4096);
	/* Host b's other HCA carried nothing. */
	cr_assert_leq(sr_counter("b", SR_HCA2, "port_rcv_data"), 0);
	sr_pair_stop(&p);
}

/* Control "acks drop": the write lands and its IMM completes at the peer,
 * but the ACK is lost on its way in, so the requester completes nothing;
 * once responses pass again the retransmission is answered (the responder
 * acks the duplicate without executing it again: no second IMM) and the WR
 * completes. The shape of a rail that fails after delivering a share whose
 * ACK it lost (test/datapath/test_resend.c). */
Test(faults, dropped_acks_land_the_write_but_complete_nothing)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.timeout = 24; /* 0.69 s per attempt, 7 retries: far past the quiet window */
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x3c, 4096);
	sr_peer_post_recv(&p, 0, 77, 0, 64, 2);
	sr_control("a " SR_HCA0 " acks drop");
	settle();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE_WITH_IMM, 13, 0, 4096, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0x01020304u), 0);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1, "no IMM at the peer");
	cr_assert_eq(rep.wc[0].status, IBV_WC_SUCCESS);
	uint8_t got[4096];
	sr_peer_read(&p, 0, 0, sizeof(got), got);
	for (size_t i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], 0x3c, "byte %zu did not land", i);
	cr_assert_eq(sr_poll_quiet(ep->scq, 300), 0, "completed although its ACK was dropped");
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS);
	sr_control("a " SR_HCA0 " acks pass");
	sr_expect_wc(ep->scq, 13, IBV_WC_SUCCESS, NULL);
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, 200, &rep), 0, "the duplicate completed again");
	sr_pair_stop(&p);
}

/* Responses that never come count retries as lost packets do on mlx5: the
 * WR ends RETRY_EXC, the QP in ERR. */
Test(faults, dropped_acks_past_the_retries_are_retry_exceeded)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.timeout = 14;   /* the 20 ms floor */
	o.retry_cnt = 1;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	sr_control("a " SR_HCA0 " acks drop");
	settle();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 14, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0),
		     0);
	expect_retry_exceeded(ep, 14);
	sr_control("a " SR_HCA0 " acks pass");
	sr_pair_stop(&p);
}
