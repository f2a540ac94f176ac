/* softroce: the responder side of an RC QP: PSN check, rkey/bounds/access
 * validation, the one copy (process_vm_readv/writev between the two
 * processes, or the payload that came through the socket), receive
 * consumption, RNR NAK, ACK/NAK. */
#include "sr.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SR_HDR_BYTES 58

/* IB spec encoding of min_rnr_timer, in µs. */
static const uint32_t rnr_table_us[32] = {
	655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920,
	2560, 3840, 5120, 7680, 10240, 15360, 20480, 30720, 40960, 61440, 81920, 122880,
	163840, 245760, 327680, 491520,
};

int sr_send_ctl(int pid, uint32_t type, uint32_t dst_qpn, struct sr_qp *from, uint32_t psn,
		uint8_t nak, uint32_t rnr, const void *payload, uint32_t plen, uint64_t now)
{
	struct sr_msg m;
	memset(&m, 0, sizeof(m));   /* the whole frame goes on the wire */
	m.type = type;
	m.dst_qpn = dst_qpn;
	m.src_qpn = from->qp.qp_num;
	m.psn = psn & 0xffffff;
	m.src_pid = (int32_t)getpid();
	m.src_host = (uint16_t)sr_g.host_idx;
	m.src_hca = (uint16_t)from->ctx->sdev->hca_idx;
	m.link_gen = sr_port_down_gen(sr_g.host_idx, m.src_hca);
	m.nak = nak;
	m.rnr_us = rnr;
	m.payload_len = plen;
	uint64_t at = now + (uint64_t)(sr_g.topo.latency_us * 1000) + sr_jitter_ns();
	if (at < from->last_ack_ns)
		at = from->last_ack_ns;
	from->last_ack_ns = at;
	m.deliver_at = at;
	return sr_wire_send(pid, &m, payload);
}

static void reply(struct sr_qp *qp, const struct sr_msg *m, uint32_t type, uint8_t nak,
		  uint32_t psn, uint64_t now)
{
	sr_send_ctl(m->src_pid, type, m->src_qpn, qp, psn, nak,
		    nak == SR_NAK_RNR ? rnr_table_us[qp->min_rnr_timer] : 0, NULL, 0, now);
}

static void count_rx(struct sr_qp *qp, uint64_t len)
{
	struct sr_shm_port *port = &sr_g.shm->host[sr_g.host_idx].port[qp->ctx->sdev->hca_idx];
	uint64_t mtu = 128u << qp->mtu, pkts = len ? (len + mtu - 1) / mtu : 1;
	__atomic_add_fetch(&port->rcv_bytes, len + pkts * SR_HDR_BYTES, __ATOMIC_RELAXED);
	__atomic_add_fetch(&port->rcv_pkts, pkts, __ATOMIC_RELAXED);
}

/* The responder QP goes to error; an access violation is also an affiliated
 * async event. */
static void resp_error(struct sr_qp *qp, bool access)
{
	if (access)
		sr_async_push(qp->ctx, IBV_EVENT_QP_ACCESS_ERR, &qp->qp);
	sr_qp_to_err(qp);
}

static bool rkey_ok(struct sr_qp *qp, const struct sr_msg *m, unsigned need, uint64_t *va)
{
	struct sr_mr *mr = sr_mr_find(m->rkey);
	if (!mr || mr->mr.pd != qp->qp.pd || !(mr->access & need) || !(qp->access & need) ||
	    !sr_mr_covers(mr, m->raddr, m->seg_len))
		return false;
	*va = sr_mr_va(mr, m->raddr);
	return true;
}

/* Moves a segment into local memory; returns 0 or an NAK code. */
static int copy_in(const struct sr_msg *m, const void *payload, const struct iovec *dst, int ndst)
{
	if (m->payload_len) {
		size_t o = 0;
		for (int i = 0; i < ndst; i++) {
			memcpy(dst[i].iov_base, (const char *)payload + o, dst[i].iov_len);
			o += dst[i].iov_len;
		}
		return 0;
	}
	if (!m->seg_len)
		return 0;
	struct iovec src[SR_MAX_SGE];
	for (int i = 0; i < m->niov; i++) {
		src[i].iov_base = (void *)(uintptr_t)m->iov[i].addr;
		src[i].iov_len = m->iov[i].len;
	}
	ssize_t r = process_vm_readv(m->src_pid, dst, (unsigned long)ndst, src, m->niov, 0);
	if (r == (ssize_t)m->seg_len)
		return 0;
	if (r < 0 && (errno == EPERM || errno == ENOSYS))
		return SR_NAK_STREAM;
	return SR_NAK_LOC_PROT;
}

