/* "stock": NCCL's own IB transport protocol over raw verbs, written from the
 * protocol's published facts (no NCCL code), as lean as it can be: this is
 * the yardstick the fused device must beat.
 *
 *   - One RC QP per comm on one HCA; NCCL_IB_HCA=<both halves> gives NCCL two
 *     devices, and consecutive channels alternate them: the bench models that
 *     as links alternating HCAs (link j on HCA j % nhca), messages alternating
 *     links.
 *   - irecv: post one receive WR (no SGE, wr_id = slot), then RDMA-WRITE a
 *     clear-to-send entry {addr, size, rkey, tag, seq} into the sender's FIFO
 *     slot (256 slots); signalled once per 256, to drain the send queue.
 *   - isend: the FIFO slot's seq says whether the receiver has posted; if not,
 *     no request (the caller retries). Else ONE signalled RDMA_WRITE_WITH_IMM
 *     of the data, the size in the immediate.
 *   - test: done, or poll the comm's CQ 4 CQEs at a time while polls come
 *     back full; the receiver's size comes from the immediate. */
#include <endian.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

#define ST_SLOTS 256
#define ST_POLL 4
#define ST_CTS_WRID (1ull << 40)
#define ST_RAW_WRID (1ull << 41)
#define ST_MAX_LINKS (4 * SB_MAX_LINKS)
#define ST_MAGIC 0x53544b31u    /* "STK1" */

struct st_cts {                 /* one clear-to-send entry */
	uint64_t addr;
	uint32_t size, rkey, tag, pad;
	uint64_t seq;           /* last field: the receiver's post count + 1 */
};

struct st_end;
struct st_req {
	struct st_end *end;
	uint32_t size;
	int done;
};

/* One side of one comm: its QP and CQ. */
struct st_end {
	struct ibv_qp *qp;
	struct ibv_cq *cq;
	uint64_t head;
	struct st_cts *fifo;    /* sender: the FIFO the peer writes; receiver: shadow */
	uint32_t fifo_lkey;
	uint32_t lkey, rkey;    /* this host's data buffer on the end's HCA */
	uint64_t rfifo;         /* receiver: the sender's FIFO */
	uint32_t rfifo_rkey;
	uint64_t rbuf;          /* sender: the peer's receive buffer (raw writes) */
	uint32_t rbuf_rkey;
	int raw_out;
	struct st_req req[ST_SLOTS];
};

struct st_hca {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *smr, *rmr, *fmr;
	int gid_index;
	union ibv_gid gid;
	enum ibv_mtu mtu;
};

struct sb_stock {
	int nhca;
	struct st_hca hca[SB_MAX_HCAS];
	struct st_cts *fifos;   /* ST_MAX_LINKS x 2 ends x ST_SLOTS entries */
	int nends;
	struct st_end *ends[2 * ST_MAX_LINKS];
};

/* What one host tells the other about one link. */
struct st_wire {
	uint32_t magic, send_qpn, recv_qpn, mtu;
	uint64_t fifo_addr, rbuf_addr;
	uint32_t fifo_rkey, rbuf_rkey;
	union ibv_gid gid;
};

/* ---- data path ---------------------------------------------------------- */
static int st_isend(void *comm, void *mh, void *buf, size_t size, void **req)
{
	struct st_end *s = comm;
	(void)mh;
	uint32_t slot = (uint32_t)(s->head % ST_SLOTS);
	struct st_cts *c = &s->fifo[slot];
	*req = NULL;
	if (__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) != s->head + 1 || c->tag != 0)
		return 0;                        /* the receiver has not posted yet */
	uint32_t n = size < c->size ? (uint32_t)size : c->size;
	struct ibv_sge sge = {(uintptr_t)buf, n, s->lkey};
	struct ibv_send_wr wr = {.wr_id = slot, .sg_list = &sge, .num_sge = n ? 1 : 0,
				 .opcode = IBV_WR_RDMA_WRITE_WITH_IMM,
				 .send_flags = IBV_SEND_SIGNALED, .imm_data = htobe32(n)}, *bad;
	wr.wr.rdma.remote_addr = c->addr;
	wr.wr.rdma.rkey = c->rkey;
	if (ibv_post_send(s->qp, &wr, &bad) != 0)
		return 1;
	struct st_req *r = &s->req[slot];
	r->size = n;
	r->done = 0;
	s->head++;
	*req = r;
	return 0;
}

