/* The entry points that the v11 and v12 tables share (net_v11.c, net_v12.c):
 * NCCL 2.28+ calls init once per communicator and gets a context
 * (context.c) that listen and connect take and finalize ends; setNetAttr
 * passes hints; isend/irecv take profiler handles, which we ignore. v12 kept
 * every argument type of v11, so one adapter serves both. */
#include "adapt.h"
#include "net_ctx.h"

ncclResult_t spark_ctxnet_init(void **ctx, uint64_t comm_id, ncclNetCommConfig_v11_t *config,
			       ncclDebugLogger_t logger, ncclProfilerCallback_t profiler)
{
	(void)profiler;    /* no profiler events */
	int tc = spark_abi_traffic_class(config != NULL ? &config->trafficClass : NULL);
	return spark_ctx_init(ctx, comm_id, tc, logger);
}

ncclResult_t spark_ctxnet_listen(void *ctx, int dev, void *handle, void **listen_comm)
{
	*listen_comm = NULL;
	SPARK_TRY(spark_ctx_check(ctx, "listen"));
	return spark_listen(dev, handle, listen_comm);
}

ncclResult_t spark_ctxnet_connect(void *ctx, int dev, void *handle, void **send_comm,
				  ncclNetDeviceHandle_v11_t **send_dev_comm)
{
	*send_comm = NULL;
	spark_abi_no_dev_comm(send_dev_comm);
	SPARK_TRY(spark_ctx_check(ctx, "connect"));
	return spark_connect(dev, handle, send_comm);
}

ncclResult_t spark_ctxnet_accept(void *listen_comm, void **recv_comm,
			         ncclNetDeviceHandle_v11_t **recv_dev_comm)
{
	spark_abi_no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

ncclResult_t spark_ctxnet_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			        void *phandle, void **request)
{
	(void)phandle;
	return spark_isend(send_comm, data, size, tag, mhandle, request);
}

ncclResult_t spark_ctxnet_irecv(void *recv_comm, int n, void **data, size_t *sizes, int *tags,
			        void **mhandles, void **phandles, void **request)
{
	(void)phandles;
	return spark_abi_irecv_wide(recv_comm, n, data, sizes, tags, mhandles, request);
}

ncclResult_t spark_ctxnet_set_net_attr(void *ctx, ncclNetAttr_v11_t *a)
{
	if (a == NULL)
		return spark_ctx_set_attr(ctx, NULL);
	const struct spark_net_attr attr = {
		.send = {a->sendCommAttr.maxConcurrentPeers, a->sendCommAttr.minConcurrentPeers,
			 a->sendCommAttr.maxFlowsPerPeer, a->sendCommAttr.minFlowsPerPeer},
		.recv = {a->recvCommAttr.maxConcurrentPeers, a->recvCommAttr.minConcurrentPeers,
			 a->recvCommAttr.maxFlowsPerPeer, a->recvCommAttr.minFlowsPerPeer},
		.op = a->op, .algo = a->algo, .proto = a->proto,
	};
	return spark_ctx_set_attr(ctx, &attr);
}
