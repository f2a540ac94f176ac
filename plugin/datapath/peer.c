/* Is the peer still there? Both ends of a comm send control frames on its
 * bootstrap socket (ctl.h): a heartbeat every period from a thread of their
 * process (heartbeat.c), and notices (FAILED, and the failback protocol's
 * frames, handed to the direction's ctl handler). Checked at most every
 * SPARK_PEER_CHECK_NS from the data path's calls, busy or not, this reads
 * every frame the socket holds and fails the comm when
 *  - no frame came for NCCL_SPARK_PEER_TIMEOUT: the peer process was killed
 *    (a forked child may keep its socket open, so no EOF comes), is frozen,
 *    or its host is unreachable;
 *  - the peer said FAILED: its side of the comm is dead;
 *  - a frame does not decode: the stream cannot be trusted;
 *  - the stream ends inside a frame: the peer died writing it;
 *  - EOF, and work is still pending SPARK_PEER_GRACE_NS later: the peer
 *    closed its comm or died (the grace covers a peer that closed right
 *    after its last operation, whose completions may still be on their way).
 * When this comm failed, for whatever reason, the peer is told (FAILED). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "api.h"
#include "ctl_send.h"
#include "engine.h"
#include "log.h"
#include "param.h"
#include "peer.h"
#include "pending.h"

static const char *dir_name(const struct spark_comm *c)
{
	return c->kind == SPARK_COMM_SEND ? "send" : "recv";
}

static void on_frame(struct spark_comm *c, const struct spark_ctl *f)
{
	char peer[INET6_ADDRSTRLEN + 8], why[SPARK_REASON_LEN];
	switch (f->kind) {
	case SPARK_CTL_HEARTBEAT:
		return;
	case SPARK_CTL_FAILED:
		spark_peer_name(c->fd, peer, sizeof peer);
		SPARK_WARN("dev %d: %s comm: the peer %s failed its side of this comm: %s", c->dev,
			   dir_name(c), peer, f->reason);
		c->ctl_chan.told_failed = true;   /* nothing to tell a peer that gave up */
		snprintf(why, sizeof why, "the peer failed: %.120s", f->reason);
		spark_comm_fail_why(c, ncclRemoteError, why);
		return;
	default:
		if (c->ops != NULL && c->ops->ctl != NULL) {
			c->ops->ctl(c, f);
			return;
		}
		SPARK_WARN("dev %d: %s comm: unexpected control frame %s (rail %u) from the peer: "
			   "ignored", c->dev, dir_name(c), spark_ctl_kind_name(f->kind), f->rail);
	}
}

static void malformed(struct spark_comm *c, const char *reason)
{
	char peer[INET6_ADDRSTRLEN + 8], why[SPARK_REASON_LEN];
	spark_peer_name(c->fd, peer, sizeof peer);
	SPARK_WARN("dev %d: %s comm: malformed control frame from the peer %s: %s; its "
		   "bootstrap stream cannot be trusted, the comm fails (a different plugin "
		   "version on the peer, or something else writing to this connection)",
		   c->dev, dir_name(c), peer, reason);
	snprintf(why, sizeof why, "malformed control frame from this side: %.100s", reason);
	spark_comm_fail_why(c, ncclRemoteError, why);
}

/* The peer's socket closed. In mid-frame, its writer stopped inside a frame
 * (a clean close never does that: frames go out whole): it died, and no more
 * can come, so the comm fails now. At a frame's end it may have closed its
 * comm after its last operation: spark_peer_poll gives it the grace. */
static void closed(struct spark_comm *c, uint64_t now, const char *reason)
{
	c->peer_gone_ns = now;
	if (c->ctl_chan.rx.off == 0) {
		SPARK_INFO(NCCL_NET, "dev %d: the peer closed its connection (%s)", c->dev, reason);
		return;
	}
	char peer[INET6_ADDRSTRLEN + 8];
	spark_peer_name(c->fd, peer, sizeof peer);
	SPARK_WARN("dev %d: %s comm: the connection to the peer %s ended inside a control frame "
		   "(%s): the peer process died while writing it, or something else closed this "
		   "connection; the comm fails", c->dev, dir_name(c), peer, reason);
	spark_comm_fail_why(c, ncclRemoteError, "the connection ended inside a control frame");
}

/* Every complete frame the socket holds; a partial one stays in ctl_chan.rx. */
static void drain(struct spark_comm *c, uint64_t now)
{
	char reason[SPARK_REASON_LEN];
	for (int frames = 0; frames < SPARK_PEER_MAX_FRAMES && c->peer_gone_ns == 0; frames++) {
		struct spark_ctl f;
		bool heard = false;
		enum spark_ctl_rx_got got = spark_ctl_rx_next(&c->ctl_chan.rx, c->fd, &f, &heard,
							      reason, sizeof reason);
		if (heard)
			c->peer_seen_ns = now;
		switch (got) {
		case SPARK_CTL_RX_FRAME:
			on_frame(c, &f);
			if (c->failed != ncclSuccess)
				return;
			break;
		case SPARK_CTL_RX_AGAIN:
			return;
		case SPARK_CTL_RX_CLOSED:
			closed(c, now, reason);
			return;
		case SPARK_CTL_RX_BAD:
			malformed(c, reason);
			return;
		}
	}
}

static void timed_out(struct spark_comm *c, uint64_t now, int timeout_s)
{
	char peer[INET6_ADDRSTRLEN + 8], why[SPARK_REASON_LEN];
	double quiet = (double)(now - c->peer_seen_ns) / 1e9;
	spark_peer_name(c->fd, peer, sizeof peer);
	SPARK_WARN("dev %d: %s comm: nothing from the peer %s for %.1f s (limit %d s): its "
		   "process was killed (a forked child may still hold its socket), is frozen, or "
		   "its host is unreachable; the comm fails. Raise NCCL_SPARK_PEER_TIMEOUT if the "
		   "peer only pauses that long", c->dev, dir_name(c), peer, quiet, timeout_s);
	snprintf(why, sizeof why, "nothing heard from this side for %.1f s", quiet);
	spark_comm_fail_why(c, ncclRemoteError, why);
}

static void closed_with_work(struct spark_comm *c, uint64_t now)
{
	SPARK_WARN("dev %d: %s comm: the peer closed its connection %.1f s ago and work is still "
		   "pending: the peer process died or closed its comm early", c->dev, dir_name(c),
		   (double)(now - c->peer_gone_ns) / 1e9);
	spark_comm_fail_why(c, ncclRemoteError, "the peer closed its connection");
}

void spark_peer_poll(struct spark_comm *c, uint64_t now)
{
	c->next_peer_check_ns = now + SPARK_PEER_CHECK_NS;
	if (c->fd < 0)
		return;
	if (c->failed == ncclSuccess)
		drain(c, now);
	if (c->failed == ncclSuccess) {
		int timeout_s = spark_params()->peer_timeout;
		if (c->peer_gone_ns != 0) {
			if (now - c->peer_gone_ns >= SPARK_PEER_GRACE_NS)
				closed_with_work(c, now);
		} else if (c->peer_seen_ns != 0 &&
			   now - c->peer_seen_ns > (uint64_t)timeout_s * 1000000000ull) {
			timed_out(c, now, timeout_s);
		}
	}
	if (c->failed != ncclSuccess)
		spark_ctl_tell_failed(c);
}
