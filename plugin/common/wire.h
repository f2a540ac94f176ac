/* Everything that crosses the wire between two plugin instances, with its
 * exact layout: the listen handle, the TCP handshake messages, the CTS FIFO
 * entry, the completion record, the immediate value and the wr_id. Pure:
 * encode, and decode that validates every field and says what is wrong.
 * Layouts and the reasoning behind them are in docs/design.md. */
#ifndef SPARK_WIRE_H
#define SPARK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spark_limits.h"

/* 3: the REPLY names, per kept rail, the connector's rail it pairs with
 * (rails are matched by subnet, not by position).
 * 4: after a rail loss the sender re-sends only what the receiver's RESEND
 * control frame says it lacks; a version-3 peer would never send one (its
 * sender would re-send blindly), so the two are refused at connect. */
#define SPARK_WIRE_VERSION 4
#define SPARK_WIRE_MAX_RAILS 4          /* on the wire; a device uses SPARK_MAX_RAILS */
#define SPARK_HANDLE_SIZE 128           /* NCCL_NET_HANDLE_MAXSIZE */
#define SPARK_REASON_LEN 160

/* Slots of the CTS FIFO and of the completion records. NCCL keeps at most
 * 32 receives (each up to 8 buffers) and 32 x 8 sends in flight per comm, so
 * 64 slots leave a slot's previous use long finished (checked anyway: the
 * call then asks NCCL to retry). 64 = 6 bits of the immediate. */
#define SPARK_SLOTS 64

/* ---- listen handle (opaque to NCCL, copied to the peer) ---- */
struct spark_handle {
	uint16_t family;                /* AF_INET or AF_INET6 */
	uint16_t port;                  /* host order */
	uint8_t addr[16];               /* IPv4 in the first 4 bytes, or IPv6 */
	uint64_t nonce;                 /* random; the accepted HELLO must carry it */
	uint8_t nrails;                 /* rails of the listening device */
};

/* Bytes [0, SPARK_HANDLE_PUBLIC) are what listen wrote; the rest is the
 * connector's own scratch space (NCCL re-calls connect with the same buffer). */
#define SPARK_HANDLE_PUBLIC 64
#define SPARK_HANDLE_STAGE_OFF 64

void spark_handle_encode(const struct spark_handle *h, uint8_t out[SPARK_HANDLE_SIZE]);
int spark_handle_decode(const uint8_t in[SPARK_HANDLE_SIZE], struct spark_handle *h,
			char *reason, int len);

/* ---- TCP handshake: HELLO (connector), REPLY (acceptor), READY (connector) ---- */
enum spark_msg_kind { SPARK_MSG_HELLO = 1, SPARK_MSG_REPLY = 2, SPARK_MSG_READY = 3 };

struct spark_rail_info {
	char name[SPARK_NAME_LEN];      /* HCA name, NUL-terminated */
	uint8_t gid[16];
	uint32_t ipv4;                  /* from the GID, host order; 0 if not IPv4 */
	uint32_t prefix;                /* subnet prefix length */
	uint32_t qpn;                   /* 24 bits */
	uint32_t psn;                   /* 24 bits */
	uint32_t mtu;                   /* bytes: 256..4096, a power of two */
	uint32_t rkey;                  /* HELLO: CTS FIFO; REPLY: completion records */
	uint64_t addr;                  /* same, address */
};

struct spark_conn_msg {
	enum spark_msg_kind kind;
	uint64_t nonce;
	uint32_t nrails;                /* rails described */
	/* REPLY: the acceptor's rails kept for this connection, and for each
	 * kept rail i the connector's rail it pairs with (the one on its
	 * subnet). A REPLY with mask 0 is a refusal (no rail reaches) and
	 * describes every rail, so the connector can say which. HELLO, READY:
	 * both 0. */
	uint32_t rail_mask;
	uint8_t peer_rail[SPARK_WIRE_MAX_RAILS];
	struct spark_rail_info rail[SPARK_WIRE_MAX_RAILS];
};

#define SPARK_RAIL_INFO_SIZE (SPARK_NAME_LEN + 48)
#define SPARK_MSG_SIZE (32 + SPARK_WIRE_MAX_RAILS * SPARK_RAIL_INFO_SIZE)

void spark_msg_encode(const struct spark_conn_msg *m, uint8_t out[SPARK_MSG_SIZE]);
/* Checks magic, version, byte order, kind, nonce, the mask and pairing (a
 * REPLY pairs each kept rail with a distinct connector rail) and every rail
 * field. */
