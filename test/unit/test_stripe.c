/* The stripe planner: every message is covered exactly once, cuts land on
 * 128-byte lines, shares follow the weights, small messages stay whole. */
#include <criterion/criterion.h>

#include "stripe.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)

static const uint64_t idle[SPARK_STRIPE_MAX_RAILS];

static struct spark_stripe_policy two_rails(uint32_t w0, uint32_t w1, uint64_t min_stripe)
{
	return (struct spark_stripe_policy){ .nrails = 2, .weight = { w0, w1 }, .min_stripe = min_stripe };
}

/* The invariants every plan must hold, whatever the inputs. */
static void assert_valid_plan(const struct spark_stripe_policy *p, uint64_t size,
			      const struct spark_stripe_piece *pc, unsigned n)
{
	cr_assert(n >= 1 && n <= p->nrails, "piece count %u for %u rails", n, p->nrails);
	uint64_t next = 0;
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(pc[i].offset, next, "piece %u starts at %lu, expected %lu", i,
			     (unsigned long)pc[i].offset, (unsigned long)next);
		cr_assert_eq(pc[i].offset % SPARK_STRIPE_ALIGN, 0, "piece %u not on a 128 B line", i);
		cr_assert(pc[i].rail < p->nrails);
		cr_assert_gt(p->weight[pc[i].rail], 0, "piece %u on a rail of weight 0", i);
		if (i > 0)
			cr_assert_gt(pc[i].rail, pc[i - 1].rail, "rails not in order or repeated");
		if (n > 1)
			cr_assert_gt(pc[i].length, 0, "empty piece %u in a striped message", i);
		next += pc[i].length;
	}
	cr_assert_eq(next, size, "pieces cover %lu of %lu bytes", (unsigned long)next,
		     (unsigned long)size);
}

