/* nccl_check: real NCCL between two processes on one GPU that NCCL takes for
 * two hosts (each its own NCCL_HOSTID), so every byte crosses the network
 * transport: ours over softroce, or NCCL's own IB transport as a baseline.
 *   launch.c  the launcher: GPU check (skip), two ranks, env, deadlines,
 *             NCCL log checks
 *   rank.c    one rank: bootstrap via an id file, the collectives, every
 *             element checked, busbw per size in nccl-tests' columns */
#ifndef NCCL_CHECK_H
#define NCCL_CHECK_H

#include <stddef.h>

#define NC_SKIP 77           /* automake's "skipped" exit status */
#define NC_MAX_BYTES ((size_t)64 << 20)

struct nc_opts {
	int rank;                /* -1: launcher */
	const char *id_file;     /* ranks: where rank 0 publishes the unique id */
	size_t min_bytes, max_bytes;
	int factor;              /* size step */
	int iters, warmup;
	int timeout_s;           /* launcher: whole run; ranks: the id wait */
	const char *net;         /* "Spark" (our plugin) or "IB" (NCCL's own) */
	const char *plugin;      /* NCCL_NET_PLUGIN for net Spark */
	const char *expect_dev;  /* must appear in NCCL's log; "" for none */
	const char *expect_table;/* e.g. "v11": NCCL's "Loaded net plugin Spark (v11)" */
	const char *wrap;        /* command prefix per rank, {host} → a/b */
	const char *logdir;
};

int nc_rank_main(const struct nc_opts *o);
int nc_launch_main(const struct nc_opts *o, const char *self);

#endif
