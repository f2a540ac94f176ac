/* softroce: completion queues, completion channels and polling.
 * CQEs are produced by the engine thread only.  Polling a send CQE frees the
 * send-queue slots up to its WQE (mlx5 moves sq.tail in the poll path).
 * An empty CQ is seen without the lock (count and overrun are atomics, as
 * mlx5 polls the CQE ring in memory without asking the NIC), so a poller
 * never waits behind the NIC thread's copy; and a poll wakes nothing: the
 * NIC never reads the queue tails a poll moves. */
#include "sr.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

SR_EXPORT struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *ctx)
{
	struct sr_comp_channel *ch = calloc(1, sizeof(*ch));
	int fds[2];
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	if (pipe2(fds, O_CLOEXEC)) {
		free(ch);
		return NULL;
	}
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	ch->ch.context = ctx;
	ch->ch.fd = fds[0];
	ch->wr_fd = fds[1];
	return &ch->ch;
}

SR_EXPORT int ibv_destroy_comp_channel(struct ibv_comp_channel *ibch)
{
	struct sr_comp_channel *ch = (struct sr_comp_channel *)ibch;
	SR_LOCK();
	int busy = ch->refs;
	SR_UNLOCK();
	if (busy)
		return EBUSY;
	close(ch->ch.fd);
	close(ch->wr_fd);
	free(ch);
	return 0;
}

SR_EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_context,
				       struct ibv_comp_channel *channel, int comp_vector)
{
	if (cqe < 1 || cqe > SR_MAX_CQE || comp_vector < 0 ||
	    comp_vector >= ctx->num_comp_vectors) {
		errno = EINVAL;
		return NULL;
	}
	/* mlx5 rounds cqe + 1 up to a power of two and reports one less. */
	uint32_t slots = 2;
	while (slots < (uint32_t)cqe + 1)
		slots <<= 1;
	struct sr_cq *cq = calloc(1, sizeof(*cq));
	struct sr_cqe *ring = calloc(slots - 1, sizeof(*ring));
	if (!cq || !ring) {
		free(cq);
		free(ring);
		errno = ENOMEM;
		return NULL;
	}
	cq->ring = ring;
	cq->cap = slots - 1;
	cq->cq.context = ctx;
	cq->cq.channel = channel;
	cq->cq.cq_context = cq_context;
	cq->cq.cqe = (int)cq->cap;
	pthread_mutex_init(&cq->cq.mutex, NULL);
	pthread_cond_init(&cq->cq.cond, NULL);
	SR_LOCK();
	if (channel) {
		cq->chan = (struct sr_comp_channel *)channel;
		cq->chan->refs++;
	}
	SR_UNLOCK();
	return &cq->cq;
}

SR_EXPORT int ibv_destroy_cq(struct ibv_cq *ibcq)
{
	struct sr_cq *cq = (struct sr_cq *)ibcq;
	SR_LOCK();
	if (cq->refs) {
		SR_UNLOCK();
		return EBUSY;
	}
	if (cq->chan)
		cq->chan->refs--;
	SR_UNLOCK();
	pthread_mutex_destroy(&cq->cq.mutex);
	pthread_cond_destroy(&cq->cq.cond);
	if (cq->is_ex)
		pthread_mutex_destroy(&cq->poll_lock);
	free(cq->ring);
	free(cq);
	return 0;
}

static void notify(struct sr_cq *cq)
{
	if (!cq->armed || !cq->chan)
		return;
	cq->armed = false;
	void *p = cq;
	if (write(cq->chan->wr_fd, &p, sizeof(p)) != sizeof(p))
		sr_log("completion event lost");
}

/* Overrun: the CQ stops, its owner hears IBV_EVENT_CQ_ERR, and every QP that
 * completes into it goes to error (mlx5 raises a CQ error and the QPs get
 * fatal errors).  Never silent loss. */
