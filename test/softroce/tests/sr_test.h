/*
 * Helpers for the softroce conformance suite.
 *
 * Every test runs in its own Criterion process with its own fabric directory
 * (mkdtemp), so tests may run in parallel. Only the public verbs API and the
 * fixed env/control-file interface of softroce are used, so each test is also
 * a statement about how a ConnectX-7 (mlx5) behaves.
 *
 * Two emulated hosts are two processes: sr_pair_start() forks a peer that
 * sets SOFTROCE_HOST=b before its first verbs call, builds its endpoints,
 * exchanges QPN/GID/MR info over a socketpair and then serves small commands
 * (post a recv, poll, query the QP state, read its memory ...) so a test can
 * check both sides of a rule.
 */
#ifndef SR_TEST_H
#define SR_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/verbs.h>

#define SR_HCA0 "rocep1s0f0"
#define SR_HCA1 "rocep1s0f1"
#define SR_HCA2 "roceP2p1s0f0"
#define SR_HCA3 "roceP2p1s0f1"

#define SR_DEADLINE_MS 5000   /* default wait for anything that must happen */
#define SR_MAX_EPS 8
#define SR_MAX_WC 64
#define SR_MAX_DATA 16384

/* The memory regions every endpoint registers, one slice of its buffer each. */
enum sr_mr_kind {
	SR_MR_FULL,      /* LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ */
	SR_MR_NO_RWRITE, /* LOCAL_WRITE | REMOTE_READ */
	SR_MR_NO_RREAD,  /* LOCAL_WRITE | REMOTE_WRITE */
	SR_MR_OTHER_PD,  /* full access, but on a second PD */
	SR_NMR
};

/* How an endpoint is built and connected. sr_ep_opts_default() fills it. */
struct sr_ep_opts {
	const char *hca;
	uint32_t buf_len;      /* bytes per MR slice */
	uint32_t max_send_wr, max_recv_wr, max_send_sge, max_recv_sge;
	uint32_t max_inline;
	int cqe;               /* requested size of each CQ */
	uint8_t timeout, retry_cnt, rnr_retry, min_rnr_timer;
	int sgid_index;
	bool connect;          /* move to RTS against the peer (else stay INIT) */
	bool bad_dgid;         /* connect to a GID nobody owns */
	int share_cq_with;     /* index of an earlier endpoint on the same HCA, or -1 */
	bool scq_channel;      /* give the send CQ a completion channel */
	int share_buf_with;    /* register an earlier endpoint's memory (same
				* buf_len), or -1 for a buffer of its own */
	uint64_t send_ops;     /* != 0: ibv_create_qp_ex with these send_ops_flags */
	uint64_t cq_wc_flags;  /* != 0: both CQs by ibv_create_cq_ex with these */
};

struct sr_mr_info {
	uint64_t addr;
	uint32_t rkey;
	uint32_t len;
};

/* What one side tells the other about an endpoint. */
struct sr_ep_info {
	uint32_t qpn;
	uint32_t psn;
	union ibv_gid gid;
	struct sr_mr_info mr[SR_NMR];
};

struct sr_ep {
	struct sr_ep_opts opts;
	struct ibv_context *ctx;
	struct ibv_pd *pd, *pd2;
	struct ibv_cq *scq, *rcq;
	struct ibv_cq_ex *scqx, *rcqx; /* when opts.cq_wc_flags */
	struct ibv_qp_ex *qpx;         /* when opts.send_ops */
	struct ibv_comp_channel *chan; /* of scq, when opts.scq_channel */
	struct ibv_qp *qp;
	uint8_t *buf;          /* SR_NMR slices of opts.buf_len */
	struct ibv_mr *mr[SR_NMR];
	struct ibv_qp_cap cap; /* as written back by ibv_create_qp */
	struct sr_ep_info local, remote;
};

/* One process's view: its open devices and endpoints. */
struct sr_side {
	int n_dev;
	struct { char name[64]; struct ibv_context *ctx; } dev[8];
	int n_ep;
	struct sr_ep ep[SR_MAX_EPS];
};

struct sr_pair {
	int sock;
	pid_t child;
	struct sr_side side;
};

/* Commands the peer process serves. */
enum sr_op {
	SR_OP_POST_RECV = 1, /* n recvs of len at off + i*len, wr_id + i */
	SR_OP_POST_SEND,     /* one WR: opcode, len, off -> remote MR slice/roff */
	SR_OP_POLL_RECV,     /* poll rcq until n CQEs or timeout_ms */
	SR_OP_POLL_SEND,
	SR_OP_QP_STATE,      /* rc = ibv_query_qp state */
	SR_OP_READ,          /* data = buf[off, off+len) of slice 0 */
	SR_OP_FILL,          /* buf[off, off+len) = byte */
	SR_OP_ASYNC,         /* wait for one async event: rc = event_type or -1 */
	SR_OP_PORT_STATE,    /* rc = port state of the endpoint's HCA */
	SR_OP_EXIT,
};

struct sr_cmd {
	int op;
	int ep;
	uint64_t wr_id;
	uint32_t off, len, n;
	int timeout_ms;
	int opcode;          /* enum ibv_wr_opcode for SR_OP_POST_SEND */
	int send_flags;
	int rmr;             /* remote MR kind */
	uint32_t roff;
	uint32_t imm;        /* raw __be32 bits */
	uint8_t byte;
	bool zero_sge_first; /* recv: prepend a zero-length SGE at off */
	bool bad_lkey;       /* recv: use a key that names no MR */
};

