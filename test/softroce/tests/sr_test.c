/* Helpers for the softroce conformance suite; see sr_test.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sr_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define SR_ZSGE_GAP 256 /* zero_sge_first: the real SGE starts this far after off */

/* One test per process (Criterion forks each test), so the fabric dir and the
 * peer pid live here for sr_teardown(); nothing else is global. */
static struct {
	char fabric[PATH_MAX];
	pid_t child;
	bool in_peer;
} g_test;

/* A failed helper check fails the test; in the peer process it exits, so the
 * test sees the socket close. */
__attribute__((noreturn, format(printf, 3, 4)))
static void sr_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_test.in_peer) {
		fprintf(stderr, "peer: %s (%s:%d)\n", msg, file, line);
		_exit(3);
	}
	cr_assert_fail("%s (%s:%d)", msg, file, line);
	abort(); /* not reached: cr_assert_fail ends the test */
}

#define SR_CHECK(cond, ...)                                         \
	do {                                                        \
		if (!(cond))                                        \
			sr_fail(__FILE__, __LINE__, __VA_ARGS__);   \
	} while (0)

long long sr_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sr_nap(void)
{
	struct timespec ts = { 0, 50 * 1000 };
	nanosleep(&ts, NULL);
}

/* ---------------- fabric and environment ---------------- */

const char *sr_fabric_setup(void)
{
	snprintf(g_test.fabric, sizeof(g_test.fabric), "/tmp/srtest-XXXXXX");
	SR_CHECK(mkdtemp(g_test.fabric) != NULL, "mkdtemp: %s", strerror(errno));
	setenv("SOFTROCE_FABRIC", g_test.fabric, 1);
	setenv("SOFTROCE_HOST", "a", 1);
	setenv("SOFTROCE_REORDER", "1", 1);
	setenv("SOFTROCE_SEED", "20261121", 1);
	unsetenv("SOFTROCE_TOPOLOGY");
	unsetenv("SOFTROCE_COPY");
	return g_test.fabric;
}

void sr_topology(const char *text)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/topology", g_test.fabric);
	FILE *f = fopen(path, "w");
	SR_CHECK(f != NULL, "open %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	setenv("SOFTROCE_TOPOLOGY", path, 1);
}

