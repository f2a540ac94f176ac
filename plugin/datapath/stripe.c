#include "stripe.h"

#include <stdbool.h>

/* Time (in bytes per weight unit) until rail r has drained its queue. */
static double drain(const struct spark_stripe_policy *p, const uint64_t *queued, uint32_t r)
{
	return (double)queued[r] / (double)p->weight[r];
}

/* The rail that would finish the whole message first; ties go to the first
 * candidate counted from `first`. */
static uint32_t finishes_first(const struct spark_stripe_policy *p, uint64_t size,
			       const uint64_t *queued, uint32_t first, uint32_t usable)
{
	uint32_t best = UINT32_MAX;
	double best_t = 0;
	for (uint32_t k = 0; k < p->nrails; k++) {
		uint32_t r = (first + k) % p->nrails;
		if (!(usable & (1u << r)))
			continue;
		double t = (double)(queued[r] + size) / (double)p->weight[r];
		if (best == UINT32_MAX || t < best_t) {
			best = r;
			best_t = t;
		}
	}
	return best;
}

/* Deep window: every other rail has at least this message's time on `best`
 * queued already, so it stays busy without a piece of this one. */
static bool others_are_busy(const struct spark_stripe_policy *p, uint64_t size,
			    const uint64_t *queued, uint32_t best, uint32_t usable)
{
	double need = (double)size / (double)p->weight[best];
	for (uint32_t r = 0; r < p->nrails; r++)
		if ((usable & (1u << r)) && r != best && drain(p, queued, r) < need)
			return false;
	return true;
}

/* Water-filling over `use`: the finish time T at which the rails in use,
 * each starting after its queue, together carry `size` bytes. A rail whose
 * queue alone outlasts T takes no part; it is dropped and T recomputed. */
static double fill_level(const struct spark_stripe_policy *p, uint64_t size,
			 const uint64_t *queued, uint32_t *use)
{
	for (;;) {
		double bytes = (double)size, weight = 0;
		for (uint32_t r = 0; r < p->nrails; r++)
			if (*use & (1u << r)) {
				bytes += (double)queued[r];
				weight += p->weight[r];
			}
		double t = bytes / weight;
		uint32_t keep = *use;
		for (uint32_t r = 0; r < p->nrails; r++)
			if ((*use & (1u << r)) && drain(p, queued, r) >= t)
				keep &= ~(1u << r);
		if (keep == *use || keep == 0)
			return t;
		*use = keep;
	}
}

static double share_of(const struct spark_stripe_policy *p, const uint64_t *queued,
		       uint32_t r, double t)
{
	return t * p->weight[r] - (double)queued[r];
}

/* Drops, one at a time, the rail with the smallest share while that share
 * is below the minimum stripe: no rail gets a piece too small to pay for
 * its WR and completion. */
static uint32_t rails_worth_using(const struct spark_stripe_policy *p, uint64_t size,
				  const uint64_t *queued, uint32_t use, double *t)
{
	uint64_t floor = p->min_stripe > SPARK_STRIPE_ALIGN ? p->min_stripe : SPARK_STRIPE_ALIGN;
	for (;;) {
		*t = fill_level(p, size, queued, &use);
		if ((use & (use - 1)) == 0)
			return use;
		uint32_t smallest = UINT32_MAX;
		for (uint32_t r = 0; r < p->nrails; r++)
			if ((use & (1u << r)) &&
			    (smallest == UINT32_MAX ||
			     share_of(p, queued, r, *t) < share_of(p, queued, smallest, *t)))
				smallest = r;
		if (share_of(p, queued, smallest, *t) >= (double)floor)
			return use;
		use &= ~(1u << smallest);
	}
}

static unsigned whole_on(uint32_t rail, uint64_t size, struct spark_stripe_piece *pieces)
{
	pieces[0] = (struct spark_stripe_piece){.rail = rail, .offset = 0, .length = size};
	return 1;
}

/* Cuts at the water level, on 128-byte lines; the last rail used takes the
 * remainder, so the pieces always add up to size. */
static unsigned cut(const struct spark_stripe_policy *p, uint64_t size, const uint64_t *queued,
		    uint32_t use, double t, struct spark_stripe_piece *pieces)
{
	uint32_t last = 31u - (uint32_t)__builtin_clz(use);
	unsigned n = 0;
	uint64_t offset = 0;
	for (uint32_t r = 0; r < p->nrails; r++) {
		if (!(use & (1u << r)))
			continue;
		uint64_t len = size - offset;
		if (r != last) {
			double share = share_of(p, queued, r, t);
			uint64_t want = share <= 0 ? 0 : (uint64_t)share;
			want -= want % SPARK_STRIPE_ALIGN;
			len = want < len ? want : len;
		}
		pieces[n++] = (struct spark_stripe_piece){.rail = r, .offset = offset, .length = len};
		offset += len;
	}
	return n;
}

unsigned spark_stripe_plan(const struct spark_stripe_policy *policy, uint64_t size,
			   const uint64_t *queued, uint32_t first,
			   struct spark_stripe_piece *pieces)
{
	if (policy->nrails == 0 || policy->nrails > SPARK_STRIPE_MAX_RAILS)
		return 0;
	uint32_t usable = 0;
	for (uint32_t r = 0; r < policy->nrails; r++)
		if (policy->weight[r] > 0)
			usable |= 1u << r;
	if (usable == 0)
		return 0;
	first %= policy->nrails;
	bool small = size < 2 * policy->min_stripe || size < 2 * SPARK_STRIPE_ALIGN;
	if (small) {
		/* Latency, not bandwidth: any idle rail finishes it as soon;
		 * idle rails take turns, so small traffic spreads. */
		for (uint32_t k = 0; k < policy->nrails; k++) {
			uint32_t r = (first + k) % policy->nrails;
			if ((usable & (1u << r)) && queued[r] == 0)
				return whole_on(r, size, pieces);
		}
	}
	uint32_t best = finishes_first(policy, size, queued, first, usable);
	if (small || (usable & (usable - 1)) == 0 ||
	    others_are_busy(policy, size, queued, best, usable))
		return whole_on(best, size, pieces);
	double t;
	uint32_t use = rails_worth_using(policy, size, queued, usable, &t);
	if ((use & (use - 1)) == 0)
		return whole_on(use & (1u << best) ? best : (uint32_t)__builtin_ctz(use), size,
				pieces);
	return cut(policy, size, queued, use, t, pieces);
}
