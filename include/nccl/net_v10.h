/* NCCL net plugin ABI version 10 (NCCL 2.26 and 2.27 probe v10 first): init
 * takes a profiler callback, connect a per-comm config (traffic class),
 * isend/irecv carry profiler handles. Offsets pinned below for LP64 (x86_64
 * and aarch64 Linux). */
#ifndef SPARK_NCCL_NET_V10_H
#define SPARK_NCCL_NET_V10_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "profiler.h"

#define NCCL_NET_MAX_DEVS_PER_NIC_V11 4

typedef ncclNetDeviceHandle_v7_t ncclNetDeviceHandle_v10_t;

typedef struct {
	int ndevs;
	int devs[NCCL_NET_MAX_DEVS_PER_NIC_V11];
} ncclNetVDeviceProps_v10_t;

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
	ncclNetVDeviceProps_v10_t vProps;   /* the physical devices behind this one */
	size_t maxP2pBytes;                 /* largest isend NCCL posts */
	size_t maxCollBytes;                /* CollNet only */
} ncclNetProperties_v10_t;

#define NCCL_NET_TRAFFIC_CLASS_UNDEF -1
typedef struct {
	int trafficClass;   /* NCCL_NET_TRAFFIC_CLASS_UNDEF or the comm's config */
} ncclNetCommConfig_v10_t;

typedef struct {
	const char *name;
	ncclResult_t (*init)(ncclDebugLogger_t logFunction, ncclProfilerCallback_t profFunction);
	ncclResult_t (*devices)(int *ndev);
	ncclResult_t (*getProperties)(int dev, ncclNetProperties_v10_t *props);
	ncclResult_t (*listen)(int dev, void *handle, void **listenComm);
	ncclResult_t (*connect)(int dev, ncclNetCommConfig_v10_t *config, void *handle,
				void **sendComm, ncclNetDeviceHandle_v10_t **sendDevComm);
	ncclResult_t (*accept)(void *listenComm, void **recvComm,
			       ncclNetDeviceHandle_v10_t **recvDevComm);
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
	ncclResult_t (*makeVDevice)(int *d, ncclNetVDeviceProps_v10_t *props);
} ncclNet_v10_t;

#if defined(__LP64__)
#define SPARK_ABI_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset")

_Static_assert(sizeof(ncclNetVDeviceProps_v10_t) == 20, "v10 vProps size");
SPARK_ABI_AT(ncclNetVDeviceProps_v10_t, devs, 4);

_Static_assert(sizeof(ncclNetProperties_v10_t) == 104, "v10 properties size");
SPARK_ABI_AT(ncclNetProperties_v10_t, name, 0);
SPARK_ABI_AT(ncclNetProperties_v10_t, pciPath, 8);
SPARK_ABI_AT(ncclNetProperties_v10_t, guid, 16);
SPARK_ABI_AT(ncclNetProperties_v10_t, ptrSupport, 24);
SPARK_ABI_AT(ncclNetProperties_v10_t, regIsGlobal, 28);
SPARK_ABI_AT(ncclNetProperties_v10_t, forceFlush, 32);
SPARK_ABI_AT(ncclNetProperties_v10_t, speed, 36);
SPARK_ABI_AT(ncclNetProperties_v10_t, port, 40);
SPARK_ABI_AT(ncclNetProperties_v10_t, latency, 44);
SPARK_ABI_AT(ncclNetProperties_v10_t, maxComms, 48);
SPARK_ABI_AT(ncclNetProperties_v10_t, maxRecvs, 52);
SPARK_ABI_AT(ncclNetProperties_v10_t, netDeviceType, 56);
SPARK_ABI_AT(ncclNetProperties_v10_t, netDeviceVersion, 60);
SPARK_ABI_AT(ncclNetProperties_v10_t, vProps, 64);
SPARK_ABI_AT(ncclNetProperties_v10_t, maxP2pBytes, 88);
SPARK_ABI_AT(ncclNetProperties_v10_t, maxCollBytes, 96);

_Static_assert(sizeof(ncclNetCommConfig_v10_t) == 4, "v10 comm config size");

_Static_assert(sizeof(ncclNet_v10_t) == 160, "v10 function table size");
SPARK_ABI_AT(ncclNet_v10_t, name, 0);
SPARK_ABI_AT(ncclNet_v10_t, init, 8);
SPARK_ABI_AT(ncclNet_v10_t, devices, 16);
SPARK_ABI_AT(ncclNet_v10_t, getProperties, 24);
SPARK_ABI_AT(ncclNet_v10_t, listen, 32);
SPARK_ABI_AT(ncclNet_v10_t, connect, 40);
SPARK_ABI_AT(ncclNet_v10_t, accept, 48);
SPARK_ABI_AT(ncclNet_v10_t, regMr, 56);
SPARK_ABI_AT(ncclNet_v10_t, regMrDmaBuf, 64);
SPARK_ABI_AT(ncclNet_v10_t, deregMr, 72);
SPARK_ABI_AT(ncclNet_v10_t, isend, 80);
SPARK_ABI_AT(ncclNet_v10_t, irecv, 88);
SPARK_ABI_AT(ncclNet_v10_t, iflush, 96);
SPARK_ABI_AT(ncclNet_v10_t, test, 104);
SPARK_ABI_AT(ncclNet_v10_t, closeSend, 112);
SPARK_ABI_AT(ncclNet_v10_t, closeRecv, 120);
SPARK_ABI_AT(ncclNet_v10_t, closeListen, 128);
SPARK_ABI_AT(ncclNet_v10_t, getDeviceMr, 136);
SPARK_ABI_AT(ncclNet_v10_t, irecvConsumed, 144);
SPARK_ABI_AT(ncclNet_v10_t, makeVDevice, 152);
#undef SPARK_ABI_AT
#endif

#endif
