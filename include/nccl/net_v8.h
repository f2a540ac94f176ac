/* NCCL net plugin ABI version 8 (loaded by NCCL 2.20 ... 2.30, through an
 * adapter from 2.24). Field order and types are the ABI: the static asserts
 * below pin every offset for LP64 (x86_64 and aarch64 Linux). */
#ifndef SPARK_NCCL_NET_V8_H
#define SPARK_NCCL_NET_V8_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

typedef struct {
	char *name;         /* shown in NCCL's logs and topology */
	char *pciPath;      /* sysfs path placing the NIC in the PCI tree, or NULL */
	uint64_t guid;      /* with port: NCCL shares bandwidth among equal (guid, port) */
	int ptrSupport;     /* NCCL_PTR_* */
	int regIsGlobal;    /* an mhandle is valid on every comm of the device */
	int speed;          /* Mbps */
	int port;
	float latency;      /* microseconds; 0 = NCCL's default model */
	int maxComms;
	int maxRecvs;       /* largest n irecv accepts */
	ncclNetDeviceType netDeviceType;
	int netDeviceVersion;
} ncclNetProperties_v8_t;

typedef struct {
	const char *name;
	ncclResult_t (*init)(ncclDebugLogger_t logFunction);
	ncclResult_t (*devices)(int *ndev);
	ncclResult_t (*getProperties)(int dev, ncclNetProperties_v8_t *props);
	ncclResult_t (*listen)(int dev, void *handle, void **listenComm);
	ncclResult_t (*connect)(int dev, void *handle, void **sendComm,
				ncclNetDeviceHandle_v8_t **sendDevComm);
	ncclResult_t (*accept)(void *listenComm, void **recvComm,
			       ncclNetDeviceHandle_v8_t **recvDevComm);
	ncclResult_t (*regMr)(void *comm, void *data, size_t size, int type, void **mhandle);
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
} ncclNet_v8_t;

#if defined(__LP64__)
#define SPARK_ABI_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset")

_Static_assert(sizeof(ncclResult_t) == 4, "ncclResult_t is an int-sized enum");
_Static_assert(sizeof(ncclNetDeviceType) == 4, "ncclNetDeviceType is an int-sized enum");

_Static_assert(sizeof(ncclNetDeviceHandle_v8_t) == 32, "device handle size");
SPARK_ABI_AT(ncclNetDeviceHandle_v8_t, netDeviceType, 0);
SPARK_ABI_AT(ncclNetDeviceHandle_v8_t, netDeviceVersion, 4);
SPARK_ABI_AT(ncclNetDeviceHandle_v8_t, handle, 8);
SPARK_ABI_AT(ncclNetDeviceHandle_v8_t, size, 16);
SPARK_ABI_AT(ncclNetDeviceHandle_v8_t, needsProxyProgress, 24);

_Static_assert(sizeof(ncclNetProperties_v8_t) == 64, "v8 properties size");
SPARK_ABI_AT(ncclNetProperties_v8_t, name, 0);
SPARK_ABI_AT(ncclNetProperties_v8_t, pciPath, 8);
SPARK_ABI_AT(ncclNetProperties_v8_t, guid, 16);
SPARK_ABI_AT(ncclNetProperties_v8_t, ptrSupport, 24);
SPARK_ABI_AT(ncclNetProperties_v8_t, regIsGlobal, 28);
SPARK_ABI_AT(ncclNetProperties_v8_t, speed, 32);
SPARK_ABI_AT(ncclNetProperties_v8_t, port, 36);
SPARK_ABI_AT(ncclNetProperties_v8_t, latency, 40);
SPARK_ABI_AT(ncclNetProperties_v8_t, maxComms, 44);
SPARK_ABI_AT(ncclNetProperties_v8_t, maxRecvs, 48);
SPARK_ABI_AT(ncclNetProperties_v8_t, netDeviceType, 52);
SPARK_ABI_AT(ncclNetProperties_v8_t, netDeviceVersion, 56);

_Static_assert(sizeof(ncclNet_v8_t) == 152, "v8 function table size");
SPARK_ABI_AT(ncclNet_v8_t, name, 0);
SPARK_ABI_AT(ncclNet_v8_t, init, 8);
SPARK_ABI_AT(ncclNet_v8_t, devices, 16);
SPARK_ABI_AT(ncclNet_v8_t, getProperties, 24);
SPARK_ABI_AT(ncclNet_v8_t, listen, 32);
SPARK_ABI_AT(ncclNet_v8_t, connect, 40);
SPARK_ABI_AT(ncclNet_v8_t, accept, 48);
SPARK_ABI_AT(ncclNet_v8_t, regMr, 56);
SPARK_ABI_AT(ncclNet_v8_t, regMrDmaBuf, 64);
SPARK_ABI_AT(ncclNet_v8_t, deregMr, 72);
SPARK_ABI_AT(ncclNet_v8_t, isend, 80);
SPARK_ABI_AT(ncclNet_v8_t, irecv, 88);
SPARK_ABI_AT(ncclNet_v8_t, iflush, 96);
SPARK_ABI_AT(ncclNet_v8_t, test, 104);
SPARK_ABI_AT(ncclNet_v8_t, closeSend, 112);
SPARK_ABI_AT(ncclNet_v8_t, closeRecv, 120);
SPARK_ABI_AT(ncclNet_v8_t, closeListen, 128);
SPARK_ABI_AT(ncclNet_v8_t, getDeviceMr, 136);
SPARK_ABI_AT(ncclNet_v8_t, irecvConsumed, 144);
#undef SPARK_ABI_AT
#endif

#endif
