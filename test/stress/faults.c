/* Faults at random points of the stress traffic, injected by host a through
 * softroce's control file ($SOFTROCE_FABRIC/control: "<host> <hca>
 * down|up", "<host> <hca> rate F", "<host> freeze|thaw"; every process of
 * the fabric applies each line) and by signals to host b (SIGSTOP/SIGCONT,
 * SIGKILL). Survivable faults are undone after a random time and must cost
 * no byte; the fatal ones are not undone (faults.h says what each expects). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"

const char *const st_rails[2] = {"rocep1s0f0", "roceP2p1s0f0"};

static const char *const names[] = {
	[ST_F_RAIL_DOWN] = "rail-down", [ST_F_FLAP] = "rail-flap", [ST_F_RATE] = "rate",
	[ST_F_FREEZE] = "freeze", [ST_F_STOP] = "stop", [ST_F_OTHER_RAIL] = "other-rail-down",
	[ST_F_KILL] = "peer-kill", [ST_F_BOTH_DOWN] = "both-rails-down",
	[ST_F_STOP_LONG] = "stop-past-timeout", [ST_F_FREEZE_LONG] = "freeze-past-timeout",
};

const char *st_fault_name(enum st_fault f) { return names[f]; }

void st_control(const struct dp_pair *p, const char *fmt, ...)
{
	char line[128], path[sizeof p->fabric + 16];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	DP_CHECK(n > 0 && n < (int)sizeof line - 1, "control line too long");
	line[n++] = '\n';
	snprintf(path, sizeof path, "%s/control", p->fabric);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	DP_CHECK(fd >= 0, "%s: %s", path, strerror(errno));
	/* One write per line: O_APPEND keeps lines whole for the readers. */
	DP_CHECK(write(fd, line, (size_t)n) == n, "control write: %s", strerror(errno));
	close(fd);
	if (getenv("DP_DEBUG") != NULL)
		fprintf(stderr, "[a] %.3f control: %.*s", dp_now(), n, line);
}

/* ---- survivable faults: one at a time, each undone after a while ---------- */

static double ms(struct st_faults *f, int lo, int hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
	return (lo + (double)st_below(&f->rng, span)) / 1000.0;
}

static enum st_fault pick(struct st_faults *f)
{
	enum st_fault all[] = {ST_F_RAIL_DOWN, ST_F_FLAP, ST_F_RATE, ST_F_FREEZE, ST_F_STOP,
			       ST_F_OTHER_RAIL};
	for (;;) {
		enum st_fault k = all[st_below(&f->rng, sizeof all / sizeof all[0])];
		if (k != ST_F_OTHER_RAIL || f->failback)
			return k;
	}
}

static void start(struct st_faults *f)
{
	const struct dp_pair *p = f->p;
	enum st_fault k = pick(f);
	double now = dp_now();
	/* Today a rail that came back is not used again by the comms it left
	 * (issue 10), so without failback only one rail (f->rail) ever goes
	 * down; with it, either rail, one at a time. */
	int rail = k == ST_F_OTHER_RAIL ? 1 - f->rail : f->rail;
	if (f->failback && k != ST_F_OTHER_RAIL)
		rail = (int)st_below(&f->rng, 2);
	f->cur = k;
	f->cur_rail = rail;
	f->flaps = 0;
	switch (k) {
	case ST_F_RAIL_DOWN:
	case ST_F_OTHER_RAIL:
		st_control(p, "a %s down", st_rails[rail]);
		f->undo_at = now + ms(f, 300, 2500);
		break;
	case ST_F_FLAP:
		st_control(p, "a %s down", st_rails[rail]);
		f->flaps = 1 + (int)st_below(&f->rng, 3);
		f->undo_at = now + ms(f, 5, 60);
		break;
	case ST_F_RATE: {
		static const char *const rates[] = {"0.1", "0.25", "0.5", "0.75"};
		f->cur_host = st_below(&f->rng, 2) ? "b" : "a";
		st_control(p, "%s %s rate %s", f->cur_host, st_rails[rail],
			   rates[st_below(&f->rng, 4)]);
		f->undo_at = now + ms(f, 300, 3000);
		break;
	}
	case ST_F_FREEZE:
		st_control(p, "b freeze");
		f->undo_at = now + ms(f, 100, 1200);
		break;
	case ST_F_STOP:
		DP_CHECK(kill(p->child, SIGSTOP) == 0, "SIGSTOP: %s", strerror(errno));
		f->undo_at = now + ms(f, 100, 1200);
		break;
	default:
		DP_CHECK(false, "not a survivable fault");
	}
	f->injected++;
	f->count[k]++;
}

