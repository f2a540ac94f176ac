/* isend / irecv / test / iflush: the receiver-driven protocol.
 *
 * irecv writes CTS entries (buffer address, size, tag, one rkey per rail)
 * into the sender's FIFO slot seq % SLOTS by RDMA write. isend matches the
 * oldest slot by tag; once every buffer of the slot has its isend, the slot
 * goes out: each message cut across rails by the stripe planner as plain
 * RDMA writes, then one WRITE_WITH_IMM per rail used; the lead rail's one
 * carries the completion record (sizes) as its payload. The receiver's
 * request is complete when every rail used has delivered its IMM. */
#include <endian.h>
#include <infiniband/verbs.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "api.h"
#include "comm.h"
#include "log.h"

/* ======================= send side ======================= */

static struct spark_cts_entry *fifo_slot(struct spark_comm *c, uint32_t slot)
{
	return (struct spark_cts_entry *)c->ctl + (size_t)slot * SPARK_MAX_RECVS;
}

static bool slot_reusable(const struct spark_send_slot *s)
{
	if (s->state == SLOT_FREE)
		return true;
	if (s->state != SLOT_DONE)
		return false;
	for (uint32_t i = 0; i < s->nreqs; i++)
		if (s->req[i].owned)
			return false;
	return true;
}

/* Reads the CTS entries for seq. The NIC writes them (no relaxed ordering:
 * seq, the last field, lands last); seq is read with acquire, and only then
 * the rest, so no field can be older than the seq that vouches for it. */
static int read_cts(struct spark_comm *c, uint64_t seq, struct spark_send_slot *s)
{
	struct spark_cts_entry *e = fifo_slot(c, spark_slot_of(seq));
	if (__atomic_load_n(&e[0].seq, __ATOMIC_ACQUIRE) != seq)
		return 0;
	uint32_t nreqs = e[0].nreqs;
	if (nreqs < 1 || nreqs > SPARK_MAX_RECVS) {
		SPARK_WARN("dev %d: CTS %llu announces %u buffers", c->dev,
			   (unsigned long long)seq, nreqs);
		return -1;
	}
	for (uint32_t i = 1; i < nreqs; i++)
		if (__atomic_load_n(&e[i].seq, __ATOMIC_ACQUIRE) != seq)
			return 0;  /* rest of the write still landing */
	memset(s, 0, offsetof(struct spark_send_slot, req));
	for (uint32_t i = 0; i < nreqs; i++) {
		s->cts[i] = e[i];
		s->req[i].size = 0;
		s->req[i].owned = false;
	}
	s->seq = seq;
	s->nreqs = nreqs;
	s->state = SLOT_MATCHING;
	return 1;
}

static int find_entry(const struct spark_send_slot *s, int tag)
{
	for (uint32_t i = 0; i < s->nreqs; i++)
		if (!(s->claimed & (1u << i)) && s->cts[i].tag == tag)
			return (int)i;
	return -1;
}

