/* Adaptive weights: start at the link rates, follow measured throughput
 * once every rail is measured, never starve a rail. */
#include <criterion/criterion.h>

#include "weights.h"

#define MS 1000000ull

/* A rail delivering `mbps` in back-to-back 8 MiB chains. */
static void feed(struct spark_weights *w, uint32_t rail, double mbps, int chains, uint64_t *t)
{
	uint64_t bytes = 8u << 20;
	uint64_t ns = (uint64_t)((double)bytes * 8000.0 / mbps);
	for (int i = 0; i < chains; i++) {
		spark_weights_sample(w, rail, bytes, t[rail], t[rail] + ns);
		t[rail] += ns;
	}
}

Test(weights, start_at_link_rates)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 50000};
	spark_weights_init(&w, 2, mbps, true);
	cr_assert_eq(w.weight[0], 100000);
	cr_assert_eq(w.weight[1], 50000);
}

Test(weights, follow_a_degraded_rail)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	uint64_t t[2] = {MS, MS};
	spark_weights_init(&w, 2, mbps, true);
	feed(&w, 0, 10000, 4, t);
	cr_assert_eq(w.weight[0], 100000, "one rail measured: weights stay");
	feed(&w, 1, 2500, 4, t);
	double share = (double)w.weight[1] / (w.weight[0] + w.weight[1]);
	cr_assert(share > 0.17 && share < 0.23, "degraded rail share %.3f, want ~0.2", share);
}

Test(weights, floor_keeps_a_rail_alive)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	uint64_t t[2] = {MS, MS};
	spark_weights_init(&w, 2, mbps, true);
	feed(&w, 0, 10000, 4, t);
	feed(&w, 1, 10, 4, t);
	cr_assert_geq(w.weight[1], (w.weight[0] + w.weight[1]) / 17, "floor not applied");
}

Test(weights, idle_gaps_are_not_counted)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	spark_weights_init(&w, 2, mbps, true);
	/* Same rate, but a long idle gap before each chain on rail 1. */
	uint64_t t0 = MS, t1 = MS;
	for (int i = 0; i < 4; i++) {
		spark_weights_sample(&w, 0, 8u << 20, t0, t0 + 8 * MS);
		t0 += 8 * MS;
		t1 += 100 * MS;
		spark_weights_sample(&w, 1, 8u << 20, t1, t1 + 8 * MS);
		t1 += 8 * MS;
	}
	double share = (double)w.weight[1] / (w.weight[0] + w.weight[1]);
	cr_assert(share > 0.45 && share < 0.55, "share %.3f", share);
}

Test(weights, fixed_when_not_adaptive)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	uint64_t t[2] = {MS, MS};
	spark_weights_init(&w, 2, mbps, false);
	feed(&w, 0, 10000, 4, t);
	feed(&w, 1, 2500, 4, t);
	cr_assert_eq(w.weight[0], 100000);
	cr_assert_eq(w.weight[1], 100000);
}

Test(weights, noise_within_the_dead_band_keeps_link_weights)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	uint64_t t[2] = {MS, MS};
	spark_weights_init(&w, 2, mbps, true);
	feed(&w, 0, 10400, 4, t);
	feed(&w, 1, 8800, 4, t);
	cr_assert_eq(w.weight[0], 100000);
	cr_assert_eq(w.weight[1], 100000);
	feed(&w, 1, 3000, 16, t);   /* now a real difference */
	cr_assert_lt(w.weight[1], w.weight[0]);
}

/* A quarter-rate half is seen after its first 2 MiB (1 MiB chains), not
 * after a full 16 MiB window; the next estimates wait for full windows. */
Test(weights, first_estimate_after_a_short_window)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	uint64_t t[2] = {MS, MS};
	spark_weights_init(&w, 2, mbps, true);
	for (uint32_t rail = 0; rail < 2; rail++) {
		uint64_t ns = (uint64_t)((double)(1u << 20) * 8000.0 / (rail == 0 ? 10000 : 2500));
		spark_weights_sample(&w, rail, 1u << 20, t[rail], t[rail] + ns);
		t[rail] += ns;
		cr_assert_eq(w.updates, 0, "rail %u: one 1 MiB chain is no estimate yet", rail);
		spark_weights_sample(&w, rail, 1u << 20, t[rail], t[rail] + ns);
		t[rail] += ns;
	}
	cr_assert_eq(w.updates, 1, "both rails measured after 2 MiB each");
	double share = (double)w.weight[1] / (w.weight[0] + w.weight[1]);
	cr_assert(share > 0.17 && share < 0.23, "quarter-rate share %.3f, want ~0.2", share);
	/* The rate now known, 2 MiB more at another rate is not yet a window. */
	spark_weights_sample(&w, 1, 2u << 20, t[1], t[1] + 2 * MS);
	cr_assert_eq(w.updates, 1, "a later estimate waits for a full window");
}

/* One 16 MiB window (one chain) of rail at mbps. */
static void window(struct spark_weights *w, uint32_t rail, double mbps, uint64_t *t)
{
	uint64_t bytes = 16u << 20;
	uint64_t ns = (uint64_t)((double)bytes * 8000.0 / mbps);
	spark_weights_sample(w, rail, bytes, t[rail], t[rail] + ns);
	t[rail] += ns;
}

/* A late poll makes one window slow and the next fast: neither moves the
 * weights of a settled quarter-rate half; a real change shows within two
 * windows. */
Test(weights, one_odd_window_moves_nothing)
{
	struct spark_weights w;
	uint32_t mbps[2] = {100000, 100000};
	uint64_t t[2] = {MS, MS};
	spark_weights_init(&w, 2, mbps, true);
	for (int i = 0; i < 3; i++) {
		window(&w, 0, 10000, t);
		window(&w, 1, 2500, t);
	}
	uint32_t w0 = w.weight[0], w1 = w.weight[1];
	cr_assert(w1 * 5 > w0 && w1 * 3 < w0, "settled at ~4:1: %u/%u", w0, w1);
	window(&w, 0, 3000, t);     /* a window that a late poll made slow */
	cr_assert_eq(w.weight[0], w0, "one slow window moved rail 0: %u -> %u", w0, w.weight[0]);
	window(&w, 0, 10000, t);
	window(&w, 0, 30000, t);    /* and one it made fast */
	cr_assert_eq(w.weight[0], w0, "one fast window moved rail 0: %u -> %u", w0, w.weight[0]);
	window(&w, 0, 5000, t);     /* rail 0 really halves */
	window(&w, 0, 5000, t);
	cr_assert_lt(w.weight[0], w0 * 3 / 4, "a halved rail 0 still at %u (was %u)", w.weight[0],
		     w0);
}
