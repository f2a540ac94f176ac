/* The plan both hosts run in step: which transports, which sizes, windows and
 * comm counts, how many repetitions. Repetitions of one point run the
 * transports in turn (ours, stock, one; stock, one, ours; ...), so the noise
 * of a shared machine falls on all of them alike. */
#include <stdlib.h>
#include <string.h>

#include "sb.h"

#define SB_MIN_MSGS 4
#define SB_MAX_MSGS 1000

static void die_if(bool bad, const char *what)
{
	if (bad)
		sb_die("the peer sent a malformed plan (%s)", what);
}

void sb_plan_check(const struct sb_plan *p)
{
	die_if(p->magic != SB_PLAN_MAGIC, "magic: another spark-bench version?");
	die_if(p->nsizes > SB_MAX_SIZES || p->nwin > SB_MAX_LIST || p->ncomms > SB_MAX_LIST ||
	       p->nlat > SB_MAX_LIST || p->nnccl > SB_MAX_LIST || p->nncclc > SB_MAX_LIST,
	       "list length");
	die_if(p->reps < 1 || p->reps > SB_MAX_REPS, "repetitions");
	die_if(p->cap < 4096 || p->cap > (3ull << 30), "buffer size");
	die_if(p->lat_iters < 1 || p->lat_iters > 100000, "latency iterations");
	die_if(p->budget < 1, "budget");
	for (uint32_t i = 0; i < p->nsizes; i++)
		die_if(p->sizes[i] > p->cap || p->sizes[i] > (1u << 30), "size");
	for (uint32_t i = 0; i < p->nlat; i++)
		die_if(p->lat_sizes[i] > p->cap || p->lat_sizes[i] > (1u << 30), "latency size");
	for (uint32_t i = 0; i < p->nnccl; i++)
		die_if(p->nccl_sizes[i] > p->cap, "nccl size");
	for (uint32_t i = 0; i < p->nwin; i++)
		die_if(p->win[i] < 1 || p->win[i] * sb_plan_max_comms(p) > SB_MAX_WINDOW, "window");
	for (uint32_t i = 0; i < p->ncomms; i++)
		die_if(p->comms[i] < 1 || 2 * p->comms[i] > SB_MAX_LINKS, "comms");
	for (uint32_t i = 0; i < p->nncclc; i++)
		die_if(p->nccl_comms[i] < 1 || 2 * p->nccl_comms[i] > SB_MAX_LINKS ||
		       8 * p->nccl_comms[i] > SB_MAX_WINDOW, "nccl comms");
}

int sb_plan_max_comms(const struct sb_plan *p)
{
	uint32_t m = 1;
	for (uint32_t i = 0; i < p->ncomms; i++)
		m = p->comms[i] > m ? p->comms[i] : m;
	for (uint32_t i = 0; i < p->nncclc && (p->tests & SB_T_NCCL); i++)
		m = p->nccl_comms[i] > m ? p->nccl_comms[i] : m;
	return (int)m;
}

struct run {
	struct sb_env *e;
	const struct sb_plan *p;
	struct sb_results *r;
	struct sb_impl im[3];   /* ours, stock (both HCAs), one (one HCA) */
	int nim;
};

static int msgs_for(const struct sb_plan *p, size_t size)
{
	uint64_t c = p->budget / (size ? size : 1);
	return c < SB_MIN_MSGS ? SB_MIN_MSGS : c > SB_MAX_MSGS ? SB_MAX_MSGS : (int)c;
}

/* Comms of a transport for `comms` logical comms: stock with both HCAs has
 * one per HCA for each. */
static int links_of(const struct sb_impl *im, int comms)
{
	return comms * im->links_per_comm;
}

static struct sb_point *new_point(struct run *x, const char *test, const char *impl,
				  size_t size, int window, int comms)
{
	struct sb_results *r = x->r;
	if (r->n >= (int)(sizeof r->pt / sizeof r->pt[0]))
		sb_die("too many points");
	struct sb_point *pt = &r->pt[r->n++];
	memset(pt, 0, sizeof *pt);
	snprintf(pt->test, sizeof pt->test, "%s", test);
	snprintf(pt->impl, sizeof pt->impl, "%s", impl);
	pt->size = size;
	pt->window = window;
	pt->comms = comms;
	return pt;
}

