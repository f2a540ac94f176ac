/* softroce: the ibv_wr_* work-request builders of an RC QP created with
 * send_ops_flags.  Between wr_start and wr_complete the builders fill
 * ibv_send_wr entries of a per-QP batch; wr_complete hands the whole batch
 * to the posting path of ibv_post_send (post.c), so both APIs share every
 * check, and, as on mlx5, a batch with one bad WR posts nothing.
 * Misuse that mlx5 would turn into a corrupt WQE or a hang (a builder outside
 * start/complete, an opcode not asked for in send_ops_flags, a setter before
 * any opcode) makes wr_complete fail with EINVAL instead. */
#include "sr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sr_wr_batch {
	pthread_mutex_t lock;        /* held wr_start .. wr_complete/abort, as mlx5 */
	bool open;                   /* inside wr_start .. wr_complete/abort */
	int err;                     /* first misuse seen in this batch */
	uint32_t n, cap;             /* WRs built, room (the SQ depth) */
	uint32_t max_sge;            /* SGE slots per WR */
	uint32_t max_inline;
	struct ibv_send_wr *wr;
	struct ibv_sge *sge;         /* cap × max_sge */
	uint8_t *inl;                /* cap × max_inline, allocated on first use */
};

static struct sr_qp *qp_of(struct ibv_qp_ex *qpx)
{
	return (struct sr_qp *)qpx;
}

static void fail(struct sr_wr_batch *b, int err)
{
	if (!b->err)
		b->err = err;
}

/* The WR the setters apply to: the last one an opcode builder started. */
static struct ibv_send_wr *current(struct sr_qp *qp)
{
	struct sr_wr_batch *b = qp->batch;
	if (!b->open || b->n == 0) {
		fail(b, EINVAL);
		return NULL;
	}
	return &b->wr[b->n - 1];
}

static struct ibv_send_wr *begin(struct ibv_qp_ex *qpx, enum ibv_wr_opcode op, uint64_t need)
{
	struct sr_qp *qp = qp_of(qpx);
	struct sr_wr_batch *b = qp->batch;
	if (!b->open || !(qp->send_ops & need)) {
		fail(b, EINVAL);
		return NULL;
	}
	if (b->n == b->cap) {
		fail(b, ENOMEM);         /* more than the SQ holds */
		return NULL;
	}
	uint32_t i = b->n++;
	struct ibv_send_wr *wr = &b->wr[i];
	memset(wr, 0, sizeof(*wr));
	/* wr_id and wr_flags are taken when the opcode is built, as on mlx5. */
	wr->wr_id = qpx->wr_id;
	wr->send_flags = qpx->wr_flags;
	wr->opcode = op;
	wr->sg_list = &b->sge[(size_t)i * b->max_sge];
	return wr;
}

static void wr_rdma_write(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
	struct ibv_send_wr *wr = begin(qpx, IBV_WR_RDMA_WRITE, IBV_QP_EX_WITH_RDMA_WRITE);
	if (wr) {
		wr->wr.rdma.rkey = rkey;
		wr->wr.rdma.remote_addr = raddr;
	}
}

static void wr_rdma_write_imm(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, __be32 imm)
{
	struct ibv_send_wr *wr = begin(qpx, IBV_WR_RDMA_WRITE_WITH_IMM,
				       IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM);
	if (wr) {
		wr->wr.rdma.rkey = rkey;
		wr->wr.rdma.remote_addr = raddr;
		wr->imm_data = imm;
	}
}

static void wr_rdma_read(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
	struct ibv_send_wr *wr = begin(qpx, IBV_WR_RDMA_READ, IBV_QP_EX_WITH_RDMA_READ);
	if (wr) {
		wr->wr.rdma.rkey = rkey;
		wr->wr.rdma.remote_addr = raddr;
	}
}

static void wr_send(struct ibv_qp_ex *qpx)
{
	begin(qpx, IBV_WR_SEND, IBV_QP_EX_WITH_SEND);
}

