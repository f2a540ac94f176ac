/* NCCL net plugin ABI version 11 (NCCL 2.28 and 2.29 probe v11 first): init is
 * called once per communicator and returns a context that listen/connect take;
 * finalize(ctx) ends it; setNetAttr passes hints; the properties gain
 * maxMultiRequestSize. Offsets pinned below for LP64 (x86_64 and aarch64
 * Linux). */
#ifndef SPARK_NCCL_NET_V11_H
#define SPARK_NCCL_NET_V11_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "profiler.h"

#define NCCL_NET_MAX_DEVS_PER_NIC_V11 4
#define NCCL_NET_ATTR_UNDEF -1

typedef ncclNetDeviceHandle_v7_t ncclNetDeviceHandle_v11_t;

typedef struct {
	int ndevs;
	int devs[NCCL_NET_MAX_DEVS_PER_NIC_V11];
} ncclNetVDeviceProps_v11_t;

typedef struct {
	char *name;
	char *pciPath;
	uint64_t guid;
	int ptrSupport;
	int regIsGlobal;
	int forceFlush;     /* NCCL flushes every GDR receive (we have no GDR) */
	int speed;          /* Mbps */
	int port;
	float latency;      /* microseconds */
	int maxComms;
	int maxRecvs;
	ncclNetDeviceType netDeviceType;
	int netDeviceVersion;
	ncclNetVDeviceProps_v11_t vProps;   /* the physical devices behind this one */
	size_t maxP2pBytes;                 /* largest isend NCCL posts */
	size_t maxCollBytes;                /* CollNet only */
	int maxMultiRequestSize;            /* 1: no multi-requests */
} ncclNetProperties_v11_t;

#define NCCL_NET_TRAFFIC_CLASS_UNDEF -1
typedef struct {
	int trafficClass;   /* NCCL_NET_TRAFFIC_CLASS_UNDEF or the comm's config */
} ncclNetCommConfig_v11_t;

/* Hints NCCL sets before connecting (op/algo/proto of what comes next). */
typedef struct {
	int32_t maxConcurrentPeers;
	int32_t minConcurrentPeers;
	int32_t maxFlowsPerPeer;
	int32_t minFlowsPerPeer;
} ncclNetCommAttr_v11_t;

typedef struct {
	ncclNetCommAttr_v11_t sendCommAttr;
	ncclNetCommAttr_v11_t recvCommAttr;
	uint32_t op;
	uint32_t algo;
	uint32_t proto;
} ncclNetAttr_v11_t;

typedef struct {
	const char *name;
	ncclResult_t (*init)(void **ctx, uint64_t commId, ncclNetCommConfig_v11_t *config,
			     ncclDebugLogger_t logFunction, ncclProfilerCallback_t profFunction);
	ncclResult_t (*devices)(int *ndev);
	ncclResult_t (*getProperties)(int dev, ncclNetProperties_v11_t *props);
	ncclResult_t (*listen)(void *ctx, int dev, void *handle, void **listenComm);
	ncclResult_t (*connect)(void *ctx, int dev, void *handle, void **sendComm,
				ncclNetDeviceHandle_v11_t **sendDevComm);
	ncclResult_t (*accept)(void *listenComm, void **recvComm,
			       ncclNetDeviceHandle_v11_t **recvDevComm);
	ncclResult_t (*regMr)(void *comm, void *data, size_t size, int type, void **mhandle);
	ncclResult_t (*regMrDmaBuf)(void *comm, void *data, size_t size, int type,
				    uint64_t offset, int fd, void **mhandle);
	ncclResult_t (*deregMr)(void *comm, void *mhandle);
	ncclResult_t (*isend)(void *sendComm, void *data, size_t size, int tag, void *mhandle,
			      void *phandle, void **request);
	ncclResult_t (*irecv)(void *recvComm, int n, void **data, size_t *sizes, int *tags,
			      void **mhandles, void **phandles, void **request);
	ncclResult_t (*iflush)(void *recvComm, int n, void **data, int *sizes, void **mhandles,
			       void **request);
	ncclResult_t (*test)(void *request, int *done, int *sizes);
	ncclResult_t (*closeSend)(void *sendComm);
	ncclResult_t (*closeRecv)(void *recvComm);
	ncclResult_t (*closeListen)(void *listenComm);
	ncclResult_t (*getDeviceMr)(void *comm, void *mhandle, void **dptr_mhandle);
	ncclResult_t (*irecvConsumed)(void *recvComm, int n, void *request);
	ncclResult_t (*makeVDevice)(int *d, ncclNetVDeviceProps_v11_t *props);
	ncclResult_t (*finalize)(void *ctx);
	ncclResult_t (*setNetAttr)(void *ctx, ncclNetAttr_v11_t *netAttr);
} ncclNet_v11_t;

