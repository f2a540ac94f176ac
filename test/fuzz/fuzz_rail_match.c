/* Rail matching: which of the peer's rails (from its HELLO or REPLY) each
 * local rail talks to. Input: the local and the peer's rail counts (0..5:
 * more than SPARK_WIRE_MAX_RAILS is cut), a log buffer length, then 6 bytes
 * per rail (IPv4 address, prefix, a byte choosing the name and the GID's
 * /64). The match must pair only rails that reach each other, each peer rail
 * at most once, and as many as any assignment could (checked by brute
 * force); the log line stays NUL-terminated in its buffer. */
#include "fuzz.h"
#include "rail_match.h"

enum { MAXR = SPARK_WIRE_MAX_RAILS + 1, RAIL_BYTES = 6, HDR = 3 };

static void rail_from(const uint8_t *p, struct spark_rail_info *r)
{
	static const char *const names[] = {"rocep1s0f0", "roceP2p1s0f0", "mlx5_0", "mlx5_1"};
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", names[p[5] & 3u]);
	r->ipv4 = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	r->prefix = p[4] % 33u;
	r->gid[0] = 0xfe; r->gid[1] = 0x80; r->gid[7] = p[5] >> 2; r->gid[15] = 1;
}

/* The most pairs any injective assignment of reaching rails makes. */
static uint32_t most_pairs(bool reach[MAXR][MAXR], uint32_t i, uint32_t n, uint32_t m,
			   uint32_t taken)
{
	if (i == n)
		return 0;
	uint32_t best = most_pairs(reach, i + 1, n, m, taken);
	for (uint32_t j = 0; j < m; j++) {
		if (reach[i][j] && !(taken >> j & 1u)) {
			uint32_t v = 1 + most_pairs(reach, i + 1, n, m, taken | 1u << j);
			best = v > best ? v : best;
		}
	}
	return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_take(data, size, 0, HDR + 2 * MAXR * RAIL_BYTES);
	uint32_t nl = fuzz_byte(data, size, 0, 0) % (MAXR + 1);
	uint32_t np = fuzz_byte(data, size, 1, 0) % (MAXR + 1);
	int len = 1 + fuzz_byte(data, size, 2, 0);
	struct spark_rail_info local[MAXR], peer[MAXR];
	for (uint32_t i = 0; i < MAXR; i++) {
		rail_from(in + HDR + i * RAIL_BYTES, &local[i]);
		rail_from(in + HDR + (MAXR + i) * RAIL_BYTES, &peer[i]);
	}
	free(in);
	struct spark_rail_match m;
	spark_rails_match(local, nl, peer, np, &m);
	uint32_t cl = nl < SPARK_WIRE_MAX_RAILS ? nl : SPARK_WIRE_MAX_RAILS;
	uint32_t cp = np < SPARK_WIRE_MAX_RAILS ? np : SPARK_WIRE_MAX_RAILS;
	bool reach[MAXR][MAXR] = {{false}};
	/* cppcheck takes fuzz_byte's default (0) as every count. */
	// cppcheck-suppress knownConditionTrueFalse
	for (uint32_t i = 0; i < cl; i++)
		for (uint32_t j = 0; j < cp; j++) {
			reach[i][j] = spark_rails_reach(&local[i], &peer[j]);
			FUZZ_CHECK(reach[i][j] == spark_rails_reach(&peer[j], &local[i]),
				   "reach(%u, %u) is not symmetric", i, j);
		}
	uint32_t taken = 0, n = 0;
	for (uint32_t i = 0; i < SPARK_WIRE_MAX_RAILS; i++) {
		uint8_t j = m.peer[i];
		FUZZ_CHECK((m.mask >> i & 1u) == (j != SPARK_RAIL_NONE), "rail %u: mask %#x, peer %u",
			   i, m.mask, j);
		if (j == SPARK_RAIL_NONE)
			continue;
		FUZZ_CHECK(i < cl && j < cp, "rail %u of %u paired with peer %u of %u", i, nl, j, np);
		FUZZ_CHECK(reach[i][j], "rail %u paired with peer %u, which it does not reach", i, j);
		FUZZ_CHECK(!(taken >> j & 1u), "peer rail %u paired twice", j);
		taken |= 1u << j;
		n++;
	}
	FUZZ_CHECK(n == m.nmatched, "%u pairs, nmatched %u", n, m.nmatched);
	uint32_t most = most_pairs(reach, 0, cl, cp, 0);
	FUZZ_CHECK(n == most, "%u pairs where %u are possible", n, most);
	char *buf = fuzz_reason_alloc(len);
	spark_rails_format(local, nl, buf, len);
	FUZZ_CHECK(memchr(buf, 0, (size_t)len) != NULL, "log line not NUL-terminated in %d", len);
	free(buf);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn emit)
{
	/* A one-rail host [roceP2p1s0f0] against a two-rail peer, and two
	 * two-rail hosts whose NCCL_SPARK_PAIRS list the halves in opposite
	 * orders. */
	static const uint8_t seeds[][HDR + 2 * MAXR * RAIL_BYTES] = {
		{1, 2, 159, 192, 168, 101, 1, 24, 1, [HDR + MAXR * RAIL_BYTES] =
		 192, 168, 100, 2, 24, 0, 192, 168, 101, 2, 24, 1},
		{2, 2, 159, 192, 168, 100, 1, 24, 0, 192, 168, 101, 1, 24, 1,
		 [HDR + MAXR * RAIL_BYTES] = 192, 168, 101, 2, 24, 1, 192, 168, 100, 2, 24, 0},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		emit(seeds[i], sizeof seeds[i]);
}