void sr_control(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	SR_CHECK(n > 0 && n < (int)sizeof(line) - 1, "control line too long");
	line[n++] = '\n';
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/control", g_test.fabric);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	SR_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	ssize_t w = write(fd, line, (size_t)n);
	close(fd);
	SR_CHECK(w == n, "short write to control file");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void sr_teardown(void)
{
	if (g_test.child > 0) {
		kill(g_test.child, SIGKILL);
		waitpid(g_test.child, NULL, 0);
		g_test.child = 0;
	}
	if (g_test.fabric[0] && !getenv("SRTEST_KEEP"))
		nftw(g_test.fabric, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------- devices and endpoints ---------------- */

struct ibv_context *sr_open(struct sr_side *side, const char *hca)
{
	for (int i = 0; i < side->n_dev; i++)
		if (strcmp(side->dev[i].name, hca) == 0)
			return side->dev[i].ctx;
	SR_CHECK(side->n_dev < 8, "too many devices");
	int num = 0;
	struct ibv_device **list = ibv_get_device_list(&num);
	SR_CHECK(list != NULL, "ibv_get_device_list: %s", strerror(errno));
	struct ibv_context *ctx = NULL;
	for (int i = 0; i < num; i++)
		if (strcmp(ibv_get_device_name(list[i]), hca) == 0)
			ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	SR_CHECK(ctx != NULL, "open %s failed (of %d devices)", hca, num);
	snprintf(side->dev[side->n_dev].name, sizeof(side->dev[0].name), "%s", hca);
	side->dev[side->n_dev++].ctx = ctx;
	return ctx;
}

struct sr_ep_opts sr_ep_opts_default(void)
{
	return (struct sr_ep_opts){
		.hca = SR_HCA0, .buf_len = 65536,
		.max_send_wr = 64, .max_recv_wr = 64,
		.max_send_sge = 2, .max_recv_sge = 2, .max_inline = 64,
		.cqe = 256,
		.timeout = 14, .retry_cnt = 7, .rnr_retry = 7, .min_rnr_timer = 1,
		.sgid_index = 3, .connect = true, .share_cq_with = -1, .share_buf_with = -1,
	};
}

int sr_modify_init(struct ibv_qp *qp, int port)
{
	struct ibv_qp_attr attr = {
		.qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = (uint8_t)port,
		.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ,
	};
	return ibv_modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				 IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

static void ep_create_cqs(struct sr_side *side, struct sr_ep *ep)
{
	int k = ep->opts.share_cq_with;
	if (k >= 0) {
		SR_CHECK(k < side->n_ep && side->ep[k].ctx == ep->ctx, "bad share_cq_with");
		ep->scq = side->ep[k].scq;
		ep->rcq = side->ep[k].rcq;
		return;
	}
	if (ep->opts.scq_channel) {
		ep->chan = ibv_create_comp_channel(ep->ctx);
		SR_CHECK(ep->chan != NULL, "ibv_create_comp_channel: %s", strerror(errno));
	}
	if (ep->opts.cq_wc_flags) {
		struct ibv_cq_init_attr_ex ca = {
			.cqe = (uint32_t)ep->opts.cqe, .channel = ep->chan,
			.wc_flags = ep->opts.cq_wc_flags,
		};
		ep->scqx = ibv_create_cq_ex(ep->ctx, &ca);
		ca.channel = NULL;
		ep->rcqx = ibv_create_cq_ex(ep->ctx, &ca);
		SR_CHECK(ep->scqx && ep->rcqx, "ibv_create_cq_ex: %s", strerror(errno));
		ep->scq = ibv_cq_ex_to_cq(ep->scqx);
		ep->rcq = ibv_cq_ex_to_cq(ep->rcqx);
		return;
	}
	ep->scq = ibv_create_cq(ep->ctx, ep->opts.cqe, NULL, ep->chan, 0);
	ep->rcq = ibv_create_cq(ep->ctx, ep->opts.cqe, NULL, NULL, 0);
	SR_CHECK(ep->scq && ep->rcq, "ibv_create_cq: %s", strerror(errno));
}

static void ep_create_qp(struct sr_ep *ep)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = ep->scq, .recv_cq = ep->rcq, .qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = ep->opts.max_send_wr, .max_recv_wr = ep->opts.max_recv_wr,
			.max_send_sge = ep->opts.max_send_sge, .max_recv_sge = ep->opts.max_recv_sge,
			.max_inline_data = ep->opts.max_inline,
		},
	};
	if (ep->opts.send_ops) {
		struct ibv_qp_init_attr_ex ix = {
			.send_cq = ia.send_cq, .recv_cq = ia.recv_cq, .cap = ia.cap,
			.qp_type = IBV_QPT_RC, .pd = ep->pd, .send_ops_flags = ep->opts.send_ops,
			.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		};
		ep->qp = ibv_create_qp_ex(ep->ctx, &ix);
		SR_CHECK(ep->qp != NULL, "ibv_create_qp_ex: %s", strerror(errno));
		ep->qpx = ibv_qp_to_qp_ex(ep->qp);
		SR_CHECK(ep->qpx != NULL, "ibv_qp_to_qp_ex: NULL");
		ep->cap = ix.cap;
		return;
	}
	ep->qp = ibv_create_qp(ep->pd, &ia);
	SR_CHECK(ep->qp != NULL, "ibv_create_qp: %s", strerror(errno));
	ep->cap = ia.cap;
}

static void ep_register(struct sr_ep *ep)
{
	static const int access[SR_NMR] = {
		[SR_MR_FULL] = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ,
		[SR_MR_NO_RWRITE] = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ,
		[SR_MR_NO_RREAD] = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE,
		[SR_MR_OTHER_PD] = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ,
	};
	size_t len = ep->opts.buf_len;
	if (ep->opts.share_buf_with < 0) {
		ep->buf = mmap(NULL, len * SR_NMR, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		SR_CHECK(ep->buf != MAP_FAILED, "mmap: %s", strerror(errno));
	}
	for (int i = 0; i < SR_NMR; i++) {
		struct ibv_pd *pd = i == SR_MR_OTHER_PD ? ep->pd2 : ep->pd;
		ep->mr[i] = ibv_reg_mr(pd, ep->buf + (size_t)i * len, len, access[i]);
		SR_CHECK(ep->mr[i] != NULL, "ibv_reg_mr %d: %s", i, strerror(errno));
		ep->local.mr[i] = (struct sr_mr_info){
			.addr = (uintptr_t)(ep->buf + (size_t)i * len),
			.rkey = ep->mr[i]->rkey, .len = (uint32_t)len,
		};
	}
}

struct sr_ep *sr_ep_create(struct sr_side *side, const struct sr_ep_opts *opts)
{
	SR_CHECK(side->n_ep < SR_MAX_EPS, "too many endpoints");
	struct sr_ep *ep = &side->ep[side->n_ep];
	memset(ep, 0, sizeof(*ep));
	ep->opts = *opts;
	ep->ctx = sr_open(side, opts->hca);
	ep->pd = ibv_alloc_pd(ep->ctx);
	ep->pd2 = ibv_alloc_pd(ep->ctx);
	SR_CHECK(ep->pd && ep->pd2, "ibv_alloc_pd: %s", strerror(errno));
	ep_create_cqs(side, ep);
	side->n_ep++;
	ep_create_qp(ep);
	int k = opts->share_buf_with;
	if (k >= 0) {
		SR_CHECK(k < side->n_ep - 1 && side->ep[k].opts.buf_len == opts->buf_len,
			 "bad share_buf_with");
		ep->buf = side->ep[k].buf;
	}
	ep_register(ep);
	int rc = sr_modify_init(ep->qp, 1);
	SR_CHECK(rc == 0, "modify to INIT: %s", strerror(rc));
	ep->local.qpn = ep->qp->qp_num;
	ep->local.psn = (ep->qp->qp_num * 2654435761u) & 0xffffff;
	rc = ibv_query_gid(ep->ctx, 1, opts->sgid_index, &ep->local.gid);
	SR_CHECK(rc == 0, "ibv_query_gid %d: %d", opts->sgid_index, rc);
	return ep;
}

void sr_rtr_attr(struct ibv_qp_attr *attr, int *mask, const union ibv_gid *dgid,
		 uint32_t dqpn, int sgid_index)
{
	memset(attr, 0, sizeof(*attr));
	attr->qp_state = IBV_QPS_RTR;
	attr->path_mtu = IBV_MTU_4096;
	attr->dest_qp_num = dqpn;
	attr->rq_psn = 0;
	attr->max_dest_rd_atomic = 1;
	attr->min_rnr_timer = 1;
	attr->ah_attr.is_global = 1;
	attr->ah_attr.grh.dgid = *dgid;
	attr->ah_attr.grh.sgid_index = (uint8_t)sgid_index;
	attr->ah_attr.grh.hop_limit = 64;
	attr->ah_attr.port_num = 1;
	*mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
		IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
}

void sr_rts_attr(struct ibv_qp_attr *attr, int *mask)
{
	memset(attr, 0, sizeof(*attr));
	attr->qp_state = IBV_QPS_RTS;
	attr->timeout = 14;
	attr->retry_cnt = 7;
	attr->rnr_retry = 7;
	attr->sq_psn = 0;
	attr->max_rd_atomic = 1;
	*mask = IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
		IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC;
}

int sr_ep_connect(struct sr_ep *ep)
{
	struct ibv_qp_attr attr;
	int mask;
	sr_rtr_attr(&attr, &mask, &ep->remote.gid, ep->remote.qpn, ep->opts.sgid_index);
	attr.rq_psn = ep->remote.psn;
	attr.min_rnr_timer = ep->opts.min_rnr_timer;
	int rc = ibv_modify_qp(ep->qp, &attr, mask);
	if (rc)
		return rc;
	sr_rts_attr(&attr, &mask);
	attr.sq_psn = ep->local.psn;
	attr.timeout = ep->opts.timeout;
	attr.retry_cnt = ep->opts.retry_cnt;
	attr.rnr_retry = ep->opts.rnr_retry;
	return ibv_modify_qp(ep->qp, &attr, mask);
}

void sr_side_destroy(struct sr_side *side)
{
	for (int i = side->n_ep - 1; i >= 0; i--) {
		struct sr_ep *ep = &side->ep[i];
		if (ep->qp)
			ibv_destroy_qp(ep->qp);
		for (int m = 0; m < SR_NMR; m++)
			if (ep->mr[m])
				ibv_dereg_mr(ep->mr[m]);
		if (ep->opts.share_cq_with < 0) {
			ibv_destroy_cq(ep->scq);
			ibv_destroy_cq(ep->rcq);
		}
		if (ep->chan)
			ibv_destroy_comp_channel(ep->chan);
		ibv_dealloc_pd(ep->pd2);
		ibv_dealloc_pd(ep->pd);
		if (ep->opts.share_buf_with < 0)
			munmap(ep->buf, (size_t)ep->opts.buf_len * SR_NMR);
	}
	for (int i = 0; i < side->n_dev; i++)
		ibv_close_device(side->dev[i].ctx);
	side->n_ep = side->n_dev = 0;
}

enum ibv_qp_state sr_qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr attr;
	struct ibv_qp_init_attr init;
	int rc = ibv_query_qp(qp, &attr, IBV_QP_STATE, &init);
	SR_CHECK(rc == 0, "ibv_query_qp: %s", strerror(rc));
	return attr.qp_state;
}

/* ---------------- data path ---------------- */

int sr_post(struct sr_ep *ep, enum ibv_wr_opcode op, uint64_t wr_id,
	    uint32_t loff, uint32_t len, int rmr, uint32_t roff, int flags,
	    uint32_t imm_raw)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(ep->buf + loff), .length = len,
		.lkey = ep->mr[SR_MR_FULL]->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = (unsigned)flags, .imm_data = imm_raw,
	};
	wr.wr.rdma.remote_addr = ep->remote.mr[rmr].addr + roff;
	wr.wr.rdma.rkey = ep->remote.mr[rmr].rkey;
	struct ibv_send_wr *bad = NULL;
	return ibv_post_send(ep->qp, &wr, &bad);
}

