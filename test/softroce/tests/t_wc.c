/* Rules 8, 9, 11, 12: what a work completion holds.
 *  8  imm_data passes through byte for byte (it is __be32 on both ends);
 *  9  byte_len as mlx5: recv = bytes placed, RDMA_READ = bytes read;
 * 11  an error CQE holds only wr_id, status, vendor_err, qp_num: the other
 *     fields are poison, not plausible values;
 * 12  zero-length WRITE_WITH_IMM / SEND and num_sge = 0 work; zero-length
 *     SGEs in recv WRs are skipped. */
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule8_imm, .fini = sr_teardown, .timeout = 60);
TestSuite(rule9_byte_len, .fini = sr_teardown, .timeout = 60);
TestSuite(rule11_poison, .fini = sr_teardown, .timeout = 60);
TestSuite(rule12_zero_len, .fini = sr_teardown, .timeout = 60);

static const uint8_t imm_bytes[4] = { 0xde, 0xad, 0xbe, 0x01 };

static uint32_t imm_raw(void)
{
	uint32_t v;
	memcpy(&v, imm_bytes, 4);
	return v;
}

static struct ibv_wc peer_recv_one(struct sr_pair *p)
{
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(p, 0, 1, SR_DEADLINE_MS, &rep), 1, "no recv CQE");
	return rep.wc[0];
}

Test(rule8_imm, write_with_imm_passes_bytes_through)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 42, 0, 64, 1);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE_WITH_IMM, 1, 0, 100, SR_MR_FULL, 1000,
			     IBV_SEND_SIGNALED, imm_raw()), 0);
	struct ibv_wc wc = peer_recv_one(&p);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS);
	cr_assert_eq(wc.wr_id, 42);
	cr_assert_eq(wc.opcode, IBV_WC_RECV_RDMA_WITH_IMM);
	cr_assert(wc.wc_flags & IBV_WC_WITH_IMM);
	uint8_t got[4];
	memcpy(got, &wc.imm_data, 4);
	cr_assert_arr_eq(got, imm_bytes, 4, "imm bytes %02x %02x %02x %02x, want de ad be 01",
			 got[0], got[1], got[2], got[3]);
	cr_assert_eq(wc.qp_num, ep->remote.qpn);
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, &wc);
	cr_assert_eq(wc.opcode, IBV_WC_RDMA_WRITE);
	sr_pair_stop(&p);
}

Test(rule8_imm, send_with_imm_passes_bytes_through)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 43, 0, 64, 2);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND_WITH_IMM, 1, 0, 8, 0, 0, 0, imm_raw()), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 2, 0, 8, 0, 0, IBV_SEND_SIGNALED, imm_raw()), 0);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 2, SR_DEADLINE_MS, &rep), 2);
	cr_assert_eq(rep.wc[0].opcode, IBV_WC_RECV);
	cr_assert(rep.wc[0].wc_flags & IBV_WC_WITH_IMM);
	cr_assert_arr_eq((uint8_t *)&rep.wc[0].imm_data, imm_bytes, 4);
	cr_assert_eq(rep.wc[1].opcode, IBV_WC_RECV);
	cr_assert_not(rep.wc[1].wc_flags & IBV_WC_WITH_IMM, "a plain SEND carries no imm");
	sr_expect_wc(ep->scq, 2, IBV_WC_SUCCESS, NULL);
	sr_pair_stop(&p);
}

Test(rule9_byte_len, recv_byte_len_is_bytes_placed)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 10, 0, 4096, 2);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 1, 0, 1000, 0, 0, 0, 0), 0);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE_WITH_IMM, 2, 0, 777, SR_MR_FULL, 20000,
			     IBV_SEND_SIGNALED, 1), 0);
	struct sr_reply rep;
	cr_assert_eq(sr_peer_poll_recv(&p, 0, 2, SR_DEADLINE_MS, &rep), 2);
	cr_assert_eq(rep.wc[0].byte_len, 1000, "SEND of 1000 into 4096: byte_len %u",
		     rep.wc[0].byte_len);
	cr_assert_eq(rep.wc[1].byte_len, 777, "WRITE_WITH_IMM of 777: byte_len %u",
		     rep.wc[1].byte_len);
	struct ibv_wc wc;
	sr_expect_wc(ep->scq, 2, IBV_WC_SUCCESS, &wc);
	sr_pair_stop(&p);
}

