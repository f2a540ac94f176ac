/* Control frames: every kind round-trips, and decode refuses every
 * malformed, foreign or out-of-sequence frame with a reason naming it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static struct spark_rail_info info(void)
{
	struct spark_rail_info ri;
	memset(&ri, 0, sizeof ri);
	snprintf(ri.name, sizeof ri.name, "roceP2p1s0f0");
	ri.gid[10] = ri.gid[11] = 0xff;
	ri.gid[12] = 192; ri.gid[13] = 168; ri.gid[14] = 101; ri.gid[15] = 1;
	ri.ipv4 = 0xc0a86501u;
	ri.prefix = 24;
	ri.qpn = 0x4321;
	ri.psn = 0x123456;
	ri.mtu = 4096;
	ri.rkey = 0x77;
	ri.addr = 0x7f0000002000ull;
	return ri;
}

static struct spark_ctl frame(enum spark_ctl_kind kind)
{
	struct spark_ctl f;
	bool rail = kind >= SPARK_CTL_RAIL_DOWN, epoch = kind >= SPARK_CTL_REJOIN;
	bool text = kind == SPARK_CTL_FAILED || kind == SPARK_CTL_RAIL_DOWN ||
		    kind == SPARK_CTL_REJOIN_NAK;
	spark_ctl_init(&f, kind, rail ? 1 : 0, epoch ? 7 : 0, text ? "rail lost: retry exceeded" : NULL);
	if (kind == SPARK_CTL_REJOIN || kind == SPARK_CTL_REJOIN_ACK)
		f.info = info();
	if (kind == SPARK_CTL_RESEND) {
		f.resend.base = 0x0102030405060708ull;
		f.resend.count = 5;
		memcpy(f.resend.mask, (const uint8_t[]){3, 0, 1, 2, 3}, 5);
	}
	f.seq = 42;
	return f;
}

static int decode_bytes(const uint8_t *buf, uint64_t seq, struct spark_ctl *out, char *reason)
{
	return spark_ctl_decode(buf, seq, out, reason, SPARK_REASON_LEN);
}

Test(ctl, every_kind_round_trips)
{
	for (int k = SPARK_CTL_HEARTBEAT; k <= SPARK_CTL_KIND_MAX; k++) {
		struct spark_ctl f = frame((enum spark_ctl_kind)k), out;
		uint8_t buf[SPARK_CTL_SIZE];
		char reason[SPARK_REASON_LEN] = "";
		spark_ctl_encode(&f, buf);
		cr_assert_eq(decode_bytes(buf, 42, &out, reason), 0, "%s: %s",
			     spark_ctl_kind_name((uint32_t)k), reason);
		cr_assert_eq(out.kind, f.kind);
		cr_assert_eq(out.rail, f.rail);
		cr_assert_eq(out.epoch, f.epoch);
		cr_assert_eq(out.seq, 42);
		cr_assert_str_eq(out.reason, f.reason);
		cr_assert_str_eq(out.info.name, f.info.name);
		cr_assert_arr_eq(out.info.gid, f.info.gid, 16);
		cr_assert_eq(out.info.qpn, f.info.qpn);
		cr_assert_eq(out.info.psn, f.info.psn);
		cr_assert_eq(out.info.mtu, f.info.mtu);
		cr_assert_eq(out.info.rkey, f.info.rkey);
		cr_assert_eq(out.info.addr, f.info.addr);
		cr_assert_eq(out.info.ipv4, f.info.ipv4);
		cr_assert_eq(out.info.prefix, f.info.prefix);
		cr_assert_eq(out.resend.base, f.resend.base);
		cr_assert_eq(out.resend.count, f.resend.count);
		cr_assert_arr_eq(out.resend.mask, f.resend.mask, sizeof f.resend.mask);
	}
}

/* RESEND's payload where ctl.h says it is: base, count, one byte per
 * receive, zeros after; the most receives it can carry come through. */
