/* Version-neutral device properties: what every ABI adapter (v8 now, v9+
 * later) copies into its own struct. Pure. */
#ifndef SPARK_PROPS_H
#define SPARK_PROPS_H

#include <stdint.h>

#include "nccl/net.h"
#include "pairing.h"

/* Choices explained in docs/design.md. */
#define SPARK_PTR_SUPPORT NCCL_PTR_HOST   /* GB10 has no GPUDirect RDMA */
#define SPARK_REG_IS_GLOBAL 1             /* a handle serves every comm of its device (mr.c) */
#define SPARK_LATENCY_US 0.0f             /* 0: NCCL's own network latency model */
/* v9+: NCCL's own defaults for older plugins (1 GiB, 512 MiB); spark_isend
 * takes up to INT_MAX bytes, so NCCL never posts more than we accept. */
#define SPARK_MAX_P2P_BYTES ((size_t)1 << 30)
#define SPARK_MAX_COLL_BYTES ((size_t)512 << 20)

struct spark_props {
	const char *name;
	const char *pci_path;
	uint64_t guid;
	int ptr_support;
	int reg_is_global;
	int speed_mbps;
	int port;
	float latency_us;
	int max_comms;
	int max_recvs;
};

void spark_props_from_ldev(const struct spark_ldev *d, struct spark_props *out);

#endif
