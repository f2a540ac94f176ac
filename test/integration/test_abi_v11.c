/* ncclNetPlugin_v11 as NCCL 2.28/2.29 drive it (src/plugin/net.cc): init
 * once per communicator with its commHash and config, returning a context;
 * devices() only after the first; listen/connect take the context;
 * setNetAttr before connecting; finalize(ctx) per communicator, also after
 * a failed init (with whatever init left in *ctx). */
#include <criterion/criterion.h>
#include <string.h>

#include "abi_drive.h"
#include "nccl/net_v11.h"

static const ncclNet_v11_t *v11;

static ncclResult_t connect11(void *ctx, int dev, void *h, void **sc)
{
	ncclNetAttr_v11_t attr = {
		.sendCommAttr = {NCCL_NET_ATTR_UNDEF, NCCL_NET_ATTR_UNDEF, 2, 1},
		.recvCommAttr = {NCCL_NET_ATTR_UNDEF, NCCL_NET_ATTR_UNDEF, 2, 1},
		.op = 4, .algo = 1, .proto = 2,
	};
	DP_OK(v11->setNetAttr(ctx, &attr));
	return v11->connect(ctx, dev, h, sc, NULL);
}
static ncclResult_t accept11(void *lc, void **rc) { return v11->accept(lc, rc, NULL); }
static ncclResult_t reg11(void *c, void *d, size_t n, void **mh)
{
	return v11->regMr(c, d, n, NCCL_PTR_HOST, mh);
}
static ncclResult_t isend11(void *sc, void *d, size_t n, int tag, void *mh, void **req)
{
	return v11->isend(sc, d, n, tag, mh, NULL, req);
}
static ncclResult_t irecv11(void *rc, void *d, size_t n, int tag, void *mh, void **req)
{
	void *ph = NULL;
	*req = (void *)0x1;     /* NCCL_NET_OPTIONAL_RECV_COMPLETION */
	return v11->irecv(rc, 1, &d, &n, &tag, &mh, &ph, req);
}

static struct abi_net adapt11(void *ctx)
{
	return (struct abi_net){.version = 11, .ctx = ctx, .listen = v11->listen,
				.connect = connect11, .accept = accept11, .reg_mr = reg11,
				.dereg_mr = v11->deregMr, .isend = isend11, .irecv = irecv11,
				.test = v11->test, .close_send = v11->closeSend,
				.close_recv = v11->closeRecv, .close_listen = v11->closeListen};
}

static void *comm_init(uint64_t comm_hash)
{
	ncclNetCommConfig_v11_t config = {.trafficClass = NCCL_NET_TRAFFIC_CLASS_UNDEF};
	void *ctx = NULL;
	DP_OK(v11->init(&ctx, comm_hash, &config, abi_logger, NULL));
	DP_CHECK(ctx != NULL, "init returned no context");
	return ctx;
}

/* Two communicators, each with its own context, one after the other
 * finalized; each carries one exchange. */
Test(abi_v11, nccl_2_28_two_communicators, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	v11 = abi_load("ncclNetPlugin_v11");
	DP_CHECK(v11->makeVDevice == NULL && v11->finalize && v11->setNetAttr, "v11 entries");
	void *ctx1 = comm_init(0x1111);
	int ndev = 0;
	DP_OK(v11->devices(&ndev));
	DP_CHECK(ndev == 1, "%d devices", ndev);
	ncclNetProperties_v11_t props;
	memset(&props, 0xa5, sizeof props);
	DP_OK(v11->getProperties(0, &props));
	DP_CHECK(strcmp(props.name, "rocep1s0f0+roceP2p1s0f0") == 0, "%s", props.name);
	DP_CHECK(props.maxMultiRequestSize == 1, "maxMultiRequestSize %d", props.maxMultiRequestSize);
	DP_CHECK(props.vProps.ndevs == 1 && props.maxP2pBytes == (size_t)1 << 30, "v11 props");
	void *ctx2 = comm_init(0x2222);     /* second comm: NCCL skips devices() */
	DP_CHECK(ctx2 != ctx1, "each communicator gets its own context");
	DP_CHECK(abi_log_has("comm 0000000000002222: context opened (2 live)"), "%s", abi_log());
	struct abi_net n1 = adapt11(ctx1), n2 = adapt11(ctx2);
	abi_exchange(&p, &n1, 0, 1 << 20);
	DP_OK(v11->finalize(ctx1));
	abi_exchange(&p, &n2, 0, 64 << 10);
	DP_OK(v11->finalize(ctx2));
	DP_CHECK(abi_log_has("comm 0000000000002222: context closed (0 live)"), "%s", abi_log());
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert_eq(abi_log_warns(), 0, "%s", abi_log());
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* What a misbehaving caller gets: refusals with a WARN, never a crash. */
Test(abi_v11, stale_contexts_are_refused)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	v11 = abi_load("ncclNetPlugin_v11");
	if (p.is_b)
		dp_pair_finish(&p, 0);
	void *ctx = comm_init(0x3333);
	DP_OK(v11->finalize(ctx));
	cr_assert_eq(v11->finalize(ctx), ncclInternalError, "second finalize");
	cr_assert(abi_log_has("is no live context (finalized twice?)"), "%s", abi_log());
	char handle[NCCL_NET_HANDLE_MAXSIZE];
	void *lc = (void *)0x1;
	cr_assert_eq(v11->listen(ctx, 0, handle, &lc), ncclInternalError);
	cr_assert_null(lc);
	cr_assert(abi_log_has("listen: "), "%s", abi_log());
	ncclNetAttr_v11_t attr;
	memset(&attr, 0, sizeof attr);
	cr_assert_eq(v11->setNetAttr(ctx, &attr), ncclInternalError);
	cr_assert_eq(v11->finalize(NULL), ncclSuccess, "NCCL finalizes after a failed init");
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* A failed init (no HCA) leaves *ctx NULL; NCCL then calls finalize(ctx). */
Test(abi_v11, failed_init_then_finalize)
{
	v11 = abi_load("ncclNetPlugin_v11");
	unsetenv("SOFTROCE_FABRIC");    /* softroce then has no HCA */
	void *ctx = (void *)0x1;
	cr_assert_neq(v11->init(&ctx, 1, NULL, abi_logger, NULL), ncclSuccess);
	cr_assert_null(ctx);
	cr_assert_eq(v11->finalize(ctx), ncclSuccess);
	cr_assert_eq(v11->init(NULL, 1, NULL, abi_logger, NULL), ncclInternalError);
}
