/* Control frames through a real socket in the pieces TCP may cut them into:
 * one byte at a time, a frame split at every byte across two reads, several
 * frames in one read, a frame split right after its header. Each comes out
 * decoded exactly as sent, in order, numbered; the reader never blocks on a
 * blocking socket; a stream that ends inside a frame is CLOSED with off > 0
 * (peer.c fails the comm), never a frame misread from what was left. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl_rx.h"

#define NFRAMES 6

struct link {
	int w, r;               /* writer's end, reader's end (both blocking) */
	struct spark_ctl_rx rx;
	struct spark_ctl got[64];
	int ngot;
};

static void open_unix(struct link *l)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(l, 0, sizeof *l);
	l->w = sv[0];
	l->r = sv[1];
}

/* Loopback TCP with Nagle off: each send() a segment of its own. */
static void open_tcp(struct link *l)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(lfd >= 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	memset(l, 0, sizeof *l);
	l->w = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(l->w, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(setsockopt(l->w, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
	l->r = accept(lfd, NULL, NULL);
	cr_assert(l->r >= 0);
	close(lfd);
}

static void close_link(struct link *l)
{
	if (l->w >= 0)
		close(l->w);
	close(l->r);
}

/* Frames of every kind, each with its own fields, numbered 0.. as a comm's
 * writer numbers them. */
static void frames(struct spark_ctl f[NFRAMES], uint8_t wire[NFRAMES][SPARK_CTL_SIZE])
{
	static const enum spark_ctl_kind kinds[NFRAMES] = {
		SPARK_CTL_HEARTBEAT, SPARK_CTL_RAIL_DOWN, SPARK_CTL_REJOIN,
		SPARK_CTL_REJOIN_ACK, SPARK_CTL_REJOIN_DONE, SPARK_CTL_FAILED};
	for (int i = 0; i < NFRAMES; i++) {
		enum spark_ctl_kind k = kinds[i];
		char why[64];
		snprintf(why, sizeof why, "reason of frame %d", i);
		spark_ctl_init(&f[i], k, k >= SPARK_CTL_RAIL_DOWN ? (uint32_t)i % 2 : 0,
			       k >= SPARK_CTL_REJOIN ? 10u + (uint32_t)i : 0,
			       k == SPARK_CTL_FAILED || k == SPARK_CTL_RAIL_DOWN ? why : NULL);
		if (k == SPARK_CTL_REJOIN || k == SPARK_CTL_REJOIN_ACK) {
			snprintf(f[i].info.name, sizeof f[i].info.name, "roceP2p1s0f0");
			f[i].info.gid[10] = f[i].info.gid[11] = 0xff;
			f[i].info.gid[12] = 192; f[i].info.gid[13] = 168;
			f[i].info.gid[14] = 101; f[i].info.gid[15] = (uint8_t)i;
			f[i].info.ipv4 = 0xc0a86500u + (uint32_t)i;
			f[i].info.prefix = 24;
			f[i].info.qpn = 0x100 + (uint32_t)i;
			f[i].info.psn = 0x1000 + (uint32_t)i;
			f[i].info.mtu = 4096;
			f[i].info.rkey = 0x77 + (uint32_t)i;
			f[i].info.addr = 0x7f0000002000ull + (uint64_t)i * 4096;
		}
		f[i].seq = (uint64_t)i;
		spark_ctl_encode(&f[i], wire[i]);
	}
}

static void put(struct link *l, const uint8_t *p, size_t n)
{
	cr_assert_eq(send(l->w, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Everything the reader gives until the socket is empty: AGAIN, at once. */
static void take(struct link *l)
{
	for (;;) {
		char reason[SPARK_REASON_LEN];
		bool heard = false;
		cr_assert_lt(l->ngot, 64);
		enum spark_ctl_rx_got got = spark_ctl_rx_next(&l->rx, l->r, &l->got[l->ngot], &heard,
							      reason, sizeof reason);
		if (got == SPARK_CTL_RX_AGAIN)
			return;
		cr_assert_eq(got, SPARK_CTL_RX_FRAME, "got %d: %s", got, reason);
		cr_assert(heard, "a frame read, and heard not set");
		l->ngot++;
	}
}

/* Unix sockets deliver at once; loopback TCP within a moment. */
static void settle(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
	nanosleep(&ts, NULL);
}

/* Each frame received re-encodes to the bytes sent, in order. */
static void check_all(const struct link *l, int n, uint8_t wire[][SPARK_CTL_SIZE])
{
	cr_assert_eq(l->ngot, n, "%d frames decoded, %d sent", l->ngot, n);
	cr_assert_eq(l->rx.seq, (uint64_t)n);
	cr_assert_eq(l->rx.off, 0);
	for (int i = 0; i < n; i++) {
		uint8_t again[SPARK_CTL_SIZE];
		cr_assert_eq(l->got[i].seq, (uint64_t)i, "frame %d numbered %llu", i,
			     (unsigned long long)l->got[i].seq);
		spark_ctl_encode(&l->got[i], again);
		cr_assert_eq(memcmp(again, wire[i], SPARK_CTL_SIZE), 0, "frame %d (%s) differs", i,
			     spark_ctl_kind_name(l->got[i].kind));
	}
}

static void one_byte_at_a_time(void (*open_fn)(struct link *))
{
	struct spark_ctl f[NFRAMES];
	uint8_t wire[NFRAMES][SPARK_CTL_SIZE];
	struct link l;
	frames(f, wire);
	open_fn(&l);
	for (int i = 0; i < NFRAMES; i++) {
		for (int b = 0; b < SPARK_CTL_SIZE; b++) {
			put(&l, &wire[i][b], 1);
			if (open_fn == open_tcp)
				settle();
			take(&l);
			cr_assert_eq(l.ngot, b + 1 == SPARK_CTL_SIZE ? i + 1 : i,
				     "after byte %d of frame %d: %d frames", b, i, l.ngot);
		}
	}
	check_all(&l, NFRAMES, wire);
	close_link(&l);
}

Test(ctl_rx, one_byte_at_a_time_unix) { one_byte_at_a_time(open_unix); }
Test(ctl_rx, one_byte_at_a_time_tcp) { one_byte_at_a_time(open_tcp); }

Test(ctl_rx, a_frame_split_at_every_byte_across_two_reads)
{
	struct spark_ctl f[NFRAMES];
	uint8_t wire[SPARK_CTL_SIZE][SPARK_CTL_SIZE], six[NFRAMES][SPARK_CTL_SIZE];
	struct link l;
	frames(f, six);
	open_unix(&l);
	/* Frame `cut` (seq cut-1) split after byte cut: the first piece, a
	 * read, the rest, a read. */
	for (int cut = 1; cut < SPARK_CTL_SIZE && cut < 64; cut++) {
		struct spark_ctl g = f[cut % NFRAMES];
		g.seq = (uint64_t)cut - 1;
		spark_ctl_encode(&g, wire[cut - 1]);
		put(&l, wire[cut - 1], (size_t)cut);
		take(&l);
		cr_assert_eq(l.ngot, cut - 1, "a frame from %d bytes", cut);
		cr_assert_eq(l.rx.off, (uint32_t)cut);
		put(&l, wire[cut - 1] + cut, (size_t)(SPARK_CTL_SIZE - cut));
		take(&l);
	}
	check_all(&l, 63, wire);
	close_link(&l);
}

Test(ctl_rx, several_frames_in_one_read_and_a_split_after_the_header)
{
	struct spark_ctl f[NFRAMES];
	uint8_t wire[NFRAMES][SPARK_CTL_SIZE];
	struct link l;
	frames(f, wire);
	open_unix(&l);
	/* Frames 0..2 and frame 3's header in one write, one take. */
	put(&l, wire[0], 3 * SPARK_CTL_SIZE + SPARK_CTL_HDR);
	take(&l);
	cr_assert_eq(l.ngot, 3);
	cr_assert_eq(l.rx.off, SPARK_CTL_HDR);
	/* The rest of frame 3, then frames 4 and 5 in one write. */
	put(&l, wire[3] + SPARK_CTL_HDR, SPARK_CTL_SIZE - SPARK_CTL_HDR + 2 * SPARK_CTL_SIZE);
	take(&l);
	check_all(&l, NFRAMES, wire);
	close_link(&l);
}

/* The reader uses MSG_DONTWAIT: an empty blocking socket answers AGAIN. */
Test(ctl_rx, never_blocks_on_a_blocking_socket)
{
	struct link l;
	open_tcp(&l);
	char reason[SPARK_REASON_LEN];
	struct spark_ctl f;
	bool heard = false;
	cr_assert_eq(spark_ctl_rx_next(&l.rx, l.r, &f, &heard, reason, sizeof reason),
		     SPARK_CTL_RX_AGAIN);
	cr_assert(!heard);
	close_link(&l);
}

static enum spark_ctl_rx_got after_eof(struct link *l, char *reason)
{
	struct spark_ctl f;
	bool heard = false;
	close(l->w);
	l->w = -1;
	settle();
	return spark_ctl_rx_next(&l->rx, l->r, &f, &heard, reason, SPARK_REASON_LEN);
}

/* Half a frame and EOF: CLOSED in mid-frame, the reason says how much came
 * (peer.c's WARN quotes it), nothing decoded from the half. */
Test(ctl_rx, a_truncated_frame_then_eof_is_closed_in_mid_frame)
{
	struct spark_ctl f[NFRAMES];
	uint8_t wire[NFRAMES][SPARK_CTL_SIZE];
	struct link l;
	char reason[SPARK_REASON_LEN];
	frames(f, wire);
	open_tcp(&l);
	put(&l, wire[0], SPARK_CTL_SIZE + 100);
	settle();
	take(&l);
	cr_assert_eq(l.ngot, 1);
	cr_assert_eq(after_eof(&l, reason), SPARK_CTL_RX_CLOSED);
	cr_assert_eq(l.rx.off, 100);
	cr_assert_eq(l.rx.seq, 1);
	cr_assert_str_eq(reason, "EOF after 100 of the 192 bytes of control frame 1");
	close_link(&l);
}

Test(ctl_rx, eof_between_frames_is_a_clean_close)
{
	struct spark_ctl f[NFRAMES];
	uint8_t wire[NFRAMES][SPARK_CTL_SIZE];
	struct link l;
	char reason[SPARK_REASON_LEN];
	frames(f, wire);
	open_unix(&l);
	put(&l, wire[0], 2 * SPARK_CTL_SIZE);
	take(&l);
	cr_assert_eq(after_eof(&l, reason), SPARK_CTL_RX_CLOSED);
	cr_assert_eq(l.rx.off, 0);
	cr_assert_str_eq(reason, "EOF");
	close_link(&l);
}

/* A frame sent twice: the second has the wrong number (BAD, with the
 * decoder's reason), and the reader does not go on past it. */
Test(ctl_rx, a_repeated_frame_is_bad)
{
	struct spark_ctl f[NFRAMES], got;
	uint8_t wire[NFRAMES][SPARK_CTL_SIZE];
	struct link l;
	char reason[SPARK_REASON_LEN];
	bool heard = false;
	frames(f, wire);
	open_unix(&l);
	put(&l, wire[0], SPARK_CTL_SIZE);
	put(&l, wire[0], SPARK_CTL_SIZE);
	cr_assert_eq(spark_ctl_rx_next(&l.rx, l.r, &got, &heard, reason, sizeof reason),
		     SPARK_CTL_RX_FRAME);
	cr_assert_eq(spark_ctl_rx_next(&l.rx, l.r, &got, &heard, reason, sizeof reason),
		     SPARK_CTL_RX_BAD);
	cr_assert(strstr(reason, "frame number 0, expected 1") != NULL, "%s", reason);
	close_link(&l);
}
