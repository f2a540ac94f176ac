/* softroce: internal declarations shared by the library's files.
 *
 * The library emulates ConnectX-7 RoCE HCAs of several DGX Spark hosts.  All
 * hosts share one directory ($SOFTROCE_FABRIC) holding a memory-mapped state
 * file (ports, counters, link clocks, QPN registry), one unix socket per
 * process (the "wire"), the control file and the emulated sysfs tree. */
#ifndef SOFTROCE_SR_H
#define SOFTROCE_SR_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <poll.h>

#define SR_EXPORT __attribute__((visibility("default")))

#define SR_MAX_HOSTS   16
#define SR_MAX_HCAS    8
#define SR_MAX_LINKS   16             /* link groups / cables per host */
#define SR_MAX_QPNS    16384          /* shared QPN registry slots (power of 2) */
#define SR_NAME_MAX    32
#define SR_GID_TBL_LEN 256
#define SR_MAX_GIDS    8              /* populated entries we ever create */
#define SR_MAX_SGE     30             /* mlx5 max_sge on CX-7 */
#define SR_MAX_QP_WR   32768
#define SR_MAX_CQE     4194303
#define SR_MAX_INLINE  912            /* what mlx5 grants for max_send_sge small */

/* ---- topology ------------------------------------------------------------ */
struct sr_hca_cfg {
	int id;                           /* stable index: GUIDs, MACs, registry */
	char name[SR_NAME_MAX];
	char pci[SR_NAME_MAX];            /* 0000:01:00.0 */
	char netdev[SR_NAME_MAX];
	char subnet[SR_NAME_MAX];         /* "192.168.100" */
	bool active;                      /* cabled: port ACTIVE at start */
	bool ipv4;                        /* IPv4 GIDs present */
	int link_gen, link_width;         /* PCIe link: 5, 4 */
	enum ibv_mtu mtu;
	int netdev_mtu;                   /* netdev MTU; 0 = from mtu (4096 -> 9000) */
	int gid_index;                    /* index of the RoCE v2 IPv4 GID (3..5) */
	double rate;                      /* fraction of the link cap */
	int link_group;                   /* which PCIe x4 link (PCI domain) */
	int cable;                        /* which physical port/cable */
	bool spark;                       /* one of the four Spark functions */
	uint32_t v4_addr;                 /* != 0: the IPv4 GIDs' address (network order),
					   * the netdev's (netdev.c); 0: subnet.octet */
};

struct sr_set_line { char host[SR_NAME_MAX]; char hca[SR_NAME_MAX]; char kv[256]; };

struct sr_topo {
	double scale, latency_us, timeout_scale;
	int nhca;
	struct sr_hca_cfg hca[SR_MAX_HCAS];
	int nset;
	struct sr_set_line set[64];
	int noctet;
	struct { char host[SR_NAME_MAX]; int octet; } octet[SR_MAX_HOSTS];
	int nfault;
	char fault[32][128];
};

int sr_topo_load(struct sr_topo *t, const char *path);  /* path may be NULL */
int sr_topo_host_octet(const struct sr_topo *t, const char *host);
/* The HCAs of one host with the per-host overrides applied. */
int sr_topo_host_hcas(const struct sr_topo *t, const char *host,
		      struct sr_hca_cfg *out);
int sr_hca_index(const struct sr_topo *t, const char *name);

/* ---- GID table ----------------------------------------------------------- */
struct sr_gid { union ibv_gid gid; enum ibv_gid_type type; bool valid; };
void sr_hca_mac(int octet, int hca_idx, uint8_t mac[6]);
uint64_t sr_hca_guid(int octet, int hca_idx);    /* host order */
void sr_hca_gids(const struct sr_hca_cfg *c, int octet, int hca_idx,
		 struct sr_gid gids[SR_MAX_GIDS]);

/* ---- shared fabric state ------------------------------------------------- */
struct sr_shm_port {
	uint32_t link_down;       /* fault: down at this end */
	uint32_t down_gen;        /* times the link went down: a packet sent before
				   * one of them is lost, however short the outage */
	uint32_t rate_ppm;        /* fault: fraction of link cap × 1e6, 0 = unset */
	uint32_t netdev_mtu;      /* control "mtu": the netdev's MTU, 0 = the topology's */
	uint32_t drop_acks;       /* control "acks drop": responses (ACK, NAK, READ
				   * response) arriving at this end are lost */
	uint64_t netdev_v4;       /* control "addr": 0 = the topology's, else 1 << 32 |
				   * the address (network order; 0 = none) */
	uint64_t xmit_bytes, rcv_bytes, xmit_pkts, rcv_pkts;
};