static void undo(struct st_faults *f)
{
	const struct dp_pair *p = f->p;
	switch (f->cur) {
	case ST_F_RAIL_DOWN:
	case ST_F_OTHER_RAIL:
		st_control(p, "a %s up", st_rails[f->cur_rail]);
		break;
	case ST_F_FLAP:
		st_control(p, "a %s up", st_rails[f->cur_rail]);
		if (--f->flaps > 0) {   /* down again soon: a flapping link */
			f->redown_at = dp_now() + ms(f, 5, 60);
			return;
		}
		break;
	case ST_F_RATE:
		st_control(p, "%s %s rate 1", f->cur_host, st_rails[f->cur_rail]);
		break;
	case ST_F_FREEZE:
		st_control(p, "b thaw");
		break;
	case ST_F_STOP:
		DP_CHECK(kill(p->child, SIGCONT) == 0, "SIGCONT: %s", strerror(errno));
		break;
	default:
		break;
	}
	if (f->failback && (f->cur == ST_F_RAIL_DOWN || f->cur == ST_F_OTHER_RAIL ||
			    f->cur == ST_F_FLAP)) {
		f->back_rail = f->cur_rail;
		f->back_since = dp_now();
		f->back_a = dp_counter(p, "a", st_rails[f->cur_rail], "port_xmit_data");
		f->back_b = dp_counter(p, "b", st_rails[f->cur_rail], "port_xmit_data");
	}
	f->cur = ST_F_NONE;
	if (f->t != NULL)
		f->next_at_msgs = st_traffic_done(f->t) + f->gap / 2 + st_below(&f->rng, f->gap + 1);
}

/* The rail that came back carries traffic both ways again, and `settle`
 * seconds passed for the comms that rejoin last; after 30 s the next fault
 * comes anyway (a rail that never rejoins then shows as a failed comm). */
static bool readmitted(struct st_faults *f, double now)
{
	const char *r = st_rails[f->back_rail];
	if (now < f->back_since + f->settle || now < f->back_look)
		return false;
	f->back_look = now + 0.05;      /* two sysfs reads, not on every loop turn */
	if (now < f->back_since + 30.0 &&
	    (dp_counter(f->p, "a", r, "port_xmit_data") <= f->back_a ||
	     dp_counter(f->p, "b", r, "port_xmit_data") <= f->back_b))
		return false;
	f->back_rail = -1;
	return true;
}

void st_faults_hook(void *ctx, struct st_traffic *t)
{
	struct st_faults *f = ctx;
	f->t = t;
	double now = dp_now();
	if (f->redown_at != 0 && now >= f->redown_at) {
		f->redown_at = 0;
		st_control(f->p, "a %s down", st_rails[f->cur_rail]);
		f->undo_at = now + ms(f, 5, 60);
		return;
	}
	if (f->cur != ST_F_NONE) {
		if (f->redown_at == 0 && now >= f->undo_at)
			undo(f);
		return;
	}
	if (f->back_rail >= 0 && !readmitted(f, now))
		return;
	if (f->injected < f->max && st_traffic_done(t) >= f->next_at_msgs)
		start(f);
}

void st_faults_init(struct st_faults *f, const struct dp_pair *p, uint64_t seed, uint64_t msgs,
		    int max, bool failback)
{
	memset(f, 0, sizeof *f);
	f->p = p;
	f->rng = seed ^ 0xfa017ull;
	f->max = max;
	f->failback = failback;
	f->rail = (int)st_below(&f->rng, 2);
	f->cur = ST_F_NONE;
	f->back_rail = -1;
	f->settle = 1.0;
	/* Spread over the run: one fault per 1/(max+1) of the messages. */
	f->gap = max > 0 ? msgs / (uint64_t)(max + 1) : msgs;
	f->next_at_msgs = f->gap / 2 + st_below(&f->rng, f->gap + 1);
}

/* Whatever a survivable run left applied (a fault the run ended inside). */
void st_faults_finish(struct st_faults *f)
{
	f->redown_at = 0;
	f->flaps = 0;
	if (f->cur != ST_F_NONE)
		undo(f);
}
