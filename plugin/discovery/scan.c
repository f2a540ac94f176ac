#define _GNU_SOURCE
#include "scan.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <ifaddrs.h>
#include <infiniband/verbs.h>
#include <net/if.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mlx5dv.h"
#include "sysfs.h"

#define MAX_GIDS 256
#define MAX_NETS 8

static int mtu_bytes(enum ibv_mtu mtu)
{
	return mtu >= IBV_MTU_256 && mtu <= IBV_MTU_4096 ? 128 << mtu : 0;
}

/* Port rate from the IB speed/width codes (rdma-core 44 has no active_speed_ex). */
static int port_mbps(uint8_t speed, uint8_t width)
{
	int lane;
	switch (speed) {
	case 1: lane = 2500; break;
	case 2: lane = 5000; break;
	case 4: case 8: lane = 10000; break;
	case 16: lane = 14000; break;
	case 32: lane = 25000; break;
	case 64: lane = 50000; break;
	case 128: lane = 100000; break;
	default: lane = 0; break;
	}
	int lanes;
	switch (width) {
	case 1: lanes = 1; break;
	case 2: lanes = 4; break;
	case 4: lanes = 8; break;
	case 8: lanes = 12; break;
	case 16: lanes = 2; break;
	default: lanes = 0; break;
	}
	return lane * lanes;
}

/* IPv4 networks of one netdev; 0 when it has none or is not on this host. */
static int netdev_nets(const char *netdev, struct spark_ipv4_net *nets, int max)
{
	struct ifaddrs *list;
	int n = 0;
	if (netdev[0] == '\0' || getifaddrs(&list) != 0)
		return 0;
	for (const struct ifaddrs *a = list; a != NULL && n < max; a = a->ifa_next) {
		if (a->ifa_addr == NULL || a->ifa_netmask == NULL ||
		    a->ifa_addr->sa_family != AF_INET || strcmp(a->ifa_name, netdev) != 0)
			continue;
		const struct sockaddr_in *addr = (const struct sockaddr_in *)(void *)a->ifa_addr;
		const struct sockaddr_in *mask = (const struct sockaddr_in *)(void *)a->ifa_netmask;
		nets[n].addr = ntohl(addr->sin_addr.s_addr);
		nets[n].prefix = __builtin_popcount(mask->sin_addr.s_addr);
		n++;
	}
	freeifaddrs(list);
	return n;
}

static enum spark_gid_type type_from_sysfs(const char *ibdev_path, int port, int index)
{
	char rel[96], text[32];
	snprintf(rel, sizeof rel, "ports/%d/gid_attrs/types/%d", port, index);
	if (!spark_sysfs_read(ibdev_path, rel, text, sizeof text))
		return SPARK_GID_UNKNOWN;
	if (strcasecmp(text, "RoCE v2") == 0)
		return SPARK_GID_ROCE_V2;
	if (strcasestr(text, "RoCE") != NULL)
		return SPARK_GID_ROCE_V1;
	return SPARK_GID_IB;
}

static enum spark_gid_type type_from_verbs(uint32_t type)
{
	switch (type) {
	case IBV_GID_TYPE_ROCE_V2: return SPARK_GID_ROCE_V2;
	case IBV_GID_TYPE_ROCE_V1: return SPARK_GID_ROCE_V1;
	case IBV_GID_TYPE_IB: return SPARK_GID_IB;
	default: return SPARK_GID_UNKNOWN;
	}
}

typedef int (*query_gid_ex_fn)(struct ibv_context *, uint32_t, uint32_t,
			       struct ibv_gid_entry *, uint32_t, size_t);

/* _ibv_query_gid_ex@IBVERBS_1.11, looked up in the libibverbs already loaded
 * rather than linked: an older or emulated library without it still loads
 * the plugin, and the sysfs path below takes over. */
static query_gid_ex_fn find_query_gid_ex(void)
{
	void *lib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (lib == NULL)
		return NULL;
	query_gid_ex_fn fn;
	*(void **)&fn = dlvsym(lib, "_ibv_query_gid_ex", "IBVERBS_1.11");
	dlclose(lib); /* only drops the reference NOLOAD took; we link the library */
	return fn;
}

/* One GID entry: ibv_query_gid_ex gives type and netdev; if the library
 * lacks or refuses it, the raw GID plus sysfs gid_attrs tell the same. */
