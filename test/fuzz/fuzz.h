/* What every harness shares: the libFuzzer entry point, the seed hook, a
 * property check that aborts (libFuzzer keeps the input as a crash; the
 * replay driver exits non-zero), and the checks every decoder's reason text
 * must pass. A harness is one file, test/fuzz/fuzz_<name>.c, defining
 * LLVMFuzzerTestOneInput and fuzz_seeds; test/fuzz/module.mk finds it by its
 * name and its kept corpus in test/fuzz/corpus/<name>/. */
#ifndef SPARK_FUZZ_H
#define SPARK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness hands each valid encoding it knows to emit: `make fuzz-seeds`
 * writes them into the corpus, and the replay driver runs them every time. */
typedef void (*fuzz_emit_fn)(const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_emit_fn emit);

#define FUZZ_CHECK(cond, ...)                                                              \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__, __LINE__, \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Bytes [off, off+n) of the input, zero-padded, in a buffer of exactly n
 * bytes on the heap, so that ASan catches a decoder reading past it. */
static inline uint8_t *fuzz_take(const uint8_t *data, size_t size, size_t off, size_t n)
{
	uint8_t *p = calloc(1, n);
	if (p == NULL)
		abort();
	if (off < size)
		memcpy(p, data + off, size - off < n ? size - off : n);
	return p;
}

/* The input byte at off, or dflt past its end. */
static inline uint8_t fuzz_byte(const uint8_t *data, size_t size, size_t off, uint8_t dflt)
{
	return off < size ? data[off] : dflt;
}

/* A reason buffer of exactly len bytes, filled with junk so that a decoder
 * that forgets the NUL is caught. */
static inline char *fuzz_reason_alloc(int len)
{
	char *r = malloc((size_t)len);
	if (r == NULL)
		abort();
	memset(r, 'Z', (size_t)len);
	return r;
}

/* The last refusal's reason: the replay driver insists that every seed (a
 * valid encoding) is accepted, and prints this when one is not. */
__attribute__((weak)) char fuzz_refused[256];

/* A refusal's reason: NUL-terminated within its length, and saying
 * something wherever there is room for more than the NUL. */
static inline void fuzz_reason_check(const char *reason, int len)
{
	FUZZ_CHECK(memchr(reason, 0, (size_t)len) != NULL, "reason not NUL-terminated in %d bytes",
		   len);
	FUZZ_CHECK(len < 2 || reason[0] != 0, "a refusal without a reason");
	snprintf(fuzz_refused, sizeof fuzz_refused, "refused: %s", len < 2 ? "(no room)" : reason);
}

#endif
