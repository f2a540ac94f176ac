/* softroce: the requester side of an RC QP.  WQEs execute in post order;
 * each message moves in segments of SR_SEG bytes, one PSN each, with a window
 * of SR_WINDOW segments in flight; go-back-N retransmission on timeout;
 * RNR back-off; CQEs in post order once the responder acknowledged. */
#include "sr.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SR_WINDOW      64
#define SR_HORIZON_NS  20000000ull   /* how far ahead a link may be booked */
#define SR_HDR_BYTES   58           /* RoCE v2 headers per packet, counters only */
#define SR_CABLE_GBPS  24.5
#define SR_SMALL       16384        /* bytes: served ahead of booked bulk */

static uint64_t timeout_ns(const struct sr_qp *qp)
{
	if (qp->timeout == 0)
		return UINT64_MAX / 4;      /* 0 = infinite, as the IB spec says */
	double ns = 4096.0 * (double)(1ull << qp->timeout) * sr_g.topo.timeout_scale;
	return ns < (double)sr_g.tmo_floor_ns ? sr_g.tmo_floor_ns : (uint64_t)ns;
}

static int mtu_bytes(enum ibv_mtu m)
{
	return 128 << m;
}

static struct sr_swqe *wqe_of_psn(struct sr_qp *qp, uint32_t psn)
{
	for (uint64_t i = qp->sq_done; i < qp->sq_exec; i++) {
		struct sr_swqe *w = &qp->sq[i % qp->sq_size];
		if (psn - w->first_psn < w->npkt)
			return w;
	}
	return NULL;
}

/* Local memory of [off, off+len) of a WQE as process addresses. */
static enum ibv_wc_status slice(struct sr_qp *qp, const struct sr_swqe *w, uint64_t off,
				uint64_t len, struct sr_iov *iov, uint8_t *niov, bool write)
{
	*niov = 0;
	for (int i = 0; i < w->nsge && len; i++) {
		const struct sr_sge *s = &w->sge[i];
		if (off >= s->length) {
			off -= s->length;
			continue;
		}
		uint64_t piece = s->length - off < len ? s->length - off : len;
		struct sr_mr *mr = sr_mr_find(s->lkey);
		if (!mr || mr->mr.pd != qp->qp.pd || !sr_mr_covers(mr, s->addr, s->length) ||
		    (write && !(mr->access & IBV_ACCESS_LOCAL_WRITE)))
			return IBV_WC_LOC_PROT_ERR;
		iov[*niov].addr = sr_mr_va(mr, s->addr + off);
		iov[*niov].len = piece;
		(*niov)++;
		len -= piece;
		off = 0;
	}
	return IBV_WC_SUCCESS;
}

/* ---- routing: (dgid, dest_qpn) → a live QP on a reachable port ----------- */
static bool gid_in(const struct sr_hca_cfg *c, int octet, const union ibv_gid *g)
{
	struct sr_gid gids[SR_MAX_GIDS];
	sr_hca_gids(c, octet, c->id, gids);
	for (int i = 0; i < SR_MAX_GIDS; i++)
		if (gids[i].valid && memcmp(&gids[i].gid, g, 16) == 0)
			return true;
	return false;
}

static bool same_l3(const struct sr_qp *qp)
{
	struct sr_gid gids[SR_MAX_GIDS];
	const struct sr_device *d = qp->ctx->sdev;
	struct sr_hca_cfg now = d->cfg;
	sr_netdev_overlay(sr_g.host_idx, d->hca_idx, &now);
	sr_hca_gids(&now, d->octet, now.id, gids);
	const uint8_t *s = gids[qp->ah.grh.sgid_index].gid.raw, *t = qp->ah.grh.dgid.raw;
	bool s4 = s[10] == 0xff && s[11] == 0xff, t4 = t[10] == 0xff && t[11] == 0xff;
	if (s4 != t4)
		return false;
	return s4 ? memcmp(s + 12, t + 12, 3) == 0 : (s[0] == 0xfe && t[0] == 0xfe);
}

