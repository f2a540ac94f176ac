/* Wire formats: what is encoded decodes to the same values, and decode
 * refuses every malformed or foreign field with a reason naming it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

static struct spark_conn_msg hello(void)
{
	struct spark_conn_msg m;
	memset(&m, 0, sizeof m);
	m.kind = SPARK_MSG_HELLO;
	m.nonce = 0x1122334455667788ull;
	m.nrails = 2;
	for (uint32_t r = 0; r < 2; r++) {
		struct spark_rail_info *ri = &m.rail[r];
		snprintf(ri->name, sizeof ri->name, r ? "roceP2p1s0f0" : "rocep1s0f0");
		ri->gid[10] = ri->gid[11] = 0xff;
		ri->gid[12] = 192; ri->gid[13] = 168; ri->gid[14] = (uint8_t)(100 + r); ri->gid[15] = 1;
		ri->ipv4 = 0xc0a86401u + (r << 8);
		ri->prefix = 24;
		ri->qpn = 0x1234 + r;
		ri->psn = 0xabcdef;
		ri->mtu = 4096;
		ri->rkey = 0x100 + r;
		ri->addr = 0x7f0000001000ull;
	}
	return m;
}

static int decode(const struct spark_conn_msg *m, enum spark_msg_kind want, char *reason)
{
	uint8_t buf[SPARK_MSG_SIZE];
	struct spark_conn_msg out;
	spark_msg_encode(m, buf);
	return spark_msg_decode(buf, want, 0x1122334455667788ull, &out, reason, SPARK_REASON_LEN);
}

Test(wire, hello_round_trip)
{
	struct spark_conn_msg m = hello(), out;
	uint8_t buf[SPARK_MSG_SIZE];
	char reason[SPARK_REASON_LEN] = "";
	spark_msg_encode(&m, buf);
	cr_assert_eq(spark_msg_decode(buf, SPARK_MSG_HELLO, m.nonce, &out, reason, sizeof reason),
		     0, "%s", reason);
	cr_assert_eq(out.nrails, 2);
	for (int r = 0; r < 2; r++) {
		cr_assert_str_eq(out.rail[r].name, m.rail[r].name);
		cr_assert_arr_eq(out.rail[r].gid, m.rail[r].gid, 16);
		cr_assert_eq(out.rail[r].qpn, m.rail[r].qpn);
		cr_assert_eq(out.rail[r].psn, m.rail[r].psn);
		cr_assert_eq(out.rail[r].mtu, m.rail[r].mtu);
		cr_assert_eq(out.rail[r].rkey, m.rail[r].rkey);
		cr_assert_eq(out.rail[r].addr, m.rail[r].addr);
		cr_assert_eq(out.rail[r].ipv4, m.rail[r].ipv4);
	}
}

Test(wire, refuses_what_differs)
{
	char reason[SPARK_REASON_LEN];
	struct spark_conn_msg m = hello();
	cr_assert_eq(decode(&m, SPARK_MSG_REPLY, reason), -1);
	cr_assert(strstr(reason, "expected REPLY") != NULL, "%s", reason);
	m.nonce ^= 1;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "nonce") != NULL, "%s", reason);
	m = hello(); m.nrails = 5;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "rail count") != NULL, "%s", reason);
	m = hello(); m.rail[1].mtu = 3000;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "MTU") != NULL && strstr(reason, "rail 1") != NULL, "%s", reason);
	m = hello(); m.rail[0].qpn = 0x1000000;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "QPN") != NULL, "%s", reason);
	m = hello(); m.rail[0].psn = 0x1000000;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	m = hello(); memset(m.rail[0].gid, 0, 16);
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "zero GID") != NULL, "%s", reason);
	m = hello(); strcpy(m.rail[0].name, "bad name!");
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "name") != NULL, "%s", reason);
	m = hello(); m.rail[1].prefix = 40;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	m = hello(); m.rail[1].addr = 0;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
}

Test(wire, refuses_foreign_bytes)
{
	uint8_t buf[SPARK_MSG_SIZE];
	struct spark_conn_msg out;
	char reason[SPARK_REASON_LEN];
	struct spark_conn_msg m = hello();
	spark_msg_encode(&m, buf);
	buf[0] ^= 0xff;
	cr_assert_eq(spark_msg_decode(buf, SPARK_MSG_HELLO, m.nonce, &out, reason, sizeof reason), -1);
	cr_assert(strstr(reason, "magic") != NULL, "%s", reason);
	spark_msg_encode(&m, buf);
	buf[5] = 99;   /* version */
	cr_assert_eq(spark_msg_decode(buf, SPARK_MSG_HELLO, m.nonce, &out, reason, sizeof reason), -1);
	cr_assert(strstr(reason, "version") != NULL, "%s", reason);
	spark_msg_encode(&m, buf);
	uint8_t t = buf[8]; buf[8] = buf[11]; buf[11] = t;   /* the other byte order */
	cr_assert_eq(spark_msg_decode(buf, SPARK_MSG_HELLO, m.nonce, &out, reason, sizeof reason), -1);
	cr_assert(strstr(reason, "byte order") != NULL, "%s", reason);
}

