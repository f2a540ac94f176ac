/* softroce: RC queue pairs: create with mlx5-style cap rounding, the state
 * machine with the required/optional attribute masks of ibv_modify_qp(3),
 * query and destroy. */
#include "sr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sr_qp *sr_qp_list;

struct sr_qp *sr_qp_find(uint32_t qpn)
{
	if (!sr_g.qp_tab)
		return NULL;
	for (struct sr_qp *qp = sr_g.qp_tab[qpn % sr_g.qp_tab_size]; qp; qp = qp->hnext)
		if (qp->qp.qp_num == qpn)
			return qp;
	return NULL;
}

static int qp_insert(struct sr_qp *qp)
{
	if (!sr_g.qp_tab) {
		sr_g.qp_tab_size = 4099;
		sr_g.qp_tab = calloc(sr_g.qp_tab_size, sizeof(struct sr_qp *));
		if (!sr_g.qp_tab)
			return -ENOMEM;
	}
	struct sr_qp **b = &sr_g.qp_tab[qp->qp.qp_num % sr_g.qp_tab_size];
	qp->hnext = *b;
	*b = qp;
	qp->lnext = sr_qp_list;
	sr_qp_list = qp;
	return 0;
}

static void qp_remove(struct sr_qp *qp)
{
	for (struct sr_qp **p = &sr_g.qp_tab[qp->qp.qp_num % sr_g.qp_tab_size]; *p;
	     p = &(*p)->hnext)
		if (*p == qp) {
			*p = qp->hnext;
			break;
		}
	for (struct sr_qp **p = &sr_qp_list; *p; p = &(*p)->lnext)
		if (*p == qp) {
			*p = qp->lnext;
			break;
		}
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/* mlx5-like sizing: a send WQE is ctrl + remote address + atomic segments
 * (48 bytes) plus 16 bytes per SGE or the inline data, in 64-byte blocks;
 * the ring is a power of two of blocks; what fits is written back. */
static int size_queues(struct ibv_qp_cap *cap)
{
	if (cap->max_send_wr > SR_MAX_QP_WR || cap->max_recv_wr > SR_MAX_QP_WR ||
	    cap->max_send_sge > SR_MAX_SGE || cap->max_recv_sge > SR_MAX_SGE ||
	    cap->max_inline_data > SR_MAX_INLINE)
		return -EINVAL;
	uint32_t data = cap->max_send_sge * 16;
	uint32_t inl = (cap->max_inline_data + 4 + 15) & ~15u;
	if (inl > data)
		data = inl;
	uint32_t wqe = (48 + data + 63) & ~63u;
	if (cap->max_send_wr) {
		uint32_t ring = pow2_at_least(cap->max_send_wr * wqe);
		if (ring / 64 > SR_MAX_QP_WR)
			return -EINVAL;
		cap->max_send_wr = ring / wqe;
	}
	cap->max_inline_data = cap->max_inline_data ? wqe - 48 - 4 : 0;
	if (cap->max_inline_data > SR_MAX_INLINE)
		cap->max_inline_data = SR_MAX_INLINE;
	if (cap->max_recv_wr) {
		uint32_t sge = pow2_at_least(cap->max_recv_sge ? cap->max_recv_sge : 1);
		cap->max_recv_wr = pow2_at_least(cap->max_recv_wr);
		cap->max_recv_sge = sge > SR_MAX_SGE ? SR_MAX_SGE : sge;
	}
	return 0;
}

static int alloc_queues(struct sr_qp *qp)
{
	uint32_t ssge = qp->cap.max_send_sge ? qp->cap.max_send_sge : 1;
	uint32_t rsge = qp->cap.max_recv_sge ? qp->cap.max_recv_sge : 1;
	qp->sq_size = qp->cap.max_send_wr;
	qp->rq_size = qp->cap.max_recv_wr;
	qp->sq = calloc(qp->sq_size + 1, sizeof(*qp->sq));
	qp->sq_sges = calloc((size_t)(qp->sq_size + 1) * ssge, sizeof(struct sr_sge));
	qp->rq = calloc(qp->rq_size + 1, sizeof(*qp->rq));
	qp->rq_sges = calloc((size_t)(qp->rq_size + 1) * rsge, sizeof(struct sr_sge));
	if (!qp->sq || !qp->sq_sges || !qp->rq || !qp->rq_sges)
		return -ENOMEM;
	for (uint32_t i = 0; i < qp->sq_size; i++)
		qp->sq[i].sge = qp->sq_sges + (size_t)i * ssge;
	for (uint32_t i = 0; i < qp->rq_size; i++)
		qp->rq[i].sge = qp->rq_sges + (size_t)i * rsge;
	return 0;
}

static void qp_free(struct sr_qp *qp)
{
	sr_qpx_free(qp);
	if (qp->sq)
		for (uint32_t i = 0; i < qp->sq_size; i++)
			free(qp->sq[i].inl);
	free(qp->sq);
	free(qp->sq_sges);
	free(qp->rq);
	free(qp->rq_sges);
	free(qp);
}

SR_EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	if (attr->qp_type != IBV_QPT_RC || attr->srq) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (!attr->send_cq || !attr->recv_cq) {
		errno = EINVAL;
		return NULL;
	}
	struct sr_qp *qp = calloc(1, sizeof(*qp));
	if (!qp) {
		errno = ENOMEM;
		return NULL;
	}
	qp->cap = attr->cap;
	int rc = size_queues(&qp->cap);
	if (!rc)
		rc = alloc_queues(qp);
	if (rc) {
		qp_free(qp);
		errno = -rc;
		return NULL;
	}
	attr->cap = qp->cap;
	qp->ctx = sr_ctx_of(pd->context);
	qp->sq_sig_all = attr->sq_sig_all;
	qp->qp.context = pd->context;
	qp->qp.qp_context = attr->qp_context;
	qp->qp.pd = pd;
	qp->qp.send_cq = attr->send_cq;
	qp->qp.recv_cq = attr->recv_cq;
	qp->qp.qp_type = IBV_QPT_RC;
	qp->qp.state = IBV_QPS_RESET;
	pthread_mutex_init(&qp->qp.mutex, NULL);
	pthread_cond_init(&qp->qp.cond, NULL);
	SR_LOCK();
	qp->qp.qp_num = sr_qpn_alloc(qp->ctx->sdev->hca_idx);
	rc = qp->qp.qp_num ? qp_insert(qp) : -ENOSPC;
	if (!rc) {
		((struct sr_pd *)pd)->refs++;
		((struct sr_cq *)attr->send_cq)->refs++;
		((struct sr_cq *)attr->recv_cq)->refs++;
		qp->qp.handle = qp->qp.qp_num;
	} else if (qp->qp.qp_num) {
		sr_qpn_free(qp->qp.qp_num);
	}
	SR_UNLOCK();
	if (rc) {
		qp_free(qp);
		errno = -rc;
		return NULL;
	}
	return &qp->qp;
}

