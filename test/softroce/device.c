/* softroce: device list, open/close and the query verbs. */
#include "sr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <endian.h>

#undef ibv_query_port
#undef ibv_reg_mr

static void device_unref(struct sr_device *d)
{
	if (--d->refs == 0)
		free(d);
}

SR_EXPORT struct ibv_device **ibv_get_device_list(int *num)
{
	SR_LOCK();
	int rc = sr_proc_init();
	if (!rc)
		rc = sr_netdev_setup();
	int n = rc ? 0 : sr_g.nhca;
	struct ibv_device **list = calloc((size_t)n + 1, sizeof(struct ibv_device *));
	if (!list) {
		SR_UNLOCK();
		errno = ENOMEM;
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct sr_device *d = calloc(1, sizeof(*d));
		if (!d) {
			n = i;
			break;
		}
		d->refs = 1;
		d->hca_idx = i;
		d->cfg = sr_g.hca[i];
		d->octet = sr_g.octet;
		d->dev.node_type = IBV_NODE_CA;
		d->dev.transport_type = IBV_TRANSPORT_IB;
		snprintf(d->dev.name, sizeof(d->dev.name), "%s", d->cfg.name);
		snprintf(d->dev.dev_name, sizeof(d->dev.dev_name), "uverbs%d", i);
		if (SR_STR(d->dev.dev_path, "%s/sys/%s/class/infiniband_verbs/uverbs%d",
			   sr_g.fabric, sr_g.host, i) ||
		    SR_STR(d->dev.ibdev_path, "%s/sys/%s/class/infiniband/%s", sr_g.fabric,
			   sr_g.host, d->cfg.name))
			fprintf(stderr, "softroce: SOFTROCE_FABRIC path too long\n");
		list[i] = &d->dev;
	}
	SR_UNLOCK();
	if (num)
		*num = n;
	return list;
}

SR_EXPORT void ibv_free_device_list(struct ibv_device **list)
{
	if (!list)
		return;
	SR_LOCK();
	for (int i = 0; list[i]; i++)
		device_unref((struct sr_device *)list[i]);
	SR_UNLOCK();
	free(list);
}

SR_EXPORT const char *ibv_get_device_name(struct ibv_device *dev)
{
	return dev->name;
}

SR_EXPORT __be64 ibv_get_device_guid(struct ibv_device *dev)
{
	struct sr_device *d = (struct sr_device *)dev;
	return htobe64(sr_hca_guid(d->octet, d->cfg.id));
}

SR_EXPORT int ibv_get_device_index(struct ibv_device *dev)
{
	return ((struct sr_device *)dev)->hca_idx;
}

SR_EXPORT struct ibv_context *ibv_open_device(struct ibv_device *dev)
{
	struct sr_device *d = (struct sr_device *)dev;
	struct sr_ctx *c = calloc(1, sizeof(*c));
	int fds[2];
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	if (pipe2(fds, O_CLOEXEC)) {
		free(c);
		return NULL;
	}
	c->async_rd = fds[0];
	c->async_wr = fds[1];
	fcntl(c->async_wr, F_SETFL, O_NONBLOCK);
	c->sdev = d;
	struct verbs_context *v = &c->vctx;
	v->sz = sizeof(*v);
	v->query_port = NULL;
	struct ibv_context *ctx = &v->context;
	ctx->device = dev;
	ctx->cmd_fd = -1;
	ctx->async_fd = c->async_rd;
	ctx->num_comp_vectors = 1;
	ctx->abi_compat = __VERBS_ABI_IS_EXTENDED;
	pthread_mutex_init(&ctx->mutex, NULL);
	ctx->ops.poll_cq = sr_op_poll_cq;
	ctx->ops.req_notify_cq = sr_op_req_notify_cq;
	ctx->ops.post_send = sr_op_post_send;
	ctx->ops.post_recv = sr_op_post_recv;
	v->query_port = sr_op_query_port;
	v->query_device_ex = sr_op_query_device_ex;
	v->create_qp_ex = sr_op_create_qp_ex;
	v->create_cq_ex = sr_op_create_cq_ex;

	SR_LOCK();
	int rc = sr_engine_start();
	if (rc) {
		SR_UNLOCK();
		close(fds[0]);
		close(fds[1]);
		free(c);
		errno = -rc;
		return NULL;
	}
	d->refs++;
	c->next = sr_g.ctxs;
	sr_g.ctxs = c;
	sr_g.nctx++;
	c->port_state_seen = sr_port_active(sr_g.host_idx, sr_g.host, d->hca_idx);
	sr_netdev_gid_changed(c);          /* the GIDs as they are at open */
	SR_UNLOCK();
	return ctx;
}

