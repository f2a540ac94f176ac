/* The randomized stress and fault suite (issue 10): NCCL-shaped traffic
 * between two emulated Sparks through ncclNetPlugin_v8, several comms each
 * way at once, every byte checked, with faults at random points. Each run
 * prints one "stress figures:" line (docs/reliability.md keeps them).
 *
 *   SPARK_STRESS_SEED=N     replay a run (printed by every run)
 *   SPARK_STRESS_MSGS=N     messages, both directions (CI default 10^5;
 *                           `make soak` 10^6); scaled down when slow, said so
 *   SPARK_STRESS_MIX=nccl|ci|slow   size mix (plan.c)
 *   SPARK_STRESS_COMMS=N    comms each way (default 2)
 *   SPARK_STRESS_FAULTS=default|none|all|live,failback
 *       default: the faults today's plugin survives or reports;
 *       live:     both rails down and a peer frozen past the timeout: both
 *                 sides error within NCCL_SPARK_PEER_TIMEOUT (liveness);
 *       failback: either rail may go down, one at a time (a flapped rail
 *                 is re-admitted); all = both. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fatal.h"
#include "run.h"

#define PEER_TIMEOUT_S 5               /* NCCL_SPARK_PEER_TIMEOUT of the fatal runs */
#define ERROR_SLACK_S 10.0             /* a loaded 2-core host, on top of it */
/* The RC retry budget of one rail: (retry_cnt 7 + 1) x 4.096 us x 2^24
 * (dp_harness's NCCL_SPARK_IB_TIMEOUT) x 0.01 (softroce's scale) = 5.5 s. */
#define RC_RETRY_S 5.5
#define EOF_GRACE_S 2.0                /* plugin/datapath/peer.h: a closed peer's grace */
#define DP_XSTR(x) #x
#define DP_STR(x) DP_XSTR(x)

Test(stress, traffic_with_faults, .timeout = 3600)
{
	struct st_run r;
	st_setup(&r, 100000, 2000, 1);
	st_run_traffic(&r, "traffic_with_faults");
}

/* ---- fatal: both sides error within a bound, no hang, no crash ------------- */

static bool needs_live(enum st_fault k, bool idle)
{
	/* Today the peer's death is seen through the bootstrap socket's FIN
	 * (a killed process closes it); everything else needs liveness. */
	(void)idle;
	return k != ST_F_KILL;
}

/* Host b: traffic until every comm failed, its figures to a; closes once a
 * is done too (the peer process lives on: no FIN tells a anything). */
static void fatal_host_b(struct dp_pair *p, struct st_traffic *t, struct st_fatal *x, int fd0)
{
	struct st_figures fig;
	st_traffic_run(t, st_fatal_hook, x, true, 300);
	st_traffic_figures(t, &fig);
	dp_send(p, &fig, sizeof fig);
	dp_sync(p);
	st_traffic_close(t, &fig);
	st_check_released(fd0);
	dp_pair_finish(p, 0);
}

/* Host a: b's figures, which come once every comm of b failed. */
static void peer_figures(struct dp_pair *p, struct st_figures *peer, double until)
{
	struct pollfd pfd = {p->pipe_ba[0], POLLIN, 0};
	int ms = (int)((until - dp_now()) * 1000);
	DP_CHECK(poll(&pfd, 1, ms > 0 ? ms : 0) == 1, "host b: a comm still without an error "
		 "at the bound: b would hang there");
	dp_recv(p, peer, sizeof *peer);
}

static void fatal_report(const char *test, const struct st_run *r, struct st_figures *fig,
			 const struct st_fatal *x, double tb)
{
	char errors[128], b[16] = "n/a";
	if (tb >= 0)
		snprintf(b, sizeof b, "%.2fs", tb);
	snprintf(errors, sizeof errors, "fault=%s%s time_to_error_a=%.2fs b=%s",
		 st_fault_name(x->kind), x->idle ? "(idle)" : "(busy)", fig->last_err - x->at, b);
	st_print_figures(test, r, fig, 1, 0, errors);
}

/* What each host can see of the fault, and so what it must do by itself.
 * Peer killed, both rails down: every comm of both hosts sees it (EOF, port
 * events) and must fail on its own. Peer stopped: host a's comms miss the
 * heartbeats and must each fail; host b's waiting comms may face comms of a
 * that had nothing to do (idle) and are fine, so b learns what NCCL makes
 * it learn: a's NCCL aborts on its error and closes every comm (FAILED, or
 * EOF then the grace). Peer's NICs frozen: the peer process lives and
 * heartbeats (liveness cannot and must not fire); only a comm of a with work
 * in flight towards the frozen NICs fails (RC retries exhausted on both
 * rails: at most 2 x RC_RETRY_S when the rails give up one after the other),
 * a comm of a with nothing out cannot tell, so a aborts as NCCL does at its
 * first error, and b's comms learn from a's close. */