struct sr_shm_host {
	char name[SR_NAME_MAX];
	uint32_t used;
	uint32_t frozen;
	struct sr_shm_port port[SR_MAX_HCAS];
	uint64_t link_clock[SR_MAX_LINKS][2];  /* per PCIe link: [0] tx, [1] rx */
	uint64_t cable_clock[SR_MAX_LINKS];    /* per cable, this host → peer */
	uint64_t sysfs_ns;                     /* last counter refresh (one writer) */
};

struct sr_shm_qpn {
	uint32_t qpn;             /* 0 = free */
	uint16_t host, hca;
	int32_t pid;
	/* Published by the owner on every state change, so a requester can tell
	 * a lost packet (the responder would drop it) from a slow one. */
	uint32_t receiving;       /* 1 while in RTR or RTS */
	uint32_t peer_qpn;        /* dest_qpn while receiving */
};

struct sr_shm {
	uint64_t magic;
	uint32_t ready;
	uint32_t lock;           /* spinlock for the host registry */
	struct sr_shm_host host[SR_MAX_HOSTS];
	struct sr_shm_qpn qpn[SR_MAX_QPNS];
};

/* ---- process-wide state -------------------------------------------------- */
struct sr_ctx;
struct sr_qp;
struct sr_cq;

struct sr_proc {
	pthread_mutex_t lock;         /* guards everything below and all objects */
	bool inited;
	char fabric[512];
	char host[SR_NAME_MAX];
	int host_idx, octet;
	struct sr_topo topo;
	struct sr_hca_cfg hca[SR_MAX_HCAS];
	int nhca;
	struct sr_shm *shm;
	bool reorder;
	uint64_t seed;
	bool stream_copy;             /* payload through the socket */
	uint64_t tmo_floor_ns;        /* least ACK timeout (SOFTROCE_TIMEOUT_FLOOR_MS) */
	bool debug;
	/* engine */
	int nctx;                     /* open contexts */
	struct sr_ctx *ctxs;          /* list */
	pthread_t thread;
	bool thread_running, stop;
	int wake_fd;                  /* eventfd */
	int listen_fd;
	struct sr_qp **qp_tab;        /* open hash by qpn */
	unsigned qp_tab_size;
	uint64_t last_ctl_ns;
	long ctl_off;
	uint64_t rng;
};

extern struct sr_proc sr_g;

/* ---- objects ------------------------------------------------------------- */
struct sr_device {
	struct ibv_device dev;
	int refs;
	int hca_idx;
	struct sr_hca_cfg cfg;
	int octet;
};

struct sr_async_ev { uint32_t type; uint32_t pad; void *elem; };

struct sr_ctx {
	struct sr_ctx *next;
	struct sr_device *sdev;
	int async_rd, async_wr;      /* pipe */
	uint32_t port_state_seen;
	bool gid_init;               /* the two below are set (at open) */
	uint64_t gid_seen;           /* netdev_v4 when the IPv4 GID was last looked at */
	struct sr_gid v4_gid_seen;   /* the RoCE v2 IPv4 GID then (IBV_EVENT_GID_CHANGE) */
	struct verbs_context vctx;   /* must stay last: ibv_context is its last field */
};

struct sr_pd { struct ibv_pd pd; int refs; };

struct sr_mr {
	struct ibv_mr mr;
	uint64_t iova;
	uint64_t va;                 /* process address of iova */
	unsigned access;
	void *map;                   /* dma-buf MRs: our mapping of the fd */
	size_t map_len;
};

struct sr_comp_channel { struct ibv_comp_channel ch; int wr_fd; int refs; };

/* A CQE plus what poll needs to free send-queue slots as mlx5 does. */
struct sr_cqe {
	struct ibv_wc wc;
	uint64_t sq_index;           /* send WQE index + 1, 0 for a receive */
};

