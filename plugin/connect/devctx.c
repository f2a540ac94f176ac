/* The per-HCA registry: one ibv_context and PD per HCA per process, counted
 * by the comm rails and cached MRs that use them (devctx.h). */
#include "devctx.h"

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