int spark_msg_decode(const uint8_t in[SPARK_MSG_SIZE], enum spark_msg_kind want,
		     uint64_t nonce, struct spark_conn_msg *m, char *reason, int len);

/* One rail's description as the handshake encodes it (also in control
 * frames, ctl.h); decode checks every field, `i` names the rail in the reason. */
void spark_rail_info_encode(const struct spark_rail_info *r, uint8_t *out);
int spark_rail_info_decode(const uint8_t *in, uint32_t i,
			   struct spark_rail_info *r, char *reason, int len);

/* ---- CTS FIFO entry: the receiver RDMA-writes it into the sender's FIFO ----
 * Host byte order (the handshake checks both ends share it). seq is the last
 * field and is written last (the FIFO is registered without relaxed ordering,
 * so the NIC lands the entry's bytes in order); the sender reads it with
 * acquire before anything else. */
struct spark_cts_entry {
	uint64_t addr;
	uint64_t size;                  /* bytes posted */
	uint32_t rkey[SPARK_WIRE_MAX_RAILS];   /* by the receiver's rail index */
	int32_t tag;
	uint32_t nreqs;                 /* buffers in this receive (1..8) */
	uint64_t reserved[2];
	uint64_t seq;                   /* receive sequence number + 1; 0 = never written */
} __attribute__((aligned(64)));

/* ---- completion record: grouped receives (n > 1), sizes that do not fit
 * the immediate, and sizes the receiver must be told were refused ----
 * The sender writes it inline as the payload of one rail's WRITE_WITH_IMM.
 * sizes[i] >= 0: bytes sent into buffer i; < 0: the sender's message of
 * -sizes[i] bytes did not fit the posted buffer (nothing was written). */
struct spark_cmpl_record {
	int32_t sizes[SPARK_MAX_RECVS];
	uint32_t nreqs;
	uint32_t reserved[5];
	uint64_t seq;                   /* matches the CTS entry's seq */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct spark_cts_entry) == 64, "CTS entry is one 64-byte line");
_Static_assert(sizeof(struct spark_cmpl_record) == 64, "record is one 64-byte line");

/* ---- immediate value of the WRITE_WITH_IMM closing one rail's share ----
 * slot (6 bits) | share (1 bit) | shares - 1 (1 bit) | size (24 bits), sent
 * big-endian. One buffer of at most SPARK_IMM_SIZE_MAX bytes: the size rides
 * here and no record is written (NCCL's IB transport does the same). The
 * value SPARK_IMM_IN_RECORD says "read the record". `share` names the rail
 * whose part of the slot this IMM closes, in the receiver's numbering (the
 * receiver's rail at the other end of the sender's rail it was planned on:
 * rails are paired by subnet, not position), so the receiver counts shares,
 * not arrivals: a share re-sent on another rail after a failure counts once. */
struct spark_imm {
	uint32_t slot;          /* 0..SPARK_SLOTS-1 */
	uint32_t share;         /* 0..1 */
	uint32_t nshares;       /* 1..2 */
	uint32_t size;          /* bytes, or SPARK_IMM_IN_RECORD */
};
#define SPARK_IMM_IN_RECORD 0xffffffu
#define SPARK_IMM_SIZE_MAX (SPARK_IMM_IN_RECORD - 1)
_Static_assert(SPARK_SLOTS == 64, "the slot travels in 6 bits of the immediate");
_Static_assert(SPARK_MAX_RAILS <= 2, "share and share count travel in 1 bit each");
/* Inline: the data path encodes one per message. */
static inline uint32_t spark_imm_encode(const struct spark_imm *imm)
{
	return (imm->slot & 0x3fu) | (imm->share & 1u) << 6 | ((imm->nshares - 1) & 1u) << 7 |
	       (imm->size & SPARK_IMM_IN_RECORD) << 8;
}

static inline void spark_imm_decode(uint32_t v, struct spark_imm *imm)
{
	imm->slot = v & 0x3fu;
	imm->share = (v >> 6) & 1u;
	imm->nshares = ((v >> 7) & 1u) + 1;
	imm->size = v >> 8;
}
/* The size field for one buffer of `size` bytes (< 0: refused). */
static inline uint32_t spark_imm_size_field(int64_t size)
{
	return size >= 0 && size <= (int64_t)SPARK_IMM_SIZE_MAX ? (uint32_t)size
								 : SPARK_IMM_IN_RECORD;
}