int sr_post_recv(struct sr_ep *ep, uint64_t wr_id, uint32_t off, uint32_t len)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(ep->buf + off), .length = len,
		.lkey = ep->mr[SR_MR_FULL]->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad = NULL;
	return ibv_post_recv(ep->qp, &wr, &bad);
}

int sr_poll(struct ibv_cq *cq, struct ibv_wc *wc, int n, int timeout_ms)
{
	long long end = sr_now_ms() + timeout_ms;
	int got = 0;
	while (got < n) {
		int r = ibv_poll_cq(cq, n - got, wc + got);
		SR_CHECK(r >= 0, "ibv_poll_cq returned %d", r);
		got += r;
		if (got < n) {
			if (sr_now_ms() > end)
				break;
			sr_nap();
		}
	}
	return got;
}

int sr_poll_quiet(struct ibv_cq *cq, int window_ms)
{
	struct ibv_wc wc[8];
	long long end = sr_now_ms() + window_ms;
	int got = 0;
	while (sr_now_ms() < end) {
		int r = ibv_poll_cq(cq, 8, wc);
		SR_CHECK(r >= 0, "ibv_poll_cq returned %d", r);
		got += r;
		sr_nap();
	}
	return got;
}

int sr_async_event(struct ibv_context *ctx, int timeout_ms, struct ibv_async_event *out)
{
	struct pollfd pfd = { .fd = ctx->async_fd, .events = POLLIN };
	int r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return -1;
	struct ibv_async_event ev;
	if (ibv_get_async_event(ctx, &ev))
		return -1;
	if (out)
		*out = ev;
	ibv_ack_async_event(&ev);
	return (int)ev.event_type;
}