/* One point (size x window x comms) of every transport, reps interleaved. */
static void stream_point(struct run *x, const char *test, size_t size, int window, int comms,
			 enum sb_dir dir, int impl_mask)
{
	struct sb_point *pt[3] = {NULL, NULL, NULL};
	char sz[32];
	sb_size_str(size, sz, sizeof sz);
	if (x->e->client)
		sb_progress("%s %s x %d in flight, %d comm%s", test, sz, window, comms,
			    comms > 1 ? "s" : "");
	int count = msgs_for(x->p, size);
	/* Each repetition starts with the next transport: whatever the first
	 * stream of a point pays (a new size's first messages) falls on each
	 * in turn, not always on ours. */
	for (uint32_t rep = 0; rep < x->p->reps; rep++)
		for (int k = 0; k < x->nim; k++) {
			int i = (int)((rep + (uint32_t)k) % (uint32_t)x->nim);
			const struct sb_impl *im = &x->im[i];
			if (!(impl_mask & (1 << i)) || im->ops == NULL)
				continue;
			double v = sb_stream(x->e, im, links_of(im, comms), size, window * comms,
					     count, dir);
			if (!x->e->client)
				continue;
			if (pt[i] == NULL)
				pt[i] = new_point(x, test, im->name, size, window, comms);
			pt[i]->v[pt[i]->nrep++] = v;
		}
	for (int i = 0; i < 3; i++)
		if (pt[i])
			sb_point_done(pt[i]);
}

static void run_grid(struct run *x)
{
	const struct sb_plan *p = x->p;
	for (uint32_t s = 0; s < p->nsizes; s++)
		for (uint32_t w = 0; w < p->nwin; w++)
			for (uint32_t c = 0; c < p->ncomms; c++)
				stream_point(x, "uni", p->sizes[s], (int)p->win[w],
					     (int)p->comms[c], SB_UNI, 7);
}

static void run_bidir(struct run *x)
{
	const struct sb_plan *p = x->p;
	for (uint32_t s = 0; s < p->nsizes; s++)
		stream_point(x, "bidir", p->sizes[s], (int)p->win[0], 1, SB_BIDIR, 7);
}

static void run_nccl(struct run *x)
{
	const struct sb_plan *p = x->p;
	for (uint32_t s = 0; s < p->nnccl; s++)
		for (uint32_t c = 0; c < p->nncclc; c++)
			stream_point(x, "nccl", p->nccl_sizes[s], 8, (int)p->nccl_comms[c], SB_UNI,
				     7);
}

/* Ping-pong on comm 0: ours, and one HCA (stock with both HCAs would put a
 * lone message on one HCA too). */
static void run_latency(struct run *x)
{
	const struct sb_plan *p = x->p;
	sb_set_nap(0);
	for (uint32_t s = 0; s < p->nlat; s++) {
		struct sb_point *pt[3] = {NULL, NULL, NULL};
		if (x->e->client)
			sb_progress("ping-pong %llu B", (unsigned long long)p->lat_sizes[s]);
		for (uint32_t rep = 0; rep < p->reps; rep++)
			for (int i = 0; i < x->nim; i++) {
				if (i == 1 || x->im[i].ops == NULL)
					continue;
				double v = sb_pingpong(x->e, &x->im[i], p->lat_sizes[s],
						       (int)p->lat_iters);
				if (!x->e->client)
					continue;
				if (pt[i] == NULL)
					pt[i] = new_point(x, "pingpong", x->im[i].name,
							  p->lat_sizes[s], 1, 1);
				pt[i]->v[pt[i]->nrep++] = v;
			}
		for (int i = 0; i < 3; i++)
			if (pt[i])
				sb_point_done(pt[i]);
	}
	sb_set_nap(SB_NAP_US);
}

