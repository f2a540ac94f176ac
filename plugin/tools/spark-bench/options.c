/* Command-line options and the plans they make: the make-bench grid
 * (--bench), a quick check (--quick), or the nccl-tests-like default. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	uint64_t mult = 1;
	switch (*end) {
	case 'k': case 'K': mult = KiB; end++; break;
	case 'm': case 'M': mult = MiB; end++; break;
	case 'g': case 'G': mult = 1024 * MiB; end++; break;
	default: break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (end == s || *end || v < 0 || v * (double)mult > (double)(1u << 30))
		sb_die("size '%s': want a number of bytes up to 1G (K, M, G suffixes)", s);
	return (uint64_t)(v * (double)mult);
}

static int parse_int(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		sb_die("%s '%s': want a number in %ld..%ld", what, s, lo, hi);
	return (int)v;
}

static uint32_t parse_list(const char *s, uint32_t *out, uint32_t max, uint32_t hi,
			   const char *what)
{
	uint32_t n = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(t, &end, 10);
		if (*end || v < 1 || v > (long)hi || n >= max)
			sb_die("%s '%s': want up to %u numbers in 1..%u, comma-separated", what, s,
			       max, hi);
		out[n++] = (uint32_t)v;
	}
	if (n == 0)
		sb_die("%s: empty list", what);
	return n;
}

static uint32_t parse_names(const char *s, const char *const *names, const char *what)
{
	uint32_t mask = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = 0;
		while (names[i] && strcmp(names[i], t) != 0)
			i++;
		if (names[i] == NULL)
			sb_die("%s '%s': unknown name '%s'", what, s, t);
		mask |= 1u << i;
	}
	return mask;
}

static void profile_default(struct sb_plan *p, bool emulated)
{
	uint64_t hi = emulated ? 64 * MiB : 1024 * MiB;
	p->nsizes = 0;
	for (uint64_t s = 8; s <= hi && p->nsizes < SB_MAX_SIZES; s *= 8)
		p->sizes[p->nsizes++] = s;
	if (p->sizes[p->nsizes - 1] != hi && p->nsizes < SB_MAX_SIZES)
		p->sizes[p->nsizes++] = hi;
	p->nwin = 2, p->win[0] = 1, p->win[1] = 8;
	p->ncomms = 1, p->comms[0] = 1;
	p->nlat = 3, p->lat_sizes[0] = 8, p->lat_sizes[1] = 64 * KiB, p->lat_sizes[2] = MiB;
	p->nnccl = 2, p->nccl_sizes[0] = 128 * KiB, p->nccl_sizes[1] = MiB;
	p->nncclc = 3, p->nccl_comms[0] = 1, p->nccl_comms[1] = 2, p->nccl_comms[2] = 4;
	p->reps = 3;
	p->impls = SB_IMPL_OURS | SB_IMPL_STOCK | SB_IMPL_ONE;
	p->tests = SB_T_UNI | SB_T_BIDIR | SB_T_LAT | SB_T_NCCL | SB_T_RAW;
	p->budget = emulated ? 64 * MiB : 1024 * MiB;
	p->lat_iters = 200;
}

/* make bench: every size NCCL's traffic has, 1/2/8 in flight, 1/2 comms. */
static void profile_bench(struct sb_plan *p)
{
	static const uint64_t sizes[] = {8, 8 * KiB, 64 * KiB, 128 * KiB, 512 * KiB, MiB,
					 4 * MiB, 16 * MiB, 64 * MiB};
	p->nsizes = sizeof sizes / sizeof sizes[0];
	memcpy(p->sizes, sizes, sizeof sizes);
	p->nwin = 3, p->win[0] = 1, p->win[1] = 2, p->win[2] = 8;
	p->ncomms = 2, p->comms[0] = 1, p->comms[1] = 2;
	p->nlat = 4, p->lat_sizes[0] = 8, p->lat_sizes[1] = 8 * KiB;
	p->lat_sizes[2] = 64 * KiB, p->lat_sizes[3] = MiB;
	p->nnccl = 0, p->nncclc = 0;
	p->reps = 3;
	p->impls = SB_IMPL_OURS | SB_IMPL_STOCK | SB_IMPL_ONE;
	p->tests = SB_T_UNI | SB_T_LAT | SB_T_RAW | SB_T_DEGRADED;
	p->budget = 48 * MiB;
	p->lat_iters = 100;
}

