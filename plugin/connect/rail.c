/* One rail of a comm: take a reference on the HCA's shared context and PD
 * (devctx.h), create the comm's CQ and RC QP, register the comm's control
 * areas on that PD, and move the QP RESET→INIT→RTR→RTS. */
#include <infiniband/verbs.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "api.h"
#include "comm.h"
#include "devctx.h"
#include "scan.h"
#include "log.h"

static uint32_t random_psn(void)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint32_t)spark_now_ns();
	return v & 0xffffff;
}

static ncclResult_t create_qp(struct spark_rail *r)
{
	struct ibv_qp_init_attr a;
	memset(&a, 0, sizeof a);
	a.send_cq = r->cq;
	a.recv_cq = r->cq;
	a.qp_type = IBV_QPT_RC;
	a.cap.max_send_wr = SPARK_SQ_DEPTH;
	a.cap.max_recv_wr = SPARK_RQ_DEPTH;
	a.cap.max_send_sge = 1;
	a.cap.max_recv_sge = 1;
	a.cap.max_inline_data = SPARK_INLINE;
	SPARK_CHECK_PTR(r->qp, ibv_create_qp(r->pd, &a));
	/* The provider writes back what it granted; the SQ budget must be ours. */
	if (a.cap.max_send_wr < SPARK_SQ_DEPTH || a.cap.max_inline_data < SPARK_INLINE) {
		SPARK_WARN("rail %s: QP granted %u send WRs / %u inline bytes, need %d / %d",
			   r->hca.name, a.cap.max_send_wr, a.cap.max_inline_data, SPARK_SQ_DEPTH,
			   SPARK_INLINE);
		return ncclSystemError;
	}
	r->max_inline = a.cap.max_inline_data;
	struct ibv_qp_attr m;
	memset(&m, 0, sizeof m);
	m.qp_state = IBV_QPS_INIT;
	m.pkey_index = 0;
	m.port_num = (uint8_t)r->hca.port;
	m.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	SPARK_CHECK(ibv_modify_qp(r->qp, &m, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
						     IBV_QP_ACCESS_FLAGS));
	return ncclSuccess;
}

ncclResult_t spark_rail_open(struct spark_rail *r, const struct spark_hca *hca, void *ctl,
			     size_t ctl_len, void *src, size_t src_len)
{
	r->hca = *hca;
	SPARK_TRY(spark_devctx_acquire(hca->name, &r->dc));
	r->ctx = r->dc->ctx;
	r->pd = r->dc->pd;
	/* The GID index can move while the process runs (Spark: 3 → 4 or 5). */
	SPARK_TRY(spark_gid_rescan(r->ctx, &r->hca, spark_params()->gid_index));
	if (!spark_hca_usable(&r->hca)) {
		SPARK_WARN("rail %s: no usable RoCE v2 GID any more", hca->name);
		return ncclSystemError;
	}
	SPARK_CHECK_PTR(r->cq, ibv_create_cq(r->ctx, SPARK_CQ_DEPTH, NULL, NULL, 0));
	/* Control areas: no relaxed ordering, so a CTS entry or record lands in
	 * order and its last field (seq) is written last (docs/design.md). */
	SPARK_CHECK_PTR(r->ctl_mr, ibv_reg_mr(r->pd, ctl, ctl_len,
					      IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE));
	if (src != NULL)
		SPARK_CHECK_PTR(r->src_mr, ibv_reg_mr(r->pd, src, src_len, IBV_ACCESS_LOCAL_WRITE));
	SPARK_TRY(create_qp(r));
	r->psn = random_psn();
	return ncclSuccess;
}

void spark_rail_describe(const struct spark_rail *r, struct spark_rail_info *out)
{
	union ibv_gid gid;
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", r->hca.name);
	if (ibv_query_gid(r->ctx, (uint8_t)r->hca.port, r->hca.gid.index, &gid) == 0)
		memcpy(out->gid, gid.raw, 16);
	out->ipv4 = r->hca.gid.ipv4;
	out->prefix = (uint32_t)r->hca.gid.prefix;
	out->qpn = r->qp->qp_num;
	out->psn = r->psn;
	out->mtu = (uint32_t)r->hca.active_mtu;
	out->rkey = r->ctl_mr->rkey;
	out->addr = (uint64_t)(uintptr_t)r->ctl_mr->addr;
}

