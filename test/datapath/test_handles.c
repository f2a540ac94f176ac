/* Handles NCCL passes back are checked: a memory handle deregistered twice,
 * or one regMr never returned, is ncclInvalidUsage (with a WARN) and the
 * process lives on, its other registrations intact. */
#include <criterion/criterion.h>
#include <string.h>

#include "dp_harness.h"

Test(handles, double_deregmr_is_invalid_usage, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	if (p.is_b) {
		void *rc = dp_connect_recv(&p, net, 0);
		DP_OK(net->closeRecv(rc));
		dp_pair_finish(&p, 0);
	}
	void *sc = dp_connect_send(&p, net, 0);
	size_t len = 1 << 20;
	void *buf = dp_alloc(len), *mh = NULL, *keep = NULL;
	cr_assert_eq(net->regMr(sc, buf, len, NCCL_PTR_HOST, &mh), ncclSuccess);
	cr_assert_eq(net->regMr(sc, buf, len, NCCL_PTR_HOST, &keep), ncclSuccess);
	cr_assert_eq(net->deregMr(sc, mh), ncclSuccess);
	cr_assert_eq(net->deregMr(sc, mh), ncclInvalidUsage, "the second deregMr");
	long junk[32];
	memset(junk, 0x5a, sizeof junk);
	cr_assert_eq(net->deregMr(sc, junk), ncclInvalidUsage, "a handle regMr never returned");
	cr_assert_eq(net->deregMr(sc, keep), ncclSuccess, "the other registration is intact");
	cr_assert_eq(net->deregMr(sc, keep), ncclInvalidUsage);
	DP_OK(net->closeSend(sc));
	dp_free(buf, len);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
