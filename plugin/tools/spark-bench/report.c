/* What the client prints and writes: the comparison table (make bench), the
 * nccl-tests-style listing, the CSV of every point and the JSON summary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void sb_point_done(struct sb_point *p)
{
	double v[SB_MAX_REPS];
	memcpy(v, p->v, sizeof v);
	qsort(v, (size_t)p->nrep, sizeof v[0], cmp_double);
	p->min = v[0];
	p->max = v[p->nrep - 1];
	p->med = p->nrep % 2 ? v[p->nrep / 2] : (v[p->nrep / 2 - 1] + v[p->nrep / 2]) / 2;
}

double sb_spread(const struct sb_point *p)
{
	return p->med > 0 ? (p->max - p->min) / p->med : 0;
}

void sb_size_str(size_t size, char *out, size_t len)
{
	if (size >= (1u << 30) && size % (1u << 30) == 0)
		snprintf(out, len, "%zuG", size >> 30);
	else if (size >= (1u << 20) && size % (1u << 20) == 0)
		snprintf(out, len, "%zuM", size >> 20);
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(out, len, "%zuK", size >> 10);
	else
		snprintf(out, len, "%zuB", size);
}

const struct sb_point *sb_find(const struct sb_results *r, const char *test, const char *impl,
			       size_t size, int window, int comms)
{
	for (int i = 0; i < r->n; i++) {
		const struct sb_point *p = &r->pt[i];
		if (strcmp(p->test, test) == 0 && strcmp(p->impl, impl) == 0 && p->size == size &&
		    (window < 0 || p->window == window) && (comms < 0 || p->comms == comms))
			return p;
	}
	return NULL;
}

/* "  0.612 3%" or "  0.612 14%!" (unreliable), blank when not measured. */
static void cell(FILE *f, const struct sb_point *p, int prec)
{
	if (p == NULL) {
		fprintf(f, " %13s", "-");
		return;
	}
	double s = sb_spread(p);
	if (p->med < 0.1 && prec == 3)   /* small messages: significant digits */
		fprintf(f, " %7.2g %3.0f%%%c", p->med, 100 * s, s > SB_UNRELIABLE ? '!' : ' ');
	else
		fprintf(f, " %7.*f %3.0f%%%c", prec, p->med, 100 * s, s > SB_UNRELIABLE ? '!' : ' ');
}

static void ratio(FILE *f, const struct sb_point *a, const struct sb_point *b)
{
	if (a && b && b->med > 0)
		fprintf(f, " %9.2f", a->med / b->med);
	else
		fprintf(f, " %9s", "-");
}

static void legend(FILE *f, const struct sb_results *r, const struct sb_plan *p)
{
	fprintf(f, "\nspark-bench: NCCL's net-plugin calls, %u repetitions per point, median "
		   "shown, spread = (max-min)/median, ! = spread > %.0f%% (unreliable)\n",
		p->reps, 100 * SB_UNRELIABLE);
	fprintf(f, "  ours  = the plugin's fused device (both halves as one NCCL device)\n");
	fprintf(f, "  stock = NCCL's own IB protocol, raw verbs, both HCAs as two devices, "
		   "messages alternating (NCCL_IB_HCA=<both>)\n");
	fprintf(f, "  one   = the same protocol on one HCA\n");
	fprintf(f, "  load average at start %.2f %.2f %.2f, at end %.2f %.2f %.2f (%s)\n",
		r->load[0][0], r->load[0][1], r->load[0][2], r->load[1][0], r->load[1][1],
		r->load[1][2], p->emulated ? "emulated: ratios matter, not GB/s" : "two hosts");
}

static void caps(FILE *f, const struct sb_results *r)
{
	const struct sb_point *l = NULL, *c = NULL;
	for (int i = 0; i < r->n; i++) {
		if (strcmp(r->pt[i].test, "raw") != 0)
			continue;
		if (strcmp(r->pt[i].impl, "link") == 0)
			l = &r->pt[i];
		else
			c = &r->pt[i];
	}
	if (l == NULL && c == NULL)
		return;
	fprintf(f, "\ncaps, raw RDMA WRITEs of 64 MiB, 2 in flight per HCA, GB/s:\n");
	if (l) {
		fprintf(f, "  link cap  (one HCA)  ");
		cell(f, l, 3);
		fprintf(f, "\n");
	}
	if (c) {
		fprintf(f, "  cable cap (both HCAs)");
		cell(f, c, 3);
		fprintf(f, "\n");
	}
}