static bool read_gid(struct ibv_context *ctx, query_gid_ex_fn query_ex, int port, int index,
		     struct spark_gid_entry *e)
{
	const char *ibdev_path = ctx->device->ibdev_path;
	struct ibv_gid_entry ex;
	memset(e, 0, sizeof *e);
	e->index = index;
	int rc = query_ex != NULL ? query_ex(ctx, (uint32_t)port, (uint32_t)index, &ex, 0,
					     sizeof ex)
				  : EOPNOTSUPP;
	if (rc == 0) {
		memcpy(e->raw, ex.gid.raw, 16);
		e->type = type_from_verbs(ex.gid_type);
		if (ex.ndev_ifindex != 0 && if_indextoname(ex.ndev_ifindex, e->ndev) == NULL)
			e->ndev[0] = '\0';
		return !spark_gid_is_zero(e->raw);
	}
	if (rc == ENODATA || rc == EINVAL)
		return false; /* an empty slot */
	union ibv_gid gid;
	if (ibv_query_gid(ctx, (uint8_t)port, index, &gid) != 0 || spark_gid_is_zero(gid.raw))
		return false;
	memcpy(e->raw, gid.raw, 16);
	e->type = type_from_sysfs(ibdev_path, port, index);
	char rel[96];
	snprintf(rel, sizeof rel, "ports/%d/gid_attrs/ndevs/%d", port, index);
	if (!spark_sysfs_read(ibdev_path, rel, e->ndev, sizeof e->ndev))
		e->ndev[0] = '\0';
	return true;
}

ncclResult_t spark_gid_rescan(struct ibv_context *ctx, struct spark_hca *h, int override_index)
{
	struct ibv_port_attr pattr;
	SPARK_CHECK(ibv_query_port(ctx, (uint8_t)h->port, &pattr));
	struct spark_gid_entry table[MAX_GIDS];
	int n = 0;
	int len = pattr.gid_tbl_len < MAX_GIDS ? pattr.gid_tbl_len : MAX_GIDS;
	query_gid_ex_fn query_ex = find_query_gid_ex();
	for (int i = 0; i < len; i++)
		if (read_gid(ctx, query_ex, h->port, i, &table[n]))
			n++;
	struct spark_ipv4_net nets[MAX_NETS];
	int nnets = netdev_nets(h->netdev, nets, MAX_NETS);
	/* Netdev names in the GID table mean something only if the netdev is
	 * here (an emulated host's netdevs are not). */
	const char *netdev = if_nametoindex(h->netdev) != 0 ? h->netdev : NULL;
	h->gid_result = spark_gid_select(table, n, netdev, nets, nnets, override_index, &h->gid);
	return ncclSuccess;
}

/* One of sysfs's link attribute pairs (current_link_* or max_link_*). */
static void read_link_pair(const char *ibdev_path, const char *which, struct spark_pcie_link *l)
{
	char rel[64], text[64];
	long width = 0;
	snprintf(rel, sizeof rel, "device/%s_link_speed", which);
	if (spark_sysfs_read(ibdev_path, rel, text, sizeof text))
		l->gen = spark_pcie_gen_from_speed(text);
	snprintf(rel, sizeof rel, "device/%s_link_width", which);
	if (spark_sysfs_read_long(ibdev_path, rel, &width) && width > 0 && width <= 32)
		l->width = (int)width;
}

/* PCIe link of the function from sysfs (what lspci's LnkSta shows), the rate
 * computed from gen and width. The kernel gives it directly, so no hwloc: a
 * container without libhwloc must still load the plugin. A function whose
 * current_link_* is missing (some virtual functions) falls back to its
 * max_link_*, the best it can train at. */
static void read_link(const char *ibdev_path, struct spark_hca *h)
{
	memset(&h->link, 0, sizeof h->link);
	read_link_pair(ibdev_path, "current", &h->link);
	if (h->link.gen == 0 || h->link.width == 0) {
		struct spark_pcie_link max = {0, 0, 0};
		read_link_pair(ibdev_path, "max", &max);
		if (h->link.gen == 0)
			h->link.gen = max.gen;
		if (h->link.width == 0)
			h->link.width = max.width;
	}
	h->link.mbps = spark_pcie_mbps(h->link.gen, h->link.width);
}

/* The netdev of this port: the device/net entry whose dev_port matches. */
static void read_netdev(const char *ibdev_path, struct spark_hca *h)
{
	if (!spark_sysfs_netdev_for_port(ibdev_path, "device/net", h->port, h->netdev,
					 sizeof h->netdev)) {
		h->netdev[0] = '\0';
		return;
	}
	char rel[128];
	long mtu = 0;
	snprintf(rel, sizeof rel, "device/net/%s/mtu", h->netdev);
	if (spark_sysfs_read_long(ibdev_path, rel, &mtu))
		h->netdev_mtu = (int)mtu;
}

