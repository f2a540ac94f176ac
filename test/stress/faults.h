/* Faults injected by host a into the stress traffic (faults.c). */
#ifndef STRESS_FAULTS_H
#define STRESS_FAULTS_H

#include <stdarg.h>

#include "stress.h"

enum st_fault {
	ST_F_NONE = -1,
	/* Survivable: every byte right. */
	ST_F_RAIL_DOWN,         /* one rail down 0.3-2.5 s, then up */
	ST_F_FLAP,              /* one rail down/up 1-3 times, 5-60 ms each */
	ST_F_RATE,              /* one host's PCIe link of one rail at 0.1-0.75, then 1 */
	ST_F_FREEZE,            /* host b's NICs answer nothing for 0.1-1.2 s */
	ST_F_STOP,              /* host b SIGSTOPped for 0.1-1.2 s */
	ST_F_OTHER_RAIL,        /* failback: the rail that stayed up goes down */
	/* Fatal: both sides error within a bound, no hang, no crash. */
	ST_F_KILL,              /* host b SIGKILLed */
	ST_F_BOTH_DOWN,         /* both rails down, peer alive */
	ST_F_STOP_LONG,         /* host b SIGSTOPped past NCCL_SPARK_PEER_TIMEOUT */
	ST_F_FREEZE_LONG,       /* host b's NICs frozen past NCCL_SPARK_PEER_TIMEOUT */
	ST_F_COUNT
};

extern const char *const st_rails[2];
const char *st_fault_name(enum st_fault f);
/* Appends one line to softroce's control file. */
void st_control(const struct dp_pair *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct st_faults {
	const struct dp_pair *p;
	struct st_traffic *t;
	uint64_t rng, gap, next_at_msgs;
	int max, injected, rail, cur_rail, flaps;
	int count[ST_F_COUNT];
	bool failback;                  /* either rail may go down (needs failback) */
	enum st_fault cur;
	const char *cur_host;
	double undo_at, redown_at;
	/* With failback: the rail that came back, until both ends transmit on
	 * it again (re-admitted), so that the next fault cannot take the other
	 * rail down while this one is still rejoining (both down: fatal). */
	int back_rail;
	double back_since, settle;      /* settle: seconds after it came back, at least */
	double back_look;               /* next reading of its counters (every 50 ms) */
	uint64_t back_a, back_b;
};

/* max survivable faults spread over `msgs` messages of host a's traffic. */
void st_faults_init(struct st_faults *f, const struct dp_pair *p, uint64_t seed, uint64_t msgs,
		    int max, bool failback);
void st_faults_hook(void *ctx, struct st_traffic *t);   /* an st_hook */
void st_faults_finish(struct st_faults *f);

#endif
