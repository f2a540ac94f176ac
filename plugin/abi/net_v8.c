/* The exported ncclNetPlugin_v8 table: thin adapters from the v8 argument
 * types onto the version-neutral API (api.h). The only symbol we export. */
#include <string.h>

#include "api.h"
#include "log.h"
#include "nccl/net_v8.h"

#define SPARK_EXPORT __attribute__((visibility("default")))

static ncclResult_t v8_get_properties(int dev, ncclNetProperties_v8_t *props)
{
	struct spark_props p;
	SPARK_TRY(spark_get_properties(dev, &p));
	memset(props, 0, sizeof *props);
	/* NCCL copies the strings it keeps; ours live as long as the library. */
	props->name = (char *)p.name;
	props->pciPath = (char *)p.pci_path;
	props->guid = p.guid;
	props->ptrSupport = p.ptr_support;
	props->regIsGlobal = p.reg_is_global;
	props->speed = p.speed_mbps;
	props->port = p.port;
	props->latency = p.latency_us;
	props->maxComms = p.max_comms;
	props->maxRecvs = p.max_recvs;
	props->netDeviceType = NCCL_NET_DEVICE_HOST;
	props->netDeviceVersion = NCCL_NET_DEVICE_INVALID_VERSION;
	return ncclSuccess;
}

/* A host-side plugin has no device handle; NCCL may pass a NULL pointer. */
static void no_dev_comm(ncclNetDeviceHandle_v8_t **dev_comm)
{
	if (dev_comm != NULL)
		*dev_comm = NULL;
}

static ncclResult_t v8_connect(int dev, void *handle, void **send_comm,
			       ncclNetDeviceHandle_v8_t **send_dev_comm)
{
	no_dev_comm(send_dev_comm);
	return spark_connect(dev, handle, send_comm);
}

static ncclResult_t v8_accept(void *listen_comm, void **recv_comm,
			      ncclNetDeviceHandle_v8_t **recv_dev_comm)
{
	no_dev_comm(recv_dev_comm);
	return spark_accept(listen_comm, recv_comm);
}

static ncclResult_t v8_isend(void *send_comm, void *data, int size, int tag, void *mhandle,
			     void **request)
{
	if (size < 0) {
		SPARK_WARN("isend: negative size %d", size);
		return ncclInternalError;
	}
	return spark_isend(send_comm, data, (size_t)size, tag, mhandle, request);
}

static ncclResult_t v8_irecv(void *recv_comm, int n, void **data, int *sizes, int *tags,
			     void **mhandles, void **request)
{
	size_t wide[SPARK_MAX_RECVS];
	if (n < 1 || n > SPARK_MAX_RECVS) {
		SPARK_WARN("irecv: %d buffers, maxRecvs is %d", n, SPARK_MAX_RECVS);
		return ncclInternalError;
	}
	for (int i = 0; i < n; i++) {
		if (sizes[i] < 0) {
			SPARK_WARN("irecv: negative size %d", sizes[i]);
			return ncclInternalError;
		}
		wide[i] = (size_t)sizes[i];
	}
	return spark_irecv(recv_comm, n, data, wide, tags, mhandles, request);
}

SPARK_EXPORT const ncclNet_v8_t ncclNetPlugin_v8 = {
	.name = "Spark",
	.init = spark_init,
	.devices = spark_devices,
	.getProperties = v8_get_properties,
	.listen = spark_listen,
	.connect = v8_connect,
	.accept = v8_accept,
	.regMr = spark_reg_mr,
	.regMrDmaBuf = spark_reg_mr_dmabuf,
	.deregMr = spark_dereg_mr,
	.isend = v8_isend,
	.irecv = v8_irecv,
	.iflush = spark_iflush,
	.test = spark_test,
	.closeSend = spark_close_send,
	.closeRecv = spark_close_recv,
	.closeListen = spark_close_listen,
	.getDeviceMr = NULL,      /* host plugin: NCCL never needs it */
	.irecvConsumed = NULL,    /* host plugin: nothing to release after consumption */
};
