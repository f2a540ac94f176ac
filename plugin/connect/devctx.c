/* The per-HCA registry: one ibv_context and PD per HCA per process, counted
 * by the comm rails and cached MRs that use them (devctx.h). */
#include "devctx.h"

#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The ABI gives no context to hang this on: every comm of every NCCL
 * communicator in the process shares one list. */
static struct {
	pthread_mutex_t lock;
	struct spark_devctx *head;
} registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

void spark_devctx_lock(void) { pthread_mutex_lock(&registry.lock); }
void spark_devctx_unlock(void) { pthread_mutex_unlock(&registry.lock); }

static ncclResult_t open_by_name(const char *name, struct ibv_context **out)
{
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	if (list == NULL)
		return spark_check_failed("ibv_get_device_list", errno, __FILE__, __LINE__);
	*out = NULL;
	bool listed = false;
	for (int i = 0; i < n && !listed; i++)
		if (strcmp(ibv_get_device_name(list[i]), name) == 0) {
			listed = true;
			*out = ibv_open_device(list[i]);
		}
	int saved = errno;
	ibv_free_device_list(list);
	if (!listed) {
		SPARK_WARN("HCA %s: no longer listed by libibverbs (driver unloaded or device "
			   "removed since init?): check ibv_devices", name);
		return ncclSystemError;
	}
	if (*out == NULL) {
		SPARK_WARN("HCA %s: ibv_open_device failed (%s): check that /dev/infiniband is "
			   "accessible (a container needs --device /dev/infiniband)", name,
			   strerror(saved));
		return ncclSystemError;
	}
	return ncclSuccess;
}

static void destroy(struct spark_devctx *d)
{
	if (d->pd != NULL && ibv_dealloc_pd(d->pd) != 0)
		SPARK_WARN("HCA %s: ibv_dealloc_pd failed (a QP or MR still uses it)", d->name);
	if (d->ctx != NULL && ibv_close_device(d->ctx) != 0)
		SPARK_WARN("HCA %s: ibv_close_device failed", d->name);
	free(d);
}

