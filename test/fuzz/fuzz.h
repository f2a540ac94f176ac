/* What every harness shares: the libFuzzer entry point, the seed hook, a
 * property check that aborts (libFuzzer keeps the input as a crash; the
 * replay driver exits non-zero), and the checks every decoder's reason text
 * must pass. A harness is one file, test/fuzz/fuzz_<name>.c, defining
 * LLVMFuzzerTestOneInput and fuzz_seeds; test/fuzz/module.mk finds it by its
 * name and its kept corpus in test/fuzz/corpus/<name>/. */
#ifndef SPARK_FUZZ_H
#define SPARK_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hca_spec.h"
#include "wire.h"

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

static inline bool fuzz_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* An accepted rail description (handshake, control frames): values a QP
 * can be brought up with. */
static inline void fuzz_rail_check(const struct spark_rail_info *r, uint32_t i)
{
	size_t n = strnlen(r->name, SPARK_NAME_LEN);
	FUZZ_CHECK(n > 0 && n < SPARK_NAME_LEN, "rail %u: name of %zu bytes", i, n);
	FUZZ_CHECK(spark_hca_name_valid(r->name, (int)n), "rail %u: name %s", i, r->name);
	FUZZ_CHECK(!fuzz_all_zero(r->gid, sizeof r->gid), "rail %u: zero GID", i);
	FUZZ_CHECK(r->prefix <= 32, "rail %u: prefix %u", i, r->prefix);
	FUZZ_CHECK(r->qpn >= 1 && r->qpn <= 0xffffff, "rail %u: QPN %#x", i, r->qpn);
	FUZZ_CHECK(r->psn <= 0xffffff, "rail %u: PSN %#x", i, r->psn);
	FUZZ_CHECK(r->mtu >= 256 && r->mtu <= 4096 && (r->mtu & (r->mtu - 1)) == 0,
		   "rail %u: MTU %u", i, r->mtu);
	FUZZ_CHECK(r->addr != 0, "rail %u: NULL address", i);
}

/* A refused wire struct (wire.h's range checks): the fault names a field
 * and a rule, and its text stays NUL-terminated in a buffer of len bytes. */
static inline void fuzz_fault_check(const struct spark_wire_fault *f, int len)
{
	FUZZ_CHECK(f->field != NULL && f->field[0] != 0 && f->rule != NULL && f->rule[0] != 0,
		   "a fault that names no field or rule");
	char *text = fuzz_reason_alloc(len);
	spark_wire_fault_str(f, text, len);
	fuzz_reason_check(text, len);
	free(text);
}

/* A rail as a Spark describes it (seeds). */
static inline void fuzz_rail_example(struct spark_rail_info *r, const char *name, uint8_t subnet)
{
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->gid[10] = r->gid[11] = 0xff;
	r->gid[12] = 192; r->gid[13] = 168; r->gid[14] = subnet; r->gid[15] = 1;
	r->ipv4 = 0xc0a80001u | (uint32_t)subnet << 8;
	r->prefix = 24;
	r->qpn = 0x1234u + subnet;
	r->psn = 0xabcdef;
	r->mtu = 4096;
	r->rkey = 0x100u + subnet;
	r->addr = 0x7f0000001000ull;
}

#endif
