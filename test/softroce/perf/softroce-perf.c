/* softroce-perf: a perftest-like RDMA WRITE bandwidth check over softroce.
 * Forks a host-a receiver and a host-b sender, connects one or more QPs on
 * one or both rails (HCAs) of a cable, streams WRITEs for a fixed time and
 * prints the measured rate against the modelled cap.
 *
 *   softroce-perf [--rails 1|2] [--size B] [--qps N] [--seconds S]
 *                 [--rate F] [--check]
 *
 * --rate F degrades host b's first rail to F of its link cap (control file).
 * --x2 trains host b's first rail at PCIe Gen5 x2 (topology file).
 * --check exits non-zero unless one rail is within 5% of its link cap, or two
 * rails stay under their link caps and together fill the cable to within 5%. */
#include <infiniband/verbs.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RAILS 2
#define MAX_QPS   8
#define DEPTH     8

struct opts { int rails, qps; size_t size; double seconds, rate, scale; int check, x2; };

struct peer_info { uint32_t qpn[MAX_QPS]; uint64_t addr; uint32_t rkey; union ibv_gid gid; };

struct rail {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct ibv_cq *cq;
	struct ibv_comp_channel *ch;
	struct ibv_qp *qp[MAX_QPS];
	char *buf;
	union ibv_gid gid;
};

static const char *rail_names[MAX_RAILS] = { "rocep1s0f0", "roceP2p1s0f0" };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "softroce-perf: %s: %s\n", what, strerror(errno));
	exit(2);
}

static struct ibv_context *open_hca(const char *name)
{
	int n;
	struct ibv_device **list = ibv_get_device_list(&n);
	struct ibv_context *ctx = NULL;
	bool found = false;
	for (int i = 0; list && i < n && !found; i++)
		if (strcmp(ibv_get_device_name(list[i]), name) == 0) {
			found = true;
			ctx = ibv_open_device(list[i]);
		}
	/* (rdma-core's ibv_free_device_list does not accept NULL) */
	if (list)
		ibv_free_device_list(list);
	if (!found) {
		fprintf(stderr, "softroce-perf: no softroce device %s: the libibverbs.so.1 loaded "
			"is not softroce's or has no fabric; run with "
			"LD_LIBRARY_PATH=<build>/softroce\n", name);
		exit(2);
	}
	if (!ctx)
		die(name);
	return ctx;
}

static void rail_open(struct rail *r, const char *name, const struct opts *o)
{
	size_t len = o->size * DEPTH * (size_t)o->qps;
	r->ctx = open_hca(name);
	r->pd = ibv_alloc_pd(r->ctx);
	r->buf = aligned_alloc(2 << 20, (len + (2 << 20) - 1) & ~(size_t)((2 << 20) - 1));
	if (!r->pd || !r->buf)
		die("pd/buffer");
	madvise(r->buf, len, MADV_HUGEPAGE);   /* fewer pages to pin per copy */
	memset(r->buf, 0x5a, len);
	r->mr = ibv_reg_mr(r->pd, r->buf, len, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	r->ch = ibv_create_comp_channel(r->ctx);
	r->cq = r->ch ? ibv_create_cq(r->ctx, DEPTH * MAX_QPS * 2, NULL, r->ch, 0) : NULL;
	if (!r->mr || !r->cq)
		die("mr/cq");
	if (ibv_query_gid(r->ctx, 1, 3, &r->gid))
		die("gid");
	for (int q = 0; q < o->qps; q++) {
		struct ibv_qp_init_attr ia = {
			.send_cq = r->cq, .recv_cq = r->cq, .qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = DEPTH, .max_recv_wr = 1, .max_send_sge = 1,
				 .max_recv_sge = 1 },
		};
		r->qp[q] = ibv_create_qp(r->pd, &ia);
		if (!r->qp[q])
			die("create_qp");
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
			.qp_access_flags = IBV_ACCESS_REMOTE_WRITE };
		if (ibv_modify_qp(r->qp[q], &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				  IBV_QP_ACCESS_FLAGS))
			die("INIT");
	}
}