Test(wire, reply_mask)
{
	char reason[SPARK_REASON_LEN];
	struct spark_conn_msg m = hello();
	m.kind = SPARK_MSG_REPLY;
	m.rail_mask = 0x2;
	m.peer_rail[1] = 0;
	memset(&m.rail[0], 0, sizeof m.rail[0]);   /* a rail left out need not be described */
	cr_assert_eq(decode(&m, SPARK_MSG_REPLY, reason), 0, "%s", reason);
	m.rail_mask = 0x4;
	cr_assert_eq(decode(&m, SPARK_MSG_REPLY, reason), -1);
	/* A refusal (mask 0) describes every rail: rail 0 is blank here. */
	m.rail_mask = 0;
	cr_assert_eq(decode(&m, SPARK_MSG_REPLY, reason), -1);
	cr_assert(strstr(reason, "rail 0") != NULL, "%s", reason);
}

static int decode_bytes(const uint8_t *buf, enum spark_msg_kind want, struct spark_conn_msg *out,
			char *reason)
{
	return spark_msg_decode(buf, want, 0x1122334455667788ull, out, reason, SPARK_REASON_LEN);
}

Test(wire, refusal_describes_every_rail)
{
	char reason[SPARK_REASON_LEN] = "";
	uint8_t buf[SPARK_MSG_SIZE];
	struct spark_conn_msg m = hello(), out;
	m.kind = SPARK_MSG_REPLY;
	spark_msg_encode(&m, buf);
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), 0, "%s", reason);
	cr_assert_eq(out.rail_mask, 0);
	cr_assert_eq(out.nrails, 2);
	cr_assert_str_eq(out.rail[1].name, "roceP2p1s0f0");
	cr_assert_eq(out.rail[1].ipv4, m.rail[1].ipv4);
	buf[20] = 1;   /* a pairing without a kept rail */
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), -1);
	cr_assert(strstr(reason, "not kept") != NULL, "%s", reason);
}

/* Bytes 20..23: per acceptor rail, the connector's rail + 1 (0: not kept). */
Test(wire, reply_pairing_is_strict)
{
	char reason[SPARK_REASON_LEN] = "";
	uint8_t buf[SPARK_MSG_SIZE];
	struct spark_conn_msg m = hello(), out;
	m.kind = SPARK_MSG_REPLY;
	m.rail_mask = 0x3;
	m.peer_rail[0] = 1;
	m.peer_rail[1] = 0;
	spark_msg_encode(&m, buf);
	cr_assert_eq(buf[20], 2);
	cr_assert_eq(buf[21], 1);
	cr_assert_eq(buf[22], 0);
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), 0, "%s", reason);
	cr_assert_eq(out.peer_rail[0], 1);
	cr_assert_eq(out.peer_rail[1], 0);
	m.peer_rail[1] = 1;   /* one connector rail twice */
	spark_msg_encode(&m, buf);
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), -1);
	cr_assert(strstr(reason, "each once") != NULL, "%s", reason);
	m.peer_rail[1] = 0;
	spark_msg_encode(&m, buf);
	buf[21] = 0;          /* kept, but paired with nothing */
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), -1);
	buf[21] = SPARK_WIRE_MAX_RAILS + 1;
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), -1);
	spark_msg_encode(&m, buf);
	buf[23] = 1;          /* rail 3 does not exist */
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_REPLY, &out, reason), -1);
}