struct sr_cq {
	union {                      /* ibv_cq_ex starts with ibv_cq's fields */
		struct ibv_cq cq;
		struct ibv_cq_ex cqx;
	};
	bool is_ex;                  /* made by ibv_create_cq_ex */
	uint64_t wc_flags;           /* ibv_create_cq_wc_flags asked for */
	bool polling;                /* between start_poll and end_poll */
	pthread_mutex_t poll_lock;   /* cq_ex: held start_poll..end_poll, as mlx5 */
	struct ibv_wc cur;           /* the CQE start/next_poll returned */
	struct sr_cqe *ring;
	uint32_t cap;                /* reported cqe */
	uint32_t head, count;
	bool armed;
	bool overrun;
	int refs;                    /* QPs bound */
	struct sr_comp_channel *chan;
};

struct sr_sge { uint64_t addr; uint32_t length; uint32_t lkey; };

struct sr_swqe {
	uint64_t wr_id;
	enum ibv_wr_opcode opcode;
	unsigned send_flags;
	uint32_t imm;
	uint64_t raddr;
	uint32_t rkey;
	int nsge;
	struct sr_sge *sge;          /* max_send_sge entries in qp->sq_sges */
	uint64_t len;
	uint8_t *inl;                /* inline payload copied at post */
	bool signaled;
	uint64_t post_ns;            /* when posted: its link booking starts no earlier */
	/* execution */
	bool started;
	uint32_t first_psn, npkt;    /* requester PSN counter values */
	enum ibv_wc_status err;      /* local error found at execution */
	uint32_t err_psn;            /* reported once everything before is acked */
};

struct sr_rwqe {
	uint64_t wr_id;
	int nsge;
	struct sr_sge *sge;
	uint64_t len;
};

struct sr_wr_batch;

struct sr_qp {
	union {                      /* ibv_qp_ex starts with an ibv_qp */
		struct ibv_qp qp;
		struct ibv_qp_ex qpx;
	};
	uint64_t send_ops;           /* ibv_qp_create_send_ops_flags; qpx valid when set */
	bool has_qpx;
	struct sr_wr_batch *batch;   /* ibv_wr_* work requests before wr_complete */
	struct sr_ctx *ctx;
	struct sr_qp *hnext;
	struct sr_qp *lnext;         /* list of all QPs (engine scan) */
	struct ibv_qp_cap cap;
	bool sq_sig_all;
	/* attributes */
	uint8_t port;
	unsigned access;
	uint16_t pkey_index;
	struct ibv_ah_attr ah;
	enum ibv_mtu mtu;
	uint32_t dest_qpn, rq_psn, sq_psn;
	uint8_t timeout, retry_cnt, rnr_retry, min_rnr_timer;
	uint8_t max_rd_atomic, max_dest_rd_atomic;
	/* send queue: indices grow forever, slot = index % sq_size */
	struct sr_swqe *sq;
	struct sr_sge *sq_sges;
	uint32_t sq_size;
	uint64_t sq_head;            /* posted */
	uint64_t sq_tail;            /* freed by a polled CQE (mlx5 overflow check) */
	uint64_t sq_done;            /* completed */
	uint64_t sq_exec;            /* next WQE to start */
	/* receive queue */
	struct sr_rwqe *rq;
	struct sr_sge *rq_sges;
	uint32_t rq_size;
	uint64_t rq_head, rq_cons, rq_tail;
	/* requester transport (PSN counters are 32-bit, 24 bits on the wire) */
	uint32_t next_psn, una_psn, max_psn;
	uint64_t timer_ns;
	uint64_t rnr_until_ns;
	uint64_t resume_ns;          /* go-back-N decided: resends book from here */
	uint64_t last_deliver_ns;
	unsigned retries, rnr_retries;
	bool need_flush;
	bool halted;                 /* a local error stops transmission at halt_psn */
	uint32_t halt_psn;
	/* responder */
	uint64_t last_ack_ns;
	uint32_t epsn;
	bool in_send;                /* receiving a multi-segment SEND */
	/* route cache, checked again against the QPN registry at every send */
	int dst_pid, dst_host, dst_hca;
	bool dst_known, dst_ok;
	struct sr_hca_cfg dst_cfg;
};

/* ---- wire --------------------------------------------------------------- */
enum sr_msg_type { SR_M_REQ = 1, SR_M_ACK, SR_M_NAK, SR_M_READ_RESP };
enum sr_nak { SR_NAK_RNR = 1, SR_NAK_ACCESS, SR_NAK_INV_REQ, SR_NAK_REM_OP,
	      SR_NAK_STREAM, SR_NAK_LOC_PROT };

struct sr_iov { uint64_t addr, len; };