/* ---- range checks of what the peer wrote into our memory ----
 * Pure functions over the wire structs (the fuzzer drives them directly);
 * inline, as the data path runs them once per message. Each returns true
 * when every field is in range, else false with `f` naming the first field
 * that is not, its value and the bound it broke. The caller WARNs
 * (spark_wire_fault_str) and fails the comm with ncclRemoteError: nothing
 * the peer writes can make the plugin write outside a posted buffer, read
 * outside its own arrays, or report a size larger than what was posted. */
struct spark_wire_fault {
	const char *field;      /* "cts[2].rkey[1]" style names: the struct and field */
	int index;              /* entry / buffer / rail index the field belongs to; -1: none */
	const char *rule;       /* "!=", "<=", "==", ">=", "<": against bound; else a
				 * sentence on its own (value printed, bound not) */
	uint64_t value;
	uint64_t bound;
};

static inline bool spark_wire_fail(struct spark_wire_fault *f, const char *field, int index,
				   const char *rule, uint64_t value, uint64_t bound)
{
	*f = (struct spark_wire_fault){field, index, rule, value, bound};
	return false;
}

/* What a CTS entry's seq says, read before anything else of the entry.
 * Entry 0 of a receive is written by every use of its slot, so before this
 * receive's write lands it holds the previous use's seq (want - SLOTS) or 0.
 * Entry i > 0 may hold any older use's seq (an older receive of that slot
 * had more buffers) or 0. Anything else (a later seq, a seq of another slot)
 * no correct peer writes. */
enum spark_cts_seq { SPARK_CTS_PENDING, SPARK_CTS_LANDED, SPARK_CTS_BAD };
static inline enum spark_cts_seq spark_cts_seq_state(uint64_t got, uint64_t want, uint32_t entry)
{
	if (got == want)
		return SPARK_CTS_LANDED;
	if (entry == 0)
		return got == (want > SPARK_SLOTS ? want - SPARK_SLOTS : 0) ? SPARK_CTS_PENDING
									   : SPARK_CTS_BAD;
	return got == 0 || (got < want && (want - got) % SPARK_SLOTS == 0) ? SPARK_CTS_PENDING
									     : SPARK_CTS_BAD;
}

/* The n entries of one receive, copied out of the FIFO once every seq
 * landed: e[0].nreqs in 1..SPARK_MAX_RECVS, and for each entry the same
 * seq and nreqs; a buffer the sender may write (size > 0) has a non-zero
 * addr, addr + size does not wrap, and a non-zero rkey for every rail in
 * key_rails (the rkey indices the sender may post on; any beyond the wire's
 * SPARK_WIRE_MAX_RAILS is a fault; 0 when the caller checks each rkey where
 * it posts, as send.c does). A tag is any int: it is only matched.
 * spark_cts_ok is the data path's form, the same answer without naming the
 * fault (test_wire.c holds the two to the same answers); spark_cts_check
 * names the fault. */
static inline bool spark_cts_keys_missing(const struct spark_cts_entry *x, uint32_t key_rails)
{
	if (key_rails == 0)
		return false;   /* folds away where the caller checks keys at post time */
	bool missing = (key_rails >> SPARK_WIRE_MAX_RAILS) != 0;
	for (uint32_t r = 0; r < SPARK_WIRE_MAX_RAILS; r++)
		missing |= ((key_rails >> r) & 1u) & (x->rkey[r] == 0);
	return missing;
}

static inline bool spark_cts_entry_ok(const struct spark_cts_entry *x, uint64_t seq, uint32_t n,
				      uint32_t key_rails)
{
	if (x->seq != seq || x->nreqs != n)
		return false;
	return x->size == 0 || (x->addr != 0 && x->size <= UINT64_MAX - x->addr &&
				!spark_cts_keys_missing(x, key_rails));
}

static inline bool spark_cts_ok(const struct spark_cts_entry *e, uint64_t seq, uint32_t key_rails)
{
	uint32_t n = e[0].nreqs;
	if (n - 1u >= SPARK_MAX_RECVS || !spark_cts_entry_ok(&e[0], seq, n, key_rails))
		return false;
	for (uint32_t i = 1; i < n; i++)
		if (!spark_cts_entry_ok(&e[i], seq, n, key_rails))
			return false;
	return true;
}
bool spark_cts_check(const struct spark_cts_entry *e, uint64_t seq, uint32_t key_rails,
		     struct spark_wire_fault *f);

/* The completion record of the receive `seq` with nbufs buffers, copied out
 * of records[slot] once every share's IMM was polled: the same seq and
 * nreqs, and each size at most what was posted for that buffer (a negative
 * size is a refused message of -size bytes; INT32_MIN has no negation). */