static int st_irecv(void *comm, void *mh, void *buf, size_t size, void **req)
{
	struct st_end *r = comm;
	(void)mh;
	uint32_t slot = (uint32_t)(r->head % ST_SLOTS);
	struct ibv_recv_wr rw = {.wr_id = slot}, *rbad;
	if (ibv_post_recv(r->qp, &rw, &rbad) != 0)
		return 1;
	struct st_cts *c = &r->fifo[slot];
	*c = (struct st_cts){(uintptr_t)buf, (uint32_t)size, r->rkey, 0, 0, r->head + 1};
	struct ibv_sge sge = {(uintptr_t)c, sizeof *c, r->fifo_lkey};
	struct ibv_send_wr wr = {.wr_id = ST_CTS_WRID, .sg_list = &sge, .num_sge = 1,
				 .opcode = IBV_WR_RDMA_WRITE,
				 .send_flags = slot == 0 ? IBV_SEND_SIGNALED : 0}, *bad;
	wr.wr.rdma.remote_addr = r->rfifo + slot * sizeof *c;
	wr.wr.rdma.rkey = r->rfifo_rkey;
	if (ibv_post_send(r->qp, &wr, &bad) != 0)
		return 1;
	struct st_req *q = &r->req[slot];
	q->done = 0;
	r->head++;
	*req = q;
	return 0;
}

static int st_poll(struct st_end *e)
{
	struct ibv_wc wc[ST_POLL];
	int n;
	do {
		n = ibv_poll_cq(e->cq, ST_POLL, wc);
		if (n < 0)
			return 1;
		for (int i = 0; i < n; i++) {
			if (wc[i].status != IBV_WC_SUCCESS) {
				fprintf(stderr, "spark-bench: stock: completion error %s\n",
					ibv_wc_status_str(wc[i].status));
				return 1;
			}
			if (wc[i].wr_id & ST_RAW_WRID)
				e->raw_out--;
			if (wc[i].wr_id >= ST_SLOTS)
				continue;        /* a clear-to-send or raw write */
			struct st_req *q = &e->req[wc[i].wr_id];
			if (wc[i].opcode == IBV_WC_RECV_RDMA_WITH_IMM)
				q->size = be32toh(wc[i].imm_data);
			q->done = 1;
		}
	} while (n == ST_POLL);
	return 0;
}

static int st_test(void *req, int *done, size_t *size)
{
	struct st_req *q = req;
	if (!q->done && st_poll(q->end) != 0)
		return 1;
	*done = q->done;
	if (q->done && size)
		*size = q->size;
	return 0;
}

static const struct sb_ops st_ops = {st_isend, st_irecv, st_test};

/* ---- set-up --------------------------------------------------------------- */
static bool ipv4_mapped(const union ibv_gid *g)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(g->raw, pfx, sizeof pfx) == 0;
}

/* The RoCE v2 IPv4 GID, as NCCL picks it by default; SPARK_BENCH_GID_INDEX
 * overrides. */
static int pick_gid(struct ibv_context *ctx, int tbl_len, union ibv_gid *gid)
{
	const char *env = getenv("SPARK_BENCH_GID_INDEX");
	if (env != NULL) {
		char *end;
		long v = strtol(env, &end, 10);
		if (*end || v < 0 || v >= tbl_len)
			sb_die("SPARK_BENCH_GID_INDEX=%s: want 0..%d", env, tbl_len - 1);
		if (ibv_query_gid(ctx, 1, (int)v, gid) != 0)
			sb_die("GID index %ld unreadable", v);
		return (int)v;
	}
	for (int i = 0; i < tbl_len; i++) {
		struct ibv_gid_entry ent;
		if (ibv_query_gid_ex(ctx, 1, (uint32_t)i, &ent, 0) != 0)
			continue;
		if (ent.gid_type == IBV_GID_TYPE_ROCE_V2 && ipv4_mapped(&ent.gid)) {
			*gid = ent.gid;
			return i;
		}
	}
	return -1;
}

static struct ibv_mr *reg(struct ibv_pd *pd, void *p, size_t len, const char *what)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, p, len, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (mr == NULL)
		sb_die("stock: ibv_reg_mr of the %s (%zu bytes) failed: %s%s", what, len,
		       strerror(errno),
		       errno == ENOMEM || errno == EPERM ? " (memlock: raise `ulimit -l`)" : "");
	return mr;
}