static void rail_connect(struct rail *r, const struct peer_info *p, const struct opts *o)
{
	for (int q = 0; q < o->qps; q++) {
		struct ibv_qp_attr a = {
			.qp_state = IBV_QPS_RTR, .path_mtu = IBV_MTU_4096, .dest_qp_num = p->qpn[q],
			.rq_psn = 0, .max_dest_rd_atomic = 1, .min_rnr_timer = 12,
			.ah_attr = { .is_global = 1, .port_num = 1,
				     .grh = { .dgid = p->gid, .sgid_index = 3, .hop_limit = 1 } },
		};
		if (ibv_modify_qp(r->qp[q], &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
				  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				  IBV_QP_MIN_RNR_TIMER))
			die("RTR");
		a.qp_state = IBV_QPS_RTS;
		a.timeout = 20;
		a.retry_cnt = 7;
		a.rnr_retry = 7;
		a.sq_psn = 0;
		a.max_rd_atomic = 1;
		if (ibv_modify_qp(r->qp[q], &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				  IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
			die("RTS");
	}
}

static void info_of(const struct rail *r, struct peer_info *i, const struct opts *o)
{
	memset(i, 0, sizeof(*i));
	for (int q = 0; q < o->qps; q++)
		i->qpn[q] = r->qp[q]->qp_num;
	i->addr = (uintptr_t)r->buf;
	i->rkey = r->mr->rkey;
	i->gid = r->gid;
}

static int post_write(struct rail *r, int q, const struct peer_info *p, int slot,
		      const struct opts *o)
{
	size_t off = ((size_t)q * DEPTH + (size_t)slot) * o->size;
	struct ibv_sge sge = { (uintptr_t)r->buf + off, (uint32_t)o->size, r->mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = (uint64_t)q << 32 | (uint32_t)slot, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
		.wr = { .rdma = { .remote_addr = p->addr + off, .rkey = p->rkey } },
	}, *bad;
	return ibv_post_send(r->qp[q], &wr, &bad);
}

/* Streams WRITEs on every rail; returns bytes per rail completed in the
 * measured window (after a warm-up). */
static void sender(struct rail *rails, const struct peer_info *peers, const struct opts *o,
		   double *rate)
{
	double t0 = now_s(), start = t0 + 0.3, end = start + o->seconds;
	uint64_t bytes[MAX_RAILS] = { 0 };
	for (int k = 0; k < o->rails; k++)
		for (int q = 0; q < o->qps; q++)
			for (int s = 0; s < DEPTH; s++)
				if (post_write(&rails[k], q, &peers[k], s, o))
					die("post_send");
	double t;
	struct pollfd pfd[MAX_RAILS];
	for (int k = 0; k < o->rails; k++) {
		pfd[k].fd = rails[k].ch->fd;
		pfd[k].events = POLLIN;
		if (ibv_req_notify_cq(rails[k].cq, 0))
			die("req_notify_cq");
	}
	/* Sleep on the completion channels: a busy poller would take the CPU
	 * the emulated NICs need on a small machine. */
	while ((t = now_s()) < end) {
		if (poll(pfd, (nfds_t)o->rails, 50) < 0)
			die("poll");
		for (int k = 0; k < o->rails; k++) {
			struct ibv_wc wc[16];
			if (pfd[k].revents & POLLIN) {
				struct ibv_cq *cq;
				void *cctx;
				if (ibv_get_cq_event(rails[k].ch, &cq, &cctx))
					die("get_cq_event");
				ibv_ack_cq_events(cq, 1);
				if (ibv_req_notify_cq(cq, 0))
					die("req_notify_cq");
			}
			int n = ibv_poll_cq(rails[k].cq, 16, wc);
			if (n < 0)
				die("poll_cq");
			for (int i = 0; i < n; i++) {
				if (wc[i].status != IBV_WC_SUCCESS) {
					fprintf(stderr, "softroce-perf: %s\n",
						ibv_wc_status_str(wc[i].status));
					exit(2);
				}
				if (t >= start)
					bytes[k] += o->size;
				if (post_write(&rails[k], (int)(wc[i].wr_id >> 32), &peers[k],
					       (int)(uint32_t)wc[i].wr_id, o))
					die("post_send");
			}
		}
	}
	for (int k = 0; k < o->rails; k++)
		rate[k] = (double)bytes[k] / o->seconds / 1e9;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static double topo_scale(void)
{
	const char *path = getenv("SOFTROCE_TOPOLOGY");
	double scale = 0.05;
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");
		if (strncmp(p, "scale", 5) != 0)
			continue;
		char *end = NULL;
		double v = strtod(p + 5, &end);
		if (end != p + 5)
			scale = v;         /* softroce itself rejects a malformed one */
	}
	if (f)
		fclose(f);
	return scale;
}

/* Whole-string numbers; false for anything else (the caller says why). */
static bool int_arg(const char *v, int *out)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || errno != 0 || n < INT_MIN || n > INT_MAX)
		return false;
	*out = (int)n;
	return true;
}