#if defined(__LP64__)
#define SPARK_ABI_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset")

_Static_assert(sizeof(ncclNetVDeviceProps_v11_t) == 20, "v11 vProps size");
SPARK_ABI_AT(ncclNetVDeviceProps_v11_t, devs, 4);

_Static_assert(sizeof(ncclNetProperties_v11_t) == 112, "v11 properties size");
SPARK_ABI_AT(ncclNetProperties_v11_t, name, 0);
SPARK_ABI_AT(ncclNetProperties_v11_t, pciPath, 8);
SPARK_ABI_AT(ncclNetProperties_v11_t, guid, 16);
SPARK_ABI_AT(ncclNetProperties_v11_t, ptrSupport, 24);
SPARK_ABI_AT(ncclNetProperties_v11_t, regIsGlobal, 28);
SPARK_ABI_AT(ncclNetProperties_v11_t, forceFlush, 32);
SPARK_ABI_AT(ncclNetProperties_v11_t, speed, 36);
SPARK_ABI_AT(ncclNetProperties_v11_t, port, 40);
SPARK_ABI_AT(ncclNetProperties_v11_t, latency, 44);
SPARK_ABI_AT(ncclNetProperties_v11_t, maxComms, 48);
SPARK_ABI_AT(ncclNetProperties_v11_t, maxRecvs, 52);
SPARK_ABI_AT(ncclNetProperties_v11_t, netDeviceType, 56);
SPARK_ABI_AT(ncclNetProperties_v11_t, netDeviceVersion, 60);
SPARK_ABI_AT(ncclNetProperties_v11_t, vProps, 64);
SPARK_ABI_AT(ncclNetProperties_v11_t, maxP2pBytes, 88);
SPARK_ABI_AT(ncclNetProperties_v11_t, maxCollBytes, 96);
SPARK_ABI_AT(ncclNetProperties_v11_t, maxMultiRequestSize, 104);

_Static_assert(sizeof(ncclNetCommConfig_v11_t) == 4, "v11 comm config size");

_Static_assert(sizeof(ncclNetCommAttr_v11_t) == 16, "v11 comm attr size");
SPARK_ABI_AT(ncclNetCommAttr_v11_t, minConcurrentPeers, 4);
SPARK_ABI_AT(ncclNetCommAttr_v11_t, maxFlowsPerPeer, 8);
SPARK_ABI_AT(ncclNetCommAttr_v11_t, minFlowsPerPeer, 12);
_Static_assert(sizeof(ncclNetAttr_v11_t) == 44, "v11 attr size");
SPARK_ABI_AT(ncclNetAttr_v11_t, recvCommAttr, 16);
SPARK_ABI_AT(ncclNetAttr_v11_t, op, 32);
SPARK_ABI_AT(ncclNetAttr_v11_t, algo, 36);
SPARK_ABI_AT(ncclNetAttr_v11_t, proto, 40);

_Static_assert(sizeof(ncclNet_v11_t) == 176, "v11 function table size");
SPARK_ABI_AT(ncclNet_v11_t, name, 0);
SPARK_ABI_AT(ncclNet_v11_t, init, 8);
SPARK_ABI_AT(ncclNet_v11_t, devices, 16);
SPARK_ABI_AT(ncclNet_v11_t, getProperties, 24);
SPARK_ABI_AT(ncclNet_v11_t, listen, 32);
SPARK_ABI_AT(ncclNet_v11_t, connect, 40);
SPARK_ABI_AT(ncclNet_v11_t, accept, 48);
SPARK_ABI_AT(ncclNet_v11_t, regMr, 56);
SPARK_ABI_AT(ncclNet_v11_t, regMrDmaBuf, 64);
SPARK_ABI_AT(ncclNet_v11_t, deregMr, 72);
SPARK_ABI_AT(ncclNet_v11_t, isend, 80);
SPARK_ABI_AT(ncclNet_v11_t, irecv, 88);
SPARK_ABI_AT(ncclNet_v11_t, iflush, 96);
SPARK_ABI_AT(ncclNet_v11_t, test, 104);
SPARK_ABI_AT(ncclNet_v11_t, closeSend, 112);
SPARK_ABI_AT(ncclNet_v11_t, closeRecv, 120);
SPARK_ABI_AT(ncclNet_v11_t, closeListen, 128);
SPARK_ABI_AT(ncclNet_v11_t, getDeviceMr, 136);
SPARK_ABI_AT(ncclNet_v11_t, irecvConsumed, 144);
SPARK_ABI_AT(ncclNet_v11_t, makeVDevice, 152);
SPARK_ABI_AT(ncclNet_v11_t, finalize, 160);
SPARK_ABI_AT(ncclNet_v11_t, setNetAttr, 168);
#undef SPARK_ABI_AT
#endif

#endif
