/* A lost request packet (control "reqs drop"): the responder answers the
 * first packet past the gap with a NAK "PSN sequence error" carrying the
 * expected PSN, once per gap, and the requester goes back N from there at
 * once, as an RC responder and requester must (IB spec, RoCEv2; mlx5 counts
 * them in hw_counters out_of_sequence and packet_seq_err). The tests run
 * with timeout 0 (no ACK timeout at all) so that only the NAK can recover
 * the loss: nothing here depends on timing. */
#include "sr_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

TestSuite(seq_nak, .fini = sr_teardown, .timeout = 60);

#define SEGS  8                 /* softroce sends a message in 256 KiB segments */
#define BYTES (SEGS << 18)

static void settle(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };   /* control: within 10 ms */
	nanosleep(&ts, NULL);
}

static long long hw_counter(const char *host, const char *name)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "../hw_counters/%s", name);
	return sr_counter(host, SR_HCA0, rel);
}

/* sysfs is refreshed by the NIC thread every few ms. */
static long long hw_counter_reaches(const char *host, const char *name, long long want)
{
	long long end = sr_now_ms() + SR_DEADLINE_MS, v;
	while ((v = hw_counter(host, name)) < want && sr_now_ms() < end)
		;
	return v;
}

static void start(struct sr_pair *p, uint8_t retry_cnt)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.buf_len = peer.buf_len = BYTES;
	o.timeout = 0;          /* infinite: a loss is recovered by the NAK or never */
	o.retry_cnt = retry_cnt;
	sr_pair_start(p, 1, &o, &peer);
}

static void fill_pattern(uint8_t *b, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + (i >> 12) + salt);
}

static void expect_peer_pattern(struct sr_pair *p, unsigned salt)
{
	static uint8_t want[BYTES];
	uint8_t got[SR_MAX_DATA];
	fill_pattern(want, BYTES, salt);
	for (uint32_t off = 0; off < BYTES; off += SR_MAX_DATA) {
		sr_peer_read(p, 0, off, SR_MAX_DATA, got);
		cr_assert(memcmp(got, want + off, SR_MAX_DATA) == 0, "wrong bytes at %u", off);
	}
}

/* The first segment of an 8-segment WRITE_WITH_IMM is lost: the seven
 * behind it are out of sequence, the first of them is NAKed, the requester
 * resends from the lost PSN and the WR completes, the data and one IMM
 * land. retry_cnt 1 makes "one NAK per gap" observable: a NAK for each of
 * the seven would hit the requester again at the same PSN before the resend
 * was acknowledged, a second retry without progress, RETRY_EXC. */
Test(seq_nak, lost_write_segment_is_nakked_once_and_resent)
{
	struct sr_pair p;
	start(&p, 1);
	struct sr_ep *ep = &p.side.ep[0];
	fill_pattern(ep->buf, BYTES, 1);
	sr_peer_post_recv(&p, 0, 50, 0, 64, 2);
	long long oos0 = hw_counter("b", "out_of_sequence");
	long long nak0 = hw_counter("a", "packet_seq_err");
	cr_assert_eq(oos0, 0, "out_of_sequence: want 0 before any loss, got %lld", oos0);
	cr_assert_eq(nak0, 0, "packet_seq_err: want 0 before any loss, got %lld", nak0);
	sr_control("b " SR_HCA0 " reqs drop");
	settle();
	long long t0 = sr_now_ms();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE_WITH_IMM, 5, 0, BYTES, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0x0a0b0c0du), 0);
	sr_expect_wc(ep->scq, 5, IBV_WC_SUCCESS, NULL);
	fprintf(stderr, "seq_nak: one lost segment recovered in %lld ms\n", sr_now_ms() - t0);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].status, IBV_WC_SUCCESS);
	cr_assert_eq(rep.wc[0].byte_len, BYTES);
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, 200, &rep), 0, "the IMM completed twice");
	expect_peer_pattern(&p, 1);
	cr_assert_eq(hw_counter_reaches("a", "packet_seq_err", 1), 1, "want exactly one NAK");
	cr_assert_eq(hw_counter_reaches("b", "out_of_sequence", SEGS - 1), SEGS - 1,
		     "the segments behind the lost one are out of sequence");
	cr_assert_eq(sr_qp_state(ep->qp), IBV_QPS_RTS);
	cr_assert_eq(sr_peer_qp_state(&p, 0), IBV_QPS_RTS);
	sr_pair_stop(&p);
}

/* Two gaps, two NAKs: after the first loss is repaired a second WR loses
 * its first segment too and is NAKed again (the responder's "NAK sent"
 * state ends when the expected PSN arrives). */
Test(seq_nak, each_gap_gets_its_own_nak)
{
	struct sr_pair p;
	start(&p, 1);
	struct sr_ep *ep = &p.side.ep[0];
	fill_pattern(ep->buf, BYTES, 2);
	for (uint64_t i = 0; i < 2; i++) {
		sr_control("b " SR_HCA0 " reqs drop");
		settle();
		cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 60 + i, 0, BYTES, SR_MR_FULL, 0,
				     IBV_SEND_SIGNALED, 0), 0);
		sr_expect_wc(ep->scq, 60 + i, IBV_WC_SUCCESS, NULL);
		long long want = (long long)i + 1;
		cr_assert_eq(hw_counter_reaches("a", "packet_seq_err", want), want);
	}
	expect_peer_pattern(&p, 2);
	sr_pair_stop(&p);
}

/* A READ whose first request segment is lost: the READ requests behind it
 * are NAKed (not executed), the resent ones are, and the data is whole. */
Test(seq_nak, lost_read_request_is_nakked_and_resent)
{
	struct sr_pair p;
	start(&p, 1);
	struct sr_ep *ep = &p.side.ep[0];
	uint8_t chunk[SR_MAX_DATA];
	memset(ep->buf, 0, BYTES);
	for (uint32_t off = 0; off < BYTES; off += SR_MAX_DATA) {
		sr_peer_fill(&p, 0, off, SR_MAX_DATA, (uint8_t)(off >> 14));
	}
	sr_control("b " SR_HCA0 " reqs drop");
	settle();
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_READ, 70, 0, BYTES, SR_MR_FULL, 0, IBV_SEND_SIGNALED,
			     0), 0);
	sr_expect_wc(ep->scq, 70, IBV_WC_SUCCESS, NULL);
	for (uint32_t off = 0; off < BYTES; off += SR_MAX_DATA) {
		memset(chunk, (uint8_t)(off >> 14), sizeof(chunk));
		cr_assert(memcmp(ep->buf + off, chunk, sizeof(chunk)) == 0, "wrong bytes at %u", off);
	}
	cr_assert_eq(hw_counter_reaches("a", "packet_seq_err", 1), 1);
	sr_pair_stop(&p);
}