static bool size_arg(const char *v, size_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 0);
	if (end == v || *end != '\0' || errno != 0 || v[strspn(v, " \t")] == '-' ||
	    n > SIZE_MAX)
		return false;
	*out = (size_t)n;
	return true;
}

static bool double_arg(const char *v, double *out)
{
	char *end = NULL;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end != '\0' || errno != 0 || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .rails = 1, .qps = 2, .size = 1 << 20, .seconds = 2.0, .rate = 1.0 };
	bool ok = true;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "0";
		if (strcmp(argv[i], "--rails") == 0)
			ok &= int_arg(v, &o->rails), i++;
		else if (strcmp(argv[i], "--size") == 0)
			ok &= size_arg(v, &o->size), i++;
		else if (strcmp(argv[i], "--qps") == 0)
			ok &= int_arg(v, &o->qps), i++;
		else if (strcmp(argv[i], "--seconds") == 0)
			ok &= double_arg(v, &o->seconds), i++;
		else if (strcmp(argv[i], "--rate") == 0)
			ok &= double_arg(v, &o->rate), i++;
		else if (strcmp(argv[i], "--check") == 0)
			o->check = 1;
		else if (strcmp(argv[i], "--x2") == 0)
			o->x2 = 1;
		else {
			fprintf(stderr, "usage: softroce-perf [--rails 1|2] [--size B] [--qps N] "
				"[--seconds S] [--rate F] [--x2] [--check]\n");
			exit(2);
		}
	}
	if (!ok || o->rails < 1 || o->rails > MAX_RAILS || o->qps < 1 || o->qps > MAX_QPS ||
	    o->size == 0 || o->seconds <= 0 || o->rate <= 0 || o->rate > 1) {
		fprintf(stderr, "softroce-perf: bad option value\n");
		exit(2);
	}
	o->scale = topo_scale();
}

/* One rail: its PCIe link cap.  Two rails: each stays under its link cap and
 * together they fill the cable (how they share it is not a cap). */
static int report(const struct opts *o, const double *rate)
{
	double link = 13.0 * o->scale, cable = 24.5 * o->scale, total = 0;
	int bad = 0;
	for (int k = 0; k < o->rails; k++) {
		double cap = link * (k == 0 ? o->rate * (o->x2 ? 0.5 : 1.0) : 1.0);
		double ratio = rate[k] / cap;
		total += rate[k];
		printf("rail %-13s measured %6.3f GB/s  link cap %6.3f GB/s  ratio %.3f\n",
		       rail_names[k], rate[k], cap, ratio);
		bad |= ratio > 1.05 || (o->rails == 1 && ratio < 0.95);
	}
	if (o->rails == 2) {
		double lsum = link * (1.0 + o->rate * (o->x2 ? 0.5 : 1.0));
		double cap = cable < lsum ? cable : lsum;
		double ratio = total / cap;
		printf("cable total         measured %6.3f GB/s  cable cap %5.3f GB/s  ratio %.3f\n",
		       total, cap, ratio);
		bad |= ratio < 0.95 || ratio > 1.05;
	}
	return o->check && bad ? 1 : 0;
}

/* The fabric directory (a fresh one unless SOFTROCE_FABRIC is set; 1 when
 * it is ours to remove), the --x2 topology file and the --rate control line. */