ncclResult_t spark_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			 void **request)
{
	struct spark_comm *c = send_comm;
	*request = NULL;
	SPARK_NOT_NULL(c, "send comm");
	if (size > INT_MAX) {
		SPARK_WARN("isend: %zu bytes, the largest message is %d", size, INT_MAX);
		return ncclInvalidArgument;
	}
	spark_engine_poll(c);
	if (c->failed != ncclSuccess)
		return c->failed;
	struct spark_send_slot *s = &c->slots[spark_slot_of(c->seq)];
	if (!(s->state == SLOT_MATCHING && s->seq == c->seq)) {
		if (!slot_reusable(s))
			return ncclSuccess;        /* previous use still live: retry */
		int rc = read_cts(c, c->seq, s);
		if (rc == 0)
			spark_peer_check(c);   /* no CTS yet: retry, unless the peer is gone */
		if (rc <= 0)
			return rc < 0 ? ncclRemoteError : c->failed;
	}
	/* A tag the oldest open receive does not (or no longer) wants is
	 * another sender's turn (NCCL_NET_SHARED_COMMS: ranks share this comm,
	 * each with its own tag): no request, NCCL calls again. */
	int i = find_entry(s, tag);
	if (i < 0)
		return ncclSuccess;
	struct spark_send_req *req = &s->req[i];
	ncclResult_t res = ncclSuccess;
	req->data = data;
	req->mh = mhandle;
	s->claimed |= 1u << i;
	if (size > s->cts[i].size) {
		SPARK_WARN("isend: %zu bytes (tag %d) exceed the %llu-byte buffer the receiver "
			   "posted; nothing sent, the receiver is told", size, tag,
			   (unsigned long long)s->cts[i].size);
		req->size = -(int32_t)size;
		res = ncclInvalidUsage;
	} else if (size > 0 && mhandle == NULL) {
		SPARK_WARN("isend: %zu bytes without a memory handle", size);
		req->size = -(int32_t)size;
		res = ncclInvalidArgument;
	} else {
		req->size = (int32_t)size;
		req->owned = true;
		*request = req;
	}
	if ((uint32_t)__builtin_popcount(s->claimed) == s->nreqs) {
		s->state = SLOT_READY;
		c->seq++;
		spark_send_progress(c);
	}
	return res;
}

struct spark_chains {
	struct ibv_send_wr wr[SPARK_MAX_RAILS][SPARK_MAX_CHAIN];
	struct ibv_sge sge[SPARK_MAX_RAILS][SPARK_MAX_CHAIN];
	uint32_t n[SPARK_MAX_RAILS];
};

size_t spark_chains_size(void) { return sizeof(struct spark_chains); }

static void add_write(struct spark_chains *ch, uint32_t r, uint64_t local, uint32_t len, uint32_t lkey,
		      uint64_t remote, uint32_t rkey, uint32_t max_inline)
{
	uint32_t k = ch->n[r]++;
	struct ibv_send_wr *w = &ch->wr[r][k];
	memset(w, 0, sizeof *w);
	ch->sge[r][k] = (struct ibv_sge){.addr = local, .length = len, .lkey = lkey};
	w->sg_list = &ch->sge[r][k];
	w->num_sge = 1;
	w->opcode = IBV_WR_RDMA_WRITE;
	w->send_flags = len <= max_inline ? IBV_SEND_INLINE : 0;
	w->wr.rdma.remote_addr = remote;
	w->wr.rdma.rkey = rkey;
}

/* One buffer's pieces, each cut again into WRs of at most 1 GiB. */
static void add_pieces(struct spark_comm *c, struct spark_send_slot *s, uint32_t i,
		       struct spark_chains *ch)
{
	struct spark_send_req *req = &s->req[i];
	struct spark_stripe_piece *pc = s->piece[i];
	s->npieces[i] = (uint8_t)spark_stripe_plan(&c->policy, (uint64_t)req->size,
						   c->small_rail, pc);
	for (uint32_t p = 0; p < s->npieces[i]; p++) {
		uint32_t r = pc[p].rail;
		for (uint64_t done = 0; done < pc[p].length;) {
			uint64_t left = pc[p].length - done;
			uint32_t len = left > SPARK_MAX_WR_BYTES ? SPARK_MAX_WR_BYTES : (uint32_t)left;
			uint64_t off = pc[p].offset + done;
			add_write(ch, r, (uint64_t)(uintptr_t)req->data + off, len,
				  req->mh->mr[r]->lkey, s->cts[i].addr + off, s->cts[i].rkey[r],
				  c->rail[r].max_inline);
			done += len;
		}
		s->rail_bytes[r] += pc[p].length;
	}
}

/* The lead rail's chain ends with the completion record, written inline as
 * the payload of its WRITE_WITH_IMM into records[slot] at the receiver. */
