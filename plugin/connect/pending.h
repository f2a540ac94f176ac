/* The listener's waiting room: TCP connections accepted but not yet known to
 * be the peer. Anyone can connect to the listening port (a port scanner, a
 * health check, a stale process of an earlier job), so each connection is
 * held here, several at once, until it has sent a whole HELLO for this
 * listener, and dropped (with a log line naming its address and what was
 * wrong) when it sends anything else, closes, or stays silent or incomplete
 * past its deadline. A silent or half-open client therefore never stands in
 * the real peer's way, and none of them is an error of the comm. */
#ifndef SPARK_PENDING_H
#define SPARK_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define SPARK_PENDING_MAX 16           /* connections held at once; more wait in the backlog */
#define SPARK_HELLO_TIMEOUT_MS 5000    /* a connection has this long to send its HELLO */

struct spark_pending_conn {
	int fd;                        /* -1: slot free */
	uint64_t deadline_ns;
	size_t off;                    /* bytes of the HELLO received */
	uint8_t buf[SPARK_MSG_SIZE];
	char peer[64];                 /* "address:port", for the log */
};

struct spark_pending {
	int dev;
	uint64_t nonce;
	uint8_t prefix[SPARK_MSG_SIZE]; /* a HELLO's fixed leading bytes, to spot junk early */
	struct spark_pending_conn conn[SPARK_PENDING_MAX];
};

void spark_pending_init(struct spark_pending *p, int dev, uint64_t nonce);
/* Accepts what the listening fd has, serves every held connection once and
 * returns 1 with the first valid HELLO (decoded into *hello, its fd and
 * address handed over: the caller owns the fd), 0 when none is complete yet,
 * -1 when the listening socket itself failed (errno set). */
int spark_pending_poll(struct spark_pending *p, int lfd, struct spark_conn_msg *hello, int *fd,
		       char *peer, size_t peer_len);
/* Closes every held connection. */
void spark_pending_close(struct spark_pending *p);

/* "192.168.100.2:41234" of a connected socket's peer. */
void spark_peer_name(int fd, char *out, size_t len);
uint64_t spark_monotonic_ns(void);

#endif
