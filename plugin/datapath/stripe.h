/* Pure striping arithmetic: how one message is cut across the rails of a
 * logical device. No verbs, no state: the data path calls it per isend and
 * the unit tests call it directly. */
#ifndef SPARK_STRIPE_H
#define SPARK_STRIPE_H

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
	/* Relative share of each rail (e.g. its PCIe bandwidth in MB/s); 0 takes
	 * a rail out of striping (failed or excluded). */
	uint32_t weight[SPARK_STRIPE_MAX_RAILS];
	/* Smallest piece worth a rail of its own: messages below 2 × min_stripe
	 * go whole on one rail. */
	uint64_t min_stripe;
};

/* Cuts a message of `size` bytes into at most nrails pieces, in rail order,
 * covering [0, size) exactly. Messages too small to stripe go whole on
 * `small_rail` when that rail has weight, else on the heaviest rail.
 * Returns the number of pieces (>= 1), or 0 when no rail has weight. */
unsigned spark_stripe_plan(const struct spark_stripe_policy *policy, uint64_t size,
			   uint32_t small_rail, struct spark_stripe_piece *pieces);

#endif