/* The parts of an HCA every port shares. */
static void describe_device(struct ibv_device *dev, const struct ibv_device_attr *attr,
			    struct spark_hca *h)
{
	const char *ibdev_path = dev->ibdev_path;
	char rel[PATH_MAX], real[PATH_MAX];
	memset(h, 0, sizeof *h);
	snprintf(h->name, sizeof h->name, "%s", ibv_get_device_name(dev));
	h->node_guid = be64toh(attr->node_guid);
	h->sys_image_guid = be64toh(attr->sys_image_guid);
	h->vendor_part_id = attr->vendor_part_id;
	h->max_qp = attr->max_qp;
	if (!spark_sysfs_read(ibdev_path, "board_id", h->board_id, sizeof h->board_id))
		h->board_id[0] = '\0';
	snprintf(rel, sizeof rel, "%s/device", ibdev_path);
	if (realpath(rel, real) != NULL && strlen(real) < sizeof h->pci_path) {
		snprintf(h->pci_path, sizeof h->pci_path, "%s", real);
		h->pci_valid = spark_pci_from_path(real, &h->pci);
		if (!h->pci_valid)
			SPARK_INFO(NCCL_INIT, "%s: no PCI address in %s: not paired "
				   "automatically, listed after PCI devices", h->name, real);
	}
}

static ncclResult_t describe_port(struct ibv_context *ctx, int port,
				  const struct spark_params *p, struct spark_hca *h)
{
	struct ibv_port_attr pattr;
	SPARK_CHECK(ibv_query_port(ctx, (uint8_t)port, &pattr));
	h->port = port;
	h->ethernet = pattr.link_layer == IBV_LINK_LAYER_ETHERNET;
	h->active = pattr.state == IBV_PORT_ACTIVE;
	h->active_mtu = mtu_bytes(pattr.active_mtu);
	h->port_mbps = port_mbps(pattr.active_speed, pattr.active_width);
	read_netdev(ctx->device->ibdev_path, h);
	h->gid_result = SPARK_GID_NOT_FOUND;
	if (h->ethernet)
		SPARK_TRY(spark_gid_rescan(ctx, h, p->gid_index));
	return ncclSuccess;
}

/* Every port of one device, appended at out[*n]. A device that cannot be
 * opened or queried is skipped with a WARN: the others may still serve. */
static void discover_device(struct ibv_device *dev, const struct spark_params *p,
			    struct spark_hca *out, int max, int *n)
{
	struct ibv_context *ctx = ibv_open_device(dev);
	if (ctx == NULL) {
		SPARK_WARN("ibv_open_device(%s) failed: %s; skipped", ibv_get_device_name(dev),
			   strerror(errno));
		return;
	}
	struct ibv_device_attr attr;
	int rc = ibv_query_device(ctx, &attr);
	if (rc != 0) {
		SPARK_WARN("ibv_query_device(%s) failed: %s; skipped", ibv_get_device_name(dev),
			   strerror(rc));
		ibv_close_device(ctx);
		return;
	}
	for (int port = 1; port <= attr.phys_port_cnt && *n < max; port++) {
		struct spark_hca *h = &out[*n];
		describe_device(dev, &attr, h);
		read_link(dev->ibdev_path, h);
		if (describe_port(ctx, port, p, h) == ncclSuccess)
			(*n)++;
	}
	ibv_close_device(ctx);
}

static void probe_mlx5dv(struct ibv_device **list, int ndev, const struct spark_params *p,
			 struct spark_hca *out, int n)
{
	struct spark_mlx5dv dv;
	if (!p->mlx5dv) {
		SPARK_INFO(NCCL_INIT, "mlx5dv disabled by NCCL_SPARK_MLX5DV=0; plain verbs");
		return;
	}
	if (!spark_mlx5dv_open(&dv)) {
		SPARK_INFO(NCCL_INIT, "libmlx5.so.1 (mlx5dv) not available; plain verbs");
		return;
	}
	int supported = 0;
	for (int d = 0; d < ndev; d++) {
		bool yes = spark_mlx5dv_supported(&dv, list[d]);
		for (int i = 0; i < n; i++)
			if (strcmp(out[i].name, ibv_get_device_name(list[d])) == 0)
				out[i].mlx5dv = yes;
		supported += yes;
	}
	spark_mlx5dv_close(&dv);
	if (supported > 0)
		SPARK_INFO(NCCL_INIT, "mlx5dv usable on %d of %d HCAs", supported, ndev);
	else
		SPARK_INFO(NCCL_INIT, "libmlx5.so.1 loaded, but mlx5dv_is_supported() is false on "
			   "all %d HCAs (not mlx5, e.g. softroce): plain verbs", ndev);
}

ncclResult_t spark_discover(const struct spark_params *p, struct spark_hca *out, int max, int *n)
{
	int ndev = 0;
	*n = 0;
	struct ibv_device **list = ibv_get_device_list(&ndev);
	if (list == NULL) {
		/* No RDMA stack at all (no uverbs module): zero HCAs, not a crash. */
		SPARK_INFO(NCCL_INIT, "ibv_get_device_list failed: %s", strerror(errno));
		return ncclSuccess;
	}
	for (int d = 0; d < ndev && *n < max; d++)
		discover_device(list[d], p, out, max, n);
	if (ndev > 0)
		probe_mlx5dv(list, ndev, p, out, *n);
	ibv_free_device_list(list);
	return ncclSuccess;
}