/* The caps: raw RDMA WRITEs, no protocol; one HCA (link cap), both (cable). */
static void run_raw(struct run *x)
{
	const struct sb_plan *p = x->p;
	size_t size = p->cap < (64u << 20) ? p->cap : (64u << 20);
	const char *name[2] = {"link", "cable"};
	struct sb_point *pt[2] = {NULL, NULL};
	if (x->e->client)
		sb_progress("raw RDMA WRITE: link and cable caps");
	for (uint32_t rep = 0; rep < p->reps; rep++)
		for (int k = 0; k < 2; k++) {
			struct sb_impl *im = k == 0 ? &x->im[2] : &x->im[1];
			if (im->ops == NULL)
				continue;
			int n = msgs_for(p, size) * (k + 1);
			double v = sb_stock_raw(x->e, im, k + 1, size, 2, n);
			if (!x->e->client)
				continue;
			if (pt[k] == NULL)
				pt[k] = new_point(x, "raw", name[k], size, 2 * (k + 1), 1);
			pt[k]->v[pt[k]->nrep++] = v;
		}
	for (int k = 0; k < 2; k++)
		if (pt[k])
			sb_point_done(pt[k]);
}

/* One half of host a at a quarter of its rate (softroce's control file): the
 * fused device should shift its weights; stock alternates whole messages. */
static void run_degraded(struct run *x, const char *fabric)
{
	if (x->e->client && fabric != NULL) {
		char path[4096];
		snprintf(path, sizeof path, "%s/control", fabric);
		FILE *f = fopen(path, "a");
		if (f == NULL)
			sb_die("cannot write %s", path);
		const char *host = getenv("SOFTROCE_HOST");
		fprintf(f, "%s %s rate 0.25\n", host ? host : "a", x->e->hca[1]);
		fclose(f);
	}
	sb_sleep_us(100000);          /* softroce reads its control file every tick */
	sb_oob_sync(x->e->fd);
	size_t big = x->p->cap < (64u << 20) ? x->p->cap : (64u << 20);
	if (x->im[0].ops)             /* let the adaptive weights settle */
		sb_stream(x->e, &x->im[0], 1, big, 2, 4, SB_UNI);
	stream_point(x, "degraded", big, 2, 1, SB_UNI, 3);
	stream_point(x, "degraded", 1u << 20, 8, 1, SB_UNI, 3);
}

static void setup(struct run *x, struct sb_stock **st)
{
	int maxc = sb_plan_max_comms(x->p);
	memset(x->im, 0, sizeof x->im);
	x->nim = 3;
	if (x->p->impls & SB_IMPL_OURS)
		sb_ours_setup(x->e, &x->im[0], (int)x->p->dev, maxc);
	bool two = x->p->impls & SB_IMPL_STOCK || x->p->tests & (SB_T_RAW | SB_T_DEGRADED);
	bool one = x->p->impls & SB_IMPL_ONE || x->p->tests & SB_T_RAW;
	int nhca = two ? 2 : one ? 1 : 0;
	*st = nhca ? sb_stock_open(x->e, nhca) : NULL;
	if (two) {
		sb_stock_setup(x->e, *st, &x->im[1], 2, 2 * maxc);
		x->im[1].name = "stock";
	}
	if (one) {
		sb_stock_setup(x->e, *st, &x->im[2], 1, maxc);
		x->im[2].name = "one";
	}
}

static void read_load(double l[3])
{
	l[0] = l[1] = l[2] = -1;
	if (getloadavg(l, 3) != 3)
		l[0] = l[1] = l[2] = -1;
}

void sb_plan_run(struct sb_env *e, const struct sb_plan *p, struct sb_results *r,
		 const char *fabric)
{
	struct run x = {.e = e, .p = p, .r = r};
	struct sb_stock *st = NULL;
	read_load(r->load[0]);
	setup(&x, &st);
	sb_set_nap(SB_NAP_US);
	if (p->tests & SB_T_RAW)
		run_raw(&x);
	if (p->tests & SB_T_UNI)
		run_grid(&x);
	if (p->tests & SB_T_NCCL)
		run_nccl(&x);
	if (p->tests & SB_T_BIDIR)
		run_bidir(&x);
	if (p->tests & SB_T_LAT)
		run_latency(&x);
	if ((p->tests & SB_T_DEGRADED) && p->emulated)
		run_degraded(&x, fabric);
	sb_oob_sync(e->fd);           /* nothing in flight on either side */
	if (x.im[0].ops)
		sb_ours_teardown(&x.im[0]);
	if (st)
		sb_stock_close(st);
	read_load(r->load[1]);
}
