/* Control frames: what the two ends of a comm tell each other on its
 * bootstrap socket once the handshake is over (heartbeats, "this comm
 * failed", a rail going down, a rail's QP pair re-established). Fixed size,
 * so a reader needs no length field to find the next frame. Pure: encode,
 * and decode that validates every field and says what is wrong.
 *
 * Layout (SPARK_CTL_SIZE bytes, big-endian but for the probe):
 *   0 magic "SPCF"   4 version (u16)   6 kind (u16)   8 byte-order probe
 *  12 rail (u32)    16 epoch (u32)    20 reserved, 0  24 seq (u64)
 *  32 payload: a reason (SPARK_REASON_LEN bytes, printable text, NUL-padded),
 *     a struct spark_rail_info (wire.h's encoding), or RESEND's shares:
 *       32 base (u64)   40 count n (u32, <= SPARK_SLOTS)
 *       44 n bytes: mask[i], the shares (bits < SPARK_MAX_RAILS, the
 *          receiver's rail numbering) it has of receive base + i
 *     zero when unused, and after the last field used. */
#ifndef SPARK_CTL_H
#define SPARK_CTL_H

#include <stdint.h>

#include "wire.h"

enum spark_ctl_kind {
	SPARK_CTL_HEARTBEAT = 1,        /* nothing: "this process is alive" */
	SPARK_CTL_FAILED = 2,           /* reason: the comm failed on the sender's side */
	SPARK_CTL_RAIL_DOWN = 3,        /* rail, reason */
	SPARK_CTL_REJOIN = 4,           /* rail, epoch, info of a fresh QP */
	SPARK_CTL_REJOIN_ACK = 5,       /* rail, epoch, info of the answering fresh QP */
	SPARK_CTL_REJOIN_DONE = 6,      /* rail, epoch */
	SPARK_CTL_REJOIN_NAK = 7,       /* rail, epoch, reason */
	SPARK_CTL_RESEND = 8,           /* rail, epoch of its QP pair, the shares held */
};
#define SPARK_CTL_KIND_MAX SPARK_CTL_RESEND

#define SPARK_CTL_HDR 32
#define SPARK_CTL_SIZE (SPARK_CTL_HDR + SPARK_REASON_LEN)
_Static_assert(SPARK_RAIL_INFO_SIZE <= SPARK_REASON_LEN, "a rail's info fits the payload");
#define SPARK_CTL_RESEND_HDR 12
_Static_assert(SPARK_CTL_RESEND_HDR + SPARK_SLOTS <= SPARK_REASON_LEN, "RESEND fits the payload");

/* RESEND: the receiver's verdict on a rail it lost, sent once its QP there is
 * in ERR and its CQ drained (nothing more can land through it). Every
 * receive below base is complete; receive base + i (i < count) holds the
 * shares in mask[i] (a complete one: every share). The sender re-sends only
 * what a mask lacks (docs/design.md, "Losing a rail"). */
struct spark_ctl_resend {
	uint64_t base;                  /* lowest incomplete receive, or the next to post */
	uint32_t count;                 /* receives described, <= SPARK_SLOTS */
	uint8_t mask[SPARK_SLOTS];
};

struct spark_ctl {
	enum spark_ctl_kind kind;
	uint32_t rail;                  /* RAIL_DOWN, REJOIN*: the rail's index (< SPARK_MAX_RAILS) */
	uint32_t epoch;                 /* REJOIN*: which re-establishment; else 0 */
	uint64_t seq;                   /* frames the sender sent on this comm before this one */
	char reason[SPARK_REASON_LEN];  /* FAILED, RAIL_DOWN, REJOIN_NAK: NUL-terminated */
	struct spark_rail_info info;    /* REJOIN, REJOIN_ACK */
	struct spark_ctl_resend resend; /* RESEND */
};

const char *spark_ctl_kind_name(uint32_t kind);
/* Fills f: kind, rail, epoch, reason (truncated to fit, non-printable bytes
 * replaced by '?'); info, resend and seq zeroed. */
void spark_ctl_init(struct spark_ctl *f, enum spark_ctl_kind kind, uint32_t rail,
		    uint32_t epoch, const char *reason);
void spark_ctl_encode(const struct spark_ctl *f, uint8_t out[SPARK_CTL_SIZE]);
/* Checks magic, version, byte order, kind, reserved bytes, seq == want_seq
 * (a lost, repeated or foreign frame), rail and epoch where the kind has
 * none, the payload of each kind (reason text, rail info, RESEND's count
 * and masks, zeros). */
int spark_ctl_decode(const uint8_t in[SPARK_CTL_SIZE], uint64_t want_seq, struct spark_ctl *f,
		     char *reason, int len);

#endif
