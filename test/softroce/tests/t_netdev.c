/* The netdev behind each HCA: its MTU sets the port's active MTU as mlx5
 * derives it, its IPv4 address the IPv4 GIDs (the kernel's RoCE GID table),
 * both through control lines ("mtu", "addr"); with SOFTROCE_NETDEV=real the
 * lines come from a real interface of this network namespace (lo here; two
 * namespaces with veths in test/netns/check-netns.sh). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(netdev, .fini = sr_teardown, .timeout = 30);

/* The control file takes effect within 10 ms (and at every query_port). */
static void settle(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static struct ibv_port_attr port(struct ibv_context *ctx)
{
	struct ibv_port_attr a;
	cr_assert_eq(ibv_query_port(ctx, 1, &a), 0);
	return a;
}

/* The GID at index as text ("" when the entry is empty). */
static const char *gid_text(struct ibv_context *ctx, int index, enum ibv_gid_type *type)
{
	static char text[INET6_ADDRSTRLEN];
	struct ibv_gid_entry e;
	int rc = ibv_query_gid_ex(ctx, 1, (uint32_t)index, &e, 0);
	if (rc == ENODATA)
		return "";
	cr_assert_eq(rc, 0, "ibv_query_gid_ex(%d): %d", index, rc);
	if (type)
		*type = e.gid_type;
	cr_assert_not_null(inet_ntop(AF_INET6, e.gid.raw, text, sizeof(text)));
	return text;
}

/* mlx5's active_mtu: the largest IB MTU that a RoCE v2 packet of that payload
 * (+96 bytes of headers) fits in the netdev's MTU. */
Test(netdev, mtu_sets_active_mtu_as_mlx5)
{
	static const struct { int netdev; enum ibv_mtu active; } cases[] = {
		{ 9000, IBV_MTU_4096 }, { 4192, IBV_MTU_4096 }, { 4191, IBV_MTU_2048 },
		{ 2144, IBV_MTU_2048 }, { 2143, IBV_MTU_1024 }, { 1500, IBV_MTU_1024 },
		{ 1120, IBV_MTU_1024 }, { 1119, IBV_MTU_512 }, { 608, IBV_MTU_512 },
		{ 607, IBV_MTU_256 }, { 352, IBV_MTU_256 }, { 351, 0 }, { 68, 0 },
		{ 65536, IBV_MTU_4096 },
	};
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_context *ctx = sr_open(&side, SR_HCA0);
	cr_assert_eq(port(ctx).active_mtu, IBV_MTU_4096, "a Spark's port at netdev MTU 9000");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sr_control("a " SR_HCA0 " mtu %d", cases[i].netdev);
		settle();
		struct ibv_port_attr a = port(ctx);
		cr_assert_eq(a.active_mtu, cases[i].active, "netdev MTU %d: active_mtu %d, want %d",
			     cases[i].netdev, a.active_mtu, cases[i].active);
		cr_assert_eq(a.max_mtu, IBV_MTU_4096, "max_mtu is the port's, not the netdev's");
		cr_assert_eq(a.state, IBV_PORT_ACTIVE);
	}
	/* Out of range or not a number: refused, the last MTU stays. */
	sr_control("a " SR_HCA0 " mtu 1500");
	sr_control("a " SR_HCA0 " mtu 67");
	sr_control("a " SR_HCA0 " mtu 65537");
	sr_control("a " SR_HCA0 " mtu 9k");
	settle();
	cr_assert_eq(port(ctx).active_mtu, IBV_MTU_1024);
	/* Only that end's netdev: the other HCAs keep theirs. */
	struct ibv_context *other = sr_open(&side, SR_HCA2);
	cr_assert_eq(port(other).active_mtu, IBV_MTU_4096);
	/* The sysfs MTU of the netdev follows (refreshed by the tick). */
	char path[512], text[32] = "";
	snprintf(path, sizeof(path), "%s/device/net/enp1s0f0np0/mtu", ctx->device->ibdev_path);
	long long end = sr_now_ms() + SR_DEADLINE_MS;
	while (sr_now_ms() < end && (sr_read_file(path, text, sizeof(text)) < 0 ||
				     strcmp(text, "1500\n") != 0))
		settle();
	cr_assert_str_eq(text, "1500\n", "%s", path);
	sr_side_destroy(&side);
}

/* A QP's path MTU can not be above the port's active MTU. */
Test(netdev, path_mtu_above_active_mtu_is_einval)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	struct sr_ep *ep = sr_ep_create(&side, &o);
	sr_control("a " SR_HCA0 " mtu 1500");
	settle();
	cr_assert_eq(port(ep->ctx).active_mtu, IBV_MTU_1024);
	struct ibv_qp_attr attr;
	int mask;
	sr_rtr_attr(&attr, &mask, &ep->local.gid, ep->qp->qp_num, o.sgid_index);
	cr_assert_eq(ibv_modify_qp(ep->qp, &attr, mask), EINVAL, "path_mtu 4096 over a 1024 port");
	attr.path_mtu = IBV_MTU_1024;
	cr_assert_eq(ibv_modify_qp(ep->qp, &attr, mask), 0);
	sr_side_destroy(&side);
}

