/* ncclNetPlugin_v12 as NCCL 2.30 and later drive it (src/plugin/net.cc), the
 * v11 sequence with v12's properties (rail/plane ids, vProps of 8): init
 * once per communicator with its commHash and config, returning a context;
 * devices() only after the first; listen/connect take the context;
 * setNetAttr before connecting; finalize(ctx) per communicator, also after
 * a failed init (with whatever init left in *ctx). */
#include <criterion/criterion.h>
#include <string.h>

#include "abi_drive.h"
#include "nccl/net_v12.h"

static const ncclNet_v12_t *v12;

static ncclResult_t connect11(void *ctx, int dev, void *h, void **sc)
{
	ncclNetAttr_v12_t attr = {
		.sendCommAttr = {NCCL_NET_ATTR_UNDEF, NCCL_NET_ATTR_UNDEF, 2, 1},
		.recvCommAttr = {NCCL_NET_ATTR_UNDEF, NCCL_NET_ATTR_UNDEF, 2, 1},
		.op = 4, .algo = 1, .proto = 2,
	};
	DP_OK(v12->setNetAttr(ctx, &attr));
	return v12->connect(ctx, dev, h, sc, NULL);
}
static ncclResult_t accept11(void *lc, void **rc) { return v12->accept(lc, rc, NULL); }
static ncclResult_t reg11(void *c, void *d, size_t n, void **mh)
{
	return v12->regMr(c, d, n, NCCL_PTR_HOST, mh);
}
static ncclResult_t isend11(void *sc, void *d, size_t n, int tag, void *mh, void **req)
{
	return v12->isend(sc, d, n, tag, mh, NULL, req);
}
static ncclResult_t irecv12(void *rc, void *d, size_t n, int tag, void *mh, void **req)
{
	void *ph = NULL;
	*req = (void *)0x1;     /* NCCL_NET_OPTIONAL_RECV_COMPLETION */
	return v12->irecv(rc, 1, &d, &n, &tag, &mh, &ph, req);
}

static struct abi_net adapt11(void *ctx)
{
	return (struct abi_net){.version = 11, .ctx = ctx, .listen = v12->listen,
				.connect = connect11, .accept = accept11, .reg_mr = reg11,
				.dereg_mr = v12->deregMr, .isend = isend11, .irecv = irecv12,
				.test = v12->test, .close_send = v12->closeSend,
				.close_recv = v12->closeRecv, .close_listen = v12->closeListen};
}

static void *comm_init(uint64_t comm_hash)
{
	ncclNetCommConfig_v12_t config = {.trafficClass = NCCL_NET_TRAFFIC_CLASS_UNDEF};
	void *ctx = NULL;
	DP_OK(v12->init(&ctx, comm_hash, &config, abi_logger, NULL));
	DP_CHECK(ctx != NULL, "init returned no context");
	return ctx;
}

/* Two communicators, each with its own context, one after the other
 * finalized; each carries one exchange. */
Test(abi_v12, nccl_2_30_two_communicators, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	v12 = abi_load("ncclNetPlugin_v12");
	DP_CHECK(v12->makeVDevice == NULL && v12->finalize && v12->setNetAttr, "v12 entries");
	void *ctx1 = comm_init(0x1111);
	int ndev = 0;
	DP_OK(v12->devices(&ndev));
	DP_CHECK(ndev == 1, "%d devices", ndev);
	ncclNetProperties_v12_t props;
	memset(&props, 0xa5, sizeof props);
	DP_OK(v12->getProperties(0, &props));
	DP_CHECK(strcmp(props.name, "rocep1s0f0+roceP2p1s0f0") == 0, "%s", props.name);
	DP_CHECK(props.railId == NCCL_NET_ID_UNDEF && props.planeId == NCCL_NET_ID_UNDEF,
		 "rail %d plane %d", props.railId, props.planeId);
	DP_CHECK(props.maxMultiRequestSize == 1, "maxMultiRequestSize %d", props.maxMultiRequestSize);
	DP_CHECK(props.vProps.ndevs == 1 && props.maxP2pBytes == (size_t)1 << 30, "v12 props");
	void *ctx2 = comm_init(0x2222);     /* second comm: NCCL skips devices() */
	DP_CHECK(ctx2 != ctx1, "each communicator gets its own context");
	DP_CHECK(abi_log_has("comm 0000000000002222: context opened (2 live)"), "%s", abi_log());
	struct abi_net n1 = adapt11(ctx1), n2 = adapt11(ctx2);
	abi_exchange(&p, &n1, 0, 1 << 20);
	DP_OK(v12->finalize(ctx1));
	abi_exchange(&p, &n2, 0, 64 << 10);
	DP_OK(v12->finalize(ctx2));
	DP_CHECK(abi_log_has("comm 0000000000002222: context closed (0 live)"), "%s", abi_log());
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert_eq(abi_log_warns(), 0, "%s", abi_log());
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
