/* A peer that died while we wait is an error within seconds (peer.c). */
#ifndef SPARK_PEER_H
#define SPARK_PEER_H

#include "comm.h"

#define SPARK_PEER_CHECK_NS 100000000ull     /* look at the socket every 100 ms */
#define SPARK_PEER_GRACE_NS 2000000000ull    /* then wait this long for stragglers */

void spark_peer_check(struct spark_comm *c);

#endif