static void add_record_imm(struct spark_comm *c, struct spark_send_slot *s,
			   struct spark_chains *ch, uint32_t r, uint32_t imm)
{
	uint32_t slot = spark_slot_of(s->seq);
	uint32_t k = ch->n[r]++;
	struct ibv_send_wr *w = &ch->wr[r][k];
	memset(w, 0, sizeof *w);
	w->opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
	w->imm_data = htobe32(imm);
	w->wr.rdma.remote_addr = c->rail[r].peer_addr + slot * sizeof(struct spark_cmpl_record);
	w->wr.rdma.rkey = c->rail[r].peer_rkey;
	ch->sge[r][k] = (struct ibv_sge){.addr = (uint64_t)(uintptr_t)&s->record,
					 .length = sizeof s->record};
	w->sg_list = &ch->sge[r][k];
	w->num_sge = 1;
	w->send_flags = IBV_SEND_INLINE;
}

static uint32_t next_up_rail(const struct spark_comm *c, uint32_t r)
{
	for (uint32_t k = 1; k <= c->nrails; k++) {
		uint32_t cand = (r + k) % c->nrails;
		if (c->up_mask & (1u << cand))
			return cand;
	}
	return r;
}

/* Puts a READY slot on the wire; false when a rail's send queue is too full
 * (the engine retries once completions free it). */
static bool post_slot(struct spark_comm *c, struct spark_send_slot *s)
{
	struct spark_chains *ch = c->chains;
	uint32_t slot = spark_slot_of(s->seq), used = 0;
	bool small = false;
	memset(ch->n, 0, sizeof ch->n);
	memset(s->rail_bytes, 0, sizeof s->rail_bytes);
	memcpy(c->policy.weight, c->weights.weight, sizeof c->policy.weight);
	s->record = (struct spark_cmpl_record){.nreqs = s->nreqs, .seq = s->seq};
	for (uint32_t i = 0; i < s->nreqs; i++) {
		s->record.sizes[i] = s->req[i].size;
		s->npieces[i] = 0;
		if (s->req[i].size <= 0)
			continue;
		small |= (uint64_t)s->req[i].size < 2 * c->policy.min_stripe;
		add_pieces(c, s, i, ch);
	}
	for (uint32_t r = 0; r < c->nrails; r++)
		if (ch->n[r] > 0)
			used |= 1u << r;
	if (used == 0) {
		used = 1u << c->small_rail;
		small = true;
	}
	uint32_t lead = (uint32_t)__builtin_ctz(used);
	for (uint32_t r = 0; r < c->nrails; r++)
		if ((used & (1u << r)) && !spark_rail_room(&c->rail[r], ch->n[r] + (r == lead)))
			return false;
	struct spark_imm imm = {slot, 0, (uint32_t)__builtin_popcount(used),
				(uint32_t)s->seq & SPARK_IMM_SEQ_MASK};
	s->post_ns = spark_now_ns();
	s->rails_pending = used;
	s->moved = 0;
	s->lead = lead;
	s->used = used;
	s->state = SLOT_POSTED;
	for (uint32_t r = 0; r < c->nrails; r++) {
		if (!(used & (1u << r)))
			continue;
		imm.share = r;
		if (r == lead) {
			add_record_imm(c, s, ch, r, spark_imm_encode(&imm));
		} else {
			/* Other rails: their last data write carries the immediate
			 * (one WR less per rail; the data before it on this QP has
			 * landed when its receive completes). */
			struct ibv_send_wr *last = &ch->wr[r][ch->n[r] - 1];
			last->opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
			last->imm_data = htobe32(spark_imm_encode(&imm));
		}
		if (spark_rail_post(c, r, ch->wr[r], ch->n[r], SPARK_WR_DATA, slot, r, true) !=
		    ncclSuccess)
			return true;  /* the comm is failed; nothing more to do */
	}
	if (small)
		c->small_rail = next_up_rail(c, c->small_rail);
	return true;
}

