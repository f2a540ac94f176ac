/* The per-comm completion engine (engine.h): no thread; test(), and isend()
 * or irecv() when they find no room, drive it.
 *
 * Send-queue accounting follows mlx5: an unsignaled WR keeps its SQ entry
 * until a later signaled WR's CQE is polled. Each signaled WR carries in its
 * wr_id how many entries its CQE frees, and no more than SQ_DEPTH/2 WRs go
 * unsignaled in a row, so a full queue always has a signaled WR in flight.
 *
 * Losing a rail mid-stream: when its port reports an error (failback.c
 * watches the port events) or its QP fails with a transport error (the
 * peer's half stopped answering: RETRY_EXC after the RC timeout and
 * retries) and another rail is up, the rail leaves the comm: its QP to ERR,
 * what completed on it before still counted (one drain of its CQ), no more
 * traffic, its CQ no longer polled, and the owner's rail_lost handler moves
 * what the rail owed. Any other error, or the last rail failing, fails the
 * comm. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "failback.h"
#include "log.h"

#define MAX_BATCHES_PER_RAIL 4

uint64_t spark_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void spark_comm_fail_why(struct spark_comm *c, ncclResult_t res, const char *reason)
{
	if (c->failed != ncclSuccess)
		return;
	c->failed = res;
	snprintf(c->ctl_chan.fail_reason, sizeof c->ctl_chan.fail_reason, "%s",
		 reason != NULL ? reason : "");
	c->next_peer_check_ns = 0;      /* the next check tells the peer */
}

void spark_comm_fail(struct spark_comm *c, ncclResult_t res)
{
	spark_comm_fail_why(c, res, NULL);
}

ncclResult_t spark_rail_post_failed(struct spark_comm *c, uint32_t r, uint32_t nwr, int rc)
{
	struct spark_rail *rail = &c->rail[r];
	SPARK_WARN("dev %d rail %s: ibv_post_send of %u WRs failed: %s (SQ %u/%d used)", c->dev,
		   rail->hca.name, nwr, strerror(rc), rail->sq_used, SPARK_SQ_DEPTH);
	char why[SPARK_REASON_LEN];
	snprintf(why, sizeof why, "rail %s: ibv_post_send failed: %s", rail->hca.name,
		 strerror(rc));
	spark_comm_fail_why(c, ncclSystemError, why);
	return ncclSystemError;
}

/* Receives carry no SGE: a WRITE_WITH_IMM puts no payload into one. */
static ncclResult_t post_recv_batch(struct spark_comm *c, uint32_t r, uint32_t n)
{
	struct ibv_recv_wr wr[SPARK_RQ_BATCH];
	struct spark_wr_id id = {SPARK_WR_RECV, r, 0, 0, 0};
	uint64_t wr_id = spark_wr_id_encode(&id);
	for (uint32_t i = 0; i < n; i++)
		wr[i] = (struct ibv_recv_wr){.wr_id = wr_id, .next = i + 1 < n ? &wr[i + 1] : NULL};
	struct ibv_recv_wr *bad = NULL;
	int rc = ibv_post_recv(c->rail[r].qp, wr, &bad);
	if (rc != 0) {
		SPARK_WARN("dev %d rail %s: ibv_post_recv failed: %s", c->dev, c->rail[r].hca.name,
			   strerror(rc));
		spark_comm_fail(c, ncclSystemError);
		return ncclSystemError;
	}
	return ncclSuccess;
}

ncclResult_t spark_rail_post_recvs(struct spark_comm *c, uint32_t r, uint32_t count)
{
	for (uint32_t done = 0; done < count; done += SPARK_RQ_BATCH)
		SPARK_TRY(post_recv_batch(c, r, count - done < SPARK_RQ_BATCH ? count - done
									       : SPARK_RQ_BATCH));
	return ncclSuccess;
}

static const char *kind_name(enum spark_wr_kind k)
{
	switch (k) {
	case SPARK_WR_DATA: return "data+imm";
	case SPARK_WR_CTS: return "cts";
	case SPARK_WR_RECV: return "recv";
	default: return "?";
	}
}

/* Only wr_id, status, vendor_err and qp_num are valid in an error CQE. Cold,
 * and decodes wr_id itself: handle_wc's decoded copy stays in registers. */