static int route(struct sr_qp *qp)
{
	const struct sr_shm_qpn *e = sr_qpn_lookup(qp->dest_qpn);
	if (!e)
		return -1;
	int host = e->host, hca = e->hca, pid = e->pid;
	if (!qp->dst_known || qp->dst_host != host || qp->dst_hca != hca || qp->dst_pid != pid) {
		struct sr_hca_cfg hcas[SR_MAX_HCAS];
		int octet, n = sr_host_cfg(host, hcas, &octet);
		if (hca < n)
			sr_netdev_overlay(host, hca, &hcas[hca]);
		qp->dst_known = true;
		qp->dst_host = host;
		qp->dst_hca = hca;
		qp->dst_pid = pid;
		qp->dst_ok = hca < n && gid_in(&hcas[hca], octet, &qp->ah.grh.dgid) &&
			     strcmp(hcas[hca].name, qp->ctx->sdev->cfg.name) == 0 &&
			     (host != sr_g.host_idx || hca == qp->ctx->sdev->hca_idx) &&
			     same_l3(qp);
		if (hca < n)
			qp->dst_cfg = hcas[hca];
	}
	if (!qp->dst_ok || !sr_port_active(sr_g.host_idx, sr_g.host, qp->ctx->sdev->hca_idx) ||
	    !sr_port_active(host, sr_g.shm->host[host].name, hca))
		return -1;
	return pid;
}

/* ---- link model ---------------------------------------------------------- */
struct sr_path { uint64_t *clk[3]; double rate[3]; };

static void path_of(struct sr_qp *qp, bool read, struct sr_path *p)
{
	struct sr_shm_host *me = &sr_g.shm->host[sr_g.host_idx];
	struct sr_shm_host *peer = &sr_g.shm->host[qp->dst_host];
	const struct sr_hca_cfg *mc = &qp->ctx->sdev->cfg, *pc = &qp->dst_cfg;
	double mr = sr_port_rate(sr_g.host_idx, qp->ctx->sdev->hca_idx, mc);
	double pr = sr_port_rate(qp->dst_host, qp->dst_hca, pc);
	bool loop = qp->dst_host == sr_g.host_idx;
	struct sr_shm_host *tx = read ? peer : me, *rx = read ? me : peer;
	const struct sr_hca_cfg *tc = read ? pc : mc, *rc = read ? mc : pc;
	p->clk[0] = &tx->link_clock[tc->link_group][0];
	p->rate[0] = read ? pr : mr;
	p->clk[1] = loop ? NULL : &tx->cable_clock[tc->cable];
	p->rate[1] = SR_CABLE_GBPS * sr_g.topo.scale;
	p->clk[2] = &rx->link_clock[rc->link_group][1];
	p->rate[2] = read ? mr : pr;
}

/* Books the segment on every hop; returns when it is fully delivered.  A
 * small segment (≤ SR_SMALL) is charged to the clocks like any other but is
 * not queued behind the bulk already booked: a NIC interleaves QPs packet by
 * packet, so a small message waits for a few packets, not for megabytes.
 * Backpressure still applies to it, so the long-run rate stays capped. */
static uint64_t book(const struct sr_path *p, uint64_t bytes, uint64_t earliest, uint64_t now)
{
	uint64_t finish = now;
	for (int i = 0; i < 3; i++) {
		if (!p->clk[i])
			continue;
		uint64_t dur = (uint64_t)((double)bytes / p->rate[i]);
		uint64_t f = sr_clock_reserve(p->clk[i], earliest, dur);
		if (bytes <= SR_SMALL)
			f = now + dur;
		if (f > finish)
			finish = f;
	}
	return finish;
}

static uint64_t busy_until(const struct sr_path *p)
{
	uint64_t b = 0;
	for (int i = 0; i < 3; i++)
		if (p->clk[i]) {
			uint64_t v = __atomic_load_n(p->clk[i], __ATOMIC_ACQUIRE);
			b = v > b ? v : b;
		}
	return b;
}

static void count_tx(struct sr_qp *qp, uint64_t len)
{
	struct sr_shm_port *port = &sr_g.shm->host[sr_g.host_idx].port[qp->ctx->sdev->hca_idx];
	uint64_t pkts = len ? (len + (uint64_t)mtu_bytes(qp->mtu) - 1) / (uint64_t)mtu_bytes(qp->mtu) : 1;
	__atomic_add_fetch(&port->xmit_bytes, len + pkts * SR_HDR_BYTES, __ATOMIC_RELAXED);
	__atomic_add_fetch(&port->xmit_pkts, pkts, __ATOMIC_RELAXED);
}

