/* Rule 3: send-queue depth, unsignaled WRs holding their slots until a later
 * signaled WR's CQE is polled, caps written back, inline/SGE limits. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule3_sq_depth, .fini = sr_teardown, .timeout = 60);

#define MAX_WR 256

static void start(struct sr_pair *p, uint32_t sq, bool chan)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep_opts peer = o;
	o.max_send_wr = sq;
	o.scq_channel = chan;
	sr_pair_start(p, 1, &o, &peer);
	cr_assert_geq(p->side.ep[0].cap.max_send_wr, sq, "cap.max_send_wr below the request");
	cr_assert_leq(p->side.ep[0].cap.max_send_wr, MAX_WR - 1);
}

/* Chain n 8-byte RDMA WRITEs; WR i writes the byte i+1 at remote offset 8*i. */
static void chain_writes(struct sr_ep *ep, struct ibv_send_wr *wr, struct ibv_sge *sge,
			 int n, bool signal_last_only)
{
	for (int i = 0; i < n; i++) {
		memset(ep->buf + 8 * i, i + 1, 8);
		sge[i] = (struct ibv_sge){ .addr = (uintptr_t)(ep->buf + 8 * i), .length = 8,
					   .lkey = ep->mr[SR_MR_FULL]->lkey };
		wr[i] = (struct ibv_send_wr){
			.wr_id = (uint64_t)i, .sg_list = &sge[i], .num_sge = 1,
			.opcode = IBV_WR_RDMA_WRITE,
			.send_flags = (!signal_last_only || i == n - 1) ? IBV_SEND_SIGNALED : 0,
			.next = i + 1 < n ? &wr[i + 1] : NULL,
		};
		wr[i].wr.rdma.remote_addr = ep->remote.mr[0].addr + 8 * (uint64_t)i;
		wr[i].wr.rdma.rkey = ep->remote.mr[0].rkey;
	}
}

/* Wait until the peer memory shows WR i's byte at offset 8*i (it executed). */
static void wait_landed(struct sr_pair *p, int i)
{
	long long end = sr_now_ms() + SR_DEADLINE_MS;
	uint8_t got = 0;
	while (sr_now_ms() < end) {
		sr_peer_read(p, 0, 8 * (uint32_t)i, 1, &got);
		if (got == (uint8_t)(i + 1))
			return;
	}
	cr_assert_fail("WRITE %d never landed", i);
}

static int post_one(struct sr_ep *ep, uint64_t wr_id, int flags)
{
	return sr_post(ep, IBV_WR_RDMA_WRITE, wr_id, 4000, 8, SR_MR_FULL, 4000, flags, 0);
}

Test(rule3_sq_depth, full_queue_is_enomem_with_bad_wr)
{
	struct sr_pair p;
	start(&p, 16, false);
	struct sr_ep *ep = &p.side.ep[0];
	int w = (int)ep->cap.max_send_wr;
	static struct ibv_send_wr wr[MAX_WR];
	static struct ibv_sge sge[MAX_WR];
	chain_writes(ep, wr, sge, w + 1, false);
	struct ibv_send_wr *bad = NULL;
	cr_assert_eq(ibv_post_send(ep->qp, wr, &bad), ENOMEM, "posting cap+1 WRs");
	cr_assert_eq(bad, &wr[w], "bad_wr must point at WR %d, the first that did not fit", w);
	/* The first w WRs stay posted and complete in order. */
	struct ibv_wc wc[MAX_WR];
	cr_assert_eq(sr_poll(ep->scq, wc, w, SR_DEADLINE_MS), w);
	for (int i = 0; i < w; i++) {
		cr_assert_eq(wc[i].status, IBV_WC_SUCCESS);
		cr_assert_eq(wc[i].wr_id, (uint64_t)i);
	}
	cr_assert_eq(sr_poll_quiet(ep->scq, 30), 0, "the rejected WR must not run");
	/* All CQEs polled: the queue is empty again. */
	cr_assert_eq(post_one(ep, 1000, IBV_SEND_SIGNALED), 0);
	sr_expect_wc(ep->scq, 1000, IBV_WC_SUCCESS, NULL);
	sr_pair_stop(&p);
}

Test(rule3_sq_depth, exactly_cap_fits)
{
	struct sr_pair p;
	start(&p, 16, false);
	struct sr_ep *ep = &p.side.ep[0];
	int w = (int)ep->cap.max_send_wr;
	static struct ibv_send_wr wr[MAX_WR];
	static struct ibv_sge sge[MAX_WR];
	chain_writes(ep, wr, sge, w, false);
	struct ibv_send_wr *bad = NULL;
	cr_assert_eq(ibv_post_send(ep->qp, wr, &bad), 0, "cap.max_send_wr WRs must fit");
	struct ibv_wc wc[MAX_WR];
	cr_assert_eq(sr_poll(ep->scq, wc, w, SR_DEADLINE_MS), w);
	sr_pair_stop(&p);
}