#define QP_INIT_MODELLED (IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS)

struct ibv_qp *sr_op_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *a)
{
	(void)ctx;
	if (a->comp_mask & ~(uint32_t)QP_INIT_MODELLED || !a->pd) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	bool ex = a->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	if (ex && (a->send_ops_flags & ~(uint64_t)SR_SEND_OPS_MODELLED)) {
		errno = EOPNOTSUPP;          /* atomics, MW, invalidate, TSO */
		return NULL;
	}
	struct ibv_qp_init_attr attr = {
		.qp_context = a->qp_context, .send_cq = a->send_cq, .recv_cq = a->recv_cq,
		.srq = a->srq, .cap = a->cap, .qp_type = a->qp_type, .sq_sig_all = a->sq_sig_all,
	};
	struct ibv_qp *qp = ibv_create_qp(a->pd, &attr);
	if (!qp)
		return NULL;
	int rc = ex ? sr_qpx_setup((struct sr_qp *)qp, a->send_ops_flags) : 0;
	if (rc) {
		ibv_destroy_qp(qp);
		errno = rc;
		return NULL;
	}
	a->cap = attr.cap;
	return qp;
}

/* ibv_close_device with QPs left: like the kernel closing the uverbs file,
 * they stop existing for the fabric (the memory stays with the caller). */