static __attribute__((cold, noinline)) void report_error(struct spark_comm *c, uint32_t r,
							 const struct ibv_wc *wc)
{
	struct spark_wr_id idv, *id = &idv;
	spark_wr_id_decode(wc->wr_id, id);
	if (c->failed != ncclSuccess && wc->status == IBV_WC_WR_FLUSH_ERR)
		return; /* the flush that follows the first error */
	char local[INET6_ADDRSTRLEN] = "?", remote[INET6_ADDRSTRLEN] = "?";
	union ibv_gid gid;
	if (ibv_query_gid(c->rail[r].ctx, (uint8_t)c->rail[r].hca.port, c->rail[r].hca.gid.index,
			  &gid) == 0)
		inet_ntop(AF_INET6, gid.raw, local, sizeof local);
	inet_ntop(AF_INET6, c->rail[r].peer_gid, remote, sizeof remote);
	SPARK_WARN("dev %d rail %s: %s completion failed on QPN %#x (wr %s slot %u): %s "
		   "(status %d, vendor_err %#x), local GID %s, remote GID %s", c->dev,
		   c->rail[r].hca.name, c->kind == SPARK_COMM_SEND ? "send" : "recv",
		   wc->qp_num, kind_name(id->kind), id->slot, ibv_wc_status_str(wc->status),
		   (int)wc->status, wc->vendor_err, local, remote);
	char why[SPARK_REASON_LEN];
	snprintf(why, sizeof why, "rail %s: %s completion failed: %s", c->rail[r].hca.name,
		 kind_name(id->kind), ibv_wc_status_str(wc->status));
	spark_comm_fail_why(c, ncclRemoteError, why);
}

/* Inlined into both its callers: drain_rail (cold) made it a two-caller
 * function GCC kept out of line, a call per CQE on the hot poll_rail. */
static inline __attribute__((always_inline)) void handle_wc(struct spark_comm *c, uint32_t r,
							    const struct ibv_wc *wc);

/* The rails of the connection and why each left, for the WARN that ends
 * the comm ("rocep1s0f0 (port down ...) and roceP2p1s0f0 (the same)"), and
 * their names alone for the peer (the FAILED frame's reason). */
static void both_down(struct spark_comm *c, uint32_t r, const char *cause)
{
	char what[512], names[SPARK_REASON_LEN];
	const char *prev = NULL;
	int len = 0, nlen = snprintf(names, sizeof names, "every rail is down:");
	for (uint32_t k = 0; k < c->nrails && len < (int)sizeof what; k++) {
		const char *why = k == r ? cause : c->rail[k].lost_cause;
		if (k != r && !(c->failed_mask & (1u << k)))
			continue;
		bool same = len > 0 && why == prev;
		len += snprintf(what + len, sizeof what - (size_t)len, "%s%s (%s)",
				len > 0 ? " and " : "", c->rail[k].hca.name,
				same ? "the same" : why ? why : "?");
		if (nlen < (int)sizeof names)
			nlen += snprintf(names + nlen, sizeof names - (size_t)nlen, " %s",
					 c->rail[k].hca.name);
		prev = why;
	}
	SPARK_WARN("dev %d: %s comm failed: every rail is down: %s; nothing is left to carry "
		   "it (check the QSFP cable and both hosts' ports: ibv_devinfo, ip link)",
		   c->dev, c->kind == SPARK_COMM_SEND ? "send" : "recv", what);
	spark_comm_fail_why(c, ncclRemoteError, names);
}

/* After the QP is in ERR nothing more can succeed on it, so one pass to
 * empty gets every completion that did: an IMM that landed or an ACK that
 * came before the failure still counts (the receiver would wait forever
 * for a share the sender saw acknowledged). Errors are the flushes. */
static void drain_rail(struct spark_comm *c, uint32_t r)
{
	struct ibv_wc wc[SPARK_POLL_BATCH];
	for (int guard = 0; guard < SPARK_CQ_DEPTH / SPARK_POLL_BATCH + 1; guard++) {
		int n = ibv_poll_cq(c->rail[r].cq, SPARK_POLL_BATCH, wc);
		for (int i = 0; i < n; i++)
			handle_wc(c, r, &wc[i]);
		if (n < SPARK_POLL_BATCH)
			return;
	}
}

bool spark_rail_fail(struct spark_comm *c, uint32_t r, const char *cause)
{
	uint32_t bit = 1u << r;
	struct spark_rail *rail = &c->rail[r];
	if (c->failed_mask & bit)
		return true;   /* flushes after the failure already handled */
	if (c->failed != ncclSuccess || !(c->up_mask & bit))
		return false;
	if ((c->up_mask & ~bit) == 0) {
		both_down(c, r, cause);
		return false;
	}
	/* ERR first: the QP sends nothing more (no retransmission of an old
	 * piece after the survivor re-sent it) and executes no incoming write
	 * (docs/design.md, "Losing a rail"). */
	struct ibv_qp_attr a = {.qp_state = IBV_QPS_ERR};
	if (ibv_modify_qp(rail->qp, &a, IBV_QP_STATE) != 0)
		SPARK_WARN("dev %d rail %s: moving the failed QP to the error state failed (%s)",
			   c->dev, rail->hca.name, strerror(errno));
	c->failed_mask |= bit;
	c->up_mask &= ~bit;
	rail->up = false;
	rail->lost_cause = cause;
	c->weights.weight[r] = 0;
	c->weights.link_mbps[r] = 0;
	c->policy.weight[r] = 0;
	SPARK_WARN("dev %d: rail %s lost: %s; the %s comm carries on over the other half (%s)",
		   c->dev, rail->hca.name, cause, c->kind == SPARK_COMM_SEND ? "send" : "recv",
		   c->rail[__builtin_ctz(c->up_mask)].hca.name);
	drain_rail(c, r);
	c->ops->rail_lost(c, r);
	spark_failback_rail_down(c, r);
	return true;
}

