/* Data movement: multi-segment messages arrive intact in both copy modes
 * (one copy between processes, and SOFTROCE_COPY=stream, the fallback), and
 * loopback on one device works as on mlx5 (NCCL's flush READs through a QP
 * connected to itself). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(datapath, .fini = sr_teardown, .timeout = 60);

#define BIG (1u << 20)
#define ODD 12345u /* not a multiple of any segment size */

static uint8_t pattern(uint32_t i, uint8_t seed)
{
	return (uint8_t)(i * 131u + (i >> 9) + seed);
}

static void check_peer(struct sr_pair *p, uint32_t off, uint32_t len, uint8_t seed)
{
	static uint8_t got[SR_MAX_DATA];
	uint32_t o = 0;
	while (o < len) {
		uint32_t n = SR_MAX_DATA;
		if (n > len - o)
			n = len - o;
		sr_peer_read(p, 0, off + o, n, got);
		for (uint32_t i = 0; i < n; i++)
			cr_assert_eq(got[i], pattern(o + i, seed), "peer byte %u", o + i);
		o += n;
	}
}

/* WRITE, WRITE_WITH_IMM, SEND and READ of sizes that span many segments,
 * with the data checked on the far side. */
static void move_data(bool stream)
{
	sr_fabric_setup();
	if (stream)
		setenv("SOFTROCE_COPY", "stream", 1); /* inherited by the peer */
	struct sr_ep_opts o = sr_ep_opts_default();
	o.buf_len = 2 * BIG;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &o);
	struct sr_ep *ep = &p.side.ep[0];
	for (uint32_t i = 0; i < BIG + ODD; i++)
		ep->buf[i] = pattern(i, 1);

	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 1, 0, BIG + ODD, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, NULL);
	check_peer(&p, 0, BIG + ODD, 1);

	sr_peer_post_recv(&p, 0, 50, BIG + ODD, BIG - ODD, 1);
	for (uint32_t i = 0; i < ODD * 3; i++)
		ep->buf[i] = pattern(i, 2);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 2, 0, ODD * 3, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 2, IBV_WC_SUCCESS, NULL);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 1, SR_DEADLINE_MS, &rep), 1);
	cr_assert_eq(rep.wc[0].status, IBV_WC_SUCCESS);
	cr_assert_eq(rep.wc[0].byte_len, ODD * 3);
	check_peer(&p, BIG + ODD, ODD * 3, 2);

	/* READ it all back into a clean local region. */
	memset(ep->buf + BIG, 0, BIG);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_READ, 3, BIG, BIG - ODD, SR_MR_FULL, 0,
			     IBV_SEND_SIGNALED, 0), 0);
	struct ibv_wc wc;
	sr_expect_wc(ep->scq, 3, IBV_WC_SUCCESS, &wc);
	cr_assert_eq(wc.byte_len, BIG - ODD);
	for (uint32_t i = 0; i < BIG - ODD; i++)
		cr_assert_eq(ep->buf[BIG + i], pattern(i, 1), "READ byte %u", i);
	sr_pair_stop(&p);
}

Test(datapath, multi_segment_one_copy)
{
	move_data(false);
}

Test(datapath, multi_segment_streamed)
{
	move_data(true);
}

/* An RC QP connected to itself: RDMA READ of its own memory, as NCCL's
 * iflush does. mlx5 loops such traffic back inside the HCA. */
Test(datapath, qp_connected_to_itself)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep *ep = sr_ep_create(&side, &o);
	ep->remote = ep->local;
	cr_assert_eq(sr_ep_connect(ep), 0);
	memset(ep->buf + 4096, 0x3c, 256);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_READ, 1, 0, 256, SR_MR_FULL, 4096, IBV_SEND_SIGNALED,
			     0), 0);
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, NULL);
	for (int i = 0; i < 256; i++)
		cr_assert_eq(ep->buf[i], 0x3c);
	sr_side_destroy(&side);
}

/* Two QPs of one process on one device, connected to each other. */
Test(datapath, two_qps_on_one_device)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep *a = sr_ep_create(&side, &o);
	struct sr_ep *b = sr_ep_create(&side, &o);
	a->remote = b->local;
	b->remote = a->local;
	cr_assert_eq(sr_ep_connect(a), 0);
	cr_assert_eq(sr_ep_connect(b), 0);
	cr_assert_eq(sr_post_recv(b, 9, 0, 64), 0);
	memset(a->buf, 0x5e, 64);
	cr_assert_eq(sr_post(a, IBV_WR_SEND_WITH_IMM, 1, 0, 64, 0, 0, IBV_SEND_SIGNALED, 7), 0);
	sr_expect_wc(a->scq, 1, IBV_WC_SUCCESS, NULL);
	struct ibv_wc wc;
	sr_expect_wc(b->rcq, 9, IBV_WC_SUCCESS, &wc);
	cr_assert_eq(wc.byte_len, 64);
	cr_assert_eq(wc.src_qp, a->qp->qp_num);
	cr_assert_eq(b->buf[63], 0x5e);
	sr_side_destroy(&side);
}