/* ---------------- two hosts ---------------- */

static void io_full(int fd, void *buf, size_t len, bool wr)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = wr ? write(fd, p, len) : read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (g_test.in_peer)
				_exit(0); /* the test went away */
			cr_assert_fail("peer socket %s failed (peer died?)", wr ? "write" : "read");
		}
		p += r;
		len -= (size_t)r;
	}
}

static void peer_post_recv(struct sr_ep *ep, const struct sr_cmd *c, struct sr_reply *rep)
{
	rep->rc = 0;
	for (uint32_t i = 0; i < c->n && rep->rc == 0; i++) {
		uint32_t off = c->off + i * c->len;
		uint32_t lkey = ep->mr[SR_MR_FULL]->lkey ^ (c->bad_lkey ? 0x5a5a00 : 0);
		struct ibv_sge sge[2] = {
			{ .addr = (uintptr_t)(ep->buf + off), .length = c->len, .lkey = lkey },
			/* zero_sge_first: SGE 0 is empty, with a key that is never
			 * looked at (the SGE is skipped); data goes to SGE 1. */
			{ .addr = (uintptr_t)(ep->buf + off + SR_ZSGE_GAP), .length = c->len,
			  .lkey = lkey },
		};
		if (c->zero_sge_first)
			sge[0] = (struct ibv_sge){ .addr = sge[0].addr, .length = 0, .lkey = 0xdead00 };
		struct ibv_recv_wr wr = { .wr_id = c->wr_id + i, .sg_list = sge,
					  .num_sge = c->zero_sge_first ? 2 : 1 };
		struct ibv_recv_wr *bad;
		rep->rc = ibv_post_recv(ep->qp, &wr, &bad);
	}
}

