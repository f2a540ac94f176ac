/* Comms and requests of the data path. One send comm or recv comm owns, per
 * rail it kept: a CQ and an RC QP on the HCA's shared context and PD
 * (devctx.h); the comm's engine (engine.c) polls those CQs. Requests live in
 * arrays inside the comm, allocated once at connect time: nothing is
 * allocated on the hot path. */
#ifndef SPARK_COMM_H
#define SPARK_COMM_H

#include <stdbool.h>
#include <stdint.h>

#include "hca.h"
#include "nccl/err.h"
#include "stripe.h"
#include "weights.h"
#include "wire.h"

struct ibv_context;
struct ibv_pd;
struct ibv_cq;
struct ibv_qp;
struct ibv_mr;
struct ibv_send_wr;
struct spark_devctx;
struct spark_mr_entry;

_Static_assert(SPARK_SLOTS <= 256, "the slot travels in 8 bits of the immediate");
_Static_assert(SPARK_MAX_RAILS <= SPARK_WIRE_MAX_RAILS, "rails fit the wire format");

/* Send-queue budget per QP. A sender chain is at most 2 WRs per buffer
 * (pieces are cut at 1 GiB) plus the closing WRITE_WITH_IMM. */
#define SPARK_MAX_WR_BYTES (1u << 30)
#define SPARK_MAX_CHAIN (2 * SPARK_MAX_RECVS + 1)
#define SPARK_SQ_DEPTH 512
#define SPARK_RQ_DEPTH SPARK_SLOTS
#define SPARK_CQ_DEPTH (SPARK_SQ_DEPTH + SPARK_RQ_DEPTH + 64)
#define SPARK_POLL_BATCH 16
#define SPARK_INLINE 64

struct spark_rail {
	bool up;                        /* kept for this connection */
	struct spark_hca hca;           /* copy; GID rescanned at connect */
	struct spark_devctx *dc;        /* the HCA's shared context and PD (a reference) */
	struct ibv_context *ctx;        /* dc's, borrowed */
	struct ibv_pd *pd;              /* dc's, borrowed */
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *ctl_mr;          /* FIFO (send) or record area (recv): peer writes */
	struct ibv_mr *src_mr;          /* local source of CTS entries (recv) */
	uint32_t psn;
	uint32_t max_inline;
	uint32_t sq_used;               /* WRs posted whose slot is not yet freed */
	uint32_t unsignaled;            /* of those, posted after the last signaled one */
	uint32_t signaled_inflight;     /* signaled WRs whose CQE is not polled yet */
	uint32_t peer_rkey;             /* peer's FIFO (recv) or record area (send) */
	uint64_t peer_addr;
	uint8_t peer_gid[16];
};

enum spark_req_kind { SPARK_REQ_SEND = 1, SPARK_REQ_RECV = 2 };

struct spark_comm;

/* Every request starts with this, so test() can tell them apart. */
struct spark_req_hdr {
	enum spark_req_kind kind;
	struct spark_comm *comm;
};

/* One regMr as NCCL sees it (mr.c). Its MRs are on the HCAs' shared PDs and
 * may be shared with other handles of the same range: valid on every comm
 * of device `dev` until deregMr (regIsGlobal), whatever was closed since. */
struct spark_mr_handle {
	int dev;
	struct ibv_mr *mr[SPARK_MAX_RAILS];           /* what the data path reads */
	struct spark_mr_entry *ent[SPARK_MAX_RAILS];  /* mr.c's cache entries */
};

/* One isend: entry i of a send slot. */
struct spark_send_req {
	struct spark_req_hdr hdr;
	bool owned;                     /* handed to NCCL and not yet reported done */
	uint32_t slot;
	int32_t size;                   /* bytes sent; < 0: -size did not fit */
	void *data;
	struct spark_mr_handle *mh;
};

enum spark_slot_state {
	SLOT_FREE = 0,
	SLOT_MATCHING,                  /* CTS read, isends still arriving */
	SLOT_READY,                     /* every isend matched, not posted yet */
	SLOT_POSTED,                    /* chains on the rails, IMMs not all completed */
	SLOT_DONE,
};

struct spark_send_slot {
	enum spark_slot_state state;
	uint64_t seq;
	uint32_t nreqs;
	uint32_t claimed;               /* entries matched by an isend (bit mask) */
	uint32_t rails_pending;         /* shares (by rail) not yet completed */
	uint32_t moved;                 /* shares re-sent on another rail after a failure */
	uint32_t lead;                  /* rail whose IMM carries the record */
	uint32_t used;                  /* rails the slot was striped over */
	struct spark_cts_entry cts[SPARK_MAX_RECVS];   /* copied out of the FIFO */
	struct spark_send_req req[SPARK_MAX_RECVS];
	struct spark_cmpl_record record;               /* what the IMM chain writes */
	uint64_t post_ns;
	uint64_t rail_bytes[SPARK_MAX_RAILS];
	/* Per-piece state kept for a future rail failover: what went where. */
	struct spark_stripe_piece piece[SPARK_MAX_RECVS][SPARK_MAX_RAILS];
	uint8_t npieces[SPARK_MAX_RECVS];
};

enum spark_rreq_state { RREQ_FREE = 0, RREQ_POSTED, RREQ_DONE };

