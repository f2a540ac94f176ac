/* The send side (send.h). isend matches the oldest open receive by tag; once
 * every buffer of it has its isend, the slot goes out: each buffer planned
 * over the rails (whole, or cut on 128-byte lines), one chain per rail used,
 * each closed by a WRITE_WITH_IMM. In the common case (one buffer, size in
 * the immediate, whole on one rail) that is one WR and one post_send. */
#include <endian.h>
#include <infiniband/verbs.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "api.h"
#include "failback.h"
#include "handle_check.h"
#include "log.h"
#include "peer.h"
#include "send.h"

struct spark_chains {
	/* One-buffer posts (post_share): one WR per rail, kept apart from the
	 * chains so their fixed fields are written once. */
	struct ibv_send_wr one[SPARK_MAX_RAILS];
	struct ibv_sge one_sge[SPARK_MAX_RAILS];
	struct ibv_send_wr wr[SPARK_MAX_RAILS][SPARK_MAX_CHAIN];
	struct ibv_sge sge[SPARK_MAX_RAILS][SPARK_MAX_CHAIN];
	uint32_t n[SPARK_MAX_RAILS];
};

size_t spark_chains_size(void) { return sizeof(struct spark_chains); }

/* ---- FIFO and matching ---- */

static struct spark_cts_entry *fifo_slot(struct spark_comm *c, uint32_t slot)
{
	return (struct spark_cts_entry *)c->ctl + (size_t)slot * SPARK_MAX_RECVS;
}

static bool slot_reusable(const struct spark_send_slot *s)
{
	return s->state == SLOT_FREE || (s->state == SLOT_DONE && s->owned == 0);
}

/* A CTS the peer should never have written: WARN with the field, its value
 * and the bound; the comm fails (-1 for read_cts). Cold: never on a good
 * path. */
static __attribute__((cold, noinline)) int cts_fault(struct spark_comm *c, uint64_t seq,
						     const struct spark_wire_fault *f)
{
	char what[160];
	spark_wire_fault_str(f, what, sizeof what);
	SPARK_WARN("dev %d: clear-to-send %llu (FIFO slot %u) from the receiver is corrupt: %s "
		   "(the peer runs another plugin version, or its memory is corrupted); the send "
		   "comm fails", c->dev, (unsigned long long)seq, spark_slot_of(seq), what);
	spark_comm_fail(c, ncclRemoteError);
	return -1;
}

static __attribute__((cold, noinline)) int cts_bad_seq(struct spark_comm *c, uint64_t seq,
						       uint32_t entry, uint64_t got)
{
	struct spark_wire_fault f;
	spark_wire_fail(&f, "cts.seq", (int)entry, "==", got, seq);
	return cts_fault(c, seq, &f);
}

static __attribute__((cold, noinline)) int cts_bad(struct spark_comm *c, uint64_t seq,
						   const struct spark_cts_entry *e)
{
	struct spark_wire_fault f;
	if (spark_cts_check(e, seq, 0, &f))
		spark_wire_fail(&f, "cts (checks disagree)", -1, "==", 0, 0);
	return cts_fault(c, seq, &f);
}

/* A CTS entry without the rkey of a rail the plan put a piece of it on:
 * the receiver's registration does not cover that rail. */
static __attribute__((cold, noinline)) void missing_key(struct spark_comm *c,
							const struct spark_send_slot *s,
							uint32_t entry, uint32_t rail)
{
	struct spark_wire_fault f;
	spark_wire_fail(&f, "cts.rkey", (int)entry, "!=", 0, 0);
	SPARK_WARN("dev %d: rail %s: no rkey for it in clear-to-send %llu entry %u", c->dev,
		   c->rail[rail].hca.name, (unsigned long long)s->seq, entry);
	cts_fault(c, s->seq, &f);
}

/* The slot's state once its CTS entries are copied and checked. */
static inline int slot_matching(struct spark_send_slot *s, uint64_t seq, uint32_t nreqs)
{
	s->owned = 0;
	s->seq = seq;
	s->nreqs = nreqs;
	s->claimed = 0;
	s->state = SLOT_MATCHING;
	return 1;
}

