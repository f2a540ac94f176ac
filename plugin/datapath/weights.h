/* Per-rail striping weights of one send comm: start from each rail's link
 * rate, then follow the throughput each rail actually delivers, so a
 * degraded half (stale link training, Gen5 x2, a slow cable) carries less.
 * Pure: the caller supplies timestamps. */
#ifndef SPARK_WEIGHTS_H
#define SPARK_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "stripe.h"

/* Completions smaller than this say more about latency than bandwidth. */
#define SPARK_WEIGHT_SAMPLE_MIN (64u * 1024u)
/* Bytes a rail must deliver before its rate estimate is updated. */
#define SPARK_WEIGHT_WINDOW (16u * 1024u * 1024u)
/* The first estimate comes sooner: until every rail is measured the split
 * is the link rates', which for a degraded half is the costly guess (at 1 MiB
 * x 8 in flight a full window would take 32 messages on each rail). The dead
 * band keeps one short noisy window from moving equal rails. */
#define SPARK_WEIGHT_FIRST_WINDOW (2u * 1024u * 1024u)
/* No rail's weight drops below total / this: it keeps carrying enough
 * traffic to be measured again when it recovers. */
#define SPARK_WEIGHT_FLOOR_DIV 16u
/* Link rates are the prior: measurements replace them only when some rail's
 * measured share differs from its link share by more than this fraction.
 * Two rails behind one shared cable each measure half the cable whatever
 * the split, so without a dead band noise would walk the split around. */
#define SPARK_WEIGHT_DEADBAND 0.20
/* A rail's rate is the median of its last this many windows (before that:
 * the first window, then the mean of two): a window's
 * busy time runs from completions as the poller saw them, so one poll that
 * came late (a descheduled proxy thread) makes one window slow and the next
 * fast, by tens of percent; the median ignores such a pair, while a rail
 * that really changed speed shows it within two windows. */
#define SPARK_WEIGHT_HISTORY 3

struct spark_weights {
	uint32_t nrails;
	bool adaptive;
	uint32_t weight[SPARK_STRIPE_MAX_RAILS];   /* what the planner uses (Mbps) */
	uint32_t link_mbps[SPARK_STRIPE_MAX_RAILS];
	double rate_mbps[SPARK_STRIPE_MAX_RAILS];  /* median of win_mbps; 0 = none yet */
	double win_mbps[SPARK_STRIPE_MAX_RAILS][SPARK_WEIGHT_HISTORY];   /* last windows */
	uint32_t windows[SPARK_STRIPE_MAX_RAILS];  /* how many of them (up to HISTORY) */
	uint64_t win_bytes[SPARK_STRIPE_MAX_RAILS];
	uint64_t win_ns[SPARK_STRIPE_MAX_RAILS];
	uint64_t last_done_ns[SPARK_STRIPE_MAX_RAILS];
	uint32_t updates;                          /* how many times weights moved */
};

/* initial_mbps[r] = 0 takes rail r out (not connected). */
void spark_weights_init(struct spark_weights *w, uint32_t nrails, const uint32_t *initial_mbps,
			bool adaptive);
/* Adds a busy time of ns for bytes to rail's window; updates the rate and
 * the weights when the window is full. */
void spark_weights_add(struct spark_weights *w, uint32_t rail, uint64_t bytes, uint64_t ns);

/* A chain of `bytes` posted on `rail` at post_ns completed at done_ns.
 * Inline: called once per completion, and most return before the window. */
static inline void spark_weights_sample(struct spark_weights *w, uint32_t rail, uint64_t bytes,
					uint64_t post_ns, uint64_t done_ns)
{
	if (rail >= w->nrails || w->weight[rail] == 0)
		return;
	/* The rail was busy from the later of this chain's post and the
	 * previous completion: back-to-back chains are measured by their
	 * spacing, an idle gap is not counted against the rail. */
	uint64_t start = post_ns > w->last_done_ns[rail] ? post_ns : w->last_done_ns[rail];
	w->last_done_ns[rail] = done_ns;
	if (w->adaptive && bytes >= SPARK_WEIGHT_SAMPLE_MIN && done_ns > start)
		spark_weights_add(w, rail, bytes, done_ns - start);
}

/* A rail back after a failure: it takes link_mbps, every rail in use goes
 * back to its link rate, and every estimate starts again (those taken while
 * the rail was away describe another split). */
void spark_weights_readmit(struct spark_weights *w, uint32_t rail, uint32_t link_mbps);

#endif
