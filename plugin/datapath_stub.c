/* The data path is issue 4's work. Until it lands every entry point says so
 * clearly instead of pretending: a WARN and ncclInternalError, which makes
 * NCCL give up on this plugin for the connection rather than hang. */
#include "api.h"
#include "log.h"

static ncclResult_t not_yet(const char *what)
{
	SPARK_WARN("%s: not implemented yet (the data path is the next issue)", what);
	return ncclInternalError;
}

ncclResult_t spark_listen(int dev, void *handle, void **listen_comm)
{
	(void)dev; (void)handle;
	if (listen_comm != NULL)
		*listen_comm = NULL;
	return not_yet("listen");
}

ncclResult_t spark_connect(int dev, void *handle, void **send_comm)
{
	(void)dev; (void)handle;
	if (send_comm != NULL)
		*send_comm = NULL;
	return not_yet("connect");
}

ncclResult_t spark_accept(void *listen_comm, void **recv_comm)
{
	(void)listen_comm;
	if (recv_comm != NULL)
		*recv_comm = NULL;
	return not_yet("accept");
}

ncclResult_t spark_reg_mr(void *comm, void *data, size_t size, int type, void **mhandle)
{
	(void)comm; (void)data; (void)size; (void)type;
	if (mhandle != NULL)
		*mhandle = NULL;
	return not_yet("regMr");
}

ncclResult_t spark_reg_mr_dmabuf(void *comm, void *data, size_t size, int type,
				 uint64_t offset, int fd, void **mhandle)
{
	(void)comm; (void)data; (void)size; (void)type; (void)offset; (void)fd;
	if (mhandle != NULL)
		*mhandle = NULL;
	return not_yet("regMrDmaBuf");
}

ncclResult_t spark_dereg_mr(void *comm, void *mhandle)
{
	(void)comm; (void)mhandle;
	return not_yet("deregMr");
}

ncclResult_t spark_isend(void *send_comm, void *data, size_t size, int tag, void *mhandle,
			 void **request)
{
	(void)send_comm; (void)data; (void)size; (void)tag; (void)mhandle;
	if (request != NULL)
		*request = NULL;
	return not_yet("isend");
}

ncclResult_t spark_irecv(void *recv_comm, int n, void **data, const size_t *sizes,
			 const int *tags, void **mhandles, void **request)
{
	(void)recv_comm; (void)n; (void)data; (void)sizes; (void)tags; (void)mhandles;
	if (request != NULL)
		*request = NULL;
	return not_yet("irecv");
}

ncclResult_t spark_iflush(void *recv_comm, int n, void **data, int *sizes,
			  void **mhandles, void **request)
{
	(void)recv_comm; (void)n; (void)data; (void)sizes; (void)mhandles;
	if (request != NULL)
		*request = NULL;
	return not_yet("iflush");
}

ncclResult_t spark_test(void *request, int *done, int *sizes)
{
	(void)request; (void)sizes;
	if (done != NULL)
		*done = 0;
	return not_yet("test");
}

ncclResult_t spark_close_send(void *send_comm)
{
	(void)send_comm;
	return not_yet("closeSend");
}

ncclResult_t spark_close_recv(void *recv_comm)
{
	(void)recv_comm;
	return not_yet("closeRecv");
}

ncclResult_t spark_close_listen(void *listen_comm)
{
	(void)listen_comm;
	return not_yet("closeListen");
}