Test(rule9_byte_len, rdma_read_byte_len_is_bytes_read)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_fill(&p, 0, 300, 555, 0xc4);
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_READ, 9, 8192, 555, SR_MR_FULL, 300,
			     IBV_SEND_SIGNALED, 0), 0);
	struct ibv_wc wc;
	sr_expect_wc(ep->scq, 9, IBV_WC_SUCCESS, &wc);
	cr_assert_eq(wc.opcode, IBV_WC_RDMA_READ);
	cr_assert_eq(wc.byte_len, 555, "RDMA_READ byte_len %u", wc.byte_len);
	for (int i = 0; i < 555; i++)
		cr_assert_eq(ep->buf[8192 + i], 0xc4, "read byte %d", i);
	cr_assert_eq(ep->buf[8192 + 555], 0, "READ wrote past its length");
	sr_pair_stop(&p);
}

/* A success CQE as a caller would have it from earlier polls. */
static struct ibv_wc plausible(uint32_t src_qp)
{
	return (struct ibv_wc){ .wr_id = 0x1111, .status = IBV_WC_SUCCESS,
				.opcode = IBV_WC_RECV_RDMA_WITH_IMM, .byte_len = 64,
				.imm_data = 0x12345678, .src_qp = src_qp,
				.wc_flags = IBV_WC_WITH_IMM, .qp_num = 0 };
}

static void expect_poisoned(const struct ibv_wc *wc, uint32_t src_qp, uint32_t real_len)
{
	cr_assert_not(sr_wc_opcode_valid(wc->opcode),
		      "error CQE opcode %d is a valid opcode: not poisoned", wc->opcode);
	cr_assert_neq(wc->byte_len, 64u, "byte_len left from a previous CQE");
	cr_assert_neq(wc->byte_len, real_len, "byte_len holds the real length");
	cr_assert_neq(wc->byte_len, 0u, "byte_len 0 is plausible");
	cr_assert_neq(wc->imm_data, 0x12345678u, "imm_data left from a previous CQE");
	cr_assert_neq(wc->src_qp, src_qp, "src_qp left plausible");
	cr_assert_neq(wc->wc_flags, (unsigned)IBV_WC_WITH_IMM, "wc_flags left plausible");
	cr_assert_neq(wc->wc_flags, 0u, "wc_flags 0 is plausible");
}

static struct ibv_wc poll_into_plausible(struct ibv_cq *cq, uint32_t src_qp)
{
	struct ibv_wc wc = plausible(src_qp);
	long long end = sr_now_ms() + SR_DEADLINE_MS;
	int n;
	while ((n = ibv_poll_cq(cq, 1, &wc)) == 0 && sr_now_ms() < end)
		;
	cr_assert_eq(n, 1, "no CQE");
	return wc;
}

Test(rule11_poison, flush_cqe_is_poisoned)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(sr_post_recv(ep, 5, 0, 64), 0);
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };
	cr_assert_eq(ibv_modify_qp(ep->qp, &attr, IBV_QP_STATE), 0);
	struct ibv_wc wc = poll_into_plausible(ep->rcq, ep->remote.qpn);
	cr_assert_eq(wc.wr_id, 5);
	cr_assert_eq(wc.status, IBV_WC_WR_FLUSH_ERR);
	cr_assert_eq(wc.qp_num, ep->qp->qp_num, "qp_num is valid in an error CQE");
	expect_poisoned(&wc, ep->remote.qpn, 64);
	sr_pair_stop(&p);
}

Test(rule11_poison, remote_access_error_cqe_is_poisoned)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	ep->remote.mr[0].rkey ^= 0x202000;
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_READ, 6, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	struct ibv_wc wc = poll_into_plausible(ep->scq, ep->remote.qpn);
	cr_assert_eq(wc.wr_id, 6);
	cr_assert_eq(wc.status, IBV_WC_REM_ACCESS_ERR);
	cr_assert_eq(wc.qp_num, ep->qp->qp_num);
	expect_poisoned(&wc, ep->remote.qpn, 64);
	sr_pair_stop(&p);
}

Test(rule11_poison, retry_exceeded_cqe_is_poisoned_with_vendor_err)
{
	sr_fabric_setup();
	struct sr_ep_opts o = sr_ep_opts_default(), peer = o;
	o.bad_dgid = true;
	o.retry_cnt = 1;
	struct sr_pair p;
	sr_pair_start(&p, 1, &o, &peer);
	struct sr_ep *ep = &p.side.ep[0];
	cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, 8, 0, 64, SR_MR_FULL, 0, IBV_SEND_SIGNALED, 0), 0);
	struct ibv_wc wc = poll_into_plausible(ep->scq, ep->remote.qpn);
	cr_assert_eq(wc.wr_id, 8);
	cr_assert_eq(wc.status, IBV_WC_RETRY_EXC_ERR, "%s", ibv_wc_status_str(wc.status));
	cr_assert_eq(wc.vendor_err, 0x81u, "mlx5 vendor_err for retry exceeded is 0x81");
	cr_assert_eq(wc.qp_num, ep->qp->qp_num);
	expect_poisoned(&wc, ep->remote.qpn, 64);
	sr_pair_stop(&p);
}