/* Local addresses of [off, off+len) of a receive WQE (lkeys checked). */
static int recv_slice(struct sr_qp *qp, const struct sr_rwqe *r, uint64_t off, uint64_t len,
		      struct iovec *iov)
{
	int n = 0;
	for (int i = 0; i < r->nsge && len; i++) {
		const struct sr_sge *s = &r->sge[i];
		if (off >= s->length) {
			off -= s->length;
			continue;
		}
		uint64_t piece = s->length - off < len ? s->length - off : len;
		struct sr_mr *mr = sr_mr_find(s->lkey);
		if (!mr || mr->mr.pd != qp->qp.pd || !(mr->access & IBV_ACCESS_LOCAL_WRITE) ||
		    !sr_mr_covers(mr, s->addr, s->length))
			return -1;
		iov[n].iov_base = (void *)(uintptr_t)sr_mr_va(mr, s->addr + off);
		iov[n].iov_len = piece;
		n++;
		len -= piece;
		off = 0;
	}
	return n;
}

static void recv_cqe(struct sr_qp *qp, const struct sr_msg *m, enum ibv_wc_opcode op)
{
	struct sr_rwqe *r = &qp->rq[qp->rq_cons % qp->rq_size];
	struct ibv_wc wc;
	memset(&wc, 0xa5, sizeof(wc));
	wc.wr_id = r->wr_id;
	wc.status = IBV_WC_SUCCESS;
	wc.opcode = op;
	wc.vendor_err = 0;
	wc.byte_len = (uint32_t)m->msg_len;
	wc.qp_num = qp->qp.qp_num;
	wc.src_qp = m->src_qpn;
	wc.wc_flags = 0;
	wc.pkey_index = 0;
	wc.slid = 0;
	wc.sl = 0;
	wc.dlid_path_bits = 0;
	if (m->opcode == IBV_WR_SEND_WITH_IMM || m->opcode == IBV_WR_RDMA_WRITE_WITH_IMM) {
		wc.wc_flags = IBV_WC_WITH_IMM;
		wc.imm_data = m->imm;           /* passed through: network order */
	}
	qp->rq_cons++;
	sr_cq_push((struct sr_cq *)qp->qp.recv_cq, &wc, 0);
}

static void recv_err(struct sr_qp *qp, enum ibv_wc_status st)
{
	struct sr_rwqe *r = &qp->rq[qp->rq_cons % qp->rq_size];
	sr_cq_push_err((struct sr_cq *)qp->qp.recv_cq, r->wr_id, st, qp->qp.qp_num, 0x51, 0);
	qp->rq_cons++;
}

/* Returns true when the segment was accepted (PSN advances, ACK sent). */
static bool do_write(struct sr_qp *qp, const struct sr_msg *m, const void *payload, uint64_t now)
{
	if (m->seg_len) {           /* a zero-length WRITE checks no rkey */
		uint64_t va;
		if (!rkey_ok(qp, m, IBV_ACCESS_REMOTE_WRITE, &va)) {
			reply(qp, m, SR_M_NAK, SR_NAK_ACCESS, m->psn, now);
			resp_error(qp, true);
			return false;
		}
		struct iovec dst = { (void *)(uintptr_t)va, m->seg_len };
		int nak = copy_in(m, payload, &dst, 1);
		if (nak) {
			reply(qp, m, SR_M_NAK, (uint8_t)nak, m->psn, now);
			return false;
		}
	}
	if (m->opcode == IBV_WR_RDMA_WRITE_WITH_IMM && m->last) {
		if (qp->rq_cons == qp->rq_head) {
			reply(qp, m, SR_M_NAK, SR_NAK_RNR, m->psn, now);
			return false;
		}
		recv_cqe(qp, m, IBV_WC_RECV_RDMA_WITH_IMM);
	}
	return true;
}

