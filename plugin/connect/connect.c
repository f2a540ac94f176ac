/* listen / connect / accept: non-blocking state machines over the TCP
 * bootstrap. NCCL calls connect and accept again and again until they
 * return a comm; each call advances as far as the sockets allow and returns.
 *
 *   connector                         acceptor
 *   TCP connect  ───────────────────▶ accept
 *   HELLO (rails: QPN, GID, PSN, MTU,
 *          FIFO addr/rkey)  ─────────▶ validate, pair each rail with the
 *                                     peer's rail on its subnet (rail_match),
 *                                     QPs to RTS, post receives
 *   validate the pairing,  ◀───────── REPLY (kept rails: QPN, GID, PSN,
 *   QPs to RTS                               MTU, record addr/rkey, and the
 *                                            connector's rail each pairs with)
 *   READY  ─────────────────────────▶ comm returned
 *   comm returned
 *
 * Both ends expect a hostile network. The listener holds several accepted
 * connections at once (pending.c) and takes the first that sends a valid
 * HELLO; junk, silent and half-open clients are dropped with a log line and
 * never fail the comm, and a connection that dies after its HELLO (a peer
 * killed while connecting, a replayed HELLO) is dropped the same way. The
 * connector retries a refused or timed-out TCP connect (the listener's
 * process may not have reached listen() yet, NCCL's own sockets retry too):
 * SPARK_CONNECT_RETRIES attempts, 10 ms apart doubling to 200 ms, about 6 s
 * in all, without ever blocking (the wait is a deadline NCCL's next call
 * checks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "api.h"
#include "comm.h"
#include "engine.h"
#include "heartbeat.h"
#include "log.h"
#include "pending.h"
#include "rail_match.h"
#include "recv.h"
#include "socket.h"

#define STAGE_MAGIC 0x53544147u  /* marks connector scratch in the handle */

/* TCP connect attempts while the listener refuses or does not answer; the
 * backoff doubles from the first delay to the cap (~6 s in all, NCCL's own
 * sockets make 34 attempts too). */
#define SPARK_CONNECT_RETRIES 34
#define SPARK_CONNECT_BACKOFF_MS 10
#define SPARK_CONNECT_BACKOFF_MAX_MS 200
/* After a valid HELLO: how long the listener waits for the READY. NCCL's
 * connector may be slow to call connect again (it sets up many connections),
 * so this is generous; a connection past it is dropped, not an error. */
#define SPARK_HANDSHAKE_TIMEOUT_MS 30000

enum conn_step { C_BACKOFF, C_CONNECTING, C_SEND_HELLO, C_RECV_REPLY, C_SEND_READY };
enum acc_step { A_WAIT_HELLO, A_SEND_REPLY, A_RECV_READY };

struct spark_connecting {
	enum conn_step step;
	struct spark_handle handle;
	struct spark_comm *comm;
	int attempts;                  /* TCP connects started */
	uint64_t retry_at_ns;          /* C_BACKOFF: when to try again */
	uint8_t buf[SPARK_MSG_SIZE];
	size_t off;
};

struct spark_listen_comm {
	int dev;
	int fd;
	uint64_t nonce;
	struct spark_pending pending;  /* connections that have not sent a HELLO yet */
	/* The one connection past its HELLO, until its READY. */
	enum acc_step step;
	int conn_fd;
	struct spark_comm *comm;
	uint64_t deadline_ns;
	char peer[64];
	uint8_t buf[SPARK_MSG_SIZE];
	size_t off;
};

/* ---- the connector's scratch space in the handle buffer ---- */
struct stage {
	uint32_t magic;
	struct spark_connecting *state;
};
_Static_assert(SPARK_HANDLE_STAGE_OFF + sizeof(struct stage) <= SPARK_HANDLE_SIZE, "fits");

static struct spark_connecting *stage_get(void *handle)
{
	struct stage s;
	memcpy(&s, (char *)handle + SPARK_HANDLE_STAGE_OFF, sizeof s);
	return s.magic == STAGE_MAGIC ? s.state : NULL;
}

static void stage_set(void *handle, struct spark_connecting *state)
{
	struct stage s = {state != NULL ? STAGE_MAGIC : 0, state};
	memcpy((char *)handle + SPARK_HANDLE_STAGE_OFF, &s, sizeof s);
}