/* After rail `share` failed: its part of slot s again, on the next rail up
 * (keys of that rail from the CTS entry), closed by an IMM naming the same
 * share, so the receiver counts it once even if the original had landed. */
void spark_resend_share(struct spark_comm *c, struct spark_send_slot *s, uint32_t share)
{
	struct spark_chains *ch = c->chains;
	uint32_t to = next_up_rail(c, share), slot = spark_slot_of(s->seq);
	memset(ch->n, 0, sizeof ch->n);
	for (uint32_t i = 0; i < s->nreqs; i++) {
		const struct spark_send_req *req = &s->req[i];
		for (uint32_t p = 0; p < s->npieces[i]; p++) {
			const struct spark_stripe_piece *pc = &s->piece[i][p];
			for (uint64_t done = 0; pc->rail == share && done < pc->length;) {
				uint64_t left = pc->length - done, off = pc->offset + done;
				uint32_t len = left > SPARK_MAX_WR_BYTES ? SPARK_MAX_WR_BYTES : (uint32_t)left;
				add_write(ch, to, (uint64_t)(uintptr_t)req->data + off, len,
					  req->mh->mr[to]->lkey, s->cts[i].addr + off, s->cts[i].rkey[to],
					  c->rail[to].max_inline);
				done += len;
			}
		}
	}
	struct spark_imm imm = {slot, share, (uint32_t)__builtin_popcount(s->used),
				(uint32_t)s->seq & SPARK_IMM_SEQ_MASK};
	if (share == s->lead || ch->n[to] == 0) {
		add_record_imm(c, s, ch, to, spark_imm_encode(&imm));
	} else {
		ch->wr[to][ch->n[to] - 1].opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
		ch->wr[to][ch->n[to] - 1].imm_data = htobe32(spark_imm_encode(&imm));
	}
	if (!spark_rail_room(&c->rail[to], ch->n[to])) {
		SPARK_WARN("dev %d: no room on rail %s to re-send slot %u", c->dev,
			   c->rail[to].hca.name, slot);
		c->failed = ncclRemoteError;
		return;
	}
	if (spark_rail_post(c, to, ch->wr[to], ch->n[to], SPARK_WR_DATA, slot, share, true) ==
	    ncclSuccess)
		s->moved |= 1u << share;
}

void spark_send_progress(struct spark_comm *c)
{
	while (c->post_seq < c->seq && c->failed == ncclSuccess) {
		struct spark_send_slot *s = &c->slots[spark_slot_of(c->post_seq)];
		if (s->state != SLOT_READY || s->seq != c->post_seq || !post_slot(c, s))
			return;
		c->post_seq++;
	}
}

void spark_send_chain_done(struct spark_comm *c, uint32_t rail, uint32_t slot, uint32_t share)
{
	struct spark_send_slot *s = &c->slots[slot];
	if (s->state != SLOT_POSTED || !(s->rails_pending & (1u << share))) {
		SPARK_WARN("dev %d: completion for slot %u share %u that is not in flight", c->dev,
			   slot, share);
		c->failed = c->failed != ncclSuccess ? c->failed : ncclInternalError;
		return;
	}
	s->rails_pending &= ~(1u << share);
	if (s->rails_pending == 0)
		s->state = SLOT_DONE;
	if (rail != share)
		return;   /* a re-sent share says nothing about its new rail's rate */
	uint32_t before[SPARK_STRIPE_MAX_RAILS];
	memcpy(before, c->weights.weight, sizeof before);
	spark_weights_sample(&c->weights, rail, s->rail_bytes[rail], s->post_ns, spark_now_ns());
	if (memcmp(before, c->weights.weight, sizeof before) != 0)
		SPARK_INFO(NCCL_NET, "dev %d: rail weights now %u/%u (measured %.0f/%.0f Mbps)",
			   c->dev, c->weights.weight[0], c->weights.weight[1],
			   c->weights.rate_mbps[0], c->weights.rate_mbps[1]);
}

/* ======================= receive side ======================= */

