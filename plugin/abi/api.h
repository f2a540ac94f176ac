/* The plugin's version-neutral entry points. Each ABI adapter (net_v7.c ...
 * net_v12.c, one file per exported table) converts its arguments and calls
 * these. Sizes are size_t, as in the newer ABIs, so adapters only narrow. */
#ifndef SPARK_API_H
#define SPARK_API_H

#include <stddef.h>
#include <stdint.h>

#include "hca.h"
#include "nccl/net.h"
#include "pairing.h"
#include "param.h"
#include "props.h"

/* Discovery and properties (init.c). */
ncclResult_t spark_init(ncclDebugLogger_t logger);
ncclResult_t spark_devices(int *ndev);
ncclResult_t spark_get_properties(int dev, struct spark_props *out);

/* What the data path reads about a device; valid after a successful init
 * and unchanged until the library is unloaded. NULL for a bad index. */
const struct spark_ldev *spark_device(int dev);
const struct spark_hca *spark_device_rail(int dev, int rail);
const struct spark_params *spark_params(void);

/* Per-communicator contexts (context.c): ABI v11+ calls init once per
 * communicator and gets a context back, passes it to listen/connect and ends
 * it with finalize. The library state behind them is shared (init.c); a
 * context only carries what NCCL told us about its communicator. */
struct spark_comm_attr {
	int32_t max_concurrent_peers, min_concurrent_peers;
	int32_t max_flows_per_peer, min_flows_per_peer;
};
struct spark_net_attr {
	struct spark_comm_attr send, recv;
	uint32_t op, algo, proto;    /* NCCL's current collective, as hints */
};
#define SPARK_TRAFFIC_CLASS_UNDEF (-1)

/* Runs spark_init, then makes a context; *ctx is NULL on failure. */
ncclResult_t spark_ctx_init(void **ctx, uint64_t comm_id, int traffic_class,
			    ncclDebugLogger_t logger);
/* NULL is accepted (NCCL finalizes after a failed init); an unknown or
 * already finalized context is refused with a WARN, never dereferenced. */
ncclResult_t spark_ctx_finalize(void *ctx);
/* listen/connect: ctx NULL or live. */
ncclResult_t spark_ctx_check(void *ctx, const char *caller);
ncclResult_t spark_ctx_set_attr(void *ctx, const struct spark_net_attr *attr);
/* Live contexts (tests and the lifetime log). */
int spark_ctx_count(void);

/* Data path (connect.c, mr.c, p2p.c). */
ncclResult_t spark_listen(int dev, void *handle, void **listen_comm);
ncclResult_t spark_connect(int dev, void *handle, void **send_comm);
ncclResult_t spark_accept(void *listen_comm, void **recv_comm);
ncclResult_t spark_reg_mr(void *comm, void *data, size_t size, int type, void **mhandle);
ncclResult_t spark_reg_mr_dmabuf(void *comm, void *data, size_t size, int type,
				 uint64_t offset, int fd, void **mhandle);
ncclResult_t spark_dereg_mr(void *comm, void *mhandle);
ncclResult_t spark_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			 void **request);
/* n ≤ SPARK_MAX_RECVS, checked by the adapter. */
ncclResult_t spark_irecv(void *recv_comm, int n, void **data, const size_t *sizes,
			 const int *tags, void **mhandles, void **request);
ncclResult_t spark_iflush(void *recv_comm, int n, void **data, int *sizes,
			  void **mhandles, void **request);
ncclResult_t spark_test(void *request, int *done, int *sizes);
ncclResult_t spark_close_send(void *send_comm);
ncclResult_t spark_close_recv(void *recv_comm);
ncclResult_t spark_close_listen(void *listen_comm);

#endif
