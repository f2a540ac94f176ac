/* ncclNetPlugin_v7 as NCCL 2.19 drives it: init(logger) once, devices,
 * v7 properties (no regIsGlobal), int sizes everywhere, regMr included. */
#include <criterion/criterion.h>
#include <string.h>

#include "abi_drive.h"
#include "nccl/net_v7.h"

static const ncclNet_v7_t *v7;

static ncclResult_t listen7(void *ctx, int dev, void *h, void **lc)
{
	(void)ctx;
	return v7->listen(dev, h, lc);
}
static ncclResult_t connect7(void *ctx, int dev, void *h, void **sc)
{
	(void)ctx;
	ncclNetDeviceHandle_v7_t *dh = (void *)0x1;
	ncclResult_t res = v7->connect(dev, h, sc, &dh);
	DP_CHECK(dh == NULL, "host plugin: NULL device handle");
	return res;
}
static ncclResult_t accept7(void *lc, void **rc) { return v7->accept(lc, rc, NULL); }
static ncclResult_t reg7(void *c, void *d, size_t n, void **mh)
{
	return v7->regMr(c, d, (int)n, NCCL_PTR_HOST, mh);
}
static ncclResult_t isend7(void *sc, void *d, size_t n, int tag, void *mh, void **req)
{
	return v7->isend(sc, d, (int)n, tag, mh, req);
}
static ncclResult_t irecv7(void *rc, void *d, size_t n, int tag, void *mh, void **req)
{
	int size = (int)n;
	return v7->irecv(rc, 1, &d, &size, &tag, &mh, req);
}

static const struct abi_net *adapt7(void)
{
	static struct abi_net n;
	n = (struct abi_net){.version = 7, .listen = listen7, .connect = connect7,
			     .accept = accept7, .reg_mr = reg7, .dereg_mr = v7->deregMr,
			     .isend = isend7, .irecv = irecv7, .test = v7->test,
			     .close_send = v7->closeSend, .close_recv = v7->closeRecv,
			     .close_listen = v7->closeListen};
	return &n;
}

Test(abi_v7, nccl_2_19_sequence, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	v7 = abi_load("ncclNetPlugin_v7");
	DP_CHECK(strcmp(v7->name, "Spark") == 0, "name %s", v7->name);
	DP_CHECK(v7->getDeviceMr == NULL && v7->irecvConsumed == NULL, "host plugin");
	DP_OK(v7->init(abi_logger));
	int ndev = 0;
	DP_OK(v7->devices(&ndev));
	DP_CHECK(ndev == 1, "%d devices", ndev);
	ncclNetProperties_v7_t props;
	memset(&props, 0xa5, sizeof props);
	DP_OK(v7->getProperties(0, &props));
	DP_CHECK(strcmp(props.name, "rocep1s0f0+roceP2p1s0f0") == 0, "%s", props.name);
	DP_CHECK(props.ptrSupport == NCCL_PTR_HOST && props.maxRecvs == 8 && props.speed > 0,
		 "ptr %d recvs %d speed %d", props.ptrSupport, props.maxRecvs, props.speed);
	DP_CHECK(props.netDeviceType == NCCL_NET_DEVICE_HOST &&
		 props.netDeviceVersion == NCCL_NET_DEVICE_INVALID_VERSION, "device type");
	void *mh = (void *)0x1;
	char buf[64];
	DP_CHECK(v7->regMr(NULL, buf, -1, NCCL_PTR_HOST, &mh) == ncclInternalError,
		 "negative size refused");
	DP_CHECK(abi_log_has("regMr: negative size -1"), "%s", abi_log());
	abi_exchange(&p, adapt7(), 0, 1 << 20);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
