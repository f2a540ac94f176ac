/* The send side: isend reads the receiver's clear-to-send entries out of the
 * FIFO, matches them by tag, plans each message over the rails (stripe.c),
 * posts one chain per rail used, and completes the request when every chain
 * is acknowledged; after a rail failure it re-sends that rail's pieces the
 * receiver says it lacks. */
#ifndef SPARK_SEND_H
#define SPARK_SEND_H

#include "comm.h"
#include "engine.h"

/* One isend: entry i of a send slot. */
struct spark_send_req {
	struct spark_req_hdr hdr;
	uint32_t slot;
	uint32_t idx;                   /* its entry in the slot (set when handed out) */
	int32_t size;                   /* bytes sent; < 0: -size did not fit */
	void *data;
	struct spark_mr_handle *mh;
};

enum spark_slot_state {
	SLOT_FREE = 0,
	SLOT_MATCHING,                  /* CTS read, isends still arriving */
	SLOT_READY,                     /* every isend matched, not posted yet */
	SLOT_POSTED,                    /* chains on the rails, not all acknowledged */
	SLOT_DONE,
};

struct spark_send_slot {
	enum spark_slot_state state;
	uint32_t nreqs;
	uint64_t seq;
	uint32_t claimed;               /* entries matched by an isend (bit mask) */
	uint32_t owned;                 /* entries handed to NCCL, not yet reported done */
	uint32_t rails_pending;         /* shares (by rail) not yet acknowledged */
	uint32_t moved;                 /* shares re-sent on another rail after a failure */
	uint8_t moved_to[SPARK_MAX_RAILS];     /* the rail each moved share went to */
	uint32_t used;                  /* rails the slot went over */
	uint32_t lead;                  /* rail whose IMM carries the record */
	bool record;                    /* sizes travel in the record, not the IMM */
	uint64_t post_ns[SPARK_MAX_RAILS];     /* 0: the rail was busy when posted */
	uint64_t rail_bytes[SPARK_MAX_RAILS];
	struct spark_cts_entry cts[SPARK_MAX_RECVS];   /* copied out of the FIFO */
	struct spark_send_req req[SPARK_MAX_RECVS];
	struct spark_cmpl_record rec;                  /* what the record IMM writes */
	/* What went where, for re-sending a failed rail's part. */
	struct spark_stripe_piece piece[SPARK_MAX_RECVS][SPARK_MAX_RAILS];
	uint8_t npieces[SPARK_MAX_RECVS];
};

extern const struct spark_wc_ops spark_send_ops;
size_t spark_chains_size(void);
ncclResult_t spark_send_test(struct spark_send_req *req, int *done, int *sizes);
/* The receiver's RESEND about lost rail r (failback.c checked it is the one
 * awaited): settles the shares it has, re-sends the others on a survivor. */
void spark_send_verdict(struct spark_comm *c, uint32_t r, const struct spark_ctl_resend *v);

#endif