struct spark_recv_req {
	struct spark_req_hdr hdr;
	enum spark_rreq_state state;
	uint64_t seq;
	uint32_t n;
	uint32_t shares;                        /* rails' shares delivered (bit mask) */
	uint32_t cts_rail;                      /* where its CTS went */
	int32_t sizes[SPARK_MAX_RECVS];         /* from the record */
	int64_t posted[SPARK_MAX_RECVS];
	int tags[SPARK_MAX_RECVS];
};

enum spark_comm_kind { SPARK_COMM_SEND = 1, SPARK_COMM_RECV = 2 };

struct spark_chains;   /* p2p.c */
size_t spark_chains_size(void);

struct spark_comm {
	enum spark_comm_kind kind;
	int dev;
	uint32_t nrails;                /* rails of the device (array length) */
	uint32_t up_mask;               /* rails kept and not failed */
	uint32_t failed_mask;           /* rails dropped after a failure */
	struct spark_rail rail[SPARK_MAX_RAILS];
	int fd;                         /* bootstrap socket, kept open while the comm lives */
	ncclResult_t failed;            /* sticky: first error seen by the engine */
	uint64_t seq;                   /* next CTS seq (recv: to post; send: to match) */
	uint64_t post_seq;              /* send: next slot to put on the wire */
	uint32_t small_rail;            /* send: where the next small message goes */
	uint32_t recvs_posted;          /* recv: requests waiting for their IMMs */
	uint64_t next_peer_check_ns;    /* peer.c: when to look at the socket again */
	uint64_t peer_gone_ns;          /* when the peer's socket closed; 0 = open */
	/* Registered control areas, one allocation each. */
	void *ctl;                      /* send: FIFO[SLOTS][MAX_RECVS]; recv: records[SLOTS] */
	void *src;                      /* recv: CTS shadow FIFO[SLOTS][MAX_RECVS] */
	struct spark_stripe_policy policy;
	struct spark_weights weights;
	struct spark_chains *chains;    /* send: WRs being built for one slot */
	union {
		struct spark_send_slot *slots;  /* send: [SLOTS] */
		struct spark_recv_req *rreqs;   /* recv: [SLOTS] */
	};
};

#define SPARK_CTL_SIZE_SEND ((size_t)SPARK_SLOTS * SPARK_MAX_RECVS * sizeof(struct spark_cts_entry))
#define SPARK_CTL_SIZE_RECV ((size_t)SPARK_SLOTS * sizeof(struct spark_cmpl_record))

static inline uint32_t spark_slot_of(uint64_t seq) { return (uint32_t)(seq % SPARK_SLOTS); }

/* NCCL never passes a NULL comm or request; a caller that does gets a WARN
 * and ncclInternalError instead of a crash. */
#define SPARK_NOT_NULL(ptr, what)                                          \
	do {                                                               \
		if ((ptr) == NULL) {                                       \
			SPARK_WARN("%s: NULL %s", __func__, what);         \
			return ncclInternalError;                          \
		}                                                          \
	} while (0)

/* rail.c: verbs objects of one rail. */
ncclResult_t spark_rail_open(struct spark_rail *r, const struct spark_hca *hca, void *ctl,
			     size_t ctl_len, void *src, size_t src_len);
ncclResult_t spark_rail_connect(struct spark_rail *r, const struct spark_rail_info *peer);
void spark_rail_describe(const struct spark_rail *r, struct spark_rail_info *out);
void spark_rail_close(struct spark_rail *r);
bool spark_rails_reach(const struct spark_rail_info *a, const struct spark_rail_info *b);

/* comm.c: allocation and teardown of a whole comm. */
ncclResult_t spark_comm_alloc(enum spark_comm_kind kind, int dev, struct spark_comm **out);
void spark_comm_free(struct spark_comm *c);

/* engine.c */
void spark_engine_poll(struct spark_comm *c);
bool spark_rail_room(const struct spark_rail *r, uint32_t nwr);
/* Posts a chain on rail r; force_signal makes its last WR signaled. wr_id of
 * the last WR is set here (kind, slot, how many SQ entries it frees). */
ncclResult_t spark_rail_post(struct spark_comm *c, uint32_t r, struct ibv_send_wr *chain,
			     uint32_t nwr, enum spark_wr_kind kind, uint32_t slot, uint32_t share,
			     bool force_signal);
ncclResult_t spark_rail_post_recvs(struct spark_comm *c, uint32_t r, uint32_t count);
uint64_t spark_now_ns(void);

/* peer.c: a peer that died while we wait is an error within seconds. */
void spark_peer_check(struct spark_comm *c);
#define SPARK_PEER_CHECK_NS 100000000ull     /* look at the socket every 100 ms */
#define SPARK_PEER_GRACE_NS 2000000000ull    /* then wait this long for stragglers */

/* p2p.c, called by the engine */
void spark_send_chain_done(struct spark_comm *c, uint32_t rail, uint32_t slot, uint32_t share);
ncclResult_t spark_post_cts(struct spark_comm *c, uint32_t slot, uint32_t r);
uint32_t spark_cts_rail(const struct spark_comm *c, uint64_t seq);
/* failover.c: true when a failed completion was a rail failing and the comm
 * carries on over the other rails. */
bool spark_rail_failover(struct spark_comm *c, uint32_t r, int wc_status);
void spark_resend_share(struct spark_comm *c, struct spark_send_slot *s, uint32_t share);
void spark_recv_imm(struct spark_comm *c, uint32_t rail, uint32_t imm_host);
void spark_send_progress(struct spark_comm *c);

#endif
