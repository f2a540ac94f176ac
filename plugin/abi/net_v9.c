/* The exported ncclNetPlugin_v9 table (NCCL 2.24, 2.25): size_t message
 * sizes, the wider properties, and makeVDevice = NULL: NCCL must not fuse
 * our devices again, each already spans both halves of a port. */
#include "adapt.h"
#include "nccl/net_v9.h"

static ncclResult_t v9_get_properties(int dev, ncclNetProperties_v9_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_V9(props, p, dev);
	return ncclSuccess;
}

static ncclResult_t v9_connect(int dev, void *handle, void **send_comm,
			       ncclNetDeviceHandle_v9_t **send_dev_comm)
{
	spark_abi_no_dev_comm(send_dev_comm);
	return spark_connect(dev, handle, send_comm);
}

static ncclResult_t v9_accept(void *listen_comm, void **recv_comm,
			      ncclNetDeviceHandle_v9_t **recv_dev_comm)
{
	spark_abi_no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

static ncclResult_t v9_irecv(void *recv_comm, int n, void **data, size_t *sizes, int *tags,
			     void **mhandles, void **request)
{
	return spark_abi_irecv_wide(recv_comm, n, data, sizes, tags, mhandles, request);
}

SPARK_EXPORT const ncclNet_v9_t ncclNetPlugin_v9 = {
	.name = SPARK_NET_NAME,
	.init = spark_init,
	.devices = spark_devices,
	.getProperties = v9_get_properties,
	.listen = spark_listen,
	.connect = v9_connect,
	.accept = v9_accept,
	.regMr = spark_reg_mr,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = spark_isend,
	.irecv = v9_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,
	.irecvConsumed = NULL,
	.makeVDevice = NULL,
};
