/* The v11+ adapters shared by the v11 and v12 tables (net_ctx.c). */
#ifndef SPARK_NET_CTX_H
#define SPARK_NET_CTX_H

#include "nccl/net_v11.h"

ncclResult_t spark_ctxnet_init(void **ctx, uint64_t comm_id, ncclNetCommConfig_v11_t *config,
			       ncclDebugLogger_t logger, ncclProfilerCallback_t profiler);
ncclResult_t spark_ctxnet_listen(void *ctx, int dev, void *handle, void **listen_comm);
ncclResult_t spark_ctxnet_connect(void *ctx, int dev, void *handle, void **send_comm,
				  ncclNetDeviceHandle_v11_t **send_dev_comm);
ncclResult_t spark_ctxnet_accept(void *listen_comm, void **recv_comm,
			         ncclNetDeviceHandle_v11_t **recv_dev_comm);
ncclResult_t spark_ctxnet_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			        void *phandle, void **request);
ncclResult_t spark_ctxnet_irecv(void *recv_comm, int n, void **data, size_t *sizes, int *tags,
			        void **mhandles, void **phandles, void **request);
ncclResult_t spark_ctxnet_set_net_attr(void *ctx, ncclNetAttr_v11_t *a);

#endif
