/* Clear-to-send entries: the receiver RDMA-writes them into the sender's
 * FIFO, so every byte is the peer's. Input: SPARK_MAX_RECVS raw 64-byte
 * entries, then the sequence number expected (8 bytes; or, with bit 0 of the
 * next byte, entry 0's own), a byte of key_rails (rails whose rkey must be
 * set; bits past the wire's rails are a fault too), a byte choosing the
 * fault text's length. The data path's spark_cts_ok and the naming
 * spark_cts_check agree; accepted entries are usable (buffers not at 0, not
 * wrapping, keyed); refused ones name their fault; the seq classifier says
 * LANDED only for the expected seq. */
#include "fuzz.h"

enum { ENTRIES = SPARK_MAX_RECVS, ESZ = sizeof(struct spark_cts_entry), TAIL = ENTRIES * ESZ };

static void check_accepted(const struct spark_cts_entry *e, uint64_t seq, uint32_t keys)
{
	uint32_t n = e[0].nreqs;
	FUZZ_CHECK(n >= 1 && n <= SPARK_MAX_RECVS, "%u buffers", n);
	for (uint32_t i = 0; i < n; i++) {
		FUZZ_CHECK(e[i].seq == seq && e[i].nreqs == n, "entry %u: seq %llu, nreqs %u", i,
			   (unsigned long long)e[i].seq, e[i].nreqs);
		if (e[i].size == 0)
			continue;
		FUZZ_CHECK(e[i].addr != 0, "entry %u: %llu bytes at 0", i,
			   (unsigned long long)e[i].size);
		FUZZ_CHECK(e[i].addr + e[i].size >= e[i].addr, "entry %u wraps", i);
		/* key_rails is the caller's: past the wire's rails it is a fault
		 * only where a key is needed, for a buffer with bytes to write. */
		FUZZ_CHECK(keys >> SPARK_WIRE_MAX_RAILS == 0, "entry %u: rkeys of rail mask %#x", i,
			   keys);
		for (uint32_t r = 0; r < SPARK_WIRE_MAX_RAILS; r++)
			FUZZ_CHECK(!(keys >> r & 1u) || e[i].rkey[r] != 0, "entry %u: rail %u unkeyed",
				   i, r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spark_cts_entry *e = aligned_alloc(64, TAIL);
	FUZZ_CHECK(e != NULL, "out of memory");
	uint8_t *in = fuzz_take(data, size, 0, TAIL + 11);
	memcpy(e, in, TAIL);
	uint64_t seq;
	memcpy(&seq, in + TAIL, sizeof seq);
	if (in[TAIL + 8] & 1u)
		seq = e[0].seq;
	uint32_t keys = in[TAIL + 9];
	int len = 1 + in[TAIL + 10] % SPARK_REASON_LEN;
	uint32_t entry = (in[TAIL + 8] >> 1) % ENTRIES;
	free(in);

	struct spark_wire_fault f;
	bool ok = spark_cts_check(e, seq, keys, &f);
	FUZZ_CHECK(ok == spark_cts_ok(e, seq, keys), "spark_cts_ok says %d, spark_cts_check %d",
		   !ok, ok);
	if (ok)
		check_accepted(e, seq, keys);
	else
		fuzz_fault_check(&f, len);

	uint64_t got = e[entry].seq;
	enum spark_cts_seq st = spark_cts_seq_state(got, seq, entry);
	FUZZ_CHECK((st == SPARK_CTS_LANDED) == (got == seq), "seq %llu for %llu: state %d",
		   (unsigned long long)got, (unsigned long long)seq, (int)st);
	FUZZ_CHECK(st != SPARK_CTS_PENDING || got == 0 || (got < seq && (seq - got) % SPARK_SLOTS == 0),
		   "seq %llu pending for %llu (entry %u)", (unsigned long long)got,
		   (unsigned long long)seq, entry);
	free(e);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	static uint8_t buf[TAIL + 11];
	for (uint32_t n = 1; n <= SPARK_MAX_RECVS; n += SPARK_MAX_RECVS - 1) {
		struct spark_cts_entry e[ENTRIES];
		memset(e, 0, sizeof e);
		for (uint32_t i = 0; i < n; i++) {
			e[i].addr = 0x7f0000100000ull + i * 0x100000u;
			e[i].size = i == 1 ? 0 : 1u << 20;   /* a zero-byte buffer needs no key */
			e[i].rkey[0] = 0x1000 + i;
			e[i].rkey[1] = 0x2000 + i;
			e[i].tag = (int32_t)i - 1;
			e[i].nreqs = n;
			e[i].seq = 65 + 64;                  /* slot 1, second use */
		}
		memcpy(buf, e, TAIL);
		uint64_t seq = 65 + 64;
		memcpy(buf + TAIL, &seq, sizeof seq);
		buf[TAIL + 8] = 0;
		buf[TAIL + 9] = 3;                           /* both rails keyed */
		buf[TAIL + 10] = SPARK_REASON_LEN - 1;
		emit(buf, sizeof buf);
	}
}