static bool peer_learns_by_abort(enum st_fault k) { return k == ST_F_STOP_LONG || k == ST_F_FREEZE_LONG; }

static double fatal_bound(enum st_fault k)
{
	if (k == ST_F_FREEZE_LONG)      /* b: a's error, then the grace after a's close */
		return 2 * RC_RETRY_S + EOF_GRACE_S + ERROR_SLACK_S;
	return PEER_TIMEOUT_S + ERROR_SLACK_S;
}

static void fatal_run(const char *test, enum st_fault kind, bool idle, uint64_t salt)
{
	struct st_run r;
	st_setup(&r, 0, 0, salt);
	if (r.no_faults)
		cr_skip_test("SPARK_STRESS_FAULTS=none");
	if (needs_live(kind, idle) && !r.live)
		cr_skip_test("%s: needs liveness (SPARK_STRESS_FAULTS=live or all)",
			     st_fault_name(kind));
	DP_CHECK(r.cfg.comms_each_way >= 2, "the idle form needs 2 comms each way");
	struct dp_pair p;
	const char *env[] = {"NCCL_SPARK_PEER_TIMEOUT=" DP_STR(PEER_TIMEOUT_S), NULL};
	dp_pair_start(&p, env);
	const ncclNet_v8_t *net = dp_load_plugin();
	int fd0 = st_fd_count();
	struct st_traffic *t = st_traffic_open(&p, net, &r.cfg);
	uint64_t rng = r.cfg.seed;
	struct st_fatal x = {.p = &p, .kind = kind, .idle = idle,
			     .trigger = 200 + st_below(&rng, r.slow ? 300 : 3000),
			     .bound = fatal_bound(kind), .quiet_s = PEER_TIMEOUT_S + 1};
	dp_sync(&p);
	if (p.is_b)
		fatal_host_b(&p, t, &x, fd0);
	if (kind == ST_F_FREEZE_LONG)
		st_traffic_abort_on_error(t);
	st_traffic_run(t, st_fatal_hook, &x, true, r.stall_s);
	DP_CHECK(x.at != 0, "the fault was never injected");
	double resumed = x.at;
	if (kind == ST_F_STOP_LONG) {      /* b learns of it once it runs again */
		resumed = dp_now();
		DP_CHECK(kill(p.child, SIGCONT) == 0, "SIGCONT: %s", strerror(errno));
	}
	struct st_figures fig, peer;
	double tb = -1;
	bool closed = peer_learns_by_abort(kind);
	if (closed) {                       /* NCCL's abort: a closes every comm */
		st_traffic_close(t, &fig);
		st_check_released(fd0);
	}
	if (kind != ST_F_KILL) {
		peer_figures(&p, &peer, resumed + x.bound);
		tb = peer.last_err - resumed;
		dp_sync(&p);
	}
	if (!closed) {
		st_traffic_close(t, &fig);
		st_check_released(fd0);
	}
	cr_assert_gt(fig.failed_comms, 0, "host a: no comm failed");
	cr_assert_eq(fig.failed_comms + fig.aborted_comms, fig.comms - fig.idle_comms,
		     "host a: %d of %d comms failed (%d given up after the first)",
		     fig.failed_comms, fig.comms - fig.idle_comms, fig.aborted_comms);
	if (kind == ST_F_KILL) {
		dp_pair_finish(&p, 0);     /* b was killed: its status says so */
	} else {
		cr_assert(dp_pair_finish(&p, 0), "host b failed");
		cr_assert_eq(peer.failed_comms, peer.comms - peer.idle_comms,
			     "host b: %d of %d comms failed", peer.failed_comms,
			     peer.comms - peer.idle_comms);
		st_add(&fig, &peer);
	}
	fatal_report(test, &r, &fig, &x, tb);
	cr_assert_leq(fig.last_err - x.at, x.bound, "host a: %.2f s to the last error",
		      fig.last_err - x.at);
	cr_assert_leq(tb, x.bound, "host b: %.2f s to the last error", tb);
	cr_assert_eq(fig.bad_bytes, 0, "%llu corrupted bytes before the fault",
		     (unsigned long long)fig.bad_bytes);
}