Test(wire, hello_and_ready_carry_no_pairing)
{
	char reason[SPARK_REASON_LEN] = "";
	uint8_t buf[SPARK_MSG_SIZE];
	struct spark_conn_msg m = hello(), out;
	m.rail_mask = 0x1;
	cr_assert_eq(decode(&m, SPARK_MSG_HELLO, reason), -1);
	cr_assert(strstr(reason, "rail mask") != NULL, "%s", reason);
	m = hello();
	spark_msg_encode(&m, buf);
	buf[21] = 1;
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_HELLO, &out, reason), -1);
	memset(&m, 0, sizeof m);
	m.kind = SPARK_MSG_READY;
	m.nonce = 0x1122334455667788ull;
	spark_msg_encode(&m, buf);
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_READY, &out, reason), 0, "%s", reason);
	buf[20] = 1;
	cr_assert_eq(decode_bytes(buf, SPARK_MSG_READY, &out, reason), -1);
}

Test(wire, handle_round_trip_and_size)
{
	uint8_t buf[SPARK_HANDLE_SIZE];
	struct spark_handle h = {.family = 2, .port = 4242, .nonce = 77, .nrails = 2}, out;
	char reason[SPARK_REASON_LEN];
	h.addr[0] = 127; h.addr[3] = 1;
	spark_handle_encode(&h, buf);
	cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), 0, "%s", reason);
	cr_assert_eq(out.port, 4242);
	cr_assert_eq(out.nonce, 77);
	cr_assert_eq(out.nrails, 2);
	cr_assert_arr_eq(out.addr, h.addr, 16);
	for (int i = SPARK_HANDLE_PUBLIC; i < SPARK_HANDLE_SIZE; i++)
		cr_assert_eq(buf[i], 0, "scratch byte %d not cleared", i);
	buf[0] = 0;
	cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), -1);
	h.nrails = 0;
	spark_handle_encode(&h, buf);
	cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), -1);
}

/* Every byte of a handle is checked: a listener never has more than
 * SPARK_MAX_RAILS rails, an IPv4 address fills 4 bytes, unused bytes are 0. */
Test(wire, handle_fields_are_range_checked)
{
	uint8_t buf[SPARK_HANDLE_SIZE];
	struct spark_handle h = {.family = 2, .port = 4242, .nonce = 77, .nrails = 2}, out;
	char reason[SPARK_REASON_LEN];
	h.addr[0] = 10;
	h.nrails = SPARK_MAX_RAILS + 1;
	spark_handle_encode(&h, buf);
	cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), -1);
	cr_assert(strstr(reason, "rail count") != NULL, "%s", reason);
	h.nrails = 2;
	h.addr[7] = 1;
	spark_handle_encode(&h, buf);
	cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), -1, "IPv4 tail byte");
	h.addr[7] = 0;
	int unused[] = {11, 28, 31, 40, 63};
	for (size_t k = 0; k < sizeof unused / sizeof unused[0]; k++) {
		spark_handle_encode(&h, buf);
		buf[unused[k]] = 0x5a;
		cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), -1,
			     "byte %d", unused[k]);
	}
	spark_handle_encode(&h, buf);
	buf[SPARK_HANDLE_PUBLIC] = 0x5a;   /* the connector's scratch: not the handle's */
	cr_assert_eq(spark_handle_decode(buf, &out, reason, sizeof reason), 0, "%s", reason);
}

