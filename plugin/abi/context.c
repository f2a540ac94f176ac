/* Per-communicator contexts of ABI v11+. NCCL ≥ 2.28 calls init once per
 * communicator, keeps the context we return and hands it back to listen,
 * connect, setNetAttr and finally finalize. The devices and the data path are
 * library-wide (init.c); a context records what NCCL told us about its
 * communicator and makes the lifetime visible: every context is registered,
 * so a stale or foreign pointer is refused instead of dereferenced. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "api.h"
#include "log.h"

struct spark_ctx {
	uint64_t comm_id;
	int traffic_class;             /* SPARK_TRAFFIC_CLASS_UNDEF or 0..255 */
	bool has_attr;
	struct spark_net_attr attr;    /* the latest setNetAttr hints */
	struct spark_ctx *next;
};

struct spark_ctx_registry {
	pthread_mutex_t lock;
	struct spark_ctx *live;
	int count;
};

static struct spark_ctx_registry registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* With registry.lock held: the link that points at ctx, or NULL. */
static struct spark_ctx **find_locked(const void *ctx)
{
	for (struct spark_ctx **at = &registry.live; *at != NULL; at = &(*at)->next)
		if (*at == ctx)
			return at;
	return NULL;
}

ncclResult_t spark_ctx_init(void **ctx, uint64_t comm_id, int traffic_class,
			    ncclDebugLogger_t logger)
{
	if (ctx == NULL) {
		spark_log_set_logger(logger);
		SPARK_WARN("init: NULL context pointer");
		return ncclInternalError;
	}
	*ctx = NULL;
	SPARK_TRY(spark_init(logger));
	struct spark_ctx *c = calloc(1, sizeof *c);
	if (c == NULL) {
		SPARK_WARN("init: out of memory for a communicator context");
		return ncclSystemError;
	}
	c->comm_id = comm_id;
	c->traffic_class = traffic_class;
	pthread_mutex_lock(&registry.lock);
	c->next = registry.live;
	registry.live = c;
	int live = ++registry.count;
	pthread_mutex_unlock(&registry.lock);
	SPARK_INFO(NCCL_INIT | NCCL_NET, "comm %016" PRIx64 ": context opened (%d live)", comm_id,
		   live);
	const struct spark_params *params = spark_params();
	if (traffic_class != SPARK_TRAFFIC_CLASS_UNDEF && params != NULL &&
	    traffic_class != params->ib_tc)
		SPARK_INFO(NCCL_INIT | NCCL_NET, "comm %016" PRIx64 " asks for traffic class %d; "
			   "every comm uses NCCL_SPARK_IB_TC=%d", comm_id, traffic_class,
			   params->ib_tc);
	*ctx = c;
	return ncclSuccess;
}

ncclResult_t spark_ctx_finalize(void *ctx)
{
	if (ctx == NULL)
		return ncclSuccess;
	pthread_mutex_lock(&registry.lock);
	struct spark_ctx **at = find_locked(ctx);
	struct spark_ctx *c = at != NULL ? *at : NULL;
	if (c != NULL) {
		*at = c->next;
		registry.count--;
	}
	int live = registry.count;
	pthread_mutex_unlock(&registry.lock);
	if (c == NULL) {
		SPARK_WARN("finalize: %p is no live context (finalized twice?): ignored", ctx);
		return ncclInternalError;
	}
	SPARK_INFO(NCCL_INIT | NCCL_NET, "comm %016" PRIx64 ": context closed (%d live)",
		   c->comm_id, live);
	free(c);
	return ncclSuccess;
}

ncclResult_t spark_ctx_check(void *ctx, const char *caller)
{
	if (ctx == NULL)
		return ncclSuccess;    /* the data path needs no context */
	pthread_mutex_lock(&registry.lock);
	bool live = find_locked(ctx) != NULL;
	pthread_mutex_unlock(&registry.lock);
	if (!live) {
		SPARK_WARN("%s: %p is no live context (used after finalize?)", caller, ctx);
		return ncclInternalError;
	}
	return ncclSuccess;
}

ncclResult_t spark_ctx_set_attr(void *ctx, const struct spark_net_attr *attr)
{
	if (attr == NULL) {
		SPARK_WARN("setNetAttr: NULL attributes");
		return ncclInternalError;
	}
	if (ctx == NULL)
		return ncclSuccess;
	pthread_mutex_lock(&registry.lock);
	struct spark_ctx **at = find_locked(ctx);
	if (at != NULL) {
		(*at)->attr = *attr;
		(*at)->has_attr = true;
	}
	pthread_mutex_unlock(&registry.lock);
	if (at == NULL) {
		SPARK_WARN("setNetAttr: %p is no live context (used after finalize?)", ctx);
		return ncclInternalError;
	}
	/* Hints only: the data path spreads every message over both halves
	 * whatever the number of peers or flows NCCL expects. */
	SPARK_TRACE(NCCL_NET, "setNetAttr op %u algo %u proto %u", attr->op, attr->algo,
		    attr->proto);
	return ncclSuccess;
}

int spark_ctx_count(void)
{
	pthread_mutex_lock(&registry.lock);
	int n = registry.count;
	pthread_mutex_unlock(&registry.lock);
	return n;
}
