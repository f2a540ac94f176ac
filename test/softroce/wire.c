/* softroce: the wire.  Each process listens on an abstract unix stream socket
 * named after the fabric and its pid (abstract: no path length limit, gone
 * when the process dies); with SOFTROCE_NETDEV=real on $fabric/wire/<pid>,
 * which reaches across network namespaces.  Frames are [u32 length][struct sr_msg][payload];
 * writes never block: what does not fit stays in a per-peer buffer. */
#include "sr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SR_OUT_MAX (64u << 20)     /* beyond this a stuck peer loses packets */

struct sr_conn {
	int fd;
	int pid;                      /* >0: outbound to pid; 0: inbound */
	uint8_t *buf;
	size_t len, cap;
};

static struct sr_conn *conns;
static int nconns;

static socklen_t sock_addr(int pid, struct sockaddr_un *sa)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = sr_g.fabric; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "softroce-%016llx-%d",
			 (unsigned long long)h, pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The name as a path in the fabric directory, for hosts in network
 * namespaces of their own (SOFTROCE_NETDEV=real): each namespace has its own
 * abstract names, a path is seen from all of them. 0 when it does not fit. */
static socklen_t path_addr(int pid, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/wire/%d", sr_g.fabric, pid);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return 0;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
}

static int bound_path_pid;       /* >0: this pid's path socket is ours to unlink */

int sr_wire_open(void)
{
	struct sockaddr_un sa;
	socklen_t len = sock_addr(getpid(), &sa);
	if (sr_netdev_real()) {
		len = path_addr(getpid(), &sa);
		char dir[600];
		snprintf(dir, sizeof(dir), "%s/wire", sr_g.fabric);
		if (!len) {
			fprintf(stderr, "softroce: SOFTROCE_NETDEV=real: a socket path in %s would "
				"pass %zu bytes: use a shorter SOFTROCE_FABRIC\n", dir,
				sizeof(sa.sun_path) - 1);
			return -ENAMETOOLONG;
		}
		if (mkdir(dir, 0777) && errno != EEXIST)
			return -errno;
		unlink(sa.sun_path);      /* a dead process's, whose pid we now have */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 128)) {
		int e = errno;
		close(fd);
		return -e;
	}
	bound_path_pid = sa.sun_path[0] ? getpid() : 0;
	sr_g.listen_fd = fd;
	return 0;
}

/* The last connection moves into slot i; the slot it leaves holds nothing,
 * so no stale copy of its buffer pointer stays behind. */
static void conn_drop(int i)
{
	close(conns[i].fd);
	free(conns[i].buf);
	conns[i] = conns[--nconns];
	conns[nconns] = (struct sr_conn){ .fd = -1 };
}

void sr_wire_close(void)
{
	for (int i = 0; i < nconns; i++) {
		close(conns[i].fd);
		free(conns[i].buf);
	}
	nconns = 0;
	free(conns);
	conns = NULL;
	if (sr_g.listen_fd >= 0)
		close(sr_g.listen_fd);
	sr_g.listen_fd = -1;
	struct sockaddr_un sa;
	if (bound_path_pid == getpid() && path_addr(bound_path_pid, &sa))
		unlink(sa.sun_path);
	bound_path_pid = 0;
}

/* fork child: the inherited sockets belong to the parent. */
void sr_wire_forget(void)
{
	for (int i = 0; i < nconns; i++)
		close(conns[i].fd);
	conns = NULL;            /* the parent's buffers are left to the parent */
	nconns = 0;
	if (sr_g.listen_fd >= 0)
		close(sr_g.listen_fd);
	sr_g.listen_fd = -1;
}