Test(wire, imm_and_wr_id_round_trip)
{
	for (uint32_t n = 1; n <= 2; n++) {
		struct spark_imm in = {63, n - 1, n, 0xabcdef}, out;
		spark_imm_decode(spark_imm_encode(&in), &out);
		cr_assert_eq(out.slot, 63);
		cr_assert_eq(out.share, n - 1);
		cr_assert_eq(out.nshares, n);
		cr_assert_eq(out.size, 0xabcdef);
	}
	struct spark_wr_id w = {SPARK_WR_RECV, 3, 65535, 512, 2}, o;
	spark_wr_id_decode(spark_wr_id_encode(&w), &o);
	cr_assert_eq(o.kind, SPARK_WR_RECV);
	cr_assert_eq(o.rail, 3);
	cr_assert_eq(o.slot, 65535);
	cr_assert_eq(o.released, 512);
	cr_assert_eq(o.share, 2);
}

/* One buffer's size rides in 24 bits of the immediate; from 2^24 - 1 bytes
 * on (and for a refused size) the value says "in the record". Every field
 * keeps its value whatever the others hold. */
Test(wire, size_in_the_immediate_at_every_boundary)
{
	static const int64_t sizes[] = {0, 1, 127, 128, 65536, (1 << 23), SPARK_IMM_SIZE_MAX - 1,
					SPARK_IMM_SIZE_MAX, SPARK_IMM_SIZE_MAX + 1, 1 << 24,
					(1 << 24) + 1, 1 << 30, 0x7ffffffe, 0x7fffffff};
	for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		int64_t size = sizes[k];
		uint32_t field = spark_imm_size_field(size);
		if (size <= SPARK_IMM_SIZE_MAX)
			cr_assert_eq(field, (uint32_t)size, "size %lld", (long long)size);
		else
			cr_assert_eq(field, SPARK_IMM_IN_RECORD, "size %lld", (long long)size);
		for (uint32_t slot = 0; slot < SPARK_SLOTS; slot += 21)
			for (uint32_t n = 1; n <= 2; n++)
				for (uint32_t share = 0; share < n; share++) {
					struct spark_imm in = {slot, share, n, field}, out;
					spark_imm_decode(spark_imm_encode(&in), &out);
					cr_assert(out.slot == slot && out.share == share &&
						  out.nshares == n && out.size == field,
						  "size %lld slot %u share %u/%u", (long long)size,
						  slot, share, n);
				}
	}
	cr_assert_eq(spark_imm_size_field(-1), SPARK_IMM_IN_RECORD, "a refused size");
	cr_assert_eq(spark_imm_size_field(-(int64_t)0x7fffffff), SPARK_IMM_IN_RECORD);
	struct spark_imm top = {SPARK_SLOTS - 1, 1, 2, SPARK_IMM_IN_RECORD};
	cr_assert_eq(spark_imm_encode(&top), 0xffffffffu, "every bit has a meaning");
	struct spark_imm zero = {0, 0, 1, 0};
	cr_assert_eq(spark_imm_encode(&zero), 0u);
}

/* ---- range checks of what the peer writes ---- */

static struct spark_cts_entry cts_entry(uint64_t seq, uint32_t nreqs)
{
	struct spark_cts_entry e;
	memset(&e, 0, sizeof e);
	e.addr = 0x7f0000010000ull;
	e.size = 65536;
	e.rkey[0] = 0x11;
	e.rkey[1] = 0x22;
	e.tag = -7;
	e.nreqs = nreqs;
	e.seq = seq;
	return e;
}

/* The fault check and the data path's branch-free form give one answer;
 * returns it, and the fault's field. */
