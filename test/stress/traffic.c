/* The stress traffic of one host: every comm of the run driven from one loop
 * the way NCCL's proxy drives its connections: post while the window has
 * room, test the oldest request, never block on one comm (both directions
 * run at once, so a host that waited on one comm would starve the peer's).
 * Each comm's buffers come from a ring in one registered arena, in the order
 * they are posted and freed. Receivers check every byte and a guard past it. */
#define _GNU_SOURCE
#include <string.h>

#include "stress.h"

struct st_slot {                        /* one group in flight */
	struct st_group g;
	size_t off[SPARK_MAX_RECVS];    /* arena offset of each buffer */
	size_t end;                     /* ring position after the group */
	void *req[SPARK_MAX_RECVS];     /* sender: by issue order; receiver: req[0] */
	int posted, tested;
};

struct st_comm {
	void *comm, *mh;
	bool send, failed, finished;
	int idx;
	struct st_plan plan;
	uint64_t quota;                 /* messages this comm carries (0: no end) */
	uint8_t *arena;
	size_t cap, head, tail;         /* the ring: [tail, head) in use, maybe wrapped */
	struct st_slot q[ST_WIN_MAX];
	int qh, qn, win;
	uint64_t wrng, groups;
	uint64_t target;                /* ST_DRAIN: groups both sides open before idling */
	struct st_group next;
	bool have_next, idle_posted;
	double err_at;
	ncclResult_t err;
};

struct st_traffic {
	struct dp_pair *p;
	const ncclNet_v8_t *net;
	struct st_config cfg;
	int n;
	struct st_comm c[ST_MAX_COMMS];
	struct st_figures fig;
	uint64_t done;
	double t0, deadline, last_move;
	double stall_s;
	bool expect_fail, abort_on_error;
	enum st_phase phase;
};

/* ---- the ring -------------------------------------------------------------- */

static bool ring_alloc(struct st_comm *c, size_t len, size_t *off)
{
	len = (len + 63) & ~(size_t)63;
	if (len == 0)
		len = 64;
	if (c->qn == 0)
		c->head = c->tail = 0;
	if (c->head >= c->tail) {
		if (c->cap - c->head >= len) {
			*off = c->head;
		} else if (c->tail > len) {
			*off = 0;       /* wrap; the end of the arena stays unused */
		} else {
			return false;
		}
	} else if (c->tail - c->head > len) {
		*off = c->head;
	} else {
		return false;
	}
	c->head = *off + len;
	return true;
}

/* ---- windows: NCCL keeps 1..32 requests open per comm, varying ------------ */

static void redraw_window(struct st_comm *c)
{
	static const int wins[] = {1, 2, 3, 4, 8, 8, 16, 16, 32, 32};
	c->win = wins[st_below(&c->wrng, sizeof wins / sizeof wins[0])];
}

/* ---- posting ----------------------------------------------------------------- */

static void fail_comm(struct st_traffic *t, struct st_comm *c, ncclResult_t res,
		      const char *what)
{
	DP_CHECK(t->expect_fail, "comm %d (%s) %s: error %d (SPARK_STRESS_SEED=%s)", c->idx,
		 c->send ? "send" : "recv", what, (int)res, getenv("SPARK_STRESS_SEED"));
	c->failed = true;
	c->err = res;
	c->err_at = dp_now();
	if (t->fig.first_err == 0)
		t->fig.first_err = c->err_at;
	t->fig.last_err = c->err_at;
	t->fig.failed_comms++;
}

static bool more_groups(const struct st_comm *c)
{
	return c->have_next || c->quota == 0 || c->plan.msgs < c->quota;
}

/* Takes the next group off the plan into a new slot; false when none fits. */
static struct st_slot *open_slot(struct st_traffic *t, struct st_comm *c)
{
	if (c->qn >= c->win || !more_groups(c))
		return NULL;
	if (t->phase == ST_DRAIN && c->groups >= c->target)
		return NULL;
	/* Idle: one request per comm waits. Even comms: the receiver waits for
	 * data; odd comms: the sender waits for a clear-to-send. */
	if (t->phase == ST_IDLE && (c->idle_posted || (c->idx % 2 == 0) == c->send))
		return NULL;
	c->idle_posted = t->phase == ST_IDLE;
	if (!c->have_next) {
		st_plan_next(&c->plan, &c->next);
		c->have_next = true;
	}
	size_t off;
	if (!ring_alloc(c, c->next.bytes, &off))
		return NULL;
	struct st_slot *s = &c->q[(c->qh + c->qn) % ST_WIN_MAX];
	memset(s, 0, sizeof *s);
	s->g = c->next;
	c->have_next = false;
	for (int i = 0; i < s->g.n; i++) {
		s->off[i] = off;
		off += (s->g.m[i].posted + 63) & ~(size_t)63;
	}
	s->end = c->head;
	c->qn++;
	if (++c->groups % 256 == 0)
		redraw_window(c);
	for (int i = 0; i < s->g.n; i++) {
		const struct st_msg *m = &s->g.m[i];
		uint8_t *b = c->arena + s->off[i];
		if (c->send) {
			dp_fill(b, m->size, m->id);
		} else {
			size_t slack = m->posted - m->size;
			memset(b + m->size, ST_GUARD_BYTE, slack < ST_GUARD ? slack : ST_GUARD);
		}
	}
	return s;
}