/* Reads the CTS entries for seq. The NIC writes them (no relaxed ordering:
 * seq, the last field, lands last); seq is read with acquire, and only then
 * the rest, so no field can be older than the seq that vouches for it. The
 * entries are range-checked in the slot's own copy (the peer could rewrite
 * the FIFO under us: what is checked is what is used). 0: not there yet;
 * -1: corrupt (the comm has failed). */
static int read_cts(struct spark_comm *c, uint64_t seq, struct spark_send_slot *s)
{
	struct spark_cts_entry *e = fifo_slot(c, spark_slot_of(seq));
	uint64_t got = __atomic_load_n(&e[0].seq, __ATOMIC_ACQUIRE);
	if (got != seq) {
		if (spark_cts_seq_state(got, seq, 0) == SPARK_CTS_PENDING)
			return 0;
		return cts_bad_seq(c, seq, 0, got);
	}
	uint32_t nreqs = e[0].nreqs;
	if (nreqs - 1u >= SPARK_MAX_RECVS)
		nreqs = 1;   /* copied alone: the check below names nreqs */
	if (nreqs == 1) {   /* the common case, without the loops */
		s->cts[0] = e[0];
		if (!spark_cts_entry_ok(&s->cts[0], seq, 1, 0))
			return cts_bad(c, seq, s->cts);
		return slot_matching(s, seq, 1);
	}
	for (uint32_t i = 1; i < nreqs; i++) {
		got = __atomic_load_n(&e[i].seq, __ATOMIC_ACQUIRE);
		enum spark_cts_seq st = spark_cts_seq_state(got, seq, i);
		if (st == SPARK_CTS_PENDING)
			return 0;  /* rest of the write still landing */
		if (st == SPARK_CTS_BAD)
			return cts_bad_seq(c, seq, i, got);
	}
	s->cts[0] = e[0];
	for (uint32_t i = 1; i < nreqs; i++)
		s->cts[i] = e[i];
	/* spark_cts_ok entry by entry (nreqs is in range here; an e[0].nreqs
	 * that was not fails as a mismatch of 1). rkeys are checked where each
	 * is used, on the rails the plan picks (missing_key): key_rails 0. */
	for (uint32_t i = 0; i < nreqs; i++)
		if (!spark_cts_entry_ok(&s->cts[i], seq, nreqs, 0))
			return cts_bad(c, seq, s->cts);
	return slot_matching(s, seq, nreqs);
}

static int find_entry(const struct spark_send_slot *s, int tag)
{
	for (uint32_t i = 0; i < s->nreqs; i++)
		if (!(s->claimed & (1u << i)) && s->cts[i].tag == tag)
			return (int)i;
	return -1;
}

/* ---- building chains ---- */

static struct ibv_send_wr *add_wr(struct spark_chains *ch, uint32_t r, uint64_t local,
				  uint32_t len, uint32_t lkey, uint64_t remote, uint32_t rkey)
{
	uint32_t k = ch->n[r]++;
	struct ibv_send_wr *w = &ch->wr[r][k];
	ch->sge[r][k] = (struct ibv_sge){.addr = local, .length = len, .lkey = lkey};
	w->sg_list = &ch->sge[r][k];
	w->num_sge = len > 0;
	w->opcode = IBV_WR_RDMA_WRITE;
	w->send_flags = 0;
	w->wr.rdma.remote_addr = remote;
	w->wr.rdma.rkey = rkey;
	return w;
}

/* Piece [off, off + len) of buffer i on rail r, cut into WRs of at most 1 GiB. */
static void add_piece(struct spark_comm *c, const struct spark_send_slot *s, uint32_t i,
		      uint32_t r, uint64_t off, uint64_t len)
{
	const struct spark_send_req *req = &s->req[i];
	for (uint64_t done = 0; done < len;) {
		uint64_t left = len - done;
		uint32_t n = left > SPARK_MAX_WR_BYTES ? SPARK_MAX_WR_BYTES : (uint32_t)left;
		struct ibv_send_wr *w = add_wr(c->chains, r, (uint64_t)(uintptr_t)req->data + off + done, n,
					       req->mh->mr[r]->lkey, s->cts[i].addr + off + done,
					       s->cts[i].rkey[c->rail[r].peer_rail]);
		if (n <= c->rail[r].max_inline)
			w->send_flags = IBV_SEND_INLINE;
		done += n;
	}
}

