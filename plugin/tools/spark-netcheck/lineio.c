/* The --serve/--peer control connection: one TCP stream of short text lines,
 * with timeouts on every read and write so a dead peer never hangs us. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lineio.h"
#include "param.h"

void nc_line_timeouts(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool nc_line_send(int fd, const char *fmt, ...)
{
	char line[NC_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof line - 1)
		return false;
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = send(fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (w <= 0 && errno != EINTR)
			return false;
		off += w > 0 ? (int)w : 0;
	}
	return true;
}

/* One line without its newline; false on timeout, EOF, or a line too long. */
bool nc_line_recv(struct nc_conn *c, char *out, int len)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', (size_t)c->used);
		if (nl != NULL) {
			int n = (int)(nl - c->buf);
			if (n >= len)
				return false;
			memcpy(out, c->buf, (size_t)n);
			out[n] = '\0';
			c->used -= n + 1;
			memmove(c->buf, nl + 1, (size_t)c->used);
			return true;
		}
		if (c->used == (int)sizeof c->buf)
			return false; /* no newline in a full buffer: not our protocol */
		ssize_t r = recv(c->fd, c->buf + c->used, sizeof c->buf - (size_t)c->used, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		c->used += (int)r;
	}
}

int nc_tokens(char *line, char **tok, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " ", &save); t != NULL && n < max; t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	return n;
}

bool nc_token_int(const char *text, long lo, long hi, int *out)
{
	long v;
	if (spark_parse_long(text, &v) != 0 || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

int nc_tcp_connect(const char *host, int port, char *err, int len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	char service[16];
	snprintf(service, sizeof service, "%d", port);
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, (size_t)len, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		nc_line_timeouts(fd, NC_LINE_TIMEOUT_S);
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			snprintf(err, (size_t)len, "connect to %s:%d: %s", host, port, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

int nc_tcp_listen(int port, char *err, int len)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int off = 0, on = 1;
	if (fd >= 0) {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
					  .sin6_addr = IN6ADDR_ANY_INIT};
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 4) == 0)
			return fd;
	}
	snprintf(err, (size_t)len, "listen on port %d: %s", port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}