/* ---- completions ---------------------------------------------------------- */
static void fail_head(struct sr_qp *qp, enum ibv_wc_status st, uint32_t vendor)
{
	if (qp->sq_done < qp->sq_head) {
		struct sr_swqe *w = &qp->sq[qp->sq_done % qp->sq_size];
		sr_cq_push_err((struct sr_cq *)qp->qp.send_cq, w->wr_id, st, qp->qp.qp_num, vendor,
			       qp->sq_done + 1);
		free(w->inl);
		w->inl = NULL;
		qp->sq_done++;
		if (qp->sq_exec < qp->sq_done)
			qp->sq_exec = qp->sq_done;
	}
	sr_log("qp %#x: error %s", qp->qp.qp_num, ibv_wc_status_str(st));
	sr_qp_to_err(qp);
}

static void complete_ok(struct sr_qp *qp, struct sr_swqe *w)
{
	if (w->signaled) {
		struct ibv_wc wc;
		memset(&wc, 0xa5, sizeof(wc));   /* mlx5 leaves the rest untouched */
		wc.wr_id = w->wr_id;
		wc.status = IBV_WC_SUCCESS;
		wc.qp_num = qp->qp.qp_num;
		wc.vendor_err = 0;
		wc.wc_flags = 0;
		switch (w->opcode) {
		case IBV_WR_RDMA_WRITE_WITH_IMM:
			wc.wc_flags = IBV_WC_WITH_IMM;
			/* fallthrough */
		case IBV_WR_RDMA_WRITE:
			wc.opcode = IBV_WC_RDMA_WRITE;
			break;
		case IBV_WR_SEND_WITH_IMM:
			wc.wc_flags = IBV_WC_WITH_IMM;
			/* fallthrough */
		case IBV_WR_SEND:
			wc.opcode = IBV_WC_SEND;
			break;
		default:
			wc.opcode = IBV_WC_RDMA_READ;
			wc.byte_len = (uint32_t)w->len;
			break;
		}
		sr_cq_push((struct sr_cq *)qp->qp.send_cq, &wc, qp->sq_done + 1);
	}
	free(w->inl);
	w->inl = NULL;
	qp->sq_done++;
}

static void complete_acked(struct sr_qp *qp)
{
	while (qp->sq_done < qp->sq_exec && qp->qp.state == IBV_QPS_RTS) {
		struct sr_swqe *w = &qp->sq[qp->sq_done % qp->sq_size];
		if (w->err) {
			/* reported once everything before it is acknowledged */
			if ((int32_t)(qp->una_psn - w->err_psn) >= 0)
				fail_head(qp, w->err, 0x51);
			return;
		}
		if ((int32_t)(qp->una_psn - (w->first_psn + w->npkt)) < 0)
			return;
		complete_ok(qp, w);
	}
}

void sr_qp_flush(struct sr_qp *qp)
{
	struct sr_cq *scq = (struct sr_cq *)qp->qp.send_cq, *rcq = (struct sr_cq *)qp->qp.recv_cq;
	qp->need_flush = false;
	if (qp->qp.state != IBV_QPS_ERR)
		return;
	for (; qp->sq_done < qp->sq_head; qp->sq_done++) {
		struct sr_swqe *w = &qp->sq[qp->sq_done % qp->sq_size];
		sr_cq_push_err(scq, w->wr_id, IBV_WC_WR_FLUSH_ERR, qp->qp.qp_num, 0xf9,
			       qp->sq_done + 1);
		free(w->inl);
		w->inl = NULL;
	}
	qp->sq_exec = qp->sq_done;
	for (; qp->rq_cons < qp->rq_head; qp->rq_cons++)
		sr_cq_push_err(rcq, qp->rq[qp->rq_cons % qp->rq_size].wr_id, IBV_WC_WR_FLUSH_ERR,
			       qp->qp.qp_num, 0xf9, 0);
	qp->timer_ns = 0;
	qp->in_send = false;
}

