/* Rule 6: ordering holds within one QP only. With SOFTROCE_REORDER=1 (set by
 * sr_fabric_setup with a fixed seed) completions and deliveries of different
 * QPs, on one HCA or on two, come out of post order at least once over many
 * trials, while every QP keeps its own order. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule6_order, .fini = sr_teardown, .timeout = 120);

#define NMSG 64

Test(rule6_order, sends_keep_order_within_a_qp)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 0, 0, 64, NMSG);
	for (uint32_t i = 0; i < NMSG; i++) {
		memcpy(ep->buf + 64 * i, &i, sizeof(i));
		cr_assert_eq(sr_post(ep, IBV_WR_SEND, i, 64 * i, 64, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	}
	struct ibv_wc wc[NMSG];
	cr_assert_eq(sr_poll(ep->scq, wc, NMSG, SR_DEADLINE_MS), NMSG);
	for (uint32_t i = 0; i < NMSG; i++)
		cr_assert_eq(wc[i].wr_id, i, "send CQE %u is wr_id %llu", i,
			     (unsigned long long)wc[i].wr_id);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, NMSG, SR_DEADLINE_MS, &rep), NMSG);
	for (uint32_t i = 0; i < NMSG; i++) {
		cr_assert_eq(rep.wc[i].wr_id, i, "recv %u consumed out of order", i);
		cr_assert_eq(rep.wc[i].status, IBV_WC_SUCCESS);
	}
	uint32_t got[NMSG * 16];
	sr_peer_read(&p, 0, 0, sizeof(got), got);
	for (uint32_t i = 0; i < NMSG; i++)
		cr_assert_eq(got[16 * i], i, "recv buffer %u holds message %u", i, got[16 * i]);
	sr_pair_stop(&p);
}

/* A recv completion for WRITE_WITH_IMM means every earlier WRITE of the QP
 * is placed. */
Test(rule6_order, writes_placed_before_later_write_with_imm)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	for (int round = 0; round < 8; round++) {
		sr_peer_post_recv(&p, 0, (uint64_t)round, 60000, 64, 1);
		uint8_t tag = (uint8_t)(round + 1);
		memset(ep->buf, tag, 16384);
		for (uint32_t i = 0; i < 16; i++)
			cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, i, 1024 * i, 1024, SR_MR_FULL,
					     1024 * i, 0, 0), 0);
		cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE_WITH_IMM, 99, 0, 0, SR_MR_FULL, 0,
				     IBV_SEND_SIGNALED, 0), 0);
		struct sr_reply rep;
		cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
		cr_assert_eq(rep.wc[0].status, IBV_WC_SUCCESS);
		static uint8_t got[16384];
		sr_peer_read(&p, 0, 0, sizeof(got), got);
		for (size_t i = 0; i < sizeof(got); i++)
			cr_assert_eq(got[i], tag, "round %d: byte %zu not placed before the imm",
				     round, i);
		sr_expect_wc(ep->scq, 99, IBV_WC_SUCCESS, NULL);
	}
	sr_pair_stop(&p);
}

#define TRIALS 200
#define PER_QP 3

/* Two QPs on one HCA share one send CQ. Each trial posts PER_QP WRITEs on
 * each QP, interleaved, the first QP alternating between trials (a0 b0 a1 b1
 * ..., then b0 a0 b1 a1 ...), and reads the shared CQ. Per-QP order must
 * hold; the cross-QP order must leave post order at least once in each
 * direction (a fixed service order of the QPs would only ever reorder one
 * way). */
