/* NCCL net plugin ABI version 12 (NCCL 2.30 and later probe v12 first): v11's
 * function table; the properties gain railId/planeId and vProps holds up to 8
 * devices. Offsets pinned below for LP64 (x86_64 and aarch64 Linux). */
#ifndef SPARK_NCCL_NET_V12_H
#define SPARK_NCCL_NET_V12_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "net_v11.h"
#include "profiler.h"

#define NCCL_NET_MAX_DEVS_PER_NIC_V12 8
#define NCCL_NET_ID_UNDEF -1

typedef ncclNetDeviceHandle_v7_t ncclNetDeviceHandle_v12_t;

typedef struct {
	int ndevs;
	int devs[NCCL_NET_MAX_DEVS_PER_NIC_V12];
} ncclNetVDeviceProps_v12_t;

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
	ncclNetVDeviceProps_v12_t vProps;   /* the physical devices behind this one */
	size_t maxP2pBytes;                 /* largest isend NCCL posts */
	size_t maxCollBytes;                /* CollNet only */
	int maxMultiRequestSize;            /* 1: no multi-requests */
	int16_t railId;                     /* NCCL_NET_ID_UNDEF: no rail hint */
	int16_t planeId;
} ncclNetProperties_v12_t;

/* Unchanged since v11: the comm config, the comm attributes and the hints. */
typedef ncclNetCommConfig_v11_t ncclNetCommConfig_v12_t;
typedef ncclNetCommAttr_v11_t ncclNetCommAttr_v12_t;
typedef ncclNetAttr_v11_t ncclNetAttr_v12_t;

typedef struct {
	const char *name;
	ncclResult_t (*init)(void **ctx, uint64_t commId, ncclNetCommConfig_v12_t *config,
			     ncclDebugLogger_t logFunction, ncclProfilerCallback_t profFunction);
	ncclResult_t (*devices)(int *ndev);
	ncclResult_t (*getProperties)(int dev, ncclNetProperties_v12_t *props);
	ncclResult_t (*listen)(void *ctx, int dev, void *handle, void **listenComm);
	ncclResult_t (*connect)(void *ctx, int dev, void *handle, void **sendComm,
				ncclNetDeviceHandle_v12_t **sendDevComm);
	ncclResult_t (*accept)(void *listenComm, void **recvComm,
			       ncclNetDeviceHandle_v12_t **recvDevComm);
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
	ncclResult_t (*makeVDevice)(int *d, ncclNetVDeviceProps_v12_t *props);
	ncclResult_t (*finalize)(void *ctx);
	ncclResult_t (*setNetAttr)(void *ctx, ncclNetAttr_v12_t *netAttr);
} ncclNet_v12_t;

#if defined(__LP64__)
#define SPARK_ABI_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset")

_Static_assert(sizeof(ncclNetVDeviceProps_v12_t) == 36, "v12 vProps size");
SPARK_ABI_AT(ncclNetVDeviceProps_v12_t, devs, 4);

_Static_assert(sizeof(ncclNetProperties_v12_t) == 128, "v12 properties size");
SPARK_ABI_AT(ncclNetProperties_v12_t, name, 0);
SPARK_ABI_AT(ncclNetProperties_v12_t, pciPath, 8);
SPARK_ABI_AT(ncclNetProperties_v12_t, guid, 16);
SPARK_ABI_AT(ncclNetProperties_v12_t, ptrSupport, 24);
SPARK_ABI_AT(ncclNetProperties_v12_t, regIsGlobal, 28);
SPARK_ABI_AT(ncclNetProperties_v12_t, forceFlush, 32);
SPARK_ABI_AT(ncclNetProperties_v12_t, speed, 36);
SPARK_ABI_AT(ncclNetProperties_v12_t, port, 40);
SPARK_ABI_AT(ncclNetProperties_v12_t, latency, 44);
SPARK_ABI_AT(ncclNetProperties_v12_t, maxComms, 48);
SPARK_ABI_AT(ncclNetProperties_v12_t, maxRecvs, 52);
SPARK_ABI_AT(ncclNetProperties_v12_t, netDeviceType, 56);
SPARK_ABI_AT(ncclNetProperties_v12_t, netDeviceVersion, 60);
SPARK_ABI_AT(ncclNetProperties_v12_t, vProps, 64);
SPARK_ABI_AT(ncclNetProperties_v12_t, maxP2pBytes, 104);
SPARK_ABI_AT(ncclNetProperties_v12_t, maxCollBytes, 112);
SPARK_ABI_AT(ncclNetProperties_v12_t, maxMultiRequestSize, 120);
SPARK_ABI_AT(ncclNetProperties_v12_t, railId, 124);
SPARK_ABI_AT(ncclNetProperties_v12_t, planeId, 126);

_Static_assert(sizeof(ncclNetCommConfig_v12_t) == 4, "v12 comm config size");

_Static_assert(sizeof(ncclNetCommAttr_v12_t) == 16, "v12 comm attr size");
SPARK_ABI_AT(ncclNetCommAttr_v12_t, minConcurrentPeers, 4);
SPARK_ABI_AT(ncclNetCommAttr_v12_t, maxFlowsPerPeer, 8);
SPARK_ABI_AT(ncclNetCommAttr_v12_t, minFlowsPerPeer, 12);
_Static_assert(sizeof(ncclNetAttr_v12_t) == 44, "v12 attr size");
SPARK_ABI_AT(ncclNetAttr_v12_t, recvCommAttr, 16);
SPARK_ABI_AT(ncclNetAttr_v12_t, op, 32);
SPARK_ABI_AT(ncclNetAttr_v12_t, algo, 36);
SPARK_ABI_AT(ncclNetAttr_v12_t, proto, 40);

_Static_assert(sizeof(ncclNet_v12_t) == 176, "v12 function table size");
SPARK_ABI_AT(ncclNet_v12_t, name, 0);
SPARK_ABI_AT(ncclNet_v12_t, init, 8);
SPARK_ABI_AT(ncclNet_v12_t, devices, 16);
SPARK_ABI_AT(ncclNet_v12_t, getProperties, 24);
SPARK_ABI_AT(ncclNet_v12_t, listen, 32);
SPARK_ABI_AT(ncclNet_v12_t, connect, 40);
SPARK_ABI_AT(ncclNet_v12_t, accept, 48);
SPARK_ABI_AT(ncclNet_v12_t, regMr, 56);
SPARK_ABI_AT(ncclNet_v12_t, regMrDmaBuf, 64);
SPARK_ABI_AT(ncclNet_v12_t, deregMr, 72);
SPARK_ABI_AT(ncclNet_v12_t, isend, 80);
SPARK_ABI_AT(ncclNet_v12_t, irecv, 88);
SPARK_ABI_AT(ncclNet_v12_t, iflush, 96);
SPARK_ABI_AT(ncclNet_v12_t, test, 104);
SPARK_ABI_AT(ncclNet_v12_t, closeSend, 112);
SPARK_ABI_AT(ncclNet_v12_t, closeRecv, 120);
SPARK_ABI_AT(ncclNet_v12_t, closeListen, 128);
SPARK_ABI_AT(ncclNet_v12_t, getDeviceMr, 136);
SPARK_ABI_AT(ncclNet_v12_t, irecvConsumed, 144);
SPARK_ABI_AT(ncclNet_v12_t, makeVDevice, 152);
SPARK_ABI_AT(ncclNet_v12_t, finalize, 160);
SPARK_ABI_AT(ncclNet_v12_t, setNetAttr, 168);
#undef SPARK_ABI_AT
#endif

#endif
