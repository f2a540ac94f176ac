/* The immediate of a WRITE_WITH_IMM: 32 bits chosen by the peer. Input: 4
 * bytes, host order (the engine has already swapped them). Every value
 * decodes into fields in their ranges, and the coding is a bijection. */
#include "fuzz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, sizeof(uint32_t));
	uint32_t v;
	memcpy(&v, in, sizeof v);
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
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	static const struct spark_imm seeds[] = {
		{0, 0, 1, 4096},
		{63, 1, 2, SPARK_IMM_IN_RECORD},
		{7, 0, 2, SPARK_IMM_SIZE_MAX},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		uint32_t v = spark_imm_encode(&seeds[i]);
		emit((const uint8_t *)&v, sizeof v);
	}
}