static bool post_recv(struct st_traffic *t, struct st_comm *c, struct st_slot *s)
{
	void *bufs[SPARK_MAX_RECVS], *mhs[SPARK_MAX_RECVS];
	int sizes[SPARK_MAX_RECVS], tags[SPARK_MAX_RECVS];
	for (int i = 0; i < s->g.n; i++) {
		bufs[i] = c->arena + s->off[i];
		sizes[i] = (int)s->g.m[i].posted;
		tags[i] = (int)s->g.m[i].tag;
		mhs[i] = c->mh;
	}
	ncclResult_t res = t->net->irecv(c->comm, s->g.n, bufs, sizes, tags, mhs, &s->req[0]);
	if (res != ncclSuccess) {
		fail_comm(t, c, res, "irecv");
		return false;
	}
	s->posted = s->req[0] != NULL;
	return s->posted;
}

/* Issues the slot's isends in the group's order; false when one must wait. */
static bool post_sends(struct st_traffic *t, struct st_comm *c, struct st_slot *s)
{
	while (s->posted < s->g.n) {
		const struct st_msg *m = &s->g.m[s->g.order[s->posted]];
		uint8_t *b = c->arena + s->off[s->g.order[s->posted]];
		void *req = NULL;
		ncclResult_t res = t->net->isend(c->comm, b, (int)m->size, (int)m->tag, c->mh, &req);
		if (res != ncclSuccess) {
			fail_comm(t, c, res, "isend");
			return false;
		}
		if (req == NULL)
			return false;    /* no clear-to-send yet: NCCL retries later */
		s->req[s->posted++] = req;
	}
	return true;
}

static bool post(struct st_traffic *t, struct st_comm *c)
{
	bool moved = false;
	for (;;) {
		struct st_slot *s = c->qn ? &c->q[(c->qh + c->qn - 1) % ST_WIN_MAX] : NULL;
		int want = s == NULL ? 0 : c->send ? s->g.n : 1;
		if (s == NULL || s->posted == want) {
			s = open_slot(t, c);
			if (s == NULL)
				return moved;
		}
		int before = s->posted;
		bool all = c->send ? post_sends(t, c, s) : post_recv(t, c, s);
		moved |= s->posted > before;
		if (!all || c->failed)
			return moved;
	}
}

/* ---- completing ------------------------------------------------------------- */

static void check_group(struct st_traffic *t, struct st_comm *c, const struct st_slot *s,
			const int *got)
{
	for (int i = 0; i < s->g.n; i++) {
		const struct st_msg *m = &s->g.m[i];
		const uint8_t *b = c->arena + s->off[i];
		t->fig.msgs++;
		if (got[i] != (int)m->size) {
			fprintf(stderr, "[%s] comm %d message id %u: %d bytes, sent %u\n",
				dp_host(), c->idx, m->id, got[i], m->size);
			t->fig.bad_sizes++;
			continue;
		}
		t->fig.bytes += m->size;
		uint64_t bad = dp_count_bad(b, m->size, m->id);
		size_t slack = m->posted - m->size;
		for (size_t k = 0; k < slack && k < ST_GUARD; k++)
			bad += b[m->size + k] != ST_GUARD_BYTE;
		if (bad)
			fprintf(stderr, "[%s] comm %d message id %u (%u bytes): %llu bytes wrong\n",
				dp_host(), c->idx, m->id, m->size, (unsigned long long)bad);
		t->fig.bad_bytes += bad;
	}
}

