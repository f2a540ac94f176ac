/* Port watch, failover on port events, failback (failback.h). */
#include <errno.h>
#include <infiniband/verbs.h>
#include <string.h>

#include "api.h"
#include "ctl.h"
#include "ctl_send.h"
#include "devctx.h"
#include "engine.h"
#include "failback.h"
#include "log.h"
#include "param.h"
#include "rail_match.h"
#include "recv.h"
#include "send.h"

/* Arrays, not literals: spark_failback_rail_down tells them by address. */
static const char CAUSE_PORT_DOWN[] = "its port went down (cable unplugged, PCIe link down or "
				      "the peer's NIC reset)";
static const char CAUSE_GID[] = "its GID changed (the interface's address was removed or "
				"replaced)";
#define CAUSE_PEER "the peer lost it (its port went down or its QP failed there)"
#define NAK_PORT_DOWN "this side's port is down"
#define NAK_VERBS "setting up this side's fresh QP failed (see its log)"

void spark_rail_watch_start(struct spark_rail *r)
{
	union ibv_gid gid;
	memset(r->gid, 0, sizeof r->gid);
	if (ibv_query_gid(r->ctx, (uint8_t)r->hca.port, r->hca.gid.index, &gid) == 0)
		memcpy(r->gid, gid.raw, sizeof r->gid);
	spark_devctx_poll_events(r->dc);
	struct spark_port_state st;
	spark_devctx_port(r->dc, r->hca.port, &st);
	r->port_gen_seen = st.gen;
	r->port_errs_seen = st.errs;
	r->lost_cause = NULL;
}

static bool gid_moved(const struct spark_rail *r)
{
	union ibv_gid gid;
	if (ibv_query_gid(r->ctx, (uint8_t)r->hca.port, r->hca.gid.index, &gid) != 0)
		return true;
	return memcmp(gid.raw, r->gid, sizeof r->gid) != 0;
}

/* A rail in use whose port said something: a PORT_ERR since the QP was
 * connected (even if ACTIVE again: packets were lost, the flap may have
 * outlasted the QP's retries) fails it over now; so does a GID that moved. */
static void check_up_rail(struct spark_comm *c, uint32_t r, const struct spark_port_state *st)
{
	struct spark_rail *rail = &c->rail[r];
	const char *cause = NULL;
	if (!st->up || st->errs != rail->port_errs_seen)
		cause = CAUSE_PORT_DOWN;
	else if (gid_moved(rail))
		cause = CAUSE_GID;
	if (cause == NULL)
		return;
	if (spark_rail_fail(c, r, cause) && c->ops->progress != NULL)
		c->ops->progress(c);   /* slots that waited for room may go now */
}

/* ================= failback ================= */

static const char *side(const struct spark_comm *c)
{
	return c->kind == SPARK_COMM_SEND ? "send" : "recv";
}

static void bad_frame(struct spark_comm *c, const struct spark_ctl *f, const char *why)
{
	SPARK_WARN("dev %d: %s comm: bad control frame %s (rail %u, epoch %u): %s; the comm "
		   "fails (the peer runs another plugin version, or its memory is corrupted)",
		   c->dev, side(c), spark_ctl_kind_name(f->kind), f->rail, f->epoch, why);
	spark_comm_fail(c, ncclRemoteError);
}

/* The fields of a peer's fresh QP, before any goes near a verbs call. */
static const char *info_insane(const struct spark_comm *c, uint32_t r,
			       const struct spark_rail_info *info)
{
	struct spark_rail_info ours;
	if (memchr(info->name, '\0', sizeof info->name) == NULL || info->name[0] == '\0')
		return "HCA name";
	if (info->qpn == 0 || info->qpn > 0xffffff || info->psn > 0xffffff)
		return "QPN or PSN beyond 24 bits";
	if (info->mtu < 256 || info->mtu > 4096 || (info->mtu & (info->mtu - 1)) != 0)
		return "MTU";
	static const uint8_t zero[16];
	if (memcmp(info->gid, zero, sizeof zero) == 0)
		return "zero GID";
	if (info->addr == 0 || info->rkey == 0)
		return "NULL area address or key";
	if (info->addr != c->rail[r].peer_addr)
		return "area address differs from the handshake's";
	spark_rail_describe(&c->rail[r], &ours);
	if (!spark_rails_reach(&ours, info))
		return "its subnet does not meet this rail's";
	return NULL;
}

