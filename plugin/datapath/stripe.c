#include "stripe.h"

#include <stdbool.h>

static uint32_t heaviest_rail(const struct spark_stripe_policy *p)
{
	uint32_t best = 0;
	for (uint32_t r = 1; r < p->nrails; r++)
		if (p->weight[r] > p->weight[best])
			best = r;
	return best;
}

static unsigned whole_on(uint32_t rail, uint64_t size, struct spark_stripe_piece *pieces)
{
	pieces[0] = (struct spark_stripe_piece){ .rail = rail, .offset = 0, .length = size };
	return 1;
}

static uint64_t round_down_aligned(uint64_t v)
{
	return v - v % SPARK_STRIPE_ALIGN;
}

/* Proportional cut over the rails in `use` (a bit mask). The last used rail
 * takes the remainder so the pieces always add up to size. */
static unsigned cut(const struct spark_stripe_policy *p, uint32_t use, uint64_t size,
		    struct spark_stripe_piece *pieces)
{
	uint64_t total_weight = 0;
	uint32_t last = 0;
	for (uint32_t r = 0; r < p->nrails; r++) {
		if (use & (1u << r)) {
			total_weight += p->weight[r];
			last = r;
		}
	}
	unsigned n = 0;
	uint64_t offset = 0;
	for (uint32_t r = 0; r < p->nrails; r++) {
		if (!(use & (1u << r)))
			continue;
		uint64_t len;
		if (r == last) {
			len = size - offset;
		} else {
			/* size < 2^63 and weight < 2^32 cannot overflow 128 bits;
			 * do the product in two halves to stay in 64. */
			uint64_t share = (size / total_weight) * p->weight[r] +
					 (size % total_weight) * p->weight[r] / total_weight;
			len = round_down_aligned(share);
		}
		pieces[n++] = (struct spark_stripe_piece){ .rail = r, .offset = offset, .length = len };
		offset += len;
	}
	return n;
}

/* Drops, one at a time, the lightest rail whose share would fall below the
 * minimum stripe, so no rail is handed a piece too small to pay for itself. */
static uint32_t rails_worth_using(const struct spark_stripe_policy *p, uint64_t size)
{
	uint32_t use = 0;
	for (uint32_t r = 0; r < p->nrails; r++)
		if (p->weight[r] > 0)
			use |= 1u << r;
	for (;;) {
		uint64_t total = 0;
		uint32_t lightest = UINT32_MAX, count = 0;
		for (uint32_t r = 0; r < p->nrails; r++) {
			if (!(use & (1u << r)))
				continue;
			total += p->weight[r];
			count++;
			if (lightest == UINT32_MAX || p->weight[r] < p->weight[lightest])
				lightest = r;
		}
		if (count <= 1)
			return use;
		uint64_t lightest_share = (size / total) * p->weight[lightest] +
					  (size % total) * p->weight[lightest] / total;
		if (lightest_share >= p->min_stripe && lightest_share >= SPARK_STRIPE_ALIGN)
			return use;
		use &= ~(1u << lightest);
	}
}

unsigned spark_stripe_plan(const struct spark_stripe_policy *policy, uint64_t size,
			   uint32_t small_rail, struct spark_stripe_piece *pieces)
{
	if (policy->nrails == 0 || policy->nrails > SPARK_STRIPE_MAX_RAILS)
		return 0;
	uint32_t heaviest = heaviest_rail(policy);
	if (policy->weight[heaviest] == 0)
		return 0;
	if (size < 2 * policy->min_stripe || size < 2 * SPARK_STRIPE_ALIGN) {
		bool usable = small_rail < policy->nrails && policy->weight[small_rail] > 0;
		return whole_on(usable ? small_rail : heaviest, size, pieces);
	}
	uint32_t use = rails_worth_using(policy, size);
	if ((use & (use - 1)) == 0) /* one rail left: it takes everything */
		return whole_on((uint32_t)__builtin_ctz(use), size, pieces);
	return cut(policy, use, size, pieces);
}
