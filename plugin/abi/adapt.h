/* What the exported tables (net_v7.c ... net_v12.c) share: argument checks
 * and narrowing between NCCL's types and the version-neutral API, and the
 * property fields every version has. */
#ifndef SPARK_ADAPT_H
#define SPARK_ADAPT_H

#include <stddef.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "nccl/net.h"

#define SPARK_EXPORT __attribute__((visibility("default")))
#define SPARK_NET_NAME "Spark"     /* what NCCL_NET=Spark matches */

/* Fields of ncclNetProperties_vN_t common to v7 ... v12 (same names in all).
 * The strings live as long as the library; NCCL copies what it keeps. */
#define SPARK_PROPS_FILL_COMMON(out, p)                                \
	do {                                                           \
		memset((out), 0, sizeof *(out));                       \
		(out)->name = (char *)(p).name;                        \
		(out)->pciPath = (char *)(p).pci_path;                 \
		(out)->guid = (p).guid;                                \
		(out)->ptrSupport = (p).ptr_support;                   \
		(out)->speed = (p).speed_mbps;                         \
		(out)->port = (p).port;                                \
		(out)->latency = (p).latency_us;                       \
		(out)->maxComms = (p).max_comms;                       \
		(out)->maxRecvs = (p).max_recvs;                       \
		(out)->netDeviceType = NCCL_NET_DEVICE_HOST;           \
		(out)->netDeviceVersion = NCCL_NET_DEVICE_INVALID_VERSION; \
	} while (0)

/* v9+ additions: no forced flush (no GDR), one physical device per logical
 * one as far as NCCL's fusion knows (we fuse the halves ourselves and export
 * makeVDevice = NULL), and the transfer limits. */
#define SPARK_PROPS_FILL_V9(out, p, dev)                               \
	do {                                                           \
		SPARK_PROPS_FILL_COMMON(out, p);                       \
		(out)->regIsGlobal = (p).reg_is_global;                \
		(out)->forceFlush = 0;                                 \
		(out)->vProps.ndevs = 1;                               \
		(out)->vProps.devs[0] = (dev);                         \
		(out)->maxP2pBytes = SPARK_MAX_P2P_BYTES;              \
		(out)->maxCollBytes = SPARK_MAX_COLL_BYTES;            \
	} while (0)

/* A host-side plugin has no device handle; NCCL may pass a NULL pointer. */
void spark_abi_no_dev_comm(ncclNetDeviceHandle_v7_t **dev_comm);

/* v7/v8: int sizes, refused when negative. */
ncclResult_t spark_abi_reg_mr_int(void *comm, void *data, int size, int type, void **mhandle);
ncclResult_t spark_abi_isend_int(void *send_comm, void *data, int size, int tag,
				 void *mhandle, void **request);
ncclResult_t spark_abi_irecv_int(void *recv_comm, int n, void **data, const int *sizes,
				 const int *tags, void **mhandles, void **request);
/* v9+: size_t sizes. NCCL may preset *request to
 * NCCL_NET_OPTIONAL_RECV_COMPLETION (we always complete receives fully). */
ncclResult_t spark_abi_irecv_wide(void *recv_comm, int n, void **data, const size_t *sizes,
				  const int *tags, void **mhandles, void **request);

/* v10+: the comm config's traffic class, validated (-1 or 0..255). */
int spark_abi_traffic_class(const int *traffic_class);

#endif