/* Both sides: rail r is a member of this connection again. */
static void readmit(struct spark_comm *c, uint32_t r)
{
	struct spark_rail *rail = &c->rail[r];
	uint32_t bit = 1u << r;
	rail->rejoin.step = REJOIN_IDLE;
	rail->rejoin.tries = 0;
	rail->rejoin.conn_epoch = rail->rejoin.epoch;
	c->queued[r] = 0;
	c->rail_chains[r] = 0;
	c->failed_mask &= ~bit;
	c->up_mask |= bit;
	spark_weights_readmit(&c->weights, r, (uint32_t)spark_hca_rail_mbps(&rail->hca));
	memcpy(c->policy.weight, c->weights.weight, sizeof c->policy.weight);
	c->weight_updates = c->weights.updates;
	SPARK_INFO(NCCL_NET, "dev %d: rail %s is back (epoch %u); the %s comm carries on over "
		   "both halves", c->dev, rail->hca.name, rail->rejoin.epoch, side(c));
}

static ncclResult_t send_frame(struct spark_comm *c, enum spark_ctl_kind kind, uint32_t r,
			       uint32_t epoch, const char *reason)
{
	/* The frame names the rail in the peer's numbering (rails are paired by
	 * subnet, not position: rail_match.c), so the receiver reads its own. */
	struct spark_ctl f;
	spark_ctl_init(&f, kind, c->rail[r].peer_rail, epoch, reason);
	if (kind == SPARK_CTL_REJOIN || kind == SPARK_CTL_REJOIN_ACK)
		spark_rail_describe(&c->rail[r], &f.info);
	return spark_ctl_send(c, &f);
}

/* Receiver: which shares of lost rail r it has, for the sender to re-send
 * only the others (send.c, "a rail lost"). Its QP there is in ERR and its CQ
 * drained (spark_rail_fail), so nothing more can land through it: the masks
 * are final. The epoch names the QP pair that was lost. */
static ncclResult_t send_resend(struct spark_comm *c, uint32_t r)
{
	struct spark_ctl f;
	spark_ctl_init(&f, SPARK_CTL_RESEND, c->rail[r].peer_rail, c->rail[r].rejoin.conn_epoch,
		       NULL);
	spark_recv_shares(c, &f.resend);
	return spark_ctl_send(c, &f);
}

void spark_failback_rail_down(struct spark_comm *c, uint32_t r)
{
	/* Tell the peer, whose side of the rail may look healthy (a one-sided
	 * failure: it would wait for its own RETRY_EXC). The sender's is best
	 * effort (the receiver's port or RETRY_EXC tells it too). The
	 * receiver's RESEND follows its RAIL_DOWN on the ordered socket, so the
	 * sender has failed the rail when it reads it; the sender waits for it
	 * before re-sending anything, so without it the comm fails now. */
	struct spark_rail *rail = &c->rail[r];
	rail->rejoin.step = REJOIN_IDLE;
	/* A rail its own port took out may rejoin as soon as the port is up
	 * (a flap may be over before we look). One lost without a word from
	 * its port (RETRY_EXC, the peer's RAIL_DOWN) waits for an event on it:
	 * a peer whose NIC stopped answering with the ports up would otherwise
	 * be re-admitted over the working socket and lost again, rail after
	 * rail, and the comm would never see both down and fail. */
	bool port_said = rail->lost_cause == CAUSE_PORT_DOWN || rail->lost_cause == CAUSE_GID;
	rail->rejoin.retry_ns = port_said ? 0 : UINT64_MAX;
	if (c->fd < 0)
		return;
	ncclResult_t told = send_frame(c, SPARK_CTL_RAIL_DOWN, r, 0, c->rail[r].lost_cause);
	if (c->kind != SPARK_COMM_RECV || c->failed != ncclSuccess)
		return;
	if (told == ncclSuccess)
		told = send_resend(c, r);
	if (told != ncclSuccess) {
		SPARK_WARN("dev %d: recv comm: rail %s lost, and the sender could not be told which "
			   "of its shares landed (see the WARN before); the comm fails, as the sender "
			   "re-sends nothing without that answer", c->dev, rail->hca.name);
		spark_comm_fail_why(c, ncclRemoteError, "the receiver could not say which shares of a "
				    "lost rail landed");
	}
}

