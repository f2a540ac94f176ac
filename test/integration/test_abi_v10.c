/* ncclNetPlugin_v10 as NCCL 2.26/2.27 drive it: init with a profiler
 * callback, connect with the comm's config, profiler handles on every
 * isend/irecv. We emit no events: the callback must never be called and the
 * handles (poison here) never dereferenced. */
#include <criterion/criterion.h>
#include <string.h>

#include "abi_drive.h"
#include "nccl/net_v10.h"

static const ncclNet_v10_t *v10;
static int profiler_calls;
static void *const poison = (void *)0xdeadbeef0;   /* crashes if dereferenced */

static ncclResult_t profiler(void **e, int type, void *ph, int64_t id, void *ext)
{
	(void)e; (void)type; (void)ph; (void)id; (void)ext;
	profiler_calls++;
	return ncclSuccess;
}

static ncclResult_t listen10(void *ctx, int dev, void *h, void **lc)
{
	(void)ctx;
	return v10->listen(dev, h, lc);
}
static ncclResult_t connect10(void *ctx, int dev, void *h, void **sc)
{
	(void)ctx;
	ncclNetCommConfig_v10_t config = {.trafficClass = NCCL_NET_TRAFFIC_CLASS_UNDEF};
	return v10->connect(dev, &config, h, sc, NULL);
}
static ncclResult_t accept10(void *lc, void **rc) { return v10->accept(lc, rc, NULL); }
static ncclResult_t reg10(void *c, void *d, size_t n, void **mh)
{
	return v10->regMr(c, d, n, NCCL_PTR_HOST, mh);
}
static ncclResult_t isend10(void *sc, void *d, size_t n, int tag, void *mh, void **req)
{
	return v10->isend(sc, d, n, tag, mh, poison, req);
}
static ncclResult_t irecv10(void *rc, void *d, size_t n, int tag, void *mh, void **req)
{
	void *ph = poison;
	return v10->irecv(rc, 1, &d, &n, &tag, &mh, &ph, req);
}

static const struct abi_net *adapt10(void)
{
	static struct abi_net n;
	n = (struct abi_net){.version = 10, .listen = listen10, .connect = connect10,
			     .accept = accept10, .reg_mr = reg10, .dereg_mr = v10->deregMr,
			     .isend = isend10, .irecv = irecv10, .test = v10->test,
			     .close_send = v10->closeSend, .close_recv = v10->closeRecv,
			     .close_listen = v10->closeListen};
	return &n;
}

Test(abi_v10, nccl_2_26_sequence, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	v10 = abi_load("ncclNetPlugin_v10");
	DP_CHECK(v10->makeVDevice == NULL, "no makeVDevice");
	DP_OK(v10->init(abi_logger, profiler));
	int ndev = 0;
	DP_OK(v10->devices(&ndev));
	DP_CHECK(ndev == 1, "%d devices", ndev);
	ncclNetProperties_v10_t props;
	DP_OK(v10->getProperties(0, &props));
	DP_CHECK(props.vProps.ndevs == 1 && props.maxP2pBytes == (size_t)1 << 30, "v10 props");
	abi_exchange(&p, adapt10(), 0, 1 << 20);
	DP_CHECK(profiler_calls == 0, "profiler called %d times", profiler_calls);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert_eq(abi_log_warns(), 0, "%s", abi_log());
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* A traffic class NCCL could never have taken from a valid config. */
Test(abi_v10, bad_traffic_class_is_named)
{
	v10 = abi_load("ncclNetPlugin_v10");
	unsetenv("SOFTROCE_FABRIC");    /* softroce then has no HCA */
	/* Fails (no fabric) but hands the plugin our logger, as NCCL's would. */
	cr_assert_neq(v10->init(abi_logger, profiler), ncclSuccess);
	ncclNetCommConfig_v10_t config = {.trafficClass = 300};
	char handle[NCCL_NET_HANDLE_MAXSIZE] = {0};
	void *sc = (void *)0x1;
	cr_assert_neq(v10->connect(0, &config, handle, &sc, NULL), ncclSuccess);
	cr_assert_null(sc);
	cr_assert(abi_log_has("traffic class 300 is not 0..255"), "%s", abi_log());
}