Test(rule3_sq_depth, unsignaled_wrs_hold_slots)
{
	struct sr_pair p;
	start(&p, 16, false);
	struct sr_ep *ep = &p.side.ep[0];
	int w = (int)ep->cap.max_send_wr;
	static struct ibv_send_wr wr[MAX_WR];
	static struct ibv_sge sge[MAX_WR];
	chain_writes(ep, wr, sge, w, false);
	for (int i = 0; i < w; i++)
		wr[i].send_flags = 0;
	struct ibv_send_wr *bad = NULL;
	cr_assert_eq(ibv_post_send(ep->qp, wr, &bad), 0);
	wait_landed(&p, w - 1); /* every WR has executed on the wire */
	cr_assert_eq(post_one(ep, 1000, IBV_SEND_SIGNALED), ENOMEM,
		     "executed unsignaled WRs still own their slots");
	cr_assert_eq(sr_poll_quiet(ep->scq, 30), 0, "unsignaled WRs produce no CQE");
	cr_assert_eq(post_one(ep, 1001, IBV_SEND_SIGNALED), ENOMEM);
	sr_pair_stop(&p);
}

Test(rule3_sq_depth, slots_free_only_when_signaled_cqe_polled)
{
	struct sr_pair p;
	start(&p, 16, true);
	struct sr_ep *ep = &p.side.ep[0];
	int w = (int)ep->cap.max_send_wr;
	static struct ibv_send_wr wr[MAX_WR];
	static struct ibv_sge sge[MAX_WR];
	chain_writes(ep, wr, sge, w, true); /* w-1 unsignaled, then one signaled */
	cr_assert_eq(ibv_req_notify_cq(ep->scq, 0), 0);
	struct ibv_send_wr *bad = NULL;
	cr_assert_eq(ibv_post_send(ep->qp, wr, &bad), 0);
	/* The completion channel says the CQE exists; it is not polled yet. */
	struct pollfd pfd = { .fd = ep->chan->fd, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, SR_DEADLINE_MS), 1, "no completion event");
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	cr_assert_eq(ibv_get_cq_event(ep->chan, &ev_cq, &ev_ctx), 0);
	cr_assert_eq(ev_cq, ep->scq);
	ibv_ack_cq_events(ev_cq, 1);
	cr_assert_eq(post_one(ep, 1000, IBV_SEND_SIGNALED), ENOMEM,
		     "a CQE that is produced but not polled frees nothing");
	sr_expect_wc(ep->scq, (uint64_t)(w - 1), IBV_WC_SUCCESS, NULL);
	/* Polling the signaled CQE freed it and every unsignaled WR before it. */
	static struct ibv_send_wr again[MAX_WR];
	static struct ibv_sge again_sge[MAX_WR];
	chain_writes(ep, again, again_sge, w, false);
	cr_assert_eq(ibv_post_send(ep->qp, again, &bad), 0, "the whole queue must be free");
	struct ibv_wc wc[MAX_WR];
	cr_assert_eq(sr_poll(ep->scq, wc, w, SR_DEADLINE_MS), w);
	sr_pair_stop(&p);
}

Test(rule3_sq_depth, caps_written_back_rounded_up)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	o.max_send_wr = 5;
	o.max_recv_wr = 5;
	o.max_inline = 60;
	o.max_send_sge = 1;
	o.max_recv_sge = 1;
	struct sr_ep *ep = sr_ep_create(&side, &o);
	cr_assert_geq(ep->cap.max_send_wr, 5u);
	cr_assert_geq(ep->cap.max_recv_wr, 5u);
	cr_assert_geq(ep->cap.max_inline_data, 60u);
	cr_assert_geq(ep->cap.max_send_sge, 1u);
	cr_assert_geq(ep->cap.max_recv_sge, 1u);
	struct ibv_qp_attr attr;
	struct ibv_qp_init_attr init;
	cr_assert_eq(ibv_query_qp(ep->qp, &attr, IBV_QP_CAP, &init), 0);
	cr_assert_eq(attr.cap.max_send_wr, ep->cap.max_send_wr, "query_qp disagrees with create");
	cr_assert_eq(attr.cap.max_inline_data, ep->cap.max_inline_data);
	/* A request beyond the device limit fails. */
	struct ibv_device_attr da;
	cr_assert_eq(ibv_query_device(ep->ctx, &da), 0);
	struct ibv_qp_init_attr big = { .send_cq = ep->scq, .recv_cq = ep->rcq, .qp_type = IBV_QPT_RC,
					.cap = { .max_send_wr = (uint32_t)da.max_qp_wr + 1,
						 .max_recv_wr = 1, .max_send_sge = 1,
						 .max_recv_sge = 1 } };
	errno = 0;
	cr_assert_null(ibv_create_qp(ep->pd, &big), "max_send_wr above max_qp_wr accepted");
	cr_assert_eq(errno, EINVAL);
	sr_side_destroy(&side);
}

