#define _GNU_SOURCE
#include "socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hca_spec.h"
#include "log.h"

static int wanted_family(void)
{
	const char *f = getenv("NCCL_SOCKET_FAMILY");
	if (f == NULL)
		return AF_UNSPEC;
	if (strcasecmp(f, "AF_INET") == 0)
		return AF_INET;
	if (strcasecmp(f, "AF_INET6") == 0)
		return AF_INET6;
	return AF_UNSPEC;
}

static bool family_ok(const struct sockaddr *sa, int family)
{
	if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return false;
	if (sa->sa_family == AF_INET6) {
		/* Link-local IPv6 needs a scope id a peer cannot know: NCCL skips it too. */
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
			return false;
	}
	return family == AF_UNSPEC || sa->sa_family == family;
}

enum pass { PASS_FILTER, PASS_DEFAULT, PASS_LOOPBACK };

static bool acceptable(const struct ifaddrs *a, enum pass pass, const struct spark_hca_filter *f)
{
	bool loopback = (a->ifa_flags & IFF_LOOPBACK) != 0;
	switch (pass) {
	case PASS_FILTER:
		return spark_hca_filter_match(f, a->ifa_name, -1);
	case PASS_DEFAULT:
		return !loopback && strncmp(a->ifa_name, "docker", 6) != 0;
	case PASS_LOOPBACK:
		return loopback;
	}
	return false;
}

static bool find_in_pass(struct ifaddrs *list, enum pass pass, const struct spark_hca_filter *f,
			 int family, struct spark_sock_addr *out)
{
	for (const struct ifaddrs *a = list; a != NULL; a = a->ifa_next) {
		if (!(a->ifa_flags & IFF_UP) || !family_ok(a->ifa_addr, family) ||
		    !acceptable(a, pass, f))
			continue;
		out->len = a->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
							      : sizeof(struct sockaddr_in6);
		memcpy(&out->sa, a->ifa_addr, out->len);
		snprintf(out->ifname, sizeof out->ifname, "%s", a->ifa_name);
		return true;
	}
	return false;
}

int spark_sock_pick(struct spark_sock_addr *out, char *reason, int len)
{
	struct spark_hca_filter filter;
	char err[128] = "";
	const char *names = getenv("NCCL_SOCKET_IFNAME");
	if (spark_hca_filter_parse(names, &filter, err, sizeof err) != 0) {
		snprintf(reason, (size_t)len, "NCCL_SOCKET_IFNAME='%s': %s", names, err);
		return -1;
	}
	struct ifaddrs *list;
	if (getifaddrs(&list) != 0) {
		snprintf(reason, (size_t)len, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	int family = wanted_family();
	bool found = filter.set ? find_in_pass(list, PASS_FILTER, &filter, family, out)
				: find_in_pass(list, PASS_DEFAULT, &filter, family, out) ||
					  find_in_pass(list, PASS_LOOPBACK, &filter, family, out);
	freeifaddrs(list);
	if (!found) {
		snprintf(reason, (size_t)len, "no UP interface matches NCCL_SOCKET_IFNAME='%s'",
			 names != NULL ? names : "(unset)");
		return -1;
	}
	return 0;
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int spark_sock_listen(const struct spark_sock_addr *addr, struct spark_handle *h)
{
	struct sockaddr_storage sa = addr->sa;
	socklen_t len = addr->len;
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = 0;
	if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	memset(h->addr, 0, sizeof h->addr);
	h->family = (uint16_t)sa.ss_family;
	if (sa.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&sa;
		h->port = ntohs(s4->sin_port);
		memcpy(h->addr, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)&sa;
		h->port = ntohs(s6->sin6_port);
		memcpy(h->addr, &s6->sin6_addr, 16);
	}
	return fd;
}

int spark_sock_connect_start(const struct spark_handle *h)
{
	struct sockaddr_storage sa;
	socklen_t len;
	memset(&sa, 0, sizeof sa);
	if (h->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(h->port);
		memcpy(&s4->sin_addr, h->addr, 4);
		len = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(h->port);
		memcpy(&s6->sin6_addr, h->addr, 16);
		len = sizeof *s6;
	}
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	set_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&sa, len) != 0 && errno != EINPROGRESS) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void spark_sock_handle_name(const struct spark_handle *h, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(h->family == AF_INET ? AF_INET : AF_INET6, h->addr, ip, sizeof ip);
	snprintf(out, len, h->family == AF_INET ? "%s:%u" : "[%s]:%u", ip, h->port);
}

int spark_sock_connect_done(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n = poll(&p, 1, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0)
		return 0;
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 1;
}

int spark_sock_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
			errno = EAGAIN;
		return -1;
	}
	if (set_nonblocking(fd) != 0) {
		close(fd);
		return -1;
	}
	set_nodelay(fd);
	return fd;
}

int spark_sock_send_some(int fd, const void *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = send(fd, (const char *)buf + *off, len - *off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return -1;
		}
		*off += (size_t)n;
	}
	return 1;
}

int spark_sock_recv_some(int fd, void *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = recv(fd, (char *)buf + *off, len - *off, 0);
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return -1;
		}
		*off += (size_t)n;
	}
	return 1;
}

/* Keepalive probes start after half the timeout of silence, 3 probes fill
 * the other half; unacknowledged data (our heartbeats) gives up after the
 * timeout. Either ends in a socket error the data path's reader sees. */
void spark_sock_set_liveness(int fd, int timeout_s)
{
	int one = 1, idle = timeout_s / 2 > 0 ? timeout_s / 2 : 1;
	int intvl = timeout_s / 6 > 0 ? timeout_s / 6 : 1, cnt = 3;
	unsigned user_ms = (unsigned)timeout_s * 1000u;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof user_ms) != 0)
		SPARK_WARN("bootstrap socket: TCP keepalive/user timeout refused: %s; a peer host "
			   "that vanishes is still caught by NCCL_SPARK_PEER_TIMEOUT",
			   strerror(errno));
}