static void wr_send_imm(struct ibv_qp_ex *qpx, __be32 imm)
{
	struct ibv_send_wr *wr = begin(qpx, IBV_WR_SEND_WITH_IMM, IBV_QP_EX_WITH_SEND_WITH_IMM);
	if (wr)
		wr->imm_data = imm;
}

static void wr_set_sge_list(struct ibv_qp_ex *qpx, size_t n, const struct ibv_sge *sg)
{
	struct sr_qp *qp = qp_of(qpx);
	struct ibv_send_wr *wr = current(qp);
	if (!wr)
		return;
	if (n > qp->cap.max_send_sge) {
		fail(qp->batch, ENOMEM);   /* as ibv_post_send (and mlx5) */
		return;
	}
	memcpy(wr->sg_list, sg, n * sizeof(*sg));
	wr->num_sge = (int)n;
	wr->send_flags &= ~(unsigned)IBV_SEND_INLINE;
}

static void wr_set_sge(struct ibv_qp_ex *qpx, uint32_t lkey, uint64_t addr, uint32_t len)
{
	struct ibv_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	wr_set_sge_list(qpx, 1, &sge);
}

/* Inline data is copied at the call, as mlx5 writes it into the WQE then. */
static void wr_set_inline_data_list(struct ibv_qp_ex *qpx, size_t n,
				    const struct ibv_data_buf *buf)
{
	struct sr_qp *qp = qp_of(qpx);
	struct sr_wr_batch *b = qp->batch;
	struct ibv_send_wr *wr = current(qp);
	if (!wr)
		return;
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += buf[i].length;
	if (total > b->max_inline) {
		fail(b, EINVAL);
		return;
	}
	if (!b->inl) {
		b->inl = malloc((size_t)b->cap * (b->max_inline ? b->max_inline : 1));
		if (!b->inl) {
			fail(b, ENOMEM);
			return;
		}
	}
	uint8_t *dst = b->inl + (size_t)(wr - b->wr) * b->max_inline;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(dst + off, buf[i].addr, buf[i].length);
		off += buf[i].length;
	}
	wr->sg_list[0] = (struct ibv_sge){ .addr = (uintptr_t)dst, .length = (uint32_t)total };
	wr->num_sge = 1;
	wr->send_flags |= IBV_SEND_INLINE;
}

static void wr_set_inline_data(struct ibv_qp_ex *qpx, void *addr, size_t len)
{
	struct ibv_data_buf buf = { .addr = addr, .length = len };
	wr_set_inline_data_list(qpx, 1, &buf);
}

/* As on mlx5, the QP's send queue is held from wr_start to wr_complete or
 * wr_abort, so threads building batches on one QP take turns.  A second
 * wr_start in the same thread (a self-deadlock on mlx5) spoils the batch. */
static void wr_start(struct ibv_qp_ex *qpx)
{
	struct sr_wr_batch *b = qp_of(qpx)->batch;
	if (pthread_mutex_lock(&b->lock)) {
		fail(b, EINVAL);
		return;
	}
	b->open = true;
	b->err = 0;
	b->n = 0;
}

static void wr_end(struct sr_wr_batch *b)
{
	b->n = 0;
	b->err = 0;
	if (b->open) {
		b->open = false;
		pthread_mutex_unlock(&b->lock);
	}
}

static int wr_complete(struct ibv_qp_ex *qpx)
{
	struct sr_qp *qp = qp_of(qpx);
	struct sr_wr_batch *b = qp->batch;
	int rc = b->open ? b->err : EINVAL;
	if (!rc)
		rc = sr_post_send_all(qp, b->wr, (int)b->n);
	wr_end(b);
	return rc;
}

static void wr_abort(struct ibv_qp_ex *qpx)
{
	wr_end(qp_of(qpx)->batch);
}