static void stream_table(FILE *f, const struct sb_plan *p, const struct sb_results *r)
{
	fprintf(f, "\nunidirectional throughput, GB/s, higher is better; in flight = per comm; "
		   "stock has one comm per HCA for each\n");
	fprintf(f, "  %5s %6s %5s %13s %13s %13s %9s %9s\n", "size", "flight", "comms", "ours",
		"stock", "one", "ours/stk", "ours/one");
	for (uint32_t s = 0; s < p->nsizes; s++)
		for (uint32_t w = 0; w < p->nwin; w++)
			for (uint32_t c = 0; c < p->ncomms; c++) {
				size_t size = p->sizes[s];
				int win = (int)p->win[w], cm = (int)p->comms[c];
				const struct sb_point *o = sb_find(r, "uni", "ours", size, win, cm);
				const struct sb_point *st = sb_find(r, "uni", "stock", size, win, cm);
				const struct sb_point *one = sb_find(r, "uni", "one", size, win, cm);
				char sz[32];
				sb_size_str(size, sz, sizeof sz);
				fprintf(f, "  %5s %6d %5d", sz, win, cm);
				cell(f, o, 3);
				cell(f, st, 3);
				cell(f, one, 3);
				ratio(f, o, st);
				ratio(f, o, one);
				fprintf(f, "\n");
			}
}

static void latency_table(FILE *f, const struct sb_plan *p, const struct sb_results *r)
{
	if (!(p->tests & SB_T_LAT) || p->nlat == 0)
		return;
	fprintf(f, "\nping-pong round trip, us, lower is better (both hosts spin)\n");
	fprintf(f, "  %5s %13s %13s %9s\n", "size", "ours", "one", "ours/one");
	for (uint32_t s = 0; s < p->nlat; s++) {
		const struct sb_point *o = sb_find(r, "pingpong", "ours", p->lat_sizes[s], -1, -1);
		const struct sb_point *one = sb_find(r, "pingpong", "one", p->lat_sizes[s], -1, -1);
		char sz[32];
		sb_size_str(p->lat_sizes[s], sz, sizeof sz);
		fprintf(f, "  %5s", sz);
		cell(f, o, 1);
		cell(f, one, 1);
		ratio(f, o, one);
		fprintf(f, "\n");
	}
}

static void degraded_table(FILE *f, const struct sb_results *r)
{
	bool any = false;
	for (int i = 0; i < r->n && !any; i++)
		any = strcmp(r->pt[i].test, "degraded") == 0;
	if (!any)
		return;
	fprintf(f, "\none half of host a at rate 0.25, GB/s, higher is better\n");
	fprintf(f, "  %5s %6s %13s %13s %9s\n", "size", "flight", "ours", "stock", "ours/stk");
	for (int i = 0; i < r->n; i++) {
		const struct sb_point *o = &r->pt[i];
		if (strcmp(o->test, "degraded") != 0 || strcmp(o->impl, "ours") != 0)
			continue;
		const struct sb_point *st = sb_find(r, "degraded", "stock", o->size, o->window, 1);
		char sz[32];
		sb_size_str(o->size, sz, sizeof sz);
		fprintf(f, "  %5s %6d", sz, o->window);
		cell(f, o, 3);
		cell(f, st, 3);
		ratio(f, o, st);
		fprintf(f, "\n");
	}
}

void sb_report_table(const struct sb_plan *p, const struct sb_results *r, FILE *f)
{
	legend(f, r, p);
	caps(f, r);
	if (p->tests & SB_T_UNI)
		stream_table(f, p, r);
	latency_table(f, p, r);
	degraded_table(f, r);
}

/* The columns nccl-tests prints (size, count, type, time, algbw, busbw,
 * #wrong), one block per test; a point-to-point busbw equals its algbw. */
void sb_report_nccl_tests(const struct sb_plan *p, const struct sb_results *r, FILE *f)
{
	legend(f, r, p);
	caps(f, r);
	const char *last = "";
	int lastw = -1, lastc = -1;
	for (int i = 0; i < r->n; i++) {
		const struct sb_point *q = &r->pt[i];
		if (strcmp(q->test, "raw") == 0)
			continue;
		bool lat = strcmp(q->test, "pingpong") == 0;
		if (strcmp(q->test, last) != 0 || q->window != lastw || q->comms != lastc) {
			fprintf(f, "\n# %s, %d in flight per comm, %d comm%s\n", q->test, q->window,
				q->comms, q->comms > 1 ? "s" : "");
			fprintf(f, "#%12s %12s %6s %6s %10s %8s %8s %7s %6s\n", "size", "count", "type",
				"impl", "time", "algbw", "busbw", "spread", "#wrong");
			fprintf(f, "#%12s %12s %6s %6s %10s %8s %8s %7s %6s\n", "(B)", "(elements)", "",
				"", "(us)", "(GB/s)", "(GB/s)", "(%)", "");
			last = q->test;
			lastw = q->window;
			lastc = q->comms;
		}
		double us = lat ? q->med : q->med > 0 ? (double)q->size / q->med / 1e3 : 0;
		double bw = lat ? (us > 0 ? 2.0 * (double)q->size / us / 1e3 : 0) : q->med;
		fprintf(f, " %12zu %12zu %6s %6s %10.2f %8.3f %8.3f %6.1f%c %6s\n", q->size, q->size,
			"uint8", q->impl, us, bw, bw, 100 * sb_spread(q),
			sb_spread(q) > SB_UNRELIABLE ? '!' : ' ', "N/A");
	}
}