Test(ctl, resend_layout_and_a_full_window)
{
	struct spark_ctl f = frame(SPARK_CTL_RESEND), out;
	uint8_t buf[SPARK_CTL_SIZE];
	char reason[SPARK_REASON_LEN] = "";
	spark_ctl_encode(&f, buf);
	const uint8_t *p = buf + SPARK_CTL_HDR;
	cr_assert_arr_eq(p, ((const uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 5, 3, 0, 1, 2, 3}),
			 17);
	for (size_t i = 17; i < SPARK_REASON_LEN; i++)
		cr_assert_eq(p[i], 0, "payload byte %zu", i);
	f.resend.base = 100;
	f.resend.count = SPARK_SLOTS;
	for (int i = 0; i < SPARK_SLOTS; i++)
		f.resend.mask[i] = (uint8_t)(i % 4);
	spark_ctl_encode(&f, buf);
	cr_assert_eq(decode_bytes(buf, 42, &out, reason), 0, "%s", reason);
	cr_assert_eq(out.resend.count, SPARK_SLOTS);
	cr_assert_arr_eq(out.resend.mask, f.resend.mask, SPARK_SLOTS);
	/* none at all: the receiver had nothing posted */
	f.resend.count = 0;
	spark_ctl_encode(&f, buf);
	cr_assert_eq(decode_bytes(buf, 42, &out, reason), 0, "%s", reason);
	cr_assert_eq(out.resend.count, 0);
	cr_assert_eq(out.resend.base, 100);
}

Test(ctl, init_keeps_reasons_printable_and_bounded)
{
	struct spark_ctl f;
	char longer[400];
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	longer[3] = '\n';
	spark_ctl_init(&f, SPARK_CTL_FAILED, 0, 0, longer);
	cr_assert_eq(strlen(f.reason), SPARK_REASON_LEN - 1);
	cr_assert_eq(f.reason[3], '?');
	uint8_t buf[SPARK_CTL_SIZE];
	struct spark_ctl out;
	char reason[SPARK_REASON_LEN];
	spark_ctl_encode(&f, buf);
	cr_assert_eq(decode_bytes(buf, 0, &out, reason), 0, "%s", reason);
	cr_assert_str_eq(out.reason, f.reason);
}

/* Encodes frame(kind), lets `edit` corrupt it, expects a refusal naming `want`. */
static void refused(enum spark_ctl_kind kind, void (*edit)(uint8_t *), uint64_t seq,
		    const char *want)
{
	struct spark_ctl f = frame(kind), out;
	uint8_t buf[SPARK_CTL_SIZE];
	char reason[SPARK_REASON_LEN] = "";
	spark_ctl_encode(&f, buf);
	if (edit != NULL)
		edit(buf);
	cr_assert_eq(decode_bytes(buf, seq, &out, reason), -1, "accepted (want '%s')", want);
	cr_assert(strstr(reason, want) != NULL, "reason '%s' lacks '%s'", reason, want);
}

static void bad_magic(uint8_t *b) { b[0] ^= 1; }
static void bad_version(uint8_t *b) { b[5] ^= 0x10; }
static void kind_zero(uint8_t *b) { b[6] = b[7] = 0; }
static void kind_big(uint8_t *b) { b[6] = 0; b[7] = SPARK_CTL_KIND_MAX + 1; }
static void swapped(uint8_t *b) { uint8_t t = b[8]; b[8] = b[11]; b[11] = t; }
static void reserved(uint8_t *b) { b[21] = 1; }
static void rail_far(uint8_t *b) { b[15] = SPARK_MAX_RAILS; }
static void rail_set(uint8_t *b) { b[15] = 1; }
static void epoch_set(uint8_t *b) { b[19] = 1; }
static void no_nul(uint8_t *b) { memset(b + SPARK_CTL_HDR, 'a', SPARK_REASON_LEN); }
static void ctrl_char(uint8_t *b) { b[SPARK_CTL_HDR + 2] = 0x1b; }
static void after_nul(uint8_t *b) { b[SPARK_CTL_SIZE - 1] = 'z'; }
static void payload_set(uint8_t *b) { b[SPARK_CTL_HDR + 5] = 1; }
static void payload_last(uint8_t *b) { b[SPARK_CTL_SIZE - 1] = 1; }
static void info_tail(uint8_t *b) { b[SPARK_CTL_HDR + SPARK_RAIL_INFO_SIZE] = 1; }
static void info_qpn(uint8_t *b) { memset(b + SPARK_CTL_HDR + SPARK_NAME_LEN + 24, 0, 4); }
static void info_name(uint8_t *b) { b[SPARK_CTL_HDR] = 0; }
static void resend_count(uint8_t *b) { b[SPARK_CTL_HDR + 11] = SPARK_SLOTS + 1; }
static void resend_rail(uint8_t *b) { b[SPARK_CTL_HDR + 13] = 1u << SPARK_MAX_RAILS; }
static void resend_tail(uint8_t *b) { b[SPARK_CTL_HDR + 17] = 1; }
static void resend_wraps(uint8_t *b) { memset(b + SPARK_CTL_HDR, 0xff, 8); }