static void open_hca(struct sb_env *e, struct sb_stock *s, int h)
{
	struct st_hca *c = &s->hca[h];
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	for (int i = 0; list && i < n && c->ctx == NULL; i++)
		if (strcmp(ibv_get_device_name(list[i]), e->hca[h]) == 0)
			c->ctx = ibv_open_device(list[i]);
	if (list)
		ibv_free_device_list(list);
	if (c->ctx == NULL)
		sb_die("stock: no RDMA device %s (name the halves with --hca A,B)", e->hca[h]);
	struct ibv_port_attr pa;
	if (ibv_query_port(c->ctx, 1, &pa) != 0 || pa.state != IBV_PORT_ACTIVE)
		sb_die("stock: %s port 1 is not active", e->hca[h]);
	c->mtu = pa.active_mtu;
	c->gid_index = pick_gid(c->ctx, pa.gid_tbl_len, &c->gid);
	if (c->gid_index < 0)
		sb_die("stock: %s has no RoCE v2 IPv4 GID (address its netdev, or set "
		       "SPARK_BENCH_GID_INDEX)", e->hca[h]);
	c->pd = ibv_alloc_pd(c->ctx);
	if (c->pd == NULL)
		sb_die("stock: ibv_alloc_pd on %s failed", e->hca[h]);
	c->smr = reg(c->pd, e->sbuf, e->cap, "send buffer");
	c->rmr = reg(c->pd, e->rbuf, e->cap, "receive buffer");
	c->fmr = reg(c->pd, s->fifos, sizeof(struct st_cts) * ST_SLOTS * 2 * ST_MAX_LINKS,
		     "FIFOs");
}

struct sb_stock *sb_stock_open(struct sb_env *e, int nhca)
{
	struct sb_stock *s = calloc(1, sizeof *s);
	if (s == NULL)
		sb_die("out of memory");
	s->nhca = nhca;
	s->fifos = aligned_alloc(4096, sizeof(struct st_cts) * ST_SLOTS * 2 * ST_MAX_LINKS);
	if (s->fifos == NULL)
		sb_die("out of memory");
	memset(s->fifos, 0, sizeof(struct st_cts) * ST_SLOTS * 2 * ST_MAX_LINKS);
	for (int h = 0; h < nhca; h++)
		open_hca(e, s, h);
	return s;
}

static struct st_end *new_end(struct sb_stock *s, int h, bool sender)
{
	if (s->nends >= 2 * ST_MAX_LINKS)
		sb_die("stock: more than %d links", ST_MAX_LINKS);
	struct st_hca *c = &s->hca[h];
	struct st_end *x = calloc(1, sizeof *x);
	if (x == NULL)
		sb_die("out of memory");
	x->fifo = s->fifos + (size_t)s->nends * ST_SLOTS;
	s->ends[s->nends++] = x;
	x->fifo_lkey = c->fmr->lkey;
	x->lkey = sender ? c->smr->lkey : c->rmr->lkey;
	x->rkey = c->rmr->rkey;
	x->cq = ibv_create_cq(c->ctx, 3 * ST_SLOTS, NULL, NULL, 0);
	struct ibv_qp_init_attr qa = {
		.send_cq = x->cq, .recv_cq = x->cq, .qp_type = IBV_QPT_RC,
		.cap = {.max_send_wr = 2 * ST_SLOTS, .max_recv_wr = sender ? 1 : ST_SLOTS,
			.max_send_sge = 1, .max_recv_sge = 1}};
	x->qp = x->cq ? ibv_create_qp(c->pd, &qa) : NULL;
	if (x->qp == NULL)
		sb_die("stock: cannot create a CQ/QP: %s", strerror(errno));
	for (int i = 0; i < ST_SLOTS; i++)
		x->req[i].end = x;
	return x;
}

static void connect_qp(struct st_hca *c, struct ibv_qp *qp, const struct st_wire *w,
		       uint32_t dqpn)
{
	struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT, .port_num = 1,
				.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE};
	int rc = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				  IBV_QP_ACCESS_FLAGS);
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = c->mtu < (enum ibv_mtu)w->mtu ? c->mtu : (enum ibv_mtu)w->mtu;
	a.dest_qp_num = dqpn;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.port_num = 1;
	a.ah_attr.grh.dgid = w->gid;
	a.ah_attr.grh.sgid_index = (uint8_t)c->gid_index;
	a.ah_attr.grh.hop_limit = 255;
	rc = rc ? rc : ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
				     IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				     IBV_QP_MIN_RNR_TIMER);
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 20;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	rc = rc ? rc : ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	if (rc != 0)
		sb_die("stock: QP to RTS failed: %s (GIDs not on one subnet?)", strerror(rc));
}

static void check_wire(const struct st_wire *w)
{
	if (w->magic != ST_MAGIC || w->send_qpn == 0 || w->recv_qpn == 0 ||
	    w->mtu < IBV_MTU_256 || w->mtu > IBV_MTU_4096)
		sb_die("stock: the peer sent a malformed link description");
}

