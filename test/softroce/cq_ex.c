/* softroce: extended CQs (ibv_create_cq_ex) and their polling interface:
 * start_poll/next_poll take one CQE each from the same ring ibv_poll_cq
 * reads (freeing SQ slots as a poll does), the read_* functions read fields
 * of the CQE taken last.  A field read outside start..end_poll, or one not
 * asked for in wc_flags, returns poison (0xa5…), never a stale value that
 * a test could mistake for a right one. */
#include "sr.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#define WC_FLAGS_MODELLED (IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_IMM | \
			   IBV_WC_EX_WITH_QP_NUM | IBV_WC_EX_WITH_SRC_QP | \
			   IBV_WC_EX_WITH_SLID | IBV_WC_EX_WITH_SL | \
			   IBV_WC_EX_WITH_DLID_PATH_BITS)
#define POISON32 0xa5a5a5a5u

static struct sr_cq *cq_of(struct ibv_cq_ex *x)
{
	return (struct sr_cq *)x;
}

/* Takes the next CQE into cq->cur; ENOENT when the CQ is empty. */
static int take(struct sr_cq *cq)
{
	bool dead, got = false;
	if (!sr_cq_empty(cq, &dead)) {      /* an empty CQ is seen without the lock */
		SR_LOCK();
		got = sr_cq_pop(cq, &cq->cur);
		dead = cq->overrun && !got;
		SR_UNLOCK();
	}
	if (!got) {
		sched_yield();       /* busy pollers must not starve the NIC thread */
		return dead ? EIO : ENOENT;
	}
	cq->cqx.status = cq->cur.status;
	cq->cqx.wr_id = cq->cur.wr_id;
	return 0;
}

/* As on mlx5, start_poll holds the CQ until end_poll, or releases it at
 * once when it finds nothing (then end_poll must not be called).  A second
 * start_poll in the same thread, a deadlock on mlx5, is EINVAL here. */
static int start_poll(struct ibv_cq_ex *x, struct ibv_poll_cq_attr *attr)
{
	struct sr_cq *cq = cq_of(x);
	if (!attr || attr->comp_mask)
		return EINVAL;
	if (pthread_mutex_lock(&cq->poll_lock))
		return EINVAL;
	cq->polling = true;
	int rc = take(cq);
	if (rc) {
		cq->polling = false;
		pthread_mutex_unlock(&cq->poll_lock);
	}
	return rc;
}

static int next_poll(struct ibv_cq_ex *x)
{
	struct sr_cq *cq = cq_of(x);
	if (!cq->polling)
		return EINVAL;
	return take(cq);
}

static void end_poll(struct ibv_cq_ex *x)
{
	struct sr_cq *cq = cq_of(x);
	if (!cq->polling)
		return;              /* no start_poll, or one that found nothing */
	cq->polling = false;
	pthread_mutex_unlock(&cq->poll_lock);
}

/* The CQE's field, if it may be read now. */
static bool readable(struct ibv_cq_ex *x, uint64_t flag)
{
	struct sr_cq *cq = cq_of(x);
	return cq->polling && (!flag || (cq->wc_flags & flag));
}

static enum ibv_wc_opcode read_opcode(struct ibv_cq_ex *x)
{
	return readable(x, 0) ? cq_of(x)->cur.opcode : (enum ibv_wc_opcode)POISON32;
}

static uint32_t read_vendor_err(struct ibv_cq_ex *x)
{
	return readable(x, 0) ? cq_of(x)->cur.vendor_err : POISON32;
}

static uint32_t read_byte_len(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_BYTE_LEN) ? cq_of(x)->cur.byte_len : POISON32;
}

static __be32 read_imm_data(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_IMM) ? cq_of(x)->cur.imm_data : POISON32;
}

static uint32_t read_qp_num(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_QP_NUM) ? cq_of(x)->cur.qp_num : POISON32;
}

static uint32_t read_src_qp(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_SRC_QP) ? cq_of(x)->cur.src_qp : POISON32;
}

static unsigned int read_wc_flags(struct ibv_cq_ex *x)
{
	return readable(x, 0) ? cq_of(x)->cur.wc_flags : POISON32;
}

static uint32_t read_slid(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_SLID) ? cq_of(x)->cur.slid : POISON32;
}

static uint8_t read_sl(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_SL) ? cq_of(x)->cur.sl : 0xa5;
}

static uint8_t read_dlid_path_bits(struct ibv_cq_ex *x)
{
	return readable(x, IBV_WC_EX_WITH_DLID_PATH_BITS) ? cq_of(x)->cur.dlid_path_bits : 0xa5;
}

/* Fields creation refuses to provide (timestamps, VLAN, flow tag, TM). */
static uint64_t read_poison64(struct ibv_cq_ex *x)
{
	(void)x;
	return 0xa5a5a5a5a5a5a5a5ull;
}

static uint16_t read_cvlan(struct ibv_cq_ex *x)
{
	(void)x;
	return 0xa5a5;
}

static uint32_t read_flow_tag(struct ibv_cq_ex *x)
{
	(void)x;
	return POISON32;
}

static void read_tm_info(struct ibv_cq_ex *x, struct ibv_wc_tm_info *tm)
{
	(void)x;
	memset(tm, 0xa5, sizeof(*tm));
}

static void set_readers(struct ibv_cq_ex *x)
{
	x->start_poll = start_poll;
	x->next_poll = next_poll;
	x->end_poll = end_poll;
	x->read_opcode = read_opcode;
	x->read_vendor_err = read_vendor_err;
	x->read_byte_len = read_byte_len;
	x->read_imm_data = read_imm_data;
	x->read_qp_num = read_qp_num;
	x->read_src_qp = read_src_qp;
	x->read_wc_flags = read_wc_flags;
	x->read_slid = read_slid;
	x->read_sl = read_sl;
	x->read_dlid_path_bits = read_dlid_path_bits;
	x->read_completion_ts = read_poison64;
	x->read_cvlan = read_cvlan;
	x->read_flow_tag = read_flow_tag;
	x->read_tm_info = read_tm_info;
	x->read_completion_wallclock_ns = read_poison64;
}

struct ibv_cq_ex *sr_op_create_cq_ex(struct ibv_context *ctx, struct ibv_cq_init_attr_ex *a)
{
	/* Single-threaded use is a promise softroce needs not exploit; a
	 * parent domain, ignoring overrun and timestamps are not modelled. */
	if ((a->comp_mask & ~(uint32_t)IBV_CQ_INIT_ATTR_MASK_FLAGS) ||
	    ((a->comp_mask & IBV_CQ_INIT_ATTR_MASK_FLAGS) &&
	     (a->flags & ~(uint32_t)IBV_CREATE_CQ_ATTR_SINGLE_THREADED)) ||
	    (a->wc_flags & ~(uint64_t)WC_FLAGS_MODELLED)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (a->cqe > SR_MAX_CQE) {     /* (the rest is ibv_create_cq's to check) */
		errno = EINVAL;
		return NULL;
	}
	struct ibv_cq *ibcq = ibv_create_cq(ctx, (int)a->cqe, a->cq_context, a->channel,
					    (int)a->comp_vector);
	if (!ibcq)
		return NULL;
	struct sr_cq *cq = (struct sr_cq *)ibcq;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&cq->poll_lock, &ma);
	pthread_mutexattr_destroy(&ma);
	cq->is_ex = true;
	cq->wc_flags = a->wc_flags;
	cq->cqx.comp_mask = 0;
	set_readers(&cq->cqx);
	return &cq->cqx;
}