static int fabric_setup(const struct opts *o, char *tmpl)
{
	int own_fabric = !getenv("SOFTROCE_FABRIC");
	if (own_fabric && (!mkdtemp(tmpl) || setenv("SOFTROCE_FABRIC", tmpl, 1)))
		die("fabric");
	if (o->x2) {
		/* host b's first rail trained at Gen5 x2 (the GX10 BIOS case) */
		static char topo[600];
		snprintf(topo, sizeof(topo), "%s/perf.topo", getenv("SOFTROCE_FABRIC"));
		FILE *f = getenv("SOFTROCE_TOPOLOGY") ? NULL : fopen(topo, "w");
		if (!f) {
			fprintf(stderr, "softroce-perf: --x2 needs its own topology file\n");
			exit(2);
		}
		fprintf(f, "set b %s link=gen5x2\n", rail_names[0]);
		fclose(f);
		setenv("SOFTROCE_TOPOLOGY", topo, 1);
	}
	if (o->rate < 1.0) {
		char path[600];
		snprintf(path, sizeof(path), "%s/control", getenv("SOFTROCE_FABRIC"));
		FILE *f = fopen(path, "a");
		if (!f)
			die("control");
		fprintf(f, "b %s rate %g\n", rail_names[0], o->rate);
		fclose(f);
	}
	return own_fabric;
}

/* Reads n one-byte sync messages; -1 when the peer closed or failed first. */
static int read_syncs(int fd, int n)
{
	for (int i = 0; i < n; i++) {
		char byte;
		if (read(fd, &byte, 1) != 1)
			return -1;
	}
	return 0;
}

/* host b: the sender.  One sync byte when it starts, one when it is done. */
static int run_sender(struct rail *rails, const struct peer_info *theirs,
		      const struct opts *o, int wr)
{
	char done = 0;
	double rate[MAX_RAILS];
	if (write(wr, &done, 1) != 1)
		die("sync");
	sender(rails, theirs, o, rate);
	int rc = report(o, rate);
	fflush(stdout);
	if (write(wr, &done, 1) != 1)
		die("sync");
	return rc;
}

static void rails_close(struct rail *rails, const struct opts *o)
{
	for (int k = 0; k < o->rails; k++) {
		for (int q = 0; q < o->qps; q++)
			ibv_destroy_qp(rails[k].qp[q]);
		ibv_destroy_cq(rails[k].cq);
		ibv_destroy_comp_channel(rails[k].ch);
		ibv_dereg_mr(rails[k].mr);
		ibv_dealloc_pd(rails[k].pd);
		ibv_close_device(rails[k].ctx);
		free(rails[k].buf);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	parse(argc, argv, &o);
	char tmpl[] = "/tmp/softroce-perf-XXXXXX";
	int own_fabric = fabric_setup(&o, tmpl);
	int to_b[2], to_a[2];
	if (pipe(to_b) || pipe(to_a))
		die("pipe");
	struct rail rails[MAX_RAILS];
	struct peer_info mine[MAX_RAILS], theirs[MAX_RAILS];
	pid_t child = fork();
	if (child < 0)
		die("fork");
	setenv("SOFTROCE_HOST", child == 0 ? "b" : "a", 1);
	/* Keep only this side's ends, so a peer that dies is an EOF here. */
	close(child == 0 ? to_b[1] : to_a[1]);
	close(child == 0 ? to_a[0] : to_b[0]);
	for (int k = 0; k < o.rails; k++) {
		rail_open(&rails[k], rail_names[k], &o);
		info_of(&rails[k], &mine[k], &o);
	}
	int wr = child == 0 ? to_a[1] : to_b[1], rd = child == 0 ? to_b[0] : to_a[0];
	if (write(wr, mine, sizeof(mine)) != sizeof(mine) ||
	    read(rd, theirs, sizeof(theirs)) != sizeof(theirs))
		die("exchange");
	for (int k = 0; k < o.rails; k++)
		rail_connect(&rails[k], &theirs[k], &o);
	int rc = child == 0 ? run_sender(rails, theirs, &o, wr) : 0;
	/* host a: the passive side, until the sender is done */
	int early = child != 0 && read_syncs(rd, 2) != 0;
	if (early)
		fprintf(stderr, "softroce-perf: the sender stopped early\n");
	rails_close(rails, &o);
	if (child == 0)
		_exit(rc);
	int status;
	waitpid(child, &status, 0);
	if (own_fabric && nftw(tmpl, remove_entry, 16, FTW_DEPTH | FTW_PHYS))
		fprintf(stderr, "softroce-perf: could not remove %s\n", tmpl);
	return early || !WIFEXITED(status) ? 2 : WEXITSTATUS(status);
}