void sr_qp_orphan_ctx(const struct sr_ctx *ctx)
{
	struct sr_qp *next;
	for (struct sr_qp *qp = sr_qp_list; qp; qp = next) {
		next = qp->lnext;
		if (qp->ctx != ctx)
			continue;
		qp_remove(qp);
		sr_qpn_free(qp->qp.qp_num);
	}
}

SR_EXPORT int ibv_destroy_qp(struct ibv_qp *ibqp)
{
	struct sr_qp *qp = (struct sr_qp *)ibqp;
	SR_LOCK();
	if (sr_qp_find(qp->qp.qp_num) == qp) {   /* not orphaned by close_device */
		qp_remove(qp);
		sr_qpn_free(qp->qp.qp_num);
	}
	((struct sr_pd *)qp->qp.pd)->refs--;
	((struct sr_cq *)qp->qp.send_cq)->refs--;
	((struct sr_cq *)qp->qp.recv_cq)->refs--;
	SR_UNLOCK();
	pthread_mutex_destroy(&qp->qp.mutex);
	pthread_cond_destroy(&qp->qp.cond);
	qp_free(qp);
	return 0;
}

/* ---- state machine ------------------------------------------------------ */
struct sr_transition { bool ok; int req, opt; };

#define RTR_REQ (IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | \
		 IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER)
#define RTS_REQ (IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | \
		 IBV_QP_MAX_QP_RD_ATOMIC)

/* The RC rows of the IB spec table (ibv_modify_qp(3)); SQD/SQE are not
 * modelled and so not reachable.  Any state → RESET/ERR needs only STATE. */
static struct sr_transition transition(enum ibv_qp_state cur, enum ibv_qp_state next)
{
	struct sr_transition t = { false, 0, 0 };
	if (next == IBV_QPS_RESET || next == IBV_QPS_ERR) {
		t.ok = cur <= IBV_QPS_ERR;
		return t;
	}
	switch (cur) {
	case IBV_QPS_RESET:
		if (next == IBV_QPS_INIT)
			t = (struct sr_transition){ true,
				IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, 0 };
		break;
	case IBV_QPS_INIT:
		if (next == IBV_QPS_INIT)
			t = (struct sr_transition){ true, 0,
				IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS };
		else if (next == IBV_QPS_RTR)
			t = (struct sr_transition){ true, RTR_REQ,
				IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX };
		break;
	case IBV_QPS_RTR:
		if (next == IBV_QPS_RTS)
			t = (struct sr_transition){ true, RTS_REQ,
				IBV_QP_CUR_STATE | IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS |
				IBV_QP_MIN_RNR_TIMER | IBV_QP_PATH_MIG_STATE };
		break;
	case IBV_QPS_RTS:
		if (next == IBV_QPS_RTS)
			t = (struct sr_transition){ true, 0,
				IBV_QP_CUR_STATE | IBV_QP_ACCESS_FLAGS | IBV_QP_ALT_PATH |
				IBV_QP_PATH_MIG_STATE | IBV_QP_MIN_RNR_TIMER };
		break;
	default:
		break;
	}
	return t;
}

#define QP_ACCESS_KNOWN (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)