static inline bool spark_record_check(const struct spark_cmpl_record *rec, uint64_t seq,
				      uint32_t nbufs, const int64_t *posted,
				      struct spark_wire_fault *f)
{
	if (rec->seq != seq)
		return spark_wire_fail(f, "record.seq", -1, "==", rec->seq, seq);
	if (rec->nreqs != nbufs)
		return spark_wire_fail(f, "record.nreqs", -1, "==", rec->nreqs, nbufs);
	for (uint32_t i = 0; i < nbufs && i < SPARK_MAX_RECVS; i++) {
		int32_t s = rec->sizes[i];
		if (s == INT32_MIN)
			return spark_wire_fail(f, "record.sizes", (int)i,
					       "is INT32_MIN, which has no negation", 0, 0);
		if (s > posted[i])
			return spark_wire_fail(f, "record.sizes", (int)i, "<=", (uint64_t)s,
					       (uint64_t)posted[i]);
	}
	return true;
}

/* What the receiver holds for the slot an IMM names. */
struct spark_imm_expect {
	uint32_t nrails;        /* rails of the comm */
	uint32_t nbufs;         /* buffers of the receive outstanding in the slot; 0: none */
	int64_t posted;         /* bytes posted for its buffer 0 */
	uint32_t nshares;       /* what an earlier IMM of this receive announced; 0: first */
	uint32_t size;          /* that IMM's size field */
};

/* An IMM (decoded): its slot has a receive outstanding; share names a rail
 * of the comm (share is the rail whose part it closes, so a message whole on
 * rail 1 has share 1 of 1 share: share < nrails, not < nshares); nshares <=
 * nrails; every IMM of one receive announces the same nshares and size; a
 * size in the immediate is for a single buffer and at most its posted size.
 * spark_imm_ok is the data path's branch-free form of spark_imm_check. */
static inline bool spark_imm_ok(const struct spark_imm *imm, const struct spark_imm_expect *x)
{
	bool first = x->nshares == 0;
	bool in_record = imm->size == SPARK_IMM_IN_RECORD;
	return (x->nbufs != 0) & (imm->share < x->nrails) & (imm->nshares <= x->nrails) &
	       (first | ((imm->nshares == x->nshares) & (imm->size == x->size))) &
	       (in_record | ((x->nbufs == 1) & ((int64_t)imm->size <= x->posted)));
}
bool spark_imm_check(const struct spark_imm *imm, const struct spark_imm_expect *x,
		     struct spark_wire_fault *f);

/* "cts.addr[2] = 0, must be != 0": for the WARN (wire.c). */
void spark_wire_fault_str(const struct spark_wire_fault *f, char *buf, int len);

/* ---- wr_id: what a completion is about ---- */
enum spark_wr_kind {
	SPARK_WR_DATA = 1,      /* sender chain on one rail (signaled last WR) */
	SPARK_WR_CTS = 2,       /* receiver's CTS write */
	SPARK_WR_RECV = 3,      /* receiver's posted receive (consumed by an IMM) */
};
struct spark_wr_id {
	enum spark_wr_kind kind;
	uint32_t rail;          /* 0..15 */
	uint32_t slot;          /* 0..65535 */
	uint32_t released;      /* send-queue entries this CQE frees (0..65535) */
	uint32_t share;         /* data chains: the rail whose share it carries (0..15) */
};
static inline uint64_t spark_wr_id_encode(const struct spark_wr_id *w)
{
	return (uint64_t)(w->kind & 0xffu) | (uint64_t)(w->rail & 0xfu) << 8 |
	       (uint64_t)(w->slot & 0xffffu) << 16 | (uint64_t)(w->released & 0xffffu) << 32 |
	       (uint64_t)(w->share & 0xfu) << 48;
}

/* spark_wr_id_encode of a data chain for a caller whose fields are in range
 * (rail, share < 16, slot, released < 65536): no masks. */
static inline uint64_t spark_wr_id_data(uint32_t rail, uint32_t slot, uint32_t released,
					uint32_t share)
{
	return (uint64_t)SPARK_WR_DATA | (uint64_t)rail << 8 | (uint64_t)slot << 16 |
	       (uint64_t)released << 32 | (uint64_t)share << 48;
}

static inline void spark_wr_id_decode(uint64_t v, struct spark_wr_id *w)
{
	w->kind = (enum spark_wr_kind)(v & 0xffu);
	w->rail = (uint32_t)(v >> 8) & 0xfu;
	w->slot = (uint32_t)(v >> 16) & 0xffffu;
	w->released = (uint32_t)(v >> 32) & 0xffffu;
	w->share = (uint32_t)(v >> 48) & 0xfu;
}

#endif