/* ---- transmission ---------------------------------------------------------- */
static void halt(struct sr_qp *qp, struct sr_swqe *w, enum ibv_wc_status st, uint32_t psn)
{
	w->err = st;
	w->err_psn = psn;
	qp->halted = true;
	qp->halt_psn = psn;
}

static bool start_wqe(struct sr_qp *qp)
{
	if (qp->sq_exec == qp->sq_head || qp->halted)
		return false;
	struct sr_swqe *w = &qp->sq[qp->sq_exec % qp->sq_size];
	if ((w->send_flags & IBV_SEND_FENCE) && qp->una_psn != qp->max_psn)
		return false;
	struct sr_iov iov[SR_MAX_SGE];
	uint8_t n;
	w->started = true;
	w->first_psn = qp->max_psn;
	w->err = IBV_WC_SUCCESS;
	qp->sq_exec++;
	enum ibv_wc_status st = w->len > (1ull << 30) ? IBV_WC_LOC_LEN_ERR :
		slice(qp, w, 0, w->len, iov, &n, w->opcode == IBV_WR_RDMA_READ);
	if (st != IBV_WC_SUCCESS) {
		w->npkt = 0;
		halt(qp, w, st, qp->max_psn);
		complete_acked(qp);
		return false;
	}
	w->npkt = w->len ? (uint32_t)((w->len + SR_SEG - 1) / SR_SEG) : 1;
	qp->max_psn += w->npkt;
	return true;
}

/* Where the data of a segment travels: the inline copy, a gathered copy in
 * stream mode, or (one-copy) only the addresses in m->iov.  Returns the
 * payload, *tmp what to free; NULL with *tmp set means out of memory. */
/* The payload that travels with the segment (NULL: none), in *payload; a
 * buffer to free after sending in *tmp.  -ENOMEM when the streamed copy
 * cannot be allocated. */
static int segment_payload(const struct sr_swqe *w, struct sr_msg *m, uint64_t off,
			   bool read, const void **payload, void **tmp)
{
	*payload = NULL;
	*tmp = NULL;
	if (w->inl) {
		m->payload_len = m->seg_len;
		*payload = w->inl + off;
		return 0;
	}
	if (!sr_g.stream_copy)
		return 0;
	if (read || !m->seg_len) {
		m->niov = 0;                   /* READ: data comes back in the response */
		return 0;
	}
	char *buf = malloc(m->seg_len);
	if (!buf)
		return -ENOMEM;
	uint64_t o = 0;
	for (int i = 0; i < m->niov; i++) {
		memcpy(buf + o, (void *)(uintptr_t)m->iov[i].addr, m->iov[i].len);
		o += m->iov[i].len;
	}
	m->payload_len = m->seg_len;
	m->niov = 0;
	*payload = buf;
	*tmp = buf;
	return 0;
}

static void fill_header(struct sr_qp *qp, const struct sr_swqe *w, uint32_t psn, uint64_t off,
			uint64_t len, struct sr_msg *m)
{
	m->type = SR_M_REQ;
	m->dst_qpn = qp->dest_qpn;
	m->src_qpn = qp->qp.qp_num;
	m->psn = psn & 0xffffff;
	m->src_pid = (int32_t)getpid();
	m->src_host = (uint16_t)sr_g.host_idx;
	m->src_hca = (uint16_t)qp->ctx->sdev->hca_idx;
	m->opcode = (uint8_t)w->opcode;
	m->last = psn - w->first_psn == w->npkt - 1;
	m->imm = w->imm;
	m->raddr = w->raddr + off;
	m->rkey = w->rkey;
	m->seg_len = (uint32_t)len;
	m->msg_off = off;
	m->msg_len = w->len;
}

