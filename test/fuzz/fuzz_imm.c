/* The immediate of a WRITE_WITH_IMM: 32 bits chosen by the peer, and the
 * receiver's checks of it against the receive it names. Input: 4 bytes,
 * host order (the engine has already swapped them), then what the receiver
 * holds for the slot: rails of the comm (0..4), buffers outstanding (0..8),
 * bytes posted for buffer 0 (4 bytes, signed), the share count and size an
 * earlier IMM of the receive announced (1 + 4 bytes), a byte choosing the
 * fault text's length. Every value decodes into fields in their ranges and
 * the coding is a bijection; spark_imm_ok (the data path's) and
 * spark_imm_check agree; an accepted size fits the posted buffer. */
#include "fuzz.h"

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void check_receiver(const struct spark_imm *imm, const struct spark_imm_expect *x,
			   int len)
{
	struct spark_wire_fault f;
	bool ok = spark_imm_check(imm, x, &f);
	FUZZ_CHECK(ok == spark_imm_ok(imm, x), "spark_imm_ok says %d, spark_imm_check %d", !ok,
		   ok);
	if (!ok) {
		fuzz_fault_check(&f, len);
		return;
	}
	FUZZ_CHECK(x->nbufs != 0, "an IMM for a slot with no receive accepted");
	FUZZ_CHECK(imm->share < x->nrails && imm->nshares <= x->nrails, "share %u of %u, %u rails",
		   imm->share, imm->nshares, x->nrails);
	FUZZ_CHECK(x->nshares == 0 || (imm->nshares == x->nshares && imm->size == x->size),
		   "shares of one receive disagree");
	if (imm->size != SPARK_IMM_IN_RECORD) {
		FUZZ_CHECK(x->nbufs == 1, "a size in the IMM for %u buffers", x->nbufs);
		FUZZ_CHECK((int64_t)imm->size <= x->posted, "%u bytes into %lld posted", imm->size,
			   (long long)x->posted);
		FUZZ_CHECK((int32_t)imm->size >= 0, "size %u does not fit sizes[]", imm->size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, 16);
	uint32_t v = get32(in);
	struct spark_imm_expect x = {
		.nrails = in[4] % 5u,
		.nbufs = in[5] % (SPARK_MAX_RECVS + 1u),
		.posted = (int32_t)get32(in + 6),
		.nshares = in[10] % 3u,
		.size = get32(in + 11) & SPARK_IMM_IN_RECORD,
	};
	int len = 1 + in[15] % SPARK_REASON_LEN;
	free(in);
	struct spark_imm imm, again;
	spark_imm_decode(v, &imm);
	FUZZ_CHECK(imm.slot < SPARK_SLOTS, "slot %u", imm.slot);
	FUZZ_CHECK(imm.share <= 1 && imm.nshares >= 1 && imm.nshares <= 2, "share %u of %u",
		   imm.share, imm.nshares);
	FUZZ_CHECK(imm.size <= SPARK_IMM_IN_RECORD, "size %#x", imm.size);
	FUZZ_CHECK(spark_imm_encode(&imm) == v, "%#x re-encodes as %#x", v, spark_imm_encode(&imm));
	spark_imm_decode(spark_imm_encode(&imm), &again);
	FUZZ_CHECK(memcmp(&imm, &again, sizeof imm) == 0, "decode(encode(x)) != x for %#x", v);
	check_receiver(&imm, &x, len);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	static const struct {
		struct spark_imm imm;
		struct spark_imm_expect x;
	} seeds[] = {
		{{0, 0, 1, 4096}, {2, 1, 1 << 20, 0, 0}},                    /* whole on rail 0 */
		{{63, 1, 2, SPARK_IMM_IN_RECORD}, {2, 3, 4096, 2, SPARK_IMM_IN_RECORD}},
		{{7, 0, 2, SPARK_IMM_SIZE_MAX}, {2, 1, 1 << 24, 0, 0}},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		uint8_t buf[16];
		uint32_t v = spark_imm_encode(&seeds[i].imm);
		int32_t posted = (int32_t)seeds[i].x.posted;
		memcpy(buf, &v, 4);
		buf[4] = (uint8_t)seeds[i].x.nrails;
		buf[5] = (uint8_t)seeds[i].x.nbufs;
		memcpy(buf + 6, &posted, 4);
		buf[10] = (uint8_t)seeds[i].x.nshares;
		memcpy(buf + 11, &seeds[i].x.size, 4);
		buf[15] = SPARK_REASON_LEN - 1;
		emit(buf, sizeof buf);
	}
}
