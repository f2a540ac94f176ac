/* Losing a rail mid-stream. When a rail's QP fails with a transport error
 * (the link went down, the peer's half stopped answering: RETRY_EXC after
 * the RC timeout and retries), the comm carries on over the rails left:
 *   - the rail leaves the comm (no more striping, CTS or small messages on
 *     it; its CQ is no longer polled: only flushes would come);
 *   - send side: every slot still owed by that rail has its share re-sent
 *     on a survivor (spark_resend_share), closed by an IMM that names the
 *     same share, so the receiver counts it once;
 *   - receive side: every posted receive whose CTS went over that rail has
 *     its CTS written again over a survivor (the same bytes: harmless if the
 *     first copy had landed).
 * Any other error, or the last rail failing, fails the comm as before.
 * Known window: a share that landed but whose ACK was lost is written twice
 * with the same bytes; harmful only if the receiver already reused the
 * buffer within that one round trip. */
#include <infiniband/verbs.h>

#include "comm.h"
#include "log.h"

static void leave(struct spark_comm *c, uint32_t r)
{
	c->failed_mask |= 1u << r;
	c->up_mask &= ~(1u << r);
	c->rail[r].up = false;
	c->weights.weight[r] = 0;
	c->weights.link_mbps[r] = 0;
	if (c->small_rail == r)
		c->small_rail = (uint32_t)__builtin_ctz(c->up_mask);
}

static void move_sends(struct spark_comm *c, uint32_t r)
{
	for (uint32_t i = 0; i < SPARK_SLOTS && c->failed == ncclSuccess; i++) {
		struct spark_send_slot *s = &c->slots[i];
		if (s->state == SLOT_POSTED && (s->rails_pending & (1u << r)) &&
		    !(s->moved & (1u << r)))
			spark_resend_share(c, s, r);
	}
}

static void move_cts(struct spark_comm *c, uint32_t r)
{
	for (uint32_t i = 0; i < SPARK_SLOTS && c->failed == ncclSuccess; i++) {
		const struct spark_recv_req *req = &c->rreqs[i];
		if (req->state == RREQ_POSTED && req->cts_rail == r &&
		    spark_post_cts(c, i, spark_cts_rail(c, req->seq)) != ncclSuccess)
			c->failed = ncclRemoteError;
	}
}

bool spark_rail_failover(struct spark_comm *c, uint32_t r, int wc_status)
{
	if (c->failed_mask & (1u << r))
		return true;   /* flushes after the failure already handled */
	if (wc_status != IBV_WC_RETRY_EXC_ERR || (c->up_mask & ~(1u << r)) == 0 ||
	    c->failed != ncclSuccess)
		return false;
	leave(c, r);
	uint32_t to = (uint32_t)__builtin_ctz(c->up_mask);
	SPARK_WARN("dev %d: rail %s failed (%s); %s comm carries on over %s", c->dev,
		   c->rail[r].hca.name, ibv_wc_status_str((enum ibv_wc_status)wc_status),
		   c->kind == SPARK_COMM_SEND ? "send" : "recv", c->rail[to].hca.name);
	if (c->kind == SPARK_COMM_SEND)
		move_sends(c, r);
	else
		move_cts(c, r);
	return true;
}
