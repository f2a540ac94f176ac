/* The exported ncclNetPlugin_v11 table (NCCL 2.28, 2.29): init once per
 * communicator, returning a context (context.c) that listen and connect
 * take and finalize ends; setNetAttr hints; one request per irecv
 * (maxMultiRequestSize 1). */
#include "adapt.h"
#include "nccl/net_v11.h"

static ncclResult_t v11_init(void **ctx, uint64_t comm_id, ncclNetCommConfig_v11_t *config,
			     ncclDebugLogger_t logger, ncclProfilerCallback_t profiler)
{
	(void)profiler;    /* no profiler events */
	int tc = spark_abi_traffic_class(config != NULL ? &config->trafficClass : NULL);
	return spark_ctx_init(ctx, comm_id, tc, logger);
}

static ncclResult_t v11_get_properties(int dev, ncclNetProperties_v11_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_V9(props, p, dev);
	props->maxMultiRequestSize = 1;
	return ncclSuccess;
}

static ncclResult_t v11_listen(void *ctx, int dev, void *handle, void **listen_comm)
{
	*listen_comm = NULL;
	SPARK_TRY(spark_ctx_check(ctx, "listen"));
	return spark_listen(dev, handle, listen_comm);
}

static ncclResult_t v11_connect(void *ctx, int dev, void *handle, void **send_comm,
				ncclNetDeviceHandle_v11_t **send_dev_comm)
{
	*send_comm = NULL;
	spark_abi_no_dev_comm(send_dev_comm);
	SPARK_TRY(spark_ctx_check(ctx, "connect"));
	return spark_connect(dev, handle, send_comm);
}

static ncclResult_t v11_accept(void *listen_comm, void **recv_comm,
			       ncclNetDeviceHandle_v11_t **recv_dev_comm)
{
	spark_abi_no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

static ncclResult_t v11_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			      void *phandle, void **request)
{
	(void)phandle;
	return spark_isend(send_comm, data, size, tag, mhandle, request);
}

static ncclResult_t v11_irecv(void *recv_comm, int n, void **data, size_t *sizes, int *tags,
			      void **mhandles, void **phandles, void **request)
{
	(void)phandles;
	return spark_abi_irecv_wide(recv_comm, n, data, sizes, tags, mhandles, request);
}

static ncclResult_t v11_set_net_attr(void *ctx, ncclNetAttr_v11_t *a)
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

SPARK_EXPORT const ncclNet_v11_t ncclNetPlugin_v11 = {
	.name = SPARK_NET_NAME,
	.init = v11_init,
	.devices = spark_devices,
	.getProperties = v11_get_properties,
	.listen = v11_listen,
	.connect = v11_connect,
	.accept = v11_accept,
	.regMr = spark_reg_mr,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = v11_isend,
	.irecv = v11_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,
	.irecvConsumed = NULL,
	.makeVDevice = NULL,
	.finalize = spark_ctx_finalize,
	.setNetAttr = v11_set_net_attr,
};
