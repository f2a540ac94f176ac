/* Writing control frames (ctl.h) on a comm's bootstrap socket: the data
 * path's frames with a bounded wait, the heartbeat thread's without any.
 * Frames never interleave: one writer at a time under the channel's lock,
 * and a frame the socket took in part is finished before the next. */
#ifndef SPARK_CTL_SEND_H
#define SPARK_CTL_SEND_H

#include "comm.h"

/* How long spark_ctl_send waits for room in the socket. */
#define SPARK_CTL_SEND_WAIT_MS 500

ncclResult_t spark_ctl_chan_init(struct spark_ctl_chan *ch);
void spark_ctl_chan_destroy(struct spark_ctl_chan *ch);

/* One frame (its seq is the channel's); ncclRemoteError with a WARN when the
 * peer has not made room within SPARK_CTL_SEND_WAIT_MS (then nothing of it
 * was sent, or the rest goes out with the next frame) or the socket failed. */
ncclResult_t spark_ctl_send(struct spark_comm *c, const struct spark_ctl *f);
/* The heartbeat thread's: one HEARTBEAT, or nothing when the socket is full
 * (the peer is not reading) or another writer holds the channel. Never
 * blocks. */
void spark_ctl_heartbeat(struct spark_comm *c);
/* After the comm failed: FAILED with the recorded reason, once, unless the
 * failure came from the peer or its socket is gone. The data path thread's. */
void spark_ctl_tell_failed(struct spark_comm *c);

#endif
