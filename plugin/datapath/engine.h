/* The completion engine: a leaf below both directions. It posts chains and
 * receives, keeps the send-queue accounting, polls the CQs of the rails that
 * owe a completion, and hands each completion to its owner through the
 * comm's table (send.c or recv.c fills it). It notices a rail failing and
 * asks the owner to repair. It calls nothing above it. */
#ifndef SPARK_ENGINE_H
#define SPARK_ENGINE_H

#include "comm.h"

struct ibv_send_wr;

struct spark_wc_ops {
	/* send: rail `rail` completed the chain carrying share `share` of slot */
	void (*data_done)(struct spark_comm *c, uint32_t rail, uint32_t slot, uint32_t share);
	/* recv: an IMM arrived on `rail` (host order) */
	void (*imm)(struct spark_comm *c, uint32_t rail, uint32_t imm);
	/* rail r has left the comm: move what it owed onto the rails left */
	void (*rail_lost)(struct spark_comm *c, uint32_t r);
	/* after a poll that completed something (may be NULL) */
	void (*progress)(struct spark_comm *c);
};

void spark_engine_poll(struct spark_comm *c);
bool spark_rail_room(const struct spark_rail *r, uint32_t nwr);
/* Posts a chain on rail r; force_signal makes its last WR signaled. wr_id of
 * the last WR is set here (kind, slot, share, how many SQ entries it frees). */
ncclResult_t spark_rail_post(struct spark_comm *c, uint32_t r, struct ibv_send_wr *chain,
			     uint32_t nwr, enum spark_wr_kind kind, uint32_t slot, uint32_t share,
			     bool force_signal);
ncclResult_t spark_rail_post_recvs(struct spark_comm *c, uint32_t r, uint32_t count);
/* The comm fails with res unless it failed already (the first error sticks). */
void spark_comm_fail(struct spark_comm *c, ncclResult_t res);
/* One clock reading per poll: the first caller reads, the rest share it. */
uint64_t spark_engine_clock(struct spark_comm *c);

#endif
