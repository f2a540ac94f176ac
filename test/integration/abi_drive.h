/* Driving one exported table the way the NCCL release that probes it first
 * does, over two emulated Sparks (test/datapath's dp_harness: host b is an
 * exec'd copy of the test). Each test_abi_vN.c adapts its table to the
 * version-neutral `struct abi_net` below, as NCCL's own net_vN.cc adapters
 * do, and abi_exchange() then runs what every version shares: listen /
 * connect / accept, registration, one isend matched by one irecv, test until
 * done, every byte checked, deregistration and close. */
#ifndef ABI_DRIVE_H
#define ABI_DRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "nccl/net.h"
#include "../datapath/dp_harness.h"

struct abi_net {
	int version;
	void *ctx;    /* v11+: this communicator's context */
	ncclResult_t (*listen)(void *ctx, int dev, void *handle, void **listen_comm);
	ncclResult_t (*connect)(void *ctx, int dev, void *handle, void **send_comm);
	ncclResult_t (*accept)(void *listen_comm, void **recv_comm);
	ncclResult_t (*reg_mr)(void *comm, void *data, size_t size, void **mhandle);
	ncclResult_t (*dereg_mr)(void *comm, void *mhandle);
	ncclResult_t (*isend)(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			      void **request);
	/* One buffer, as NCCL posts for a non-shared connection. */
	ncclResult_t (*irecv)(void *recv_comm, void *data, size_t size, int tag, void *mhandle,
			      void **request);
	ncclResult_t (*test)(void *request, int *done, int *size);
	ncclResult_t (*close_send)(void *send_comm);
	ncclResult_t (*close_recv)(void *recv_comm);
	ncclResult_t (*close_listen)(void *listen_comm);
};

/* Loads softroce and the plugin as NCCL does (RTLD_NOW | RTLD_LOCAL) and
 * returns the table `symbol` (DP_CHECK on failure). Nothing is initialised. */
const void *abi_load(const char *symbol);
/* The logger NCCL would pass: keeps the text for abi_log_has, WARNs to stderr. */
void abi_logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int abi_log_has(const char *needle);
int abi_log_warns(void);
const char *abi_log(void);

/* a listens and receives `size` bytes, b connects and sends them. */
void abi_exchange(struct dp_pair *p, const struct abi_net *net, int dev, size_t size);

#endif
