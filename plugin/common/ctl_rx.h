/* Control frames out of a byte stream (the reading half of ctl.h): TCP
 * delivers a frame in whatever pieces it likes (one byte at a time, a frame
 * and a half in one read, a frame split after its header), so the reader
 * keeps the part it has and numbers the frames it completes. Never blocks:
 * each read is MSG_DONTWAIT, whatever the socket's own mode (it is NCCL's
 * thread that reads). Pure but for that recv: unit-tested on a real socket. */
#ifndef SPARK_CTL_RX_H
#define SPARK_CTL_RX_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"

struct spark_ctl_rx {
	uint64_t seq;                   /* frames decoded: the next one's number */
	uint32_t off;                   /* bytes of the next frame in buf */
	uint8_t buf[SPARK_CTL_SIZE];
};

enum spark_ctl_rx_got {
	SPARK_CTL_RX_FRAME,     /* *f: the next frame, decoded (seq counted it) */
	SPARK_CTL_RX_AGAIN,     /* nothing more to read now; a partial frame is kept */
	SPARK_CTL_RX_CLOSED,    /* EOF or a socket error; off > 0: in mid-frame */
	SPARK_CTL_RX_BAD,       /* a frame that does not decode */
};

/* Reads until one frame is complete or the socket has no more. heard is set
 * when any byte came (the peer is alive). reason: why, for CLOSED and BAD. */
enum spark_ctl_rx_got spark_ctl_rx_next(struct spark_ctl_rx *rx, int fd, struct spark_ctl *f,
					bool *heard, char *reason, int len);

#endif