static bool cts_verdict(const struct spark_cts_entry *e, uint64_t seq, uint32_t keys,
			const char **field)
{
	struct spark_wire_fault f = {0};
	bool ok = spark_cts_check(e, seq, keys, &f);
	cr_assert_eq(spark_cts_ok(e, seq, keys), ok, "the two checks disagree (%s)",
		     ok ? "ok" : f.field);
	*field = ok ? NULL : f.field;
	if (!ok) {
		char text[160];
		spark_wire_fault_str(&f, text, sizeof text);
		cr_assert(strstr(text, f.field) != NULL, "the text names the field: %s", text);
	}
	return ok;
}

Test(wire, cts_seq_says_landed_pending_or_corrupt)
{
	cr_assert_eq(spark_cts_seq_state(5, 5, 0), SPARK_CTS_LANDED);
	cr_assert_eq(spark_cts_seq_state(0, 5, 0), SPARK_CTS_PENDING, "never written");
	cr_assert_eq(spark_cts_seq_state(0, 64, 0), SPARK_CTS_PENDING, "slot 0's first use");
	cr_assert_eq(spark_cts_seq_state(1, 65, 0), SPARK_CTS_PENDING, "the previous use");
	cr_assert_eq(spark_cts_seq_state(0, 65, 0), SPARK_CTS_BAD, "entry 0 is written every use");
	cr_assert_eq(spark_cts_seq_state(1, 129, 0), SPARK_CTS_BAD, "two uses back, entry 0");
	cr_assert_eq(spark_cts_seq_state(1, 129, 3), SPARK_CTS_PENDING, "two uses back, entry 3");
	cr_assert_eq(spark_cts_seq_state(0, 129, 3), SPARK_CTS_PENDING);
	cr_assert_eq(spark_cts_seq_state(6, 5, 0), SPARK_CTS_BAD, "a later seq");
	cr_assert_eq(spark_cts_seq_state(69, 5, 1), SPARK_CTS_BAD, "a later use");
	cr_assert_eq(spark_cts_seq_state(4, 5, 0), SPARK_CTS_BAD, "another slot's seq");
	cr_assert_eq(spark_cts_seq_state(2, 67, 2), SPARK_CTS_BAD, "another slot's older seq");
	cr_assert_eq(spark_cts_seq_state(UINT64_MAX, 5, 0), SPARK_CTS_BAD);
}