/* The IPv4 GIDs are the netdev's address; without one there are none, and
 * every change raises IBV_EVENT_GID_CHANGE. */
Test(netdev, address_sets_ipv4_gids)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct sr_ep_opts o = sr_ep_opts_default();
	o.hca = SR_HCA2;
	struct sr_ep *ep = sr_ep_create(&side, &o);
	enum ibv_gid_type type = IBV_GID_TYPE_IB;
	cr_assert_str_eq(gid_text(ep->ctx, 3, &type), "::ffff:192.168.101.1");
	sr_control("a " SR_HCA2 " addr 192.168.101.1");
	cr_assert_eq(sr_async_event(ep->ctx, 200, NULL), -1, "the address it had: no change");
	sr_control("a " SR_HCA2 " addr 10.1.2.3");
	cr_assert_eq(sr_async_event(ep->ctx, SR_DEADLINE_MS, NULL), IBV_EVENT_GID_CHANGE);
	cr_assert_str_eq(gid_text(ep->ctx, 3, &type), "::ffff:10.1.2.3");
	cr_assert_eq(type, IBV_GID_TYPE_ROCE_V2);
	cr_assert_str_eq(gid_text(ep->ctx, 2, &type), "::ffff:10.1.2.3");
	cr_assert_eq(type, IBV_GID_TYPE_ROCE_V1);
	sr_control("a " SR_HCA2 " addr none");
	cr_assert_eq(sr_async_event(ep->ctx, SR_DEADLINE_MS, NULL), IBV_EVENT_GID_CHANGE);
	cr_assert_str_eq(gid_text(ep->ctx, 3, NULL), "", "an IPv4 GID without an address");
	cr_assert_str_eq(gid_text(ep->ctx, 2, NULL), "");
	cr_assert_str_neq(gid_text(ep->ctx, 1, NULL), "", "the link-local GIDs stay");
	/* An entry that went away is no source GID for a QP. */
	struct ibv_qp_attr attr;
	int mask;
	sr_rtr_attr(&attr, &mask, &ep->local.gid, ep->qp->qp_num, 3);
	cr_assert_eq(ibv_modify_qp(ep->qp, &attr, mask), EINVAL);
	/* Bad lines change nothing and raise nothing. */
	sr_control("a " SR_HCA2 " addr 300.1.1.1");
	sr_control("a " SR_HCA2 " addr 0.0.0.0");
	cr_assert_eq(sr_async_event(ep->ctx, 200, NULL), -1);
	cr_assert_str_eq(gid_text(ep->ctx, 3, NULL), "");
	sr_side_destroy(&side);
}

static bool lo_running(void)
{
	struct ifaddrs *list;
	bool up = false;
	if (getifaddrs(&list))
		return false;
	for (const struct ifaddrs *a = list; a; a = a->ifa_next)
		if (strcmp(a->ifa_name, "lo") == 0 && a->ifa_addr &&
		    a->ifa_addr->sa_family == AF_INET)
			up = (a->ifa_flags & IFF_UP) && (a->ifa_flags & IFF_RUNNING);
	freeifaddrs(list);
	return up;
}

/* SOFTROCE_NETDEV=real: an HCA whose netdev is a real interface (lo, MTU
 * 65536, 127.0.0.1) follows it; one whose netdev is not in this namespace
 * keeps the topology's. */
Test(netdev, real_mode_follows_a_real_interface)
{
	if (!lo_running())
		cr_skip_test("lo is not up with an IPv4 address here");
	sr_fabric_setup();
	sr_topology("set " SR_HCA0 " netdev=lo\n");
	setenv("SOFTROCE_NETDEV", "real", 1);
	struct sr_side side = { 0 };
	struct ibv_context *lo = sr_open(&side, SR_HCA0);
	struct ibv_port_attr a = port(lo);
	cr_assert_eq(a.state, IBV_PORT_ACTIVE);
	cr_assert_eq(a.active_mtu, IBV_MTU_4096, "lo's 65536 leaves room for 4096");
	cr_assert_str_eq(gid_text(lo, 3, NULL), "::ffff:127.0.0.1");
	struct ibv_context *absent = sr_open(&side, SR_HCA2);
	cr_assert_eq(port(absent).state, IBV_PORT_ACTIVE);
	cr_assert_str_eq(gid_text(absent, 3, NULL), "::ffff:192.168.101.1");
	sr_side_destroy(&side);
}

Test(netdev, bad_mode_lists_no_device)
{
	sr_fabric_setup();
	setenv("SOFTROCE_NETDEV", "yes", 1);
	int num = -1;
	struct ibv_device **list = ibv_get_device_list(&num);
	cr_assert_not_null(list);
	cr_assert_eq(num, 0, "SOFTROCE_NETDEV=yes is neither real nor emulated");
	ibv_free_device_list(list);
	setenv("SOFTROCE_NETDEV", "emulated", 1);
	list = ibv_get_device_list(&num);
	cr_assert_eq(num, 4);
	ibv_free_device_list(list);
}