SR_EXPORT int ibv_close_device(struct ibv_context *ctx)
{
	struct sr_ctx *c = sr_ctx_of(ctx);
	SR_LOCK();
	for (struct sr_ctx **pp = &sr_g.ctxs; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	sr_qp_orphan_ctx(c);
	sr_g.nctx--;
	bool last = sr_g.nctx == 0;
	device_unref(c->sdev);
	SR_UNLOCK();
	if (last)
		sr_engine_stop();
	close(c->async_rd);
	close(c->async_wr);
	pthread_mutex_destroy(&ctx->mutex);
	free(c);
	return 0;
}

static void fill_device_attr(struct sr_device *d, struct ibv_device_attr *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->fw_ver, sizeof(a->fw_ver), "28.45.4028");
	a->node_guid = htobe64(sr_hca_guid(d->octet, d->cfg.id));
	/* All four functions are one physical ConnectX-7: one system image GUID. */
	a->sys_image_guid = htobe64(sr_hca_guid(d->octet, 0));
	a->max_mr_size = ~0ull;
	a->page_size_cap = 0xfffffffffffff000ull;
	a->vendor_id = 0x02c9;
	a->vendor_part_id = 4129;
	a->hw_ver = 0;
	a->max_qp = 1 << 17;
	a->max_qp_wr = SR_MAX_QP_WR;
	/* Only what softroce models: a ConnectX-7 also has memory windows,
	 * memory-management extensions and atomics, but a program probing
	 * for them here would then be refused at post time. */
	a->device_cap_flags = IBV_DEVICE_BAD_PKEY_CNTR | IBV_DEVICE_BAD_QKEY_CNTR |
		IBV_DEVICE_CHANGE_PHY_PORT | IBV_DEVICE_PORT_ACTIVE_EVENT |
		IBV_DEVICE_SYS_IMAGE_GUID | IBV_DEVICE_RC_RNR_NAK_GEN;
	a->max_sge = SR_MAX_SGE;
	a->max_sge_rd = SR_MAX_SGE;
	a->max_cq = 1 << 24;
	a->max_cqe = SR_MAX_CQE;
	a->max_mr = 1 << 24;
	a->max_pd = 1 << 24;
	a->max_qp_rd_atom = 16;
	a->max_res_rd_atom = 1 << 21;
	a->max_qp_init_rd_atom = 16;
	a->atomic_cap = IBV_ATOMIC_NONE;
	a->max_srq = 1 << 23;
	a->max_srq_wr = 32767;
	a->max_srq_sge = 31;
	a->max_pkeys = 128;
	a->local_ca_ack_delay = 16;
	a->phys_port_cnt = 1;
}

SR_EXPORT int ibv_query_device(struct ibv_context *ctx, struct ibv_device_attr *attr)
{
	fill_device_attr(sr_ctx_of(ctx)->sdev, attr);
	return 0;
}

int sr_op_query_device_ex(struct ibv_context *ctx, const struct ibv_query_device_ex_input *in,
			  struct ibv_device_attr_ex *attr, size_t size)
{
	struct ibv_device_attr_ex full;
	if (in && in->comp_mask)
		return EINVAL;
	memset(&full, 0, sizeof(full));
	fill_device_attr(sr_ctx_of(ctx)->sdev, &full.orig_attr);
	full.phys_port_cnt_ex = 1;
	full.hca_core_clock = 1000000;      /* kHz */
	if (size < sizeof(full.orig_attr))
		return EINVAL;
	memcpy(attr, &full, size < sizeof(full) ? size : sizeof(full));
	return 0;
}

static int fill_port_attr(struct sr_ctx *c, uint8_t port, struct ibv_port_attr *a)
{
	if (port != 1)
		return EINVAL;
	sr_netdev_poll();
	sr_control_poll();
	struct sr_device *d = c->sdev;
	bool up = sr_port_active(sr_g.host_idx, sr_g.host, d->hca_idx);
	memset(a, 0, sizeof(*a));
	a->state = up ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
	a->max_mtu = IBV_MTU_4096;
	a->active_mtu = sr_port_mtu(sr_g.host_idx, d->hca_idx, &d->cfg);
	a->gid_tbl_len = SR_GID_TBL_LEN;
	a->port_cap_flags = IBV_PORT_CM_SUP | IBV_PORT_IP_BASED_GIDS;
	a->max_msg_sz = 1u << 30;
	a->pkey_tbl_len = 1;
	a->max_vl_num = 4;
	/* 200 Gb/s: 4X lanes (width 2) at HDR-class 50 Gb/s (speed 64). */
	a->active_width = 2;
	a->active_speed = 64;
	a->phys_state = up ? 5 : 3;             /* LinkUp / Disabled */
	a->link_layer = IBV_LINK_LAYER_ETHERNET;
	return 0;
}

