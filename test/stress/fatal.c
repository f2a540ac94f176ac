/* Fatal faults: the peer killed, both rails down, the peer stopped or its
 * NICs frozen past NCCL_SPARK_PEER_TIMEOUT. Both sides must return an error
 * on every comm within a bound, and never hang or crash; close must still
 * give everything back. Each comes in two forms: "busy", the fault at a
 * random point of the traffic, and "idle", the fault while every comm only
 * waits (receivers for data, senders for a clear-to-send), which is where a
 * plugin that learns of failures from its own work requests never does.
 * The idle form is reached in step with host b over the harness's pipes:
 * a says drain (with its group counts), both finish every group either has
 * opened, both post their waiting requests, then a strikes. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "fatal.h"

struct note {                           /* one message on the harness's pipes */
	char cmd;                       /* d(rain) g(roups) q(uiet) i(dle) p(osted) e(nd) */
	uint64_t groups[ST_MAX_COMMS];
};

static void note(struct st_fatal *x, char cmd)
{
	struct note n = {.cmd = cmd};
	st_traffic_groups(x->t, n.groups);
	dp_send(x->p, &n, sizeof n);
}

static bool heard(struct st_fatal *x, struct note *n)
{
	struct pollfd pfd = {x->p->is_b ? x->p->pipe_ab[0] : x->p->pipe_ba[0], POLLIN, 0};
	if (poll(&pfd, 1, 0) != 1)
		return false;
	dp_recv(x->p, n, sizeof *n);    /* < PIPE_BUF: written whole */
	return true;
}

static void inject(struct st_fatal *x)
{
	x->at = dp_now();
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
		/* Work in flight towards the frozen NICs from here on, even if
		 * every window was full and every clear-to-send had landed. */
		if (!x->idle)
			st_traffic_room_for_one(x->t);
		break;
	default:
		DP_CHECK(false, "not a fatal fault");
	}
	st_traffic_set_deadline(x->t, x->at + x->bound);
}

/* The peer's NICs frozen while nothing is in flight: its process lives and
 * heartbeats, and no work request of either side is out to time out, so no
 * comm can tell a frozen NIC from a peer with nothing to send (and nothing
 * is lost: a thaw would carry on). For quiet_s (past the peer timeout) no
 * comm may fail: a live peer taken for dead would be the bug. Then host a
 * posts work again, as NCCL's next operation does: its clear-to-sends and
 * data find no answer, the RC retries run out on both rails, and from that
 * work on the bound counts. */
static void freeze_idle_step(struct st_fatal *x, double now)
{
	if (now < x->at + x->quiet_s)
		return;
	struct st_figures f;
	st_traffic_figures(x->t, &f);
	DP_CHECK(f.failed_comms == 0, "%d comms failed while the peer's NICs were frozen with "
		 "nothing in flight: its process lives, nothing could have timed out",
		 f.failed_comms);
	st_traffic_phase(x->t, ST_RUN);
	st_traffic_room_for_one(x->t);  /* the idle receive may fill its window */
	x->at = now;
	st_traffic_set_deadline(x->t, now + x->bound);
	x->state = 9;
}

static void hook_a(struct st_fatal *x)
{
	struct note n;
	double now = dp_now();
	if (x->state == 10)
		return freeze_idle_step(x, now);
	if (x->state == 0 && x->script != NULL) {
		if (x->script(x)) {             /* the script is done: end in step */
			st_traffic_phase(x->t, ST_DRAIN);
			note(x, 'd');
			x->ending = true;
			x->state = 1;
		}
	} else if (x->state == 0 && st_traffic_done(x->t) >= x->trigger) {
		if (!x->idle) {
			inject(x);
			x->state = 9;
			return;
		}
		st_traffic_phase(x->t, ST_DRAIN);
		note(x, 'd');
		x->state = 1;
	}
	if (x->state == 0 || x->state == 9)
		return;
	while (heard(x, &n)) {
		if (n.cmd == 'g')
			st_traffic_drain_to(x->t, n.groups);
		x->peer_quiet |= n.cmd == 'q';
		x->peer_posted |= n.cmd == 'p';
	}
	if (x->state == 1 && x->peer_quiet && st_traffic_quiet(x->t) && x->ending) {
		note(x, 'e');
		st_traffic_finish(x->t);
		x->state = 9;
	} else if (x->state == 1 && x->peer_quiet && st_traffic_quiet(x->t)) {
		st_traffic_phase(x->t, ST_IDLE);
		note(x, 'i');
		x->state = 2;
	} else if (x->state == 2 && x->peer_posted && st_traffic_idle_posted(x->t)) {
		x->ready_at = now + 0.3;        /* the clear-to-sends land */
		x->state = 3;
	} else if (x->state == 3 && now >= x->ready_at) {
		inject(x);
		x->state = x->kind == ST_F_FREEZE_LONG ? 10 : 9;
	}
}

static void hook_b(struct st_fatal *x)
{
	struct note n;
	while (x->state < 9 && heard(x, &n)) {
		if (n.cmd == 'd') {
			st_traffic_phase(x->t, ST_DRAIN);
			note(x, 'g');
			st_traffic_drain_to(x->t, n.groups);
			x->state = 1;
		} else if (n.cmd == 'i') {
			st_traffic_phase(x->t, ST_IDLE);
			x->state = 2;
		} else if (n.cmd == 'e') {
			st_traffic_finish(x->t);
			x->state = 9;
		}
	}
	if (x->state == 1 && st_traffic_quiet(x->t)) {
		note(x, 'q');
		x->state = 5;
	} else if (x->state == 2 && st_traffic_idle_posted(x->t)) {
		note(x, 'p');
		x->state = 9;   /* nothing more to hear: a strikes */
	}
}

void st_fatal_hook(void *ctx, struct st_traffic *t)
{
	struct st_fatal *x = ctx;
	x->t = t;
	if (x->p->is_b)
		hook_b(x);
	else
		hook_a(x);
}
