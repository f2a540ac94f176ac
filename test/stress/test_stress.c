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
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"
#include "stress.h"

#ifndef ST_SAN
#define ST_SAN ""
#endif

#define PEER_TIMEOUT_S 5               /* NCCL_SPARK_PEER_TIMEOUT of the fatal runs */
#define ERROR_SLACK_S 10.0             /* a loaded 2-core host, on top of it */
#define DP_XSTR(x) #x
#define DP_STR(x) DP_XSTR(x)

struct st_run {
	struct st_config cfg;
	bool live, failback, no_faults;
	const char *slow;              /* why the run is scaled down, or NULL */
};

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return dflt;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	DP_CHECK(errno == 0 && *end == '\0' && v[0] != '-', "%s=%s: not a number", name, v);
	return x;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

static const char *slow_reason(void)
{
	if (getenv("SPARK_STRESS_SLOW") != NULL && *getenv("SPARK_STRESS_SLOW") != '\0')
		return getenv("SPARK_STRESS_SLOW");     /* make memcheck: "valgrind" */
	if (dp_under_qemu())
		return "qemu";
	if (ST_SAN[0] != '\0')
		return "SAN=" ST_SAN;
	return NULL;
}

/* The run's settings, the same in both hosts: host a draws the seed and
 * leaves it in the environment that host b inherits. `salt` gives each test
 * its own traffic from one printed seed. */
static void setup(struct st_run *r, uint64_t native_msgs, uint64_t slow_msgs, uint64_t salt)
{
	memset(r, 0, sizeof *r);
	if (getenv("SPARK_STRESS_SEED") == NULL) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		char s[32];
		snprintf(s, sizeof s, "%llu",
			 (unsigned long long)(ts.tv_nsec ^ ts.tv_sec << 20 ^ getpid()) % 1000000000ull);
		setenv("SPARK_STRESS_SEED", s, 1);
	}
	uint64_t seed = env_u64("SPARK_STRESS_SEED", 0);
	r->cfg.seed = seed * 1000003ull + salt;
	r->slow = slow_reason();
	const char *mix = getenv("SPARK_STRESS_MIX");
	if (mix == NULL || *mix == '\0')
		mix = r->slow ? "slow" : "ci";
	r->cfg.mix = st_mix_named(mix);
	DP_CHECK(r->cfg.mix != NULL, "SPARK_STRESS_MIX=%s: nccl, ci or slow", mix);
	uint64_t dflt = r->slow ? slow_msgs : native_msgs;
	r->cfg.msgs = native_msgs ? env_u64("SPARK_STRESS_MSGS", dflt) : 0;
	r->cfg.comms_each_way = (int)env_u64("SPARK_STRESS_COMMS", 2);
	if (r->slow && getenv("SPARK_STRESS_MSGS") == NULL && native_msgs)
		snprintf(r->cfg.scaled, sizeof r->cfg.scaled, "%llu messages not %llu (%s)",
			 (unsigned long long)dflt, (unsigned long long)native_msgs, r->slow);
	const char *faults = getenv("SPARK_STRESS_FAULTS");
	if (faults == NULL || *faults == '\0')
		faults = "default";
	r->no_faults = strcmp(faults, "none") == 0;
	r->live = has_word(faults, "all") || has_word(faults, "live");
	r->failback = has_word(faults, "all") || has_word(faults, "failback");
}

static void print_figures(const char *test, const struct st_run *r, const struct st_figures *f,
			  int faults, int survived, const char *errors)
{
	printf("stress figures: test=%s seed=%s mix=%s comms=%d msgs=%llu bytes=%llu "
	       "faults=%d survived=%d corrupted=%llu bad_sizes=%llu %s secs=%.1f%s%s\n",
	       test, getenv("SPARK_STRESS_SEED"), r->cfg.mix->name, f->comms,
	       (unsigned long long)f->msgs, (unsigned long long)f->bytes, faults, survived,
	       (unsigned long long)f->bad_bytes, (unsigned long long)f->bad_sizes, errors,
	       f->seconds, r->cfg.scaled[0] ? " scaled: " : "", r->cfg.scaled);
	fflush(stdout);
}