Test(rule12_zero_len, write_with_imm_num_sge_0)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 70, 0, 64, 1);
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = NULL, .num_sge = 0,
				  .opcode = IBV_WR_RDMA_WRITE_WITH_IMM,
				  .send_flags = IBV_SEND_SIGNALED, .imm_data = imm_raw() };
	wr.wr.rdma.remote_addr = ep->remote.mr[0].addr;
	wr.wr.rdma.rkey = ep->remote.mr[0].rkey;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), 0);
	sr_expect_wc(ep->scq, 1, IBV_WC_SUCCESS, NULL);
	struct ibv_wc wc = peer_recv_one(&p);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS);
	cr_assert_eq(wc.opcode, IBV_WC_RECV_RDMA_WITH_IMM);
	cr_assert_eq(wc.byte_len, 0);
	cr_assert_arr_eq((uint8_t *)&wc.imm_data, imm_bytes, 4);
	sr_pair_stop(&p);
}

Test(rule12_zero_len, write_with_imm_zero_length_sge)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 71, 0, 64, 1);
	struct ibv_sge sge = { .addr = (uintptr_t)ep->buf, .length = 0,
			       .lkey = ep->mr[SR_MR_FULL]->lkey };
	struct ibv_send_wr wr = { .wr_id = 2, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE_WITH_IMM,
				  .send_flags = IBV_SEND_SIGNALED, .imm_data = imm_raw() };
	wr.wr.rdma.remote_addr = ep->remote.mr[0].addr;
	wr.wr.rdma.rkey = ep->remote.mr[0].rkey;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), 0);
	sr_expect_wc(ep->scq, 2, IBV_WC_SUCCESS, NULL);
	struct ibv_wc wc = peer_recv_one(&p);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS);
	cr_assert_eq(wc.byte_len, 0);
	sr_pair_stop(&p);
}

Test(rule12_zero_len, send_and_write_num_sge_0)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	sr_peer_post_recv(&p, 0, 72, 0, 64, 1);
	struct ibv_send_wr wr[2] = {
		{ .wr_id = 3, .num_sge = 0, .opcode = IBV_WR_RDMA_WRITE,
		  .send_flags = IBV_SEND_SIGNALED, .next = &wr[1] },
		{ .wr_id = 4, .num_sge = 0, .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED },
	};
	wr[0].wr.rdma.remote_addr = ep->remote.mr[0].addr;
	wr[0].wr.rdma.rkey = ep->remote.mr[0].rkey;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, wr, &bad), 0);
	sr_expect_wc(ep->scq, 3, IBV_WC_SUCCESS, NULL);
	sr_expect_wc(ep->scq, 4, IBV_WC_SUCCESS, NULL);
	struct ibv_wc wc = peer_recv_one(&p);
	cr_assert_eq(wc.wr_id, 72);
	cr_assert_eq(wc.opcode, IBV_WC_RECV);
	cr_assert_eq(wc.byte_len, 0);
	sr_pair_stop(&p);
}

/* The peer's recv: SGE 0 is zero-length at offset 0 (with a bogus lkey,
 * which mlx5 never looks at), SGE 1 is 64 bytes at offset 256. */
Test(rule12_zero_len, recv_zero_length_sge_is_skipped)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	struct sr_cmd c = { .op = SR_OP_POST_RECV, .ep = 0, .wr_id = 73, .off = 0, .len = 64,
			    .n = 1, .zero_sge_first = true };
	struct sr_reply rep;
	sr_peer(&p, &c, &rep);
	cr_assert_eq(rep.rc, 0, "a recv with a zero-length SGE must post");
	for (int i = 0; i < 48; i++)
		ep->buf[i] = (uint8_t)(i + 1);
	cr_assert_eq(sr_post(ep, IBV_WR_SEND, 5, 0, 48, 0, 0, IBV_SEND_SIGNALED, 0), 0);
	sr_expect_wc(ep->scq, 5, IBV_WC_SUCCESS, NULL);
	struct ibv_wc wc = peer_recv_one(&p);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS, "%s", ibv_wc_status_str(wc.status));
	cr_assert_eq(wc.byte_len, 48);
	uint8_t got[320];
	sr_peer_read(&p, 0, 0, sizeof(got), got);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(got[i], 0, "the zero-length SGE received byte %d", i);
	for (int i = 0; i < 48; i++)
		cr_assert_eq(got[256 + i], (uint8_t)(i + 1), "SGE 1 byte %d", i);
	sr_pair_stop(&p);
}