static uint64_t backoff_ns(uint32_t tries)
{
	uint64_t ns = SPARK_REJOIN_BACKOFF_NS << (tries < 6 ? tries : 6);
	return ns < SPARK_REJOIN_BACKOFF_MAX_NS ? ns : SPARK_REJOIN_BACKOFF_MAX_NS;
}

/* Sender: the port of failed rail r is up: a fresh QP, and REJOIN. */
static void rejoin_start(struct spark_comm *c, uint32_t r, uint64_t now)
{
	struct spark_rail *rail = &c->rail[r];
	struct spark_rejoin *j = &rail->rejoin;
	if (spark_rail_renew(rail) != ncclSuccess) {
		j->retry_ns = now + SPARK_REJOIN_BACKOFF_MAX_NS;   /* WARNed; later */
		return;
	}
	j->epoch++;
	j->step = REJOIN_SENT;
	j->sent_ns = now;
	SPARK_INFO(NCCL_NET, "dev %d: rail %s: its port is up again; asking the peer to rejoin "
		   "(epoch %u)", c->dev, rail->hca.name, j->epoch);
	if (send_frame(c, SPARK_CTL_REJOIN, r, j->epoch, NULL) != ncclSuccess) {
		j->step = REJOIN_IDLE;   /* WARNed: the socket is full or gone; later */
		j->retry_ns = now + backoff_ns(j->tries++);
	}
}

/* Sender: shares re-sent after a rail loss still in flight. No longer
 * needed for correctness: a share is re-sent only when the receiver
 * confirmed it lacks it, so its receive is not complete and its buffer
 * cannot be reposted before the copy lands. Kept as a damper: a peer whose
 * NIC stopped answering with its ports up (frozen, reset without a port
 * event) fails rail after rail by RETRY_EXC; re-admitting one at once over
 * the working socket, while the other half's re-sent shares wait on the same
 * dead NIC, would cycle the rails for ever instead of ending with both down
 * (the comm fails, the peer is told). */
static bool resends_in_flight(const struct spark_comm *c)
{
	for (uint32_t i = 0; i < SPARK_SLOTS; i++) {
		const struct spark_send_slot *s = &c->slots[i];
		if (s->state == SLOT_POSTED && (s->moved & s->rails_pending) != 0)
			return true;
	}
	return false;
}

/* Sender: a lost rail's shares wait for the receiver's RESEND (until it
 * came the rail does not rejoin either: a fresh QP pair would carry new
 * traffic while the old pair's shares are unsettled). One that does not
 * come within the peer timeout fails the comm: never a hang. */
static bool verdict_timed_out(struct spark_comm *c, uint32_t r, uint64_t now)
{
	struct spark_rail *rail = &c->rail[r];
	int timeout_s = spark_params()->peer_timeout;
	if (!rail->verdict_pending || now - rail->verdict_ns <= (uint64_t)timeout_s * 1000000000ull)
		return false;
	SPARK_WARN("dev %d: send comm: rail %s was lost %.1f s ago and the receiver never said "
		   "which of its shares landed (no RESEND within NCCL_SPARK_PEER_TIMEOUT=%d s): "
		   "the peer is stuck, or runs a plugin without confirmed re-sends (run the same "
		   "version on both hosts); the comm fails", c->dev, rail->hca.name,
		   (double)(now - rail->verdict_ns) / 1e9, timeout_s);
	spark_comm_fail_why(c, ncclRemoteError, "no RESEND for a lost rail in time");
	return true;
}

/* Sender, from the tick: failed rails whose port is up try to come back,
 * on a port event or when the backoff after a refusal has passed. */
