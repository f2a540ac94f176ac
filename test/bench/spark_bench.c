/* The plugin on two emulated Sparks, measured inside one run so the ratios
 * hold on a noisy machine. Three columns:
 *   - ours: the fused two-rail device, one comm;
 *   - stock: what users compare us with, stock NCCL given both HCAs
 *     (NCCL_IB_HCA=rocep1s0f0,roceP2p1s0f0): two NICs, each message whole on
 *     one of them, consecutive channels alternating NICs. Modelled with our
 *     plugin as two one-rail devices (NCCL_SPARK_PAIRS), one comm each,
 *     messages alternating, the same total window as ours;
 *   - one rail: NCCL_SPARK_HCA restricted to one HCA.
 * Rows: 64 MiB messages; 1 MiB x 8 in flight (NCCL's collective shape);
 * 128 KiB x 8 in flight (NCCL's p2p chunk); 4 MiB x 1 in flight; 8-byte round trip (stock: one
 * NIC); one rail degraded to 1/4 (ours adaptive, ours equal, stock); and each
 * rail's share of one 64 MiB transfer, from softroce's port counters.
 * Each configuration runs in a fresh pair of processes (the plugin reads its
 * environment once). Timing is reported, never asserted. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../datapath/dp_harness.h"

#define MiB (1024ul * 1024ul)
/* Throughput runs nap between unfinished tests: on a 2-core host the
 * emulated NICs are threads, and two processes spinning on test() starve
 * them (measured: two rails then move no more than one). */
#define STREAM_NAP_US 100
#define REPEATS 3
#define P2P_CHUNK (128 * 1024)   /* NCCL's p2p chunk size */
#define MAX_COMMS 2   /* stock: one comm per one-rail device */
#define RAIL0 "rocep1s0f0"
#define RAIL1 "roceP2p1s0f0"

struct result {
	double big_gbps;          /* GB/s, 64 MiB messages, 2 in flight */
	double nccl_gbps;         /* GB/s, 1 MiB messages, 8 in flight */
	double p2p_gbps;          /* GB/s, 128 KiB messages, 8 in flight */
	double one_gbps;          /* GB/s, 4 MiB messages, 1 in flight */
	double rtt_us;            /* 8-byte ping-pong */
	uint64_t rail_bytes[2];   /* host a xmit during one 64 MiB transfer */
};

struct config {
	const char *name;
	const char *env[4];
	const char *control;      /* a fault line for $SOFTROCE_FABRIC/control */
	bool small_tests;         /* run the 1 MiB, 128 KiB and latency parts */
	int ncomms;               /* devices 0..ncomms-1, one comm pair each */
};

/* Comm c uses device c. a: sc = a→b, rc = b→a; b: the other ends. */
struct io {
	const ncclNet_v8_t *net;
	int ncomms;
	void *sc[MAX_COMMS], *rc[MAX_COMMS];
	void *smh[MAX_COMMS], *rmh[MAX_COMMS];
	uint8_t *sbuf, *rbuf;
	size_t cap;
};