/* A check that every path works, in seconds. */
static void profile_quick(struct sb_plan *p)
{
	p->nsizes = 3, p->sizes[0] = 8, p->sizes[1] = 64 * KiB, p->sizes[2] = MiB;
	p->nwin = 1, p->win[0] = 2;
	p->ncomms = 1, p->comms[0] = 1;
	p->nlat = 1, p->lat_sizes[0] = 8;
	p->nnccl = 1, p->nccl_sizes[0] = 128 * KiB;
	p->nncclc = 2, p->nccl_comms[0] = 1, p->nccl_comms[1] = 2;
	p->reps = 1;
	p->impls = SB_IMPL_OURS | SB_IMPL_STOCK | SB_IMPL_ONE;
	p->tests = SB_T_UNI | SB_T_BIDIR | SB_T_LAT | SB_T_NCCL | SB_T_RAW;
	p->budget = 2 * MiB;
	p->lat_iters = 20;
}

static void usage(void)
{
	fputs("usage: spark-bench [options]              both hosts emulated (softroce)\n"
	      "       spark-bench --server [options]     on one Spark: wait for the other\n"
	      "       spark-bench PEER [options]         on the other Spark: run, print\n"
	      "Measures the plugin's fused device (ours) against NCCL's IB protocol on both\n"
	      "HCAs (stock) and on one HCA (one), through the calls NCCL makes.\n"
	      "  -b, --minbytes N     smallest message (8)      -e, --maxbytes N  largest (1G; 64M emulated)\n"
	      "  -f, --stepfactor N   size factor (8)           --inflight L      in flight per comm (1,8)\n"
	      "  --comms L            comms (1)                 --reps N          repetitions (3)\n"
	      "  --impl L             ours,stock,one            --tests L         uni,bidir,latency,nccl,raw,degraded\n"
	      "  --budget N           bytes per point and repetition\n"
	      "  --bench              the make-bench grid        --quick           a short check\n"
	      "  --csv                CSV on stdout             --out DIR         results.csv, summary.json, table.txt\n"
	      "  --port N             control port (18515)      --plugin PATH     libnccl-net-spark.so\n"
	      "  --dev N              plugin device (0)         --hca A,B         the two halves\n"
	      "  --emulated           two softroce hosts        --softroce[=DIR]  use softroce in this process\n"
	      "Progress goes to stderr; results to stdout.\n", stderr);
}

/* What the command line asked for, before it shapes the plan. */
struct raw_args {
	uint64_t lo_b, hi_b, factor, budget;
	const char *win, *comms, *impls, *tests;
	int reps, profile;
};

static void split_hca(struct sb_opts *o, const char *arg)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "%s", arg);
	char *comma = strchr(buf, ',');
	if (comma == NULL || comma == buf || comma[1] == '\0')
		sb_die("--hca %s: want two device names, comma-separated", arg);
	*comma = '\0';
	o->hca[0] = buf;
	o->hca[1] = comma + 1;
}

