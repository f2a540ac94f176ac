/* softroce: post_send / post_recv.  They validate and queue only; the engine
 * thread executes the work and produces every completion (a poll right after
 * a post may legally return nothing). */
#include "sr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SEND_FLAGS_KNOWN (IBV_SEND_FENCE | IBV_SEND_SIGNALED | IBV_SEND_SOLICITED | \
			  IBV_SEND_INLINE)

/* ahead: WRs of the same all-or-nothing batch already checked, not queued.
 * wr_api: an inline WR's one SGE is softroce's copy of ibv_wr_set_inline_data
 * (no SGE of the caller's, so max_send_sge does not apply to it). */
static int check_send(struct sr_qp *qp, const struct ibv_send_wr *wr, uint64_t ahead,
		      bool wr_api, uint64_t *len)
{
	/* Strict: the IB spec forbids posting to the SQ before RTS
	 * (mlx5 userspace does not check; we treat it as a bug). */
	if (qp->qp.state != IBV_QPS_RTS && qp->qp.state != IBV_QPS_ERR)
		return EINVAL;
	switch (wr->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
	case IBV_WR_RDMA_READ:
		break;
	default:
		return EINVAL;             /* atomics, invalidate, bind: not modelled */
	}
	if (wr->num_sge < 0 || (wr->send_flags & ~(unsigned)SEND_FLAGS_KNOWN))
		return EINVAL;
	if ((uint32_t)wr->num_sge > qp->cap.max_send_sge &&
	    !(wr_api && (wr->send_flags & IBV_SEND_INLINE)))
		return ENOMEM;             /* as mlx5 */
	*len = 0;
	for (int i = 0; i < wr->num_sge; i++)
		*len += wr->sg_list[i].length;
	if (wr->send_flags & IBV_SEND_INLINE) {
		if (wr->opcode == IBV_WR_RDMA_READ || *len > qp->cap.max_inline_data)
			return EINVAL;
	}
	if (qp->sq_head + ahead - qp->sq_tail >= qp->sq_size)
		return ENOMEM;
	return 0;
}

static int queue_send(struct sr_qp *qp, const struct ibv_send_wr *wr, uint64_t len)
{
	struct sr_swqe *w = &qp->sq[qp->sq_head % qp->sq_size];
	free(w->inl);
	struct sr_sge *sge = w->sge;
	memset(w, 0, sizeof(*w));
	w->sge = sge;
	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->send_flags = wr->send_flags;
	w->imm = wr->imm_data;
	w->raddr = wr->wr.rdma.remote_addr;
	w->rkey = wr->wr.rdma.rkey;
	w->len = len;
	w->signaled = qp->sq_sig_all || (wr->send_flags & IBV_SEND_SIGNALED);
	w->post_ns = sr_now_ns();
	if (wr->send_flags & IBV_SEND_INLINE) {
		/* Inline data is copied now: the caller may reuse the buffer. */
		w->inl = malloc(len ? len : 1);
		if (!w->inl)
			return ENOMEM;
		size_t off = 0;
		for (int i = 0; i < wr->num_sge; i++) {
			memcpy(w->inl + off, (void *)(uintptr_t)wr->sg_list[i].addr,
			       wr->sg_list[i].length);
			off += wr->sg_list[i].length;
		}
		w->nsge = 0;
	} else {
		w->nsge = wr->num_sge;
		for (int i = 0; i < wr->num_sge; i++) {
			w->sge[i].addr = wr->sg_list[i].addr;
			w->sge[i].length = wr->sg_list[i].length;
			w->sge[i].lkey = wr->sg_list[i].lkey;
		}
	}
	qp->sq_head++;
	return 0;
}

int sr_op_post_send(struct ibv_qp *ibqp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct sr_qp *qp = (struct sr_qp *)ibqp;
	int rc = 0;
	SR_LOCK();
	for (; wr; wr = wr->next) {
		uint64_t len;
		rc = check_send(qp, wr, 0, false, &len);
		if (!rc)
			rc = queue_send(qp, wr, len);
		if (rc) {
			*bad = wr;
			break;
		}
	}
	if (qp->qp.state == IBV_QPS_ERR)
		qp->need_flush = true;
	bool nic = sr_req_doorbell(qp, sr_now_ns());
	SR_UNLOCK();
	if (nic)
		sr_engine_wake();
	return rc;
}

/* wr_complete: every WR passes the checks of ibv_post_send or none is
 * queued (mlx5 rolls the whole batch back on an error). */
int sr_post_send_all(struct sr_qp *qp, struct ibv_send_wr *wrs, int n)
{
	int rc = 0;
	SR_LOCK();
	for (int i = 0; i < n && !rc; i++) {
		uint64_t len;
		rc = check_send(qp, &wrs[i], (uint64_t)i, true, &len);
	}
	for (int i = 0; i < n && !rc; i++) {
		uint64_t len;
		rc = check_send(qp, &wrs[i], 0, true, &len);
		if (!rc)
			rc = queue_send(qp, &wrs[i], len);
	}
	if (qp->qp.state == IBV_QPS_ERR)
		qp->need_flush = true;
	bool nic = sr_req_doorbell(qp, sr_now_ns());
	SR_UNLOCK();
	if (nic)
		sr_engine_wake();
	return rc;
}

int sr_op_post_recv(struct ibv_qp *ibqp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct sr_qp *qp = (struct sr_qp *)ibqp;
	int rc = 0;
	SR_LOCK();
	for (; wr; wr = wr->next) {
		if (qp->qp.state == IBV_QPS_RESET || wr->num_sge < 0 ||
		    (uint32_t)wr->num_sge > qp->cap.max_recv_sge)
			rc = EINVAL;
		else if (qp->rq_head - qp->rq_tail >= qp->rq_size)
			rc = ENOMEM;
		if (rc) {
			*bad = wr;
			break;
		}
		struct sr_rwqe *r = &qp->rq[qp->rq_head % qp->rq_size];
		r->wr_id = wr->wr_id;
		r->nsge = 0;
		r->len = 0;
		for (int i = 0; i < wr->num_sge; i++) {
			if (!wr->sg_list[i].length)
				continue;          /* mlx5 skips zero-length SGEs */
			r->sge[r->nsge].addr = wr->sg_list[i].addr;
			r->sge[r->nsge].length = wr->sg_list[i].length;
			r->sge[r->nsge].lkey = wr->sg_list[i].lkey;
			r->len += wr->sg_list[i].length;
			r->nsge++;
		}
		qp->rq_head++;
	}
	if (qp->qp.state == IBV_QPS_ERR)
		qp->need_flush = true;
	SR_UNLOCK();
	sr_engine_wake();
	return rc;
}
