#define _GNU_SOURCE
#include "ctl_rx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "wire_bytes.h"

/* The end of the stream: whether a frame was cut short says whether the
 * peer's writer stopped in the middle of one (its process died writing). */
static enum spark_ctl_rx_got closed(const struct spark_ctl_rx *rx, const char *what,
				    char *reason, int len)
{
	if (rx->off == 0)
		(void)spark_refuse(reason, len, "%s", what);
	else
		(void)spark_refuse(reason, len, "%s after %u of the %d bytes of control frame %llu",
				   what, rx->off, SPARK_CTL_SIZE, (unsigned long long)rx->seq);
	return SPARK_CTL_RX_CLOSED;
}

enum spark_ctl_rx_got spark_ctl_rx_next(struct spark_ctl_rx *rx, int fd, struct spark_ctl *f,
					bool *heard, char *reason, int len)
{
	while (rx->off < SPARK_CTL_SIZE) {
		/* Never past this frame: the next one's bytes stay in the socket. */
		ssize_t n = recv(fd, rx->buf + rx->off, SPARK_CTL_SIZE - rx->off, MSG_DONTWAIT);
		if (n > 0) {
			rx->off += (uint32_t)n;
			*heard = true;
		} else if (n == 0) {
			return closed(rx, "EOF", reason, len);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return SPARK_CTL_RX_AGAIN;
		} else if (errno != EINTR) {
			return closed(rx, strerror(errno), reason, len);
		}
	}
	rx->off = 0;
	if (spark_ctl_decode(rx->buf, rx->seq, f, reason, len) != 0)
		return SPARK_CTL_RX_BAD;
	rx->seq++;
	return SPARK_CTL_RX_FRAME;
}
