/* Rule 2: lkey/rkey, bounds and access checks with the right status on both
 * sides; reg_mr flag validation; mlx5-style keys; an MR deregistered while a
 * WR is queued. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule2_keys, .fini = sr_teardown, .timeout = 60);

#define PEER_RECV_ID 0x77

Test(rule2_keys, reg_mr_remote_write_needs_local_write)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_pd *pd = ibv_alloc_pd(sr_open(&side, SR_HCA0));
	static uint8_t buf[8192];
	errno = 0;
	cr_assert_null(ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_REMOTE_WRITE));
	cr_assert_eq(errno, EINVAL, "errno %d", errno);
	/* The same through the run-time access path (ibv_reg_mr_iova2). */
	volatile int access = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	errno = 0;
	cr_assert_null(ibv_reg_mr(pd, buf, sizeof(buf), access));
	cr_assert_eq(errno, EINVAL);
	/* Valid combinations register. */
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, sizeof(buf), access | IBV_ACCESS_LOCAL_WRITE);
	cr_assert_not_null(mr);
	cr_assert_eq(ibv_dereg_mr(mr), 0);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
}

Test(rule2_keys, lkey_equals_rkey_and_keys_not_reused)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_pd *pd = ibv_alloc_pd(sr_open(&side, SR_HCA0));
	static uint8_t buf[4096];
	uint32_t seen[16];
	for (int i = 0; i < 16; i++) {
		struct ibv_mr *mr = ibv_reg_mr(pd, buf, sizeof(buf),
					       IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
		cr_assert_not_null(mr);
		cr_assert_eq(mr->lkey, mr->rkey, "mlx5: lkey == rkey");
		for (int k = 0; k < i; k++)
			cr_assert_neq(seen[k], mr->lkey, "key %#x reused right after dereg", mr->lkey);
		seen[i] = mr->lkey;
		cr_assert_eq(ibv_dereg_mr(mr), 0);
	}
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
}

/* Post one signaled WR with a raw SGE/remote target and return the CQE. */
static struct ibv_wc post_raw(struct sr_ep *ep, enum ibv_wr_opcode op, uint64_t laddr,
			      uint32_t len, uint32_t lkey, uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge sge = { .addr = laddr, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = { .wr_id = 0xabc, .sg_list = &sge, .num_sge = 1, .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED };
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), 0, "the post itself must succeed");
	struct ibv_wc wc;
	cr_assert_eq(sr_poll(ep->scq, &wc, 1, SR_DEADLINE_MS), 1, "no completion");
	cr_assert_eq(wc.wr_id, 0xabc);
	cr_assert_eq(wc.qp_num, ep->qp->qp_num);
	return wc;
}

/* Local key or range error: requester LOC_PROT_ERR and ERR, nothing reaches
 * the responder, whose QP stays RTS and whose recv stays posted. */
static void expect_local_error(struct sr_pair *p, struct ibv_wc wc)
{
	cr_assert_eq(wc.status, IBV_WC_LOC_PROT_ERR, "got %s", ibv_wc_status_str(wc.status));
	cr_assert_eq(sr_wait_state(p->side.ep[0].qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR,
		     "requester QP must go to ERR");
	uint8_t peer[64], zero[64] = { 0 };
	sr_peer_read(p, 0, 0, sizeof(peer), peer);
	cr_assert_arr_eq(peer, zero, sizeof(peer), "responder memory changed");
	cr_assert_eq(sr_peer_qp_state(p, 0), IBV_QPS_RTS, "responder QP must stay RTS");
}

Test(rule2_keys, bad_lkey_is_loc_prot_err)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x5a, 64);
	struct ibv_wc wc = post_raw(ep, IBV_WR_RDMA_WRITE, (uintptr_t)ep->buf, 64,
				    ep->mr[SR_MR_FULL]->lkey ^ 0x5a5a00, ep->remote.mr[0].addr,
				    ep->remote.mr[0].rkey);
	expect_local_error(&p, wc);
	sr_pair_stop(&p);
}

Test(rule2_keys, local_range_outside_mr_is_loc_prot_err)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	/* Starts 8 bytes before the end of MR 0 and runs 56 bytes past it. */
	struct ibv_wc wc = post_raw(ep, IBV_WR_RDMA_WRITE,
				    (uintptr_t)ep->buf + ep->opts.buf_len - 8, 64,
				    ep->mr[SR_MR_FULL]->lkey, ep->remote.mr[0].addr,
				    ep->remote.mr[0].rkey);
	expect_local_error(&p, wc);
	sr_pair_stop(&p);
}

/* Remote access error: requester REM_ACCESS_ERR and ERR; responder QP ERR and
 * its outstanding recv flushed; responder memory untouched. */
