/* The extended verbs a ConnectX-7 offers and perftest uses by default:
 * ibv_wr_* on a QP created with send_ops_flags (same checks as
 * ibv_post_send, a batch is posted whole or not at all), ibv_create_cq_ex
 * polling, and the capabilities softroce advertises (only what it models). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(wr_api, .fini = sr_teardown, .timeout = 60);
TestSuite(cq_ex, .fini = sr_teardown, .timeout = 60);
TestSuite(caps, .fini = sr_teardown, .timeout = 60);

#define ALL_OPS (IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | \
		 IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM | IBV_QP_EX_WITH_RDMA_READ)

static struct sr_ep *pair_ex(struct sr_pair *p, uint64_t ops, bool connect)
{
	sr_fabric_setup();
	struct sr_ep_opts lo = sr_ep_opts_default(), po = sr_ep_opts_default();
	lo.send_ops = ops;
	lo.connect = connect;
	po.connect = connect;
	sr_pair_start(p, 1, &lo, &po);
	return &p->side.ep[0];
}

static void sge_at(struct sr_ep *ep, uint32_t off, uint32_t len)
{
	ibv_wr_set_sge(ep->qpx, ep->mr[SR_MR_FULL]->lkey, (uintptr_t)(ep->buf + off), len);
}

Test(wr_api, write_send_imm_inline_read_arrive)
{
	struct sr_pair p;
	struct sr_ep *ep = pair_ex(&p, ALL_OPS, true);
	const struct sr_mr_info *r = &ep->remote.mr[SR_MR_FULL];
	for (int i = 0; i < 256; i++)
		ep->buf[i] = (uint8_t)(i * 7 + 1);
	sr_peer_fill(&p, 0, 4096, 128, 0x3c);
	sr_peer_post_recv(&p, 0, 77, 8192, 64, 1);
	char msg[] = "inline hello";

	ibv_wr_start(ep->qpx);
	ep->qpx->wr_id = 1;
	ep->qpx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_rdma_write(ep->qpx, r->rkey, r->addr + 1000);
	sge_at(ep, 0, 256);
	ep->qpx->wr_id = 2;
	ibv_wr_send_imm(ep->qpx, htobe32(0xfeed));
	ibv_wr_set_inline_data(ep->qpx, msg, sizeof(msg));
	memset(msg, 0, sizeof(msg));             /* copied at the call */
	ep->qpx->wr_id = 3;
	ibv_wr_rdma_read(ep->qpx, r->rkey, r->addr + 4096);
	sge_at(ep, 2048, 128);
	cr_assert_eq(ibv_wr_complete(ep->qpx), 0);

	struct ibv_wc wc[3];
	cr_assert_eq(sr_poll(ep->scq, wc, 3, SR_DEADLINE_MS), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(wc[i].status, IBV_WC_SUCCESS, "wr %d: %s", i + 1,
			     ibv_wc_status_str(wc[i].status));
		cr_assert_eq(wc[i].wr_id, (uint64_t)i + 1);
	}
	cr_assert_eq(wc[0].opcode, IBV_WC_RDMA_WRITE);
	cr_assert_eq(wc[1].opcode, IBV_WC_SEND);
	cr_assert_eq(wc[2].opcode, IBV_WC_RDMA_READ);
	uint8_t got[256];
	sr_peer_read(&p, 0, 1000, 256, got);
	cr_assert_arr_eq(got, ep->buf, 256, "written bytes differ");
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].wr_id, 77);
	cr_assert_eq(rep.wc[0].byte_len, sizeof(msg));
	cr_assert(rep.wc[0].wc_flags & IBV_WC_WITH_IMM);
	cr_assert_eq(be32toh(rep.wc[0].imm_data), 0xfeed);
	sr_peer_read(&p, 0, 8192, sizeof(msg), got);
	cr_assert_str_eq((char *)got, "inline hello");
	for (int i = 0; i < 128; i++)
		cr_assert_eq(ep->buf[2048 + i], 0x3c, "read byte %d", i);
	sr_pair_stop(&p);
}

/* One bad WR (too many SGEs, as ibv_post_send's ENOMEM) and the whole batch
 * is refused: the good WR before it must not go out either. */