static uint64_t random64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = spark_now_ns() ^ (uint64_t)getpid() << 32;
	return v;
}

static void describe_rails(const struct spark_comm *c, struct spark_conn_msg *m)
{
	m->nrails = c->nrails;
	for (uint32_t r = 0; r < c->nrails; r++)
		spark_rail_describe(&c->rail[r], &m->rail[r]);
}

/* What the matching left out, and pairs across HCA names, said at INFO (a
 * ring of three Sparks, or a switch, leaves one cable unused per peer; a half
 * that lost its address leaves that half out). pair: per local rail, the
 * peer's rail or SPARK_RAIL_NONE. */
static void report_pairs(const char *who, int dev, const struct spark_conn_msg *ours,
			 const struct spark_conn_msg *peer, const uint8_t *pair)
{
	for (uint32_t r = 0; r < ours->nrails; r++) {
		char a[40];
		const struct spark_rail_info *o = &ours->rail[r];
		spark_rails_format(o, 1, a, sizeof a);
		if (pair[r] == SPARK_RAIL_NONE) {
			SPARK_INFO(NCCL_NET, "%s dev %d: rail %u (%s) has no rail of the peer on its "
				   "subnet; left out of this connection", who, dev, r, a);
			continue;
		}
		const struct spark_rail_info *p = &peer->rail[pair[r]];
		if (strcmp(o->name, p->name) != 0 || pair[r] != r) {
			char b[40];
			spark_rails_format(p, 1, b, sizeof b);
			SPARK_INFO(NCCL_NET, "%s dev %d: rail %u (%s) pairs with the peer's rail %u (%s)",
				   who, dev, r, a, pair[r], b);
		}
	}
}

/* No rail of ours reaches a rail of the peer: both sides' rails and the fix.
 * The peer is unreachable from here as with ENETUNREACH: ncclRemoteError. */
static ncclResult_t no_common_rail(const char *who, int dev, const char *where,
				   const struct spark_conn_msg *ours, const struct spark_conn_msg *peer)
{
	char a[256], b[256];
	spark_rails_format(ours->rail, ours->nrails, a, sizeof a);
	spark_rails_format(peer->rail, peer->nrails, b, sizeof b);
	SPARK_WARN("%s dev %d: no rail of this device shares a subnet with any rail of the peer "
		   "at %s (ours: %s; the peer's: %s). Fix: give each half an address on both Sparks, "
		   "one /24 per half and the same /24 for the two ends of a half (e.g. sudo ip "
		   "addr add 192.168.101.<n>/24 dev enP2p1s0f0np0, persisted in "
		   "/etc/netplan/40-cx7.yaml), then rerun", who, dev, where, a, b);
	return ncclRemoteError;
}

/* Live from here: heard from the peer just now (the handshake), heartbeats
 * on, the kernel's own liveness checks on the socket. */
static ncclResult_t comm_live(struct spark_comm *c)
{
	c->peer_seen_ns = spark_now_ns();
	spark_sock_set_liveness(c->fd, spark_params()->peer_timeout);
	return spark_heartbeat_add(c);
}

static void comm_ready(struct spark_comm *c)
{
	uint32_t mbps[SPARK_STRIPE_MAX_RAILS] = {0};
	for (uint32_t r = 0; r < c->nrails; r++)
		if (c->rail[r].up)
			mbps[r] = (uint32_t)spark_hca_rail_mbps(&c->rail[r].hca);
	spark_weights_init(&c->weights, c->nrails, mbps, spark_params()->adaptive_weights);
	c->policy.nrails = c->nrails;
	c->policy.min_stripe = (uint64_t)spark_params()->min_stripe;
	memcpy(c->policy.weight, c->weights.weight, sizeof c->policy.weight);
	for (c->small_rail = 0; !(c->up_mask & (1u << c->small_rail)); c->small_rail++)
		;
	SPARK_INFO(NCCL_NET, "%s comm on dev %d ready: rails %#x of %u", 
		   c->kind == SPARK_COMM_SEND ? "send" : "recv", c->dev, c->up_mask, c->nrails);
}

/* Each local rail with a partner to the peer's rail pair[r] (that rail's QPN,
 * GID and control area): the rail's peer_rail is that index from now on. */