static void expect_remote_access_error(struct sr_pair *p, struct ibv_wc wc)
{
	cr_assert_eq(wc.status, IBV_WC_REM_ACCESS_ERR, "got %s", ibv_wc_status_str(wc.status));
	cr_assert_eq(sr_wait_state(p->side.ep[0].qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR,
		     "requester QP must go to ERR");
	cr_assert_eq(sr_wait_peer_state(p, 0, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR,
		     "responder QP must go to ERR");
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(p, 0, 1, SR_DEADLINE_MS, &rep), 1,
		     "responder's posted recv must be flushed");
	cr_assert_eq(rep.wc[0].wr_id, PEER_RECV_ID);
	cr_assert_eq(rep.wc[0].status, IBV_WC_WR_FLUSH_ERR, "responder recv: %s",
		     ibv_wc_status_str(rep.wc[0].status));
}

static void remote_case(enum ibv_wr_opcode op, int rmr, uint32_t roff, uint32_t len,
			uint32_t rkey_xor)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	sr_peer_post_recv(&p, 0, PEER_RECV_ID, 0, 64, 1);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x5a, 4096);
	struct ibv_wc wc = post_raw(ep, op, (uintptr_t)ep->buf, len, ep->mr[SR_MR_FULL]->lkey,
				    ep->remote.mr[rmr].addr + roff,
				    ep->remote.mr[rmr].rkey ^ rkey_xor);
	expect_remote_access_error(&p, wc);
	if (op == IBV_WR_RDMA_READ) {
		for (int i = 0; i < 4096; i++)
			cr_assert_eq(ep->buf[i], 0x5a, "failed READ wrote local memory");
	}
	sr_pair_stop(&p);
}

Test(rule2_keys, bad_rkey_write_is_rem_access_err_both_sides)
{
	remote_case(IBV_WR_RDMA_WRITE, SR_MR_FULL, 0, 64, 0x3c3c00);
}

Test(rule2_keys, bad_rkey_read_is_rem_access_err_both_sides)
{
	remote_case(IBV_WR_RDMA_READ, SR_MR_FULL, 0, 64, 0x3c3c00);
}

Test(rule2_keys, write_past_remote_mr_end_is_rem_access_err)
{
	remote_case(IBV_WR_RDMA_WRITE, SR_MR_FULL, 65536 - 8, 64, 0);
}

Test(rule2_keys, read_past_remote_mr_end_is_rem_access_err)
{
	remote_case(IBV_WR_RDMA_READ, SR_MR_FULL, 65536 - 8, 64, 0);
}

Test(rule2_keys, write_without_remote_write_access_is_rem_access_err)
{
	remote_case(IBV_WR_RDMA_WRITE, SR_MR_NO_RWRITE, 0, 64, 0);
}

Test(rule2_keys, read_without_remote_read_access_is_rem_access_err)
{
	remote_case(IBV_WR_RDMA_READ, SR_MR_NO_RREAD, 0, 64, 0);
}

Test(rule2_keys, write_to_mr_of_other_pd_is_rem_access_err)
{
	remote_case(IBV_WR_RDMA_WRITE, SR_MR_OTHER_PD, 0, 64, 0);
}

/* WRITE_WITH_IMM consumes the recv it targets, so that recv completes with an
 * error of its own or a flush; either way not SUCCESS, and both QPs go to ERR. */
Test(rule2_keys, write_with_imm_bad_rkey_is_rem_access_err)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	sr_peer_post_recv(&p, 0, PEER_RECV_ID, 0, 64, 1);
	struct sr_ep *ep = &p.side.ep[0];
	struct ibv_wc wc = post_raw(ep, IBV_WR_RDMA_WRITE_WITH_IMM, (uintptr_t)ep->buf, 64,
				    ep->mr[SR_MR_FULL]->lkey, ep->remote.mr[0].addr,
				    ep->remote.mr[0].rkey ^ 0x3c3c00);
	cr_assert_eq(wc.status, IBV_WC_REM_ACCESS_ERR, "got %s", ibv_wc_status_str(wc.status));
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	cr_assert_eq(sr_wait_peer_state(&p, 0, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].wr_id, PEER_RECV_ID);
	cr_assert_neq(rep.wc[0].status, IBV_WC_SUCCESS, "a rejected WRITE_WITH_IMM completed a recv");
	sr_pair_stop(&p);
}

/* Control: the same WRITE and READ with the right keys succeed and move data,
 * so the failures above come from the key/range/access, not the setup. */
