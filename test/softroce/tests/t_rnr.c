/* Rule 5: SEND and WRITE_WITH_IMM consume a posted receive (plain WRITE does
 * not); with none posted the requester retries rnr_retry times (7: forever)
 * and then fails with RNR_RETRY_EXC_ERR; a recv shorter than the SEND is a
 * length error on both sides. */
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule5_rnr, .fini = sr_teardown, .timeout = 60);

Test(rule5_rnr, rnr_retry_0_to_6_exhausts)
{
	sr_fabric_setup();
	struct sr_ep_opts local[7], peer[7];
	for (int i = 0; i < 7; i++) {
		local[i] = peer[i] = sr_ep_opts_default();
		local[i].rnr_retry = (uint8_t)i;
		local[i].buf_len = peer[i].buf_len = 4096;
	}
	struct sr_pair p;
	sr_pair_start(&p, 7, local, peer);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(sr_post(&p.side.ep[i], IBV_WR_SEND, 100 + (uint64_t)i, 0, 32, 0, 0,
				     IBV_SEND_SIGNALED, 0), 0);
	for (int i = 0; i < 7; i++) {
		struct sr_ep *ep = &p.side.ep[i];
		sr_expect_wc(ep->scq, 100 + (uint64_t)i, IBV_WC_RNR_RETRY_EXC_ERR, NULL);
		cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR,
			     "rnr_retry=%d: requester QP must go to ERR", i);
	}
	/* An RNR NAK is no error for the responder. */
	cr_assert_eq(sr_peer_qp_state(&p, 0), IBV_QPS_RTS);
	sr_pair_stop(&p);
}

Test(rule5_rnr, write_with_imm_without_recv_exhausts)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.rnr_retry = 0;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE_WITH_IMM, 5, 0, 32, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0x01020304), 0);
	sr_expect_wc(ep->scq, 5, IBV_WC_RNR_RETRY_EXC_ERR, NULL);
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	sr_pair_stop(&p);
}

Test(rule5_rnr, rnr_retry_7_waits_for_a_late_recv)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p); /* rnr_retry 7 */
	struct sr_ep *ep = &p.side.ep[0];
	memset(ep->buf, 0x3e, 32);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 1, 0, 32, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	/* Far more RNR timer periods than six retries would take. */
	cr_assert_eq(sr_poll_quiet(ep->scq, 300), 0, "rnr_retry=7 must retry forever");
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS);
	sr_peer_post_recv(&p, 0, 0x99, 0, 64, 1);
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, NULL);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].wr_id, 0x99);
	cr_assert_eq(rep.wc[0].status, IBV_WC_SUCCESS);
	cr_assert_eq(rep.wc[0].byte_len, 32);
	uint8_t got[32];
	sr_peer_read(&p, 0, 0, 32, got);
	for (int i = 0; i < 32; i++)
		cr_assert_eq(got[i], 0x3e);
	sr_pair_stop(&p);
}

Test(rule5_rnr, plain_write_consumes_no_recv)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 0x51, 0, 64, 1);
	memset(ep->buf, 0x11, 64);
	memset(ep->buf + 64, 0x22, 16);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 1, 0, 64, SR_MR_FULL, 1024,
			     IBV_SEND_SIGNALED, 0), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 2, 64, 16, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, NULL);
	sr_expect_wc(ep->scq, 2, IBV_WC_SUCCESS, NULL);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 2, 200, &rep), 1, "one recv CQE, for the SEND only");
	cr_assert_eq(rep.wc[0].wr_id, 0x51);
	cr_assert_eq(rep.wc[0].opcode, IBV_WC_RECV);
	cr_assert_eq(rep.wc[0].byte_len, 16, "the recv holds the SEND, not the WRITE");
	sr_pair_stop(&p);
}

Test(rule5_rnr, send_longer_than_recv_is_length_error_both_sides)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 0x61, 0, 16, 1);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 7, 0, 64, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 7, IBV_WC_REM_INV_REQ_ERR, NULL);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].wr_id, 0x61);
	cr_assert_eq(rep.wc[0].status, IBV_WC_LOC_LEN_ERR, "responder: %s (mlx5: LOC_LEN_ERR)",
		     ibv_wc_status_str(rep.wc[0].status));
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	cr_assert_eq(sr_wait_peer_state(&p, 0, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	sr_pair_stop(&p);
}