Test(wr_api, a_bad_wr_fails_the_whole_batch)
{
	struct sr_pair p;
	struct sr_ep *ep = pair_ex(&p, ALL_OPS, true);
	const struct sr_mr_info *r = &ep->remote.mr[SR_MR_FULL];
	struct ibv_sge sg[8];
	for (int i = 0; i < 8; i++)
		sg[i] = (struct ibv_sge){ (uintptr_t)ep->buf, 8, ep->mr[SR_MR_FULL]->lkey };
	memset(ep->buf, 0x11, 64);
	sr_peer_fill(&p, 0, 0, 64, 0);
	ibv_wr_start(ep->qpx);
	ep->qpx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_rdma_write(ep->qpx, r->rkey, r->addr);
	sge_at(ep, 0, 64);
	ibv_wr_rdma_write(ep->qpx, r->rkey, r->addr);
	ibv_wr_set_sge_list(ep->qpx, ep->cap.max_send_sge + 1, sg);
	cr_assert_eq(ibv_wr_complete(ep->qpx), ENOMEM);
	cr_assert_eq(sr_poll_quiet(ep->scq, 200), 0, "a refused batch completed");
	uint8_t got[64], zero[64] = { 0 };
	sr_peer_read(&p, 0, 0, 64, got);
	cr_assert_arr_eq(got, zero, 64, "the good WR of a refused batch went out");
	/* inline data longer than the QP's max_inline_data: EINVAL, as post_send */
	uint8_t big[4096] = { 0 };
	ibv_wr_start(ep->qpx);
	ibv_wr_send(ep->qpx);
	ibv_wr_set_inline_data(ep->qpx, big, ep->cap.max_inline_data + 1);
	cr_assert_eq(ibv_wr_complete(ep->qpx), EINVAL);
	sr_pair_stop(&p);
}

Test(wr_api, same_state_rule_as_post_send)
{
	struct sr_pair p;
	struct sr_ep *ep = pair_ex(&p, ALL_OPS, false);   /* stays in INIT */
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 1, 0, 8, 0, 0, IBV_SEND_SIGNALED, 0), EINVAL);
	ibv_wr_start(ep->qpx);
	ibv_wr_send(ep->qpx);
	sge_at(ep, 0, 8);
	cr_assert_eq(ibv_wr_complete(ep->qpx), EINVAL, "ibv_wr_* posted before RTS");
	sr_pair_stop(&p);
}

Test(wr_api, misuse_fails_at_complete)
{
	struct sr_pair p;
	struct sr_ep *ep = pair_ex(&p, IBV_QP_EX_WITH_RDMA_WRITE, true);
	const struct sr_mr_info *r = &ep->remote.mr[SR_MR_FULL];
	ibv_wr_start(ep->qpx);
	ibv_wr_send(ep->qpx);                   /* not in send_ops_flags */
	sge_at(ep, 0, 8);
	cr_assert_eq(ibv_wr_complete(ep->qpx), EINVAL);
	ibv_wr_start(ep->qpx);
	sge_at(ep, 0, 8);                        /* a setter before any opcode */
	cr_assert_eq(ibv_wr_complete(ep->qpx), EINVAL);
	cr_assert_eq(ibv_wr_complete(ep->qpx), EINVAL, "complete without start");
	ibv_wr_start(ep->qpx);
	ibv_wr_start(ep->qpx);                   /* nested: mlx5 self-deadlocks */
	cr_assert_eq(ibv_wr_complete(ep->qpx), EINVAL);
	/* abort drops what was built; an empty batch posts fine */
	ibv_wr_start(ep->qpx);
	ep->qpx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_rdma_write(ep->qpx, r->rkey, r->addr);
	sge_at(ep, 0, 8);
	ibv_wr_abort(ep->qpx);
	ibv_wr_start(ep->qpx);
	cr_assert_eq(ibv_wr_complete(ep->qpx), 0);
	cr_assert_eq(sr_poll_quiet(ep->scq, 200), 0, "an aborted WR completed");
	sr_pair_stop(&p);
}

Test(wr_api, create_refuses_unmodelled_ops)
{
	sr_fabric_setup();
	struct sr_side s = { 0 };
	struct ibv_context *ctx = sr_open(&s, SR_HCA0);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_cq *cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	cr_assert(pd && cq);
	struct ibv_qp_init_attr_ex ix = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC, .pd = pd,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4, .max_send_sge = 1, .max_recv_sge = 1 },
		.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		.send_ops_flags = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD,
	};
	errno = 0;
	cr_assert_null(ibv_create_qp_ex(ctx, &ix));
	cr_assert_eq(errno, EOPNOTSUPP);
	ix.comp_mask = IBV_QP_INIT_ATTR_PD;       /* plain QP: no qp_ex */
	struct ibv_qp *qp = ibv_create_qp_ex(ctx, &ix);
	cr_assert_not_null(qp);
	cr_assert_null(ibv_qp_to_qp_ex(qp));
	ibv_destroy_qp(qp);
	ibv_destroy_cq(cq);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&s);
}