Test(rule6_order, completions_reorder_across_qps_on_one_cq)
{
	sr_fabric_setup();
	struct sr_ep_opts local[2], peer[2];
	local[0] = local[1] = peer[0] = peer[1] = sr_ep_opts_default();
	local[1].share_cq_with = 0;
	struct sr_pair p;
	sr_pair_start(&p, 2, local, peer);
	int reordered[2] = { 0, 0 }; /* by the QP that was posted first */
	for (int t = 0; t < TRIALS; t++) {
		int first = t % 2;
		for (int k = 0; k < PER_QP; k++)
			for (int j = 0; j < 2; j++) {
				int q = j ? 1 - first : first;
				cr_assert_eq(sr_post(&p.side.ep[q], IBV_WR_RDMA_WRITE,
						     (uint64_t)(q * 100 + k), 64 * (uint32_t)k, 64,
						     SR_MR_FULL, 64 * (uint32_t)k,
						     IBV_SEND_SIGNALED, 0), 0);
			}
		struct ibv_wc wc[2 * PER_QP];
		cr_assert_eq(sr_poll(p.side.ep[0].scq, wc, 2 * PER_QP, SR_DEADLINE_MS), 2 * PER_QP);
		int next[2] = { 0, 0 };
		bool out_of_post_order = false;
		for (int i = 0; i < 2 * PER_QP; i++) {
			cr_assert_eq(wc[i].status, IBV_WC_SUCCESS);
			int q = (int)(wc[i].wr_id / 100), k = (int)(wc[i].wr_id % 100);
			cr_assert_eq(wc[i].qp_num, p.side.ep[q].qp->qp_num, "qp_num vs wr_id");
			cr_assert_eq(k, next[q], "trial %d: QP %d completed %d before %d", t, q, k,
				     next[q]);
			next[q]++;
			/* Post order puts the first QP at even positions. */
			if (q != (i % 2 ? 1 - first : first))
				out_of_post_order = true;
		}
		reordered[first] += out_of_post_order;
	}
	cr_assert(reordered[0] > 0 && reordered[1] > 0,
		  "SOFTROCE_REORDER=1, %d trials: completions left post order %d times with QP 0 "
		  "posted first, %d times with QP 1 posted first (want both > 0)",
		  TRIALS, reordered[0], reordered[1]);
	sr_pair_stop(&p);
}

/* One QP on each PCIe half (two HCAs). The responder registers one buffer
 * on both of its HCAs; each trial both requester QPs WRITE one byte (their
 * own value) to the same responder address, the first poster alternating.
 * The byte left behind says which WRITE was placed last: when it is the
 * first-posted one, the later-posted WRITE was placed first. That must
 * happen at least once in each direction. Every WRITE completes and the
 * CQEs of each QP stay in order. */
Test(rule6_order, placement_reorders_across_hcas)
{
	sr_fabric_setup();
	struct sr_ep_opts local[2], peer[2];
	local[0] = peer[0] = sr_ep_opts_default();
	local[1] = peer[1] = sr_ep_opts_default();
	local[1].hca = peer[1].hca = SR_HCA2;
	peer[1].share_buf_with = 0;
	struct sr_pair p;
	sr_pair_start(&p, 2, local, peer);
	enum { HTRIALS = 400 };
	for (int q = 0; q < 2; q++)
		p.side.ep[q].buf[0] = (uint8_t)(q + 1);
	for (int t = 0; t < HTRIALS; t++) {
		int first = t % 2;
		for (int j = 0; j < 2; j++) {
			int q = j ? 1 - first : first;
			cr_assert_eq(sr_post(&p.side.ep[q], IBV_WR_RDMA_WRITE, (uint64_t)t, 0, 1,
					     SR_MR_FULL, 16 * (uint32_t)t, IBV_SEND_SIGNALED, 0), 0);
		}
		for (int q = 0; q < 2; q++) {
			struct ibv_wc wc;
			cr_assert_eq(sr_poll(p.side.ep[q].scq, &wc, 1, SR_DEADLINE_MS), 1);
			cr_assert_eq(wc.status, IBV_WC_SUCCESS);
			cr_assert_eq(wc.wr_id, (uint64_t)t, "QP %d: CQEs out of order", q);
		}
	}
	static uint8_t last[16 * HTRIALS];
	sr_peer_read(&p, 0, 0, sizeof(last), last);
	int reordered[2] = { 0, 0 }; /* by the QP posted first */
	for (int t = 0; t < HTRIALS; t++) {
		int first = t % 2;
		cr_assert(last[16 * t] == 1 || last[16 * t] == 2, "trial %d: byte %d", t,
			  last[16 * t]);
		reordered[first] += last[16 * t] == first + 1;
	}
	cr_log_info("later-posted WRITE placed first: %d and %d of %d", reordered[0],
		    reordered[1], HTRIALS / 2);
	cr_assert(reordered[0] > 0 && reordered[1] > 0,
		  "SOFTROCE_REORDER=1, %d trials: the later-posted WRITE was placed first %d "
		  "times when %s posted first, %d times when %s did (want both > 0)",
		  HTRIALS, reordered[0], SR_HCA0, reordered[1], SR_HCA2);
	sr_pair_stop(&p);
}

