#define _GNU_SOURCE
/* The control channel between the two hosts: one TCP connection, blocking
 * exact reads and writes with a deadline, so a peer that dies or hangs ends
 * the run with a message instead of a hang. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sb.h"

#define SB_OOB_TIMEOUT_MS 120000   /* one point of a slow run, with margin */

int sb_oob_listen(const char *bind_host, int port, int *bound_port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE}, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	int rc = getaddrinfo(bind_host, ps, &hints, &ai);
	if (rc != 0)
		sb_die("cannot listen on %s:%d: %s", bind_host ? bind_host : "*", port,
		       gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		sb_die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1) != 0)
		sb_die("cannot listen on port %d: %s (another spark-bench running? try --port)",
		       port, strerror(errno));
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		sb_die("getsockname: %s", strerror(errno));
	*bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int sb_oob_accept(int lfd, int timeout_ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		sb_die("no peer connected within %d s", timeout_ms / 1000);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		sb_die("accept: %s", strerror(errno));
	nodelay(fd);
	return fd;
}

/* Retries until the deadline: the server may start a little later. */
int sb_oob_connect(const char *host, int port, int timeout_ms)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	int rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc != 0)
		sb_die("peer %s: %s", host, gai_strerror(rc));
	double end = sb_now() + timeout_ms / 1e3;
	for (;;) {
		for (struct addrinfo *a = ai; a; a = a->ai_next) {
			int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
				freeaddrinfo(ai);
				nodelay(fd);
				return fd;
			}
			if (fd >= 0)
				close(fd);
		}
		if (sb_now() > end)
			sb_die("cannot reach %s:%d (is `spark-bench --server` running there? "
			       "firewall?)", host, port);
		sb_sleep_us(100000);
	}
}

void sb_oob_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			sb_die("peer gone (control channel: %s)", n < 0 ? strerror(errno) : "closed");
		p += n;
		len -= (size_t)n;
	}
}

void sb_oob_recv(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int r = poll(&pf, 1, SB_OOB_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			sb_die("peer silent for %d s (control channel)", SB_OOB_TIMEOUT_MS / 1000);
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			sb_die("peer gone (control channel: %s)", n < 0 ? strerror(errno) : "closed");
		p += n;
		len -= (size_t)n;
	}
}

void sb_oob_sync(int fd)
{
	uint8_t b = 0x5b;
	sb_oob_send(fd, &b, 1);
	sb_oob_recv(fd, &b, 1);
	if (b != 0x5b)
		sb_die("control channel out of step");
}