Test(wire, cts_entries_are_range_checked)
{
	const char *field;
	struct spark_cts_entry e[SPARK_MAX_RECVS];
	for (int i = 0; i < SPARK_MAX_RECVS; i++)
		e[i] = cts_entry(70, 1);
	cr_assert(cts_verdict(e, 70, 3, &field), "a good entry");
	cr_assert(cts_verdict(e, 70, 0, &field), "no key rails");
	e[0].nreqs = 0;
	cr_assert(!cts_verdict(e, 70, 3, &field) && strcmp(field, "cts.nreqs") == 0);
	e[0].nreqs = SPARK_MAX_RECVS + 1;
	cr_assert(!cts_verdict(e, 70, 3, &field) && strcmp(field, "cts.nreqs") == 0, "nreqs 9");
	e[0].nreqs = UINT32_MAX;
	cr_assert(!cts_verdict(e, 70, 3, &field), "nreqs wrapping to 0");
	for (uint32_t n = 1; n <= SPARK_MAX_RECVS; n++) {
		for (uint32_t i = 0; i < SPARK_MAX_RECVS; i++)
			e[i] = cts_entry(70, n);
		cr_assert(cts_verdict(e, 70, 3, &field), "%u buffers", n);
		e[n - 1].nreqs = n + 1;
		cr_assert(!cts_verdict(e, 70, 3, &field) && strcmp(field, "cts.nreqs") == 0,
			  "entry %u disagrees on nreqs", n - 1);
		e[n - 1] = cts_entry(n == 1 ? 71 : 6, n);
		cr_assert(!cts_verdict(e, 70, 3, &field) && strcmp(field, "cts.seq") == 0,
			  "entry %u has another seq", n - 1);
		e[n - 1] = cts_entry(70, n);
		e[n - 1].addr = 0;
		cr_assert(!cts_verdict(e, 70, 3, &field) && strcmp(field, "cts.addr") == 0);
		e[n - 1].size = 0;
		cr_assert(cts_verdict(e, 70, 3, &field), "a 0-byte buffer is never written");
		e[n - 1] = cts_entry(70, n);
		e[n - 1].rkey[1] = 0;
		cr_assert(!cts_verdict(e, 70, 3, &field) && strcmp(field, "cts.rkey") == 0);
		cr_assert(cts_verdict(e, 70, 1, &field), "rail 1 is not posted on");
		e[n - 1] = cts_entry(70, n);
	}
	struct spark_cts_entry x = cts_entry(70, 1);
	x.addr = UINT64_MAX - 65535;               /* addr + size = 2^64 exactly */
	cr_assert(!cts_verdict(&x, 70, 3, &field) && strcmp(field, "cts.size") == 0, "wraps");
	x.addr = UINT64_MAX - 65536;               /* ends at the last byte */
	cr_assert(cts_verdict(&x, 70, 3, &field));
	x = cts_entry(70, 1);
	x.size = UINT64_MAX;
	cr_assert(!cts_verdict(&x, 70, 3, &field), "size 2^64 - 1");
	x = cts_entry(70, 1);
	x.tag = INT32_MIN;
	cr_assert(cts_verdict(&x, 70, 3, &field), "any tag");
	x.rkey[2] = x.rkey[3] = 0;
	cr_assert(!cts_verdict(&x, 70, 0xf, &field), "a key rail without its rkey");
	cr_assert(!cts_verdict(&x, 70, 1u << SPARK_WIRE_MAX_RAILS, &field),
		  "a key rail beyond the wire's rails");
}

static bool record_verdict(const struct spark_cmpl_record *r, uint64_t seq, uint32_t n,
			   const int64_t *posted, const char *want)
{
	struct spark_wire_fault f = {0};
	bool ok = spark_record_check(r, seq, n, posted, &f);
	if (!ok && want != NULL)
		cr_assert_str_eq(f.field, want);
	return ok;
}

Test(wire, completion_record_is_range_checked)
{
	int64_t posted[SPARK_MAX_RECVS] = {100, 0, 1 << 20, 0x7fffffff, 5, 5, 5, 5};
	struct spark_cmpl_record r;
	memset(&r, 0, sizeof r);
	r.seq = 130;
	r.nreqs = 4;
	r.sizes[0] = 100;
	r.sizes[1] = 0;
	r.sizes[2] = 1 << 20;
	r.sizes[3] = 0x7fffffff;
	cr_assert(record_verdict(&r, 130, 4, posted, NULL), "every size at its bound");
	r.sizes[4] = 1000;  /* beyond nreqs: not looked at */
	cr_assert(record_verdict(&r, 130, 4, posted, NULL));
	cr_assert(!record_verdict(&r, 66, 4, posted, "record.seq"), "the previous use's seq");
	cr_assert(!record_verdict(&r, 130, 3, posted, "record.nreqs"));
	cr_assert(!record_verdict(&r, 130, 5, posted, "record.nreqs"));
	r.sizes[0] = 101;
	cr_assert(!record_verdict(&r, 130, 4, posted, "record.sizes"), "one byte over");
	r.sizes[0] = -101;
	cr_assert(record_verdict(&r, 130, 4, posted, NULL), "a refused message");
	r.sizes[0] = -1;
	cr_assert(record_verdict(&r, 130, 4, posted, NULL), "refused for another reason");
	r.sizes[0] = INT32_MIN;
	cr_assert(!record_verdict(&r, 130, 4, posted, "record.sizes"), "no negation");
	r.sizes[0] = 100;
	r.sizes[1] = 1;
	cr_assert(!record_verdict(&r, 130, 4, posted, "record.sizes"), "into a 0-byte buffer");
}

