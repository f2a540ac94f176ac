/* The exported ncclNetPlugin_v11 table (NCCL 2.28, 2.29): the per-communicator
 * entry points of net_ctx.c; one request per irecv (maxMultiRequestSize 1). */
#include "adapt.h"
#include "net_ctx.h"
#include "nccl/net_v11.h"

static ncclResult_t v11_get_properties(int dev, ncclNetProperties_v11_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	SPARK_PROPS_FILL_V9(props, p, dev);
	props->maxMultiRequestSize = 1;
	return ncclSuccess;
}

SPARK_EXPORT const ncclNet_v11_t ncclNetPlugin_v11 = {
	.name = SPARK_NET_NAME,
	.init = spark_ctxnet_init,
	.devices = spark_devices,
	.getProperties = v11_get_properties,
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
