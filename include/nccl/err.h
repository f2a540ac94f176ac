/* ncclResult_t as NCCL defines it (src/nccl.h.in); values are ABI. */
#ifndef SPARK_NCCL_ERR_H
#define SPARK_NCCL_ERR_H

typedef enum {
	ncclSuccess = 0,
	ncclUnhandledCudaError = 1,
	ncclSystemError = 2,      /* kernel, library or hardware failure */
	ncclInternalError = 3,    /* NCCL misused the API, or our own bug */
	ncclInvalidArgument = 4,
	ncclInvalidUsage = 5,     /* user or configuration error */
	ncclRemoteError = 6,      /* the peer or the wire failed */
	ncclInProgress = 7,
	ncclTimeout = 8,
	ncclNumResults = 9
} ncclResult_t;

#endif