/* Builders of what softroce does not model (atomics, memory windows,
 * invalidation, UD/XRC addressing, TSO): send_ops_flags cannot ask for them,
 * so calling one is the misuse of an opcode not asked for. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
static void bad_cmp_swp(struct ibv_qp_ex *q, uint32_t k, uint64_t a, uint64_t c, uint64_t s)
{
	fail(qp_of(q)->batch, EINVAL);
}
static void bad_fetch_add(struct ibv_qp_ex *q, uint32_t k, uint64_t a, uint64_t v)
{
	fail(qp_of(q)->batch, EINVAL);
}
static void bad_bind_mw(struct ibv_qp_ex *q, struct ibv_mw *mw, uint32_t k,
			const struct ibv_mw_bind_info *i)
{
	fail(qp_of(q)->batch, EINVAL);
}
static void bad_rkey(struct ibv_qp_ex *q, uint32_t k)
{
	fail(qp_of(q)->batch, EINVAL);
}
static void bad_tso(struct ibv_qp_ex *q, void *h, uint16_t hs, uint16_t mss)
{
	fail(qp_of(q)->batch, EINVAL);
}
static void bad_ud(struct ibv_qp_ex *q, struct ibv_ah *ah, uint32_t qpn, uint32_t qkey)
{
	fail(qp_of(q)->batch, EINVAL);
}
static void bad_atomic_write(struct ibv_qp_ex *q, uint32_t k, uint64_t a, const void *w)
{
	fail(qp_of(q)->batch, EINVAL);
}
#pragma GCC diagnostic pop

static void set_builders(struct ibv_qp_ex *x)
{
	x->wr_atomic_cmp_swp = bad_cmp_swp;
	x->wr_atomic_fetch_add = bad_fetch_add;
	x->wr_bind_mw = bad_bind_mw;
	x->wr_local_inv = bad_rkey;
	x->wr_rdma_read = wr_rdma_read;
	x->wr_rdma_write = wr_rdma_write;
	x->wr_rdma_write_imm = wr_rdma_write_imm;
	x->wr_send = wr_send;
	x->wr_send_imm = wr_send_imm;
	x->wr_send_inv = bad_rkey;
	x->wr_send_tso = bad_tso;
	x->wr_set_ud_addr = bad_ud;
	x->wr_set_xrc_srqn = bad_rkey;
	x->wr_set_inline_data = wr_set_inline_data;
	x->wr_set_inline_data_list = wr_set_inline_data_list;
	x->wr_set_sge = wr_set_sge;
	x->wr_set_sge_list = wr_set_sge_list;
	x->wr_start = wr_start;
	x->wr_complete = wr_complete;
	x->wr_abort = wr_abort;
	x->wr_atomic_write = bad_atomic_write;
}

/* Called on a new QP (caps final) before anyone else sees it. */
int sr_qpx_setup(struct sr_qp *qp, uint64_t send_ops)
{
	if (send_ops & ~(uint64_t)SR_SEND_OPS_MODELLED)
		return EOPNOTSUPP;
	struct sr_wr_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&b->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	b->cap = qp->sq_size ? qp->sq_size : 1;
	b->max_sge = qp->cap.max_send_sge ? qp->cap.max_send_sge : 1;
	b->max_inline = qp->cap.max_inline_data;
	b->wr = calloc(b->cap, sizeof(*b->wr));
	b->sge = calloc((size_t)b->cap * b->max_sge, sizeof(*b->sge));
	qp->batch = b;
	if (!b->wr || !b->sge)
		return ENOMEM;           /* sr_qpx_free releases the rest */
	qp->send_ops = send_ops;
	qp->has_qpx = true;
	qp->qpx.comp_mask = 0;
	set_builders(&qp->qpx);
	return 0;
}

void sr_qpx_free(struct sr_qp *qp)
{
	struct sr_wr_batch *b = qp->batch;
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->wr);
	free(b->sge);
	free(b->inl);
	free(b);
	qp->batch = NULL;
}

SR_EXPORT struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *ibqp)
{
	struct sr_qp *qp = (struct sr_qp *)ibqp;
	return qp->has_qpx ? &qp->qpx : NULL;
}