static bool do_send(struct sr_qp *qp, const struct sr_msg *m, const void *payload, uint64_t now)
{
	if (m->msg_off == 0) {
		if (qp->rq_cons == qp->rq_head) {
			reply(qp, m, SR_M_NAK, SR_NAK_RNR, m->psn, now);
			return false;
		}
		if (m->msg_len > qp->rq[qp->rq_cons % qp->rq_size].len) {
			reply(qp, m, SR_M_NAK, SR_NAK_INV_REQ, m->psn, now);
			recv_err(qp, IBV_WC_LOC_LEN_ERR);
			resp_error(qp, false);
			return false;
		}
		qp->in_send = true;
	} else if (!qp->in_send) {
		return false;
	}
	struct iovec dst[SR_MAX_SGE];
	int n = recv_slice(qp, &qp->rq[qp->rq_cons % qp->rq_size], m->msg_off, m->seg_len, dst);
	if (n < 0) {
		reply(qp, m, SR_M_NAK, SR_NAK_REM_OP, m->psn, now);
		recv_err(qp, IBV_WC_LOC_PROT_ERR);
		resp_error(qp, false);
		return false;
	}
	int nak = copy_in(m, payload, dst, n);
	if (nak) {
		reply(qp, m, SR_M_NAK, (uint8_t)nak, m->psn, now);
		return false;
	}
	if (m->last) {
		qp->in_send = false;
		recv_cqe(qp, m, IBV_WC_RECV);
	}
	return true;
}

/* READ: data goes straight into the requester's memory, or back in the
 * response when the requester streams or the kernel refuses. */
static bool do_read(struct sr_qp *qp, const struct sr_msg *m, uint64_t now)
{
	uint64_t va = 0;
	if (m->seg_len && !rkey_ok(qp, m, IBV_ACCESS_REMOTE_READ, &va)) {
		reply(qp, m, SR_M_NAK, SR_NAK_ACCESS, m->psn, now);
		resp_error(qp, true);
		return false;
	}
	bool stream = m->seg_len && m->niov == 0;
	if (m->seg_len && !stream) {
		struct iovec src = { (void *)(uintptr_t)va, m->seg_len }, dst[SR_MAX_SGE];
		for (int i = 0; i < m->niov; i++) {
			dst[i].iov_base = (void *)(uintptr_t)m->iov[i].addr;
			dst[i].iov_len = m->iov[i].len;
		}
		ssize_t r = process_vm_writev(m->src_pid, &src, 1, dst, m->niov, 0);
		if (r < 0 && (errno == EPERM || errno == ENOSYS))
			stream = true;
		else if (r != (ssize_t)m->seg_len) {
			reply(qp, m, SR_M_NAK, SR_NAK_LOC_PROT, m->psn, now);
			return false;
		}
	}
	sr_send_ctl(m->src_pid, SR_M_READ_RESP, m->src_qpn, qp, m->psn, 0, 0,
		    stream ? (void *)(uintptr_t)va : NULL, stream ? m->seg_len : 0, now);
	return true;
}

void sr_resp_rx(const struct sr_msg *m, const void *payload, uint64_t now)
{
	struct sr_qp *qp = sr_qp_find(m->dst_qpn);
	/* Not there, not receiving, or not connected to the sender: the packet
	 * is dropped silently and the requester times out. */
	if (!qp || (qp->qp.state != IBV_QPS_RTR && qp->qp.state != IBV_QPS_RTS) ||
	    m->src_qpn != qp->dest_qpn ||
	    !sr_port_active(sr_g.host_idx, sr_g.host, qp->ctx->sdev->hca_idx))
		return;
	uint32_t d = (m->psn - qp->epsn) & 0xffffff;
	if (d != 0) {
		if (d < 0x800000)
			return;                     /* future PSN: an earlier one was lost */
		if (m->opcode == IBV_WR_RDMA_READ)
			do_read(qp, m, now);        /* duplicate READ is executed again */
		else
			reply(qp, m, SR_M_ACK, 0, qp->epsn - 1, now);
		return;
	}
	count_rx(qp, m->opcode == IBV_WR_RDMA_READ ? 0 : m->seg_len);
	bool ok;
	switch (m->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		ok = do_write(qp, m, payload, now);
		break;
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
		ok = do_send(qp, m, payload, now);
		break;
	case IBV_WR_RDMA_READ:
		ok = do_read(qp, m, now);
		break;
	default:
		reply(qp, m, SR_M_NAK, SR_NAK_INV_REQ, m->psn, now);
		resp_error(qp, false);
		ok = false;
		break;
	}
	if (!ok)
		return;
	qp->epsn = (qp->epsn + 1) & 0xffffff;
	if (m->opcode != IBV_WR_RDMA_READ)
		reply(qp, m, SR_M_ACK, 0, m->psn, now);
}