uint32_t spark_cts_rail(const struct spark_comm *c, uint64_t seq)
{
	uint32_t nth = (uint32_t)(seq % (uint64_t)__builtin_popcount(c->up_mask));
	for (uint32_t r = 0; r < c->nrails; r++)
		if ((c->up_mask & (1u << r)) && nth-- == 0)
			return r;
	return 0;
}

/* Writes the shadow FIFO entries of a receive into the sender's FIFO, on
 * rail r (also used to re-send them after r's predecessor failed: the same
 * bytes again, harmless if they had landed). */
ncclResult_t spark_post_cts(struct spark_comm *c, uint32_t slot, uint32_t r)
{
	struct spark_cts_entry *e = (struct spark_cts_entry *)c->src + (size_t)slot * SPARK_MAX_RECVS;
	uint32_t len = c->rreqs[slot].n * (uint32_t)sizeof *e;
	struct ibv_sge sge = {(uint64_t)(uintptr_t)e, len, c->rail[r].src_mr->lkey};
	struct ibv_send_wr wr;
	memset(&wr, 0, sizeof wr);
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.send_flags = len <= c->rail[r].max_inline ? IBV_SEND_INLINE : 0;
	wr.wr.rdma.remote_addr = c->rail[r].peer_addr + (uint64_t)slot * SPARK_MAX_RECVS * sizeof *e;
	wr.wr.rdma.rkey = c->rail[r].peer_rkey;
	SPARK_TRY(spark_rail_post(c, r, &wr, 1, SPARK_WR_CTS, slot, 0, false));
	c->rreqs[slot].cts_rail = r;
	return ncclSuccess;
}

ncclResult_t spark_irecv(void *recv_comm, int n, void **data, const size_t *sizes,
			 const int *tags, void **mhandles, void **request)
{
	struct spark_comm *c = recv_comm;
	*request = NULL;
	SPARK_NOT_NULL(c, "recv comm");
	spark_engine_poll(c);
	if (c->failed != ncclSuccess)
		return c->failed;
	uint64_t seq = c->seq;
	uint32_t slot = spark_slot_of(seq), r = spark_cts_rail(c, seq);
	struct spark_recv_req *req = &c->rreqs[slot];
	if (req->state != RREQ_FREE || !spark_rail_room(&c->rail[r], 1))
		return ncclSuccess;  /* retry */
	struct spark_cts_entry *e = (struct spark_cts_entry *)c->src + (size_t)slot * SPARK_MAX_RECVS;
	for (int i = 0; i < n; i++) {
		const struct spark_mr_handle *mh = mhandles != NULL ? mhandles[i] : NULL;
		memset(&e[i], 0, sizeof e[i]);
		e[i].addr = (uint64_t)(uintptr_t)data[i];
		e[i].size = sizes[i];
		for (uint32_t k = 0; k < c->nrails && mh != NULL; k++)
			e[i].rkey[k] = mh->mr[k] != NULL ? mh->mr[k]->rkey : 0;
		e[i].tag = tags[i];
		e[i].nreqs = (uint32_t)n;
		e[i].seq = seq;
		req->posted[i] = (int64_t)sizes[i];
		req->tags[i] = tags[i];
	}
	req->n = (uint32_t)n;
	SPARK_TRY(spark_post_cts(c, slot, r));
	req->state = RREQ_POSTED;
	c->recvs_posted++;
	req->seq = seq;
	req->shares = 0;
	c->seq++;
	*request = req;
	return ncclSuccess;
}

static void protocol_error(struct spark_comm *c, const char *what, uint32_t slot)
{
	SPARK_WARN("dev %d: protocol error on receive slot %u: %s", c->dev, slot, what);
	if (c->failed == ncclSuccess)
		c->failed = ncclRemoteError;
}