static ncclResult_t connect_rails(struct spark_comm *c, const struct spark_conn_msg *peer,
				  const uint8_t *pair)
{
	uint32_t mask = 0;
	for (uint32_t r = 0; r < c->nrails; r++) {
		if (pair[r] == SPARK_RAIL_NONE)
			continue;
		c->rail[r].peer_rail = pair[r];
		SPARK_TRY(spark_rail_connect(&c->rail[r], &peer->rail[pair[r]]));
		mask |= 1u << r;
	}
	c->up_mask = mask;
	return ncclSuccess;
}

/* ================= listen ================= */

ncclResult_t spark_listen(int dev, void *handle, void **listen_comm)
{
	*listen_comm = NULL;
	const struct spark_ldev *d = spark_device(dev);
	if (d == NULL) {
		SPARK_WARN("listen: no device %d", dev);
		return ncclInvalidArgument;
	}
	struct spark_sock_addr addr;
	char reason[SPARK_REASON_LEN];
	if (spark_sock_pick(&addr, reason, sizeof reason) != 0) {
		SPARK_WARN("listen: %s", reason);
		return ncclInvalidUsage;
	}
	struct spark_listen_comm *l = calloc(1, sizeof *l);
	if (l == NULL)
		return ncclSystemError;
	struct spark_handle h = {.nonce = random64(), .nrails = (uint8_t)d->nrails};
	l->fd = spark_sock_listen(&addr, &h);
	if (l->fd < 0) {
		free(l);
		return spark_check_failed("listen socket", errno, __FILE__, __LINE__);
	}
	l->dev = dev;
	l->nonce = h.nonce;
	l->conn_fd = -1;
	l->step = A_WAIT_HELLO;
	spark_pending_init(&l->pending, dev, h.nonce);
	spark_handle_encode(&h, handle);
	SPARK_INFO(NCCL_NET, "listen on dev %d via %s port %u", dev, addr.ifname, h.port);
	*listen_comm = l;
	return ncclSuccess;
}

/* ================= connect ================= */

static ncclResult_t connect_begin(int dev, void *handle, struct spark_connecting **out)
{
	struct spark_handle h;
	char reason[SPARK_REASON_LEN];
	if (spark_handle_decode(handle, &h, reason, sizeof reason) != 0) {
		SPARK_WARN("connect: refusing handle: %s", reason);
		return ncclInvalidUsage;
	}
	struct spark_connecting *s = calloc(1, sizeof *s);
	if (s == NULL)
		return ncclSystemError;
	s->handle = h;
	ncclResult_t res = spark_comm_alloc(SPARK_COMM_SEND, dev, &s->comm);
	if (res != ncclSuccess) {
		free(s);
		return res;
	}
	s->step = C_BACKOFF;   /* retry_at 0: the first attempt starts now */
	*out = s;
	return ncclSuccess;
}

static bool retryable(int err)
{
	return err == ECONNREFUSED || err == ETIMEDOUT;
}

/* A refused or timed-out attempt: closes it and schedules the next one, or
 * fails once the attempts are spent. */
static ncclResult_t connect_retry(struct spark_connecting *s, int err)
{
	if (s->comm->fd >= 0)
		close(s->comm->fd);
	s->comm->fd = -1;
	if (s->attempts >= SPARK_CONNECT_RETRIES) {
		char addr[64];
		spark_sock_handle_name(&s->handle, addr, sizeof addr);
		SPARK_WARN("connect dev %d: %s: %s after %d attempts over about %d s; is the peer "
			   "process alive, and is its NCCL_SOCKET_IFNAME address reachable from "
			   "here?", s->comm->dev, addr, strerror(err), s->attempts,
			   (SPARK_CONNECT_RETRIES * SPARK_CONNECT_BACKOFF_MAX_MS) / 1000);
		return ncclRemoteError;
	}
	int shift = s->attempts < 8 ? s->attempts - 1 : 7;
	uint64_t ms = (uint64_t)SPARK_CONNECT_BACKOFF_MS << (shift > 0 ? shift : 0);
	if (ms > SPARK_CONNECT_BACKOFF_MAX_MS)
		ms = SPARK_CONNECT_BACKOFF_MAX_MS;
	s->retry_at_ns = spark_monotonic_ns() + ms * 1000000ull;
	s->step = C_BACKOFF;
	return ncclSuccess;
}

