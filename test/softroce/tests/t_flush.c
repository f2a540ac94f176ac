/* Rule 7: a QP in ERR flushes every outstanding WR (SQ including unsignaled
 * ones, RQ) with IBV_WC_WR_FLUSH_ERR, in order; WRs posted in ERR are flushed
 * too; RESET drops WQEs silently; destroy with WRs outstanding succeeds. */
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule7_flush, .fini = sr_teardown, .timeout = 60);

#define NRECV 3

/* The peer posts no recv and the requester has rnr_retry 7, so a SEND at
 * the head of the SQ waits forever and the WRITEs behind it stay queued:
 * SQ = SEND 1 (signaled), WRITE 2, 3 (unsignaled), 4 (signaled), 5
 * (unsignaled); RQ = recvs 100..102. */
static void fill_queues(struct sr_pair *p)
{
	sr_fabric_setup();
	sr_pair_default(p);
	struct sr_ep *ep = &p->side.ep[0];
	for (int i = 0; i < NRECV; i++)
		cr_assert_eq(sr_post_recv(ep, 100 + (uint64_t)i, 64 * (uint32_t)i, 64), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 1, 0, 16, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	static const int flags[] = { 0, 0, IBV_SEND_SIGNALED, 0 };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 2 + (uint64_t)i, 0, 16, SR_MR_FULL,
				     4096, flags[i], 0), 0);
	/* Let the SEND meet the empty RQ a few times. */
	cr_assert_eq(sr_poll_quiet(ep->scq, 30), 0, "nothing can complete yet");
}

static void to_state(struct ibv_qp *qp, enum ibv_qp_state s)
{
	struct ibv_qp_attr attr = { .qp_state = s };
	cr_assert_eq(ibv_modify_qp(qp, &attr, IBV_QP_STATE), 0);
}

static void expect_flushed(struct ibv_cq *cq, uint64_t first, int n, uint32_t qpn)
{
	struct ibv_wc wc[16];
	cr_assert_eq(sr_poll(cq, wc, n, SR_DEADLINE_MS), n, "want %d flush CQEs", n);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(wc[i].wr_id, first + (uint64_t)i, "flush CQE %d is wr_id %llu", i,
			     (unsigned long long)wc[i].wr_id);
		cr_assert_eq(wc[i].status, IBV_WC_WR_FLUSH_ERR, "wr_id %llu: %s",
			     (unsigned long long)wc[i].wr_id, ibv_wc_status_str(wc[i].status));
		cr_assert_eq(wc[i].qp_num, qpn);
	}
}

Test(rule7_flush, err_flushes_sq_including_unsignaled_and_rq)
{
	struct sr_pair p;
	fill_queues(&p);
	struct sr_ep *ep = &p.side.ep[0];
	to_state(ep->qp, IBV_QPS_ERR);
	expect_flushed(ep->scq, 1, 5, ep->qp->qp_num);
	expect_flushed(ep->rcq, 100, NRECV, ep->qp->qp_num);
	cr_assert_eq(sr_poll_quiet(ep->scq, 30) + sr_poll_quiet(ep->rcq, 30), 0,
		     "each WR is flushed exactly once");
	sr_pair_stop(&p);
}

Test(rule7_flush, wrs_posted_in_err_are_flushed)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	to_state(ep->qp, IBV_QPS_ERR);
	memset(ep->buf, 0x6b, 64);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 7, 0, 64, SR_MR_FULL, 0, 0, 0), 0,
		     "posting in ERR is accepted");
	cr_assert_eq(sr_post_recv(ep, 8, 0, 64), 0);
	expect_flushed(ep->scq, 7, 1, ep->qp->qp_num);
	expect_flushed(ep->rcq, 8, 1, ep->qp->qp_num);
	uint8_t got[64], zero[64] = { 0 };
	sr_peer_read(&p, 0, 0, 64, got);
	cr_assert_arr_eq(got, zero, 64, "a WR posted in ERR must not execute");
	sr_pair_stop(&p);
}

/* The first failing WR completes with its real status, everything behind it
 * is flushed and never reaches the responder. */
Test(rule7_flush, error_cqe_then_flush_of_the_rest)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x77, 256);
	struct ibv_sge sge = { .addr = (uintptr_t)ep->buf, .length = 64,
			       .lkey = ep->mr[SR_MR_FULL]->lkey };
	struct ibv_send_wr bad_key = { .wr_id = 1, .sg_list = &sge, .num_sge = 1,
				       .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED };
	bad_key.wr.rdma.remote_addr = ep->remote.mr[0].addr;
	bad_key.wr.rdma.rkey = ep->remote.mr[0].rkey ^ 0x101000;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, &bad_key, &bad), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 2, 0, 64, SR_MR_FULL, 2048, 0, 0), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 3, 0, 64, SR_MR_FULL, 2112, IBV_SEND_SIGNALED,
			     0), 0);
	sr_expect_wc(ep->scq, 1, IBV_WC_REM_ACCESS_ERR, NULL);
	expect_flushed(ep->scq, 2, 2, ep->qp->qp_num);
	uint8_t got[128], zero[128] = { 0 };
	sr_peer_read(&p, 0, 2048, sizeof(got), got);
	cr_assert_arr_eq(got, zero, sizeof(got), "WRs behind the failed one were placed");
	sr_pair_stop(&p);
}

Test(rule7_flush, reset_drops_wqes_silently)
{
	struct sr_pair p;
	fill_queues(&p);
	struct sr_ep *ep = &p.side.ep[0];
	to_state(ep->qp, IBV_QPS_RESET);
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RESET);
	cr_assert_eq(sr_poll_quiet(ep->scq, 100), 0, "RESET must not complete send WRs");
	cr_assert_eq(sr_poll_quiet(ep->rcq, 20), 0, "RESET must not complete recv WRs");
	/* The dropped recvs are gone for good: back to INIT and a fresh recv
	 * flushed by ERR is the only CQE. */
	cr_assert_eq(sr_modify_init(ep->qp, 1), 0);
	cr_assert_eq(sr_post_recv(ep, 555, 0, 64), 0);
	to_state(ep->qp, IBV_QPS_ERR);
	expect_flushed(ep->rcq, 555, 1, ep->qp->qp_num);
	cr_assert_eq(sr_poll_quiet(ep->rcq, 30), 0);
	sr_pair_stop(&p);
}

Test(rule7_flush, destroy_with_wrs_outstanding_succeeds)
{
	struct sr_pair p;
	fill_queues(&p);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(ibv_destroy_qp(ep->qp), 0);
	ep->qp = NULL;
	cr_assert_eq(sr_poll_quiet(ep->scq, 30), 0, "a destroyed QP's WRs vanish");
	sr_pair_stop(&p);
}