void sb_report_csv(const struct sb_results *r, FILE *f)
{
	fprintf(f, "test,impl,size_bytes,inflight,comms,unit,median,min,max,spread_pct,"
		   "unreliable,reps,values\n");
	for (int i = 0; i < r->n; i++) {
		const struct sb_point *p = &r->pt[i];
		fprintf(f, "%s,%s,%zu,%d,%d,%s,%.6g,%.6g,%.6g,%.2f,%d,%d,", p->test, p->impl,
			p->size, p->window, p->comms, strcmp(p->test, "pingpong") ? "GB/s" : "us",
			p->med, p->min, p->max, 100 * sb_spread(p), sb_spread(p) > SB_UNRELIABLE,
			p->nrep);
		for (int k = 0; k < p->nrep; k++)
			fprintf(f, "%s%.6g", k ? ";" : "", p->v[k]);
		fprintf(f, "\n");
	}
}

static void jnum(FILE *f, const char *key, const struct sb_point *p, bool *first)
{
	fprintf(f, "%s\n  \"%s\": ", *first ? "" : ",", key);
	*first = false;
	if (p)
		fprintf(f, "%.4f", p->med);
	else
		fprintf(f, "null");
}

void sb_report_json(const struct sb_results *r, FILE *f)
{
	const size_t big = 64u << 20, mib = 1u << 20;
	bool first = true;
	fprintf(f, "{");
	jnum(f, "striped_GBps", sb_find(r, "uni", "ours", big, 2, 1), &first);
	jnum(f, "single_rail_GBps", sb_find(r, "uni", "one", big, 2, 1), &first);
	jnum(f, "two_rail_roundrobin_GBps", sb_find(r, "uni", "stock", big, 2, 1), &first);
	jnum(f, "cable_cap_GBps", sb_find(r, "raw", "cable", big, -1, -1), &first);
	jnum(f, "link_cap_GBps", sb_find(r, "raw", "link", big, -1, -1), &first);
	jnum(f, "raw_verbs_GBps", sb_find(r, "raw", "cable", big, -1, -1), &first);
	const char *c[2] = {"nccl1", "nccl2"};
	for (int k = 0; k < 2; k++) {
		char key[64];
		snprintf(key, sizeof key, "%s_striped_GBps", c[k]);
		jnum(f, key, sb_find(r, "uni", "ours", mib, 8, k + 1), &first);
		snprintf(key, sizeof key, "%s_single_rail_GBps", c[k]);
		jnum(f, key, sb_find(r, "uni", "one", mib, 8, k + 1), &first);
		snprintf(key, sizeof key, "%s_two_rail_roundrobin_GBps", c[k]);
		jnum(f, key, sb_find(r, "uni", "stock", mib, 8, k + 1), &first);
	}
	jnum(f, "p2p_128K_x8_striped_GBps", sb_find(r, "uni", "ours", 128u << 10, 8, 1), &first);
	jnum(f, "p2p_128K_x8_single_rail_GBps", sb_find(r, "uni", "one", 128u << 10, 8, 1), &first);
	jnum(f, "p2p_128K_x8_two_rail_roundrobin_GBps", sb_find(r, "uni", "stock", 128u << 10, 8, 1),
	     &first);
	jnum(f, "degraded_striped_GBps", sb_find(r, "degraded", "ours", big, 2, 1), &first);
	jnum(f, "degraded_two_rail_roundrobin_GBps", sb_find(r, "degraded", "stock", big, 2, 1),
	     &first);
	fprintf(f, ",\n  \"latency_us_8B\": {");
	first = true;
	jnum(f, "ours", sb_find(r, "pingpong", "ours", 8, -1, -1), &first);
	jnum(f, "single_rail", sb_find(r, "pingpong", "one", 8, -1, -1), &first);
	fprintf(f, "},\n  \"load_average\": [%.2f, %.2f, %.2f],\n", r->load[0][0], r->load[0][1],
		r->load[0][2]);
	int unreliable = 0;
	for (int i = 0; i < r->n; i++)
		unreliable += sb_spread(&r->pt[i]) > SB_UNRELIABLE;
	fprintf(f, "  \"points\": %d,\n  \"unreliable_points\": %d\n}\n", r->n, unreliable);
}
