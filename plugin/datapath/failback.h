/* A comm's rails and their ports: failover on the port's own events (at
 * once, where the transport's retries would take tens of seconds), and
 * failback when the port is ACTIVE again (a fresh QP pair set up through the
 * bootstrap socket's control frames, the rail re-admitted). No thread: the
 * engine looks from polls that found nothing to do (the comm waits anyway;
 * send.c also from an isend that found no clear-to-send),
 * every SPARK_PORT_POLLS such polls a clock reading, every
 * SPARK_PORT_CHECK_NS a drain of the HCAs' async events (devctx.h). */
#ifndef SPARK_FAILBACK_H
#define SPARK_FAILBACK_H

#include "comm.h"

#define SPARK_PORT_POLLS 32u
#define SPARK_PORT_CHECK_NS (20ull * 1000 * 1000)

/* Out of line: the clock, the drain, failover and failback steps. */
void spark_port_tick(struct spark_comm *c);

/* From the engine's idle polls: one increment and one compare. */
static inline void spark_port_watch(struct spark_comm *c)
{
	if (++c->port_polls < SPARK_PORT_POLLS)
		return;
	c->port_polls = 0;
	spark_port_tick(c);
}

/* After a refusal, the next attempt waits 100 ms, doubling to 2 s; an
 * attempt with no answer in 5 s is given up and retried. */
#define SPARK_REJOIN_BACKOFF_NS (100ull * 1000 * 1000)
#define SPARK_REJOIN_BACKOFF_MAX_NS (2000ull * 1000 * 1000)
#define SPARK_REJOIN_ANSWER_NS (5000ull * 1000 * 1000)

struct spark_ctl;
/* spark_wc_ops.ctl of both directions: RAIL_DOWN and the REJOIN frames
 * from the peer (decoded by ctl.c; checked here against this comm's state:
 * a frame that does not fit fails the comm). */
void spark_failback_ctl(struct spark_comm *c, const struct spark_ctl *f);
/* engine.c, after rail r left the comm: tell the peer, wait for the port. */
void spark_failback_rail_down(struct spark_comm *c, uint32_t r);

/* rail.c, when a QP is connected: what its port has said so far, so only
 * later events count against it. */
void spark_rail_watch_start(struct spark_rail *r);

#endif