Test(stripe, equal_weights_split_a_large_message_in_halves)
{
	struct spark_stripe_policy p = two_rails(13000, 13000, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	unsigned n = spark_stripe_plan(&p, 64 * MiB, idle, 0, pc);
	assert_valid_plan(&p, 64 * MiB, pc, n);
	cr_assert_eq(n, 2);
	cr_assert_eq(pc[0].length, 32 * MiB);
	cr_assert_eq(pc[1].length, 32 * MiB);
}

Test(stripe, shares_follow_weights)
{
	/* A Gen5 x2 half (ASUS GX10 before its BIOS fix) carries a third. */
	struct spark_stripe_policy p = two_rails(13000, 6500, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	uint64_t size = 96 * MiB;
	unsigned n = spark_stripe_plan(&p, size, idle, 0, pc);
	assert_valid_plan(&p, size, pc, n);
	cr_assert_eq(n, 2);
	cr_assert_eq(pc[0].length, 64 * MiB);
	cr_assert_eq(pc[1].length, 32 * MiB);
}

Test(stripe, small_messages_go_whole_on_the_requested_rail)
{
	struct spark_stripe_policy p = two_rails(1, 1, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	for (uint32_t rail = 0; rail < 2; rail++) {
		unsigned n = spark_stripe_plan(&p, 8, idle, rail, pc);
		cr_assert_eq(n, 1);
		cr_assert_eq(pc[0].rail, rail);
		cr_assert_eq(pc[0].length, 8);
	}
}

Test(stripe, threshold_is_two_minimum_stripes)
{
	struct spark_stripe_policy p = two_rails(1, 1, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	cr_assert_eq(spark_stripe_plan(&p, 128 * KiB - 128, idle, 1, pc), 1);
	cr_assert_eq(pc[0].rail, 1);
	unsigned n = spark_stripe_plan(&p, 128 * KiB, idle, 1, pc);
	assert_valid_plan(&p, 128 * KiB, pc, n);
	cr_assert_eq(n, 2);
}

Test(stripe, zero_bytes_is_one_empty_piece)
{
	struct spark_stripe_policy p = two_rails(1, 1, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	cr_assert_eq(spark_stripe_plan(&p, 0, idle, 1, pc), 1);
	cr_assert_eq(pc[0].rail, 1);
	cr_assert_eq(pc[0].length, 0);
}

Test(stripe, a_rail_of_weight_zero_carries_nothing)
{
	struct spark_stripe_policy p = two_rails(0, 5, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	unsigned n = spark_stripe_plan(&p, 64 * MiB, idle, 0, pc);
	cr_assert_eq(n, 1);
	cr_assert_eq(pc[0].rail, 1, "large message on a dead rail");
	n = spark_stripe_plan(&p, 8, idle, 0, pc);
	cr_assert_eq(n, 1);
	cr_assert_eq(pc[0].rail, 1, "small message sent to a dead rail");
}

Test(stripe, no_rail_with_weight_is_refused)
{
	struct spark_stripe_policy p = two_rails(0, 0, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	cr_assert_eq(spark_stripe_plan(&p, 1 * MiB, idle, 0, pc), 0);
	struct spark_stripe_policy none = { .nrails = 0 };
	cr_assert_eq(spark_stripe_plan(&none, 1 * MiB, idle, 0, pc), 0);
	struct spark_stripe_policy too_many = { .nrails = SPARK_STRIPE_MAX_RAILS + 1 };
	cr_assert_eq(spark_stripe_plan(&too_many, 1 * MiB, idle, 0, pc), 0);
}

Test(stripe, a_share_below_the_minimum_stripe_is_folded_into_the_others)
{
	/* 1 MiB at 20:1 would leave the light rail ~50 KiB: below 64 KiB. */
	struct spark_stripe_policy p = two_rails(20, 1, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	unsigned n = spark_stripe_plan(&p, 1 * MiB, idle, 1, pc);
	cr_assert_eq(n, 1);
	cr_assert_eq(pc[0].rail, 0);
	cr_assert_eq(pc[0].length, 1 * MiB);
}

Test(stripe, largest_int_message)
{
	struct spark_stripe_policy p = two_rails(3, 7, 64 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	uint64_t size = 0x7fffffffull;
	unsigned n = spark_stripe_plan(&p, size, idle, 0, pc);
	assert_valid_plan(&p, size, pc, n);
	cr_assert_eq(n, 2);
}

/* A fixed-seed generator of our own: the same inputs on every run and
 * platform, so a failure reproduces. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

Test(stripe, random_inputs_always_give_valid_plans)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	for (int i = 0; i < 20000; i++) {
		struct spark_stripe_policy p = {
			.nrails = 1 + (uint32_t)(next_random(&rng) % SPARK_STRIPE_MAX_RAILS),
			.min_stripe = (next_random(&rng) % 4) * 32 * KiB,
		};
		for (uint32_t r = 0; r < p.nrails; r++)
			p.weight[r] = (next_random(&rng) % 4 == 0) ? 0 : (uint32_t)(next_random(&rng) % 30000);
		uint64_t limit = (next_random(&rng) % 2) ? 4096 : 0x7fffffff;
		uint64_t size = next_random(&rng) % limit;
		uint32_t small = (uint32_t)(next_random(&rng) % p.nrails);
		unsigned n = spark_stripe_plan(&p, size, idle, small, pc);
		bool any = false;
		for (uint32_t r = 0; r < p.nrails; r++)
			any |= p.weight[r] > 0;
		if (!any) {
			cr_assert_eq(n, 0);
			continue;
		}
		assert_valid_plan(&p, size, pc, n);
		for (unsigned k = 0; n > 1 && k + 1 < n; k++)
			cr_assert_geq(pc[k].length + SPARK_STRIPE_ALIGN, p.min_stripe,
				      "piece below the minimum stripe");
	}
}

/* ---- scheduling by what keeps both rails busy ---- */

Test(stripe, deep_queues_take_the_message_whole_on_the_rail_that_finishes_first)
{
	struct spark_stripe_policy p = two_rails(13000, 13000, 32 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	const uint64_t q[2] = {512 * KiB, 384 * KiB};
	unsigned n = spark_stripe_plan(&p, 128 * KiB, q, 0, pc);
	cr_assert_eq(n, 1, "both rails have work queued: no reason to cut");
	cr_assert_eq(pc[0].rail, 1, "rail 1 has less queued, it finishes first");
	cr_assert_eq(pc[0].length, 128 * KiB);
	/* rate counts, not bytes alone: rail 1 at a quarter takes it only
	 * when its queue is four times shorter */
	struct spark_stripe_policy slow = two_rails(16000, 4000, 32 * KiB);
	const uint64_t q2[2] = {512 * KiB, 256 * KiB};
	cr_assert_eq(spark_stripe_plan(&slow, 128 * KiB, q2, 1, pc), 1);
	cr_assert_eq(pc[0].rail, 0, "(512+128)/16 < (256+128)/4");
}

Test(stripe, an_idle_rail_gets_a_share_of_a_large_message)
{
	struct spark_stripe_policy p = two_rails(13000, 13000, 32 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	/* shallow window: rail 1 is idle, rail 0 has a little queued */
	const uint64_t q[2] = {128 * KiB, 0};
	unsigned n = spark_stripe_plan(&p, 1 * MiB, q, 0, pc);
	assert_valid_plan(&p, 1 * MiB, pc, n);
	cr_assert_eq(n, 2, "the idle rail must get a share");
	/* water level: both rails finish together */
	cr_assert_eq(pc[0].length + 128 * KiB, pc[1].length, "rail 0 %lu, rail 1 %lu",
		     (unsigned long)pc[0].length, (unsigned long)pc[1].length);
	/* a queue that outlasts the whole message on the other rail: whole */
	const uint64_t q2[2] = {2 * MiB, 0};
	cr_assert_eq(spark_stripe_plan(&p, 1 * MiB, q2, 0, pc), 1);
	cr_assert_eq(pc[0].rail, 1);
}

/* A window of `depth` messages of `size` bytes kept full on two rails that
 * drain at their weights: how many messages went whole, and rail 1's share. */
static void simulate(uint32_t w0, uint32_t w1, uint64_t size, int depth, int msgs,
		     int *whole, double *share1)
{
	struct spark_stripe_policy p = two_rails(w0, w1, 32 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	uint64_t q[2] = {0, 0}, sent[2] = {0, 0};
	uint64_t owed[64][2];
	*whole = 0;
	for (int m = 0; m < msgs; m++) {
		if (m >= depth) {
			/* the oldest message completes when its slower piece does;
			 * meanwhile each rail drains in proportion to its rate */
			uint64_t *o = owed[(m - depth) % 64];
			double t = 0;
			for (int r = 0; r < 2; r++)
				if (o[r] > 0) {
					double tr = (double)q[r] / p.weight[r];
					t = tr > t ? tr : t;
				}
			t /= depth;
			for (int r = 0; r < 2; r++) {
				uint64_t d = (uint64_t)(t * p.weight[r]);
				q[r] -= d < q[r] ? d : q[r];
			}
		}
		unsigned n = spark_stripe_plan(&p, size, q, (uint32_t)m % 2, pc);
		assert_valid_plan(&p, size, pc, n);
		*whole += n == 1;
		uint64_t *o = owed[m % 64];
		o[0] = o[1] = 0;
		for (unsigned k = 0; k < n; k++) {
			q[pc[k].rail] += pc[k].length;
			sent[pc[k].rail] += pc[k].length;
			o[pc[k].rail] = pc[k].length;
		}
	}
	*share1 = (double)sent[1] / (double)(sent[0] + sent[1]);
}

Test(stripe, deep_window_goes_whole_on_both_rails)
{
	int whole;
	double share1;
	simulate(13000, 13000, 128 * KiB, 8, 1000, &whole, &share1);
	cr_assert_geq(whole, 990, "%d of 1000 messages whole", whole);
	cr_assert(share1 > 0.45 && share1 < 0.55, "rail 1 carried %.3f", share1);
}

Test(stripe, shallow_window_is_striped)
{
	int whole;
	double share1;
	simulate(13000, 13000, 1 * MiB, 1, 100, &whole, &share1);
	cr_assert_eq(whole, 0, "one in flight: every message cut, %d whole", whole);
	cr_assert(share1 > 0.45 && share1 < 0.55, "rail 1 carried %.3f", share1);
}

Test(stripe, a_quarter_rate_half_carries_little)
{
	int whole;
	double share1;
	simulate(16000, 4000, 128 * KiB, 8, 1000, &whole, &share1);
	cr_assert(share1 > 0.05 && share1 < 0.3, "rail 1 at 1/4 carried %.3f", share1);
	simulate(16000, 4000, 4 * MiB, 1, 100, &whole, &share1);
	cr_assert(share1 > 0.15 && share1 < 0.25, "one 4 MiB in flight: rail 1 carried %.3f",
		  share1);
}

/* A half more than twice as slow never takes a message whole in a deep
 * window: it would hold it for four of the other's, read busy until it
 * completes and idle after. Each message is cut at the water level, so the
 * slow half holds a piece of every one and the pieces finish together. */
Test(stripe, a_quarter_rate_half_in_a_deep_window_is_cut_at_the_water_level)
{
	struct spark_stripe_policy p = two_rails(16000, 4000, 32 * KiB);
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	/* both queues at one level (4 MiB at 16, 1 MiB at 4): the message too */
	const uint64_t q[2] = {4 * MiB, 1 * MiB};
	unsigned n = spark_stripe_plan(&p, 1 * MiB, q, 0, pc);
	assert_valid_plan(&p, 1 * MiB, pc, n);
	cr_assert_eq(n, 2, "a quarter-rate half with work queued: cut, not whole");
	cr_assert_eq(pc[0].length, 838784, "rail 0 takes 4/5 on a 128-byte line, got %lu",
		     (unsigned long)pc[0].length);
	/* the same queues on rails within 2x: the deep window sends it whole */
	struct spark_stripe_policy x2 = two_rails(16000, 8000, 32 * KiB);
	const uint64_t q2[2] = {4 * MiB, 2 * MiB};
	cr_assert_eq(spark_stripe_plan(&x2, 1 * MiB, q2, 0, pc), 1, "a Gen5 x2 half: whole");
	/* a queue on the fast rail that outlasts the whole message on the slow
	 * one: whole on the slow one still (the water level says so) */
	const uint64_t q3[2] = {8 * MiB, 0};
	cr_assert_eq(spark_stripe_plan(&p, 1 * MiB, q3, 0, pc), 1);
	cr_assert_eq(pc[0].rail, 1);
}

Test(stripe, rails_alike_within_twice_the_rate)
{
	cr_assert(spark_stripe_alike(13000, 13000));
	cr_assert(spark_stripe_alike(13000, 6500) && spark_stripe_alike(6500, 13000));
	cr_assert(!spark_stripe_alike(13000, 6499) && !spark_stripe_alike(6499, 13000));
	cr_assert(!spark_stripe_alike(16000, 4000));
	cr_assert(spark_stripe_alike(UINT32_MAX, UINT32_MAX / 2 + 1), "no overflow");
	/* through the n-rail loop too: a quarter-rate third rail is cut in */
	struct spark_stripe_policy p = {.nrails = 3, .weight = {16000, 16000, 4000},
					.min_stripe = 32 * KiB};
	struct spark_stripe_piece pc[SPARK_STRIPE_MAX_RAILS];
	const uint64_t q[3] = {4 * MiB, 4 * MiB, 1 * MiB};
	unsigned n = spark_stripe_plan_any(&p, 1 * MiB, q, 0, pc);
	assert_valid_plan(&p, 1 * MiB, pc, n);
	cr_assert_eq(n, 3, "every rail at the level: a piece each, got %u", n);
	p.weight[2] = 16000;
	const uint64_t q4[3] = {4 * MiB, 4 * MiB, 4 * MiB};
	cr_assert_eq(spark_stripe_plan_any(&p, 1 * MiB, q4, 0, pc), 1, "alike rails: whole");
}

/* A window of 8 x 1 MiB kept full with a quarter-rate half: every message
 * past the first few is cut (the old rule sent all but one in five whole on
 * the fast half), and the slow half carries its fifth. */
Test(stripe, a_quarter_rate_half_holds_a_piece_of_every_message)
{
	int whole;
	double share1;
	simulate(16000, 4000, 1 * MiB, 8, 200, &whole, &share1);
	cr_assert_leq(whole, 8, "%d of 200 messages whole", whole);
	cr_assert(share1 > 0.17 && share1 < 0.23, "rail 1 at 1/4 carried %.3f", share1);
}

/* The inline two-rail plan (and the two-rail cut) takes the same decisions
 * as the n-rail loop, for every shape: idle and deep queues, small and large messages, ties, equal
 * and unequal weights, a rail of weight 0, `first` beyond the rail count. */
Test(stripe, the_two_rail_short_path_agrees_with_the_loop)
{
	uint64_t rng = 0x243f6a8885a308d3ull;
	static const uint64_t sizes[] = {0, 1, 255, 256, 64 * KiB - 1, 64 * KiB, 64 * KiB + 128,
					 128 * KiB, 1 * MiB, 0x7fffffff};
	struct spark_stripe_piece a[SPARK_STRIPE_MAX_RAILS], b[SPARK_STRIPE_MAX_RAILS];
	int cuts = 0;
	for (int i = 0; i < 200000; i++) {
		struct spark_stripe_policy p = two_rails(0, 0, (next_random(&rng) % 3) * 32 * KiB);
		for (uint32_t r = 0; r < 2; r++)
			p.weight[r] = next_random(&rng) % 8 == 0 ? 0
				      : next_random(&rng) % 2 ? 13000
							      : 1 + (uint32_t)(next_random(&rng) % 30000);
		uint64_t q[SPARK_STRIPE_MAX_RAILS] = {0};
		for (uint32_t r = 0; r < 2; r++) {
			uint64_t pick = next_random(&rng) % 4;
			q[r] = pick == 0 ? 0 : pick == 1 ? sizes[next_random(&rng) % 10]
					       : next_random(&rng) % (pick == 2 ? 512 * KiB : 1ull << 40);
		}
		if (next_random(&rng) % 4 == 0)
			q[1] = q[0];   /* ties */
		uint64_t size = next_random(&rng) % 2 ? sizes[next_random(&rng) % 10]
						      : next_random(&rng) % (4 * MiB);
		uint32_t first = (uint32_t)(next_random(&rng) % 5);
		unsigned na = spark_stripe_plan(&p, size, q, first, a);
		unsigned nb = spark_stripe_plan_any(&p, size, q, first, b);
		cuts += na == 2;
		cr_assert_eq(na, nb, "case %d: %u pieces, the loop %u", i, na, nb);
		for (unsigned k = 0; k < na; k++)
			cr_assert(a[k].rail == b[k].rail && a[k].offset == b[k].offset &&
				  a[k].length == b[k].length, "case %d piece %u differs", i, k);
	}
	cr_assert_gt(cuts, 5000, "only %d cut plans: the cut's short path untested", cuts);
}