Test(rule2_keys, good_keys_succeed)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x5a, 64);
	struct ibv_wc wc = post_raw(ep, IBV_WR_RDMA_WRITE, (uintptr_t)ep->buf, 64,
				    ep->mr[SR_MR_FULL]->lkey, ep->remote.mr[SR_MR_FULL].addr,
				    ep->remote.mr[SR_MR_FULL].rkey);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS, "%s", ibv_wc_status_str(wc.status));
	uint8_t got[64];
	sr_peer_read(&p, 0, 0, 64, got);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(got[i], 0x5a);
	/* READ of the responder's no-remote-write slice is allowed. */
	wc = post_raw(ep, IBV_WR_RDMA_READ, (uintptr_t)ep->buf + 128, 64,
		      ep->mr[SR_MR_FULL]->lkey, ep->remote.mr[SR_MR_NO_RWRITE].addr,
		      ep->remote.mr[SR_MR_NO_RWRITE].rkey);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS, "%s", ibv_wc_status_str(wc.status));
	cr_assert_eq(sr_peer_qp_state(&p, 0), IBV_QPS_RTS);
	sr_pair_stop(&p);
}

/* A WRITE sits behind a SEND that waits for a receive (rnr_retry 7); its MR
 * is deregistered before the WRITE can be accepted: the data and the lkey
 * are read when the WRITE is (re)transmitted, so it completes with
 * LOC_PROT_ERR and nothing lands. */
Test(rule2_keys, mr_deregistered_while_queued_is_loc_prot_err)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 1, 0, 32, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	static uint8_t extra[4096];
	memset(extra, 0xe7, sizeof(extra));
	struct ibv_mr *mr = ibv_reg_mr(ep->pd, extra, sizeof(extra), IBV_ACCESS_LOCAL_WRITE);
	cr_assert_not_null(mr);
	struct ibv_sge sge = { .addr = (uintptr_t)extra, .length = 64, .lkey = mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 2, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED };
	wr.wr.rdma.remote_addr = ep->remote.mr[0].addr + 1024;
	wr.wr.rdma.rkey = ep->remote.mr[0].rkey;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), 0);
	/* Let the first transmissions arrive: the SEND meets the empty RQ and
	 * is NAKed, the WRITE behind it is dropped and must be sent again. */
	cr_assert_eq(sr_poll_quiet(ep->scq, 50), 0);
	cr_assert_eq(ibv_dereg_mr(mr), 0, "dereg with a WR outstanding succeeds (as mlx5)");
	/* Transmissions made before the dereg are delivered (and NAKed or
	 * dropped) before the receive is posted. */
	cr_assert_eq(sr_poll_quiet(ep->scq, 50), 0);
	sr_peer_post_recv(&p, 0, PEER_RECV_ID, 0, 64, 1);
	struct ibv_wc wc[2];
	cr_assert_eq(sr_poll(ep->scq, wc, 2, SR_DEADLINE_MS), 2);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1,
		     "the SEND at the head was never delivered");
	cr_assert_eq(rep.wc[0].status, IBV_WC_SUCCESS);
	cr_assert_eq(rep.wc[0].byte_len, 32);
	cr_assert_eq(wc[0].wr_id, 1);
	cr_assert_eq(wc[0].status, IBV_WC_SUCCESS, "SEND: %s", ibv_wc_status_str(wc[0].status));
	cr_assert_eq(wc[1].wr_id, 2);
	cr_assert_eq(wc[1].status, IBV_WC_LOC_PROT_ERR, "WRITE from a deregistered MR: %s",
		     ibv_wc_status_str(wc[1].status));
	uint8_t landed[64], zero[64] = { 0 };
	sr_peer_read(&p, 0, 1024, 64, landed);
	cr_assert_arr_eq(landed, zero, 64, "the WRITE was placed although its MR was gone");
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	sr_pair_stop(&p);
}

/* The responder's own receive has a bad lkey: the responder completes it with
 * LOC_PROT_ERR and goes to ERR; the requester sees a remote operational error
 * (as mlx5 reports a responder-side local error). */
Test(rule2_keys, bad_recv_lkey_is_loc_prot_at_responder_rem_op_at_requester)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	struct sr_cmd c = { .op = SR_OP_POST_RECV, .ep = 0, .wr_id = PEER_RECV_ID, .off = 0,
			    .len = 64, .n = 1, .bad_lkey = true };
	struct sr_reply rep;
	sr_peer(&p, &c, &rep);
	cr_assert_eq(rep.rc, 0, "the key of a recv is checked when data arrives, not at post");
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 4, 0, 32, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 4, IBV_WC_REM_OP_ERR, NULL);
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].wr_id, PEER_RECV_ID);
	cr_assert_eq(rep.wc[0].status, IBV_WC_LOC_PROT_ERR, "responder: %s",
		     ibv_wc_status_str(rep.wc[0].status));
	cr_assert_eq(sr_wait_peer_state(&p, 0, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	sr_pair_stop(&p);
}
