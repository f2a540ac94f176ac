/* Checks of the handles NCCL passes back into the plugin, so that a stale,
 * double-freed or foreign one is ncclInvalidUsage and a WARN, never a crash.
 *
 * Memory handles (mr.c): deregMr checks membership among the live handles
 * itself; the data path calls spark_mr_handle_check on the mhandle of each
 * isend/irecv before reading it (a tag compare and a device compare, no lock).
 *
 * Requests (handle_check.c): requests live in their comm's slot arrays, so a
 * request is live when it lies inside an array of a live comm, at a whole
 * element. The data path registers each request array when it allocates the
 * comm (spark_req_range_add), removes it before freeing (spark_req_range_remove),
 * and calls spark_req_check at the top of test() before reading the request;
 * the request's own state (handed out and not yet reported done) is then the
 * data path's check. A sorted table searched by bisection under one mutex:
 * O(log comms) per test(). */
#ifndef SPARK_HANDLE_CHECK_H
#define SPARK_HANDLE_CHECK_H

#include <stddef.h>

#include "nccl/err.h"

ncclResult_t spark_mr_handle_check(const void *mhandle, int dev, const char *op);

/* count elements of stride bytes from base. ncclSystemError when out of memory. */
ncclResult_t spark_req_range_add(const void *base, size_t count, size_t stride);
void spark_req_range_remove(const void *base);
/* ncclSuccess when request is element k of a registered array; else WARN
 * naming op and ncclInvalidUsage. */
ncclResult_t spark_req_check(const void *request, const char *op);
/* Registered arrays (tests: 0 once every comm is closed). */
size_t spark_req_ranges(void);

#endif