/* True when the failed completion was rail r failing and the comm carries on
 * over the rails left. */
static bool rail_failover(struct spark_comm *c, uint32_t r, int wc_status)
{
	if (c->failed_mask & (1u << r))
		return true;   /* flushes after the failure already handled */
	if (wc_status != IBV_WC_RETRY_EXC_ERR || c->failed != ncclSuccess)
		return false;
	return spark_rail_fail(c, r, "the peer stopped answering (transport retries "
			       "exhausted: link down or the peer's NIC reset)");
}

static inline __attribute__((always_inline)) void handle_wc(struct spark_comm *c, uint32_t r,
							    const struct ibv_wc *wc)
{
	struct spark_wr_id id;
	spark_wr_id_decode(wc->wr_id, &id);
	struct spark_rail *rail = &c->rail[r];
	if (id.rail != r || id.released > rail->sq_used) {
		SPARK_WARN("dev %d rail %u: completion with a foreign wr_id %#llx", c->dev, r,
			   (unsigned long long)wc->wr_id);
		spark_comm_fail(c, ncclInternalError);
		return;
	}
	rail->sq_used -= id.released;
	rail->signaled_inflight -= id.released > 0;
	if (wc->status != IBV_WC_SUCCESS) {
		if (!rail_failover(c, r, wc->status))
			report_error(c, r, wc);
		return;
	}
	if (id.kind == SPARK_WR_DATA) {
		c->ops->data_done(c, r, id.slot, id.share);
	} else if (id.kind == SPARK_WR_RECV) {
		if (wc->opcode != IBV_WC_RECV_RDMA_WITH_IMM || !(wc->wc_flags & IBV_WC_WITH_IMM)) {
			SPARK_WARN("dev %d rail %s: unexpected receive opcode %d", c->dev,
				   rail->hca.name, (int)wc->opcode);
			spark_comm_fail(c, ncclRemoteError);
			return;
		}
		rail->rq_consumed++;
		c->ops->imm(c, r, be32toh(wc->imm_data));
	}
}

/* One rail: batches of CQEs until the CQ is empty (or enough for this call),
 * then the receives used up go back in one post. An empty CQ (in a sliding
 * window, the other rail's poll most of the time) returns after its one
 * call, before the batch loop's state is set up: nothing was handled, so
 * nothing is owed a re-post (rq_consumed moves only in handle_wc, and a
 * rail set up again starts it at 0). */
static __attribute__((cold, noinline)) bool poll_failed(struct spark_comm *c, uint32_t r, int n,
							 bool any)
{
	SPARK_WARN("dev %d rail %s: ibv_poll_cq failed (%d)", c->dev, c->rail[r].hca.name, n);
	spark_comm_fail(c, ncclSystemError);
	return any;
}

static inline __attribute__((always_inline)) bool poll_rail(struct spark_comm *c, uint32_t r)
{
	struct ibv_wc wc[SPARK_POLL_BATCH];
	int n = ibv_poll_cq(c->rail[r].cq, SPARK_POLL_BATCH, wc);
	if (n == 0)
		return false;
	if (n < 0)
		return poll_failed(c, r, n, false);
	for (int i = 0; i < n; i++)
		handle_wc(c, r, &wc[i]);
	for (int b = 1; n == SPARK_POLL_BATCH && b < MAX_BATCHES_PER_RAIL; b++) {
		n = ibv_poll_cq(c->rail[r].cq, SPARK_POLL_BATCH, wc);
		if (n < 0)
			return poll_failed(c, r, n, true);
		for (int i = 0; i < n; i++)
			handle_wc(c, r, &wc[i]);
	}
	if (c->rail[r].rq_consumed >= SPARK_RQ_BATCH && c->rail[r].up &&
	    spark_rail_post_recvs(c, r, c->rail[r].rq_consumed) == ncclSuccess)
		c->rail[r].rq_consumed = 0;
	return true;
}

bool spark_engine_poll(struct spark_comm *c)
{
	bool any = false;
	c->clock_ns = 0;
	for (uint32_t r = 0; r < c->nrails; r++) {
		/* A CQ is polled only when a completion is owed on it: a signaled
		 * WR in flight, or (receiver) a posted request whose IMMs may come
		 * on any rail. An idle rail costs nothing per test(). */
		bool owed = c->rail[r].signaled_inflight > 0 ||
			    (c->kind == SPARK_COMM_RECV && c->recvs_posted > 0);
		if (c->rail[r].up && owed)
			any |= poll_rail(c, r);
	}
	if (any && c->ops->progress != NULL)
		c->ops->progress(c);
	else if (!any)
		spark_port_watch(c);   /* the comm waits: time to look at its ports */
	return any;
}
