#include "ctl.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "wire_bytes.h"

#define CTL_MAGIC 0x53504346u      /* "SPCF" */
#define BYTE_ORDER_PROBE 0x01020304u


enum payload { PAY_NONE, PAY_REASON, PAY_INFO, PAY_RESEND };

static enum payload payload_of(uint32_t kind)
{
	switch (kind) {
	case SPARK_CTL_FAILED:
	case SPARK_CTL_RAIL_DOWN:
	case SPARK_CTL_REJOIN_NAK: return PAY_REASON;
	case SPARK_CTL_REJOIN:
	case SPARK_CTL_REJOIN_ACK: return PAY_INFO;
	case SPARK_CTL_RESEND: return PAY_RESEND;
	default: return PAY_NONE;
	}
}

/* Kinds about one rail carry its index; REJOIN* and RESEND also an epoch. */
static bool has_rail(uint32_t kind) { return kind >= SPARK_CTL_RAIL_DOWN; }
static bool has_epoch(uint32_t kind) { return kind >= SPARK_CTL_REJOIN; }

const char *spark_ctl_kind_name(uint32_t kind)
{
	switch (kind) {
	case SPARK_CTL_HEARTBEAT: return "HEARTBEAT";
	case SPARK_CTL_FAILED: return "FAILED";
	case SPARK_CTL_RAIL_DOWN: return "RAIL_DOWN";
	case SPARK_CTL_REJOIN: return "REJOIN";
	case SPARK_CTL_REJOIN_ACK: return "REJOIN_ACK";
	case SPARK_CTL_REJOIN_DONE: return "REJOIN_DONE";
	case SPARK_CTL_REJOIN_NAK: return "REJOIN_NAK";
	case SPARK_CTL_RESEND: return "RESEND";
	default: return "unknown";
	}
}

void spark_ctl_init(struct spark_ctl *f, enum spark_ctl_kind kind, uint32_t rail,
		    uint32_t epoch, const char *reason)
{
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->rail = rail;
	f->epoch = epoch;
	for (size_t i = 0; reason != NULL && reason[i] != '\0' && i + 1 < sizeof f->reason; i++)
		f->reason[i] = reason[i] >= 0x20 && reason[i] < 0x7f ? reason[i] : '?';
}

/* A count beyond SPARK_SLOTS is the caller's bug: clamped, so the bytes
 * written never leave the payload (the peer then refuses nothing it can
 * read as another field). */
static void resend_encode(const struct spark_ctl_resend *r, uint8_t *p)
{
	uint32_t n = r->count <= SPARK_SLOTS ? r->count : SPARK_SLOTS;
	put64(p, r->base);
	put32(p + 8, n);
	memcpy(p + SPARK_CTL_RESEND_HDR, r->mask, n);
}

void spark_ctl_encode(const struct spark_ctl *f, uint8_t out[SPARK_CTL_SIZE])
{
	uint32_t probe = BYTE_ORDER_PROBE;
	memset(out, 0, SPARK_CTL_SIZE);
	put32(out, CTL_MAGIC);
	put16(out + 4, SPARK_WIRE_VERSION);
	put16(out + 6, (uint16_t)f->kind);
	memcpy(out + 8, &probe, 4);      /* host order on purpose, as in the handshake */
	put32(out + 12, f->rail);
	put32(out + 16, f->epoch);
	put64(out + 24, f->seq);
	if (payload_of(f->kind) == PAY_REASON)
		memcpy(out + SPARK_CTL_HDR, f->reason, strnlen(f->reason, SPARK_REASON_LEN - 1));
	else if (payload_of(f->kind) == PAY_INFO)
		spark_rail_info_encode(&f->info, out + SPARK_CTL_HDR);
	else if (payload_of(f->kind) == PAY_RESEND)
		resend_encode(&f->resend, out + SPARK_CTL_HDR);
}

/* Printable text, NUL-terminated, nothing after the NUL: the peer's reason
 * goes into our WARN line. */
static int reason_decode(const uint8_t *p, struct spark_ctl *f, char *reason, int len)
{
	size_t n = strnlen((const char *)p, SPARK_REASON_LEN);
	if (n == SPARK_REASON_LEN)
		return spark_refuse(reason, len, "%s: reason without its NUL", spark_ctl_kind_name(f->kind));
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return spark_refuse(reason, len, "%s: reason byte %zu is %#x, not printable",
				    spark_ctl_kind_name(f->kind), i, p[i]);
	for (size_t i = n; i < SPARK_REASON_LEN; i++)
		if (p[i] != 0)
			return spark_refuse(reason, len, "%s: byte %zu after the reason is %#x, not 0",
				    spark_ctl_kind_name(f->kind), i, p[i]);
	memcpy(f->reason, p, n + 1);
	return 0;
}