static void failback_step(struct spark_comm *c, uint32_t r, const struct spark_port_state *st,
			  bool event, uint64_t now)
{
	struct spark_rejoin *j = &c->rail[r].rejoin;
	if (c->kind != SPARK_COMM_SEND || !st->up || c->fd < 0 || !spark_params()->failback)
		return;
	if (j->step == REJOIN_SENT && now - j->sent_ns > SPARK_REJOIN_ANSWER_NS) {
		SPARK_INFO(NCCL_NET, "dev %d: rail %s: no answer to rejoin epoch %u; trying again",
			   c->dev, c->rail[r].hca.name, j->epoch);
		j->step = REJOIN_IDLE;
		j->retry_ns = now + backoff_ns(j->tries++);
	}
	if (j->step != REJOIN_IDLE || !(event || now >= j->retry_ns))
		return;
	if (c->rail[r].verdict_pending || resends_in_flight(c)) {
		j->retry_ns = now;   /* the next tick looks again */
		return;
	}
	rejoin_start(c, r, now);
}

/* Receiver: REJOIN. Its side of the rail goes too if it still looked up
 * (the sender saw it fail first); then a fresh QP connected to the peer's,
 * receives posted, ACK, or a NAK when its own port is not up. */
static void on_rejoin(struct spark_comm *c, const struct spark_ctl *f)
{
	uint32_t r = f->rail;
	struct spark_rail *rail = &c->rail[r];
	struct spark_rejoin *j = &rail->rejoin;
	if (f->epoch <= j->epoch)
		return bad_frame(c, f, "epoch not above the last one taken");
	const char *insane = info_insane(c, r, &f->info);
	if (insane != NULL)
		return bad_frame(c, f, insane);
	if ((c->up_mask & (1u << r)) && !spark_rail_fail(c, r, CAUSE_PEER))
		return;   /* it was the last rail: the comm has failed */
	j->epoch = f->epoch;
	struct spark_port_state st;
	spark_devctx_poll_events(rail->dc);
	spark_devctx_port(rail->dc, rail->hca.port, &st);
	if (!st.up) {
		(void)send_frame(c, SPARK_CTL_REJOIN_NAK, r, f->epoch, NAK_PORT_DOWN);
		return;
	}
	rail->up = false;
	if (spark_rail_renew(rail) != ncclSuccess || spark_rail_connect(rail, &f->info) != ncclSuccess ||
	    spark_rail_post_recvs(c, r, SPARK_RQ_DEPTH) != ncclSuccess) {
		/* WARNed; the fresh QP is not used (the next REJOIN renews it). */
		rail->up = false;
		if (c->failed == ncclSuccess)
			(void)send_frame(c, SPARK_CTL_REJOIN_NAK, r, f->epoch, NAK_VERBS);
		return;
	}
	spark_rail_retire_old(rail);
	/* Polled from now on (the sender may write as soon as it has our
	 * ACK), but no CTS on it until DONE says the sender's QP is up. */
	j->step = REJOIN_ACKED;
	(void)send_frame(c, SPARK_CTL_REJOIN_ACK, r, f->epoch, NULL);
}

/* Sender: the receiver's fresh QP; ours to RTS, DONE, the rail back. */
static void on_ack(struct spark_comm *c, const struct spark_ctl *f)
{
	uint32_t r = f->rail;
	struct spark_rail *rail = &c->rail[r];
	const char *insane = info_insane(c, r, &f->info);
	if (insane != NULL)
		return bad_frame(c, f, insane);
	if (spark_rail_connect(rail, &f->info) != ncclSuccess) {
		rail->up = false;   /* WARNed; again after the backoff */
		rail->rejoin.step = REJOIN_IDLE;
		rail->rejoin.retry_ns = spark_now_ns() + backoff_ns(rail->rejoin.tries++);
		return;
	}
	spark_rail_retire_old(rail);
	if (send_frame(c, SPARK_CTL_REJOIN_DONE, r, f->epoch, NULL) != ncclSuccess)
		return;
	readmit(c, r);
}

static void on_nak(struct spark_comm *c, const struct spark_ctl *f)
{
	struct spark_rejoin *j = &c->rail[f->rail].rejoin;
	j->step = REJOIN_IDLE;
	j->retry_ns = spark_now_ns() + backoff_ns(j->tries++);
	SPARK_INFO(NCCL_NET, "dev %d: rail %s: the peer refused rejoin epoch %u (%s); trying "
		   "again on its next port event or after a backoff", c->dev,
		   c->rail[f->rail].hca.name, f->epoch, f->reason);
}