static void unlink_and_destroy(struct spark_devctx *d)
{
	for (struct spark_devctx **pp = &registry.head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	destroy(d);
}

static void maybe_close_locked(struct spark_devctx *d)
{
	if (d->comms == 0 && d->mrs == 0)
		unlink_and_destroy(d);
}

/* The async fd non-blocking, so a drain never waits; and the ports' state
 * now, so an event that came before this open is not missed. Without a
 * non-blocking fd the events are not read at all (failover then waits for
 * the transport's retries, as before). */
static void events_init(struct spark_devctx *d)
{
	int fl = fcntl(d->ctx->async_fd, F_GETFL);
	d->events = fl >= 0 && fcntl(d->ctx->async_fd, F_SETFL, fl | O_NONBLOCK) == 0;
	if (!d->events)
		SPARK_WARN("HCA %s: cannot make its async event fd non-blocking (%s): port "
			   "failures are noticed only after the transport's retries", d->name,
			   strerror(errno));
	for (int p = 0; p < SPARK_DEVCTX_PORTS; p++) {
		struct ibv_port_attr a;
		memset(&a, 0, sizeof a);
		bool down = ibv_query_port(d->ctx, (uint8_t)(p + 1), &a) == 0 &&
			    a.state != IBV_PORT_ACTIVE;
		atomic_init(&d->port_down[p], down);
		atomic_init(&d->port_gen[p], 0);
		atomic_init(&d->port_errs[p], 0);
	}
	atomic_init(&d->draining, false);
}

static ncclResult_t create_locked(const char *hca_name, struct spark_devctx **out)
{
	struct spark_devctx *d = calloc(1, sizeof *d);
	if (d == NULL)
		return ncclSystemError;
	snprintf(d->name, sizeof d->name, "%s", hca_name);
	ncclResult_t res = open_by_name(hca_name, &d->ctx);
	if (res == ncclSuccess) {
		d->pd = ibv_alloc_pd(d->ctx);
		if (d->pd == NULL)
			res = spark_check_failed("ibv_alloc_pd", errno, __FILE__, __LINE__);
	}
	if (res != ncclSuccess) {
		destroy(d);
		return res;
	}
	events_init(d);
	d->next = registry.head;
	registry.head = d;
	*out = d;
	return ncclSuccess;
}

ncclResult_t spark_devctx_acquire(const char *hca_name, struct spark_devctx **out)
{
	*out = NULL;
	spark_devctx_lock();
	struct spark_devctx *d = registry.head;
	while (d != NULL && strcmp(d->name, hca_name) != 0)
		d = d->next;
	ncclResult_t res = d != NULL ? ncclSuccess : create_locked(hca_name, &d);
	if (res == ncclSuccess) {
		d->comms++;
		*out = d;
	}
	spark_devctx_unlock();
	return res;
}

void spark_devctx_release(struct spark_devctx *d)
{
	if (d == NULL)
		return;
	spark_devctx_lock();
	d->comms--;
	maybe_close_locked(d);
	spark_devctx_unlock();
}

/* One event into the port atomics. The state is stored before the
 * generation (release), so a reader that sees the new generation (acquire)
 * sees the state that came with it. */
static void record_port(struct spark_devctx *d, int port, int down, bool err)
{
	if (port < 1 || port > SPARK_DEVCTX_PORTS)
		return;
	if (down >= 0)
		atomic_store_explicit(&d->port_down[port - 1], (uint32_t)down,
				      memory_order_relaxed);
	if (err)
		atomic_fetch_add_explicit(&d->port_errs[port - 1], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->port_gen[port - 1], 1, memory_order_release);
}

static void record(struct spark_devctx *d, const struct ibv_async_event *ev)
{
	int port = ev->element.port_num;
	switch (ev->event_type) {
	case IBV_EVENT_PORT_ERR:
		SPARK_INFO(NCCL_NET, "HCA %s port %d: port error event (link down)", d->name, port);
		record_port(d, port, 1, true);
		break;
	case IBV_EVENT_PORT_ACTIVE:
		SPARK_INFO(NCCL_NET, "HCA %s port %d: port active event", d->name, port);
		record_port(d, port, 0, false);
		break;
	case IBV_EVENT_GID_CHANGE:
	case IBV_EVENT_LID_CHANGE:
	case IBV_EVENT_PKEY_CHANGE:
	case IBV_EVENT_CLIENT_REREGISTER:
		SPARK_INFO(NCCL_NET, "HCA %s port %d: %s", d->name, port,
			   ibv_event_type_str(ev->event_type));
		record_port(d, port, -1, false);
		break;
	case IBV_EVENT_DEVICE_FATAL:
		SPARK_WARN("HCA %s: device fatal error (firmware or PCIe failure): its rails "
			   "fail over; the HCA needs a driver reset (mlxfwreset, or a reboot)",
			   d->name);
		for (int p = 1; p <= SPARK_DEVCTX_PORTS; p++)
			record_port(d, p, 1, true);
		break;
	default:
		/* QP/CQ/SRQ events: the failing WR's completion says more, with
		 * the comm it belongs to (engine.c). */
		SPARK_INFO(NCCL_NET, "HCA %s: async event %s", d->name,
			   ibv_event_type_str(ev->event_type));
		break;
	}
}

void spark_devctx_poll_events(struct spark_devctx *d)
{
	if (d == NULL || !d->events ||
	    atomic_exchange_explicit(&d->draining, true, memory_order_acquire))
		return;
	/* Bounded: a flood of events cannot hold the data path. Every event
	 * got is acked (rdma-core's destroy of a QP or CQ waits for that). */
	struct ibv_async_event ev;
	for (int i = 0; i < 64 && ibv_get_async_event(d->ctx, &ev) == 0; i++) {
		record(d, &ev);
		ibv_ack_async_event(&ev);
	}
	atomic_store_explicit(&d->draining, false, memory_order_release);
}

void spark_devctx_port(struct spark_devctx *d, int port, struct spark_port_state *out)
{
	*out = (struct spark_port_state){0, 0, true};
	if (d == NULL || port < 1 || port > SPARK_DEVCTX_PORTS)
		return;
	out->gen = atomic_load_explicit(&d->port_gen[port - 1], memory_order_acquire);
	out->errs = atomic_load_explicit(&d->port_errs[port - 1], memory_order_relaxed);
	out->up = atomic_load_explicit(&d->port_down[port - 1], memory_order_relaxed) == 0;
}

void spark_devctx_mr_added_locked(struct spark_devctx *d) { d->mrs++; }

void spark_devctx_mr_removed_locked(struct spark_devctx *d)
{
	d->mrs--;
	maybe_close_locked(d);
}

/* dlclose or exit: registrations NCCL never deregistered would keep their
 * HCA open (and their memory pinned) forever. Only those on HCAs without a
 * comm are released: a comm still open may belong to a running thread. */
__attribute__((destructor)) static void devctx_unload(void)
{
	spark_devctx_lock();
	int n = spark_mr_release_orphans_locked();
	spark_devctx_unlock();
	if (n > 0)
		SPARK_WARN("%d memory registrations never deregistered (deregMr); released at "
			   "unload", n);
}
