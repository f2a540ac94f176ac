/* Pure scheduling arithmetic: where one message goes, given what each rail
 * already has queued and how fast each rail is. No verbs, no state: the send
 * side calls it per buffer and the unit tests call it directly.
 *
 * The rule (docs/design.md, "Scheduling"): a message goes whole on the rail
 * that would finish it first when every other rail already has at least that
 * long a queue of its own (deep windows: both rails stay busy, one WR and one
 * completion per message); otherwise it is cut so that the rails it uses
 * finish together (water-filling: a shallow window, a large message, a
 * degraded half), each piece at least the minimum stripe. */
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
 * or 0 when no rail has weight. */
unsigned spark_stripe_plan(const struct spark_stripe_policy *policy, uint64_t size,
			   const uint64_t *queued, uint32_t first,
			   struct spark_stripe_piece *pieces);

#endif