static enum ibv_mtu mtu_enum(uint32_t bytes)
{
	switch (bytes) {
	case 256: return IBV_MTU_256;
	case 512: return IBV_MTU_512;
	case 1024: return IBV_MTU_1024;
	case 2048: return IBV_MTU_2048;
	default: return IBV_MTU_4096;
	}
}

static ncclResult_t to_rtr(struct spark_rail *r, const struct spark_rail_info *peer)
{
	const struct spark_params *p = spark_params();
	struct ibv_qp_attr m;
	memset(&m, 0, sizeof m);
	uint32_t ours = (uint32_t)r->hca.active_mtu;
	m.qp_state = IBV_QPS_RTR;
	m.path_mtu = mtu_enum(peer->mtu < ours ? peer->mtu : ours);
	m.dest_qp_num = peer->qpn;
	m.rq_psn = peer->psn;
	m.max_dest_rd_atomic = 1;
	m.min_rnr_timer = 12;
	m.ah_attr.is_global = 1;
	memcpy(m.ah_attr.grh.dgid.raw, peer->gid, 16);
	m.ah_attr.grh.sgid_index = (uint8_t)r->hca.gid.index;
	m.ah_attr.grh.hop_limit = 255;
	m.ah_attr.grh.traffic_class = (uint8_t)p->ib_tc;
	m.ah_attr.sl = (uint8_t)p->ib_sl;
	m.ah_attr.port_num = (uint8_t)r->hca.port;
	SPARK_CHECK(ibv_modify_qp(r->qp, &m, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
						     IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
						     IBV_QP_MAX_DEST_RD_ATOMIC |
						     IBV_QP_MIN_RNR_TIMER));
	return ncclSuccess;
}

static ncclResult_t to_rts(struct spark_rail *r)
{
	const struct spark_params *p = spark_params();
	struct ibv_qp_attr m;
	memset(&m, 0, sizeof m);
	m.qp_state = IBV_QPS_RTS;
	m.timeout = (uint8_t)p->ib_timeout;
	m.retry_cnt = (uint8_t)p->ib_retry_cnt;
	m.rnr_retry = 7;
	m.sq_psn = r->psn;
	m.max_rd_atomic = 1;
	SPARK_CHECK(ibv_modify_qp(r->qp, &m, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
						     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
						     IBV_QP_MAX_QP_RD_ATOMIC));
	return ncclSuccess;
}

ncclResult_t spark_rail_connect(struct spark_rail *r, const struct spark_rail_info *peer)
{
	memcpy(r->peer_gid, peer->gid, 16);
	r->peer_rkey = peer->rkey;
	r->peer_addr = peer->addr;
	SPARK_TRY(to_rtr(r, peer));
	SPARK_TRY(to_rts(r));
	r->up = true;
	return ncclSuccess;
}

/* Order matters: the QP goes first so the peer can no longer write into the
 * areas deregistered next; a QP destroyed with WRs outstanding is fine. The
 * shared PD and context go last, and only with their last user: NCCL's
 * registrations on them may outlive this comm (mr.c). */
void spark_rail_close(struct spark_rail *r)
{
	if (r->qp != NULL && ibv_destroy_qp(r->qp) != 0)
		SPARK_WARN("rail %s: ibv_destroy_qp failed", r->hca.name);
	if (r->ctl_mr != NULL && ibv_dereg_mr(r->ctl_mr) != 0)
		SPARK_WARN("rail %s: ibv_dereg_mr (control) failed", r->hca.name);
	if (r->src_mr != NULL && ibv_dereg_mr(r->src_mr) != 0)
		SPARK_WARN("rail %s: ibv_dereg_mr (source) failed", r->hca.name);
	if (r->cq != NULL && ibv_destroy_cq(r->cq) != 0)
		SPARK_WARN("rail %s: ibv_destroy_cq failed", r->hca.name);
	spark_devctx_release(r->dc);
	memset(r, 0, sizeof *r);
}
