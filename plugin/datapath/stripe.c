#include "stripe.h"

#include <stdbool.h>

#define sooner spark_stripe_sooner

/* Deep window: every other rail has at least this message's time on `best`
 * queued already, so it stays busy without a piece of this one; and runs
 * within 2x of best's rate (spark_stripe_alike). */
static bool others_are_busy(const struct spark_stripe_policy *p, uint64_t size,
			    const uint64_t *queued, uint32_t best, uint32_t usable)
{
	for (uint32_t m = usable & ~(1u << best); m != 0; m &= m - 1) {
		uint32_t r = (uint32_t)__builtin_ctz(m);
		if (sooner(queued[r], p->weight[r], size, p->weight[best]) ||
		    !spark_stripe_alike(p->weight[r], p->weight[best]))
			return false;
	}
	return true;
}

/* Water-filling: the finish time T at which the rails in `use`, each
 * starting after its own queue, together carry `size` bytes; share[r] is
 * what rail r takes. A rail whose queue alone outlasts T takes no part, and
 * neither does one whose share would fall below the minimum stripe (the
 * smallest goes first): no rail gets a piece too small to pay for its WR
 * and completion. Returns the rails left. */
static uint32_t water_fill(const struct spark_stripe_policy *p, uint64_t size,
			   const uint64_t *queued, uint32_t use, int64_t *share)
{
	/* Integers, not floating point: the same cut on every CPU (aarch64
	 * fuses t * w - q into one rounding, x86_64 does not). */
	int64_t floor = p->min_stripe > SPARK_STRIPE_ALIGN ? (int64_t)p->min_stripe
							    : SPARK_STRIPE_ALIGN;
	while (use & (use - 1)) {
		uint64_t bytes = size, weight = 0;
		for (uint32_t m = use; m != 0; m &= m - 1) {
			uint32_t r = (uint32_t)__builtin_ctz(m);
			bytes += queued[r];
			weight += p->weight[r];
		}
		uint32_t smallest = (uint32_t)__builtin_ctz(use);
		for (uint32_t m = use; m != 0; m &= m - 1) {
			uint32_t r = (uint32_t)__builtin_ctz(m);
			/* Exact either way; 64-bit division where the product fits
			 * (always, for real queues and rates), no libgcc call. */
			uint64_t level = bytes <= UINT64_MAX / UINT32_MAX
						 ? bytes * p->weight[r] / weight
						 : (uint64_t)((unsigned __int128)bytes * p->weight[r] /
							      weight);
			share[r] = (int64_t)level - (int64_t)queued[r];
			if (share[r] < share[smallest])
				smallest = r;
		}
		if (share[smallest] >= floor)
			return use;
		use &= ~(1u << smallest);
	}
	return use;
}

#define whole_on spark_stripe_whole

/* Cuts at the water level, on 128-byte lines; the last rail used takes the
 * remainder, so the pieces always add up to size. */
static unsigned cut(uint64_t size, uint32_t use, const int64_t *share,
		    struct spark_stripe_piece *pieces)
{
	uint32_t last = 31u - (uint32_t)__builtin_clz(use);
	unsigned n = 0;
	uint64_t offset = 0;
	for (uint32_t m = use; m != 0; m &= m - 1) {
		uint32_t r = (uint32_t)__builtin_ctz(m);
		uint64_t len = size - offset;
		if (r != last) {
			uint64_t want = share[r] <= 0 ? 0 : (uint64_t)share[r];
			want -= want % SPARK_STRIPE_ALIGN;
			len = want < len ? want : len;
		}
		pieces[n++] = (struct spark_stripe_piece){.rail = r, .offset = offset, .length = len};
		offset += len;
	}
	return n;
}

/* The shallow-window case: water-fill the usable rails, cut at the level. */
static unsigned cut_any(const struct spark_stripe_policy *policy, uint64_t size,
			const uint64_t *queued, uint32_t usable, uint32_t best,
			struct spark_stripe_piece *pieces)
{
	int64_t share[SPARK_STRIPE_MAX_RAILS];
	uint32_t use = water_fill(policy, size, queued, usable, share);
	if ((use & (use - 1)) == 0)
		return whole_on((use & (1u << best)) != 0 ? best : (uint32_t)__builtin_ctz(use), size,
				pieces);
	return cut(size, use, share, pieces);
}

