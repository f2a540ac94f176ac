/* test() and iflush(): the two calls NCCL makes on a request, whichever
 * direction it belongs to. */
#include "api.h"
#include "handle_check.h"
#include "log.h"
#include "recv.h"
#include "send.h"

ncclResult_t spark_test(void *request, int *done, int *sizes)
{
	struct spark_req_hdr *hdr = request;
	*done = 0;
	SPARK_NOT_NULL(hdr, "request");
	if (hdr->kind == SPARK_REQ_SEND)
		return spark_send_test((struct spark_send_req *)hdr, done, sizes);
	if (hdr->kind == SPARK_REQ_RECV)
		return spark_recv_test((struct spark_recv_req *)hdr, done, sizes);
	return spark_req_bad(request, "test", "is not a request isend or irecv returned");
}

/* Host memory only (GB10 has no GPUDirect RDMA): the data is in place when
 * the IMM completion is polled, so there is nothing to flush. NCCL never
 * calls iflush without GDR; a NULL request counts as done. */
ncclResult_t spark_iflush(void *recv_comm, int n, void **data, int *sizes, void **mhandles,
			  void **request)
{
	(void)recv_comm; (void)n; (void)data; (void)sizes; (void)mhandles;
	*request = NULL;
	return ncclSuccess;
}
