/* The receive side (recv.h). irecv writes the request's CTS entries (buffer
 * address, size, tag, one rkey per rail) into the sender's FIFO slot
 * seq % SLOTS by RDMA write, on the rails in turn. The request is complete
 * when every rail the sender used has delivered its IMM; the IMM says how
 * many rails that is and, for one buffer, its size. */
#include <infiniband/verbs.h>
#include <string.h>

#include "api.h"
#include "failback.h"
#include "handle_check.h"
#include "log.h"
#include "peer.h"
#include "recv.h"

static struct spark_cts_entry *shadow_slot(struct spark_comm *c, uint32_t slot)
{
	return (struct spark_cts_entry *)c->src + (size_t)slot * SPARK_MAX_RECVS;
}

static uint32_t cts_rail(const struct spark_comm *c, uint64_t seq)
{
	if (c->up_mask == 3u)
		return (uint32_t)(seq & 1u);   /* a Spark's two rails: the loop's answer */
	uint32_t up = spark_bits(c->up_mask);
	if (up == 0)
		return 0;   /* no rail left: the comm has failed, nothing is posted */
	uint32_t nth = (uint32_t)(seq % up);
	for (uint32_t r = 0; r < c->nrails; r++)
		if ((c->up_mask & (1u << r)) && nth-- == 0)
			return r;
	return 0;
}

/* Writes the shadow FIFO entries of a receive into the sender's FIFO, on
 * rail r (also used to re-send them after a rail failed: the same bytes
 * again, harmless if they had landed). */
static ncclResult_t post_cts(struct spark_comm *c, uint32_t slot, uint32_t r)
{
	struct spark_rail *rail = &c->rail[r];
	struct spark_cts_entry *e = shadow_slot(c, slot);
	uint32_t len = c->rreqs[slot].n * (uint32_t)sizeof *e;
	struct ibv_send_wr *wr = &rail->cts_wr;
	if (wr->sg_list != &rail->cts_sge) {   /* the first use: what no CTS changes */
		memset(wr, 0, sizeof *wr);
		wr->sg_list = &rail->cts_sge;
		wr->num_sge = 1;
		wr->opcode = IBV_WR_RDMA_WRITE;
	}
	/* The rest each time: a renewed rail (failback) has new keys. */
	rail->cts_sge = (struct ibv_sge){(uint64_t)(uintptr_t)e, len, rail->src_mr->lkey};
	wr->send_flags = len <= rail->max_inline ? IBV_SEND_INLINE : 0;
	wr->wr.rdma.remote_addr = rail->peer_addr + (uint64_t)slot * SPARK_MAX_RECVS * sizeof *e;
	wr->wr.rdma.rkey = rail->peer_rkey;
	SPARK_TRY(spark_rail_post(c, r, wr, 1, SPARK_WR_CTS, slot, 0, false));
	c->rreqs[slot].cts_rail = r;
	return ncclSuccess;
}

static bool can_post(struct spark_comm *c, const struct spark_recv_req *req, uint32_t r)
{
	return req->state == RREQ_FREE && spark_rail_room(&c->rail[r], 1);
}

/* The shadow FIFO entries of a receive of n buffers, each handle checked
 * before the CTS goes out (a refused irecv leaves only unposted shadow
 * entries): a stale handle's rkeys would let the sender write where this
 * buffer no longer is. */
static inline __attribute__((always_inline)) ncclResult_t
fill_entries(const struct spark_comm *c, struct spark_recv_req *req, struct spark_cts_entry *e,
	     uint64_t seq, uint32_t n, void **data, const size_t *sizes, const int *tags,
	     void **mhandles)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct spark_mr_handle *mh = mhandles != NULL ? mhandles[i] : NULL;
		if ((sizes[i] > 0 || mh != NULL) && !spark_mr_usable(mh, c->dev, data[i], sizes[i]))
			return spark_mr_handle_bad(mh, c->dev, data[i], sizes[i], "irecv");
		memset(&e[i], 0, sizeof e[i]);
		e[i].addr = (uint64_t)(uintptr_t)data[i];
		e[i].size = sizes[i];
		for (uint32_t k = 0; k < c->nrails && mh != NULL; k++)
			e[i].rkey[k] = mh->mr[k] != NULL ? mh->mr[k]->rkey : 0;
		e[i].tag = tags[i];
		e[i].nreqs = n;
		e[i].seq = seq;
		req->posted[i] = (int64_t)sizes[i];
		req->tags[i] = tags[i];
	}
	return ncclSuccess;
}