static struct sr_conn *conn_add(int fd, int pid)
{
	struct sr_conn *c = realloc(conns, sizeof(*c) * (size_t)(nconns + 1));
	if (!c)
		return NULL;
	conns = c;
	c = &conns[nconns++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->pid = pid;
	return c;
}

static struct sr_conn *conn_to(int pid)
{
	for (int i = 0; i < nconns; i++)
		if (conns[i].pid == pid)
			return &conns[i];
	struct sockaddr_un sa;
	socklen_t len = sock_addr(pid, &sa);
	/* Non-blocking: a stopped peer with a full backlog must not block us. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, len)) {
		/* A host in another network namespace listens on a path. */
		close(fd);
		len = path_addr(pid, &sa);
		fd = len ? socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, len)) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			return NULL;        /* dead or unknown process: packet lost */
	}
	int sz = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct sr_conn *c = conn_add(fd, pid);
	if (!c)
		close(fd);
	return c;
}

static int buf_append(struct sr_conn *c, const void *p, size_t n)
{
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 65536;
		while (cap < c->len + n)
			cap *= 2;
		uint8_t *b = realloc(c->buf, cap);
		if (!b)
			return -ENOMEM;
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	return 0;
}

static int flush_out(struct sr_conn *c)
{
	size_t off = 0;
	while (off < c->len) {
		ssize_t w = send(c->fd, c->buf + off, c->len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		off += (size_t)w;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return 0;
}

int sr_wire_send(int pid, const struct sr_msg *m, const void *payload)
{
	struct sr_conn *c = conn_to(pid);
	if (!c)
		return -ECONNREFUSED;
	if (c->len > SR_OUT_MAX)
		return -ENOBUFS;
	uint32_t hdr = (uint32_t)sizeof(*m) + m->payload_len;
	if (buf_append(c, &hdr, sizeof(hdr)) || buf_append(c, m, sizeof(*m)) ||
	    (m->payload_len && buf_append(c, payload, m->payload_len)))
		return -ENOMEM;
	int rc = flush_out(c);
	if (rc)
		conn_drop((int)(c - conns));
	return rc;
}

int sr_wire_fill_pollfds(struct pollfd *pfd, int max)
{
	int n = 0;
	for (int i = 0; i < nconns && n < max; i++) {
		pfd[n].fd = conns[i].fd;
		pfd[n].events = (short)(POLLIN | (conns[i].len ? POLLOUT : 0));
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

/* Delivers every complete frame in an inbound buffer. */
static void parse_in(struct sr_conn *c)
{
	size_t off = 0;
	while (c->len - off >= 4) {
		uint32_t flen;
		memcpy(&flen, c->buf + off, 4);
		if (c->len - off - 4 < flen)
			break;
		if (flen >= sizeof(struct sr_msg)) {
			struct sr_msg m;
			memcpy(&m, c->buf + off + 4, sizeof(m));
			if (m.payload_len == flen - sizeof(m))
				sr_engine_rx(&m, c->buf + off + 4 + sizeof(m));
		}
		off += 4 + flen;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

static bool read_in(struct sr_conn *c)
{
	for (;;) {
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 1 << 20;
			uint8_t *b = realloc(c->buf, cap);
			if (!b)
				return false;
			c->buf = b;
			c->cap = cap;
		}
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r == 0)
			return false;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		c->len += (size_t)r;
		parse_in(c);
	}
}

static void accept_all(void)
{
	for (;;) {
		int fd = accept4(sr_g.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int sz = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (!conn_add(fd, 0))
			close(fd);
	}
}

/* pfd[0..n) were filled by sr_wire_fill_pollfds (same order as conns). */
void sr_wire_service(struct pollfd *pfd, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		if (i >= nconns || pfd[i].fd != conns[i].fd)
			continue;
		struct sr_conn *c = &conns[i];
		bool ok = true;
		if (pfd[i].revents & POLLOUT)
			ok = flush_out(c) == 0;
		if (ok && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (c->pid == 0)
				ok = read_in(c);
			else {
				char junk[256];
				ssize_t r = recv(c->fd, junk, sizeof(junk), 0);
				ok = r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR));
			}
		}
		if (!ok)
			conn_drop(i);
	}
	accept_all();
}