static void peer_do(struct sr_side *side, const struct sr_cmd *c, struct sr_reply *rep)
{
	SR_CHECK(c->ep >= 0 && c->ep < side->n_ep, "bad ep %d", c->ep);
	struct sr_ep *ep = &side->ep[c->ep];
	int n = c->n > SR_MAX_WC ? SR_MAX_WC : (int)c->n;
	switch (c->op) {
	case SR_OP_POST_RECV:
		peer_post_recv(ep, c, rep);
		break;
	case SR_OP_POST_SEND:
		rep->rc = sr_post(ep, c->opcode, c->wr_id, c->off, c->len, c->rmr, c->roff,
				  c->send_flags, c->imm);
		break;
	case SR_OP_POLL_RECV:
	case SR_OP_POLL_SEND:
		rep->n = sr_poll(c->op == SR_OP_POLL_RECV ? ep->rcq : ep->scq, rep->wc, n,
				 c->timeout_ms);
		break;
	case SR_OP_QP_STATE:
		rep->rc = (int)sr_qp_state(ep->qp);
		break;
	case SR_OP_READ:
		SR_CHECK(c->len <= SR_MAX_DATA && c->off + c->len <= ep->opts.buf_len, "bad read");
		memcpy(rep->data, ep->buf + c->off, c->len);
		rep->len = c->len;
		break;
	case SR_OP_FILL:
		SR_CHECK(c->off + c->len <= ep->opts.buf_len, "bad fill");
		memset(ep->buf + c->off, c->byte, c->len);
		break;
	case SR_OP_ASYNC:
		rep->rc = sr_async_event(ep->ctx, c->timeout_ms, NULL);
		break;
	case SR_OP_PORT_STATE: {
		struct ibv_port_attr pa;
		rep->rc = ibv_query_port(ep->ctx, 1, &pa) ? -1 : (int)pa.state;
		break;
	}
	default:
		rep->rc = -1;
	}
}