ncclResult_t spark_irecv(void *recv_comm, int n, void **data, const size_t *sizes,
			 const int *tags, void **mhandles, void **request)
{
	struct spark_comm *c = recv_comm;
	*request = NULL;
	SPARK_NOT_NULL(c, "recv comm");
	if (n < 1 || n > SPARK_MAX_RECVS) {
		SPARK_WARN("irecv: %d buffers; one receive takes 1 to %d", n, SPARK_MAX_RECVS);
		return ncclInvalidArgument;
	}
	if (c->failed != ncclSuccess)
		return c->failed;
	uint64_t seq = c->seq;
	uint32_t slot = spark_slot_of(seq), r = cts_rail(c, seq);
	struct spark_recv_req *req = &c->rreqs[slot];
	if (!can_post(c, req, r)) {
		spark_engine_poll(c);   /* room comes from completions */
		r = cts_rail(c, seq);   /* the poll may have failed a rail over */
		if (c->failed != ncclSuccess || !can_post(c, req, r))
			return c->failed;   /* retry */
	}
	/* One buffer (the common case): fill_entries inlined for n = 1. */
	ncclResult_t res = n == 1 ? fill_entries(c, req, shadow_slot(c, slot), seq, 1, data, sizes,
						 tags, mhandles)
				  : fill_entries(c, req, shadow_slot(c, slot), seq, (uint32_t)n, data,
						 sizes, tags, mhandles);
	if (res != ncclSuccess)
		return res;
	req->n = (uint32_t)n;
	SPARK_TRY(post_cts(c, slot, r));
	req->state = RREQ_POSTED;
	req->seq = seq;
	req->shares = 0;
	req->nshares = 0;
	req->record = false;
	c->recvs_posted++;
	c->seq++;
	*request = req;
	return ncclSuccess;
}

/* What the sender wrote (record or IMM) broke a range check: WARN with the
 * field, its value and the bound; the comm fails with ncclRemoteError. */
static __attribute__((cold, noinline)) void wire_fault(struct spark_comm *c, uint32_t slot,
						       const char *what,
						       const struct spark_wire_fault *f)
{
	char text[160];
	spark_wire_fault_str(f, text, sizeof text);
	SPARK_WARN("dev %d: %s for receive slot %u from the sender is corrupt: %s (the peer runs "
		   "another plugin version, or its memory is corrupted); the recv comm fails",
		   c->dev, what, slot, text);
	spark_comm_fail(c, ncclRemoteError);
}

/* What an IMM for req must fit. */
static inline struct spark_imm_expect imm_expect(const struct spark_comm *c,
						 const struct spark_recv_req *req)
{
	return (struct spark_imm_expect){c->nrails, req->state == RREQ_POSTED ? req->n : 0,
					 req->posted[0], req->nshares, req->imm_size};
}

/* From the raw immediate and the untouched req, both decoded again here:
 * on_imm's copies stay in registers, none stored on its common path. */
static __attribute__((cold, noinline)) void imm_bad(struct spark_comm *c, uint32_t v,
						    const struct spark_recv_req *req)
{
	struct spark_imm imm;
	spark_imm_decode(v, &imm);
	struct spark_imm_expect x = imm_expect(c, req);
	struct spark_wire_fault f;
	if (spark_imm_check(&imm, &x, &f))
		spark_wire_fail(&f, "imm (checks disagree)", -1, "==", 0, 0);
	wire_fault(c, imm.slot, "immediate", &f);
}

/* Every share is in: the sizes from the record (written as the payload of
 * one rail's IMM, visible now that its CQE has been polled), range-checked
 * in a copy (what is checked is what is used). */
