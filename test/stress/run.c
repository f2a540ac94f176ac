/* What every stress run shares: its settings from the environment (the
 * same in both hosts), its figures line, the release checks after close,
 * and the survivable traffic run that the suite and the memcheck driver
 * both make. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

#ifndef ST_SAN
#define ST_SAN ""
#endif

/* The gated behaviours that are merged, so their tests run by default:
 * "live" (both sides error within NCCL_SPARK_PEER_TIMEOUT, the idle side
 * too), "failback" (a flapped rail is re-admitted), or "live,failback".
 * SPARK_STRESS_FAULTS=live|failback|all turns them on for one run. */
#define ST_FAULTS_MERGED "live,failback"

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
	const char *slow = getenv("SPARK_STRESS_SLOW");
	if (slow != NULL && *slow != '\0')
		return slow;                            /* make memcheck: "valgrind" */
	if (dp_under_qemu())
		return "qemu";
	if (ST_SAN[0] != '\0')
		return "SAN=" ST_SAN;
	return NULL;
}

/* The run's settings, the same in both hosts: host a draws the seed and
 * leaves it in the environment that host b inherits. `salt` gives each test
 * its own traffic from one printed seed. */
void st_setup(struct st_run *r, uint64_t native_msgs, uint64_t slow_msgs, uint64_t salt)
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
	/* Slow runs (qemu at load 28 once stood still for over 60 s in the
	 * middle of a run that then went on) get four times the time. */
	r->stall_s = r->slow ? 240 : 60;
	const char *mix = getenv("SPARK_STRESS_MIX");
	if (mix == NULL || *mix == '\0')
		mix = r->slow ? "slow" : "ci";
	r->cfg.mix = st_mix_named(mix);
	DP_CHECK(r->cfg.mix != NULL, "SPARK_STRESS_MIX=%s: nccl, ci or slow", mix);
	uint64_t dflt = r->slow ? slow_msgs : native_msgs;
	/* ASan costs ~3x per byte here, the others 10x and more: 5x its share. */
	if (r->slow && strcmp(r->slow, "SAN=asan") == 0)
		dflt *= 5;
	r->cfg.msgs = native_msgs ? env_u64("SPARK_STRESS_MSGS", dflt) : 0;
	r->cfg.comms_each_way = (int)env_u64("SPARK_STRESS_COMMS", 2);
	if (r->slow && getenv("SPARK_STRESS_MSGS") == NULL && native_msgs)
		snprintf(r->cfg.scaled, sizeof r->cfg.scaled, "%llu messages not %llu (%s)",
			 (unsigned long long)dflt, (unsigned long long)native_msgs, r->slow);
	const char *faults = getenv("SPARK_STRESS_FAULTS");
	if (faults == NULL || *faults == '\0')
		faults = "default";
	r->no_faults = strcmp(faults, "none") == 0;
	r->live = !r->no_faults && (has_word(faults, "all") || has_word(faults, "live") ||
				    has_word(ST_FAULTS_MERGED, "live"));
	r->failback = !r->no_faults && (has_word(faults, "all") || has_word(faults, "failback") ||
					has_word(ST_FAULTS_MERGED, "failback"));
}

void st_print_figures(const char *test, const struct st_run *r, const struct st_figures *f,
			  int faults, int survived, const char *errors)
{
	printf("stress figures: test=%s seed=%s mix=%s comms=%dx2 msgs=%llu bytes=%llu "
	       "faults=%d survived=%d corrupted=%llu bad_sizes=%llu %s secs=%.1f%s%s\n",
	       test, getenv("SPARK_STRESS_SEED"), r->cfg.mix->name, r->cfg.comms_each_way,
	       (unsigned long long)f->msgs, (unsigned long long)f->bytes, faults, survived,
	       (unsigned long long)f->bad_bytes, (unsigned long long)f->bad_sizes, errors,
	       f->seconds, r->cfg.scaled[0] ? " scaled: " : "", r->cfg.scaled);
	fflush(stdout);
}

