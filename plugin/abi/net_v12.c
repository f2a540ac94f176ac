/* The exported ncclNetPlugin_v12 table (NCCL 2.30 and later): v11's entry
 * points (net_ctx.c); the properties gain rail and plane ids, which we leave
 * undefined as NCCL does for older plugins. */
#include "adapt.h"
#include "net_ctx.h"
#include "nccl/net_v12.h"

static ncclResult_t v12_get_properties(int dev, ncclNetProperties_v12_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_V9(props, p, dev);
	props->maxMultiRequestSize = 1;
	props->railId = NCCL_NET_ID_UNDEF;
	props->planeId = NCCL_NET_ID_UNDEF;
	return ncclSuccess;
}

SPARK_EXPORT const ncclNet_v12_t ncclNetPlugin_v12 = {
	.name = SPARK_NET_NAME,
	.init = spark_ctxnet_init,
	.devices = spark_devices,
	.getProperties = v12_get_properties,
	.listen = spark_ctxnet_listen,
	.connect = spark_ctxnet_connect,
	.accept = spark_ctxnet_accept,
	.regMr = spark_reg_mr,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = spark_ctxnet_isend,
	.irecv = spark_ctxnet_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,
	.irecvConsumed = NULL,
	.makeVDevice = NULL,
	.finalize = spark_ctx_finalize,
	.setNetAttr = spark_ctxnet_set_net_attr,
};
