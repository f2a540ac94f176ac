/* The TCP handshake: HELLO (on the listener, from anyone who connects),
 * REPLY and READY. Input: the SPARK_MSG_SIZE-byte message, then a byte
 * choosing the kind expected, a byte whose bit 0 makes the expected nonce the
 * message's own (else a fixed one), and a byte choosing the reason length.
 * Accepted messages hold only values the rails can be built from, every byte
 * the decoder took re-encodes the same, and decode(encode(m)) == m. */
#include "fuzz.h"

#define FIXED_NONCE 0x0123456789abcdefull
enum { HDR = 32, RAIL = SPARK_NAME_LEN + 48 };

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void same_bytes(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		FUZZ_CHECK(a[i] == b[i], "byte %zu re-encodes as %#x, was %#x", i, b[i], a[i]);
}

static void check_accepted(const uint8_t *in, enum spark_msg_kind want, uint64_t nonce,
			   const struct spark_conn_msg *m)
{
	FUZZ_CHECK(m->kind == want && m->nonce == nonce, "kind %d nonce %#llx", (int)m->kind,
		   (unsigned long long)m->nonce);
	uint8_t *out = malloc(SPARK_MSG_SIZE);
	FUZZ_CHECK(out != NULL, "out of memory");
	spark_msg_encode(m, out);
	same_bytes(in, out, 0, HDR);   /* magic ... mask, pairing, nonce */
	FUZZ_CHECK(want == SPARK_MSG_REPLY || m->rail_mask == 0, "mask %#x in a %d",
		   m->rail_mask, (int)want);
	uint32_t paired = 0;
	for (uint32_t i = 0; i < SPARK_WIRE_MAX_RAILS; i++) {
		bool kept = m->rail_mask >> i & 1u;
		FUZZ_CHECK(kept ? m->peer_rail[i] < SPARK_WIRE_MAX_RAILS : m->peer_rail[i] == 0,
			   "rail %u (kept %d) paired with %u", i, kept, m->peer_rail[i]);
		FUZZ_CHECK(!kept || !(paired >> m->peer_rail[i] & 1u), "peer rail %u paired twice",
			   m->peer_rail[i]);
		paired |= kept ? 1u << m->peer_rail[i] : 0;
	}
	if (want != SPARK_MSG_READY) {
		FUZZ_CHECK(m->nrails >= 1 && m->nrails <= SPARK_WIRE_MAX_RAILS, "%u rails",
			   m->nrails);
		FUZZ_CHECK(m->rail_mask >> m->nrails == 0, "mask %#x for %u rails", m->rail_mask,
			   m->nrails);
		for (uint32_t i = 0; i < SPARK_WIRE_MAX_RAILS; i++) {
			/* A REPLY with mask 0 is a refusal naming every rail. */
			bool described = i < m->nrails &&
					 (want == SPARK_MSG_HELLO || m->rail_mask == 0 ||
					  (m->rail_mask >> i & 1u));
			if (!described) {
				FUZZ_CHECK(fuzz_all_zero(&m->rail[i], sizeof m->rail[i]),
					   "rail %u not described but filled in", i);
				continue;
			}
			fuzz_rail_check(&m->rail[i], i);
			size_t at = HDR + i * RAIL;
			same_bytes(in, out, at, at + RAIL);
		}
	}
	struct spark_conn_msg again;
	char reason[SPARK_REASON_LEN];
	FUZZ_CHECK(spark_msg_decode(out, want, nonce, &again, reason, sizeof reason) == 0,
		   "its own encoding refused: %s", reason);
	FUZZ_CHECK(again.kind == m->kind && again.nonce == m->nonce && again.nrails == m->nrails &&
			   again.rail_mask == m->rail_mask &&
			   memcmp(again.peer_rail, m->peer_rail, sizeof m->peer_rail) == 0 &&
			   memcmp(again.rail, m->rail, sizeof m->rail) == 0,
		   "decode(encode(m)) != m");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, SPARK_MSG_SIZE);
	enum spark_msg_kind want =
		(enum spark_msg_kind)(1 + fuzz_byte(data, size, SPARK_MSG_SIZE, 0) % 3);
	uint64_t nonce = fuzz_byte(data, size, SPARK_MSG_SIZE + 1, 1) & 1u ? get64(in + 24)
									   : FIXED_NONCE;
	int len = 1 + fuzz_byte(data, size, SPARK_MSG_SIZE + 2, SPARK_REASON_LEN - 1) %
			      SPARK_REASON_LEN;
	char *reason = fuzz_reason_alloc(len);
	struct spark_conn_msg m;
	if (spark_msg_decode(in, want, nonce, &m, reason, len) != 0)
		fuzz_reason_check(reason, len);
	else
		check_accepted(in, want, nonce, &m);
	free(reason);
	free(in);
	return 0;
}

static void emit_msg(fuzz_emit_fn emit, const struct spark_conn_msg *m)
{
	uint8_t buf[SPARK_MSG_SIZE + 3];
	spark_msg_encode(m, buf);
	buf[SPARK_MSG_SIZE] = (uint8_t)(m->kind - 1);
	buf[SPARK_MSG_SIZE + 1] = 0;                        /* the fixed nonce */
	buf[SPARK_MSG_SIZE + 2] = SPARK_REASON_LEN - 1;
	emit(buf, sizeof buf);
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	struct spark_conn_msg m = {.kind = SPARK_MSG_HELLO, .nonce = FIXED_NONCE, .nrails = 2};
	fuzz_rail_example(&m.rail[0], "rocep1s0f0", 100);
	fuzz_rail_example(&m.rail[1], "roceP2p1s0f0", 101);
	emit_msg(emit, &m);
	m.kind = SPARK_MSG_REPLY;
	m.rail_mask = 0;                /* a refusal: every rail described */
	emit_msg(emit, &m);
	m.rail_mask = 2;                /* rail 0 dropped: not described */
	m.peer_rail[1] = 0;             /* rail 1 talks to the connector's rail 0 */
	memset(&m.rail[0], 0, sizeof m.rail[0]);
	emit_msg(emit, &m);
	struct spark_conn_msg ready = {.kind = SPARK_MSG_READY, .nonce = FIXED_NONCE};
	emit_msg(emit, &ready);
}