static bool imm_verdict(struct spark_imm imm, struct spark_imm_expect x, const char *want)
{
	struct spark_wire_fault f = {0};
	bool ok = spark_imm_check(&imm, &x, &f);
	cr_assert_eq(spark_imm_ok(&imm, &x), ok, "the two checks disagree (%s)",
		     ok ? "ok" : f.field);
	if (!ok && want != NULL)
		cr_assert(strncmp(f.field, want, strlen(want)) == 0, "%s, not %s", f.field, want);
	return ok;
}

Test(wire, immediate_is_range_checked)
{
	struct spark_imm_expect one = {2, 1, 65536, 0, 0};
	cr_assert(imm_verdict((struct spark_imm){5, 0, 1, 65536}, one, NULL), "at the bound");
	cr_assert(imm_verdict((struct spark_imm){5, 1, 1, 0}, one, NULL), "whole on rail 1");
	cr_assert(imm_verdict((struct spark_imm){5, 1, 2, 4096}, one, NULL));
	cr_assert(!imm_verdict((struct spark_imm){5, 0, 1, 65537}, one, "imm.size"), "1 over");
	cr_assert(!imm_verdict((struct spark_imm){5, 0, 1, SPARK_IMM_SIZE_MAX}, one, "imm.size"));
	cr_assert(imm_verdict((struct spark_imm){5, 0, 1, SPARK_IMM_IN_RECORD}, one, NULL));
	struct spark_imm_expect none = {2, 0, 0, 0, 0};
	cr_assert(!imm_verdict((struct spark_imm){5, 0, 1, 0}, none, "imm.slot"), "nothing posted");
	struct spark_imm_expect one_rail = {1, 1, 65536, 0, 0};
	cr_assert(!imm_verdict((struct spark_imm){5, 1, 1, 10}, one_rail, "imm.share"));
	cr_assert(!imm_verdict((struct spark_imm){5, 0, 2, 10}, one_rail, "imm.nshares"));
	struct spark_imm_expect group = {2, 3, 100, 0, 0};
	cr_assert(!imm_verdict((struct spark_imm){5, 0, 1, 10}, group, "imm.size"), "a group's size");
	cr_assert(imm_verdict((struct spark_imm){5, 0, 2, SPARK_IMM_IN_RECORD}, group, NULL));
	struct spark_imm_expect second = {2, 1, 65536, 2, 4096};
	cr_assert(imm_verdict((struct spark_imm){5, 1, 2, 4096}, second, NULL), "the other share");
	cr_assert(!imm_verdict((struct spark_imm){5, 1, 1, 4096}, second, "imm.nshares"));
	cr_assert(!imm_verdict((struct spark_imm){5, 1, 2, 4095}, second, "imm.size"));
	cr_assert(!imm_verdict((struct spark_imm){5, 1, 2, SPARK_IMM_IN_RECORD}, second, "imm.size"));
	struct spark_imm_expect big = {2, 1, 0x7fffffff, 0, 0};
	cr_assert(imm_verdict((struct spark_imm){5, 0, 1, SPARK_IMM_SIZE_MAX}, big, NULL));
	struct spark_imm_expect empty = {2, 1, 0, 0, 0};
	cr_assert(imm_verdict((struct spark_imm){5, 0, 1, 0}, empty, NULL), "0 into 0");
	cr_assert(!imm_verdict((struct spark_imm){5, 0, 1, 1}, empty, "imm.size"));
	/* Every IMM a 32-bit value can decode to: the two checks agree. */
	for (uint64_t v = 0; v < (1ull << 32); v += 0x10001) {
		struct spark_imm imm;
		spark_imm_decode((uint32_t)v, &imm);
		imm_verdict(imm, one, NULL);
		imm_verdict(imm, second, NULL);
		imm_verdict(imm, one_rail, NULL);
	}
}
