/* Rule 1: the RC QP state machine, required/optional attribute masks per
 * transition (ibv_modify_qp(3) RC table), RoCE address checks, posting
 * before RTS. A rejected modify leaves the QP where it was. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule1_qp_state, .fini = sr_teardown, .timeout = 30);

struct fixture {
	struct sr_side side;
	struct sr_ep *ep;
	union ibv_gid peer_gid;
};

/* One endpoint on host a left in INIT; peer_gid is host b's address (no peer
 * process: transitions do not need one). */
static void setup(struct fixture *f)
{
	sr_fabric_setup();
	memset(f, 0, sizeof(*f));
	struct sr_ep_opts o = sr_ep_opts_default();
	f->ep = sr_ep_create(&f->side, &o);
	static const uint8_t b_gid[16] = { [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 168,
					   [14] = 100, [15] = 2 };
	memcpy(f->peer_gid.raw, b_gid, 16);
}

static int to_rtr(struct fixture *f, int drop, int add, void (*tweak)(struct ibv_qp_attr *))
{
	struct ibv_qp_attr attr;
	int mask;
	sr_rtr_attr(&attr, &mask, &f->peer_gid, 0x123456, 3);
	if (tweak)
		tweak(&attr);
	return ibv_modify_qp(f->ep->qp, &attr, (mask & ~drop) | add);
}

static int to_rts(struct fixture *f, int drop, int add)
{
	struct ibv_qp_attr attr;
	int mask;
	sr_rts_attr(&attr, &mask);
	return ibv_modify_qp(f->ep->qp, &attr, (mask & ~drop) | add);
}

static int to_state(struct ibv_qp *qp, enum ibv_qp_state s)
{
	struct ibv_qp_attr attr = { .qp_state = s };
	return ibv_modify_qp(qp, &attr, IBV_QP_STATE);
}

Test(rule1_qp_state, full_path_succeeds)
{
	struct fixture f;
	setup(&f);
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_INIT);
	cr_assert_eq(to_rtr(&f, 0, 0, NULL), 0);
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_RTR);
	cr_assert_eq(to_rts(&f, 0, 0), 0);
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_RTS);
	cr_assert_lt(f.ep->qp->qp_num, 1u << 24, "QPN is 24 bits");
}

Test(rule1_qp_state, reset_to_init_requires_each_mask)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_context *ctx = sr_open(&side, SR_HCA0);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_cq *cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	cr_assert(pd && cq);
	struct ibv_qp_init_attr ia = { .send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = 4, .max_recv_wr = 4,
						.max_send_sge = 1, .max_recv_sge = 1 } };
	struct ibv_qp *qp = ibv_create_qp(pd, &ia);
	cr_assert_not_null(qp);
	cr_assert_eq(sr_qp_state(qp), IBV_QPS_RESET);
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				    .qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE };
	const int full = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
	const int required[] = { IBV_QP_PKEY_INDEX, IBV_QP_PORT, IBV_QP_ACCESS_FLAGS };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		cr_expect_eq(ibv_modify_qp(qp, &attr, full & ~required[i]), EINVAL,
			     "RESET->INIT without mask %#x must be EINVAL", required[i]);
		cr_assert_eq(sr_qp_state(qp), IBV_QPS_RESET, "a rejected modify moved the QP");
	}
	/* Extra (not allowed) attribute at RESET->INIT. */
	attr.sq_psn = 1;
	cr_expect_eq(ibv_modify_qp(qp, &attr, full | IBV_QP_SQ_PSN), EINVAL,
		     "RESET->INIT with SQ_PSN must be EINVAL");
	cr_assert_eq(ibv_modify_qp(qp, &attr, full), 0);
	cr_assert_eq(sr_qp_state(qp), IBV_QPS_INIT);
	ibv_destroy_qp(qp);
	ibv_destroy_cq(cq);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
}

Test(rule1_qp_state, illegal_transitions_are_einval)
{
	struct fixture f;
	setup(&f);
	/* INIT -> RTS skips RTR. */
	cr_expect_eq(to_rts(&f, 0, 0), EINVAL, "INIT->RTS must be EINVAL");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_INIT);
	/* RESET -> RTR skips INIT. */
	cr_assert_eq(to_state(f.ep->qp, IBV_QPS_RESET), 0);
	cr_expect_eq(to_rtr(&f, 0, 0, NULL), EINVAL, "RESET->RTR must be EINVAL");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_RESET);
	/* RESET -> RTS. */
	cr_expect_eq(to_rts(&f, 0, 0), EINVAL, "RESET->RTS must be EINVAL");
	/* ERR -> RTS is illegal; ERR -> RESET is legal. */
	cr_assert_eq(to_state(f.ep->qp, IBV_QPS_ERR), 0, "any state -> ERR");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_ERR);
	cr_expect_eq(to_rts(&f, 0, 0), EINVAL, "ERR->RTS must be EINVAL");
	cr_expect_eq(to_state(f.ep->qp, IBV_QPS_INIT), EINVAL, "ERR->INIT without masks");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_ERR);
	cr_assert_eq(to_state(f.ep->qp, IBV_QPS_RESET), 0, "any state -> RESET");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_RESET);
}

Test(rule1_qp_state, rtr_requires_each_mask)
{
	struct fixture f;
	setup(&f);
	const int required[] = { IBV_QP_AV, IBV_QP_PATH_MTU, IBV_QP_DEST_QPN, IBV_QP_RQ_PSN,
				 IBV_QP_MAX_DEST_RD_ATOMIC, IBV_QP_MIN_RNR_TIMER };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		cr_expect_eq(to_rtr(&f, required[i], 0, NULL), EINVAL,
			     "INIT->RTR without mask %#x must be EINVAL", required[i]);
		cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_INIT);
	}
}