/* Tests the oldest requests, retires the groups done; true if any moved. */
static bool progress(struct st_traffic *t, struct st_comm *c)
{
	bool moved = false;
	while (c->qn > 0 && !c->failed) {
		struct st_slot *s = &c->q[c->qh];
		int want = c->send ? s->g.n : 1;
		while (s->tested < s->posted) {
			int done = 0, got[SPARK_MAX_RECVS];
			memset(got, 0xff, sizeof got);
			ncclResult_t res = t->net->test(s->req[s->tested], &done, got);
			if (res != ncclSuccess) {
				fail_comm(t, c, res, "test");
				return moved;
			}
			if (!done)
				return moved;
			moved = true;
			s->tested++;
			t->done += c->send ? 1 : (uint64_t)s->g.n;
			if (!c->send)
				check_group(t, c, s, got);
		}
		if (s->tested < want)
			return moved;
		c->tail = s->end;
		c->qh = (c->qh + 1) % ST_WIN_MAX;
		c->qn--;
	}
	return moved;
}

/* ---- the loop ------------------------------------------------------------------ */

static void open_comm(struct st_traffic *t, int i)
{
	struct st_comm *c = &t->c[i];
	int e = t->cfg.comms_each_way;
	c->idx = i;
	c->send = (i < e) != t->p->is_b;     /* a sends on 0..e-1, b on e..2e-1 */
	c->comm = c->send ? dp_connect_send(t->p, t->net, 0) : dp_connect_recv(t->p, t->net, 0);
	st_plan_init(&c->plan, t->cfg.seed, i, t->cfg.mix);
	c->quota = t->cfg.msgs ? (t->cfg.msgs + (uint64_t)t->n - 1) / (uint64_t)t->n : 0;
	c->cap = st_group_cap(t->cfg.mix) + 32 * ST_MiB;
	c->arena = dp_alloc(c->cap);
	DP_OK(t->net->regMr(c->comm, c->arena, c->cap, NCCL_PTR_HOST, &c->mh));
	c->wrng = t->cfg.seed ^ (uint64_t)(i * 2 + t->p->is_b) * 0x2545f4914f6cdd1dull;
	redraw_window(c);
}

struct st_traffic *st_traffic_open(struct dp_pair *p, const ncclNet_v8_t *net,
				   const struct st_config *cfg)
{
	DP_CHECK(cfg->comms_each_way >= 1 && 2 * cfg->comms_each_way <= ST_MAX_COMMS,
		 "%d comms each way", cfg->comms_each_way);
	struct st_traffic *t = calloc(1, sizeof *t);
	DP_CHECK(t != NULL, "calloc");
	t->p = p;
	t->net = net;
	t->cfg = *cfg;
	t->n = 2 * cfg->comms_each_way;
	for (int i = 0; i < t->n; i++)
		open_comm(t, i);
	t->fig.comms = t->n;
	return t;
}

uint64_t st_traffic_done(const struct st_traffic *t) { return t->done; }

void st_traffic_phase(struct st_traffic *t, enum st_phase ph) { t->phase = ph; }

void st_traffic_room_for_one(struct st_traffic *t)
{
	for (int i = 0; i < t->n; i++) {
		struct st_comm *c = &t->c[i];
		if (c->failed || c->finished)
			continue;
		if (c->win <= c->qn && c->qn < ST_WIN_MAX)
			c->win = c->qn + 1;
		/* A receiver's next group may not fit the ring while the open
		 * ones hold it; one of 64 bytes does. No sender answers it (the
		 * peer's NICs are frozen), so the plans need not agree past it. */
		if (!c->send)
			c->next = (struct st_group){.n = 1, .m = {{64, 64, 0, 0}}, .bytes = 64};
		c->have_next = !c->send || c->have_next;
	}
}

void st_traffic_finish(struct st_traffic *t)
{
	for (int i = 0; i < t->n; i++)
		t->c[i].finished = true;
}

void st_traffic_groups(const struct st_traffic *t, uint64_t *groups)
{
	for (int i = 0; i < t->n; i++)
		groups[i] = t->c[i].groups;
}

void st_traffic_drain_to(struct st_traffic *t, const uint64_t *peer_groups)
{
	for (int i = 0; i < t->n; i++) {
		struct st_comm *c = &t->c[i];
		c->target = c->groups > peer_groups[i] ? c->groups : peer_groups[i];
	}
}

bool st_traffic_quiet(const struct st_traffic *t)
{
	for (int i = 0; i < t->n; i++) {
		const struct st_comm *c = &t->c[i];
		if (!c->failed && (c->qn > 0 || c->groups < c->target))
			return false;
	}
	return true;
}