static void nap_1ms(void)
{
	struct timespec ts = { 0, 1000000 };
	nanosleep(&ts, NULL);
}

Test(cq_ex, start_next_end_poll_read_fields)
{
	sr_fabric_setup();
	struct sr_ep_opts lo = sr_ep_opts_default(), po = sr_ep_opts_default();
	lo.cq_wc_flags = IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_QP_NUM;
	struct sr_pair p;
	sr_pair_start(&p, 1, &lo, &po);
	struct sr_ep *ep = &p.side.ep[0];
	struct ibv_poll_cq_attr pa = { 0 };
	cr_assert_eq(ibv_start_poll(ep->scqx, &pa), ENOENT, "empty CQ");
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 5, 0, 100, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_READ, 6, 0, 300, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	long long end = sr_now_ms() + SR_DEADLINE_MS;
	int rc;
	while ((rc = ibv_start_poll(ep->scqx, &pa)) == ENOENT && sr_now_ms() < end)
		nap_1ms();
	cr_assert_eq(rc, 0);
	cr_assert_eq(ep->scqx->wr_id, 5);
	cr_assert_eq(ep->scqx->status, IBV_WC_SUCCESS);
	cr_assert_eq(ibv_wc_read_opcode(ep->scqx), IBV_WC_RDMA_WRITE);
	cr_assert_eq(ibv_wc_read_qp_num(ep->scqx), ep->qp->qp_num);
	cr_assert_eq(ibv_wc_read_src_qp(ep->scqx), 0xa5a5a5a5u, "a field not asked for is poison");
	cr_assert_eq(ibv_start_poll(ep->scqx, &pa), EINVAL, "start_poll twice (mlx5 deadlocks)");
	while ((rc = ibv_next_poll(ep->scqx)) == ENOENT && sr_now_ms() < end)
		nap_1ms();
	cr_assert_eq(rc, 0);
	cr_assert_eq(ep->scqx->wr_id, 6);
	cr_assert_eq(ibv_wc_read_opcode(ep->scqx), IBV_WC_RDMA_READ);
	cr_assert_eq(ibv_wc_read_byte_len(ep->scqx), 300);
	cr_assert_eq(ibv_next_poll(ep->scqx), ENOENT);
	ibv_end_poll(ep->scqx);
	sr_pair_stop(&p);
}

Test(cq_ex, unmodelled_wc_flags_refused)
{
	sr_fabric_setup();
	struct sr_side s = { 0 };
	struct ibv_context *ctx = sr_open(&s, SR_HCA0);
	struct ibv_cq_init_attr_ex ca = {
		.cqe = 16, .wc_flags = IBV_WC_EX_WITH_COMPLETION_TIMESTAMP,
	};
	errno = 0;
	cr_assert_null(ibv_create_cq_ex(ctx, &ca));
	cr_assert_eq(errno, EOPNOTSUPP);
	ca.wc_flags = IBV_WC_STANDARD_FLAGS;
	struct ibv_cq_ex *cq = ibv_create_cq_ex(ctx, &ca);
	cr_assert_not_null(cq);
	cr_assert_eq(ibv_destroy_cq(ibv_cq_ex_to_cq(cq)), 0);
	sr_side_destroy(&s);
}

/* No capability is advertised that a post or registration then refuses. */
Test(caps, only_what_is_modelled)
{
	sr_fabric_setup();
	struct sr_side s = { 0 };
	struct ibv_context *ctx = sr_open(&s, SR_HCA2);
	struct ibv_device_attr a;
	cr_assert_eq(ibv_query_device(ctx, &a), 0);
	cr_assert_eq(a.atomic_cap, IBV_ATOMIC_NONE);
	cr_assert_not(a.device_cap_flags & (IBV_DEVICE_MEM_WINDOW | IBV_DEVICE_MEM_WINDOW_TYPE_2A |
					    IBV_DEVICE_MEM_WINDOW_TYPE_2B |
					    IBV_DEVICE_MEM_MGT_EXTENSIONS));
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	cr_assert_not_null(pd);
	errno = 0;
	cr_assert_null(ibv_reg_dmabuf_mr(pd, 0, 4096, 0, -1, IBV_ACCESS_LOCAL_WRITE));
	cr_assert_eq(errno, EBADF, "bad dma-buf fd: %s", strerror(errno));
	int fd = dup(2);
	close(fd);                                 /* a closed descriptor */
	errno = 0;
	cr_assert_null(ibv_reg_dmabuf_mr(pd, 0, 4096, 0, fd, IBV_ACCESS_LOCAL_WRITE));
	cr_assert_eq(errno, EBADF);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&s);
}