void st_add(struct st_figures *a, const struct st_figures *b)
{
	a->msgs += b->msgs;
	a->bytes += b->bytes;
	a->bad_bytes += b->bad_bytes;
	a->bad_sizes += b->bad_sizes;
	a->failed_comms += b->failed_comms;
	a->idle_comms += b->idle_comms;
	a->aborted_comms += b->aborted_comms;
	a->comms += b->comms;
	if (b->seconds > a->seconds)
		a->seconds = b->seconds;
}

/* Both hosts: fds and pinned pages back to what they were before the comms. */
void st_check_released(int fd0)
{
	int fds = st_fd_count();
	DP_CHECK(fds == fd0, "%d fds open after close, %d before the comms", fds, fd0);
	DP_CHECK(st_no_pinned_pages(), "an MR outlived its comm");
}

/* ---- survivable: the traffic, with faults that must cost no byte ---------- */

void st_run_traffic(struct st_run *r, const char *test)
{
	struct dp_pair p;
	static const char *const failback_env[] = {"NCCL_SPARK_FAILBACK=1", NULL};
	dp_pair_start(&p, r->failback ? failback_env : NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	int fd0 = st_fd_count();
	struct st_traffic *t = st_traffic_open(&p, net, &r->cfg);
	struct st_faults f;
	/* qemu: ACKs outrun softroce's timeouts and go-back-N resends whole
	 * windows (test_dp.c's NATIVE_ONLY), so a fault's timing means nothing
	 * there; the traffic runs without. */
	uint64_t per = r->cfg.msgs / 12500;      /* 8 per 10^5 messages, 80 in a soak */
	int nfaults = r->no_faults || dp_under_qemu() ? 0 : per < 3 ? 3 : per > 1000 ? 1000 : (int)per;
	if (dp_under_qemu() && !r->no_faults)
		snprintf(r->cfg.scaled + strlen(r->cfg.scaled),
			 sizeof r->cfg.scaled - strlen(r->cfg.scaled), ", no faults (qemu)");
	st_faults_init(&f, &p, r->cfg.seed, r->cfg.msgs, nfaults, r->failback);
	/* Every comm rejoins on its own; a slow run takes longer to. */
	f.settle = r->slow == NULL ? 1.0 : strstr(r->slow, "valgrind") != NULL ? 10.0 : 5.0;
	dp_sync(&p);
	st_traffic_run(t, p.is_b ? NULL : st_faults_hook, &f, false, r->stall_s);
	if (!p.is_b)
		st_faults_finish(&f);
	struct st_figures fig, peer;
	st_traffic_close(t, &fig);
	st_check_released(fd0);
	if (p.is_b) {
		dp_send(&p, &fig, sizeof fig);
		dp_pair_finish(&p, 0);
	}
	dp_recv(&p, &peer, sizeof peer);
	st_add(&fig, &peer);
	bool right = fig.bad_bytes == 0 && fig.bad_sizes == 0;
	st_print_figures(test, r, &fig, f.injected, right ? f.injected : 0, "");
	for (int k = 0; k < ST_F_COUNT; k++)
		if (f.count[k])
			printf("stress faults: %s x%d\n", st_fault_name((enum st_fault)k), f.count[k]);
	DP_CHECK(dp_pair_finish(&p, 0), "host b failed");
	DP_CHECK(fig.bad_bytes == 0, "%llu corrupted bytes (seed %s)",
		 (unsigned long long)fig.bad_bytes, getenv("SPARK_STRESS_SEED"));
	DP_CHECK(fig.bad_sizes == 0, "%llu wrong sizes", (unsigned long long)fig.bad_sizes);
	DP_CHECK(fig.msgs >= r->cfg.msgs, "%llu messages checked, %llu planned",
		 (unsigned long long)fig.msgs, (unsigned long long)r->cfg.msgs);
}
