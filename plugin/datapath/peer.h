/* Is the peer still there? Control frames on the bootstrap socket (peer.c):
 * read, and a comm fails within NCCL_SPARK_PEER_TIMEOUT when none arrive. */
#ifndef SPARK_PEER_H
#define SPARK_PEER_H

#include "comm.h"

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

#endif