#define FATAL(name, kind)                                                                  \
	Test(stress, name##_busy, .timeout = 600) { fatal_run(#name "_busy", kind, false, __LINE__); } \
	Test(stress, name##_idle, .timeout = 600) { fatal_run(#name "_idle", kind, true, __LINE__); }

FATAL(peer_killed, ST_F_KILL)
FATAL(both_rails_down, ST_F_BOTH_DOWN)
FATAL(peer_stopped_past_timeout, ST_F_STOP_LONG)
FATAL(peer_frozen_past_timeout, ST_F_FREEZE_LONG)

/* ---- failback: a rail that came back carries the traffic again ------------ */

struct flap_script {
	int rail, stage;
	uint64_t trigger;
	double at, settle, look;        /* look: next reading of the counters */
	uint64_t xmit_before;           /* host a's port_xmit_data on the flapped rail */
	uint64_t up_a, up_b;            /* both hosts' port_xmit_data on it when it came up */
};

/* Rail r re-admitted after it came back: both ends transmit on it again,
 * at least `settle` seconds on (a slow, sanitized run on a loaded host takes
 * longer to rejoin), or 30 s passed: then the other rail's loss shows what
 * is missing. The counters are read every 50 ms, not on every loop turn. */
static bool readmitted(const struct dp_pair *p, struct flap_script *s, const char *r,
		       double now)
{
	if (now < s->at + s->settle || now < s->look)
		return false;
	s->look = now + 0.05;
	return now >= s->at + 30 || (dp_counter(p, "a", r, "port_xmit_data") > s->up_a &&
				     dp_counter(p, "b", r, "port_xmit_data") > s->up_b);
}

/* Rail R down long enough for any failover (past the RC retry budget at
 * timeout 24: ~5.5 s), up, time to be re-admitted, then the other rail down
 * for good: only the re-admitted rail R is left to carry the traffic. */
static bool flap_then_other(struct st_fatal *x)
{
	struct flap_script *s = x->script_ctx;
	double now = dp_now();
	const char *r = st_rails[s->rail], *o = st_rails[1 - s->rail];
	if (s->stage == 0 && st_traffic_done(x->t) >= s->trigger) {
		st_control(x->p, "a %s down", r);
		s->at = now;
		s->stage = 1;
	} else if (s->stage == 1 && now >= s->at + 7) {
		st_control(x->p, "a %s up", r);
		s->up_a = dp_counter(x->p, "a", r, "port_xmit_data");
		s->up_b = dp_counter(x->p, "b", r, "port_xmit_data");
		s->at = now;
		s->stage = 2;
	} else if (s->stage == 2 && readmitted(x->p, s, r, now)) {
		s->xmit_before = dp_counter(x->p, "a", r, "port_xmit_data");
		st_control(x->p, "a %s down", o);
		s->at = now;
		s->stage = 3;
	} else if (s->stage == 3 && now >= s->at + 8) {
		return true;
	}
	return false;
}

Test(stress, flapped_rail_carries_traffic_again, .timeout = 600)
{
	struct st_run r;
	st_setup(&r, 0, 0, 6);
	if (!r.failback)
		cr_skip_test("needs failback (SPARK_STRESS_FAULTS=failback or all)");
	struct dp_pair p;
	static const char *const failback_env[] = {"NCCL_SPARK_FAILBACK=1", NULL};
	dp_pair_start(&p, failback_env);
	const ncclNet_v8_t *net = dp_load_plugin();
	int fd0 = st_fd_count();
	struct st_traffic *t = st_traffic_open(&p, net, &r.cfg);
	uint64_t rng = r.cfg.seed;
	struct flap_script s = {.rail = (int)st_below(&rng, 2), .trigger = 500,
				.settle = r.slow ? 10 : 3};
	struct st_fatal x = {.p = &p, .kind = ST_F_NONE, .script = flap_then_other,
			     .script_ctx = &s};
	dp_sync(&p);
	st_traffic_run(t, st_fatal_hook, &x, false, r.stall_s);
	struct st_figures fig, peer;
	st_traffic_close(t, &fig);
	st_check_released(fd0);
	if (p.is_b) {
		dp_send(&p, &fig, sizeof fig);
		dp_pair_finish(&p, 0);
	}
	uint64_t carried = dp_counter(&p, "a", st_rails[s.rail], "port_xmit_data") - s.xmit_before;
	st_control(&p, "a %s up", st_rails[1 - s.rail]);
	dp_recv(&p, &peer, sizeof peer);
	st_add(&fig, &peer);
	st_print_figures("flapped_rail_carries_traffic_again", &r, &fig, 3, 3, "");
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
	cr_assert_gt(carried, 0, "%s carried nothing after it came back", st_rails[s.rail]);
	cr_assert_eq(fig.bad_bytes, 0, "%llu corrupted bytes", (unsigned long long)fig.bad_bytes);
}
