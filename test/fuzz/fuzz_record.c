/* Completion records: the sender writes one into the receiver's memory for
 * a grouped receive or a size the immediate cannot carry. Input: the 64-byte
 * record, then the receive it should close: the seq (8 bytes; or, with bit 0
 * of the next byte, the record's own), its buffer count (1..SPARK_MAX_RECVS,
 * from the bits above), each buffer's posted size (4 bytes each), a byte
 * choosing the fault text's length. An accepted record reports no buffer
 * more than was posted, and every refused message's size has a negation
 * (the WARN prints -size). */
#include "fuzz.h"

enum { RSZ = sizeof(struct spark_cmpl_record), TAIL = RSZ + 9 + 4 * SPARK_MAX_RECVS + 1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spark_cmpl_record *rec = aligned_alloc(64, RSZ);
	FUZZ_CHECK(rec != NULL, "out of memory");
	uint8_t *in = fuzz_take(data, size, 0, TAIL);
	memcpy(rec, in, RSZ);
	uint64_t seq;
	memcpy(&seq, in + RSZ, sizeof seq);
	if (in[RSZ + 8] & 1u)
		seq = rec->seq;
	uint32_t nbufs = 1 + (in[RSZ + 8] >> 1) % SPARK_MAX_RECVS;
	int64_t *posted = malloc(nbufs * sizeof *posted);   /* exactly the receive's buffers */
	FUZZ_CHECK(posted != NULL, "out of memory");
	for (uint32_t i = 0; i < nbufs; i++) {
		uint32_t v;
		memcpy(&v, in + RSZ + 9 + 4 * i, sizeof v);
		posted[i] = v & 0x7fffffffu;   /* NCCL's sizes are ints >= 0 */
	}
	int len = 1 + in[TAIL - 1] % SPARK_REASON_LEN;
	free(in);

	struct spark_wire_fault f;
	if (spark_record_check(rec, seq, nbufs, posted, &f)) {
		FUZZ_CHECK(rec->seq == seq && rec->nreqs == nbufs, "seq %llu nreqs %u",
			   (unsigned long long)rec->seq, rec->nreqs);
		for (uint32_t i = 0; i < nbufs; i++) {
			int32_t s = rec->sizes[i];
			FUZZ_CHECK(s != INT32_MIN, "buffer %u: INT32_MIN accepted", i);
			FUZZ_CHECK(s <= posted[i], "buffer %u: %d bytes into %lld posted", i, s,
				   (long long)posted[i]);
		}
	} else {
		fuzz_fault_check(&f, len);
	}
	free(posted);
	free(rec);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	uint8_t buf[TAIL];
	struct spark_cmpl_record rec;
	memset(&rec, 0, sizeof rec);
	memset(buf, 0, sizeof buf);
	rec.nreqs = 3;
	rec.sizes[0] = 4096;
	rec.sizes[1] = 0;
	rec.sizes[2] = -(1 << 24);      /* refused: 16 MiB into a smaller buffer */
	rec.seq = 200;
	memcpy(buf, &rec, RSZ);
	uint64_t seq = 200;
	memcpy(buf + RSZ, &seq, sizeof seq);
	buf[RSZ + 8] = 2 << 1;          /* 3 buffers, the seq above */
	uint32_t posted[3] = {1u << 20, 4096, 1u << 20};
	memcpy(buf + RSZ + 9, posted, sizeof posted);
	buf[TAIL - 1] = SPARK_REASON_LEN - 1;
	emit(buf, sizeof buf);
}