/* Closes rail r's chain with the IMM: on its last data write, or (the record
 * rail, or a rail with no data) on an inline write into records[slot]. */
static void close_chain(struct spark_comm *c, const struct spark_send_slot *s, uint32_t r,
			uint32_t imm, bool with_record)
{
	struct spark_chains *ch = c->chains;
	if (with_record || ch->n[r] == 0) {
		uint32_t slot = spark_slot_of(s->seq);
		struct ibv_send_wr *w = add_wr(ch, r, (uint64_t)(uintptr_t)&s->rec,
					       with_record ? (uint32_t)sizeof s->rec : 0, 0,
					       c->rail[r].peer_addr +
						       slot * sizeof(struct spark_cmpl_record),
					       c->rail[r].peer_rkey);
		w->send_flags = with_record ? IBV_SEND_INLINE : 0;
	}
	struct ibv_send_wr *last = &ch->wr[r][ch->n[r] - 1];
	last->opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
	last->imm_data = htobe32(imm);
}

/* ---- posting ---- */

/* Plans every buffer of a slot that post_single does not take (a group,
 * sizes for the record): pieces and the per-rail byte counts. */
static uint32_t plan_slot(struct spark_comm *c, struct spark_send_slot *s)
{
	/* A group plans each buffer after the ones before it. */
	uint64_t group[SPARK_STRIPE_MAX_RAILS];
	uint64_t *queued = c->queued;
	uint32_t used = 0;
	for (uint32_t r = 0; r < c->nrails; r++) {
		c->chains->n[r] = 0;
		s->rail_bytes[r] = 0;
	}
	if (s->nreqs > 1) {
		memcpy(group, c->queued, sizeof c->queued);
		queued = group;
	}
	s->record = s->nreqs > 1;
	for (uint32_t i = 0; i < s->nreqs; i++) {
		int32_t size = s->req[i].size;
		s->record |= spark_imm_size_field(size) == SPARK_IMM_IN_RECORD;
		if (size <= 0) {
			s->npieces[i] = 0;
			continue;
		}
		struct spark_stripe_piece *pc = s->piece[i];
		s->npieces[i] = (uint8_t)spark_stripe_plan(&c->policy, (uint64_t)size, queued,
							   c->small_rail, pc);
		for (uint32_t p = 0; p < s->npieces[i]; p++) {
			add_piece(c, s, i, pc[p].rail, pc[p].offset, pc[p].length);
			if (s->nreqs > 1)
				group[pc[p].rail] += pc[p].length;
			s->rail_bytes[pc[p].rail] += pc[p].length;
			used |= 1u << pc[p].rail;
		}
	}
	if (used == 0)   /* nothing to write: the IMM alone, on the next rail up */
		for (uint32_t k = 0; k < c->nrails && used == 0; k++)
			if (c->up_mask & (1u << ((c->small_rail + k) % c->nrails)))
				used = 1u << ((c->small_rail + k) % c->nrails);
	return used;
}

/* The first rail up after r, wrapping; r itself when no other is up. */
static inline __attribute__((always_inline)) uint32_t next_up_rail(const struct spark_comm *c,
								    uint32_t r)
{
	if (c->up_mask == 3u)
		return r ^ 1u;   /* a Spark's two rails, both up: the other one */
	uint32_t up = c->up_mask & ((1u << c->nrails) - 1);
	uint32_t above = up & ~((2u << r) - 1);
	if (above != 0)
		return (uint32_t)__builtin_ctz(above);
	return up != 0 ? (uint32_t)__builtin_ctz(up) : r;
}

static void fill_record(struct spark_send_slot *s)
{
	s->rec.nreqs = s->nreqs;
	s->rec.seq = s->seq;
	for (uint32_t i = 0; i < s->nreqs; i++)
		s->rec.sizes[i] = s->req[i].size;
}

static inline __attribute__((always_inline)) void posted_on(struct spark_comm *c,
							  struct spark_send_slot *s, uint32_t r,
							  uint64_t *now)
{
	/* A rail that was idle starts its busy time now; one that was busy
	 * starts when its previous chain completes (weights.c). */
	s->post_ns[r] = 0;
	if (c->weights.adaptive && c->rail_chains[r] == 0)
		s->post_ns[r] = *now = *now != 0 ? *now : spark_now_ns();
	c->queued[r] += s->rail_bytes[r];
	c->rail_chains[r]++;
}