static void peer_serve(int sock, struct sr_side *side)
{
	struct sr_reply *rep = malloc(sizeof(*rep));
	SR_CHECK(rep != NULL, "malloc");
	for (;;) {
		struct sr_cmd c;
		io_full(sock, &c, sizeof(c), false);
		if (c.op == SR_OP_EXIT)
			break;
		memset(rep, 0, sizeof(*rep));
		peer_do(side, &c, rep);
		io_full(sock, rep, sizeof(*rep), true);
	}
	sr_side_destroy(side);
	int done = 0;
	io_full(sock, &done, sizeof(done), true);
	free(rep);
}

static void peer_main(int sock, int n, const struct sr_ep_opts *opts)
{
	g_test.in_peer = true;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setenv("SOFTROCE_HOST", "b", 1); /* before the first verbs call */
	struct sr_side *side = calloc(1, sizeof(*side));
	SR_CHECK(side != NULL, "calloc");
	for (int i = 0; i < n; i++)
		sr_ep_create(side, &opts[i]);
	for (int i = 0; i < n; i++)
		io_full(sock, &side->ep[i].local, sizeof(side->ep[i].local), true);
	int status = 0;
	for (int i = 0; i < n; i++) {
		io_full(sock, &side->ep[i].remote, sizeof(side->ep[i].remote), false);
		if (opts[i].connect && status == 0)
			status = sr_ep_connect(&side->ep[i]);
	}
	io_full(sock, &status, sizeof(status), true);
	peer_serve(sock, side);
	_exit(0);
}

/* Host b runs in a fresh process image: the child of fork() execs this same
 * binary, and the constructor below turns it into the peer before
 * Criterion's main runs. A plain fork from Criterion's test worker (already
 * multi-threaded) followed by softroce starting its NIC thread is undefined
 * for ThreadSanitizer and breaks qemu-user; exec starts single-threaded. */
#define SR_PEER_FD_ENV "SR_TEST_PEER_FD"

struct sr_peer_opts_msg {
	struct sr_ep_opts opts;   /* .hca is meaningless across exec: see hca */
	char hca[64];
};

static void send_peer_opts(int sock, int n, const struct sr_ep_opts *opts)
{
	io_full(sock, &n, sizeof(n), true);
	for (int i = 0; i < n; i++) {
		struct sr_peer_opts_msg m;
		memset(&m, 0, sizeof(m));
		m.opts = opts[i];
		m.opts.hca = NULL;
		if (opts[i].hca)
			snprintf(m.hca, sizeof(m.hca), "%s", opts[i].hca);
		io_full(sock, &m, sizeof(m), true);
	}
}

__attribute__((constructor)) static void sr_peer_entry(void)
{
	const char *fd_text = getenv(SR_PEER_FD_ENV);
	if (!fd_text)
		return;
	char *end = NULL;
	long sock = strtol(fd_text, &end, 10);
	if (end == fd_text || *end != '\0' || sock < 0 || sock > 65535)
		_exit(4);
	unsetenv(SR_PEER_FD_ENV);
	g_test.in_peer = true; /* a failed read exits quietly: no test runs here */
	const char *fabric = getenv("SOFTROCE_FABRIC");
	snprintf(g_test.fabric, sizeof(g_test.fabric), "%s", fabric ? fabric : "");
	int n = 0;
	io_full((int)sock, &n, sizeof(n), false);
	if (n <= 0 || n > SR_MAX_EPS)
		_exit(4);
	static struct sr_peer_opts_msg msg[SR_MAX_EPS];
	struct sr_ep_opts opts[SR_MAX_EPS];
	for (int i = 0; i < n; i++) {
		io_full((int)sock, &msg[i], sizeof(msg[i]), false);
		msg[i].hca[sizeof(msg[i].hca) - 1] = '\0';
		opts[i] = msg[i].opts;
		opts[i].hca = msg[i].hca[0] ? msg[i].hca : NULL;
	}
	peer_main((int)sock, n, opts);
}

