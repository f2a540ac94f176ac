/* Port watch, failover on port events, failback (failback.h). */
#include <errno.h>
#include <infiniband/verbs.h>
#include <string.h>

#include "devctx.h"
#include "engine.h"
#include "failback.h"
#include "log.h"

#define CAUSE_PORT_DOWN "its port went down (cable unplugged, PCIe link down or the peer's " \
			"NIC reset)"
#define CAUSE_GID "its GID changed (the interface's address was removed or replaced)"

void spark_rail_watch_start(struct spark_rail *r)
{
	union ibv_gid gid;
	memset(r->gid, 0, sizeof r->gid);
	if (ibv_query_gid(r->ctx, (uint8_t)r->hca.port, r->hca.gid.index, &gid) == 0)
		memcpy(r->gid, gid.raw, sizeof r->gid);
	spark_devctx_poll_events(r->dc);
	struct spark_port_state st;
	spark_devctx_port(r->dc, r->hca.port, &st);
	r->port_gen_seen = st.gen;
	r->port_errs_seen = st.errs;
	r->lost_cause = NULL;
}

static bool gid_moved(const struct spark_rail *r)
{
	union ibv_gid gid;
	if (ibv_query_gid(r->ctx, (uint8_t)r->hca.port, r->hca.gid.index, &gid) != 0)
		return true;
	return memcmp(gid.raw, r->gid, sizeof r->gid) != 0;
}

/* A rail in use whose port said something: a PORT_ERR since the QP was
 * connected (even if ACTIVE again: packets were lost, the flap may have
 * outlasted the QP's retries) fails it over now; so does a GID that moved. */
static void check_up_rail(struct spark_comm *c, uint32_t r, const struct spark_port_state *st)
{
	struct spark_rail *rail = &c->rail[r];
	const char *cause = NULL;
	if (!st->up || st->errs != rail->port_errs_seen)
		cause = CAUSE_PORT_DOWN;
	else if (gid_moved(rail))
		cause = CAUSE_GID;
	if (cause == NULL)
		return;
	if (spark_rail_fail(c, r, cause) && c->ops->progress != NULL)
		c->ops->progress(c);   /* slots that waited for room may go now */
}

void spark_port_tick(struct spark_comm *c)
{
	uint64_t now = spark_now_ns();
	if (now < c->next_port_ns || c->failed != ncclSuccess)
		return;
	c->next_port_ns = now + SPARK_PORT_CHECK_NS;
	uint32_t kept = c->up_mask | c->failed_mask;
	for (uint32_t r = 0; r < c->nrails && c->failed == ncclSuccess; r++) {
		struct spark_rail *rail = &c->rail[r];
		if (!(kept & (1u << r)) || rail->dc == NULL)
			continue;
		spark_devctx_poll_events(rail->dc);
		struct spark_port_state st;
		spark_devctx_port(rail->dc, rail->hca.port, &st);
		if (st.gen == rail->port_gen_seen)
			continue;
		rail->port_gen_seen = st.gen;
		if (c->up_mask & (1u << r))
			check_up_rail(c, r, &st);
	}
}