/* C_BACKOFF: starts the next TCP connect once its time has come; *started
 * when one is under way. */
static ncclResult_t connect_attempt(struct spark_connecting *s, bool *started)
{
	*started = false;
	if (spark_monotonic_ns() < s->retry_at_ns)
		return ncclSuccess;
	s->attempts++;
	s->comm->fd = spark_sock_connect_start(&s->handle);
	if (s->comm->fd < 0)
		return retryable(errno) ? connect_retry(s, errno)
					: spark_check_failed("connect socket", errno, __FILE__,
							     __LINE__);
	s->step = C_CONNECTING;
	*started = true;
	return ncclSuccess;
}

static ncclResult_t sock_failed(const char *what, int fd_rc)
{
	(void)fd_rc;
	return spark_check_failed(what, errno, __FILE__, __LINE__);
}

/* The acceptor's pairing (per kept rail of its, one of ours), checked and
 * turned around: per local rail, the acceptor's rail or SPARK_RAIL_NONE. */
static ncclResult_t reply_pairs(const struct spark_comm *c, const struct spark_conn_msg *ours,
				const struct spark_conn_msg *m, uint8_t *pair)
{
	memset(pair, SPARK_RAIL_NONE, SPARK_WIRE_MAX_RAILS);
	for (uint32_t i = 0; i < m->nrails; i++) {
		if (!(m->rail_mask & (1u << i)))
			continue;
		uint32_t j = m->peer_rail[i];
		char a[40] = "", b[40];
		if (j < c->nrails)
			spark_rails_format(&ours->rail[j], 1, a, sizeof a);
		spark_rails_format(&m->rail[i], 1, b, sizeof b);
		if (j >= c->nrails || !spark_rails_reach(&ours->rail[j], &m->rail[i])) {
			SPARK_WARN("connect dev %d: the peer paired its rail %u (%s) with our rail %u "
				   "(%s), which %s; refused (another plugin version, or a corrupted "
				   "REPLY)", c->dev, i, b, j, j < c->nrails ? a : "-",
				   j < c->nrails ? "is on another subnet" : "does not exist");
			return ncclRemoteError;
		}
		pair[j] = (uint8_t)i;
	}
	return ncclSuccess;
}

static ncclResult_t on_reply(struct spark_connecting *s)
{
	struct spark_comm *c = s->comm;
	struct spark_conn_msg m;
	char reason[SPARK_REASON_LEN];
	if (spark_msg_decode(s->buf, SPARK_MSG_REPLY, s->handle.nonce, &m, reason,
			     sizeof reason) != 0) {
		SPARK_WARN("connect dev %d: refusing the peer's REPLY: %s", c->dev, reason);
		return ncclRemoteError;
	}
	if (m.nrails != s->handle.nrails) {
		SPARK_WARN("connect dev %d: the handle says the listener has %u rails, its REPLY "
			   "describes %u: a corrupted or foreign handle; refused", c->dev,
			   s->handle.nrails, m.nrails);
		return ncclInvalidUsage;
	}
	struct spark_conn_msg ours;
	describe_rails(c, &ours);
	if (m.rail_mask == 0) {   /* the acceptor found no rail reaching ours */
		char addr[64];
		spark_sock_handle_name(&s->handle, addr, sizeof addr);
		return no_common_rail("connect", c->dev, addr, &ours, &m);
	}
	uint8_t pair[SPARK_WIRE_MAX_RAILS];
	SPARK_TRY(reply_pairs(c, &ours, &m, pair));
	report_pairs("connect", c->dev, &ours, &m, pair);
	SPARK_TRY(connect_rails(c, &m, pair));
	memset(&m, 0, sizeof m);
	m.kind = SPARK_MSG_READY;
	m.nonce = s->handle.nonce;
	spark_msg_encode(&m, s->buf);
	return ncclSuccess;
}