static bool take_record(struct spark_comm *c, struct spark_recv_req *req, uint32_t slot)
{
	const struct spark_cmpl_record *rec = (const struct spark_cmpl_record *)c->ctl + slot;
	struct spark_cmpl_record copy;
	struct spark_wire_fault f;
	copy.seq = __atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE);
	copy.nreqs = rec->nreqs;
	memcpy(copy.sizes, rec->sizes, sizeof copy.sizes);
	if (!spark_record_check(&copy, req->seq, req->n, req->posted, &f)) {
		wire_fault(c, slot, "completion record", &f);
		return false;
	}
	memcpy(req->sizes, copy.sizes, sizeof req->sizes);
	return true;
}

/* A share that came twice. Since re-sends wait for this side's RESEND
 * (only shares it lacked go again) none should: counted once and ignored,
 * but a WARN (once per comm, INFO after) makes one visible, as a second
 * copy may have overwritten a reposted buffer. */
static __attribute__((cold, noinline)) void duplicate_share(struct spark_comm *c,
							    uint32_t share, uint32_t slot)
{
	if (c->dup_warned) {
		SPARK_INFO(NCCL_NET, "dev %d: duplicate share %u of slot %u ignored", c->dev, share,
			   slot);
		return;
	}
	c->dup_warned = true;
	SPARK_WARN("dev %d: share %u of receive slot %u arrived twice (ignored): the sender "
		   "re-sent a share this side already had; if the buffer had been reposted its "
		   "data may be overwritten (a plugin bug, or a peer without confirmed re-sends: "
		   "run the same plugin version on both hosts)", c->dev, share, slot);
}

/* The last share of a receive whose sizes are in the record. */
static __attribute__((noinline)) void done_by_record(struct spark_comm *c,
						    struct spark_recv_req *req, uint32_t slot)
{
	if (!take_record(c, req, slot))
		return;
	req->state = RREQ_DONE;
	c->recvs_posted--;
}

/* Everything but the common case is out of line and reached by tail calls,
 * so this stays a leaf. */
static void on_imm(struct spark_comm *c, uint32_t rail, uint32_t v)
{
	struct spark_imm imm;
	(void)rail;
	spark_imm_decode(v, &imm);
	struct spark_recv_req *req = &c->rreqs[imm.slot];
	uint32_t bit = 1u << imm.share;
	if (req->shares & bit)
		return duplicate_share(c, imm.share, imm.slot);
	struct spark_imm_expect x = imm_expect(c, req);
	if (!spark_imm_ok(&imm, &x))
		return imm_bad(c, v, req);
	req->nshares = imm.nshares;
	req->imm_size = imm.size;
	if (imm.size != SPARK_IMM_IN_RECORD)
		req->sizes[0] = (int32_t)imm.size;
	else
		req->record = true;
	req->shares |= bit;
	if (spark_bits(req->shares) < imm.nshares)
		return;  /* other rails still owe their part */
	if (req->record)
		return done_by_record(c, req, imm.slot);
	req->state = RREQ_DONE;
	c->recvs_posted--;
}

/* A done receive reported to NCCL (sizes; a refused message is
 * ncclInvalidUsage), its slot free again. */
static __attribute__((cold, noinline)) ncclResult_t refused(const struct spark_recv_req *req,
							     uint32_t i)
{
	if (-(int64_t)req->sizes[i] > req->posted[i])
		SPARK_WARN("irecv: the sender's message of %d bytes (tag %d) is larger than the "
			   "%lld-byte buffer posted; nothing was written", -req->sizes[i],
			   req->tags[i], (long long)req->posted[i]);
	else
		SPARK_WARN("irecv: the sender refused its message of %d bytes (tag %d: its isend "
			   "failed, see the sender's WARN); nothing was written", -req->sizes[i],
			   req->tags[i]);
	return ncclInvalidUsage;
}