Test(ctl, refuses_every_malformed_field)
{
	refused(SPARK_CTL_HEARTBEAT, bad_magic, 42, "magic");
	refused(SPARK_CTL_HEARTBEAT, bad_version, 42, "version");
	refused(SPARK_CTL_HEARTBEAT, kind_zero, 42, "kind 0");
	char big[32];
	snprintf(big, sizeof big, "kind %d", SPARK_CTL_KIND_MAX + 1);
	refused(SPARK_CTL_HEARTBEAT, kind_big, 42, big);
	refused(SPARK_CTL_HEARTBEAT, swapped, 42, "byte order");
	refused(SPARK_CTL_HEARTBEAT, reserved, 42, "header: byte 21");
	refused(SPARK_CTL_HEARTBEAT, NULL, 41, "frame number 42, expected 41");
	refused(SPARK_CTL_HEARTBEAT, NULL, 43, "lost or repeated");
	refused(SPARK_CTL_RAIL_DOWN, rail_far, 42, "RAIL_DOWN: rail 2");
	refused(SPARK_CTL_HEARTBEAT, rail_set, 42, "HEARTBEAT: rail 1");
	refused(SPARK_CTL_FAILED, epoch_set, 42, "FAILED: epoch 1");
	refused(SPARK_CTL_RAIL_DOWN, epoch_set, 42, "RAIL_DOWN: epoch");
	refused(SPARK_CTL_FAILED, no_nul, 42, "without its NUL");
	refused(SPARK_CTL_REJOIN_NAK, ctrl_char, 42, "not printable");
	refused(SPARK_CTL_FAILED, after_nul, 42, "after the reason");
	refused(SPARK_CTL_HEARTBEAT, payload_set, 42, "HEARTBEAT: byte 5");
	refused(SPARK_CTL_REJOIN_DONE, payload_set, 42, "REJOIN_DONE: byte 5");
	/* the last byte: past every all-zero word, named exactly */
	char last[64];
	snprintf(last, sizeof last, "HEARTBEAT: byte %d is 0x1,", SPARK_REASON_LEN - 1);
	refused(SPARK_CTL_HEARTBEAT, payload_last, 42, last);
	refused(SPARK_CTL_REJOIN, info_tail, 42, "REJOIN: byte");
	refused(SPARK_CTL_REJOIN_ACK, info_qpn, 42, "QPN");
	refused(SPARK_CTL_REJOIN, info_name, 42, "malformed HCA name");
	refused(SPARK_CTL_RESEND, rail_far, 42, "RESEND: rail 2");
	refused(SPARK_CTL_RESEND, resend_count, 42, "RESEND: count 65, at most 64");
	refused(SPARK_CTL_RESEND, resend_rail, 42, "RESEND: mask 1 is 0x4");
	refused(SPARK_CTL_RESEND, resend_tail, 42, "RESEND: byte 17");
	refused(SPARK_CTL_RESEND, resend_wraps, 42, "wraps");
}
