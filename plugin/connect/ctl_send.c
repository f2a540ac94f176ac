#define _GNU_SOURCE
#include "ctl_send.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

ncclResult_t spark_ctl_chan_init(struct spark_ctl_chan *ch)
{
	memset(ch, 0, sizeof *ch);
	SPARK_CHECK(pthread_mutex_init(&ch->tx_lock, NULL));
	return ncclSuccess;
}

void spark_ctl_chan_destroy(struct spark_ctl_chan *ch)
{
	pthread_mutex_destroy(&ch->tx_lock);
}

/* The rest of the frame in tx_buf: 1 all written, 0 the socket is full,
 * -1 failed (errno). */
static int tx_flush(struct spark_ctl_chan *ch, int fd)
{
	while (ch->tx_off < ch->tx_len) {
		ssize_t n = send(fd, ch->tx_buf + ch->tx_off, ch->tx_len - ch->tx_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			ch->tx_off += (uint32_t)n;
		else if (n < 0 && errno == EAGAIN)
			return 0;
		else if (n == 0 || errno != EINTR)
			return -1;
	}
	return 1;
}

/* A new frame into tx_buf and as much of it onto the socket as fits. One the
 * socket took nothing of is withdrawn (its seq given back): 0. */
static int tx_frame(struct spark_ctl_chan *ch, int fd, const struct spark_ctl *f)
{
	struct spark_ctl numbered = *f;
	numbered.seq = ch->tx_seq++;
	spark_ctl_encode(&numbered, ch->tx_buf);
	ch->tx_off = 0;
	ch->tx_len = SPARK_CTL_SIZE;
	int rc = tx_flush(ch, fd);
	if (rc <= 0 && ch->tx_off == 0) {
		ch->tx_seq--;
		ch->tx_len = 0;
	}
	return rc;
}

/* tx_flush until done, failed or the deadline (poll for room between). */
static int tx_wait(struct spark_ctl_chan *ch, int fd, uint64_t deadline_ns)
{
	for (;;) {
		int rc = tx_flush(ch, fd);
		uint64_t now = spark_now_ns();
		if (rc != 0 || now >= deadline_ns)
			return rc;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		(void)poll(&p, 1, (int)((deadline_ns - now) / 1000000u) + 1);
	}
}

ncclResult_t spark_ctl_send(struct spark_comm *c, const struct spark_ctl *f)
{
	struct spark_ctl_chan *ch = &c->ctl_chan;
	if (c->fd < 0)
		return ncclInternalError;
	uint64_t deadline = spark_now_ns() + SPARK_CTL_SEND_WAIT_MS * 1000000ull;
	pthread_mutex_lock(&ch->tx_lock);
	int rc = tx_wait(ch, c->fd, deadline);       /* a heartbeat's rest first */
	if (rc == 1) {
		rc = tx_frame(ch, c->fd, f);
		if (rc == 0)
			rc = tx_wait(ch, c->fd, deadline);
	}
	int err = errno;
	pthread_mutex_unlock(&ch->tx_lock);
	if (rc == 1)
		return ncclSuccess;
	if (rc == 0)
		SPARK_WARN("dev %d: could not send the %s control frame to the peer: its socket "
			   "stayed full for %d ms (the peer is not reading: frozen or gone)",
			   c->dev, spark_ctl_kind_name(f->kind), SPARK_CTL_SEND_WAIT_MS);
	else
		SPARK_WARN("dev %d: could not send the %s control frame to the peer: %s", c->dev,
			   spark_ctl_kind_name(f->kind), strerror(err));
	return ncclRemoteError;
}

void spark_ctl_heartbeat(struct spark_comm *c)
{
	struct spark_ctl_chan *ch = &c->ctl_chan;
	if (pthread_mutex_trylock(&ch->tx_lock) != 0)
		return;         /* a frame is being written: the peer hears from us anyway */
	if (tx_flush(ch, c->fd) == 1) {
		struct spark_ctl f;
		spark_ctl_init(&f, SPARK_CTL_HEARTBEAT, 0, 0, NULL);
		(void)tx_frame(ch, c->fd, &f);  /* a full or failed socket: the reader sees */
	}
	pthread_mutex_unlock(&ch->tx_lock);
}

void spark_ctl_tell_failed(struct spark_comm *c)
{
	struct spark_ctl_chan *ch = &c->ctl_chan;
	if (c->failed == ncclSuccess || ch->told_failed || c->fd < 0 || c->peer_gone_ns != 0)
		return;
	ch->told_failed = true;
	struct spark_ctl f;
	spark_ctl_init(&f, SPARK_CTL_FAILED, 0, 0,
		       ch->fail_reason[0] != '\0' ? ch->fail_reason
						  : "an error on that side (its log has the WARN)");
	(void)spark_ctl_send(c, &f);
}
