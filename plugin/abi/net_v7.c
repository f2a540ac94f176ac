/* The exported ncclNetPlugin_v7 table, for NCCL 2.19 (which knows no v8):
 * v8 with an int-sized regMr and no regIsGlobal in the properties. */
#include "adapt.h"
#include "nccl/net_v7.h"

static ncclResult_t v7_get_properties(int dev, ncclNetProperties_v7_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_COMMON(props, p);
	return ncclSuccess;
}

static ncclResult_t v7_connect(int dev, void *handle, void **send_comm,
			       ncclNetDeviceHandle_v7_t **send_dev_comm)
{
	spark_abi_no_dev_comm(send_dev_comm);
	return spark_connect(dev, handle, send_comm);
}

static ncclResult_t v7_accept(void *listen_comm, void **recv_comm,
			      ncclNetDeviceHandle_v7_t **recv_dev_comm)
{
	spark_abi_no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

static ncclResult_t v7_irecv(void *recv_comm, int n, void **data, int *sizes, int *tags,
			     void **mhandles, void **request)
{
	return spark_abi_irecv_int(recv_comm, n, data, sizes, tags, mhandles, request);
}

SPARK_EXPORT const ncclNet_v7_t ncclNetPlugin_v7 = {
	.name = SPARK_NET_NAME,
	.init = spark_init,
	.devices = spark_devices,
	.getProperties = v7_get_properties,
	.listen = spark_listen,
	.connect = v7_connect,
	.accept = v7_accept,
	.regMr = spark_abi_reg_mr_int,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = spark_abi_isend_int,
	.irecv = v7_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,
	.irecvConsumed = NULL,
};