enum post_result { POSTED, NO_ROOM, NOT_SINGLE };

/* One signaled WRITE_WITH_IMM: [off, off + len) of the slot's one buffer on
 * rail r, closing share r; imm is the immediate without its share bit. */
static inline __attribute__((always_inline)) bool post_share(struct spark_comm *c,
							     struct spark_send_slot *s,
							     uint32_t r, uint64_t off,
							     uint32_t len, uint32_t imm,
							     uint64_t *now)
{
	const struct spark_send_req *req = &s->req[0];
	struct spark_rail *rail = &c->rail[r];
	struct ibv_send_wr *w = &c->chains->one[r];
	struct ibv_sge *sge = &c->chains->one_sge[r];
	*sge = (struct ibv_sge){.addr = (uint64_t)(uintptr_t)req->data + off, .length = len,
				.lkey = req->mh->mr[r]->lkey};
	if (w->sg_list != sge) {   /* the first use: the fields no message changes */
		w->next = NULL;
		w->sg_list = sge;
		w->num_sge = 1;
		w->opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
	}
	w->send_flags = IBV_SEND_SIGNALED | (len <= rail->max_inline ? IBV_SEND_INLINE : 0);
	w->imm_data = htobe32(imm | (uint32_t)rail->peer_rail << 6);   /* the receiver's numbering */
	w->wr.rdma.remote_addr = s->cts[0].addr + off;
	w->wr.rdma.rkey = s->cts[0].rkey[rail->peer_rail];
	w->wr_id = spark_wr_id_data(r, imm & 0x3fu, rail->unsignaled + 1, r);
	s->rail_bytes[r] = len;
	struct ibv_send_wr *bad = NULL;
	int rc = ibv_post_send(rail->qp, w, &bad);
	if (rc != 0) {
		spark_rail_post_failed(c, r, 1, rc);
		return false;   /* the comm is failed */
	}
	rail->sq_used++;
	rail->unsignaled = 0;
	rail->signaled_inflight++;
	posted_on(c, s, r, now);
	return true;
}

/* The slot's state once its chains are about to go out on `used`. */
static inline void slot_posted(struct spark_send_slot *s, uint32_t used, uint32_t lead,
			       bool record)
{
	for (uint32_t r = 0; r < SPARK_MAX_RAILS; r++)
		s->rail_bytes[r] = 0;
	s->record = record;
	s->rails_pending = s->used = used;
	s->lead = lead;
	s->moved = 0;
	s->state = SLOT_POSTED;
}

/* The common case: one buffer whose size rides in the immediate, one WR per
 * rail it goes over (whole: one WR in all, with no loop), each closing its
 * share. */
