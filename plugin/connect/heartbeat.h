/* The heartbeat thread: one per process, alive exactly while live comms
 * exist. Every period (min(1 s, NCCL_SPARK_PEER_TIMEOUT / 4)) it sends a
 * HEARTBEAT on each registered comm's bootstrap socket without ever
 * blocking, so the peer hears from this process while it lives, whatever
 * its data path is doing; a forked child has no such thread, so a killed
 * parent goes quiet even while the child keeps the socket open. */
#ifndef SPARK_HEARTBEAT_H
#define SPARK_HEARTBEAT_H

#include "comm.h"

/* Registers a connected comm (its fd set); starts the thread with the first. */
ncclResult_t spark_heartbeat_add(struct spark_comm *c);
/* Unregisters (before its fd closes); the last joins the thread, so it never
 * outlives the last comm (NCCL may unload the plugin then). */
void spark_heartbeat_remove(struct spark_comm *c);
/* The period for a timeout, in ns. */
uint64_t spark_heartbeat_period_ns(int timeout_s);

#endif
