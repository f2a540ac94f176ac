#define _GNU_SOURCE
#include "pending.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "socket.h"

/* Bytes of a HELLO that do not depend on the sender: magic, version, kind
 * and byte-order probe, then the nonce (wire.c's layout). A connection whose
 * first bytes differ from these is junk at once; no need to wait for 480. */
#define FIXED_HEAD 12
#define NONCE_OFF 24
#define NONCE_END 32

uint64_t spark_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void spark_peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage sa;
	socklen_t sl = sizeof sa;
	char ip[INET6_ADDRSTRLEN] = "?";
	memset(&sa, 0, sizeof sa);
	unsigned port = 0;
	if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0) {
		if (sa.ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)&sa;
			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
			port = ntohs(s4->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const void *)&sa;
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
			port = ntohs(s6->sin6_port);
		}
	}
	snprintf(out, len, "%s:%u", ip, port);
}

void spark_pending_init(struct spark_pending *p, int dev, uint64_t nonce)
{
	struct spark_conn_msg m;
	memset(p, 0, sizeof *p);
	p->dev = dev;
	p->nonce = nonce;
	memset(&m, 0, sizeof m);
	m.kind = SPARK_MSG_HELLO;
	m.nonce = nonce;
	spark_msg_encode(&m, p->prefix);
	for (int i = 0; i < SPARK_PENDING_MAX; i++)
		p->conn[i].fd = -1;
}

static void drop(struct spark_pending_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->off = 0;
}

/* Up to the first 8 bytes, printable, for the log ("GET / HT"): at most
 * 4 characters each, so 33 bytes of out are enough. */
#define SHOWN_LEN 33
static void show_bytes(const struct spark_pending_conn *c, char out[SHOWN_LEN])
{
	char *o = out;
	for (size_t i = 0; i < c->off && i < 8; i++) {
		unsigned char b = c->buf[i];
		o += snprintf(o, 5, isprint(b) ? "%c" : "\\x%02x", b);
	}
	*o = '\0';
}

/* True when the fixed head (magic, version, kind, probe) is all there and right. */
static bool head_ok(const struct spark_pending *p, const struct spark_pending_conn *c)
{
	return c->off >= FIXED_HEAD && memcmp(c->buf, p->prefix, FIXED_HEAD) == 0;
}

/* False when a received byte differs from what any HELLO to us must carry. */
static bool prefix_ok(const struct spark_pending *p, const struct spark_pending_conn *c)
{
	size_t head = c->off < FIXED_HEAD ? c->off : FIXED_HEAD;
	if (memcmp(c->buf, p->prefix, head) != 0)
		return false;
	for (size_t i = NONCE_OFF; i < NONCE_END && i < c->off; i++)
		if (c->buf[i] != p->prefix[i])
			return false;
	return true;
}

/* Takes what the backlog holds into free slots (the rest waits there). -1 only
 * when the listening socket itself is unusable; running out of descriptors
 * (EMFILE, ENFILE, ENOBUFS) leaves the backlog for a later call. */
static int take_new(struct spark_pending *p, int lfd, uint64_t now)
{
	for (int i = 0; i < SPARK_PENDING_MAX; i++) {
		struct spark_pending_conn *c = &p->conn[i];
		if (c->fd >= 0)
			continue;
		int fd = spark_sock_accept(lfd);
		if (fd < 0)
			return errno == EBADF || errno == EINVAL || errno == ENOTSOCK ? -1 : 0;
		c->fd = fd;
		c->off = 0;
		c->deadline_ns = now + SPARK_HELLO_TIMEOUT_MS * 1000000ull;
		spark_peer_name(fd, c->peer, sizeof c->peer);
	}
	return 0;
}

/* One connection's progress: 1 = a valid HELLO, 0 = keep waiting, -1 = dropped. */
static int serve(struct spark_pending *p, struct spark_pending_conn *c, uint64_t now,
		 struct spark_conn_msg *hello)
{
	char reason[SPARK_REASON_LEN];
	int rc = spark_sock_recv_some(c->fd, c->buf, SPARK_MSG_SIZE, &c->off);
	if (c->off > 0 && !prefix_ok(p, c) && head_ok(p, c)) {
		SPARK_WARN("accept dev %d: dropped the connection from %s: a HELLO for another "
			   "listener (its nonce is not this one's): a replay, or a connector of an "
			   "earlier job (the comm is not affected)", p->dev, c->peer);
		return -1;
	}
	if (c->off > 0 && !prefix_ok(p, c)) {
		char shown[SHOWN_LEN];
		show_bytes(c, shown);
		SPARK_WARN("accept dev %d: dropped the connection from %s: its first bytes "
			   "('%s') are not a NET/Spark HELLO for this listener; another program "
			   "is connecting to this port (the comm is not affected)", p->dev,
			   c->peer, shown);
		return -1;
	}
	if (rc < 0) {
		if (c->off == 0)
			SPARK_INFO(NCCL_NET, "accept dev %d: %s closed before sending anything "
				   "(a port probe); dropped", p->dev, c->peer);
		else
			SPARK_WARN("accept dev %d: dropped the connection from %s: it closed after "
				   "%zu of %d HELLO bytes (%s); a peer that died while connecting, "
				   "or another program", p->dev, c->peer, c->off, SPARK_MSG_SIZE,
				   strerror(errno));
		return -1;
	}
	if (rc == 0) {
		if (now < c->deadline_ns)
			return 0;
		SPARK_WARN("accept dev %d: dropped the connection from %s: %zu of %d HELLO bytes "
			   "in %d ms (a silent or half-open client); the real peer sends at once",
			   p->dev, c->peer, c->off, SPARK_MSG_SIZE, SPARK_HELLO_TIMEOUT_MS);
		return -1;
	}
	if (spark_msg_decode(c->buf, SPARK_MSG_HELLO, p->nonce, hello, reason, sizeof reason)) {
		SPARK_WARN("accept dev %d: refusing the connection from %s: %s", p->dev, c->peer,
			   reason);
		return -1;
	}
	return 1;
}

int spark_pending_poll(struct spark_pending *p, int lfd, struct spark_conn_msg *hello, int *fd,
		       char *peer, size_t peer_len)
{
	uint64_t now = spark_monotonic_ns();
	if (take_new(p, lfd, now) != 0)
		return -1;
	for (int i = 0; i < SPARK_PENDING_MAX; i++) {
		struct spark_pending_conn *c = &p->conn[i];
		if (c->fd < 0)
			continue;
		int rc = serve(p, c, now, hello);
		if (rc < 0) {
			drop(c);
		} else if (rc > 0) {
			*fd = c->fd;
			snprintf(peer, peer_len, "%s", c->peer);
			c->fd = -1;
			c->off = 0;
			return 1;
		}
	}
	return 0;
}

void spark_pending_close(struct spark_pending *p)
{
	for (int i = 0; i < SPARK_PENDING_MAX; i++)
		if (p->conn[i].fd >= 0)
			drop(&p->conn[i]);
}
