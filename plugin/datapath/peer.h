/* Is the peer still there? Control frames on the bootstrap socket (peer.c):
 * read, and a comm fails within NCCL_SPARK_PEER_TIMEOUT when none arrive. */
#ifndef SPARK_PEER_H
#define SPARK_PEER_H

#include "comm.h"
#include "engine.h"

#define SPARK_PEER_CHECK_NS 100000000ull     /* look at the socket every 100 ms */
#define SPARK_PEER_GRACE_NS 2000000000ull    /* after EOF, wait this long for stragglers */
#define SPARK_PEER_MAX_FRAMES 256            /* frames one check reads at most */

/* The slow part: reads every frame there is, checks the deadlines, tells
 * the peer when this comm failed. */
void spark_peer_poll(struct spark_comm *c, uint64_t now);

/* From every data-path call that polled or waited, with a clock reading
 * (now): on the hot path this is one compare. */
static inline void spark_peer_check(struct spark_comm *c, uint64_t now)
{
	if (now >= c->next_peer_check_ns)
		spark_peer_poll(c, now);
}

/* After a test call's poll (progress: it completed something). Progress is
 * itself proof the peer is alive, so a poll that made some reads the clock
 * for the check only every SPARK_PEER_BUSY_POLLS-th time (or when the poll
 * read it anyway): a busy comm still looks at its frames every few dozen
 * completions (a FAILED frame, or our own failure to tell, waits no longer
 * than that), and it cannot stay busy long once the peer is gone: no more
 * CTS, IMMs or ACKs come, the polls find nothing, and each of those reads
 * the clock, so an idle or waiting comm is checked every 100 ms as before.
 * next_peer_check_ns 0 (the comm failed: tell the peer) is due at once. */
#define SPARK_PEER_BUSY_POLLS 16u
static inline void spark_peer_watch(struct spark_comm *c, bool progress)
{
	if (progress && c->clock_ns == 0 && c->next_peer_check_ns != 0 &&
	    ++c->peer_busy_polls < SPARK_PEER_BUSY_POLLS)
		return;
	c->peer_busy_polls = 0;
	spark_peer_check(c, spark_engine_clock(c));
}

#endif
