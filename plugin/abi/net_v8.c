/* The exported ncclNetPlugin_v8 table (NCCL 2.20 ... 2.23 probe it first):
 * thin adapters from the v8 argument types onto the version-neutral API. */
#include "adapt.h"
#include "nccl/net_v8.h"

static ncclResult_t v8_get_properties(int dev, ncclNetProperties_v8_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_COMMON(props, p);
	props->regIsGlobal = p.reg_is_global;
	return ncclSuccess;
}

static ncclResult_t v8_connect(int dev, void *handle, void **send_comm,
			       ncclNetDeviceHandle_v8_t **send_dev_comm)
{
	spark_abi_no_dev_comm(send_dev_comm);
	return spark_connect(dev, handle, send_comm);
}

static ncclResult_t v8_accept(void *listen_comm, void **recv_comm,
			      ncclNetDeviceHandle_v8_t **recv_dev_comm)
{
	spark_abi_no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

static ncclResult_t v8_irecv(void *recv_comm, int n, void **data, int *sizes, int *tags,
			     void **mhandles, void **request)
{
	return spark_abi_irecv_int(recv_comm, n, data, sizes, tags, mhandles, request);
}

SPARK_EXPORT const ncclNet_v8_t ncclNetPlugin_v8 = {
	.name = SPARK_NET_NAME,
	.init = spark_init,
	.devices = spark_devices,
	.getProperties = v8_get_properties,
	.listen = spark_listen,
	.connect = v8_connect,
	.accept = v8_accept,
	.regMr = spark_reg_mr,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = spark_abi_isend_int,
	.irecv = v8_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,      /* host plugin: NCCL never needs it */
	.irecvConsumed = NULL,    /* host plugin: nothing to release after consumption */
};