static void send_segment(struct sr_qp *qp, struct sr_swqe *w, uint32_t psn, uint64_t now)
{
	struct sr_msg m;
	uint64_t off = (uint64_t)(psn - w->first_psn) * SR_SEG;
	uint64_t len = w->len - off < SR_SEG ? w->len - off : SR_SEG;
	bool read = w->opcode == IBV_WR_RDMA_READ;
	memset(&m, 0, sizeof(m));   /* the whole frame goes on the wire */
	if (!w->inl && slice(qp, w, off, len, m.iov, &m.niov, read) != IBV_WC_SUCCESS) {
		halt(qp, w, IBV_WC_LOC_PROT_ERR, psn);   /* MR gone while in flight */
		complete_acked(qp);
		return;
	}
	fill_header(qp, w, psn, off, len, &m);
	m.link_gen = sr_port_down_gen(sr_g.host_idx, qp->ctx->sdev->hca_idx);
	const void *payload;
	void *tmp;
	if (segment_payload(w, &m, off, read, &payload, &tmp))
		return;                         /* out of memory: retried on the next pass */
	int pid = route(qp);
	uint64_t deliver = now;
	if (pid > 0) {
		struct sr_path p;
		path_of(qp, read, &p);
		/* From the post (or the resend decision), never from an idle link. */
		uint64_t earliest = w->post_ns > qp->resume_ns ? w->post_ns : qp->resume_ns;
		deliver = book(&p, len, earliest < now ? earliest : now, now);
	}
	deliver += (uint64_t)(sr_g.topo.latency_us * 1000) + sr_jitter_ns();
	if (deliver < qp->last_deliver_ns)
		deliver = qp->last_deliver_ns;       /* one QP stays in order */
	qp->last_deliver_ns = deliver;
	m.deliver_at = deliver;
	if (pid > 0) {
		count_tx(qp, read ? 0 : len);
		if (sr_wire_send(pid, &m, payload))
			sr_log("qp %#x: packet to %d lost", qp->qp.qp_num, pid);
	}
	free(tmp);
	if (!qp->timer_ns)
		qp->timer_ns = deliver + timeout_ns(qp);
	qp->next_psn++;
}

/* A killed peer may linger as a zombie until its parent reaps it; kill(0)
 * still finds it, so its state letter decides. */
