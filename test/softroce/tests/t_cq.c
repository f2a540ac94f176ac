/* Rule 4: CQ sizes round up to 2^n - 1; an overrun raises IBV_EVENT_CQ_ERR
 * (never silent loss) and the bound QPs go to error. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule4_cq, .fini = sr_teardown, .timeout = 60);

Test(rule4_cq, create_cq_rounds_up_to_pow2_minus_1)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_context *ctx = sr_open(&side, SR_HCA0);
	static const int asks[] = { 1, 3, 4, 100, 1000, 4096 };
	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		struct ibv_cq *cq = ibv_create_cq(ctx, asks[i], NULL, NULL, 0);
		cr_assert_not_null(cq, "create_cq(%d)", asks[i]);
		unsigned n = (unsigned)cq->cqe + 1;
		cr_assert_geq(cq->cqe, asks[i], "cqe %d below the request %d", cq->cqe, asks[i]);
		cr_assert_eq(n & (n - 1), 0u, "cqe %d is not 2^n - 1", cq->cqe);
		cr_assert_eq(ibv_destroy_cq(cq), 0);
	}
	struct ibv_device_attr da;
	cr_assert_eq(ibv_query_device(ctx, &da), 0);
	errno = 0;
	cr_assert_null(ibv_create_cq(ctx, da.max_cqe + 1, NULL, NULL, 0), "cqe above max_cqe");
	cr_assert_eq(errno, EINVAL);
	sr_side_destroy(&side);
}

Test(rule4_cq, send_cq_overrun_raises_cq_err)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep_opts peer = o;
	o.cqe = 4;
	o.max_send_wr = 64;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	int cap = ep->scq->cqe;
	cr_assert_lt(cap + 4, (int)ep->cap.max_send_wr);
	for (int i = 0; i < cap + 4; i++)
		cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, (uint64_t)i, 8 * (uint32_t)i, 8,
				     SR_MR_FULL, 8 * (uint32_t)i, IBV_SEND_SIGNALED, 0), 0);
	/* CQ_ERR for the CQ, and (as mlx5) QP_FATAL for the QP completing into it. */
	bool cq_err = false, qp_fatal = false;
	for (int i = 0; i < 8 && !(cq_err && qp_fatal); i++) {
		struct ibv_async_event ev;
		int t = sr_async_event(ep->ctx, SR_DEADLINE_MS, &ev);
		cr_assert_neq(t, -1, "async events so far: CQ_ERR %d, QP_FATAL %d", cq_err, qp_fatal);
		if (t == IBV_EVENT_CQ_ERR) {
			cr_assert_eq(ev.element.cq, ep->scq, "CQ_ERR names the wrong CQ");
			cq_err = true;
		} else if (t == IBV_EVENT_QP_FATAL) {
			cr_assert_eq(ev.element.qp, ep->qp, "QP_FATAL names the wrong QP");
			qp_fatal = true;
		}
	}
	cr_assert(cq_err, "no IBV_EVENT_CQ_ERR: silent loss");
	cr_assert(qp_fatal, "no IBV_EVENT_QP_FATAL for the bound QP");
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR,
		     "a QP bound to an overrun CQ goes to ERR");
	sr_pair_stop(&p);
}

Test(rule4_cq, recv_cq_overrun_raises_cq_err_at_responder)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep_opts peer = o;
	peer.cqe = 4;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	int n = 16; /* well beyond a 4-entry (rounded: at most 7) CQ */
	sr_peer_post_recv(&p, 0, 0, 0, 64, (uint32_t)n);
	for (int i = 0; i < n; i++)
		cr_assert_eq(sr_post(ep, IBV_WR_SEND, (uint64_t)i, 0, 16, 0, 0, 0, 0), 0);
	struct sr_cmd c = { .op = SR_OP_ASYNC, .ep = 0, .timeout_ms = SR_DEADLINE_MS };
	struct sr_reply rep;
	int seen = -1;
	for (int i = 0; i < 8 && seen != IBV_EVENT_CQ_ERR; i++) {
		sr_peer(&p, &c, &rep);
		seen = rep.rc;
		cr_assert_neq(seen, -1, "responder got no CQ_ERR event");
	}
	cr_assert_eq(seen, IBV_EVENT_CQ_ERR);
	cr_assert_eq(sr_wait_peer_state(&p, 0, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	sr_pair_stop(&p);
}

/* Control: the same traffic with polling in between loses nothing. */
Test(rule4_cq, polled_cq_never_overruns)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep_opts peer = o;
	o.cqe = 4;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	int cap = ep->scq->cqe;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < cap; i++)
			cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, (uint64_t)i, 0, 8, SR_MR_FULL, 0,
					     IBV_SEND_SIGNALED, 0), 0);
		struct ibv_wc wc[64];
		cr_assert_eq(sr_poll(ep->scq, wc, cap, SR_DEADLINE_MS), cap);
		for (int i = 0; i < cap; i++)
			cr_assert_eq(wc[i].status, IBV_WC_SUCCESS);
	}
	cr_assert_eq(sr_async_event(ep->ctx, 20, NULL), -1, "no async event expected");
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS);
	sr_pair_stop(&p);
}

/* The kernel's use counts: a CQ with a QP, a PD with an MR or QP cannot go. */
Test(rule4_cq, destroy_in_use_is_ebusy)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep *ep = sr_ep_create(&side, &o);
	cr_assert_eq(ibv_destroy_cq(ep->scq), EBUSY, "CQ with a QP attached");
	cr_assert_eq(ibv_dealloc_pd(ep->pd), EBUSY, "PD with MRs and a QP");
	cr_assert_eq(ibv_destroy_qp(ep->qp), 0);
	ep->qp = NULL;
	cr_assert_eq(ibv_dealloc_pd(ep->pd2), EBUSY, "PD with an MR");
	sr_side_destroy(&side);
}