void sb_stock_setup(struct sb_env *e, struct sb_stock *s, struct sb_impl *im, int nhca,
		    int nlinks)
{
	struct st_wire mine[SB_MAX_LINKS], peer[SB_MAX_LINKS];
	struct st_end *snd[SB_MAX_LINKS], *rcv[SB_MAX_LINKS];
	if (nlinks > SB_MAX_LINKS || nhca > s->nhca)
		sb_die("stock: %d links on %d HCAs unsupported", nlinks, nhca);
	memset(mine, 0, sizeof mine);
	for (int j = 0; j < nlinks; j++) {
		struct st_hca *c = &s->hca[j % nhca];
		snd[j] = new_end(s, j % nhca, true);
		rcv[j] = new_end(s, j % nhca, false);
		mine[j] = (struct st_wire){ST_MAGIC, snd[j]->qp->qp_num, rcv[j]->qp->qp_num,
					   (uint32_t)c->mtu, (uintptr_t)snd[j]->fifo,
					   (uintptr_t)e->rbuf, c->fmr->rkey, c->rmr->rkey, c->gid};
	}
	sb_oob_send(e->fd, mine, sizeof mine[0] * (size_t)nlinks);
	sb_oob_recv(e->fd, peer, sizeof peer[0] * (size_t)nlinks);
	for (int j = 0; j < nlinks; j++) {
		struct st_hca *c = &s->hca[j % nhca];
		check_wire(&peer[j]);
		connect_qp(c, snd[j]->qp, &peer[j], peer[j].recv_qpn);
		connect_qp(c, rcv[j]->qp, &peer[j], peer[j].send_qpn);
		rcv[j]->rfifo = peer[j].fifo_addr;
		rcv[j]->rfifo_rkey = peer[j].fifo_rkey;
		snd[j]->rbuf = peer[j].rbuf_addr;
		snd[j]->rbuf_rkey = peer[j].rbuf_rkey;
		im->link[j] = (struct sb_link){snd[j], rcv[j], NULL, NULL};
	}
	im->ops = &st_ops;
	im->nlinks = nlinks;
	im->links_per_comm = nhca;
	sb_oob_sync(e->fd);       /* both sides at RTS before anything is sent */
}

/* ---- raw writes: the caps ----------------------------------------------------- */
static int raw_post(struct sb_env *e, struct st_end *x, size_t size)
{
	struct ibv_sge sge = {(uintptr_t)e->sbuf, (uint32_t)size, x->lkey};
	struct ibv_send_wr wr = {.wr_id = ST_RAW_WRID, .sg_list = &sge, .num_sge = 1,
				 .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED},
			   *bad;
	wr.wr.rdma.remote_addr = x->rbuf;
	wr.wr.rdma.rkey = x->rbuf_rkey;
	if (ibv_post_send(x->qp, &wr, &bad) != 0)
		return 1;
	x->raw_out++;
	return 0;
}

double sb_stock_raw(struct sb_env *e, struct sb_impl *im, int nlinks, size_t size, int depth,
		    int count)
{
	sb_oob_sync(e->fd);
	if (!e->client) {
		sb_oob_sync(e->fd);
		return 0;
	}
	int posted = 0, done = 0;
	double t0 = sb_now();
	while (done < count) {
		bool moved = false;
		for (int j = 0; j < nlinks; j++) {
			struct st_end *x = im->link[j].send;
			int before = x->raw_out;
			if (x->raw_out && st_poll(x) != 0)
				sb_die("stock: raw write failed");
			done += before - x->raw_out;
			moved |= before != x->raw_out;
			while (posted < count && x->raw_out < depth) {
				if (raw_post(e, x, size) != 0)
					sb_die("stock: raw post failed");
				posted++;
				moved = true;
			}
		}
		if (!moved)
			sb_sleep_us(SB_NAP_US);
	}
	double t = sb_now() - t0;
	sb_oob_sync(e->fd);
	return (double)size * count / t / 1e9;
}

void sb_stock_close(struct sb_stock *s)
{
	for (int i = 0; i < s->nends; i++) {
		ibv_destroy_qp(s->ends[i]->qp);
		ibv_destroy_cq(s->ends[i]->cq);
		free(s->ends[i]);
	}
	for (int h = 0; h < s->nhca; h++) {
		struct st_hca *c = &s->hca[h];
		ibv_dereg_mr(c->smr);
		ibv_dereg_mr(c->rmr);
		ibv_dereg_mr(c->fmr);
		ibv_dealloc_pd(c->pd);
		ibv_close_device(c->ctx);
	}
	free(s->fifos);
	free(s);
}
