/* The layout of a comm, shared by connection set-up (plugin/connect: rails,
 * allocation) and the data path. One send comm or recv comm owns, per rail
 * it kept: a CQ and an RC QP on the HCA's shared context and PD (devctx.h).
 * Requests live in arrays inside the comm, allocated once at connect time:
 * nothing is allocated on the hot path. What each direction keeps per
 * request is in send.h and recv.h. */
#ifndef SPARK_COMM_H
#define SPARK_COMM_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "ctl_rx.h"
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
struct spark_devctx;
struct spark_mr_entry;

_Static_assert(SPARK_MAX_RAILS <= SPARK_WIRE_MAX_RAILS, "rails fit the wire format");
_Static_assert(SPARK_MAX_RAILS <= SPARK_STRIPE_MAX_RAILS, "rails fit the planner");

/* Send-queue budget per QP. A sender chain is at most 2 WRs per buffer
 * (pieces are cut at 1 GiB) plus the record's WRITE_WITH_IMM. */
#define SPARK_MAX_WR_BYTES (1u << 30)
#define SPARK_MAX_CHAIN (2 * SPARK_MAX_RECVS + 1)
#define SPARK_SQ_DEPTH 512
/* Receives for IMMs: at most one per slot per rail in flight, plus re-sent
 * shares after a failure; re-posted SPARK_RQ_BATCH at a time. */
#define SPARK_RQ_DEPTH 256
#define SPARK_RQ_BATCH 32
#define SPARK_CQ_DEPTH (SPARK_SQ_DEPTH + SPARK_RQ_DEPTH + 64)
#define SPARK_POLL_BATCH 16
#define SPARK_INLINE 64

/* A failed rail's way back (failback.c). The sender (connector) leads:
 * fresh QP, REJOIN, wait for REJOIN_ACK, connect, REJOIN_DONE, re-admit. */
enum spark_rejoin_step {
	REJOIN_IDLE = 0,                /* up, or down and waiting for its port */
	REJOIN_SENT,                    /* send: REJOIN sent, waiting for ACK/NAK */
	REJOIN_ACKED,                   /* recv: ACK sent, waiting for DONE */
};

struct spark_rejoin {
	enum spark_rejoin_step step;
	uint32_t epoch;                 /* of the last REJOIN sent (send) or taken (recv) */
	uint32_t conn_epoch;            /* of the QP pair connected now (0: from the handshake) */
	uint32_t tries;                 /* NAKs since the rail left */
	uint64_t retry_ns;              /* send: no attempt before this */
	uint64_t sent_ns;               /* send: when the REJOIN went (an answer is due) */
	struct ibv_qp *old_qp;          /* the failed QP (in ERR) and its CQ, destroyed */
	struct ibv_cq *old_cq;          /* when the fresh ones are connected */
};

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
	uint32_t rq_consumed;           /* receives used up, not yet re-posted */
	/* recv: the CTS write's WR, its fixed fields written on first use
	 * (recv.c, post_cts), the rest per post: no zeroing per message. */
	struct ibv_send_wr cts_wr;
	struct ibv_sge cts_sge;
	uint8_t peer_rail;              /* the peer's index of the rail this one reaches:
					 * keys in a CTS entry and the IMM's share use it */
	uint32_t peer_rkey;             /* peer's FIFO (recv) or record area (send) */
	uint64_t peer_addr;
	uint8_t peer_gid[16];
	/* Port watch and failback (failback.c). */
	uint8_t gid[16];                /* local GID the QP was connected with */
	uint32_t port_gen_seen;         /* the port's event generation last looked at */
	uint32_t port_errs_seen;        /* its PORT_ERR count when the QP was connected */
	const char *lost_cause;         /* why the rail left (static text); NULL while up */
	struct spark_rejoin rejoin;
	/* Send: the rail was lost and its shares in flight wait for the
	 * receiver's RESEND (which of them landed); no rejoin meanwhile. */
	bool verdict_pending;
	uint32_t verdict_epoch;         /* conn_epoch of the QP pair that was lost */
	uint64_t verdict_ns;            /* when it was lost */
};

/* Unlikely words rather than 1 and 2: test() tells a request from a pointer
 * to anything else by this first field before trusting the rest. */
enum spark_req_kind { SPARK_REQ_SEND = 0x53505253 /* "SPRS" */, SPARK_REQ_RECV = 0x53505252 };

struct spark_comm;

/* Every request starts with this, so test() can tell them apart. */
struct spark_req_hdr {
	enum spark_req_kind kind;
	struct spark_comm *comm;
};

/* One regMr as NCCL sees it (mr.c). Its MRs are on the HCAs' shared PDs and
 * may be shared with other handles of the same range: valid on every comm
 * of device `dev` until deregMr (regIsGlobal), whatever was closed since.
 * isend/irecv check a handle inline (spark_mr_usable) before reading its
 * MRs: mr.c keeps handles in slabs never returned to malloc while the
 * library is loaded, so a deregistered handle is still readable memory whose
 * tag says SPARK_MR_DEAD. */
