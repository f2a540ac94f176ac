/* Memory registration: one handle registers the region on every rail's PD
 * (one MR per rail), because each rail is its own HCA with its own keys. */
#include <infiniband/verbs.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "comm.h"
#include "log.h"

static void dereg_all(struct spark_mr_handle *h)
{
	for (int r = 0; r < SPARK_MAX_RAILS; r++)
		if (h->mr[r] != NULL && ibv_dereg_mr(h->mr[r]) != 0)
			SPARK_WARN("deregMr: ibv_dereg_mr on rail %d failed", r);
}

ncclResult_t spark_reg_mr(void *comm, void *data, size_t size, int type, void **mhandle)
{
	struct spark_comm *c = comm;
	*mhandle = NULL;
	SPARK_NOT_NULL(c, "comm");
	if (type != NCCL_PTR_HOST) {
		SPARK_WARN("regMr: pointer type %d not supported (host memory only: GB10 has "
			   "no GPUDirect RDMA)", type);
		return ncclInvalidArgument;
	}
	struct spark_mr_handle *h = calloc(1, sizeof *h);
	if (h == NULL)
		return ncclSystemError;
	h->comm = c;
	/* Data buffers may take relaxed ordering: their visibility is ordered
	 * by the completion, never by reading the buffer itself. */
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
		     IBV_ACCESS_RELAXED_ORDERING;
	for (uint32_t r = 0; r < c->nrails; r++) {
		if (c->rail[r].pd == NULL)
			continue;
		h->mr[r] = ibv_reg_mr(c->rail[r].pd, data, size, access);
		if (h->mr[r] == NULL) {
			int err = errno;
			dereg_all(h);
			free(h);
			SPARK_WARN("regMr: %zu bytes at %p on rail %s failed: %s", size, data,
				   c->rail[r].hca.name, strerror(err));
			return spark_result_from_errno(err);
		}
	}
	__atomic_add_fetch(&c->live_mrs, 1, __ATOMIC_RELAXED);
	*mhandle = h;
	return ncclSuccess;
}

ncclResult_t spark_reg_mr_dmabuf(void *comm, void *data, size_t size, int type,
				 uint64_t offset, int fd, void **mhandle)
{
	(void)comm; (void)data; (void)size; (void)offset; (void)fd;
	*mhandle = NULL;
	/* ptrSupport never advertises NCCL_PTR_DMABUF, so NCCL does not call this. */
	SPARK_WARN("regMrDmaBuf: dma-buf not supported (type %d); the device advertises host "
		   "memory only", type);
	return ncclInvalidUsage;
}

ncclResult_t spark_dereg_mr(void *comm, void *mhandle)
{
	struct spark_mr_handle *h = mhandle;
	(void)comm;
	if (h == NULL)
		return ncclSuccess;
	dereg_all(h);
	__atomic_sub_fetch(&h->comm->live_mrs, 1, __ATOMIC_RELAXED);
	free(h);
	return ncclSuccess;
}
