/* The completion engine: a leaf below both directions. It posts chains and
 * receives, keeps the send-queue accounting, polls the CQs of the rails that
 * owe a completion, and hands each completion to its owner through the
 * comm's table (send.c or recv.c fills it). It notices a rail failing and
 * asks the owner to repair. It calls nothing above it. */
#ifndef SPARK_ENGINE_H
#define SPARK_ENGINE_H

#include <infiniband/verbs.h>

#include "comm.h"

struct spark_wc_ops {
	/* send: rail `rail` completed the chain carrying share `share` of slot */
	void (*data_done)(struct spark_comm *c, uint32_t rail, uint32_t slot, uint32_t share);
	/* recv: an IMM arrived on `rail` (host order) */
	void (*imm)(struct spark_comm *c, uint32_t rail, uint32_t imm);
	/* rail r has left the comm: move what it owed onto the rails left */
	void (*rail_lost)(struct spark_comm *c, uint32_t r);
	/* after a poll that completed something (may be NULL) */
	void (*progress)(struct spark_comm *c);
	/* a control frame peer.c does not handle itself (RAIL_DOWN, REJOIN*),
	 * already decoded and checked; NULL: WARN and ignored */
	void (*ctl)(struct spark_comm *c, const struct spark_ctl *f);
};

/* True when the poll completed something (progress). */
bool spark_engine_poll(struct spark_comm *c);
static inline bool spark_rail_room(const struct spark_rail *r, uint32_t nwr)
{
	return r->sq_used + nwr <= SPARK_SQ_DEPTH;
}

/* Warns and fails the comm after ibv_post_send returned rc. */
ncclResult_t spark_rail_post_failed(struct spark_comm *c, uint32_t r, uint32_t nwr, int rc);

/* Posts a chain on rail r; force_signal makes its last WR signaled. wr_id of
 * every WR is set here (kind, slot, share, how many SQ entries it frees).
 * Inline: every post of the hot path passes constants for most arguments. */
static inline ncclResult_t spark_rail_post(struct spark_comm *c, uint32_t r,
					   struct ibv_send_wr *chain, uint32_t nwr,
					   enum spark_wr_kind kind, uint32_t slot, uint32_t share,
					   bool force_signal)
{
	struct spark_rail *rail = &c->rail[r];
	bool signal = force_signal || rail->unsignaled + nwr >= SPARK_SQ_DEPTH / 2;
	/* Only the last WR frees SQ entries: a QP in error flushes every WR,
	 * signaled or not, each with its own CQE, and a chain whose every WR
	 * carried the count would free it once per WR. */
	struct spark_wr_id id = {kind, r, slot, 0, share};
	uint64_t wr_id_mid = spark_wr_id_encode(&id);
	id.released = signal ? rail->unsignaled + nwr : 0;
	uint64_t wr_id = spark_wr_id_encode(&id);
	for (uint32_t i = 0; i + 1 < nwr; i++) {
		chain[i].next = &chain[i + 1];
		chain[i].wr_id = wr_id_mid;
	}
	chain[nwr - 1].next = NULL;
	chain[nwr - 1].wr_id = wr_id;
	if (signal)
		chain[nwr - 1].send_flags |= IBV_SEND_SIGNALED;
	struct ibv_send_wr *bad = NULL;
	int rc = ibv_post_send(rail->qp, chain, &bad);
	if (rc != 0)
		return spark_rail_post_failed(c, r, nwr, rc);
	rail->sq_used += nwr;
	rail->unsignaled = signal ? 0 : rail->unsignaled + nwr;
	rail->signaled_inflight += signal;
	return ncclSuccess;
}

ncclResult_t spark_rail_post_recvs(struct spark_comm *c, uint32_t r, uint32_t count);
/* Rail r leaves the comm for `cause` (static text, for the WARN): its QP to
 * ERR, what had completed on it still counted, then the owner's rail_lost.
 * True when the comm carries on; false when r was its last rail (the comm
 * has failed, with a WARN naming every rail) or the comm had failed. */
bool spark_rail_fail(struct spark_comm *c, uint32_t r, const char *cause);
/* The comm fails with res unless it failed already (the first error sticks).
 * The reason (may be NULL) goes to the peer in a FAILED frame (peer.c). */
void spark_comm_fail(struct spark_comm *c, ncclResult_t res);
void spark_comm_fail_why(struct spark_comm *c, ncclResult_t res, const char *reason);
/* One clock reading per poll: the first caller reads, the rest share it. */
static inline uint64_t spark_engine_clock(struct spark_comm *c)
{
	if (c->clock_ns == 0)
		c->clock_ns = spark_now_ns();
	return c->clock_ns;
}

#endif