static void exec_peer(int sock)
{
	char fd_text[16];
	snprintf(fd_text, sizeof(fd_text), "%d", sock);
	int flags = fcntl(sock, F_GETFD);
	if (flags < 0 || fcntl(sock, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		_exit(5);
	setenv(SR_PEER_FD_ENV, fd_text, 1);
	char *const argv[] = { (char *)"softroce-conformance-peer", NULL };
	execv("/proc/self/exe", argv);
	_exit(6);
}

static union ibv_gid sr_unowned_gid(void)
{
	union ibv_gid gid = { .raw = { [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 168,
				       [14] = 100, [15] = 77 } };
	return gid;
}

void sr_pair_start(struct sr_pair *p, int n, const struct sr_ep_opts *local_opts,
		   const struct sr_ep_opts *peer_opts)
{
	int sv[2];
	cr_assert(n > 0 && n <= SR_MAX_EPS);
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	memset(p, 0, sizeof(*p));
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		exec_peer(sv[1]);
	}
	close(sv[1]);
	p->sock = sv[0];
	send_peer_opts(p->sock, n, peer_opts);
	p->child = g_test.child = pid;
	for (int i = 0; i < n; i++)
		sr_ep_create(&p->side, &local_opts[i]);
	for (int i = 0; i < n; i++)
		io_full(p->sock, &p->side.ep[i].remote, sizeof(p->side.ep[i].remote), false);
	for (int i = 0; i < n; i++)
		io_full(p->sock, &p->side.ep[i].local, sizeof(p->side.ep[i].local), true);
	int peer_status = -1;
	io_full(p->sock, &peer_status, sizeof(peer_status), false);
	cr_assert_eq(peer_status, 0, "peer failed to connect: %s", strerror(peer_status));
	for (int i = 0; i < n; i++) {
		struct sr_ep *ep = &p->side.ep[i];
		if (local_opts[i].bad_dgid)
			ep->remote.gid = sr_unowned_gid();
		if (local_opts[i].connect) {
			int rc = sr_ep_connect(ep);
			cr_assert_eq(rc, 0, "connect ep %d: %s", i, strerror(rc));
		}
	}
}

void sr_peer(struct sr_pair *p, const struct sr_cmd *cmd, struct sr_reply *reply)
{
	io_full(p->sock, (void *)cmd, sizeof(*cmd), true);
	io_full(p->sock, reply, sizeof(*reply), false);
}

void sr_pair_stop(struct sr_pair *p)
{
	struct sr_cmd c = { .op = SR_OP_EXIT };
	io_full(p->sock, &c, sizeof(c), true);
	int done = -1;
	io_full(p->sock, &done, sizeof(done), false);
	close(p->sock);
	int status = 0;
	waitpid(p->child, &status, 0);
	g_test.child = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "peer exit status %#x", status);
	sr_side_destroy(&p->side);
}

int sr_peer_qp_state(struct sr_pair *p, int ep)
{
	struct sr_cmd c = { .op = SR_OP_QP_STATE, .ep = ep };
	struct sr_reply rep;
	sr_peer(p, &c, &rep);
	return rep.rc;
}

void sr_peer_post_recv(struct sr_pair *p, int ep, uint64_t wr_id, uint32_t off,
		       uint32_t len, uint32_t n)
{
	struct sr_cmd c = { .op = SR_OP_POST_RECV, .ep = ep, .wr_id = wr_id, .off = off,
			    .len = len, .n = n };
	struct sr_reply rep;
	sr_peer(p, &c, &rep);
	cr_assert_eq(rep.rc, 0, "peer post_recv: %s", strerror(rep.rc));
}

int sr_peer_poll_recv(struct sr_pair *p, int ep, int n, int timeout_ms, struct sr_reply *reply)
{
	struct sr_cmd c = { .op = SR_OP_POLL_RECV, .ep = ep, .n = (uint32_t)n,
			    .timeout_ms = timeout_ms };
	sr_peer(p, &c, reply);
	return reply->n;
}

void sr_peer_read(struct sr_pair *p, int ep, uint32_t off, uint32_t len, void *out)
{
	struct sr_cmd c = { .op = SR_OP_READ, .ep = ep, .off = off, .len = len };
	struct sr_reply rep;
	sr_peer(p, &c, &rep);
	cr_assert_eq(rep.len, len);
	memcpy(out, rep.data, len);
}

void sr_peer_fill(struct sr_pair *p, int ep, uint32_t off, uint32_t len, uint8_t byte)
{
	struct sr_cmd c = { .op = SR_OP_FILL, .ep = ep, .off = off, .len = len, .byte = byte };
	struct sr_reply rep;
	sr_peer(p, &c, &rep);
}

void sr_expect_wc(struct ibv_cq *cq, uint64_t wr_id, enum ibv_wc_status status,
		  struct ibv_wc *out)
{
	struct ibv_wc wc;
	int n = sr_poll(cq, &wc, 1, SR_DEADLINE_MS);
	cr_assert_eq(n, 1, "no CQE for wr_id %#llx within %d ms (want %s)",
		     (unsigned long long)wr_id, SR_DEADLINE_MS, ibv_wc_status_str(status));
	cr_assert_eq(wc.wr_id, wr_id, "CQE wr_id %#llx, want %#llx",
		     (unsigned long long)wc.wr_id, (unsigned long long)wr_id);
	cr_assert_eq(wc.status, status, "wr_id %#llx status %s, want %s",
		     (unsigned long long)wr_id, ibv_wc_status_str(wc.status),
		     ibv_wc_status_str(status));
	if (out)
		*out = wc;
}

int sr_wait_peer_state(struct sr_pair *p, int ep, int state, int timeout_ms)
{
	long long end = sr_now_ms() + timeout_ms;
	int s;
	while ((s = sr_peer_qp_state(p, ep)) != state && sr_now_ms() < end)
		sr_nap();
	return s;
}

int sr_wait_state(struct ibv_qp *qp, int state, int timeout_ms)
{
	long long end = sr_now_ms() + timeout_ms;
	int s;
	while ((s = (int)sr_qp_state(qp)) != state && sr_now_ms() < end)
		sr_nap();
	return s;
}

void sr_pair_default(struct sr_pair *p)
{
	struct sr_ep_opts o = sr_ep_opts_default();
	sr_pair_start(p, 1, &o, &o);
}

/* ---------------- misc ---------------- */

int sr_read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

long long sr_counter(const char *host, const char *hca, const char *name)
{
	char path[PATH_MAX * 2], buf[64];
	snprintf(path, sizeof(path), "%s/sys/%s/class/infiniband/%s/ports/1/counters/%s",
		 g_test.fabric, host, hca, name);
	if (sr_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

bool sr_wc_opcode_valid(int opcode)
{
	switch (opcode) {
	case IBV_WC_SEND: case IBV_WC_RDMA_WRITE: case IBV_WC_RDMA_READ:
	case IBV_WC_COMP_SWAP: case IBV_WC_FETCH_ADD: case IBV_WC_BIND_MW:
	case IBV_WC_LOCAL_INV: case IBV_WC_TSO: case IBV_WC_RECV:
	case IBV_WC_RECV_RDMA_WITH_IMM: case IBV_WC_TM_ADD: case IBV_WC_TM_DEL:
	case IBV_WC_TM_SYNC: case IBV_WC_TM_RECV: case IBV_WC_TM_NO_TAG:
	case IBV_WC_DRIVER1: case IBV_WC_DRIVER2: case IBV_WC_DRIVER3:
		return true;
	default:
		return false;
	}
}