static void add(struct st_figures *a, const struct st_figures *b)
{
	a->msgs += b->msgs;
	a->bytes += b->bytes;
	a->bad_bytes += b->bad_bytes;
	a->bad_sizes += b->bad_sizes;
	if (b->seconds > a->seconds)
		a->seconds = b->seconds;
}

/* Both hosts: fds and pinned pages back to what they were before the comms. */
static void check_released(int fd0)
{
	int fds = st_fd_count();
	DP_CHECK(fds == fd0, "%d fds open after close, %d before the comms", fds, fd0);
	DP_CHECK(st_no_pinned_pages(), "an MR outlived its comm");
}

/* ---- survivable: the traffic, with faults that must cost no byte ---------- */

Test(stress, traffic_with_faults, .timeout = 3600)
{
	struct st_run r;
	setup(&r, 100000, 2000, 1);
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	int fd0 = st_fd_count();
	struct st_traffic *t = st_traffic_open(&p, net, &r.cfg);
	struct st_faults f;
	int nfaults = r.no_faults ? 0 : r.slow ? 3 : 8;
	st_faults_init(&f, &p, r.cfg.seed, r.cfg.msgs, nfaults, r.failback);
	dp_sync(&p);
	st_traffic_run(t, p.is_b ? NULL : st_faults_hook, &f, false, 60);
	if (!p.is_b)
		st_faults_finish(&f);
	struct st_figures fig, peer;
	st_traffic_close(t, &fig);
	check_released(fd0);
	if (p.is_b) {
		dp_send(&p, &fig, sizeof fig);
		dp_pair_finish(&p, 0);
	}
	dp_recv(&p, &peer, sizeof peer);
	add(&fig, &peer);
	print_figures("traffic_with_faults", &r, &fig, f.injected, f.injected, "");
	for (int k = 0; k < ST_F_COUNT; k++)
		if (f.count[k])
			printf("stress faults: %s x%d\n", st_fault_name((enum st_fault)k), f.count[k]);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
	cr_assert_eq(fig.bad_bytes, 0, "%llu corrupted bytes (seed %s)",
		     (unsigned long long)fig.bad_bytes, getenv("SPARK_STRESS_SEED"));
	cr_assert_eq(fig.bad_sizes, 0, "%llu wrong sizes", (unsigned long long)fig.bad_sizes);
	cr_assert_geq(fig.msgs, r.cfg.msgs, "%llu messages checked, %llu planned",
		      (unsigned long long)fig.msgs, (unsigned long long)r.cfg.msgs);
}

/* ---- fatal: both sides error within a bound, no hang, no crash ------------- */

struct fatal {
	struct dp_pair *p;
	enum st_fault kind;
	uint64_t trigger;              /* host a's completed messages before the fault */
	double at;                     /* dp_now() of the fault; 0: not yet */
	double bound;
};

static void inject_fatal(struct fatal *x)
{
	switch (x->kind) {
	case ST_F_KILL:
		DP_CHECK(kill(x->p->child, SIGKILL) == 0, "SIGKILL: %s", strerror(errno));
		break;
	case ST_F_BOTH_DOWN:
		st_control(x->p, "a %s down", st_rails[0]);
		st_control(x->p, "a %s down", st_rails[1]);
		break;
	case ST_F_STOP_LONG:
		DP_CHECK(kill(x->p->child, SIGSTOP) == 0, "SIGSTOP: %s", strerror(errno));
		break;
	case ST_F_FREEZE_LONG:
		st_control(x->p, "b freeze");
		break;
	default:
		DP_CHECK(false, "not a fatal fault");
	}
}

static void fatal_hook(void *ctx, struct st_traffic *t)
{
	struct fatal *x = ctx;
	if (x->at != 0 || st_traffic_done(t) < x->trigger)
		return;
	x->at = dp_now();
	inject_fatal(x);
	st_traffic_set_deadline(t, x->at + x->bound);
}