static ncclResult_t recv_report(struct spark_recv_req *req, int *done, int *sizes)
{
	if (req->n == 1 && req->sizes[0] >= 0) {   /* the common case, without the loop */
		if (sizes != NULL)
			sizes[0] = req->sizes[0];
		req->state = RREQ_FREE;
		*done = 1;
		return ncclSuccess;
	}
	ncclResult_t res = ncclSuccess;
	for (uint32_t i = 0; i < req->n; i++) {
		if (req->sizes[i] < 0)
			res = refused(req, i);
		if (sizes != NULL)
			sizes[i] = req->sizes[i] < 0 ? 0 : req->sizes[i];
	}
	req->state = RREQ_FREE;
	*done = 1;
	return res;
}


/* Not done yet: poll the comm (which may complete req), else look at the
 * peer. Out of line and reached by a tail call, so test's common call stays
 * a leaf. */
static __attribute__((noinline)) ncclResult_t recv_test_poll(struct spark_recv_req *req,
							    int *done, int *sizes)
{
	struct spark_comm *c = req->hdr.comm;
	spark_peer_watch(c, spark_engine_poll(c));   /* busy or not: frames come */
	if (req->state == RREQ_DONE)
		return recv_report(req, done, sizes);
	return c->failed;
}

ncclResult_t spark_recv_test(struct spark_recv_req *req, int *done, int *sizes)
{
	/* A request irecv handed out and test has not reported done: an
	 * element of its comm's array, posted or done but not yet freed. */
	struct spark_comm *c = req->hdr.comm;
	if (&c->rreqs[spark_slot_of(req->seq)] != req)
		return spark_req_bad(req, "test", "is not a receive request of a live comm");
	if (req->state == RREQ_FREE)
		return spark_req_bad(req, "test", "was already reported done (or never handed out)");
	if (req->state != RREQ_DONE)
		return recv_test_poll(req, done, sizes);
	return recv_report(req, done, sizes);
}

/* Every posted receive whose CTS went over rail r has it written again
 * over a survivor. */
static void rail_lost(struct spark_comm *c, uint32_t r)
{
	for (uint32_t i = 0; i < SPARK_SLOTS && c->failed == ncclSuccess; i++) {
		const struct spark_recv_req *req = &c->rreqs[i];
		if (req->state == RREQ_POSTED && req->cts_rail == r &&
		    post_cts(c, i, cts_rail(c, req->seq)) != ncclSuccess)
			spark_comm_fail(c, ncclRemoteError);
	}
}

void spark_recv_shares(const struct spark_comm *c, struct spark_ctl_resend *out)
{
	uint64_t base = c->seq;
	for (uint32_t i = 0; i < SPARK_SLOTS; i++)
		if (c->rreqs[i].state == RREQ_POSTED && c->rreqs[i].seq < base)
			base = c->rreqs[i].seq;
	/* At most SPARK_SLOTS: base's receive holds its slot until done. */
	uint64_t n = c->seq - base;
	out->base = base;
	out->count = (uint32_t)(n < SPARK_SLOTS ? n : SPARK_SLOTS);
	uint8_t all = (uint8_t)((1u << c->nrails) - 1);
	for (uint32_t j = 0; j < out->count; j++) {
		const struct spark_recv_req *req = &c->rreqs[spark_slot_of(base + j)];
		bool open = req->state == RREQ_POSTED && req->seq == base + j;
		out->mask[j] = open ? (uint8_t)req->shares : all;
	}
}

const struct spark_wc_ops spark_recv_ops = {
	.imm = on_imm,
	.rail_lost = rail_lost,
	.ctl = spark_failback_ctl,
};

/* NCCL closes a recv comm once its receives are done, and may stop calling
 * it well before. A rail lost meanwhile leaves the sender holding the shares
 * it sent last until this side says which landed (RESEND, failback.c): one
 * last look at the ports and the frames answers a loss already seen or
 * told, so the peer's last sends complete instead of failing at our EOF. */
void spark_recv_last_look(struct spark_comm *c)
{
	if (c == NULL || c->failed != ncclSuccess || c->fd < 0)
		return;
	c->next_port_ns = 0;            /* due now, whatever the cadence */
	spark_port_tick(c);
	spark_peer_poll(c, spark_now_ns());
}