/* Values: RoCE needs a GRH with an existing source GID and a dgid. */
static int check_values(struct sr_qp *qp, const struct ibv_qp_attr *a, int mask)
{
	if ((mask & IBV_QP_PORT) && a->port_num != 1)
		return EINVAL;
	if ((mask & IBV_QP_PKEY_INDEX) && a->pkey_index != 0)
		return EINVAL;
	if ((mask & IBV_QP_ACCESS_FLAGS) && (a->qp_access_flags & ~(unsigned)QP_ACCESS_KNOWN))
		return EINVAL;
	if ((mask & IBV_QP_PATH_MTU) &&
	    (a->path_mtu < IBV_MTU_256 ||
	     a->path_mtu > sr_port_mtu(sr_g.host_idx, qp->ctx->sdev->hca_idx, &qp->ctx->sdev->cfg)))
		return EINVAL;
	if ((mask & IBV_QP_DEST_QPN) && a->dest_qp_num > 0xffffff)
		return EINVAL;
	if ((mask & IBV_QP_RQ_PSN) && a->rq_psn > 0xffffff)
		return EINVAL;
	if ((mask & IBV_QP_SQ_PSN) && a->sq_psn > 0xffffff)
		return EINVAL;
	if ((mask & IBV_QP_MIN_RNR_TIMER) && a->min_rnr_timer > 31)
		return EINVAL;
	if ((mask & IBV_QP_TIMEOUT) && a->timeout > 31)
		return EINVAL;
	if ((mask & IBV_QP_RETRY_CNT) && a->retry_cnt > 7)
		return EINVAL;
	if ((mask & IBV_QP_RNR_RETRY) && a->rnr_retry > 7)
		return EINVAL;
	if ((mask & IBV_QP_MAX_QP_RD_ATOMIC) && a->max_rd_atomic > 16)
		return EINVAL;
	if ((mask & IBV_QP_MAX_DEST_RD_ATOMIC) && a->max_dest_rd_atomic > 16)
		return EINVAL;
	if (mask & IBV_QP_AV) {
		const struct ibv_ah_attr *ah = &a->ah_attr;
		struct sr_gid gids[SR_MAX_GIDS];
		union ibv_gid zero;
		memset(&zero, 0, sizeof(zero));
		if (!ah->is_global || ah->port_num != 1 ||
		    memcmp(&ah->grh.dgid, &zero, sizeof(zero)) == 0)
			return EINVAL;
		const struct sr_device *d = qp->ctx->sdev;
		struct sr_hca_cfg now = d->cfg;
		sr_netdev_overlay(sr_g.host_idx, d->hca_idx, &now);
		sr_hca_gids(&now, d->octet, now.id, gids);
		if (ah->grh.sgid_index >= SR_MAX_GIDS || !gids[ah->grh.sgid_index].valid)
			return EINVAL;
	}
	return 0;
}

static void apply(struct sr_qp *qp, const struct ibv_qp_attr *a, int mask)
{
	if (mask & IBV_QP_PORT)
		qp->port = a->port_num;
	if (mask & IBV_QP_ACCESS_FLAGS)
		qp->access = a->qp_access_flags;
	if (mask & IBV_QP_PKEY_INDEX)
		qp->pkey_index = a->pkey_index;
	if (mask & IBV_QP_AV) {
		qp->ah = a->ah_attr;
		qp->dst_known = false;
	}
	if (mask & IBV_QP_PATH_MTU)
		qp->mtu = a->path_mtu;
	if (mask & IBV_QP_DEST_QPN) {
		qp->dest_qpn = a->dest_qp_num;
		qp->dst_known = false;
	}
	if (mask & IBV_QP_RQ_PSN) {
		qp->rq_psn = a->rq_psn;
		qp->epsn = a->rq_psn;
	}
	if (mask & IBV_QP_SQ_PSN) {
		qp->sq_psn = a->sq_psn;
		qp->next_psn = qp->una_psn = qp->max_psn = a->sq_psn;
	}
	if (mask & IBV_QP_MIN_RNR_TIMER)
		qp->min_rnr_timer = a->min_rnr_timer;
	if (mask & IBV_QP_TIMEOUT)
		qp->timeout = a->timeout;
	if (mask & IBV_QP_RETRY_CNT)
		qp->retry_cnt = a->retry_cnt;
	if (mask & IBV_QP_RNR_RETRY)
		qp->rnr_retry = a->rnr_retry;
	if (mask & IBV_QP_MAX_QP_RD_ATOMIC)
		qp->max_rd_atomic = a->max_rd_atomic;
	if (mask & IBV_QP_MAX_DEST_RD_ATOMIC)
		qp->max_dest_rd_atomic = a->max_dest_rd_atomic;
}

