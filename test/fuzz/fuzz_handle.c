/* The listen handle: bytes NCCL copies from the listener to the connector,
 * so anything a corrupted or foreign rank sends. Input: the 128-byte handle,
 * then one byte choosing the reason buffer's length. Accepted handles
 * re-encode to the same public bytes and hold only values connect can use. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, SPARK_HANDLE_SIZE);
	int len = 1 + fuzz_byte(data, size, SPARK_HANDLE_SIZE, SPARK_REASON_LEN - 1) % SPARK_REASON_LEN;
	char *reason = fuzz_reason_alloc(len);
	struct spark_handle h;
	if (spark_handle_decode(in, &h, reason, len) != 0) {
		fuzz_reason_check(reason, len);
	} else {
		FUZZ_CHECK(h.family == 2 || h.family == 10, "family %u", h.family);
		FUZZ_CHECK(h.port != 0, "port 0 accepted");
		FUZZ_CHECK(h.nrails >= 1 && h.nrails <= SPARK_MAX_RAILS, "rail count %u", h.nrails);
		for (int i = 4; h.family == 2 && i < 16; i++)
			FUZZ_CHECK(h.addr[i] == 0, "IPv4 handle with address byte %d set", i);
		uint8_t out[SPARK_HANDLE_SIZE];
		spark_handle_encode(&h, out);
		/* The connector's scratch space past the public part is its own. */
		for (int i = 0; i < SPARK_HANDLE_PUBLIC; i++)
			FUZZ_CHECK(out[i] == in[i], "byte %d re-encodes as %#x, was %#x", i, out[i],
				   in[i]);
	}
	free(reason);
	free(in);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	static const struct spark_handle seeds[] = {
		{.family = 2, .port = 43210, .addr = {192, 168, 100, 1},
		 .nonce = 0x1122334455667788ull, .nrails = 2},
		{.family = 10, .port = 1, .addr = {0xfe, 0x80, [15] = 1}, .nonce = 1, .nrails = 1},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		uint8_t buf[SPARK_HANDLE_SIZE + 1];
		spark_handle_encode(&seeds[i], buf);
		buf[SPARK_HANDLE_SIZE] = SPARK_REASON_LEN - 1;
		emit(buf, sizeof buf);
	}
}