static bool needs_live(enum st_fault k)
{
	return k == ST_F_BOTH_DOWN || k == ST_F_STOP_LONG || k == ST_F_FREEZE_LONG;
}

/* Host b: traffic until every comm failed, then what it measured to a. */
static void fatal_host_b(struct dp_pair *p, struct st_traffic *t, int fd0)
{
	struct st_figures fig;
	st_traffic_run(t, NULL, NULL, true, 300);
	st_traffic_close(t, &fig);
	check_released(fd0);
	dp_send(p, &fig, sizeof fig);
	dp_pair_finish(p, 0);
}

static void fatal_run(const char *test, enum st_fault kind, uint64_t salt)
{
	struct st_run r;
	setup(&r, 0, 0, salt);
	if (needs_live(kind) && !r.live)
		cr_skip_test("%s: needs liveness (SPARK_STRESS_FAULTS=live or all)",
			     st_fault_name(kind));
	struct dp_pair p;
	const char *env[] = {"NCCL_SPARK_PEER_TIMEOUT=" DP_STR(PEER_TIMEOUT_S), NULL};
	dp_pair_start(&p, env);
	const ncclNet_v8_t *net = dp_load_plugin();
	int fd0 = st_fd_count();
	struct st_traffic *t = st_traffic_open(&p, net, &r.cfg);
	dp_sync(&p);
	if (p.is_b)
		fatal_host_b(&p, t, fd0);
	uint64_t rng = r.cfg.seed;
	struct fatal x = {&p, kind, 200 + st_below(&rng, r.slow ? 300 : 3000), 0,
			  PEER_TIMEOUT_S + ERROR_SLACK_S};
	st_traffic_run(t, fatal_hook, &x, true, 60);
	struct st_figures fig, peer;
	double resumed = x.at;
	if (kind == ST_F_STOP_LONG) {      /* b learns of it once it runs again */
		resumed = dp_now();
		DP_CHECK(kill(p.child, SIGCONT) == 0, "SIGCONT: %s", strerror(errno));
	}
	st_traffic_close(t, &fig);
	check_released(fd0);
	char errors[96];
	double ta = fig.last_err - x.at, tb = -1;
	if (kind == ST_F_KILL) {
		dp_pair_finish(&p, 0);     /* b was killed: its status says so */
	} else {
		dp_recv(&p, &peer, sizeof peer);
		tb = peer.last_err - resumed;
		cr_assert(dp_pair_finish(&p, 0), "host b failed");
		cr_assert_eq(peer.failed_comms, peer.comms, "host b: %d of %d comms failed",
			     peer.failed_comms, peer.comms);
		add(&fig, &peer);
	}
	snprintf(errors, sizeof errors, "fault=%s time_to_error_a=%.2fs b=%.2fs",
		 st_fault_name(kind), ta, tb);
	print_figures(test, &r, &fig, 1, 0, errors);
	cr_assert_eq(fig.failed_comms, fig.comms, "%d of %d comms failed", fig.failed_comms,
		     fig.comms);
	cr_assert_leq(ta, x.bound, "host a: %.2f s to the last error", ta);
	cr_assert_leq(tb, x.bound, "host b: %.2f s to the last error", tb);
	cr_assert_eq(fig.bad_bytes, 0, "%llu corrupted bytes before the fault",
		     (unsigned long long)fig.bad_bytes);
}

Test(stress, peer_killed, .timeout = 300) { fatal_run("peer_killed", ST_F_KILL, 2); }
Test(stress, both_rails_down, .timeout = 300) { fatal_run("both_rails_down", ST_F_BOTH_DOWN, 3); }
Test(stress, peer_stopped_past_timeout, .timeout = 300)
{
	fatal_run("peer_stopped_past_timeout", ST_F_STOP_LONG, 4);
}
Test(stress, peer_frozen_past_timeout, .timeout = 300)
{
	fatal_run("peer_frozen_past_timeout", ST_F_FREEZE_LONG, 5);
}