/* Rail r's share at the water level of two rails (water_fill's arithmetic). */
static int64_t share_of(const struct spark_stripe_policy *p, uint64_t bytes, uint64_t weight,
			const uint64_t *queued, uint32_t r)
{
	uint64_t level = bytes <= UINT64_MAX / UINT32_MAX
				 ? bytes * p->weight[r] / weight
				 : (uint64_t)((unsigned __int128)bytes * p->weight[r] / weight);
	return (int64_t)level - (int64_t)queued[r];
}

/* cut_any for the two rails of a Spark, without its loops: one level, the
 * smaller share dropped if below the floor (the other takes the message
 * whole), else rail 0 takes its share on 128-byte lines and rail 1 the rest.
 * test_stripe.c holds it to cut_any's answers (through spark_stripe_plan and
 * spark_stripe_plan_any). */
unsigned spark_stripe_cut(const struct spark_stripe_policy *policy, uint64_t size,
			  const uint64_t *queued, uint32_t usable, uint32_t best,
			  struct spark_stripe_piece *pieces)
{
	if (usable != 3u)
		return cut_any(policy, size, queued, usable, best, pieces);
	int64_t floor = policy->min_stripe > SPARK_STRIPE_ALIGN ? (int64_t)policy->min_stripe
								 : SPARK_STRIPE_ALIGN;
	uint64_t bytes = size + queued[0] + queued[1];
	uint64_t weight = (uint64_t)policy->weight[0] + policy->weight[1];
	int64_t s0 = share_of(policy, bytes, weight, queued, 0);
	int64_t s1 = share_of(policy, bytes, weight, queued, 1);
	uint32_t smallest = s1 < s0 ? 1u : 0u;
	if ((smallest ? s1 : s0) < floor)
		return whole_on(smallest ^ 1u, size, pieces);
	uint64_t want = s0 <= 0 ? 0 : (uint64_t)s0;
	want -= want % SPARK_STRIPE_ALIGN;
	uint64_t len = want < size ? want : size;
	pieces[0] = (struct spark_stripe_piece){.rail = 0, .offset = 0, .length = len};
	pieces[1] = (struct spark_stripe_piece){.rail = 1, .offset = len, .length = size - len};
	return 2;
}

unsigned spark_stripe_plan_any(const struct spark_stripe_policy *policy, uint64_t size,
			       const uint64_t *queued, uint32_t first,
			       struct spark_stripe_piece *pieces)
{
	uint32_t n = policy->nrails;
	if (n == 0 || n > SPARK_STRIPE_MAX_RAILS)
		return 0;
	/* One pass from `first` on: the usable rails, the first idle one, and
	 * the one that would finish the whole message first (ties: the first). */
	uint32_t usable = 0, idle = UINT32_MAX, best = UINT32_MAX;
	for (uint32_t k = 0, r = first < n ? first : first % n; k < n;
	     k++, r = r + 1 == n ? 0 : r + 1) {
		uint32_t w = policy->weight[r];
		if (w == 0)
			continue;
		usable |= 1u << r;
		if (idle == UINT32_MAX && queued[r] == 0)
			idle = r;
		if (best == UINT32_MAX ||
		    sooner(queued[r] + size, w, queued[best] + size, policy->weight[best]))
			best = r;
	}
	if (usable == 0)
		return 0;
	if (size < 2 * policy->min_stripe || size < 2 * SPARK_STRIPE_ALIGN)
		/* Latency, not bandwidth: any idle rail finishes it as soon;
		 * idle rails take turns, so small traffic spreads. */
		return whole_on(idle != UINT32_MAX ? idle : best, size, pieces);
	if ((usable & (usable - 1)) == 0 || others_are_busy(policy, size, queued, best, usable))
		return whole_on(best, size, pieces);
	return cut_any(policy, size, queued, usable, best, pieces);
}
