/* The library-wide state the ABI forces on us (NCCL's init takes no context)
 * and the discovery-side entry points. All of it is static storage: nothing
 * is allocated, opened or started that would outlive a dlclose. */
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "scan.h"
#include "log.h"

extern char **environ;

struct spark_state {
	pthread_mutex_t lock;          /* serialises init */
	bool ready;                    /* published with release once devs are final */
	struct spark_params params;
	struct spark_hca hcas[SPARK_MAX_HCAS];
	int nhcas;
	struct spark_ldev devs[SPARK_MAX_DEVS];
	int ndevs;
};

static struct spark_state state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool is_ready(void)
{
	return __atomic_load_n(&state.ready, __ATOMIC_ACQUIRE);
}

static void log_devices(void)
{
	char line[1024];
	for (int d = 0; d < state.ndevs; d++) {
		spark_ldev_describe(&state.devs[d], state.hcas, line, sizeof line);
		SPARK_INFO(NCCL_INIT | NCCL_NET, "dev %d %s", d, line);
		spark_ldev_check(&state.devs[d], state.hcas);
	}
}

/* NCCL's processes fork (PyTorch's DataLoader workers, subprocess and
 * torch.multiprocessing): on a kernel without copy-on-fork for pinned pages,
 * a write in either process after fork() can move a registered page away
 * from under the NIC, and the parent's transfers silently land in the child's
 * copy. ibv_fork_init makes rdma-core mark every registration MADV_DONTFORK;
 * it must run before the process's first registration (after one, rdma-core
 * refuses it with EINVAL), which is why it is here and not in regMr. Where the
 * kernel copies pinned pages on fork (>= 5.13), it is a no-op. A failure is
 * not fatal (NCCL's own IB transport carries on too), only unsafe to fork. */
static void fork_safety(void)
{
	int rc = ibv_fork_init();
	if (rc != 0)
		SPARK_WARN("ibv_fork_init failed (%s): memory registered before the plugin's init "
			   "is not protected from fork(); set RDMAV_FORK_SAFE=1 in the environment "
			   "of the process (before it starts) if it forks", strerror(rc));
	else
		SPARK_INFO(NCCL_INIT, "fork safety: %s",
			   ibv_is_fork_initialized() == IBV_FORK_UNNEEDED ? "not needed (kernel copies "
			   "pinned pages on fork)" : "ibv_fork_init done");
}

static ncclResult_t init_locked(void)
{
	fork_safety();
	spark_params_load(&state.params, (const char *const *)environ);
	spark_params_log(&state.params);
	SPARK_TRY(spark_discover(&state.params, state.hcas, SPARK_MAX_HCAS, &state.nhcas));
	state.ndevs = spark_build_devices(state.hcas, state.nhcas, &state.params, state.devs,
					  SPARK_MAX_DEVS);
	if (state.ndevs == 0) {
		/* NCCL (initNet) itself reports "no device" as ncclSystemError, disables
		 * this plugin and falls back to its IB and Socket transports. */
		SPARK_WARN("no usable RoCE HCA (%d found; need an ACTIVE Ethernet port with a "
			   "RoCE v2 IPv4 GID): NCCL will use another transport", state.nhcas);
		return ncclSystemError;
	}
	log_devices();
	__atomic_store_n(&state.ready, true, __ATOMIC_RELEASE);
	return ncclSuccess;
}

ncclResult_t spark_init(ncclDebugLogger_t logger)
{
	spark_log_set_logger(logger);
	pthread_mutex_lock(&state.lock);
	/* Idempotent: a second init (NCCL ≥ 2.28 may re-init after a reload,
	 * tools call it twice) keeps the devices the data path already uses. A
	 * failed init is retried: cables may have come up since. */
	ncclResult_t res = is_ready() ? ncclSuccess : init_locked();
	pthread_mutex_unlock(&state.lock);
	return res;
}

ncclResult_t spark_devices(int *ndev)
{
	if (!is_ready()) {
		SPARK_WARN("devices() called before a successful init()");
		return ncclInternalError;
	}
	*ndev = state.ndevs;
	return ncclSuccess;
}

ncclResult_t spark_get_properties(int dev, struct spark_props *out)
{
	const struct spark_ldev *d = spark_device(dev);
	if (d == NULL) {
		SPARK_WARN("getProperties: no device %d (have %d)", dev, is_ready() ? state.ndevs : 0);
		return ncclInternalError;
	}
	spark_props_from_ldev(d, out);
	return ncclSuccess;
}

const struct spark_ldev *spark_device(int dev)
{
	if (!is_ready() || dev < 0 || dev >= state.ndevs)
		return NULL;
	return &state.devs[dev];
}

const struct spark_hca *spark_device_rail(int dev, int rail)
{
	const struct spark_ldev *d = spark_device(dev);
	if (d == NULL || rail < 0 || rail >= d->nrails)
		return NULL;
	return &state.hcas[d->rail[rail]];
}

const struct spark_params *spark_params(void)
{
	return is_ready() ? &state.params : NULL;
}