/* One packet train ("segment") of a message, or its acknowledgement. */
struct sr_msg {
	uint32_t type;
	uint32_t dst_qpn, src_qpn;
	uint32_t psn;                /* 24 bits */
	int32_t src_pid;
	uint16_t src_host, src_hca;
	uint64_t deliver_at;         /* CLOCK_MONOTONIC ns */
	uint8_t opcode;              /* enum ibv_wr_opcode */
	uint8_t last;                /* last segment of the message */
	uint8_t nak;                 /* enum sr_nak */
	uint8_t niov;
	uint32_t imm;
	uint32_t link_gen;           /* the sender's port down_gen when it was sent */
	uint64_t raddr;              /* remote address of this segment */
	uint32_t rkey;
	uint32_t seg_len;
	uint64_t msg_off, msg_len;
	uint32_t payload_len;        /* bytes following the header */
	uint32_t rnr_us;       /* RNR NAK: back-off in µs */
	struct sr_iov iov[SR_MAX_SGE];  /* requester memory of this segment */
};

int sr_wire_open(void);
void sr_wire_close(void);
void sr_wire_forget(void);
int sr_wire_send(int pid, const struct sr_msg *m, const void *payload);
int sr_wire_fill_pollfds(struct pollfd *pfd, int max);
void sr_wire_service(struct pollfd *pfd, int n);
/* engine.c: one complete frame arrived */
void sr_engine_rx(const struct sr_msg *m, const void *payload);

/* ---- functions shared between files -------------------------------------- */
uint64_t sr_now_ns(void);
int sr_proc_init(void);                /* env + topology + fabric; idempotent */
void sr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fabric.c */
int sr_fabric_map(void);
int sr_fabric_host_idx(const char *name, bool create);
/* How many times (host, hca)'s link went down (0 for indices out of range). */
uint32_t sr_port_down_gen(int host_idx, int hca_idx);
bool sr_port_active(int host_idx, const char *host, int hca_idx);
double sr_port_rate(int host_idx, int hca_idx, const struct sr_hca_cfg *c);
uint32_t sr_qpn_alloc(int hca_idx);
void sr_qpn_free(uint32_t qpn);
const struct sr_shm_qpn *sr_qpn_lookup(uint32_t qpn);
void sr_qpn_publish(uint32_t qpn, bool receiving, uint32_t peer_qpn);
uint64_t sr_clock_reserve(uint64_t *clock, uint64_t earliest, uint64_t dur);
int sr_host_cfg(int host_idx, struct sr_hca_cfg *hcas, int *octet);

/* sysfs.c */
int sr_sysfs_build(void);
void sr_sysfs_refresh(void);
void sr_sysfs_cleanup(void);

/* async.c */
void sr_async_push(struct sr_ctx *ctx, enum ibv_event_type type, void *elem);

/* cq.c */
void sr_cq_push(struct sr_cq *cq, const struct ibv_wc *wc, uint64_t sq_index);
/* Takes the oldest CQE (lock held); false when there is none. */
bool sr_cq_pop(struct sr_cq *cq, struct ibv_wc *wc);
bool sr_cq_empty(struct sr_cq *cq, bool *dead);   /* lock-free peek */
void sr_cq_push_err(struct sr_cq *cq, uint64_t wr_id, enum ibv_wc_status st,
		    uint32_t qpn, uint32_t vendor_err, uint64_t sq_index);

/* qp.c */
struct sr_qp *sr_qp_find(uint32_t qpn);
void sr_qp_to_err(struct sr_qp *qp);
void sr_qp_orphan_ctx(const struct sr_ctx *ctx);
extern struct sr_qp *sr_qp_list;

/* mr.c: key lookup and checks; the checks return an ibv_wc_status */
struct sr_mr *sr_mr_find(uint32_t key);
bool sr_mr_covers(const struct sr_mr *mr, uint64_t iova, uint64_t len);
static inline uint64_t sr_mr_va(const struct sr_mr *mr, uint64_t iova)
{
	return mr->va + (iova - mr->iova);
}

/* engine.c */
int sr_engine_start(void);
void sr_engine_stop(void);
void sr_engine_wake(void);
void sr_engine_forget(void);