static void overrun(struct sr_cq *cq)
{
	__atomic_store_n(&cq->overrun, true, __ATOMIC_RELEASE);
	sr_async_push(sr_ctx_of(cq->cq.context), IBV_EVENT_CQ_ERR, &cq->cq);
	for (struct sr_qp *qp = sr_qp_list; qp; qp = qp->lnext)
		if ((qp->qp.send_cq == &cq->cq || qp->qp.recv_cq == &cq->cq) &&
		    qp->qp.state != IBV_QPS_ERR) {
			sr_async_push(qp->ctx, IBV_EVENT_QP_FATAL, &qp->qp);
			sr_qp_to_err(qp);
		}
}

void sr_cq_push(struct sr_cq *cq, const struct ibv_wc *wc, uint64_t sq_index)
{
	if (cq->overrun)
		return;
	if (cq->count == cq->cap) {
		overrun(cq);
		return;
	}
	struct sr_cqe *e = &cq->ring[(cq->head + cq->count) % cq->cap];
	e->wc = *wc;
	e->sq_index = sq_index;
	__atomic_store_n(&cq->count, cq->count + 1, __ATOMIC_RELEASE);
	notify(cq);
}

/* Only wr_id, status, vendor_err and qp_num are valid in an error CQE; the
 * rest is poison so a caller that reads it is caught. */
void sr_cq_push_err(struct sr_cq *cq, uint64_t wr_id, enum ibv_wc_status st, uint32_t qpn,
		    uint32_t vendor_err, uint64_t sq_index)
{
	struct ibv_wc wc;
	memset(&wc, 0xa5, sizeof(wc));
	wc.wr_id = wr_id;
	wc.status = st;
	wc.qp_num = qpn;
	wc.vendor_err = vendor_err;
	sr_cq_push(cq, &wc, sq_index);
}

bool sr_cq_pop(struct sr_cq *cq, struct ibv_wc *wc)
{
	if (!cq->count)
		return false;
	struct sr_cqe *e = &cq->ring[cq->head];
	*wc = e->wc;
	struct sr_qp *qp = sr_qp_find(e->wc.qp_num);
	if (qp && e->sq_index && e->sq_index > qp->sq_tail)
		qp->sq_tail = e->sq_index;
	else if (qp && !e->sq_index && qp->rq_tail < qp->rq_cons)
		qp->rq_tail++;
	cq->head = (cq->head + 1) % cq->cap;
	__atomic_store_n(&cq->count, cq->count - 1, __ATOMIC_RELAXED);
	return true;
}

/* Without the lock: true when the CQ holds nothing; *dead when it never
 * will again (overrun read first: after it no CQE is added, so an empty
 * count read later means drained for good). */
bool sr_cq_empty(struct sr_cq *cq, bool *dead)
{
	*dead = __atomic_load_n(&cq->overrun, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&cq->count, __ATOMIC_ACQUIRE) == 0;
}

int sr_op_poll_cq(struct ibv_cq *ibcq, int n, struct ibv_wc *wc)
{
	struct sr_cq *cq = (struct sr_cq *)ibcq;
	int got = 0;
	bool dead;
	if (n < 0)
		return -1;
	bool empty = sr_cq_empty(cq, &dead);
	if (empty || n == 0) {
		sched_yield();      /* busy pollers must not starve the NIC thread */
		return dead ? -1 : 0;
	}
	SR_LOCK();
	while (got < n && sr_cq_pop(cq, &wc[got]))
		got++;
	dead = cq->overrun && got == 0;   /* another poller took them */
	SR_UNLOCK();
	return dead ? -1 : got;
}

int sr_op_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
	struct sr_cq *cq = (struct sr_cq *)ibcq;
	(void)solicited_only;     /* treated as "any completion": never later */
	SR_LOCK();
	cq->armed = true;
	/* As on hardware, only a CQE added after arming raises the event. */
	SR_UNLOCK();
	return 0;
}

SR_EXPORT int ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **cq_context)
{
	void *p;
	if (read(ch->fd, &p, sizeof(p)) != sizeof(p))
		return -1;
	*cq = p;
	*cq_context = (*cq)->cq_context;
	return 0;
}

SR_EXPORT void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	pthread_mutex_lock(&cq->mutex);
	cq->comp_events_completed += nevents;
	pthread_cond_signal(&cq->cond);
	pthread_mutex_unlock(&cq->mutex);
}