int sr_op_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr,
		     size_t len)
{
	struct ibv_port_attr full;
	SR_LOCK();
	int rc = fill_port_attr(sr_ctx_of(ctx), port, &full);
	SR_UNLOCK();
	if (!rc)
		memcpy(attr, &full, len < sizeof(full) ? len : sizeof(full));
	return rc;
}

/* The exported 1.1 symbol gets the compat layout: everything before flags. */
SR_EXPORT int ibv_query_port(struct ibv_context *ctx, uint8_t port,
			     struct _compat_ibv_port_attr *attr)
{
	return sr_op_query_port(ctx, port, (struct ibv_port_attr *)attr,
				offsetof(struct ibv_port_attr, flags));
}

static int gid_entry(struct ibv_context *ctx, uint32_t port, uint32_t index, struct sr_gid *out)
{
	struct sr_device *d = sr_ctx_of(ctx)->sdev;
	struct sr_gid gids[SR_MAX_GIDS];
	if (port != 1 || index >= SR_GID_TBL_LEN)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	if (index >= SR_MAX_GIDS)
		return 0;
	struct sr_hca_cfg now = d->cfg;
	sr_netdev_overlay(sr_g.host_idx, d->hca_idx, &now);
	sr_hca_gids(&now, d->octet, now.id, gids);
	*out = gids[index];
	return 0;
}

SR_EXPORT int ibv_query_gid(struct ibv_context *ctx, uint8_t port, int index, union ibv_gid *gid)
{
	struct sr_gid g;
	if (index < 0 || gid_entry(ctx, port, (uint32_t)index, &g))
		return -1;
	*gid = g.gid;
	return 0;
}

SR_EXPORT int _ibv_query_gid_ex(struct ibv_context *ctx, uint32_t port, uint32_t index,
				struct ibv_gid_entry *entry, uint32_t flags, size_t size)
{
	struct sr_gid g;
	if (flags || size < sizeof(*entry))
		return EINVAL;
	int rc = gid_entry(ctx, port, index, &g);
	if (rc)
		return rc;
	if (!g.valid)
		return ENODATA;
	memset(entry, 0, sizeof(*entry));
	entry->gid = g.gid;
	entry->gid_index = index;
	entry->port_num = port;
	entry->gid_type = g.type;
	entry->ndev_ifindex = 100 + (uint32_t)sr_ctx_of(ctx)->sdev->cfg.id;
	return 0;
}

SR_EXPORT ssize_t _ibv_query_gid_table(struct ibv_context *ctx, struct ibv_gid_entry *entries,
				       size_t max, uint32_t flags, size_t size)
{
	size_t n = 0;
	if (flags || size < sizeof(*entries))
		return -EINVAL;
	for (uint32_t i = 0; i < SR_MAX_GIDS; i++) {
		struct ibv_gid_entry e;
		if (_ibv_query_gid_ex(ctx, 1, i, &e, 0, sizeof(e)))
			continue;
		if (n >= max)
			return -EINVAL;
		memcpy((char *)entries + n * size, &e, sizeof(e));
		n++;
	}
	return (ssize_t)n;
}

/* rdma-core's private helper used by ibv_devinfo (enum ibv_gid_type_sysfs:
 * 0 = IB/RoCE v1, 1 = RoCE v2). */
SR_EXPORT int ibv_query_gid_type(struct ibv_context *ctx, uint8_t port, unsigned int index,
				 int *type)
{
	struct sr_gid g;
	if (gid_entry(ctx, port, index, &g))
		return -1;
	*type = g.type == IBV_GID_TYPE_ROCE_V2 ? 1 : 0;
	return 0;
}

SR_EXPORT int ibv_query_pkey(struct ibv_context *ctx, uint8_t port, int index, __be16 *pkey)
{
	(void)ctx;
	if (port != 1 || index < 0 || index >= 1)
		return -1;
	*pkey = htobe16(0xffff);
	return 0;
}

SR_EXPORT int ibv_get_pkey_index(struct ibv_context *ctx, uint8_t port, __be16 pkey)
{
	(void)ctx;
	if (port != 1 || be16toh(pkey) != 0xffff)
		return -1;
	return 0;
}