static void parse_args(int argc, char **argv, struct sb_opts *o, struct raw_args *a)
{
	static const struct option lo[] = {
		{"minbytes", 1, 0, 'b'}, {"maxbytes", 1, 0, 'e'}, {"stepfactor", 1, 0, 'f'},
		{"inflight", 1, 0, 'w'}, {"comms", 1, 0, 'c'}, {"reps", 1, 0, 'r'},
		{"impl", 1, 0, 'i'}, {"tests", 1, 0, 't'}, {"budget", 1, 0, 'B'},
		{"bench", 0, 0, 'X'}, {"quick", 0, 0, 'Q'}, {"csv", 0, 0, 'C'}, {"out", 1, 0, 'o'},
		{"server", 0, 0, 'S'}, {"port", 1, 0, 'p'}, {"listen-fd", 1, 0, 'L'},
		{"plugin", 1, 0, 'P'}, {"dev", 1, 0, 'd'}, {"hca", 1, 0, 'H'},
		{"emulated", 0, 0, 'E'}, {"softroce", 2, 0, 'R'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "b:e:f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'b': a->lo_b = parse_size(optarg); break;
		case 'e': a->hi_b = parse_size(optarg); break;
		case 'f': a->factor = (uint64_t)parse_int(optarg, 2, 1024, "--stepfactor"); break;
		case 'w': a->win = optarg; break;
		case 'c': a->comms = optarg; break;
		case 'r': a->reps = parse_int(optarg, 1, SB_MAX_REPS, "--reps"); break;
		case 'i': a->impls = optarg; break;
		case 't': a->tests = optarg; break;
		case 'B': a->budget = parse_size(optarg); break;
		case 'X': a->profile = 1; break;
		case 'Q': a->profile = 2; break;
		case 'C': o->csv = true; break;
		case 'o': o->out = optarg; break;
		case 'S': o->server = true; break;
		case 'p': o->port = parse_int(optarg, 0, 65535, "--port"); break;
		case 'L': o->listen_fd = parse_int(optarg, 0, 1 << 20, "--listen-fd"); break;
		case 'P': o->plugin = optarg; break;
		case 'd': o->plan.dev = (uint32_t)parse_int(optarg, 0, 63, "--dev"); break;
		case 'H': split_hca(o, optarg); break;
		case 'E': o->emulated = true; break;
		case 'R': o->softroce = true; o->softroce_dir = optarg; break;
		case 'h': usage(); exit(0);
		default: usage(); exit(2);
		}
	}
	if (optind < argc)
		o->peer = argv[optind++];
	if (optind < argc)
		sb_die("unexpected argument '%s' (see --help)", argv[optind]);
}

static void sizes_from(struct sb_plan *p, const struct raw_args *a, bool emu)
{
	uint64_t hi = a->hi_b ? a->hi_b : emu ? 64 * MiB : 1024 * MiB;
	if (a->lo_b > hi)
		sb_die("-b %llu is above -e %llu", (unsigned long long)a->lo_b,
		       (unsigned long long)hi);
	p->nsizes = 0;
	for (uint64_t s = a->lo_b; s <= hi && p->nsizes < SB_MAX_SIZES; s = s ? s * a->factor : 1)
		p->sizes[p->nsizes++] = s;
}

void sb_options(int argc, char **argv, struct sb_opts *o)
{
	static const char *const impl_names[] = {"ours", "stock", "one", NULL};
	static const char *const test_names[] = {"uni", "bidir", "latency", "nccl", "raw",
						 "degraded", NULL};
	struct raw_args a = {.lo_b = 8, .factor = 8};
	memset(o, 0, sizeof *o);
	o->port = 18515;
	o->listen_fd = -1;
	o->hca[0] = "rocep1s0f0";
	o->hca[1] = "roceP2p1s0f0";
	parse_args(argc, argv, o, &a);
	struct sb_plan *p = &o->plan;
	bool emu = o->emulated || o->softroce;
	uint32_t dev = p->dev;
	if (a.profile == 1)
		profile_bench(p);
	else if (a.profile == 2)
		profile_quick(p);
	else
		profile_default(p, emu);
	p->dev = dev;
	if (a.hi_b || a.lo_b != 8)
		sizes_from(p, &a, emu);
	if (a.win)
		p->nwin = parse_list(a.win, p->win, SB_MAX_LIST, SB_MAX_WINDOW, "--inflight");
	if (a.comms)
		p->ncomms = parse_list(a.comms, p->comms, SB_MAX_LIST, SB_MAX_LINKS / 2, "--comms");
	if (a.reps)
		p->reps = (uint32_t)a.reps;
	if (a.impls)
		p->impls = parse_names(a.impls, impl_names, "--impl");
	if (a.tests)
		p->tests = parse_names(a.tests, test_names, "--tests");
	if (a.budget)
		p->budget = a.budget;
	p->magic = SB_PLAN_MAGIC;
}