/* One pass of the connector's state machine; *done when the comm is ready. */
static ncclResult_t connect_step(struct spark_connecting *s, bool *done)
{
	int fd, rc;
	bool started;
	struct spark_conn_msg m;
	*done = false;
	switch (s->step) {
	case C_BACKOFF:
		SPARK_TRY(connect_attempt(s, &started));
		if (!started)
			return ncclSuccess;
		/* fall through */
	case C_CONNECTING:
		fd = s->comm->fd;
		if ((rc = spark_sock_connect_done(fd)) < 0)
			return retryable(errno) ? connect_retry(s, errno)
						: sock_failed("connect to the listener", rc);
		if (rc == 0)
			return ncclSuccess;
		memset(&m, 0, sizeof m);
		m.kind = SPARK_MSG_HELLO;
		m.nonce = s->handle.nonce;
		describe_rails(s->comm, &m);
		spark_msg_encode(&m, s->buf);
		s->off = 0;
		s->step = C_SEND_HELLO;
		/* fall through */
	case C_SEND_HELLO:
		fd = s->comm->fd;
		if ((rc = spark_sock_send_some(fd, s->buf, SPARK_MSG_SIZE, &s->off)) <= 0)
			return rc < 0 ? sock_failed("send HELLO", rc) : ncclSuccess;
		s->off = 0;
		s->step = C_RECV_REPLY;
		/* fall through */
	case C_RECV_REPLY:
		fd = s->comm->fd;
		if ((rc = spark_sock_recv_some(fd, s->buf, SPARK_MSG_SIZE, &s->off)) <= 0)
			return rc < 0 ? sock_failed("receive REPLY (see the peer's log)", rc)
				      : ncclSuccess;
		SPARK_TRY(on_reply(s));
		s->off = 0;
		s->step = C_SEND_READY;
		/* fall through */
	case C_SEND_READY:
		fd = s->comm->fd;
		if ((rc = spark_sock_send_some(fd, s->buf, SPARK_MSG_SIZE, &s->off)) <= 0)
			return rc < 0 ? sock_failed("send READY", rc) : ncclSuccess;
		*done = true;
	}
	return ncclSuccess;
}

ncclResult_t spark_connect(int dev, void *handle, void **send_comm)
{
	*send_comm = NULL;
	SPARK_NOT_NULL(handle, "handle");
	struct spark_connecting *s = stage_get(handle);
	if (s == NULL) {
		SPARK_TRY(connect_begin(dev, handle, &s));
		stage_set(handle, s);
	}
	bool done;
	ncclResult_t res = connect_step(s, &done);
	if (res != ncclSuccess || done) {
		stage_set(handle, NULL);
		if (res == ncclSuccess)
			res = comm_live(s->comm);
		if (res == ncclSuccess) {
			comm_ready(s->comm);
			*send_comm = s->comm;
		} else {
			spark_comm_free(s->comm);
		}
		free(s);
	}
	return res;
}

/* ================= accept ================= */

/* Forgets the connection past its HELLO (pending ones stay). */
static void accept_reset(struct spark_listen_comm *l)
{
	if (l->comm != NULL)
		spark_comm_free(l->comm);   /* closes conn_fd, which it owns */
	else if (l->conn_fd >= 0)
		close(l->conn_fd);
	l->comm = NULL;
	l->conn_fd = -1;
	l->off = 0;
	l->step = A_WAIT_HELLO;
}

/* A connection that sent a valid HELLO and then failed: a connector killed
 * while connecting, or a replay. Its own side reports its failure; here it
 * is dropped and the listener waits for the next. */
static ncclResult_t drop_active(struct spark_listen_comm *l, const char *what)
{
	SPARK_WARN("accept dev %d: dropped the connection from %s after its HELLO: %s; "
		   "waiting for the next connection", l->dev, l->peer, what);
	accept_reset(l);
	return ncclSuccess;
}

/* Tells the connector why: a REPLY with mask 0 describing our rails (best
 * effort: a fresh socket takes 480 bytes). */
static void refuse(struct spark_listen_comm *l, const struct spark_conn_msg *ours)
{
	size_t off = 0;
	spark_msg_encode(ours, l->buf);
	(void)spark_sock_send_some(l->conn_fd, l->buf, SPARK_MSG_SIZE, &off);
}

