/* Argument narrowing shared by the exported tables (adapt.h). */
#include "adapt.h"


void spark_abi_no_dev_comm(ncclNetDeviceHandle_v7_t **dev_comm)
{
	if (dev_comm != NULL)
		*dev_comm = NULL;
}

ncclResult_t spark_abi_reg_mr_int(void *comm, void *data, int size, int type, void **mhandle)
{
	if (size < 0) {
		SPARK_WARN("regMr: negative size %d", size);
		return ncclInternalError;
	}
	return spark_reg_mr(comm, data, (size_t)size, type, mhandle);
}

ncclResult_t spark_abi_isend_int(void *send_comm, void *data, int size, int tag,
				 void *mhandle, void **request)
{
	if (size < 0) {
		*request = NULL;
		SPARK_WARN("isend: negative size %d", size);
		return ncclInternalError;
	}
	return spark_isend(send_comm, data, (size_t)size, tag, mhandle, request);
}

static ncclResult_t check_nrecv(int n)
{
	if (n < 1 || n > SPARK_MAX_RECVS) {
		SPARK_WARN("irecv: %d buffers, maxRecvs is %d", n, SPARK_MAX_RECVS);
		return ncclInternalError;
	}
	return ncclSuccess;
}

ncclResult_t spark_abi_irecv_int(void *recv_comm, int n, void **data, const int *sizes,
				 const int *tags, void **mhandles, void **request)
{
	size_t wide[SPARK_MAX_RECVS];
	*request = NULL;
	SPARK_TRY(check_nrecv(n));
	for (int i = 0; i < n; i++) {
		if (sizes[i] < 0) {
			SPARK_WARN("irecv: negative size %d", sizes[i]);
			return ncclInternalError;
		}
		wide[i] = (size_t)sizes[i];
	}
	return spark_irecv(recv_comm, n, data, wide, tags, mhandles, request);
}

ncclResult_t spark_abi_irecv_wide(void *recv_comm, int n, void **data, const size_t *sizes,
				  const int *tags, void **mhandles, void **request)
{
	/* Whatever NCCL preset (NULL or the optional-completion flag), the
	 * request we return is a real one that test() completes. */
	*request = NULL;
	SPARK_TRY(check_nrecv(n));
	return spark_irecv(recv_comm, n, data, sizes, tags, mhandles, request);
}

int spark_abi_traffic_class(const int *traffic_class)
{
	if (traffic_class == NULL || *traffic_class == SPARK_TRAFFIC_CLASS_UNDEF)
		return SPARK_TRAFFIC_CLASS_UNDEF;
	if (*traffic_class < 0 || *traffic_class > 255) {
		SPARK_WARN("communicator traffic class %d is not 0..255: ignored (set "
			   "NCCL_SPARK_IB_TC for the plugin's traffic class)", *traffic_class);
		return SPARK_TRAFFIC_CLASS_UNDEF;
	}
	return *traffic_class;
}