/* RAIL_DOWN: the peer lost its side of rail r. It carries no epoch and
 * needs none: the socket is in order, and each side sends RAIL_DOWN about
 * a QP pair before anything that replaces the pair (a REJOIN, or an ACK),
 * so one that finds the rail up here is about the pair in use, and one
 * that finds it down (failed, or a rejoin under way) is about the old one. */
static void on_rail_down(struct spark_comm *c, const struct spark_ctl *f)
{
	if (c->up_mask & (1u << f->rail))
		(void)spark_rail_fail(c, f->rail, CAUSE_PEER);
}

/* Sender: the receiver's verdict on a lost rail. Only the one awaited (the
 * rail failed here first: the receiver's RAIL_DOWN comes before it), about
 * the QP pair that was lost. */
static void on_resend(struct spark_comm *c, const struct spark_ctl *f)
{
	struct spark_rail *rail = &c->rail[f->rail];
	if (!rail->verdict_pending)
		return bad_frame(c, f, "no lost rail of this side waits for it");
	if (f->epoch != rail->verdict_epoch)
		return bad_frame(c, f, "about another QP pair than the one lost");
	rail->verdict_pending = false;
	spark_send_verdict(c, f->rail, &f->resend);
	if (c->failed == ncclSuccess && c->ops->progress != NULL)
		c->ops->progress(c);   /* slots that waited for room may go now */
}

void spark_failback_ctl(struct spark_comm *c, const struct spark_ctl *f)
{
	if (c->failed != ncclSuccess)
		return;
	if (f->rail >= c->nrails || !((c->up_mask | c->failed_mask) & (1u << f->rail)))
		return bad_frame(c, f, "no such rail in this connection");
	struct spark_rejoin *j = &c->rail[f->rail].rejoin;
	bool send = c->kind == SPARK_COMM_SEND;
	switch (f->kind) {
	case SPARK_CTL_RAIL_DOWN:
		return on_rail_down(c, f);
	case SPARK_CTL_RESEND:
		return send ? on_resend(c, f) : bad_frame(c, f, "RESEND sent to the acceptor");
	case SPARK_CTL_REJOIN:
		return send ? bad_frame(c, f, "REJOIN sent to the connector") : on_rejoin(c, f);
	case SPARK_CTL_REJOIN_DONE:
		if (send)
			return bad_frame(c, f, "DONE sent to the connector");
		if (j->step != REJOIN_ACKED || f->epoch != j->epoch)
			return bad_frame(c, f, "no rejoin of that epoch acknowledged");
		return readmit(c, f->rail);
	case SPARK_CTL_REJOIN_ACK:
	case SPARK_CTL_REJOIN_NAK:
		if (!send)
			return bad_frame(c, f, "an answer sent to the acceptor");
		if (f->epoch > j->epoch)
			return bad_frame(c, f, "answer to a rejoin never asked");
		if (f->epoch < j->epoch || j->step != REJOIN_SENT)
			return;   /* to an attempt given up on (no answer in time) */
		return f->kind == SPARK_CTL_REJOIN_ACK ? on_ack(c, f) : on_nak(c, f);
	default:
		return bad_frame(c, f, "not a failback frame");
	}
}

void spark_port_tick(struct spark_comm *c)
{
	uint64_t now = spark_now_ns();
	if (now < c->next_port_ns || c->failed != ncclSuccess)
		return;
	c->next_port_ns = now + SPARK_PORT_CHECK_NS;
	uint32_t kept = c->up_mask | c->failed_mask;
	for (uint32_t r = 0; r < c->nrails && c->failed == ncclSuccess; r++) {
		struct spark_rail *rail = &c->rail[r];
		if (!(kept & (1u << r)) || verdict_timed_out(c, r, now))
			continue;
		if (rail->dc == NULL)
			continue;
		spark_devctx_poll_events(rail->dc);
		struct spark_port_state st;
		spark_devctx_port(rail->dc, rail->hca.port, &st);
		bool event = st.gen != rail->port_gen_seen;
		rail->port_gen_seen = st.gen;
		if (c->up_mask & (1u << r)) {
			if (event)
				check_up_rail(c, r, &st);
		} else {
			failback_step(c, r, &st, event, now);
		}
	}
}
