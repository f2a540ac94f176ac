/* Each comm's message plan: a splitmix64 stream seeded from the run's seed
 * and the comm's index, drawn in the same order on both hosts, so sender and
 * receiver agree on every group, size, tag and pattern without talking. */
#include <string.h>

#include "stress.h"

/* Per mille: tiny, small, chunk, medium, big. NCCL's proxy moves a
 * collective in chunks (NCCL_P2P_NET_CHUNKSIZE 128 KiB, Simple protocol
 * steps up to 4 MiB), with small LL/LL128 messages and rare huge p2p ones. */
static const struct st_mix mixes[] = {
	{"nccl", 100, 150, 680, 65, 5, 64 * ST_MiB},
	/* CI: the shape of "nccl" with the bytes cut, so 10^5 messages fit in a
	 * couple of minutes on 2 cores: more small messages, big ones 16 MiB. */
	{"ci", 250, 400, 340, 9, 1, 16 * ST_MiB},
	/* Sanitizers, valgrind, qemu: 10-50x slower per byte; no big class. */
	{"slow", 300, 450, 247, 3, 0, 0},
};

uint64_t st_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t st_below(uint64_t *s, uint64_t n)
{
	return n ? st_rand(s) % n : 0;
}

const struct st_mix *st_mix_named(const char *name)
{
	for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
		if (strcmp(mixes[i].name, name) == 0)
			return &mixes[i];
	return NULL;
}

void st_plan_init(struct st_plan *pl, uint64_t seed, int comm, const struct st_mix *mix)
{
	memset(pl, 0, sizeof *pl);
	pl->seed = seed;
	pl->comm = comm;
	pl->mix = mix;
	pl->rng = seed ^ ((uint64_t)(comm + 1) * 0xd6e8feb86659fd93ull);
	st_rand(&pl->rng);
}

/* Log-uniform in [lo, hi]: as many 8-16 KiB chunks as 512 KiB-1 MiB ones. */
static uint64_t log_uniform(uint64_t *s, uint64_t lo, uint64_t hi)
{
	int a = 63 - __builtin_clzll(lo), b = 63 - __builtin_clzll(hi);
	int e = a + (int)st_below(s, (uint64_t)b - (uint64_t)a + 1);
	uint64_t base = 1ull << e, top = e == b ? hi : (base << 1) - 1;
	if (base < lo)
		base = lo;
	return base + st_below(s, top - base + 1);
}

static uint64_t draw_size(struct st_plan *pl)
{
	const struct st_mix *m = pl->mix;
	uint64_t r = st_below(&pl->rng, 1000);
	if (r < m->tiny)
		return st_below(&pl->rng, 65);
	r -= m->tiny;
	if (r < m->small)
		return log_uniform(&pl->rng, 65, 8 * ST_KiB);
	r -= m->small;
	if (r < m->chunk) {
		/* NCCL's chunks are mostly round: half exact powers of two. */
		uint64_t v = log_uniform(&pl->rng, 8 * ST_KiB, ST_MiB);
		return st_below(&pl->rng, 2) ? v : 1ull << (63 - __builtin_clzll(v));
	}
	r -= m->chunk;
	if (r < m->medium || m->max_big == 0)
		return log_uniform(&pl->rng, ST_MiB + 1, 16 * ST_MiB);
	return log_uniform(&pl->rng, 16 * ST_MiB + 1, m->max_big);
}

/* Posted size >= sent: often exact, often a little more, sometimes up to
 * double (at most 1 MiB more: NCCL posts its buffer size, not twice it). */
static uint64_t draw_posted(struct st_plan *pl, uint64_t size)
{
	uint64_t r = st_below(&pl->rng, 10);
	if (r < 4)
		return size;
	if (r < 9)
		return size + 1 + st_below(&pl->rng, ST_GUARD);
	uint64_t extra = size < ST_MiB ? size : ST_MiB;
	return size + st_below(&pl->rng, extra + 1);
}

/* Grouped receives carry chunks: each of a group is at most 1 MiB. */
#define GROUPED_MAX ST_MiB

uint64_t st_group_cap(const struct st_mix *mix)
{
	uint64_t single = (mix->max_big ? mix->max_big : 16 * ST_MiB) + ST_MiB;
	uint64_t grouped = SPARK_MAX_RECVS * (2 * GROUPED_MAX + 64);
	return (single > grouped ? single : grouped) + 64;
}

void st_plan_next(struct st_plan *pl, struct st_group *g)
{
	memset(g, 0, sizeof *g);
	/* NCCL groups receives of one step (PXN, alltoall): mostly alone. */
	uint64_t r = st_below(&pl->rng, 10);
	g->n = r < 6 ? 1 : 2 + (int)st_below(&pl->rng, SPARK_MAX_RECVS - 1);
	for (int i = 0; i < g->n; i++) {
		struct st_msg *m = &g->m[i];
		uint64_t size = draw_size(pl);
		if (size > GROUPED_MAX && g->n > 1)
			size = GROUPED_MAX;     /* the big ones travel alone */
		uint64_t posted = draw_posted(pl, size);
		m->size = (uint32_t)size;
		m->posted = (uint32_t)posted;
		m->tag = (uint32_t)(pl->comm * 16 + i);  /* distinct within the group */
		m->id = (uint32_t)st_rand(&(uint64_t){pl->seed ^ (pl->msgs << 8) ^ (uint64_t)pl->comm});
		g->bytes += (posted + 63) & ~63ull;
		g->order[i] = (uint8_t)i;
		pl->msgs++;
	}
	for (int i = g->n - 1; i > 0; i--) {   /* Fisher-Yates */
		int j = (int)st_below(&pl->rng, (uint64_t)i + 1);
		uint8_t t = g->order[i];
		g->order[i] = g->order[j];
		g->order[j] = t;
	}
}