static inline __attribute__((always_inline)) enum post_result post_single(struct spark_comm *c,
									   struct spark_send_slot *s)
{
	const struct spark_send_req *req = &s->req[0];
	if (s->nreqs != 1 || req->size <= 0 || (uint32_t)req->size > SPARK_IMM_SIZE_MAX)
		return NOT_SINGLE;
	struct spark_stripe_piece *pc = s->piece[0];
	uint32_t size = (uint32_t)req->size;
	unsigned n = spark_stripe_plan(&c->policy, size, c->queued, c->small_rail, pc);
	uint32_t slot = spark_slot_of(s->seq);
	uint64_t now = 0;
	s->npieces[0] = (uint8_t)n;
	if (n == 1) {
		uint32_t r = pc[0].rail;
		if (!spark_rail_room(&c->rail[r], 1))
			return NO_ROOM;
		if (s->cts[0].rkey[c->rail[r].peer_rail] == 0) {
			missing_key(c, s, 0, r);
			return POSTED;   /* the comm is failed; nothing more to do */
		}
		slot_posted(s, 1u << r, r, false);
		c->small_rail = next_up_rail(c, c->small_rail);
		post_share(c, s, r, 0, size, slot | size << 8, &now);
		return POSTED;
	}
	if (n == 2) {   /* cut in two (SPARK_MAX_RAILS): both checked, then one WR on each */
		uint32_t a = pc[0].rail, b = pc[1].rail;
		if (!spark_rail_room(&c->rail[a], 1) || !spark_rail_room(&c->rail[b], 1))
			return NO_ROOM;
		if (s->cts[0].rkey[c->rail[a].peer_rail] == 0 ||
		    s->cts[0].rkey[c->rail[b].peer_rail] == 0) {
			missing_key(c, s, 0, s->cts[0].rkey[c->rail[a].peer_rail] == 0 ? a : b);
			return POSTED;
		}
		slot_posted(s, 1u << a | 1u << b, a, false);
		c->small_rail = next_up_rail(c, c->small_rail);
		uint32_t imm = slot | 1u << 7 | size << 8;
		if (post_share(c, s, a, 0, (uint32_t)pc[0].length, imm, &now))
			post_share(c, s, b, pc[1].offset, (uint32_t)pc[1].length, imm, &now);
		return POSTED;
	}
	uint32_t used = 0;
	for (unsigned p = 0; p < n; p++) {
		if (!spark_rail_room(&c->rail[pc[p].rail], 1))
			return NO_ROOM;
		if (s->cts[0].rkey[c->rail[pc[p].rail].peer_rail] == 0) {
			missing_key(c, s, 0, pc[p].rail);
			return POSTED;
		}
		used |= 1u << pc[p].rail;
	}
	slot_posted(s, used, pc[0].rail, false);
	c->small_rail = next_up_rail(c, c->small_rail);
	/* The immediate without its share bit: slot | (n - 1) << 7 | size << 8. */
	uint32_t imm = slot | (n - 1) << 7 | size << 8;
	for (unsigned p = 0; p < n; p++)
		if (!post_share(c, s, pc[p].rail, pc[p].offset, (uint32_t)pc[p].length, imm, &now))
			return POSTED;   /* the comm is failed; nothing more to do */
	return POSTED;
}

/* A group, or sizes for the record: chains of pieces per rail. Out of line,
 * so the single-buffer path keeps its registers. */
static __attribute__((noinline)) bool post_chains(struct spark_comm *c,
						  struct spark_send_slot *s)
{
	struct spark_chains *ch = c->chains;
	uint32_t used = plan_slot(c, s), lead = (uint32_t)__builtin_ctz(used);
	for (uint32_t r = 0; r < c->nrails; r++)
		if ((used & (1u << r)) &&
		    !spark_rail_room(&c->rail[r], ch->n[r] + (r == lead && s->record) + 1))
			return false;
	for (uint32_t i = 0; i < s->nreqs; i++)
		for (uint32_t p = 0; p < s->npieces[i]; p++)
			if (s->cts[i].rkey[c->rail[s->piece[i][p].rail].peer_rail] == 0) {
				missing_key(c, s, i, s->piece[i][p].rail);
				return true;   /* the comm is failed */
			}
	if (s->record)
		fill_record(s);
	struct spark_imm imm = {spark_slot_of(s->seq), 0, spark_bits(used),
				s->record ? SPARK_IMM_IN_RECORD : (uint32_t)s->req[0].size};
	s->rails_pending = used;
	s->used = used;
	s->moved = 0;
	s->lead = lead;
	s->state = SLOT_POSTED;
	uint64_t now = 0;
	for (uint32_t r = 0; r < c->nrails; r++) {
		if (!(used & (1u << r)))
			continue;
		imm.share = c->rail[r].peer_rail;   /* the receiver's numbering */
		close_chain(c, s, r, spark_imm_encode(&imm), s->record && r == lead);
		if (spark_rail_post(c, r, ch->wr[r], ch->n[r], SPARK_WR_DATA, imm.slot, r, true) !=
		    ncclSuccess)
			return true;  /* the comm is failed; nothing more to do */
		posted_on(c, s, r, &now);
	}
	c->small_rail = next_up_rail(c, c->small_rail);
	return true;
}

/* Puts a READY slot on the wire; false when a rail's send queue is too full
 * (retried once completions free it). */
static inline __attribute__((always_inline)) bool post_slot(struct spark_comm *c,
							     struct spark_send_slot *s)
{
	enum post_result single = post_single(c, s);
	if (single != NOT_SINGLE)
		return single == POSTED;
	return post_chains(c, s);
}

/* Posts the READY slots behind the oldest one not yet posted, in order. */
static __attribute__((noinline)) void post_waiting(struct spark_comm *c)
{
	while (c->post_seq < c->seq && c->failed == ncclSuccess) {
		struct spark_send_slot *s = &c->slots[spark_slot_of(c->post_seq)];
		if (s->state != SLOT_READY || s->seq != c->post_seq || !post_slot(c, s))
			return;
		c->post_seq++;
	}
}

