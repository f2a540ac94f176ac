/* spark-bench: the plugin's fused device against NCCL's own IB protocol
 * (written here from its facts, raw verbs), on two Sparks or on two emulated
 * hosts (softroce). One process per host; a TCP control channel between them
 * carries the plan, the plugin's handles and the QP details, and keeps the two
 * hosts in step. Every transport is driven the way NCCL's proxy drives a net
 * plugin: post (a NULL request means "not yet"), test the oldest request once
 * per loop, nap 100 us after a loop that made no progress. */
#ifndef SB_H
#define SB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SB_MAX_LINKS 8     /* comms per direction of one transport */
#define SB_MAX_WINDOW 32   /* NCCL_NET_MAX_REQUESTS */
#define SB_MAX_SIZES 32
#define SB_MAX_REPS 9
#define SB_MAX_HCAS 2
#define SB_NAP_US 100

/* Prints "spark-bench: ..." on stderr and exits 2. */
void sb_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void sb_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double sb_now(void);
void sb_sleep_us(long us);

/* ---- control channel (oob.c) ---------------------------------------------- */
int sb_oob_listen(const char *bind_host, int port, int *bound_port);
int sb_oob_accept(int lfd, int timeout_ms);
int sb_oob_connect(const char *host, int port, int timeout_ms);
void sb_oob_send(int fd, const void *buf, size_t len);
void sb_oob_recv(int fd, void *buf, size_t len);
void sb_oob_sync(int fd);

/* ---- transports ------------------------------------------------------------ */
/* One comm each way between the hosts: send = this host to the peer. */
struct sb_link {
	void *send, *recv;     /* the transport's comms */
	void *smh, *rmh;       /* registrations of the send / receive buffer */
};

struct sb_ops {
	/* 0 on success, *req NULL when the peer has not posted yet */
	int (*isend)(void *comm, void *mh, void *buf, size_t size, void **req);
	int (*irecv)(void *comm, void *mh, void *buf, size_t size, void **req);
	int (*test)(void *req, int *done, size_t *size);
};

struct sb_impl {
	const char *name;      /* column name: ours, stock, one */
	const struct sb_ops *ops;
	int nlinks;
	struct sb_link link[SB_MAX_LINKS];
	int links_per_comm;    /* stock with both HCAs: a "comm" is one link per HCA */
};

/* What both hosts need to run the same plan. */
struct sb_env {
	int fd;                /* control channel */
	bool client;           /* drives the plan, measures, prints */
	bool emulated;         /* softroce: the control file may degrade a rail */
	uint8_t *sbuf, *rbuf;
	size_t cap;            /* bytes of each buffer */
	const char *hca[SB_MAX_HCAS];
};

/* ours.c: the plugin through its exported ncclNetPlugin_v8 table */
void sb_ours_load(const char *path);
const char *sb_ours_device_name(int dev);
int sb_ours_ndev(void);
void sb_ours_setup(struct sb_env *e, struct sb_impl *im, int dev, int nlinks);
void sb_ours_teardown(struct sb_impl *im);

/* stock.c: NCCL's IB protocol over raw verbs, one RC QP per HCA and comm */
struct sb_stock;
struct sb_stock *sb_stock_open(struct sb_env *e, int nhca);
/* links alternate HCAs when nhca = 2 (hca of link j = j % nhca) */
void sb_stock_setup(struct sb_env *e, struct sb_stock *s, struct sb_impl *im, int nhca,
		    int nlinks);
void sb_stock_close(struct sb_stock *s);
/* Raw RDMA WRITEs (no protocol) of size, depth per link, on the first
 * nlinks links of im: the link and cable caps. Client: GB/s; server: 0. */
double sb_stock_raw(struct sb_env *e, struct sb_impl *im, int nlinks, size_t size, int depth,
		    int count);

/* ---- measurement (drive.c) --------------------------------------------------- */
enum sb_dir { SB_UNI, SB_BIDIR };
/* Streams count (at least 2 x window) messages of size, `window` in flight
 * in all, message i on link i % nlinks. Client: GB/s it moved; server: 0. */
double sb_stream(struct sb_env *e, const struct sb_impl *im, int nlinks, size_t size,
		 int window, int count, enum sb_dir dir);
/* Median round trip in us of size on link 0 (client), 0 on the server. */
double sb_pingpong(struct sb_env *e, const struct sb_impl *im, size_t size, int iters);
void sb_set_nap(int us);

/* ---- results (report.c) --------------------------------------------------- */
struct sb_point {
	char test[12];         /* uni, bidir, pingpong, raw, degraded */
	char impl[8];
	size_t size;
	int window, comms;
	int nrep;
	double v[SB_MAX_REPS];
	double med, min, max;  /* filled by sb_point_done */
};

void sb_point_done(struct sb_point *p);
double sb_spread(const struct sb_point *p);   /* (max - min) / median */
#define SB_UNRELIABLE 0.10
void sb_size_str(size_t size, char *out, size_t len);


/* ---- the plan (plan.c): the client sends it, both hosts run it in step ---- */
enum { SB_IMPL_OURS = 1, SB_IMPL_STOCK = 2, SB_IMPL_ONE = 4 };
enum { SB_T_UNI = 1, SB_T_BIDIR = 2, SB_T_LAT = 4, SB_T_NCCL = 8, SB_T_RAW = 16,
       SB_T_DEGRADED = 32 };
#define SB_PLAN_MAGIC 0x53424e31u   /* "SBN1" */
#define SB_MAX_LIST 4

struct sb_plan {
	uint32_t magic;
	uint32_t nsizes, nwin, ncomms, nlat, nnccl, nncclc;
	uint64_t sizes[SB_MAX_SIZES];
	uint32_t win[SB_MAX_LIST], comms[SB_MAX_LIST];
	uint64_t lat_sizes[SB_MAX_LIST];
	uint64_t nccl_sizes[SB_MAX_LIST];
	uint32_t nccl_comms[SB_MAX_LIST];
	uint32_t reps, impls, tests, dev, lat_iters, emulated;
	uint64_t budget;        /* bytes per point and repetition (message counts scale) */
	uint64_t cap;           /* bytes of each buffer */
};

void sb_plan_check(const struct sb_plan *p);   /* dies on a malformed plan */
int sb_plan_max_comms(const struct sb_plan *p);

struct sb_results {
	int n;
	struct sb_point pt[4096];
	double load[2][3];      /* load average at start and end */
};

/* Runs the plan on this host; the client fills r. */
void sb_plan_run(struct sb_env *e, const struct sb_plan *p, struct sb_results *r,
		 const char *fabric);

/* report.c */
void sb_report_table(const struct sb_plan *p, const struct sb_results *r, FILE *f);
void sb_report_nccl_tests(const struct sb_plan *p, const struct sb_results *r, FILE *f);
void sb_report_csv(const struct sb_results *r, FILE *f);
void sb_report_json(const struct sb_results *r, FILE *f);
const struct sb_point *sb_find(const struct sb_results *r, const char *test, const char *impl,
			       size_t size, int window, int comms);

#endif
