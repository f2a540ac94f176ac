/* What happens when a handle NCCL passes back fails its check: a WARN naming
 * the handle and why, and ncclInvalidUsage, never a crash.
 *
 * The checks themselves are inline on the hot path, a few compares without a
 * lock: a memory handle by spark_mr_usable (comm.h: tag, device, covered
 * pages; handles live in slabs that stay allocated, mr.c), a request by its
 * kind word, its place in its comm's array and its state (send.c, recv.c:
 * handed out by isend/irecv and not yet reported done by test). Only a
 * failed check calls these, out of line and cold. */
#ifndef SPARK_HANDLE_CHECK_H
#define SPARK_HANDLE_CHECK_H

#include <stddef.h>

#include "nccl/err.h"

/* mr.c: mhandle was not usable on device dev for [data, data + size). */
ncclResult_t spark_mr_handle_bad(const void *mhandle, int dev, const void *data, size_t size,
				 const char *op) __attribute__((cold, noinline));
/* handle_check.c: request is not one isend/irecv handed out and test has not
 * yet reported done; why says which. */
ncclResult_t spark_req_bad(const void *request, const char *op, const char *why)
	__attribute__((cold, noinline));

#endif