/* After every poll that completed something: most find every slot posted,
 * and return before post_waiting's registers are saved. */
static void send_progress(struct spark_comm *c)
{
	if (c->post_seq < c->seq)
		post_waiting(c);
}

/* isend's second half: entry i of slot s taken by this isend, checked; the
 * slot goes out once every entry has its isend. */
static inline __attribute__((always_inline)) ncclResult_t claim(struct spark_comm *c,
								struct spark_send_slot *s,
								uint32_t i, void *data,
								size_t size, int tag,
								void *mhandle, void **request)
{
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
	} else if ((size > 0 || mhandle != NULL) &&
		   !spark_mr_usable(mhandle, c->dev, data, size)) {
		/* Stale, foreign or the wrong handle: refused like an oversize
		 * message (the receiver is told, nothing is written). */
		req->size = -(int32_t)size;
		res = spark_mr_handle_bad(mhandle, c->dev, data, size, "isend");
	} else {
		req->size = (int32_t)size;
		req->idx = (uint32_t)i;
		s->owned |= 1u << i;
		*request = req;
	}
	if (s->claimed == (1u << s->nreqs) - 1) {
		s->state = SLOT_READY;
		c->seq++;
		/* Every older slot posted (the common case): this one goes now,
		 * else in order behind them. */
		if (c->post_seq == s->seq) {
			if (post_slot(c, s))
				c->post_seq++;
		} else {
			post_waiting(c);
		}
		if (c->failed != ncclSuccess) {
			*request = NULL;   /* posting found the CTS or a rail bad */
			return c->failed;
		}
	}
	return res;
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
	if (c->failed != ncclSuccess)
		return c->failed;
	struct spark_send_slot *s = &c->slots[spark_slot_of(c->seq)];
	if (!(s->state == SLOT_MATCHING && s->seq == c->seq)) {
		if (!slot_reusable(s))
			return ncclSuccess;        /* previous use still live: retry */
		int rc = read_cts(c, c->seq, s);
		if (rc == 0) {
			/* No CTS yet: is the peer there, and are our ports? A sender
			 * waiting for a clear-to-send has nothing in flight and calls
			 * no test(), so the engine's idle polls never look at the
			 * ports for it: both rails down would go unseen here. */
			spark_peer_check(c, spark_now_ns());
			spark_port_watch(c);
		}
		if (rc <= 0)
			return rc < 0 ? ncclRemoteError : c->failed;
	}
	/* A tag the oldest open receive does not (or no longer) wants is
	 * another sender's turn (NCCL_NET_SHARED_COMMS: ranks share this comm,
	 * each with its own tag): no request, NCCL calls again. One entry (the
	 * common case) is entry 0, unclaimed while the slot is matching: claim
	 * is inlined with that constant. */
	if (s->nreqs == 1)
		return s->cts[0].tag == tag ? claim(c, s, 0, data, size, tag, mhandle, request)
					    : ncclSuccess;
	int i = find_entry(s, tag);
	if (i < 0)
		return ncclSuccess;
	return claim(c, s, (uint32_t)i, data, size, tag, mhandle, request);
}

/* ---- completion ---- */

/* The weights moved: the planner takes them. Out of line and rare. */
static __attribute__((noinline)) void weights_moved(struct spark_comm *c)
{
	c->weight_updates = c->weights.updates;
	memcpy(c->policy.weight, c->weights.weight, sizeof c->policy.weight);
	SPARK_INFO(NCCL_NET, "dev %d: rail weights now %u/%u (measured %.0f/%.0f Mbps)", c->dev,
		   c->weights.weight[0], c->weights.weight[1], c->weights.rate_mbps[0],
		   c->weights.rate_mbps[1]);
}

/* Out of line and reached by a tail call, so data_done stays a leaf. The
 * poll's first sample reads the clock the rest of the poll shares. */
static __attribute__((noinline)) void sample_weights(struct spark_comm *c,
						     const struct spark_send_slot *s,
						     uint32_t rail)
{
	spark_weights_sample(&c->weights, rail, s->rail_bytes[rail], s->post_ns[rail],
			     spark_engine_clock(c));
	if (c->weights.updates != c->weight_updates)
		weights_moved(c);
}

