/* Control frames on a comm's bootstrap socket, read from the peer at any
 * time after the handshake. Input: the SPARK_CTL_SIZE-byte frame, a byte
 * whose bit 0 makes the expected frame number the frame's own (else 7), and
 * a byte choosing the reason length. The decoder is strict, so an accepted
 * frame re-encodes to exactly its bytes; its fields are in range; and any
 * frame spark_ctl_init builds, whatever reason text it is given, the peer
 * accepts with the same fields. */
#include "ctl.h"
#include "fuzz.h"

#define FIXED_SEQ 7u

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void check_accepted(const uint8_t *in, uint64_t seq, const struct spark_ctl *f)
{
	uint32_t k = f->kind;
	FUZZ_CHECK(k >= SPARK_CTL_HEARTBEAT && k <= SPARK_CTL_KIND_MAX, "kind %u", k);
	FUZZ_CHECK(f->seq == seq, "frame %llu, expected %llu", (unsigned long long)f->seq,
		   (unsigned long long)seq);
	FUZZ_CHECK(k >= SPARK_CTL_RAIL_DOWN ? f->rail < SPARK_MAX_RAILS : f->rail == 0,
		   "%s with rail %u", spark_ctl_kind_name(k), f->rail);
	FUZZ_CHECK(k >= SPARK_CTL_REJOIN || f->epoch == 0, "%s with epoch %u",
		   spark_ctl_kind_name(k), f->epoch);
	size_t n = strnlen(f->reason, sizeof f->reason);
	FUZZ_CHECK(n < sizeof f->reason, "reason without its NUL");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(f->reason[i] >= 0x20 && f->reason[i] < 0x7f, "reason byte %zu is %#x", i,
			   (unsigned)(uint8_t)f->reason[i]);
	if (k == SPARK_CTL_REJOIN || k == SPARK_CTL_REJOIN_ACK)
		fuzz_rail_check(&f->info, f->rail);
	else
		FUZZ_CHECK(fuzz_all_zero(&f->info, sizeof f->info), "%s with rail info",
			   spark_ctl_kind_name(k));
	if (k == SPARK_CTL_RESEND) {
		const struct spark_ctl_resend *r = &f->resend;
		FUZZ_CHECK(r->count <= SPARK_SLOTS && r->base <= UINT64_MAX - r->count,
			   "RESEND of %u receives from %llu", r->count, (unsigned long long)r->base);
		for (uint32_t i = 0; i < SPARK_SLOTS; i++)
			FUZZ_CHECK(i < r->count ? r->mask[i] >> SPARK_MAX_RAILS == 0 : r->mask[i] == 0,
				   "RESEND mask %u is %#x", i, r->mask[i]);
	} else {
		FUZZ_CHECK(fuzz_all_zero(&f->resend, sizeof f->resend), "%s with shares",
			   spark_ctl_kind_name(k));
	}
	uint8_t out[SPARK_CTL_SIZE];
	spark_ctl_encode(f, out);
	for (size_t i = 0; i < SPARK_CTL_SIZE; i++)
		FUZZ_CHECK(out[i] == in[i], "byte %zu re-encodes as %#x, was %#x", i, out[i], in[i]);
}

/* What spark_ctl_init makes of the input's kind, rail, epoch and payload
 * bytes (as a reason, any bytes at all) must come through. */
static void check_init(const uint8_t *in)
{
	uint32_t k = 1 + in[7] % SPARK_CTL_KIND_MAX;
	if (k == SPARK_CTL_REJOIN || k == SPARK_CTL_REJOIN_ACK)
		return;   /* their rail info is the caller's */
	uint32_t rail = k >= SPARK_CTL_RAIL_DOWN ? in[15] % SPARK_MAX_RAILS : 0;
	uint32_t epoch = k >= SPARK_CTL_REJOIN ? get64(in + 16) >> 32 : 0;
	char text[SPARK_REASON_LEN + 1];
	memcpy(text, in + SPARK_CTL_HDR, SPARK_REASON_LEN);
	text[SPARK_REASON_LEN] = 0;
	struct spark_ctl f, back;
	spark_ctl_init(&f, (enum spark_ctl_kind)k, rail, epoch, text);
	f.seq = get64(in + 24);
	uint8_t out[SPARK_CTL_SIZE];
	char reason[SPARK_REASON_LEN];
	spark_ctl_encode(&f, out);
	FUZZ_CHECK(spark_ctl_decode(out, f.seq, &back, reason, sizeof reason) == 0,
		   "our own %s refused: %s", spark_ctl_kind_name(k), reason);
	FUZZ_CHECK(back.kind == f.kind && back.rail == f.rail && back.epoch == f.epoch &&
			   back.seq == f.seq, "%s came back with other fields", spark_ctl_kind_name(k));
	bool has_reason = k == SPARK_CTL_FAILED || k == SPARK_CTL_RAIL_DOWN ||
			  k == SPARK_CTL_REJOIN_NAK;
	FUZZ_CHECK(strcmp(back.reason, has_reason ? f.reason : "") == 0, "reason changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, SPARK_CTL_SIZE);
	uint64_t seq = fuzz_byte(data, size, SPARK_CTL_SIZE, 1) & 1u ? get64(in + 24) : FIXED_SEQ;
	int len = 1 + fuzz_byte(data, size, SPARK_CTL_SIZE + 1, SPARK_REASON_LEN - 1) %
			      SPARK_REASON_LEN;
	char *reason = fuzz_reason_alloc(len);
	struct spark_ctl f;
	if (spark_ctl_decode(in, seq, &f, reason, len) != 0)
		fuzz_reason_check(reason, len);
	else
		check_accepted(in, seq, &f);
	check_init(in);
	free(reason);
	free(in);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	uint8_t buf[SPARK_CTL_SIZE + 2];
	for (uint32_t k = SPARK_CTL_HEARTBEAT; k <= SPARK_CTL_KIND_MAX; k++) {
		struct spark_ctl f;
		spark_ctl_init(&f, (enum spark_ctl_kind)k, k >= SPARK_CTL_RAIL_DOWN ? 1 : 0,
			       k >= SPARK_CTL_REJOIN ? 3 : 0, "rail roceP2p1s0f0: port down");
		if (k == SPARK_CTL_REJOIN || k == SPARK_CTL_REJOIN_ACK)
			fuzz_rail_example(&f.info, "roceP2p1s0f0", 101);
		if (k == SPARK_CTL_RESEND) {   /* a verdict on receives 9..12 */
			f.resend.base = 9;
			f.resend.count = 4;
			memcpy(f.resend.mask, (const uint8_t[]){3, 1, 2, 0}, 4);
		}
		f.seq = FIXED_SEQ;
		spark_ctl_encode(&f, buf);
		buf[SPARK_CTL_SIZE] = 0;                        /* expect FIXED_SEQ */
		buf[SPARK_CTL_SIZE + 1] = SPARK_REASON_LEN - 1;
		emit(buf, sizeof buf);
	}
}
