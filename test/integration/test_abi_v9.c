/* ncclNetPlugin_v9 as NCCL 2.24/2.25 drive it: size_t sizes, the wider
 * properties, makeVDevice (ours NULL: NCCL must not fuse again), and
 * *request preset to NCCL_NET_OPTIONAL_RECV_COMPLETION before irecv. */
#include <criterion/criterion.h>
#include <string.h>

#include "abi_drive.h"
#include "nccl/net_v9.h"

#define OPTIONAL_RECV_COMPLETION ((void *)0x1)

static const ncclNet_v9_t *v9;

static ncclResult_t listen9(void *ctx, int dev, void *h, void **lc)
{
	(void)ctx;
	return v9->listen(dev, h, lc);
}
static ncclResult_t connect9(void *ctx, int dev, void *h, void **sc)
{
	(void)ctx;
	return v9->connect(dev, h, sc, NULL);
}
static ncclResult_t accept9(void *lc, void **rc)
{
	ncclNetDeviceHandle_v9_t *dh = (void *)0x1;
	ncclResult_t res = v9->accept(lc, rc, &dh);
	DP_CHECK(dh == NULL, "host plugin: NULL device handle");
	return res;
}
static ncclResult_t reg9(void *c, void *d, size_t n, void **mh)
{
	return v9->regMr(c, d, n, NCCL_PTR_HOST, mh);
}
static ncclResult_t irecv9(void *rc, void *d, size_t n, int tag, void *mh, void **req)
{
	*req = OPTIONAL_RECV_COMPLETION;    /* what NCCL does for LL/LL128 */
	ncclResult_t res = v9->irecv(rc, 1, &d, &n, &tag, &mh, req);
	DP_CHECK(*req != OPTIONAL_RECV_COMPLETION, "the preset flag came back as a request");
	return res;
}

static const struct abi_net *adapt9(void)
{
	static struct abi_net n;
	n = (struct abi_net){.version = 9, .listen = listen9, .connect = connect9,
			     .accept = accept9, .reg_mr = reg9, .dereg_mr = v9->deregMr,
			     .isend = v9->isend, .irecv = irecv9, .test = v9->test,
			     .close_send = v9->closeSend, .close_recv = v9->closeRecv,
			     .close_listen = v9->closeListen};
	return &n;
}

Test(abi_v9, nccl_2_24_sequence, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	v9 = abi_load("ncclNetPlugin_v9");
	DP_CHECK(v9->makeVDevice == NULL, "we fuse ourselves: no makeVDevice");
	DP_OK(v9->init(abi_logger));
	int ndev = 0;
	DP_OK(v9->devices(&ndev));
	DP_CHECK(ndev == 1, "%d devices", ndev);
	ncclNetProperties_v9_t props;
	memset(&props, 0xa5, sizeof props);
	DP_OK(v9->getProperties(0, &props));
	DP_CHECK(strcmp(props.name, "rocep1s0f0+roceP2p1s0f0") == 0, "%s", props.name);
	DP_CHECK(props.regIsGlobal == 1 && props.forceFlush == 0, "flags");   /* shared PDs + registration cache */
	DP_CHECK(props.vProps.ndevs == 1 && props.vProps.devs[0] == 0, "vProps %d", props.vProps.ndevs);
	DP_CHECK(props.maxP2pBytes == (size_t)1 << 30, "maxP2pBytes %zu", props.maxP2pBytes);
	DP_CHECK(props.maxCollBytes > 0 && props.maxCollBytes <= (size_t)1 << 30, "maxCollBytes");
	DP_CHECK(props.netDeviceType == NCCL_NET_DEVICE_HOST && props.maxRecvs == 8, "type/recvs");
	/* 3 MiB + 5: not a multiple of anything the stripe rounds to. */
	abi_exchange(&p, adapt9(), 0, (3u << 20) + 5);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert_eq(abi_log_warns(), 0, "%s", abi_log());
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
