/* The randomized stress and fault suite: NCCL-shaped traffic between two
 * emulated Sparks (dp_harness), several comms each way at once, every byte
 * checked, faults injected at random points (faults.c). Everything random
 * comes from one printed seed (SPARK_STRESS_SEED), so a failing run is
 * re-run exactly: both hosts derive each comm's message plan from it. */
#ifndef STRESS_H
#define STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_harness.h"
#include "nccl/net.h"
#include "spark_limits.h"

#define ST_KiB 1024ul
#define ST_MiB (1024ul * ST_KiB)
#define ST_MAX_COMMS 8
#define ST_WIN_MAX NCCL_NET_MAX_REQUESTS     /* requests per comm, NCCL's limit */
#define ST_GUARD 4096u                       /* slack bytes checked untouched */
#define ST_GUARD_BYTE 0xEE

/* ---- plan.c: sizes, groups, windows, all from the seed ------------------ */

/* The size mix: shares (per mille) of each class. "nccl" is what NCCL's
 * proxy sends (mostly 8 KiB-1 MiB chunks, some tiny, rare 16-64 MiB); the
 * scaled mixes keep the shape and cut the big end (stress_config). */
struct st_mix {
	const char *name;
	unsigned tiny, small, chunk, medium;   /* 0-64 B, 65 B-8 KiB, 8 KiB-1 MiB, 1-16 MiB */
	unsigned big;                          /* 16 MiB - max_big */
	uint64_t max_big;
};

struct st_msg {
	uint32_t size, posted, tag, id;        /* id: dp_fill's pattern id */
};

struct st_group {
	int n;                                 /* grouped receive of n buffers */
	struct st_msg m[SPARK_MAX_RECVS];
	uint8_t order[SPARK_MAX_RECVS];        /* the order the sender issues them */
	uint64_t bytes;                        /* sum of posted sizes (arena room) */
};

struct st_plan {
	uint64_t rng, seed;
	int comm;
	uint64_t msgs;                         /* messages planned so far */
	const struct st_mix *mix;
};

uint64_t st_rand(uint64_t *state);
uint64_t st_below(uint64_t *state, uint64_t n);     /* uniform 0..n-1 */
void st_plan_init(struct st_plan *pl, uint64_t seed, int comm, const struct st_mix *mix);
void st_plan_next(struct st_plan *pl, struct st_group *g);
uint64_t st_group_cap(const struct st_mix *mix);    /* the largest st_group.bytes */
const struct st_mix *st_mix_named(const char *name);

/* ---- traffic.c: the event loop over every comm of this host -------------- */

struct st_config {
	uint64_t seed;
	uint64_t msgs;                 /* both directions together; 0: until every comm failed */
	int comms_each_way;
	const struct st_mix *mix;
	char scaled[160];              /* what was scaled down, and why ("" = nothing) */
};

struct st_figures {
	uint64_t msgs, bytes, bad_bytes, bad_sizes;
	int faults, survived;
	int comms, failed_comms;
	int idle_comms;                /* ST_IDLE: comms this side had nothing open on */
	int aborted_comms;             /* given up after this host's first error (NCCL's abort) */
	double first_err, last_err;    /* dp_now() of this host's first / last comm error */
	double seconds;
};

struct st_traffic;

/* ST_RUN: the plan's traffic. ST_DRAIN: no new request, the open ones
 * finish. ST_IDLE: one request per comm that the peer never answers, the
 * way NCCL waits: even comms' receivers wait for data, odd comms' senders
 * for a clear-to-send (the "side that only waits"). */
enum st_phase { ST_RUN, ST_DRAIN, ST_IDLE };
/* Called on host a between steps of the loop (fault injection). */
typedef void (*st_hook)(void *ctx, struct st_traffic *t);


struct st_traffic *st_traffic_open(struct dp_pair *p, const ncclNet_v8_t *net,
				   const struct st_config *cfg);
/* Runs until every comm did its share, or failed when failures are
 * expected; the hook runs between steps. A hang fails the test: no request
 * moved for stall_s seconds, or the deadline (dp_now; 0: none) passed. */
void st_traffic_run(struct st_traffic *t, st_hook hook, void *ctx, bool expect_fail,
		    double stall_s);
void st_traffic_set_deadline(struct st_traffic *t, double deadline);
/* NCCL's reaction to a net error: the communicator is aborted, so once a
 * comm of this host failed, the comms still waiting are given up (counted
 * in aborted_comms) and the run ends; the caller then closes them all. */
void st_traffic_abort_on_error(struct st_traffic *t);
uint64_t st_traffic_done(const struct st_traffic *t);   /* messages completed here */
void st_traffic_phase(struct st_traffic *t, enum st_phase ph);
/* Every live comm may open one more group than it has open now (its window
 * may be full, every clear-to-send of it landed: then it has nothing in
 * flight that could time out), a receiver's a 64-byte one that surely fits
 * its ring. What NCCL's next operation does. For a peer that never answers
 * again (its NICs frozen): the two sides' plans part there. */
void st_traffic_room_for_one(struct st_traffic *t);
/* ST_DRAIN's end: each comm opens groups up to the larger of both hosts'
 * counts (the peer's, from st_traffic_groups there), so every open group
 * has its other half; then quiet = nothing open. */
void st_traffic_groups(const struct st_traffic *t, uint64_t *groups);
void st_traffic_drain_to(struct st_traffic *t, const uint64_t *peer_groups);
bool st_traffic_quiet(const struct st_traffic *t);
void st_traffic_finish(struct st_traffic *t);           /* quiet: the run ends */
bool st_traffic_idle_posted(const struct st_traffic *t); /* every idle request is out */
int st_traffic_alive(const struct st_traffic *t);       /* comms not failed, not finished */
void st_traffic_figures(const struct st_traffic *t, struct st_figures *out);
void st_traffic_close(struct st_traffic *t, struct st_figures *out);

/* ---- leaks.c: what close must give back ----------------------------------- */

int st_fd_count(void);
/* True when softroce holds no pinned page of this process (every MR gone):
 * a registration of exactly RLIMIT_MEMLOCK succeeds only then. */
bool st_no_pinned_pages(void);

#endif