static __attribute__((cold, noinline)) void not_in_flight(struct spark_comm *c, uint32_t slot,
							  uint32_t share)
{
	SPARK_WARN("dev %d: completion for slot %u share %u that is not in flight", c->dev, slot,
		   share);
	spark_comm_fail(c, ncclInternalError);
}

static void data_done(struct spark_comm *c, uint32_t rail, uint32_t slot, uint32_t share)
{
	struct spark_send_slot *s = &c->slots[slot];
	if (s->state != SLOT_POSTED || !(s->rails_pending & (1u << share)))
		return not_in_flight(c, slot, share);
	s->rails_pending &= ~(1u << share);
	if (s->rails_pending == 0)
		s->state = SLOT_DONE;
	uint64_t bytes = s->rail_bytes[share];
	c->queued[rail] -= bytes < c->queued[rail] ? bytes : c->queued[rail];
	c->rail_chains[rail] -= c->rail_chains[rail] > 0;
	/* A re-sent share says nothing about its new rail's rate. */
	if (rail == share && c->weights.adaptive)
		sample_weights(c, s, rail);
}

/* A done request reported to NCCL; the slot is free once every request of
 * it was. */
static inline ncclResult_t send_report(struct spark_send_req *req, struct spark_send_slot *s,
				       uint32_t idx, int *done, int *sizes)
{
	*done = 1;
	if (sizes != NULL)
		sizes[0] = req->size;
	s->owned &= ~(1u << idx);
	if (slot_reusable(s))
		s->state = SLOT_FREE;
	return ncclSuccess;
}

/* Not done yet: poll the comm (which may complete s), else look at the
 * peer. Out of line and reached by a tail call, so test's common call (one
 * poll completes a whole window: the rest find their slot done) stays a
 * leaf that saves no registers. */
static __attribute__((noinline)) ncclResult_t send_test_poll(struct spark_send_req *req,
							    struct spark_send_slot *s,
							    uint32_t idx, int *done,
							    int *sizes)
{
	struct spark_comm *c = req->hdr.comm;
	spark_peer_watch(c, spark_engine_poll(c));   /* busy or not: frames come */
	if (s->state == SLOT_DONE)
		return send_report(req, s, idx, done, sizes);
	return c->failed;
}

ncclResult_t spark_send_test(struct spark_send_req *req, int *done, int *sizes)
{
	/* A request isend handed out and test has not reported done: entry idx
	 * of its slot, its bit still owned. Anything else (tested again after
	 * done, or not a request) is refused before it is trusted further. */
	struct spark_comm *c = req->hdr.comm;
	uint32_t idx = req->idx % SPARK_MAX_RECVS;
	struct spark_send_slot *s = &c->slots[req->slot % SPARK_SLOTS];
	if (&s->req[idx] != req)   /* indices masked: out of range cannot match */
		return spark_req_bad(req, "test", "is not a send request of a live comm");
	if (!(s->owned & (1u << idx)))
		return spark_req_bad(req, "test", "was already reported done (or never handed out)");
	if (s->state != SLOT_DONE)
		return send_test_poll(req, s, idx, done, sizes);
	return send_report(req, s, idx, done, sizes);
}

/* ---- a rail lost ---- */

/* A lost rail's shares are not re-sent at once: a share whose data landed
 * but whose ACK was lost with the rail would be written twice, and if the
 * receiver had completed that receive and NCCL reposted the buffer, the
 * second copy would overwrite newer data. The receiver, once its QP on the
 * rail is in ERR and its CQ drained (nothing more can land through it),
 * says which shares it has (RESEND, failback.c): only the others go again.
 * docs/design.md, "Losing a rail". */

/* Rail `share`'s part of slot s again, on the next rail up (keys of that
 * rail from the CTS entry), closed by an IMM naming the same share (and
 * carrying the record if the lost copy did). Only for a share the receiver
 * confirmed it lacks: its receive is not complete, so the buffer is not
 * reused before this copy lands. */