void spark_recv_imm(struct spark_comm *c, uint32_t rail, uint32_t v)
{
	struct spark_imm imm;
	(void)rail;
	spark_imm_decode(v, &imm);
	uint32_t slot = imm.slot;
	struct spark_recv_req *req = &c->rreqs[slot];
	bool same_seq = (req->seq & SPARK_IMM_SEQ_MASK) == imm.seq20;
	if (req->state != RREQ_POSTED && same_seq && (req->shares & (1u << imm.share))) {
		/* A share re-sent after a rail failure, whose first copy had
		 * landed: the request is complete already (failover.c). */
		SPARK_INFO(NCCL_NET, "dev %d: duplicate share %u of slot %u ignored", c->dev,
			   imm.share, slot);
		return;
	}
	if (req->state != RREQ_POSTED || !same_seq)
		return protocol_error(c, "completion for a receive not posted", slot);
	if (imm.nshares > c->nrails || imm.share >= c->nrails)
		return protocol_error(c, "share count in the immediate", slot);
	req->shares |= 1u << imm.share;   /* a share delivered twice counts once */
	if ((uint32_t)__builtin_popcount(req->shares) < imm.nshares)
		return;  /* other rails still owe their part */
	/* Every rail has delivered; the record came as the lead rail's IMM
	 * payload, visible now that its CQE has been polled. */
	const struct spark_cmpl_record *rec = (const struct spark_cmpl_record *)c->ctl + slot;
	if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != req->seq || rec->nreqs != req->n)
		return protocol_error(c, "completion record does not match", slot);
	memcpy(req->sizes, rec->sizes, sizeof req->sizes);
	req->state = RREQ_DONE;
	c->recvs_posted--;
}

/* ======================= test / flush ======================= */

static ncclResult_t test_send(struct spark_send_req *req, int *done, int *sizes)
{
	struct spark_comm *c = req->hdr.comm;
	struct spark_send_slot *s = &c->slots[req->slot];
	if (s->state != SLOT_DONE) {
		spark_peer_check(c);
		return c->failed;
	}
	*done = 1;
	if (sizes != NULL)
		sizes[0] = req->size;
	req->owned = false;
	if (slot_reusable(s))
		s->state = SLOT_FREE;
	return ncclSuccess;
}

static ncclResult_t test_recv(struct spark_recv_req *req, int *done, int *sizes)
{
	struct spark_comm *c = req->hdr.comm;
	if (req->state != RREQ_DONE) {
		spark_peer_check(c);
		return c->failed;
	}
	ncclResult_t res = ncclSuccess;
	for (uint32_t i = 0; i < req->n; i++) {
		if (req->sizes[i] < 0) {
			SPARK_WARN("irecv: the sender's message of %d bytes (tag %d) is larger than "
				   "the %lld-byte buffer posted; nothing was written", -req->sizes[i],
				   req->tags[i], (long long)req->posted[i]);
			res = ncclInvalidUsage;
		}
		if (sizes != NULL)
			sizes[i] = req->sizes[i] < 0 ? 0 : req->sizes[i];
	}
	req->state = RREQ_FREE;
	*done = 1;
	return res;
}

ncclResult_t spark_test(void *request, int *done, int *sizes)
{
	struct spark_req_hdr *hdr = request;
	*done = 0;
	SPARK_NOT_NULL(hdr, "request");
	spark_engine_poll(hdr->comm);
	if (hdr->kind == SPARK_REQ_SEND)
		return test_send((struct spark_send_req *)hdr, done, sizes);
	return test_recv((struct spark_recv_req *)hdr, done, sizes);
}

/* Host memory only (GB10 has no GPUDirect RDMA): the data is in place when
 * the IMM completion is polled, so there is nothing to flush. NCCL never
 * calls iflush without GDR; a NULL request counts as done. */
ncclResult_t spark_iflush(void *recv_comm, int n, void **data, int *sizes, void **mhandles,
			  void **request)
{
	(void)recv_comm; (void)n; (void)data; (void)sizes; (void)mhandles;
	*request = NULL;
	return ncclSuccess;
}
