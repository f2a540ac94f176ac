/* The TCP bootstrap: the interface NCCL would pick, and non-blocking socket
 * steps that keep their progress in the caller's state (connect/accept must
 * never block). Every function returns 1 = done, 0 = try again later,
 * -1 = failed (errno set, and a reason where one is asked for). */
#ifndef SPARK_SOCKET_H
#define SPARK_SOCKET_H

#include <stddef.h>
#include <sys/socket.h>

#include "wire.h"

struct spark_sock_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char ifname[64];
};

/* NCCL_SOCKET_IFNAME ([^][=]prefix,...) and NCCL_SOCKET_FAMILY (AF_INET /
 * AF_INET6) from the environment; else the first UP interface that is not
 * loopback or docker*, else loopback. */
int spark_sock_pick(struct spark_sock_addr *out, char *reason, int len);

/* Listening socket on addr (port chosen by the kernel); fills the handle's
 * family, port and address. Returns the fd or -1. */
int spark_sock_listen(const struct spark_sock_addr *addr, struct spark_handle *h);
/* Starts a non-blocking connect to the handle's address; fd or -1. */
int spark_sock_connect_start(const struct spark_handle *h);
int spark_sock_connect_done(int fd);
/* "192.168.100.2:41234" of a handle, for the log. */
void spark_sock_handle_name(const struct spark_handle *h, char *out, size_t len);
/* A connection from a listening fd: fd, or -1 with errno EAGAIN if none yet. */
int spark_sock_accept(int lfd);
/* A connected comm's bootstrap socket: TCP keepalive and TCP_USER_TIMEOUT
 * sized from the peer timeout, so the kernel also gives up on a peer host
 * that vanished without a FIN. Best effort (a WARN when refused). */
void spark_sock_set_liveness(int fd, int timeout_s);
/* Moves the rest of [buf + *off, buf + len); *off keeps the progress. A peer
 * that closes counts as a failure (errno ECONNRESET). */
int spark_sock_send_some(int fd, const void *buf, size_t len, size_t *off);
int spark_sock_recv_some(int fd, void *buf, size_t len, size_t *off);

#endif