/* req.c / resp.c (engine thread, lock held) */
void sr_req_progress(struct sr_qp *qp, uint64_t now, uint64_t *wake);
bool sr_req_doorbell(struct sr_qp *qp, uint64_t now);   /* post_send; true: NIC needed */
void sr_req_rx(struct sr_qp *qp, const struct sr_msg *m, const void *payload, uint64_t now);
void sr_resp_rx(const struct sr_msg *m, const void *payload, uint64_t now);
void sr_qp_flush(struct sr_qp *qp);
uint64_t sr_jitter_ns(void);
int sr_send_ctl(int pid, uint32_t type, uint32_t dst_qpn, struct sr_qp *from, uint32_t psn,
		uint8_t nak, uint32_t rnr_us, const void *payload, uint32_t plen, uint64_t now);
#define SR_SEG (256u << 10)

/* control.c */
void sr_control_poll(void);
int sr_control_apply(const char *line);

/* netdev.c: SOFTROCE_NETDEV=real, each HCA following a real interface of the
 * process's network namespace (link state, MTU) through control lines. */
int sr_netdev_setup(void);             /* validates the variable; 0 or -EINVAL */
bool sr_netdev_real(void);             /* wire.c: the hosts may be in other namespaces */
void sr_netdev_poll(void);             /* lock held: the 5 ms tick and query_port */
int sr_netdev_set_mtu(int host_idx, int hca_idx, const char *bytes);  /* "mtu" line */
int sr_netdev_set_addr(int host_idx, int hca_idx, const char *addr);  /* "addr" line */
/* The HCA of a host as it is now: its IPv4 GIDs follow its netdev's address. */
void sr_netdev_overlay(int host_idx, int hca_idx, struct sr_hca_cfg *c);
uint64_t sr_netdev_v4(int host_idx, int hca_idx);
/* True once per change of the context's IPv4 GIDs (an address added, removed
 * or replaced), not for a line that names the address the port already had. */
bool sr_netdev_gid_changed(struct sr_ctx *c);
/* The active MTU of a port: the topology's, lowered to what the netdev's MTU
 * leaves for RoCE payload once an MTU was set (0 when it leaves none). */
enum ibv_mtu sr_port_mtu(int host_idx, int hca_idx, const struct sr_hca_cfg *c);
int sr_port_netdev_mtu(int host_idx, int hca_idx, const struct sr_hca_cfg *c);

/* context ops (filled in at open) */
/* misc.c: a registration makes a later ibv_fork_init too late (EINVAL). */
void sr_fork_note_registration(void);
int sr_op_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
int sr_op_req_notify_cq(struct ibv_cq *cq, int solicited_only);
int sr_op_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
/* post.c: the posting path of ibv_post_send, all or nothing (wr_complete) */
int sr_post_send_all(struct sr_qp *qp, struct ibv_send_wr *wrs, int n);
/* The send opcodes softroce executes (ibv_qp_create_send_ops_flags). */
#define SR_SEND_OPS_MODELLED (IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | \
			      IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM | \
			      IBV_QP_EX_WITH_RDMA_READ)
/* qp_ex.c: the ibv_wr_* builders of a QP created with send_ops_flags */
int sr_qpx_setup(struct sr_qp *qp, uint64_t send_ops);
void sr_qpx_free(struct sr_qp *qp);
struct ibv_cq_ex *sr_op_create_cq_ex(struct ibv_context *c, struct ibv_cq_init_attr_ex *a);
int sr_op_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
struct ibv_qp *sr_op_create_qp_ex(struct ibv_context *c, struct ibv_qp_init_attr_ex *a);
int sr_op_query_port(struct ibv_context *c, uint8_t port, struct ibv_port_attr *a, size_t len);
int sr_op_query_device_ex(struct ibv_context *c, const struct ibv_query_device_ex_input *in,
			  struct ibv_device_attr_ex *a, size_t size);

static inline struct sr_ctx *sr_ctx_of(struct ibv_context *c)
{
	return (struct sr_ctx *)((char *)c - offsetof(struct sr_ctx, vctx.context));
}

/* misc.c: a whole string as a number (decimal for integers), in [lo, hi] for
 * integers and finite for doubles; 0, or -EINVAL for anything else. */
int sr_parse_long(const char *s, long lo, long hi, long *out);
int sr_parse_double(const char *s, double *out);

/* snprintf into an array; true when the text did not fit (then truncated). */
#define SR_STR(dst, ...) (snprintf((dst), sizeof(dst), __VA_ARGS__) >= (int)sizeof(dst))

#define SR_LOCK()   pthread_mutex_lock(&sr_g.lock)
#define SR_UNLOCK() pthread_mutex_unlock(&sr_g.lock)

#endif
