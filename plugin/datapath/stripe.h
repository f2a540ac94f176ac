/* Pure scheduling arithmetic: where one message goes, given what each rail
 * already has queued and how fast each rail is. No verbs, no state: the send
 * side calls it per buffer and the unit tests call it directly.
 *
 * The rule (docs/design.md, "Scheduling"): a message goes whole on the rail
 * that would finish it first when every other rail already has at least that
 * long a queue of its own (deep windows: both rails stay busy, one WR and one
 * completion per message) and the rails run within 2x of each other's rate;
 * otherwise it is cut so that the rails it uses finish together
 * (water-filling: a shallow window, a large message, a degraded half), each
 * piece at least the minimum stripe. */
#ifndef SPARK_STRIPE_H
#define SPARK_STRIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPARK_STRIPE_MAX_RAILS 4
/* NCCL's LL128 protocol moves 128-byte lines; a line torn across two rails
 * could be observed half-written, so every cut lands on a multiple of this. */
#define SPARK_STRIPE_ALIGN 128u

struct spark_stripe_piece {
	uint32_t rail;   /* index into the logical device's rails */
	uint64_t offset; /* byte offset of the piece inside the message */
	uint64_t length; /* bytes; 0 only for a whole zero-byte message */
};

struct spark_stripe_policy {
	uint32_t nrails;
	/* Relative rate of each rail (Mbps: link rate, then measured); 0 takes
	 * a rail out (failed or not connected). */
	uint32_t weight[SPARK_STRIPE_MAX_RAILS];
	/* Smallest piece worth a rail of its own: messages below 2 x min_stripe
	 * go whole on one rail. */
	uint64_t min_stripe;
};

/* Plans a message of `size` bytes: at most nrails pieces, in rail order,
 * covering [0, size) exactly. queued[r]: bytes on rail r not yet completed.
 * Among rails that would finish equally soon, the first from `first` on
 * wins (round robin for an idle comm). Returns the number of pieces (>= 1),
 * or 0 when no rail has weight. The n-rail loop; spark_stripe_plan below is
 * the same plan with a short path for two rails. */
unsigned spark_stripe_plan_any(const struct spark_stripe_policy *policy, uint64_t size,
			       const uint64_t *queued, uint32_t first,
			       struct spark_stripe_piece *pieces);
/* The cut itself once the plan has found no rail to take the message whole:
 * water-filling over the rails in `usable`, `best` taking it whole if one
 * rail is left. */
unsigned spark_stripe_cut(const struct spark_stripe_policy *policy, uint64_t size,
			  const uint64_t *queued, uint32_t usable, uint32_t best,
			  struct spark_stripe_piece *pieces) __attribute__((noinline));

/* a / wa < b / wb, exactly and without dividing: bytes per weight unit are
 * times, and the planner only ever compares them. */
static inline bool spark_stripe_sooner(uint64_t a, uint32_t wa, uint64_t b, uint32_t wb)
{
	return (unsigned __int128)a * wb < (unsigned __int128)b * wa;
}

/* Rails within 2x of each other's rate. Only such rails take messages whole
 * in a deep window: a rail k times slower holds a whole message for k of the
 * other's, its queue reads full until that one completes and empty after,
 * so it never holds a second one and idles for a refill round trip per
 * message (1 MiB x 8 with a half at rate 0.25: 4 % of the time). Rails
 * further apart are cut at the water level every message: the slow one holds
 * a piece of each, and the pieces of one message finish together. */
static inline bool spark_stripe_alike(uint32_t wa, uint32_t wb)
{
	return (uint64_t)wa <= 2 * (uint64_t)wb && (uint64_t)wb <= 2 * (uint64_t)wa;
}

static inline unsigned spark_stripe_whole(uint32_t rail, uint64_t size,
					  struct spark_stripe_piece *pieces)
{
	pieces[0] = (struct spark_stripe_piece){.rail = rail, .offset = 0, .length = size};
	return 1;
}

/* spark_stripe_plan_any's decisions for the case the data path meets once
 * per message, a Spark's two rails both up, inline and without its loop:
 * the rail that finishes the message first (ties: `first`), whole on an
 * idle one for a small message, whole on `best` when the other rail's queue
 * outlasts the message there (deep window) and the rails are alike, else
 * the cut. test_stripe.c
 * holds the two to the same answers. */
static inline unsigned spark_stripe_plan(const struct spark_stripe_policy *p, uint64_t size,
					 const uint64_t *queued, uint32_t first,
					 struct spark_stripe_piece *pieces)
{
	if (p->nrails != 2 || p->weight[0] == 0 || p->weight[1] == 0)
		return spark_stripe_plan_any(p, size, queued, first, pieces);
	uint32_t a = first & 1u, b = a ^ 1u;
	uint64_t qa = queued[a], qb = queued[b];
	uint32_t best = spark_stripe_sooner(qb + size, p->weight[b], qa + size, p->weight[a]) ? b : a;
	if (size < 2 * p->min_stripe || size < 2 * SPARK_STRIPE_ALIGN)
		return spark_stripe_whole(qa == 0 ? a : qb == 0 ? b : best, size, pieces);
	uint32_t o = best ^ 1u;
	if (!spark_stripe_sooner(queued[o], p->weight[o], size, p->weight[best]) &&
	    spark_stripe_alike(p->weight[a], p->weight[b]))
		return spark_stripe_whole(best, size, pieces);
	return spark_stripe_cut(p, size, queued, 3u, best, pieces);
}

#endif