/* Sleeps ms milliseconds, the whole of them even if a signal interrupts. */
static void sleep_ms(long ms)
{
	struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

static void *post_send(struct io *io, int c, void *buf, int size)
{
	void *req = NULL;
	for (;;) {
		DP_OK(io->net->isend(io->sc[c], buf, size, 0, io->smh[c], &req));
		if (req != NULL)
			return req;
		dp_nap();   /* no CTS yet: let the emulated NICs run */
	}
}

static void *post_recv(struct io *io, int c, void *buf, int size)
{
	void *req = NULL;
	int tag = 0;
	for (;;) {
		DP_OK(io->net->irecv(io->rc[c], 1, &buf, &size, &tag, &io->rmh[c], &req));
		if (req != NULL)
			return req;
		dp_nap();
	}
}

/* warm + count messages of size, `inflight` at a time, a → b. Returns the
 * seconds (on a) of the last `count`: the first `warm` keep the links busy
 * long enough to use up softroce's 50 ms burst credit, so what is timed is
 * the steady rate, not a catch-up after idle. Window slot k uses comm
 * k % ncomms: with an even window, message i goes on comm i % 2, as NCCL
 * puts consecutive channels on alternate NICs; waits stay in posting order. */
static double stream(struct dp_pair *p, struct io *io, int size, int warm, int count,
		     int inflight)
{
	void *req[16];
	int total = warm + count;
	double t0 = 0;
	dp_sync(p);
	for (int i = 0; i < total + inflight; i++) {
		int k = i % inflight, c = k % io->ncomms;
		if (i >= inflight) {
			DP_OK(dp_wait(io->net, req[k], NULL));
			if (i - inflight == warm - 1)
				t0 = dp_now();
		}
		if (i < total)
			req[k] = p->is_b ? post_recv(io, c, io->rbuf + (size_t)k * (size_t)size, size)
					 : post_send(io, c, io->sbuf + (size_t)k * (size_t)size, size);
	}
	double t = dp_now() - t0;
	dp_sync(p);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median round trip on comm 0 (stock: one NIC carries a small message
 * whole): on a shared 2-core host the tail is the scheduler's (p99 above
 * 10 ms in every configuration), the median is the path's. */
static double ping_pong(struct dp_pair *p, struct io *io, int iters)
{
	static double t[4096];
	dp_set_nap(0);   /* latency: spin, as NCCL's proxy does */
	dp_sync(p);
	for (int i = 0; i < iters && i < 4096; i++) {
		double t0 = dp_now();
		if (p->is_b) {
			DP_OK(dp_wait(io->net, post_recv(io, 0, io->rbuf, 8), NULL));
			DP_OK(dp_wait(io->net, post_send(io, 0, io->sbuf, 8), NULL));
		} else {
			void *r = post_recv(io, 0, io->rbuf, 8);
			DP_OK(dp_wait(io->net, post_send(io, 0, io->sbuf, 8), NULL));
			DP_OK(dp_wait(io->net, r, NULL));
		}
		t[i] = dp_now() - t0;
	}
	dp_sync(p);
	dp_set_nap(STREAM_NAP_US);
	qsort(t, (size_t)iters, sizeof t[0], cmp_double);
	return t[iters / 2];
}

static double median3(double *v)
{
	qsort(v, REPEATS, sizeof v[0], cmp_double);
	return v[REPEATS / 2];
}

static void setup(struct dp_pair *p, struct io *io, int ncomms)
{
	io->net = dp_load_plugin();
	io->ncomms = ncomms;
	int ndev = 0;
	DP_OK(io->net->devices(&ndev));
	DP_CHECK(ndev >= ncomms, "%d devices, %d wanted", ndev, ncomms);
	io->cap = 2 * 64 * MiB;
	io->sbuf = dp_alloc(io->cap);
	io->rbuf = dp_alloc(io->cap);
	memset(io->sbuf, 0x5a, io->cap);
	/* Per device: a comm a → b, and one b → a (for the round trip). Every
	 * comm registers the whole buffers: a handle belongs to its comm. */
	for (int c = 0; c < ncomms; c++) {
		if (p->is_b) {
			io->rc[c] = dp_connect_recv(p, io->net, c);
			io->sc[c] = dp_connect_send(p, io->net, c);
		} else {
			io->sc[c] = dp_connect_send(p, io->net, c);
			io->rc[c] = dp_connect_recv(p, io->net, c);
		}
		DP_OK(io->net->regMr(io->sc[c], io->sbuf, io->cap, NCCL_PTR_HOST, &io->smh[c]));
		DP_OK(io->net->regMr(io->rc[c], io->rbuf, io->cap, NCCL_PTR_HOST, &io->rmh[c]));
	}
}

static void teardown(struct io *io)
{
	for (int c = 0; c < io->ncomms; c++) {
		DP_OK(io->net->deregMr(io->sc[c], io->smh[c]));
		DP_OK(io->net->deregMr(io->rc[c], io->rmh[c]));
		DP_OK(io->net->closeSend(io->sc[c]));
		DP_OK(io->net->closeRecv(io->rc[c]));
	}
}

static void run_pair(const struct config *cfg, struct result *res)
{
	struct dp_pair p;
	struct io io;
	dp_pair_start(&p, cfg->env);
	dp_set_nap(STREAM_NAP_US);
	setup(&p, &io, cfg->ncomms);
	if (cfg->control != NULL && !p.is_b) {
		char path[300];
		snprintf(path, sizeof path, "%s/control", p.fabric);
		FILE *f = fopen(path, "a");
		DP_CHECK(f != NULL, "control file");
		fprintf(f, "%s\n", cfg->control);
		fclose(f);
		sleep_ms(50);
	}
	dp_sync(&p);
	const int big = 64 << 20;
	stream(&p, &io, big, 4, 0, 2);              /* warm up: weights settle */
	sleep_ms(30);
	const uint64_t before[2] = {dp_counter(&p, "a", RAIL0, "port_xmit_data"),
			      dp_counter(&p, "a", RAIL1, "port_xmit_data")};
	stream(&p, &io, big, 1, 0, 1);
	sleep_ms(30);
	res->rail_bytes[0] = dp_counter(&p, "a", RAIL0, "port_xmit_data") - before[0];
	res->rail_bytes[1] = dp_counter(&p, "a", RAIL1, "port_xmit_data") - before[1];
	/* Median of REPEATS: other jobs on the host slow single runs down, and
	 * a run right after an idle gap may still ride on burst credit. */
	double t_big[REPEATS], t_nccl[REPEATS], t_p2p[REPEATS], t_one[REPEATS], t_rtt[REPEATS];
	for (int k = 0; k < REPEATS; k++) {
		t_big[k] = stream(&p, &io, big, 4, 8, 2);
		if (!cfg->small_tests)
			continue;
		t_nccl[k] = stream(&p, &io, (int)MiB, 256, 512, 8);
		t_p2p[k] = stream(&p, &io, P2P_CHUNK, 1024, 2048, 8);
		t_one[k] = stream(&p, &io, 4 * (int)MiB, 16, 64, 1);
		t_rtt[k] = ping_pong(&p, &io, 500);
	}
	res->big_gbps = 8.0 * big / median3(t_big) / 1e9;
	if (cfg->small_tests) {
		res->nccl_gbps = 512.0 * MiB / median3(t_nccl) / 1e9;
		res->p2p_gbps = 2048.0 * P2P_CHUNK / median3(t_p2p) / 1e9;
		res->one_gbps = 64.0 * 4 * MiB / median3(t_one) / 1e9;
		res->rtt_us = median3(t_rtt) * 1e6;
	}
	teardown(&io);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	DP_CHECK(dp_pair_finish(&p, 0), "host b failed");
}

/* Each configuration in a fresh process (a), which forks its host b. */
static bool run_config(const struct config *cfg, struct result *res)
{
	int fds[2];
	if (pipe(fds) != 0)
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct result r;
		memset(&r, 0, sizeof r);
		run_pair(cfg, &r);
		if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(res, 0, sizeof *res);
	bool ok = read(fds[0], res, sizeof *res) == (ssize_t)sizeof *res;
	int status = 0;
	waitpid(pid, &status, 0);
	close(fds[0]);
	ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		fprintf(stderr, "bench: configuration '%s' failed\n", cfg->name);
	return ok;
}

static double share(const struct result *r, int rail)
{
	uint64_t total = r->rail_bytes[0] + r->rail_bytes[1];
	return total ? 100.0 * (double)r->rail_bytes[rail] / (double)total : 0;
}

/* One table row: three columns and the ratios ours/stock, ours/one rail
 * (for a time, below 1 means ours is faster). */
static void row(const char *label, const char *unit, int prec, double ours, double stock,
		double one)
{
	printf("  %-40s %-4s %7.*f %7.*f %7.*f %10.2f %8.2f\n", label, unit, prec, ours, prec,
	       stock, prec, one, ours / stock, ours / one);
}

int main(void)
{
	static const struct config two = {"ours", {NULL}, NULL, true, 1};
	static const struct config stock = {
		"stock", {"NCCL_SPARK_PAIRS=" RAIL0 "," RAIL1, NULL}, NULL, true, 2};
	static const struct config one = {"one rail", {"NCCL_SPARK_HCA==" RAIL0, NULL}, NULL, true, 1};
	static const struct config deg_adaptive = {
		"degraded, adaptive", {"NCCL_SPARK_ADAPTIVE_WEIGHTS=1", NULL},
		"a " RAIL1 " rate 0.25", false, 1};
	static const struct config deg_equal = {
		"degraded, equal", {"NCCL_SPARK_ADAPTIVE_WEIGHTS=0", NULL},
		"a " RAIL1 " rate 0.25", false, 1};
	static const struct config deg_stock = {
		"degraded, stock", {"NCCL_SPARK_PAIRS=" RAIL0 "," RAIL1, NULL},
		"a " RAIL1 " rate 0.25", false, 2};
	struct result r2, rs, r1, ra, re, rds;
	setenv("SOFTROCE_REORDER", "0", 1);   /* measure the fabric, not the shuffler */
	int failed = !run_config(&two, &r2);
	failed += !run_config(&stock, &rs);
	failed += !run_config(&one, &r1);
	failed += !run_config(&deg_adaptive, &ra);
	failed += !run_config(&deg_equal, &re);
	failed += !run_config(&deg_stock, &rds);
	if (failed)
		return 1;
	printf("plugin on two emulated Sparks (softroce: a rail is capped by its PCIe x4 link, "
	       "both rails by their shared cable); median of %d runs after a warm-up\n", REPEATS);
	printf("ours = fused 2-rail device | stock = NCCL_IB_HCA=" RAIL0 "," RAIL1 " modelled "
	       "as 2 one-rail devices (NCCL_SPARK_PAIRS), whole messages alternating, same "
	       "window | one = NCCL_SPARK_HCA==" RAIL0 "\n");
	printf("  %-40s %-4s %7s %7s %7s %10s %8s\n", "", "", "ours", "stock", "one",
	       "ours/stock", "ours/one");
	row("64 MiB, 2 in flight", "GB/s", 3, r2.big_gbps, rs.big_gbps, r1.big_gbps);
	row("1 MiB, 8 in flight (NCCL collectives)", "GB/s", 3, r2.nccl_gbps, rs.nccl_gbps,
	    r1.nccl_gbps);
	row("128 KiB, 8 in flight (NCCL p2p chunk)", "GB/s", 3, r2.p2p_gbps, rs.p2p_gbps,
	    r1.p2p_gbps);
	/* One message at a time (a single channel, or a latency-bound step):
	 * stock puts it whole on one NIC; ours stripes it over both rails. */
	row("4 MiB, 1 in flight (one channel)", "GB/s", 3, r2.one_gbps, rs.one_gbps,
	    r1.one_gbps);
	row("8 B round trip, median (stock: one NIC)", "us", 1, r2.rtt_us, rs.rtt_us, r1.rtt_us);
	printf("  64 MiB, 2 in flight, " RAIL1 " at rate 0.25 (stock: no weights; one: unaffected)\n");
	char label[64];
	snprintf(label, sizeof label, "  ours adaptive (" RAIL1 " %.1f%%)", share(&ra, 1));
	row(label, "GB/s", 3, ra.big_gbps, rds.big_gbps, r1.big_gbps);
	snprintf(label, sizeof label, "  ours equal    (" RAIL1 " %.1f%%)", share(&re, 1));
	row(label, "GB/s", 3, re.big_gbps, rds.big_gbps, r1.big_gbps);
	printf("  ours, one 64 MiB transfer, host a port_xmit_data: %s %.1f MiB (%.1f%%), "
	       "%s %.1f MiB (%.1f%%)\n",
	       RAIL0, r2.rail_bytes[0] / (double)MiB, share(&r2, 0), RAIL1,
	       r2.rail_bytes[1] / (double)MiB, share(&r2, 1));
	return 0;
}