#define SPARK_MR_LIVE 0x53504d524c490000ull   /* "SPMRLI" + device (spark_mr_tag) */
#define SPARK_MR_DEAD 0x53504d5244454144ull   /* "SPMRDEAD" */
static inline uint64_t spark_mr_tag(int dev) { return SPARK_MR_LIVE + (uint16_t)dev; }
struct spark_mr_handle {
	uint64_t tag;                   /* spark_mr_tag(dev) from regMr to deregMr */
	uintptr_t lo, len;              /* pages the MRs cover: what their lkeys accept */
	int dev;
	struct ibv_mr *mr[SPARK_MAX_RAILS];           /* what the data path reads */
	struct spark_mr_entry *ent[SPARK_MAX_RAILS];  /* mr.c's cache entries */
};

/* A handle isend/irecv may use for [data, data + size): live and of this
 * device (one tag compare), covering the bytes. A few compares, no lock: the
 * hot path's check. */
static inline bool spark_mr_usable(const struct spark_mr_handle *mh, int dev, const void *data,
				   uint64_t size)
{
	if (mh == NULL)
		return false;
	uintptr_t off = (uintptr_t)data - mh->lo;   /* wraps when data < lo */
	return (mh->tag == spark_mr_tag(dev)) & (off <= mh->len) & (size <= mh->len - off);
}

enum spark_comm_kind { SPARK_COMM_SEND = 1, SPARK_COMM_RECV = 2 };

struct spark_chains;            /* send.c: WRs being built for one slot */
struct spark_send_slot;         /* send.h */
struct spark_recv_req;          /* recv.h */
struct spark_wc_ops;            /* engine.h: who owns which completion */

/* Control frames on the comm's bootstrap socket (ctl_send.c writes, peer.c
 * reads). The heartbeat thread and the data path both write: one frame at a
 * time under tx_lock, a frame the socket took only in part finished before
 * the next. Reading is the data path's alone. */
struct spark_ctl_chan {
	pthread_mutex_t tx_lock;
	uint64_t tx_seq;                /* frames begun on the socket (tx_lock) */
	uint8_t tx_buf[SPARK_CTL_SIZE]; /* the frame being written (tx_lock) */
	uint32_t tx_off, tx_len;        /* its bytes written, its length; equal: none */
	struct spark_ctl_rx rx;         /* frames decoded, a frame read in part */
	bool told_failed;               /* FAILED sent, or the failure came from the peer */
	bool heartbeat;                 /* registered with the heartbeat thread */
	char fail_reason[SPARK_REASON_LEN];  /* why the comm failed, for the peer */
};

struct spark_comm {
	enum spark_comm_kind kind;
	int dev;
	uint32_t nrails;                /* rails of the device (array length) */
	uint32_t up_mask;               /* rails kept and not failed */
	uint32_t failed_mask;           /* rails dropped after a failure */
	struct spark_rail rail[SPARK_MAX_RAILS];
	const struct spark_wc_ops *ops; /* the direction's completion handlers */
	int fd;                         /* bootstrap socket, kept open while the comm lives */
	ncclResult_t failed;            /* sticky: first error seen by the engine */
	uint64_t seq;                   /* next CTS seq (recv: to post; send: to match) */
	uint64_t post_seq;              /* send: next slot to put on the wire */
	uint32_t small_rail;            /* send: first candidate among equal rails */
	uint32_t recvs_posted;          /* recv: requests waiting for their IMMs */
	uint64_t queued[SPARK_MAX_RAILS];   /* send: bytes posted, not completed */
	uint32_t rail_chains[SPARK_MAX_RAILS];  /* send: data chains posted, not completed */
	uint64_t clock_ns;              /* engine: this poll's clock reading; 0 = none yet */
	uint32_t weight_updates;        /* send: weights.updates the policy last copied */
	uint64_t next_peer_check_ns;    /* peer.c: when to look at the socket again */
	uint32_t peer_busy_polls;       /* peer.h: polls with progress since the last check */
	uint64_t peer_gone_ns;          /* when the peer's socket closed; 0 = open */
	uint32_t port_polls;            /* failback.h: idle polls since the last port look */
	uint64_t next_port_ns;          /* failback.c: when to drain the port events again */
	uint64_t peer_seen_ns;          /* last control frame from the peer; 0 = not live yet */
	struct spark_ctl_chan ctl_chan;
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
	bool dup_warned;                /* recv: a share that came twice was WARNed */
};

#define SPARK_CTL_SIZE_SEND ((size_t)SPARK_SLOTS * SPARK_MAX_RECVS * sizeof(struct spark_cts_entry))
#define SPARK_CTL_SIZE_RECV ((size_t)SPARK_SLOTS * sizeof(struct spark_cmpl_record))

static inline uint32_t spark_slot_of(uint64_t seq) { return (uint32_t)(seq % SPARK_SLOTS); }

/* Bits set in a small mask (rails, buffers): a loop per bit, where
 * __builtin_popcount becomes a libgcc call on baseline x86-64. */
static inline uint32_t spark_bits(uint32_t m)
{
	uint32_t n = 0;
	for (; m != 0; m &= m - 1)
		n++;
	return n;
}

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
/* Failback: a fresh CQ and QP (INIT) for a failed rail, GID rescanned; the
 * failed pair is parked until spark_rail_retire_old. */
ncclResult_t spark_rail_renew(struct spark_rail *r);
void spark_rail_retire_old(struct spark_rail *r);

/* engine.c: CLOCK_MONOTONIC in ns (set-up uses it too). */
uint64_t spark_now_ns(void);

/* comm.c: allocation and teardown of a whole comm. */
ncclResult_t spark_comm_alloc(enum spark_comm_kind kind, int dev, struct spark_comm **out);
void spark_comm_free(struct spark_comm *c);

#endif