static void resend_share(struct spark_comm *c, struct spark_send_slot *s, uint32_t share)
{
	uint32_t to = next_up_rail(c, share);
	c->chains->n[to] = 0;
	for (uint32_t i = 0; i < s->nreqs; i++)
		for (uint32_t p = 0; p < s->npieces[i]; p++)
			if (s->piece[i][p].rail == share)
				add_piece(c, s, i, to, s->piece[i][p].offset, s->piece[i][p].length);
	struct spark_imm imm = {spark_slot_of(s->seq), c->rail[share].peer_rail,
				spark_bits(s->used), s->record ? SPARK_IMM_IN_RECORD : (uint32_t)s->req[0].size};
	close_chain(c, s, to, spark_imm_encode(&imm), s->record && share == s->lead);
	if (!spark_rail_room(&c->rail[to], c->chains->n[to])) {
		SPARK_WARN("dev %d: no room on rail %s to re-send slot %u", c->dev,
			   c->rail[to].hca.name, imm.slot);
		spark_comm_fail(c, ncclRemoteError);
		return;
	}
	if (spark_rail_post(c, to, c->chains->wr[to], c->chains->n[to], SPARK_WR_DATA, imm.slot,
			    share, true) != ncclSuccess)
		return;
	s->moved |= 1u << share;
	s->moved_to[share] = (uint8_t)to;
	c->queued[to] += s->rail_bytes[share];
	c->rail_chains[to]++;
}

/* The receiver has share k of s: done with it, as if its ACK had come.
 * (Not data_done: no completion was polled, no rail's queue or rate is
 * touched; the lost rail's counters start again at zero on readmit.) */
static void settle_share(struct spark_send_slot *s, uint32_t k)
{
	s->rails_pending &= ~(1u << k);
	if (s->rails_pending == 0)
		s->state = SLOT_DONE;
}

/* Does the receiver's verdict say it has share k of s? Receives below base
 * are complete; one in range has what its mask says (in the receiver's
 * numbering: the share's rail's partner); one at or above base + count was
 * posted after the receiver's QP on the lost rail was in ERR, so nothing of
 * it came through there. */
static bool receiver_has(const struct spark_comm *c, const struct spark_send_slot *s,
			 uint32_t k, const struct spark_ctl_resend *v)
{
	if (s->seq < v->base)
		return true;
	uint64_t i = s->seq - v->base;
	return i < v->count && (v->mask[i] >> c->rail[k].peer_rail & 1u) != 0;
}

void spark_send_verdict(struct spark_comm *c, uint32_t r, const struct spark_ctl_resend *v)
{
	uint32_t had = 0, again = 0;
	for (uint32_t i = 0; i < SPARK_SLOTS && c->failed == ncclSuccess; i++) {
		struct spark_send_slot *s = &c->slots[i];
		/* Every share still owed whose copy in flight was on r: its own,
		 * or one moved onto r by an earlier failure (a rail that failed,
		 * came back and then carried the other's re-sent pieces). */
		for (uint32_t k = 0; k < c->nrails && s->state == SLOT_POSTED &&
				     c->failed == ncclSuccess; k++) {
			uint32_t bit = 1u << k;
			uint32_t on = (s->moved & bit) ? s->moved_to[k] : k;
			if (!(s->rails_pending & bit) || on != r)
				continue;
			if (receiver_has(c, s, k, v)) {
				settle_share(s, k);
				had++;
			} else {
				resend_share(c, s, k);
				again++;
			}
		}
	}
	SPARK_INFO(NCCL_NET, "dev %d: rail %s lost with %u shares in flight: the receiver had %u "
		   "(done), %u re-sent over the other half", c->dev, c->rail[r].hca.name,
		   had + again, had, again);
}

/* The rail left: its shares stay owed until the receiver's verdict. */
static void rail_lost(struct spark_comm *c, uint32_t r)
{
	if (r >= SPARK_MAX_RAILS)
		return;   /* the engine names only rails it has */
	if (c->small_rail == r)
		c->small_rail = (uint32_t)__builtin_ctz(c->up_mask);
	struct spark_rail *rail = &c->rail[r];
	rail->verdict_pending = true;
	rail->verdict_epoch = rail->rejoin.conn_epoch;
	rail->verdict_ns = spark_now_ns();
}

const struct spark_wc_ops spark_send_ops = {
	.data_done = data_done,
	.rail_lost = rail_lost,
	.progress = send_progress,
	.ctl = spark_failback_ctl,
};