static int post_inline(struct sr_ep *ep, uint32_t len, struct ibv_send_wr **bad)
{
	struct ibv_sge sge = { .addr = (uintptr_t)ep->buf, .length = len, .lkey = 0 };
	static struct ibv_send_wr wr;
	wr = (struct ibv_send_wr){ .wr_id = len, .sg_list = &sge, .num_sge = 1,
				   .opcode = IBV_WR_RDMA_WRITE,
				   .send_flags = IBV_SEND_INLINE | IBV_SEND_SIGNALED };
	wr.wr.rdma.remote_addr = ep->remote.mr[0].addr;
	wr.wr.rdma.rkey = ep->remote.mr[0].rkey;
	*bad = NULL;
	return ibv_post_send(ep->qp, &wr, bad);
}

Test(rule3_sq_depth, inline_beyond_max_inline_is_einval)
{
	struct sr_pair p;
	start(&p, 16, false);
	struct sr_ep *ep = &p.side.ep[0];
	uint32_t max = ep->cap.max_inline_data;
	cr_assert_geq(max, 64u);
	struct ibv_send_wr *bad;
	cr_assert_eq(post_inline(ep, max + 1, &bad), EINVAL, "inline of max_inline_data+1 bytes");
	cr_assert_not_null(bad);
	cr_assert_eq(bad->wr_id, max + 1);
	/* At the limit it works, without an lkey, and copies at post time. */
	memset(ep->buf, 0x42, max);
	cr_assert_eq(post_inline(ep, max, &bad), 0);
	memset(ep->buf, 0x99, max);
	sr_expect_wc(ep->scq, max, IBV_WC_SUCCESS, NULL);
	uint8_t *got = malloc(max);
	sr_peer_read(&p, 0, 0, max, got);
	for (uint32_t i = 0; i < max; i++)
		cr_assert_eq(got[i], 0x42, "inline data must be copied at post time");
	free(got);
	sr_pair_stop(&p);
}

Test(rule3_sq_depth, send_sge_beyond_cap_is_enomem)
{
	struct sr_pair p;
	start(&p, 16, false);
	struct sr_ep *ep = &p.side.ep[0];
	uint32_t n = ep->cap.max_send_sge + 1;
	struct ibv_sge *sge = calloc(n, sizeof(*sge));
	for (uint32_t i = 0; i < n; i++)
		sge[i] = (struct ibv_sge){ .addr = (uintptr_t)(ep->buf + 8 * i), .length = 8,
					   .lkey = ep->mr[SR_MR_FULL]->lkey };
	struct ibv_send_wr wr = { .wr_id = 9, .sg_list = sge, .num_sge = (int)n,
				  .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED };
	wr.wr.rdma.remote_addr = ep->remote.mr[0].addr;
	wr.wr.rdma.rkey = ep->remote.mr[0].rkey;
	struct ibv_send_wr *bad = NULL;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), ENOMEM, "num_sge > max_send_sge (mlx5: ENOMEM)");
	cr_assert_eq(bad, &wr);
	wr.num_sge = (int)n - 1;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), 0);
	sr_expect_wc(ep->scq, 9, IBV_WC_SUCCESS, NULL);
	free(sge);
	sr_pair_stop(&p);
}

Test(rule3_sq_depth, recv_sge_beyond_cap_is_einval)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep *ep = sr_ep_create(&side, &o);
	uint32_t n = ep->cap.max_recv_sge + 1;
	struct ibv_sge *sge = calloc(n, sizeof(*sge));
	for (uint32_t i = 0; i < n; i++)
		sge[i] = (struct ibv_sge){ .addr = (uintptr_t)(ep->buf + 8 * i), .length = 8,
					   .lkey = ep->mr[SR_MR_FULL]->lkey };
	struct ibv_recv_wr wr = { .wr_id = 3, .sg_list = sge, .num_sge = (int)n };
	struct ibv_recv_wr *bad = NULL;
	cr_assert_eq(ibv_post_recv(ep->qp, &wr, &bad), EINVAL, "num_sge > max_recv_sge (mlx5: EINVAL)");
	cr_assert_eq(bad, &wr);
	wr.num_sge = (int)n - 1;
	cr_assert_eq(ibv_post_recv(ep->qp, &wr, &bad), 0);
	free(sge);
	sr_side_destroy(&side);
}

Test(rule3_sq_depth, recv_queue_full_is_enomem)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	o.max_recv_wr = 8;
	struct sr_ep *ep = sr_ep_create(&side, &o);
	uint32_t w = ep->cap.max_recv_wr;
	for (uint32_t i = 0; i < w; i++)
		cr_assert_eq(sr_post_recv(ep, i, 0, 8), 0, "recv %u of %u", i, w);
	cr_assert_eq(sr_post_recv(ep, w, 0, 8), ENOMEM, "recv queue overflow");
	sr_side_destroy(&side);
}
