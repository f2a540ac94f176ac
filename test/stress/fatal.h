/* Fatal faults in step with the traffic (fatal.c). */
#ifndef STRESS_FATAL_H
#define STRESS_FATAL_H

#include "faults.h"

struct st_fatal {
	struct dp_pair *p;
	struct st_traffic *t;
	enum st_fault kind;
	bool idle;                      /* strike while every comm only waits */
	uint64_t trigger;               /* host a's completed messages first */
	double bound;                   /* s from the fault to the last comm's error */
	double quiet_s;                 /* idle NIC freeze: s in which no comm may fail */
	double at, ready_at;            /* dp_now() of the fault (0: not yet) */
	int state;
	bool peer_quiet, peer_posted, ending;
	/* Instead of a fatal fault (kind ST_F_NONE): host a's script, called
	 * between steps; true ends the run in step with b. */
	bool (*script)(struct st_fatal *x);
	void *script_ctx;
};

/* An st_hook for both hosts (b follows a's notes). */
void st_fatal_hook(void *ctx, struct st_traffic *t);

#endif
