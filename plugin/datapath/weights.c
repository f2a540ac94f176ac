#include "weights.h"

#include <string.h>

void spark_weights_init(struct spark_weights *w, uint32_t nrails, const uint32_t *initial_mbps,
			bool adaptive)
{
	memset(w, 0, sizeof *w);
	w->nrails = nrails > SPARK_STRIPE_MAX_RAILS ? SPARK_STRIPE_MAX_RAILS : nrails;
	w->adaptive = adaptive;
	for (uint32_t r = 0; r < w->nrails; r++)
		w->weight[r] = w->link_mbps[r] = initial_mbps[r];
}

/* Whether every rail's measured share is within the dead band of its link share. */
static bool agrees_with_links(const struct spark_weights *w)
{
	double measured = 0, links = 0;
	for (uint32_t r = 0; r < w->nrails; r++) {
		if (w->link_mbps[r] == 0)
			continue;
		measured += w->rate_mbps[r];
		links += w->link_mbps[r];
	}
	for (uint32_t r = 0; r < w->nrails; r++) {
		if (w->link_mbps[r] == 0)
			continue;
		double expect = w->link_mbps[r] / links;
		double got = w->rate_mbps[r] / measured;
		if (got < expect * (1 - SPARK_WEIGHT_DEADBAND) ||
		    got > expect * (1 + SPARK_WEIGHT_DEADBAND))
			return false;
	}
	return true;
}

/* Every rail takes its measured rate. Then the floor, so a rail is never starved of the traffic that would show
 * it has recovered. */
static void recompute(struct spark_weights *w)
{
	/* Measured and configured rates are not comparable (the link rate is
	 * a ceiling): switch only once every rail in use has been measured. */
	for (uint32_t r = 0; r < w->nrails; r++)
		if (w->weight[r] != 0 && w->rate_mbps[r] <= 0)
			return;
	bool links = agrees_with_links(w);
	uint64_t total = 0;
	for (uint32_t r = 0; r < w->nrails; r++) {
		if (w->weight[r] == 0)
			continue;
		if (links)
			w->weight[r] = w->link_mbps[r];
		else
			w->weight[r] = w->rate_mbps[r] < 1.0 ? 1u : (uint32_t)w->rate_mbps[r];
		total += w->weight[r];
	}
	uint32_t floor = (uint32_t)(total / SPARK_WEIGHT_FLOOR_DIV);
	for (uint32_t r = 0; r < w->nrails; r++)
		if (w->weight[r] != 0 && w->weight[r] < floor)
			w->weight[r] = floor;
	w->updates++;
}

static double median3(double a, double b, double c)
{
	if (a > b) {
		double t = a;
		a = b;
		b = t;
	}
	/* now a <= b: the median is b capped by c, but at least a */
	return c < a ? a : c > b ? b : c;
}

_Static_assert(SPARK_WEIGHT_HISTORY == 3, "median3 takes the last three windows");

void spark_weights_add(struct spark_weights *w, uint32_t rail, uint64_t bytes, uint64_t ns)
{
	w->win_bytes[rail] += bytes;
	w->win_ns[rail] += ns;
	uint64_t window = w->rate_mbps[rail] > 0 ? SPARK_WEIGHT_WINDOW : SPARK_WEIGHT_FIRST_WINDOW;
	if (w->win_bytes[rail] < window)
		return;
	double mbps = (double)w->win_bytes[rail] * 8000.0 / (double)w->win_ns[rail];
	/* Until three windows exist: the first (a quick, rough estimate),
	 * then the mean of two, so a bad first window is half undone by the
	 * next; from then on the median of the last three. */
	double *h = w->win_mbps[rail];
	memmove(h, h + 1, (SPARK_WEIGHT_HISTORY - 1) * sizeof h[0]);
	h[SPARK_WEIGHT_HISTORY - 1] = mbps;
	if (w->windows[rail] < SPARK_WEIGHT_HISTORY)
		w->windows[rail]++;
	w->rate_mbps[rail] = w->windows[rail] == 1 ? h[2] :
			     w->windows[rail] == 2 ? (h[1] + h[2]) / 2 : median3(h[0], h[1], h[2]);
	w->win_bytes[rail] = 0;
	w->win_ns[rail] = 0;
	recompute(w);
}

/* The measurements so far were taken with the rail away (the others
 * carried everything, or ran on a shared cable alone): all start again. */
void spark_weights_readmit(struct spark_weights *w, uint32_t rail, uint32_t link_mbps)
{
	if (rail >= w->nrails || link_mbps == 0)
		return;
	w->link_mbps[rail] = link_mbps;
	w->weight[rail] = link_mbps;
	for (uint32_t r = 0; r < w->nrails; r++) {
		if (w->weight[r] != 0)
			w->weight[r] = w->link_mbps[r];
		w->rate_mbps[r] = 0;
		w->win_bytes[r] = 0;
		w->win_ns[r] = 0;
		w->last_done_ns[r] = 0;
	}
	w->updates++;
}
