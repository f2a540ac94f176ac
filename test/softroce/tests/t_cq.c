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

/* Wait for an event of type want on ctx, skipping others; returns the event. */
static struct ibv_async_event wait_event(struct ibv_context *ctx, enum ibv_event_type want)
{
	struct ibv_async_event ev;
	for (int i = 0; i < 8; i++) {
		int t = sr_async_event(ctx, SR_DEADLINE_MS, &ev);
		cr_assert_neq(t, -1, "no async event %s within %d ms", ibv_event_type_str(want),
			      SR_DEADLINE_MS);
		if (t == (int)want)
			return ev;
	}
	cr_assert_fail("event %s never came", ibv_event_type_str(want));
	return ev;
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
	struct ibv_async_event ev = wait_event(ep->ctx, IBV_EVENT_CQ_ERR);
	cr_assert_eq(ev.element.cq, ep->scq, "CQ_ERR names the wrong CQ");
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
