/* NCCL net plugin ABI version 7 (NCCL 2.19 probes v7 first; 2.20 ... 2.30
 * still accept it). v8 without regIsGlobal in the properties, and regMr
 * takes an int size. Offsets pinned below for LP64. */
#ifndef SPARK_NCCL_NET_V7_H
#define SPARK_NCCL_NET_V7_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

typedef struct {
	char *name;
	char *pciPath;
	uint64_t guid;
	int ptrSupport;
	int speed;          /* Mbps */
	int port;
	float latency;      /* microseconds */
	int maxComms;
	int maxRecvs;
	ncclNetDeviceType netDeviceType;
	int netDeviceVersion;
} ncclNetProperties_v7_t;

typedef struct {
	const char *name;
	ncclResult_t (*init)(ncclDebugLogger_t logFunction);
	ncclResult_t (*devices)(int *ndev);
	ncclResult_t (*getProperties)(int dev, ncclNetProperties_v7_t *props);
	ncclResult_t (*listen)(int dev, void *handle, void **listenComm);
	ncclResult_t (*connect)(int dev, void *handle, void **sendComm,
				ncclNetDeviceHandle_v7_t **sendDevComm);
	ncclResult_t (*accept)(void *listenComm, void **recvComm,
			       ncclNetDeviceHandle_v7_t **recvDevComm);
	ncclResult_t (*regMr)(void *comm, void *data, int size, int type, void **mhandle);
	ncclResult_t (*regMrDmaBuf)(void *comm, void *data, size_t size, int type,
				    uint64_t offset, int fd, void **mhandle);
	ncclResult_t (*deregMr)(void *comm, void *mhandle);
	ncclResult_t (*isend)(void *sendComm, void *data, int size, int tag, void *mhandle,
			      void **request);
	ncclResult_t (*irecv)(void *recvComm, int n, void **data, int *sizes, int *tags,
			      void **mhandles, void **request);
	ncclResult_t (*iflush)(void *recvComm, int n, void **data, int *sizes, void **mhandles,
			       void **request);
	ncclResult_t (*test)(void *request, int *done, int *sizes);
	ncclResult_t (*closeSend)(void *sendComm);
	ncclResult_t (*closeRecv)(void *recvComm);
	ncclResult_t (*closeListen)(void *listenComm);
	ncclResult_t (*getDeviceMr)(void *comm, void *mhandle, void **dptr_mhandle);
	ncclResult_t (*irecvConsumed)(void *recvComm, int n, void *request);
} ncclNet_v7_t;

#if defined(__LP64__)
#define SPARK_ABI_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset")

_Static_assert(sizeof(ncclNetProperties_v7_t) == 56, "v7 properties size");
SPARK_ABI_AT(ncclNetProperties_v7_t, name, 0);
SPARK_ABI_AT(ncclNetProperties_v7_t, pciPath, 8);
SPARK_ABI_AT(ncclNetProperties_v7_t, guid, 16);
SPARK_ABI_AT(ncclNetProperties_v7_t, ptrSupport, 24);
SPARK_ABI_AT(ncclNetProperties_v7_t, speed, 28);
SPARK_ABI_AT(ncclNetProperties_v7_t, port, 32);
SPARK_ABI_AT(ncclNetProperties_v7_t, latency, 36);
SPARK_ABI_AT(ncclNetProperties_v7_t, maxComms, 40);
SPARK_ABI_AT(ncclNetProperties_v7_t, maxRecvs, 44);
SPARK_ABI_AT(ncclNetProperties_v7_t, netDeviceType, 48);
SPARK_ABI_AT(ncclNetProperties_v7_t, netDeviceVersion, 52);

_Static_assert(sizeof(ncclNet_v7_t) == 152, "v7 function table size");
SPARK_ABI_AT(ncclNet_v7_t, name, 0);
SPARK_ABI_AT(ncclNet_v7_t, init, 8);
SPARK_ABI_AT(ncclNet_v7_t, devices, 16);
SPARK_ABI_AT(ncclNet_v7_t, getProperties, 24);
SPARK_ABI_AT(ncclNet_v7_t, listen, 32);
SPARK_ABI_AT(ncclNet_v7_t, connect, 40);
SPARK_ABI_AT(ncclNet_v7_t, accept, 48);
SPARK_ABI_AT(ncclNet_v7_t, regMr, 56);
SPARK_ABI_AT(ncclNet_v7_t, regMrDmaBuf, 64);
SPARK_ABI_AT(ncclNet_v7_t, deregMr, 72);
SPARK_ABI_AT(ncclNet_v7_t, isend, 80);
SPARK_ABI_AT(ncclNet_v7_t, irecv, 88);
SPARK_ABI_AT(ncclNet_v7_t, iflush, 96);
SPARK_ABI_AT(ncclNet_v7_t, test, 104);
SPARK_ABI_AT(ncclNet_v7_t, closeSend, 112);
SPARK_ABI_AT(ncclNet_v7_t, closeRecv, 120);
SPARK_ABI_AT(ncclNet_v7_t, closeListen, 128);
SPARK_ABI_AT(ncclNet_v7_t, getDeviceMr, 136);
SPARK_ABI_AT(ncclNet_v7_t, irecvConsumed, 144);
#undef SPARK_ABI_AT
#endif

#endif