bool st_traffic_idle_posted(const struct st_traffic *t)
{
	for (int i = 0; i < t->n; i++) {
		const struct st_comm *c = &t->c[i];
		if ((c->idx % 2 == 0) == c->send || c->failed)
			continue;
		/* A sender's isend stays unmatched (NULL): its slot open is enough. */
		if (!c->idle_posted || (!c->send && c->q[c->qh].posted == 0))
			return false;
	}
	return true;
}

int st_traffic_alive(const struct st_traffic *t)
{
	int n = 0;
	for (int i = 0; i < t->n; i++)
		n += !t->c[i].failed && !t->c[i].finished;
	return n;
}

void st_traffic_set_deadline(struct st_traffic *t, double deadline) { t->deadline = deadline; }

void st_traffic_abort_on_error(struct st_traffic *t) { t->abort_on_error = true; }

static void abort_rest(struct st_traffic *t)
{
	for (int i = 0; i < t->n; i++) {
		struct st_comm *c = &t->c[i];
		if (!c->failed && !c->finished) {
			c->finished = true;
			t->fig.aborted_comms++;
		}
	}
}

static void hang(struct st_traffic *t, const char *why)
{
	for (int i = 0; i < t->n; i++)
		if (!t->c[i].failed && !t->c[i].finished)
			fprintf(stderr, "[%s] comm %d (%s): %d groups open (the oldest: %d of %d "
				"posted, %d tested), %llu messages planned\n",
				dp_host(), i, t->c[i].send ? "send" : "recv", t->c[i].qn,
				t->c[i].qn ? t->c[i].q[t->c[i].qh].posted : 0,
				t->c[i].qn ? t->c[i].q[t->c[i].qh].g.n : 0,
				t->c[i].qn ? t->c[i].q[t->c[i].qh].tested : 0,
				(unsigned long long)t->c[i].plan.msgs);
	DP_CHECK(false, "%d comms neither done nor failed %s (SPARK_STRESS_SEED=%s): a hang",
		 st_traffic_alive(t), why, getenv("SPARK_STRESS_SEED"));
}

void st_traffic_run(struct st_traffic *t, st_hook hook, void *ctx, bool expect_fail,
		    double stall_s)
{
	t->expect_fail = expect_fail;
	t->t0 = t->last_move = dp_now();
	t->stall_s = stall_s;
	int idle = 0;
	while (st_traffic_alive(t) > 0) {
		bool moved = false;
		for (int i = 0; i < t->n; i++) {
			struct st_comm *c = &t->c[i];
			if (c->failed || c->finished)
				continue;
			moved |= progress(t, c);
			if (!c->failed)
				moved |= post(t, c);
			if (!c->failed && c->qn == 0 && !more_groups(c) && t->phase == ST_RUN)
				c->finished = true;
			/* Idle, and this side has nothing to wait for: nothing to report
			 * an error on either (NCCL calls a comm only with work for it). */
			if (!c->failed && c->qn == 0 && t->phase == ST_IDLE &&
			    (c->idx % 2 == 0) == c->send) {
				c->finished = true;
				t->fig.idle_comms++;
			}
		}
		if (hook != NULL)
			hook(ctx, t);
		if (t->abort_on_error && t->fig.failed_comms > 0)
			abort_rest(t);
		/* Nothing moved: let the emulated NICs (threads of both hosts) run. */
		double now = dp_now();
		if (moved) {
			t->last_move = now;
		} else if (++idle >= 64) {
			idle = 0;
			dp_sleep_us(20);
		}
		if (t->deadline != 0 && now > t->deadline)
			hang(t, "by the deadline");
		if (now - t->last_move > t->stall_s)
			hang(t, "and no request moved for the stall limit");
	}
	t->fig.seconds = dp_now() - t->t0;
}

void st_traffic_figures(const struct st_traffic *t, struct st_figures *out) { *out = t->fig; }

void st_traffic_close(struct st_traffic *t, struct st_figures *out)
{
	for (int i = 0; i < t->n; i++) {
		struct st_comm *c = &t->c[i];
		/* After a failure close must still release everything: its result
		 * is not checked then, only that it returns. */
		ncclResult_t r1 = t->net->deregMr(c->comm, c->mh);
		ncclResult_t r2 = c->send ? t->net->closeSend(c->comm) : t->net->closeRecv(c->comm);
		DP_CHECK(c->failed || (r1 == ncclSuccess && r2 == ncclSuccess),
			 "comm %d: deregMr %d, close %d", i, (int)r1, (int)r2);
		dp_free(c->arena, c->cap);
	}
	*out = t->fig;
	free(t);
}