static int zeros(const uint8_t *p, size_t from, size_t to, const char *what, char *reason,
		 int len)
{
	/* Eight bytes a step up to the first word that is not all zeros (a
	 * heartbeat's whole payload is checked, every frame), then byte by
	 * byte from there for the WARN's byte number. */
	for (uint64_t w; from + sizeof w <= to; from += sizeof w) {
		memcpy(&w, p + from, sizeof w);
		if (w != 0)
			break;
	}
	for (size_t i = from; i < to; i++)
		if (p[i] != 0)
			return spark_refuse(reason, len, "%s: byte %zu is %#x, not 0: corrupted", what, i,
				    p[i]);
	return 0;
}

/* RESEND's shares: a count of at most SPARK_SLOTS receives that does not
 * wrap past the last seq, masks of rails that exist, nothing after them. */
static int resend_decode(const uint8_t *p, struct spark_ctl *f, char *reason, int len)
{
	struct spark_ctl_resend *r = &f->resend;
	r->base = get64(p);
	r->count = get32(p + 8);
	if (r->count > SPARK_SLOTS)
		return spark_refuse(reason, len, "RESEND: count %u, at most %d", r->count, SPARK_SLOTS);
	if (r->base > UINT64_MAX - r->count)
		return spark_refuse(reason, len, "RESEND: base %llu + count %u wraps",
			    (unsigned long long)r->base, r->count);
	for (uint32_t i = 0; i < r->count; i++) {
		uint8_t m = p[SPARK_CTL_RESEND_HDR + i];
		if ((uint32_t)m >> SPARK_MAX_RAILS != 0)
			return spark_refuse(reason, len, "RESEND: mask %u is %#x, rails are < %d", i, m,
				    SPARK_MAX_RAILS);
		r->mask[i] = m;
	}
	return zeros(p, SPARK_CTL_RESEND_HDR + r->count, SPARK_REASON_LEN, "RESEND", reason, len);
}

static int header_decode(const uint8_t *in, uint64_t want_seq, struct spark_ctl *f,
			 char *reason, int len)
{
	uint32_t probe;
	if (get32(in) != CTL_MAGIC)
		return spark_refuse(reason, len, "not a Spark control frame (magic %#x)", get32(in));
	if (get16(in + 4) != SPARK_WIRE_VERSION)
		return spark_refuse(reason, len, "control frame version %u, we speak %u", get16(in + 4),
			    SPARK_WIRE_VERSION);
	uint32_t kind = get16(in + 6);
	if (kind < SPARK_CTL_HEARTBEAT || kind > SPARK_CTL_KIND_MAX)
		return spark_refuse(reason, len, "control frame kind %u (1..%d)", kind, SPARK_CTL_KIND_MAX);
	memcpy(&probe, in + 8, 4);
	if (probe != BYTE_ORDER_PROBE)
		return spark_refuse(reason, len, "control frame in the other byte order (probe %#x)", probe);
	f->kind = (enum spark_ctl_kind)kind;
	f->rail = get32(in + 12);
	f->epoch = get32(in + 16);
	f->seq = get64(in + 24);
	if (zeros(in, 20, 24, "control frame header", reason, len) != 0)
		return -1;
	if (f->seq != want_seq)
		return spark_refuse(reason, len, "%s frame number %llu, expected %llu: frames lost or "
			    "repeated", spark_ctl_kind_name(kind), (unsigned long long)f->seq,
			    (unsigned long long)want_seq);
	if (has_rail(kind) ? f->rail >= SPARK_MAX_RAILS : f->rail != 0)
		return spark_refuse(reason, len, "%s: rail %u", spark_ctl_kind_name(kind), f->rail);
	if (!has_epoch(kind) && f->epoch != 0)
		return spark_refuse(reason, len, "%s: epoch %u where none belongs",
			    spark_ctl_kind_name(kind), f->epoch);
	return 0;
}

int spark_ctl_decode(const uint8_t in[SPARK_CTL_SIZE], uint64_t want_seq, struct spark_ctl *f,
		     char *reason, int len)
{
	memset(f, 0, sizeof *f);
	if (header_decode(in, want_seq, f, reason, len) != 0)
		return -1;
	const uint8_t *p = in + SPARK_CTL_HDR;
	switch (payload_of(f->kind)) {
	case PAY_REASON:
		return reason_decode(p, f, reason, len);
	case PAY_INFO:
		if (spark_rail_info_decode(p, f->rail, &f->info, reason, len) != 0)
			return -1;
		return zeros(p, SPARK_RAIL_INFO_SIZE, SPARK_REASON_LEN,
			     spark_ctl_kind_name(f->kind), reason, len);
	case PAY_RESEND:
		return resend_decode(p, f, reason, len);
	case PAY_NONE:
		break;
	}
	return zeros(p, 0, SPARK_REASON_LEN, spark_ctl_kind_name(f->kind), reason, len);
}
