/* The link clock: a link never delivers faster than its cap. A transfer's
 * booking starts no earlier than its WR was posted, so a link that idled gets
 * no credit for the idle time (a 4 MiB WRITE after 30 ms of silence takes its
 * full wire time), and transfers posted back to back still share the cap.
 *
 * Only the lower bound is asserted (0.9 x wire time): the emulator can only be
 * slower than the model on a loaded machine, never faster, so the check cannot
 * fail for load. The upper bound is reported, not asserted. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <time.h>

#include "sr_test.h"

TestSuite(clock, .fini = sr_teardown, .timeout = 60);

#define XFER (4u << 20)
/* Topology "scale 0.05": one PCIe Gen5 x4 link = 4 lanes x 3.25 GB/s x 0.05 =
 * 0.65 GB/s (bytes per ns), the cap of one rail. */
#define RAIL_GBPS (4 * 3.25 * 0.05)
#define WIRE_NS(bytes) ((double)(bytes) / RAIL_GBPS)

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static struct sr_ep *start(struct sr_pair *p)
{
	sr_fabric_setup();
	setenv("SOFTROCE_REORDER", "0", 1);   /* inherited by the peer */
	sr_topology("scale 0.05\n");
	struct sr_ep_opts o = sr_ep_opts_default();
	o.buf_len = XFER;
	sr_pair_start(p, 1, &o, &o);
	return &p->side.ep[0];
}

/* Posts n WRITEs of XFER (the last one signaled) and returns the ns from the
 * first post to the last completion. */
static double write_burst(struct sr_ep *ep, int n, uint64_t id)
{
	double t0 = now_ns();
	for (int i = 0; i < n; i++)
		cr_assert_eq(sr_post(ep, IBV_WR_RDMA_WRITE, id + (uint64_t)i, 0, XFER, SR_MR_FULL, 0,
				     i == n - 1 ? IBV_SEND_SIGNALED : 0, 0), 0);
	sr_expect_wc(ep->scq, id + (uint64_t)n - 1, IBV_WC_SUCCESS, NULL);
	return now_ns() - t0;
}

static void report(const char *what, double ns, double wire)
{
	cr_log_info("%s: %.2f ms, wire time %.2f ms (%.2f x)", what, ns / 1e6, wire / 1e6,
		    ns / wire);
}

/* The link busy, then idle for 30 ms: the next 4 MiB still takes its wire time. */
Test(clock, no_credit_for_idle_time)
{
	struct sr_pair p;
	struct sr_ep *ep = start(&p);
	write_burst(ep, 2, 1);            /* the link has been busy ... */
	for (int k = 0; k < 3; k++) {
		sleep_ms(30);             /* ... and then idle */
		double t = write_burst(ep, 1, 10 + (uint64_t)k);
		report("4 MiB after 30 ms idle", t, WIRE_NS(XFER));
		cr_assert_geq(t, 0.9 * WIRE_NS(XFER),
			      "4 MiB after idle in %.2f ms: faster than the link cap allows (%.2f ms)",
			      t / 1e6, WIRE_NS(XFER) / 1e6);
	}
	sr_pair_stop(&p);
}

/* Four 4 MiB WRITEs posted back to back on one rail: together they take four
 * wire times, whatever the link did before. */
Test(clock, back_to_back_meets_cap)
{
	struct sr_pair p;
	struct sr_ep *ep = start(&p);
	sleep_ms(30);
	double t = write_burst(ep, 4, 1);
	report("4 x 4 MiB back to back", t, WIRE_NS(4.0 * XFER));
	cr_assert_geq(t, 0.9 * WIRE_NS(4.0 * XFER),
		      "4 x 4 MiB in %.2f ms: faster than the link cap allows (%.2f ms)", t / 1e6,
		      WIRE_NS(4.0 * XFER) / 1e6);
	sr_pair_stop(&p);
}
