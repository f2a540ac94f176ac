/* Allocation and teardown of a comm: everything a comm owns is created here
 * at connect/accept time, so the data path never allocates. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "comm.h"
#include "ctl_send.h"
#include "log.h"
#include "recv.h"
#include "send.h"

static void *zalloc_aligned(size_t len)
{
	void *p = NULL;
	if (posix_memalign(&p, 4096, len) != 0)
		return NULL;
	memset(p, 0, len);
	return p;
}

static ncclResult_t alloc_areas(struct spark_comm *c)
{
	if (c->kind == SPARK_COMM_SEND) {
		c->ops = &spark_send_ops;
		SPARK_CHECK_PTR(c->ctl, zalloc_aligned(SPARK_CTL_SIZE_SEND));
		SPARK_CHECK_PTR(c->slots, calloc(SPARK_SLOTS, sizeof *c->slots));
		SPARK_CHECK_PTR(c->chains, calloc(1, spark_chains_size()));
		for (uint32_t s = 0; s < SPARK_SLOTS; s++)
			for (uint32_t i = 0; i < SPARK_MAX_RECVS; i++)
			{
				c->slots[s].req[i].hdr = (struct spark_req_hdr){SPARK_REQ_SEND, c};
				c->slots[s].req[i].slot = s;
			}
	} else {
		c->ops = &spark_recv_ops;
		SPARK_CHECK_PTR(c->ctl, zalloc_aligned(SPARK_CTL_SIZE_RECV));
		SPARK_CHECK_PTR(c->src, zalloc_aligned(SPARK_CTL_SIZE_SEND));
		SPARK_CHECK_PTR(c->rreqs, calloc(SPARK_SLOTS, sizeof *c->rreqs));
		for (uint32_t s = 0; s < SPARK_SLOTS; s++)
			c->rreqs[s].hdr = (struct spark_req_hdr){SPARK_REQ_RECV, c};
	}
	return ncclSuccess;
}

static ncclResult_t open_rails(struct spark_comm *c, const struct spark_ldev *d)
{
	size_t ctl_len = c->kind == SPARK_COMM_SEND ? SPARK_CTL_SIZE_SEND : SPARK_CTL_SIZE_RECV;
	for (uint32_t r = 0; r < c->nrails; r++)
		SPARK_TRY(spark_rail_open(&c->rail[r], spark_device_rail(c->dev, (int)r), c->ctl,
					  ctl_len, c->src, c->src ? SPARK_CTL_SIZE_SEND : 0));
	(void)d;
	return ncclSuccess;
}

ncclResult_t spark_comm_alloc(enum spark_comm_kind kind, int dev, struct spark_comm **out)
{
	const struct spark_ldev *d = spark_device(dev);
	*out = NULL;
	if (d == NULL) {
		SPARK_WARN("no device %d (was init called?)", dev);
		return ncclInvalidArgument;
	}
	struct spark_comm *c = calloc(1, sizeof *c);
	if (c == NULL)
		return ncclSystemError;
	if (spark_ctl_chan_init(&c->ctl_chan) != ncclSuccess) {
		free(c);
		return ncclSystemError;
	}
	c->kind = kind;
	c->dev = dev;
	c->fd = -1;
	c->nrails = (uint32_t)d->nrails;
	c->seq = 1;
	c->post_seq = 1;
	ncclResult_t res = alloc_areas(c);
	if (res == ncclSuccess)
		res = open_rails(c, d);
	if (res != ncclSuccess) {
		spark_comm_free(c);
		return res;
	}
	*out = c;
	return ncclSuccess;
}

void spark_comm_free(struct spark_comm *c)
{
	if (c == NULL)
		return;
	/* Registrations made on this comm stay valid (regIsGlobal): NCCL may
	 * deregister them after closing it; they hold the HCA's PD (mr.c). */
	spark_ctl_tell_failed(c);       /* a failure NCCL stopped asking about */
	for (uint32_t r = 0; r < SPARK_MAX_RAILS; r++)
		spark_rail_close(&c->rail[r]);
	if (c->fd >= 0)
		close(c->fd);
	spark_ctl_chan_destroy(&c->ctl_chan);
	free(c->ctl);
	free(c->src);
	free(c->chains);
	if (c->kind == SPARK_COMM_SEND)
		free(c->slots);
	else
		free(c->rreqs);
	free(c);
}
