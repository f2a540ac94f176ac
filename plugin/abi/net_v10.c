/* The exported ncclNetPlugin_v10 table (NCCL 2.26, 2.27): v9 plus a
 * profiler callback at init, a per-connection config and per-request
 * profiler handles. We emit no profiler events: the callback is never
 * called and the handles are never dereferenced. */
#include "adapt.h"
#include "nccl/net_v10.h"

static ncclResult_t v10_init(ncclDebugLogger_t logger, ncclProfilerCallback_t profiler)
{
	(void)profiler;
	return spark_init(logger);
}

static ncclResult_t v10_get_properties(int dev, ncclNetProperties_v10_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_V9(props, p, dev);
	return ncclSuccess;
}

static ncclResult_t v10_connect(int dev, ncclNetCommConfig_v10_t *config, void *handle,
				void **send_comm, ncclNetDeviceHandle_v10_t **send_dev_comm)
{
	spark_abi_no_dev_comm(send_dev_comm);
	/* Validated and logged; the data path uses NCCL_SPARK_IB_TC throughout. */
	(void)spark_abi_traffic_class(config != NULL ? &config->trafficClass : NULL);
	return spark_connect(dev, handle, send_comm);
}

static ncclResult_t v10_accept(void *listen_comm, void **recv_comm,
			       ncclNetDeviceHandle_v10_t **recv_dev_comm)
{
	spark_abi_no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

static ncclResult_t v10_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			      void *phandle, void **request)
{
	(void)phandle;
	return spark_isend(send_comm, data, size, tag, mhandle, request);
}

static ncclResult_t v10_irecv(void *recv_comm, int n, void **data, size_t *sizes, int *tags,
			      void **mhandles, void **phandles, void **request)
{
	(void)phandles;
	return spark_abi_irecv_wide(recv_comm, n, data, sizes, tags, mhandles, request);
}

SPARK_EXPORT const ncclNet_v10_t ncclNetPlugin_v10 = {
	.name = SPARK_NET_NAME,
	.init = v10_init,
	.devices = spark_devices,
	.getProperties = v10_get_properties,
	.listen = spark_listen,
	.connect = v10_connect,
	.accept = v10_accept,
	.regMr = spark_reg_mr,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = v10_isend,
	.irecv = v10_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,
	.irecvConsumed = NULL,
	.makeVDevice = NULL,
};