Test(rule1_qp_state, rtr_rejects_extra_mask)
{
	struct fixture f;
	setup(&f);
	cr_expect_eq(to_rtr(&f, 0, IBV_QP_SQ_PSN, NULL), EINVAL, "SQ_PSN is not an RTR attribute");
	cr_expect_eq(to_rtr(&f, 0, IBV_QP_TIMEOUT, NULL), EINVAL, "TIMEOUT is not an RTR attribute");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_INIT);
	/* Optional ones are fine. */
	cr_assert_eq(to_rtr(&f, 0, IBV_QP_PKEY_INDEX, NULL), 0);
}

static void not_global(struct ibv_qp_attr *a) { a->ah_attr.is_global = 0; }
static void bad_sgid(struct ibv_qp_attr *a) { a->ah_attr.grh.sgid_index = 200; }
static void missing_sgid(struct ibv_qp_attr *a) { a->ah_attr.grh.sgid_index = 4; }
static void zero_port(struct ibv_qp_attr *a) { a->ah_attr.port_num = 0; }

Test(rule1_qp_state, roce_rtr_needs_is_global)
{
	struct fixture f;
	setup(&f);
	cr_expect_eq(to_rtr(&f, 0, 0, not_global), EINVAL, "RoCE RTR with is_global=0");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_INIT);
	cr_assert_eq(to_rtr(&f, 0, 0, NULL), 0);
}

Test(rule1_qp_state, roce_rtr_needs_existing_sgid)
{
	struct fixture f;
	setup(&f);
	cr_expect_eq(to_rtr(&f, 0, 0, bad_sgid), EINVAL, "sgid_index 200 does not exist");
	/* The default table holds entries 0..3 only. */
	cr_expect_eq(to_rtr(&f, 0, 0, missing_sgid), EINVAL, "sgid_index 4 is empty");
	cr_expect_eq(to_rtr(&f, 0, 0, zero_port), EINVAL, "ah_attr.port_num 0");
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_INIT);
}

Test(rule1_qp_state, rts_requires_each_mask)
{
	struct fixture f;
	setup(&f);
	cr_assert_eq(to_rtr(&f, 0, 0, NULL), 0);
	const int required[] = { IBV_QP_SQ_PSN, IBV_QP_TIMEOUT, IBV_QP_RETRY_CNT,
				 IBV_QP_RNR_RETRY, IBV_QP_MAX_QP_RD_ATOMIC };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		cr_expect_eq(to_rts(&f, required[i], 0), EINVAL,
			     "RTR->RTS without mask %#x must be EINVAL", required[i]);
		cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_RTR);
	}
	cr_expect_eq(to_rts(&f, 0, IBV_QP_PATH_MTU), EINVAL, "PATH_MTU is not an RTS attribute");
	cr_assert_eq(to_rts(&f, 0, 0), 0);
	/* RTS -> RTS: MIN_RNR_TIMER optional, PATH_MTU not allowed. */
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_RTS, .min_rnr_timer = 12,
				    .path_mtu = IBV_MTU_1024 };
	cr_expect_eq(ibv_modify_qp(f.ep->qp, &attr, IBV_QP_STATE | IBV_QP_MIN_RNR_TIMER), 0);
	cr_expect_eq(ibv_modify_qp(f.ep->qp, &attr, IBV_QP_STATE | IBV_QP_PATH_MTU), EINVAL);
	cr_assert_eq(sr_qp_state(f.ep->qp), IBV_QPS_RTS);
}

static int post_one_send(struct sr_ep *ep)
{
	struct ibv_sge sge = { .addr = (uintptr_t)ep->buf, .length = 8,
			       .lkey = ep->mr[SR_MR_FULL]->lkey };
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED };
	wr.wr.rdma.remote_addr = 0x1000;
	wr.wr.rdma.rkey = 0x100;
	struct ibv_send_wr *bad = NULL;
	int rc = ibv_post_send(ep->qp, &wr, &bad);
	if (rc)
		cr_expect_eq(bad, &wr, "bad_wr must point at the rejected WR");
	return rc;
}

Test(rule1_qp_state, post_send_before_rts_is_einval)
{
	struct fixture f;
	setup(&f);
	cr_expect_eq(post_one_send(f.ep), EINVAL, "post_send in INIT");
	cr_assert_eq(to_rtr(&f, 0, 0, NULL), 0);
	cr_expect_eq(post_one_send(f.ep), EINVAL, "post_send in RTR");
	cr_assert_eq(to_state(f.ep->qp, IBV_QPS_RESET), 0);
	cr_expect_eq(post_one_send(f.ep), EINVAL, "post_send in RESET");
	/* Nothing was queued: no completion ever shows up. */
	cr_assert_eq(sr_poll_quiet(f.ep->scq, 50), 0);
}

Test(rule1_qp_state, post_recv_legal_from_init)
{
	struct fixture f;
	setup(&f);
	cr_assert_eq(sr_post_recv(f.ep, 7, 0, 64), 0, "post_recv in INIT is legal");
	cr_assert_eq(to_rtr(&f, 0, 0, NULL), 0);
	cr_assert_eq(sr_post_recv(f.ep, 8, 64, 64), 0, "post_recv in RTR is legal");
	cr_assert_eq(to_state(f.ep->qp, IBV_QPS_RESET), 0);
	cr_expect_eq(sr_post_recv(f.ep, 9, 0, 64), EINVAL, "post_recv in RESET");
}