/* Deliveries: the responder's two QPs share one recv CQ; SEND i goes out on
 * both requester QPs, the first QP alternating with i. Each QP's recvs
 * complete in order; the later-posted SEND of a pair must be delivered
 * first at least once in each direction (a fixed service order of the QPs
 * would only ever reverse one way). */
Test(rule6_order, deliveries_reorder_across_qps)
{
	sr_fabric_setup();
	struct sr_ep_opts local[2], peer[2];
	local[0] = local[1] = peer[0] = peer[1] = sr_ep_opts_default();
	local[0].max_send_wr = local[1].max_send_wr = 256;
	peer[0].max_recv_wr = peer[1].max_recv_wr = 256;
	peer[0].cqe = 1024;
	peer[1].share_cq_with = 0;
	struct sr_pair p;
	sr_pair_start(&p, 2, local, peer);
	enum { N = 192 };
	sr_peer_post_recv(&p, 0, 0, 0, 64, N);
	sr_peer_post_recv(&p, 1, 1000, 0, 64, N);
	/* Rounds of PAIRS pairs, each drained before the next, so the fabric
	 * makes a fresh scheduling choice per round. */
	enum { PAIRS = 12 };
	static int pos[2][N];
	int next[2] = { 0, 0 }, seen = 0;
	for (int round = 0; round < N / PAIRS; round++) {
		for (int i = round * PAIRS; i < (round + 1) * PAIRS; i++)
			for (int j = 0; j < 2; j++) {
				int q = j ? 1 - i % 2 : i % 2;
				cr_assert_eq(sr_post(&p.side.ep[q], IBV_WR_SEND, (uint64_t)i, 0, 16, 0,
						     0, (i % 32 == 31) ? IBV_SEND_SIGNALED : 0, 0), 0);
			}
		while (seen < 2 * PAIRS * (round + 1)) {
			struct sr_reply rep;
			int want = 2 * PAIRS * (round + 1) - seen;
			int got = sr_peer_poll_recv(&p, 0, want, SR_DEADLINE_MS, &rep);
			cr_assert_gt(got, 0, "deliveries stopped at %d of %d", seen, 2 * N);
			for (int i = 0; i < got; i++, seen++) {
				cr_assert_eq(rep.wc[i].status, IBV_WC_SUCCESS);
				int q = rep.wc[i].wr_id >= 1000;
				cr_assert_eq(rep.wc[i].wr_id, (uint64_t)(q * 1000 + next[q]),
					     "QP %d delivered out of order", q);
				pos[q][next[q]++] = seen;
			}
		}
	}
	int reversed[2] = { 0, 0 }; /* by the QP posted first in the pair */
	for (int i = 0; i < N; i++) {
		int first = i % 2;
		reversed[first] += pos[first][i] > pos[1 - first][i];
	}
	cr_assert(reversed[0] > 0 && reversed[1] > 0,
		  "deliveries across QPs: later-posted SEND first %d times (QP 0 posted first), "
		  "%d times (QP 1 posted first); want both > 0", reversed[0], reversed[1]);
	struct ibv_wc wc[16];
	cr_assert_eq(sr_poll(p.side.ep[0].scq, wc, N / 32, SR_DEADLINE_MS), N / 32);
	cr_assert_eq(sr_poll(p.side.ep[1].scq, wc, N / 32, SR_DEADLINE_MS), N / 32);
	sr_pair_stop(&p);
}