static bool process_alive(int pid)
{
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Control "acks drop" on this end of the QP's port: every response lost. */
static bool acks_dropped(const struct sr_qp *qp)
{
	return __atomic_load_n(&sr_g.shm->host[sr_g.host_idx].port[qp->ctx->sdev->hca_idx].drop_acks,
			       __ATOMIC_ACQUIRE) != 0;
}

/* Would the responder drop what we send (or we its answer)? Packets are
 * lost only in modelled situations: no route (unreachable GID, port down at
 * either end), a frozen host, a dead process, a destination QP that is not
 * receiving from us, or responses dropped on the way in (control "acks").
 * A live, reachable, receiving peer always gets the packet: a real NIC acks
 * whatever the host CPU is doing, so a peer process that the scheduler (or a
 * sanitizer) slows down must not look like a broken link. */
static bool path_lost(struct sr_qp *qp)
{
	int pid = route(qp);
	if (pid <= 0 || acks_dropped(qp))
		return true;   /* lost responses count a retry, as on mlx5 */
	const struct sr_shm_qpn *e = sr_qpn_lookup(qp->dest_qpn);
	if (!e || !__atomic_load_n(&e->receiving, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&e->peer_qpn, __ATOMIC_RELAXED) != qp->qp.qp_num)
		return true;
	if (__atomic_load_n(&sr_g.shm->host[qp->dst_host].frozen, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&sr_g.shm->host[sr_g.host_idx].frozen, __ATOMIC_ACQUIRE))
		return true;
	return !process_alive(pid);
}

/* Go back N on every timeout (a thawed peer may have dropped packets), but
 * count an attempt towards retry_cnt only when the packets were really lost. */
static void on_timeout(struct sr_qp *qp)
{
	qp->timer_ns = 0;
	if (qp->una_psn == qp->max_psn)
		return;
	if (path_lost(qp)) {
		if (qp->retries >= qp->retry_cnt) {
			fail_head(qp, IBV_WC_RETRY_EXC_ERR, 0x81);
			return;
		}
		qp->retries++;
	}
	sr_log("qp %#x: timeout, retry %u from psn %#x", qp->qp.qp_num, qp->retries,
	       qp->una_psn & 0xffffff);
	qp->next_psn = qp->una_psn;            /* go back N */
	qp->resume_ns = sr_now_ns();
}

void sr_req_progress(struct sr_qp *qp, uint64_t now, uint64_t *wake)
{
	if (qp->qp.state != IBV_QPS_RTS)
		return;
	if (qp->timer_ns && now >= qp->timer_ns)
		on_timeout(qp);
	if (qp->qp.state != IBV_QPS_RTS)
		return;
	if (qp->rnr_until_ns > now) {
		*wake = qp->rnr_until_ns < *wake ? qp->rnr_until_ns : *wake;
		return;
	}
	for (;;) {
		if (qp->next_psn == qp->max_psn && !start_wqe(qp))
			break;
		if (qp->halted && (int32_t)(qp->next_psn - qp->halt_psn) >= 0)
			break;
		if (qp->next_psn - qp->una_psn >= SR_WINDOW)
			break;
		struct sr_swqe *w = wqe_of_psn(qp, qp->next_psn);
		if (!w)
			break;
		if (route(qp) > 0) {
			struct sr_path p;
			path_of(qp, w->opcode == IBV_WR_RDMA_READ, &p);
			uint64_t busy = busy_until(&p);
			if (busy > now + SR_HORIZON_NS) {
				uint64_t t = busy - SR_HORIZON_NS;
				*wake = t < *wake ? t : *wake;
				break;
			}
		}
		send_segment(qp, w, qp->next_psn, now);
	}
	if (qp->timer_ns && qp->timer_ns < *wake)
		*wake = qp->timer_ns;
}

/* Whether the WQE at sq_exec would start without an error (too long, or an
 * SGE that fails its lkey/PD/bounds check). */
static bool starts_clean(struct sr_qp *qp)
{
	if (qp->sq_exec == qp->sq_head)
		return false;
	const struct sr_swqe *w = &qp->sq[qp->sq_exec % qp->sq_size];
	struct sr_iov iov[SR_MAX_SGE];
	uint8_t n;
	if (w->len > (1ull << 30))
		return false;
	return w->inl || slice(qp, w, 0, w->len, iov, &n, w->opcode == IBV_WR_RDMA_READ) ==
				 IBV_WC_SUCCESS;
}

/* The doorbell (post_send, lock held): transmission starts in the poster's
 * thread, as a NIC starts on its doorbell, instead of after the NIC thread
 * woke up (5-25 µs here, far more on a loaded host). It does only what
 * cannot complete anything: WQEs that start cleanly, on a QP with nothing
 * older left to send, no timer due and no RNR wait; errors, timeouts,
 * what the window or the horizon holds back, reorder mode (which shuffles
 * QPs in the NIC thread) and streamed payloads (which may fill the socket)
 * stay the NIC thread's, so completions still come only from there.
 * Returns true when the NIC thread must look at this QP. */
bool sr_req_doorbell(struct sr_qp *qp, uint64_t now)
{
	if (sr_g.reorder || sr_g.stream_copy || qp->qp.state != IBV_QPS_RTS || qp->halted ||
	    qp->need_flush || qp->next_psn != qp->max_psn || qp->rnr_until_ns > now ||
	    (qp->timer_ns && now >= qp->timer_ns) ||
	    __atomic_load_n(&sr_g.shm->host[sr_g.host_idx].frozen, __ATOMIC_ACQUIRE))
		return true;
	for (;;) {
		if (qp->next_psn == qp->max_psn && (!starts_clean(qp) || !start_wqe(qp)))
			break;
		if (qp->next_psn - qp->una_psn >= SR_WINDOW)
			break;
		struct sr_swqe *w = wqe_of_psn(qp, qp->next_psn);
		if (!w)
			break;
		if (route(qp) > 0) {
			struct sr_path p;
			path_of(qp, w->opcode == IBV_WR_RDMA_READ, &p);
			if (busy_until(&p) > now + SR_HORIZON_NS)
				break;
		}
		send_segment(qp, w, qp->next_psn, now);
	}
	return qp->next_psn != qp->max_psn || qp->sq_exec != qp->sq_head;
}

/* ---- acknowledgements ------------------------------------------------------ */
static void advance(struct sr_qp *qp, uint32_t n, uint64_t now)
{
	if (!n)
		return;
	qp->una_psn += n;
	qp->retries = 0;
	qp->rnr_retries = 0;
	if ((int32_t)(qp->next_psn - qp->una_psn) < 0)
		qp->next_psn = qp->una_psn;
	uint64_t base = qp->last_deliver_ns > now ? qp->last_deliver_ns : now;
	qp->timer_ns = qp->una_psn == qp->next_psn ? 0 : base + timeout_ns(qp);
	complete_acked(qp);
}

static void read_payload(struct sr_qp *qp, const struct sr_msg *m, const void *payload)
{
	struct sr_swqe *w = wqe_of_psn(qp, qp->una_psn);
	struct sr_iov iov[SR_MAX_SGE];
	uint8_t n;
	if (!w || w->opcode != IBV_WR_RDMA_READ)
		return;
	uint64_t off = (uint64_t)(qp->una_psn - w->first_psn) * SR_SEG;
	if (slice(qp, w, off, m->payload_len, iov, &n, true) != IBV_WC_SUCCESS)
		return;
	uint64_t o = 0;
	for (int i = 0; i < n; i++) {
		memcpy((void *)(uintptr_t)iov[i].addr, (const char *)payload + o, iov[i].len);
		o += iov[i].len;
	}
}

/* Everything before the NAKed PSN has been acknowledged already. */
static void on_nak(struct sr_qp *qp, const struct sr_msg *m, uint64_t now)
{
	switch (m->nak) {
	case SR_NAK_RNR:
		if (qp->rnr_retry != 7 && qp->rnr_retries >= qp->rnr_retry) {
			fail_head(qp, IBV_WC_RNR_RETRY_EXC_ERR, 0x82);
			return;
		}
		qp->rnr_retries++;
		qp->next_psn = qp->una_psn;
		qp->rnr_until_ns = now + (uint64_t)m->rnr_us * 1000;
		qp->resume_ns = qp->rnr_until_ns;
		qp->timer_ns = 0;
		break;
	case SR_NAK_STREAM:
		if (!sr_g.stream_copy)
			sr_log("process_vm_readv/writev refused: streaming payload "
			       "through the fabric socket from now on");
		sr_g.stream_copy = true;
		qp->next_psn = qp->una_psn;
		qp->resume_ns = now;
		qp->timer_ns = 0;
		break;
	case SR_NAK_ACCESS:
		fail_head(qp, IBV_WC_REM_ACCESS_ERR, 0x88);
		break;
	case SR_NAK_INV_REQ:
		fail_head(qp, IBV_WC_REM_INV_REQ_ERR, 0x8a);
		break;
	case SR_NAK_LOC_PROT:
		fail_head(qp, IBV_WC_LOC_PROT_ERR, 0x51);
		break;
	default:
		fail_head(qp, IBV_WC_REM_OP_ERR, 0x89);
		break;
	}
}

void sr_req_rx(struct sr_qp *qp, const struct sr_msg *m, const void *payload, uint64_t now)
{
	if (qp->qp.state != IBV_QPS_RTS || m->src_qpn != qp->dest_qpn ||
	    !sr_port_active(sr_g.host_idx, sr_g.host, qp->ctx->sdev->hca_idx))
		return;                          /* a down port hears nothing */
	if (acks_dropped(qp))
		return;                          /* control "acks drop": lost on the way in */
	uint32_t inflight = qp->max_psn - qp->una_psn;
	if (m->type == SR_M_ACK || m->type == SR_M_READ_RESP) {
		uint32_t d = (m->psn + 1 - qp->una_psn) & 0xffffff;
		if (d == 0 || d > inflight)
			return;                  /* duplicate or stale */
		if (m->type == SR_M_READ_RESP && m->payload_len) {
			if (d != 1)
				return;              /* an earlier response was lost */
			read_payload(qp, m, payload);
		}
		advance(qp, d, now);
		return;
	}
	uint32_t d = (m->psn - qp->una_psn) & 0xffffff;
	if (d > inflight)
		return;
	advance(qp, d, now);
	if (qp->qp.state == IBV_QPS_RTS)
		on_nak(qp, m, now);
}
