/* Peer-death detection for a comm that waits. The bootstrap socket stays
 * open for the comm's life; the kernel closes it when the peer process dies
 * (or closes its comm). A request still pending SPARK_PEER_GRACE_NS after
 * that will never complete: the comm fails with a WARN instead of hanging.
 * The grace period covers a peer that closed normally right after its last
 * operation, whose final completions may still be on their way to us.
 * Checked at most every SPARK_PEER_CHECK_NS, only from calls that found
 * nothing to do, so the hot path pays one clock read. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/socket.h>

#include "engine.h"
#include "log.h"
#include "peer.h"

static bool socket_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
		return true;
	char byte;
	return (p.revents & POLLIN) && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void spark_peer_check(struct spark_comm *c)
{
	uint64_t now = spark_now_ns();
	if (c->fd < 0 || c->failed != ncclSuccess || now < c->next_peer_check_ns)
		return;
	c->next_peer_check_ns = now + SPARK_PEER_CHECK_NS;
	if (c->peer_gone_ns == 0) {
		if (socket_closed(c->fd)) {
			c->peer_gone_ns = now;
			SPARK_INFO(NCCL_NET, "dev %d: the peer closed its connection", c->dev);
		}
		return;
	}
	if (now - c->peer_gone_ns < SPARK_PEER_GRACE_NS)
		return;
	SPARK_WARN("dev %d: %s comm: the peer closed its connection %.1f s ago and work is still "
		   "pending: the peer process died or closed its comm early", c->dev,
		   c->kind == SPARK_COMM_SEND ? "send" : "recv",
		   (double)(now - c->peer_gone_ns) / 1e9);
	c->failed = ncclRemoteError;
}
