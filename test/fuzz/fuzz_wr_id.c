/* The wr_id: 64 bits the NIC hands back in every completion. The engine
 * trusts only its decoded fields; they must stay in their ranges and the
 * coding must lose nothing but the unused bits. Input: 8 bytes, host order. */
#include "fuzz.h"

/* Bits the encoder uses: kind 0-7, rail 8-11, slot 16-31, released 32-47,
 * share 48-51. */
#define WR_ID_USED 0x000fffffffff0fffull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, sizeof(uint64_t));
	uint64_t v;
	memcpy(&v, in, sizeof v);
	free(in);
	struct spark_wr_id w, again;
	spark_wr_id_decode(v, &w);
	FUZZ_CHECK((uint32_t)w.kind <= 0xffu, "kind %u", (unsigned)w.kind);
	FUZZ_CHECK(w.rail <= 15 && w.share <= 15, "rail %u share %u", w.rail, w.share);
	FUZZ_CHECK(w.slot <= 0xffff && w.released <= 0xffff, "slot %u released %u", w.slot,
		   w.released);
	uint64_t back = spark_wr_id_encode(&w);
	FUZZ_CHECK(back == (v & WR_ID_USED), "%#llx re-encodes as %#llx", (unsigned long long)v,
		   (unsigned long long)back);
	spark_wr_id_decode(back, &again);
	FUZZ_CHECK(memcmp(&w, &again, sizeof w) == 0, "decode(encode(x)) != x for %#llx",
		   (unsigned long long)v);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	static const struct spark_wr_id seeds[] = {
		{SPARK_WR_DATA, 1, 63, 17, 1},
		{SPARK_WR_CTS, 0, 5, 1, 0},
		{SPARK_WR_RECV, 1, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		uint64_t v = spark_wr_id_encode(&seeds[i]);
		emit((const uint8_t *)&v, sizeof v);
	}
}
