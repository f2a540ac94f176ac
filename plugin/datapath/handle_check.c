/* The WARN of a request that failed its inline check (handle_check.h). */
#include "handle_check.h"

#include "log.h"

ncclResult_t spark_req_bad(const void *request, const char *op, const char *why)
{
	SPARK_WARN("%s: request %p %s; NCCL tests each request isend/irecv returned until it "
		   "is done, and never again", op, request, why);
	return ncclInvalidUsage;
}