static ncclResult_t on_hello(struct spark_listen_comm *l, const struct spark_conn_msg *peer)
{
	struct spark_conn_msg m;
	struct spark_rail_match match;
	SPARK_TRY(spark_comm_alloc(SPARK_COMM_RECV, l->dev, &l->comm));
	struct spark_comm *c = l->comm;
	c->fd = l->conn_fd;
	memset(&m, 0, sizeof m);
	m.kind = SPARK_MSG_REPLY;
	m.nonce = l->nonce;
	describe_rails(c, &m);
	spark_rails_match(m.rail, m.nrails, peer->rail, peer->nrails, &match);
	if (match.mask == 0) {
		refuse(l, &m);
		return no_common_rail("accept", l->dev, l->peer, &m, peer);
	}
	report_pairs("accept", l->dev, &m, peer, match.peer);
	SPARK_TRY(connect_rails(c, peer, match.peer));
	for (uint32_t r = 0; r < c->nrails; r++)
		if (match.mask & (1u << r))
			SPARK_TRY(spark_rail_post_recvs(c, r, SPARK_RQ_DEPTH));
	m.rail_mask = match.mask;
	memcpy(m.peer_rail, match.peer, sizeof m.peer_rail);
	spark_msg_encode(&m, l->buf);
	return ncclSuccess;
}

static ncclResult_t accept_step(struct spark_listen_comm *l, bool *done)
{
	int rc;
	struct spark_conn_msg m;
	char reason[SPARK_REASON_LEN], what[SPARK_REASON_LEN + 32];
	*done = false;
	switch (l->step) {
	case A_WAIT_HELLO:
		rc = spark_pending_poll(&l->pending, l->fd, &m, &l->conn_fd, l->peer,
					sizeof l->peer);
		if (rc <= 0)
			return rc < 0 ? sock_failed("accept on the listening socket", rc)
				      : ncclSuccess;
		SPARK_TRY(on_hello(l, &m));
		l->off = 0;
		l->deadline_ns = spark_monotonic_ns() + SPARK_HANDSHAKE_TIMEOUT_MS * 1000000ull;
		l->step = A_SEND_REPLY;
		/* fall through */
	case A_SEND_REPLY:
		if ((rc = spark_sock_send_some(l->conn_fd, l->buf, SPARK_MSG_SIZE, &l->off)) < 0) {
			snprintf(what, sizeof what, "sending the REPLY failed (%s)", strerror(errno));
			return drop_active(l, what);
		}
		if (rc == 0)
			break;
		l->off = 0;
		l->step = A_RECV_READY;
		/* fall through */
	case A_RECV_READY:
		if ((rc = spark_sock_recv_some(l->conn_fd, l->buf, SPARK_MSG_SIZE, &l->off)) < 0) {
			snprintf(what, sizeof what, "it closed before its READY (%s)",
				 strerror(errno));
			return drop_active(l, what);
		}
		if (rc == 0)
			break;
		if (spark_msg_decode(l->buf, SPARK_MSG_READY, l->nonce, &m, reason, sizeof reason)) {
			snprintf(what, sizeof what, "bad READY: %s", reason);
			return drop_active(l, what);
		}
		*done = true;
		return ncclSuccess;
	}
	if (spark_monotonic_ns() >= l->deadline_ns) {
		snprintf(what, sizeof what, "no READY within %d s", SPARK_HANDSHAKE_TIMEOUT_MS / 1000);
		return drop_active(l, what);
	}
	return ncclSuccess;
}

ncclResult_t spark_accept(void *listen_comm, void **recv_comm)
{
	struct spark_listen_comm *l = listen_comm;
	*recv_comm = NULL;
	SPARK_NOT_NULL(l, "listen comm");
	bool done;
	ncclResult_t res = accept_step(l, &done);
	if (res != ncclSuccess) {
		accept_reset(l);
		return res;
	}
	if (done && (res = comm_live(l->comm)) != ncclSuccess) {
		accept_reset(l);
		return res;
	}
	if (done) {
		comm_ready(l->comm);
		*recv_comm = l->comm;
		l->comm = NULL;
		l->conn_fd = -1;
		l->step = A_WAIT_HELLO;
	}
	return ncclSuccess;
}

ncclResult_t spark_close_listen(void *listen_comm)
{
	struct spark_listen_comm *l = listen_comm;
	if (l == NULL)
		return ncclSuccess;
	accept_reset(l);
	spark_pending_close(&l->pending);
	close(l->fd);
	free(l);
	return ncclSuccess;
}

ncclResult_t spark_close_send(void *send_comm)
{
	spark_comm_free(send_comm);
	return ncclSuccess;
}

ncclResult_t spark_close_recv(void *recv_comm)
{
	spark_recv_last_look(recv_comm);
	spark_comm_free(recv_comm);
	return ncclSuccess;
}