/* RESET drops every WQE silently and forgets the transport state. */
static void reset(struct sr_qp *qp)
{
	for (uint64_t i = qp->sq_done; i < qp->sq_head; i++) {
		struct sr_swqe *w = &qp->sq[i % qp->sq_size];
		free(w->inl);
		w->inl = NULL;
	}
	qp->sq_tail = qp->sq_done = qp->sq_exec = qp->sq_head;
	qp->rq_tail = qp->rq_cons = qp->rq_head;
	qp->timer_ns = qp->rnr_until_ns = 0;
	qp->retries = qp->rnr_retries = 0;
	qp->need_flush = false;
	qp->in_send = false;
	qp->dst_known = false;
}

static void publish_state(const struct sr_qp *qp)
{
	enum ibv_qp_state s = qp->qp.state;
	sr_qpn_publish(qp->qp.qp_num, s == IBV_QPS_RTR || s == IBV_QPS_RTS, qp->dest_qpn);
}

void sr_qp_to_err(struct sr_qp *qp)
{
	qp->qp.state = IBV_QPS_ERR;
	publish_state(qp);
	qp->need_flush = true;
	sr_engine_wake();
}

SR_EXPORT int ibv_modify_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr, int mask)
{
	struct sr_qp *qp = (struct sr_qp *)ibqp;
	SR_LOCK();
	enum ibv_qp_state cur = qp->qp.state;
	int rc = 0;
	if ((mask & IBV_QP_CUR_STATE) && attr->cur_qp_state != cur)
		rc = EINVAL;
	enum ibv_qp_state next = (mask & IBV_QP_STATE) ? attr->qp_state : cur;
	struct sr_transition t = transition(cur, next);
	if (!rc && (!t.ok || (mask & t.req) != t.req ||
		    (mask & ~(t.req | t.opt | IBV_QP_STATE))))
		rc = EINVAL;
	if (!rc)
		rc = check_values(qp, attr, mask);
	if (!rc) {
		apply(qp, attr, mask);
		if (next == IBV_QPS_RESET)
			reset(qp);
		qp->qp.state = next;
		publish_state(qp);
		if (next == IBV_QPS_ERR)
			sr_qp_to_err(qp);
	}
	SR_UNLOCK();
	if (!rc)
		sr_engine_wake();
	return rc;
}

SR_EXPORT int ibv_query_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *a, int mask,
			   struct ibv_qp_init_attr *init)
{
	struct sr_qp *qp = (struct sr_qp *)ibqp;
	(void)mask;
	SR_LOCK();
	memset(a, 0, sizeof(*a));
	a->qp_state = a->cur_qp_state = qp->qp.state;
	a->path_mtu = qp->mtu;
	a->qp_access_flags = qp->access;
	a->pkey_index = qp->pkey_index;
	a->port_num = qp->port;
	a->ah_attr = qp->ah;
	a->dest_qp_num = qp->dest_qpn;
	a->rq_psn = qp->epsn & 0xffffff;
	a->sq_psn = qp->next_psn & 0xffffff;
	a->timeout = qp->timeout;
	a->retry_cnt = qp->retry_cnt;
	a->rnr_retry = qp->rnr_retry;
	a->min_rnr_timer = qp->min_rnr_timer;
	a->max_rd_atomic = qp->max_rd_atomic;
	a->max_dest_rd_atomic = qp->max_dest_rd_atomic;
	a->cap = qp->cap;
	if (init) {
		memset(init, 0, sizeof(*init));
		init->qp_context = qp->qp.qp_context;
		init->send_cq = qp->qp.send_cq;
		init->recv_cq = qp->qp.recv_cq;
		init->cap = qp->cap;
		init->qp_type = IBV_QPT_RC;
		init->sq_sig_all = qp->sq_sig_all;
	}
	SR_UNLOCK();
	return 0;
}