struct sr_reply {
	int rc;
	int n;
	uint32_t len;
	struct ibv_wc wc[SR_MAX_WC];
	uint8_t data[SR_MAX_DATA];
};

/* ---- fabric and environment ---- */

/* mkdtemp a fabric dir, set SOFTROCE_FABRIC/HOST=a/REORDER=1/SEED and unset
 * SOFTROCE_TOPOLOGY; call before any verbs call. Returns the dir. */
const char *sr_fabric_setup(void);
/* Write a topology file into the fabric dir and point SOFTROCE_TOPOLOGY at it. */
void sr_topology(const char *text);
/* Append one line to $SOFTROCE_FABRIC/control. */
void sr_control(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Criterion .fini: stop the peer, remove the fabric dir. */
void sr_teardown(void);

/* ---- devices and endpoints ---- */

struct ibv_context *sr_open(struct sr_side *side, const char *hca);
struct sr_ep_opts sr_ep_opts_default(void);
/* Create PD, CQs, QP (left in INIT) and MRs. */
struct sr_ep *sr_ep_create(struct sr_side *side, const struct sr_ep_opts *opts);
/* INIT -> RTR -> RTS against ep->remote; returns 0 or the failing errno. */
int sr_ep_connect(struct sr_ep *ep);
void sr_side_destroy(struct sr_side *side);

int sr_modify_init(struct ibv_qp *qp, int port);
void sr_rtr_attr(struct ibv_qp_attr *attr, int *mask, const union ibv_gid *dgid,
		 uint32_t dqpn, int sgid_index);
void sr_rts_attr(struct ibv_qp_attr *attr, int *mask);
enum ibv_qp_state sr_qp_state(struct ibv_qp *qp);

/* ---- data path ---- */

/* Post one WR from slice 0 [loff, loff+len) to the remote MR rmr at roff. */
int sr_post(struct sr_ep *ep, enum ibv_wr_opcode op, uint64_t wr_id,
	    uint32_t loff, uint32_t len, int rmr, uint32_t roff, int flags,
	    uint32_t imm_raw);
int sr_post_recv(struct sr_ep *ep, uint64_t wr_id, uint32_t off, uint32_t len);
/* Poll until n CQEs or timeout_ms; returns how many were collected. */
int sr_poll(struct ibv_cq *cq, struct ibv_wc *wc, int n, int timeout_ms);
/* Poll for window_ms and return how many CQEs showed up (want 0). */
int sr_poll_quiet(struct ibv_cq *cq, int window_ms);
/* Wait for one async event on ctx; returns its type, or -1 on timeout. The
 * event element is copied to *ev when ev != NULL. */
int sr_async_event(struct ibv_context *ctx, int timeout_ms, struct ibv_async_event *ev);

/* ---- two hosts ---- */

/* Fork the peer (host b) with n endpoints built from peer_opts[i], build the
 * local ones (host a) from local_opts[i], exchange infos and connect both
 * sides (those with .connect). */
void sr_pair_start(struct sr_pair *p, int n, const struct sr_ep_opts *local_opts,
		   const struct sr_ep_opts *peer_opts);
/* Run one command on the peer; asserts the peer answered. */
void sr_peer(struct sr_pair *p, const struct sr_cmd *cmd, struct sr_reply *reply);
void sr_pair_stop(struct sr_pair *p);

/* Shorthands over sr_peer(). */
int sr_peer_qp_state(struct sr_pair *p, int ep);
void sr_peer_post_recv(struct sr_pair *p, int ep, uint64_t wr_id, uint32_t off,
		       uint32_t len, uint32_t n);
int sr_peer_poll_recv(struct sr_pair *p, int ep, int n, int timeout_ms,
		      struct sr_reply *reply);
void sr_peer_read(struct sr_pair *p, int ep, uint32_t off, uint32_t len, void *out);
void sr_peer_fill(struct sr_pair *p, int ep, uint32_t off, uint32_t len, uint8_t byte);

/* Poll one CQE from cq (deadline SR_DEADLINE_MS) and assert its wr_id and
 * status; the CQE is copied to *out when out != NULL. */
void sr_expect_wc(struct ibv_cq *cq, uint64_t wr_id, enum ibv_wc_status status,
		  struct ibv_wc *out);
/* Wait until the peer's QP reaches state; returns the last state seen. */
int sr_wait_peer_state(struct sr_pair *p, int ep, int state, int timeout_ms);
/* Wait until the local QP reaches state; returns the last state seen. */
int sr_wait_state(struct ibv_qp *qp, int state, int timeout_ms);
/* Start a pair of one default endpoint per side. */
void sr_pair_default(struct sr_pair *p);

/* ---- misc ---- */

long long sr_now_ms(void);
/* Read a whole small file into buf (NUL-terminated); -1 if absent. */
int sr_read_file(const char *path, char *buf, size_t cap);
/* Read an integer sysfs counter of host/hca; -1 if absent. */
long long sr_counter(const char *host, const char *hca, const char *name);
bool sr_wc_opcode_valid(int opcode);

#endif
