/* Default topology, GID tables, topology file, emulated sysfs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(topology, .fini = sr_teardown, .timeout = 30);

static const char *const spark_hcas[4] = { SR_HCA0, SR_HCA1, SR_HCA2, SR_HCA3 };

/* Names of the listed devices, as one sorted-independent bitmask of the four. */
static unsigned listed_mask(int *num_out)
{
	int num = -1;
	struct ibv_device **list = ibv_get_device_list(&num);
	cr_assert_not_null(list, "ibv_get_device_list failed");
	unsigned mask = 0;
	for (int i = 0; i < num; i++)
		for (int h = 0; h < 4; h++)
			if (strcmp(ibv_get_device_name(list[i]), spark_hcas[h]) == 0)
				mask |= 1u << h;
	ibv_free_device_list(list);
	*num_out = num;
	return mask;
}

static void expect_gid(struct ibv_context *ctx, int index, const uint8_t want[16],
		       enum ibv_gid_type type)
{
	struct ibv_gid_entry e;
	int rc = ibv_query_gid_ex(ctx, 1, (uint32_t)index, &e, 0);
	cr_assert_eq(rc, 0, "ibv_query_gid_ex(%d): %d", index, rc);
	cr_assert_arr_eq(e.gid.raw, want, 16, "GID %d bytes differ", index);
	cr_assert_eq(e.gid_type, (uint32_t)type, "GID %d type %u, want %d", index, e.gid_type,
		     type);
	union ibv_gid legacy;
	cr_assert_eq(ibv_query_gid(ctx, 1, index, &legacy), 0);
	cr_assert_arr_eq(legacy.raw, want, 16, "ibv_query_gid(%d) disagrees with _ex", index);
}

static void v4_gid(uint8_t out[16], int a, int b, int c, int d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = (uint8_t)a; out[13] = (uint8_t)b; out[14] = (uint8_t)c; out[15] = (uint8_t)d;
}

Test(topology, runs_on_softroce_library)
{
	sr_fabric_setup();
	void *sym = dlsym(RTLD_DEFAULT, "ibv_get_device_list");
	Dl_info info;
	cr_assert(sym && dladdr(sym, &info) && info.dli_fname);
	cr_assert(strstr(info.dli_fname, "softroce/libibverbs.so.1") != NULL,
		  "libibverbs came from %s, not build/softroce", info.dli_fname);
	int num;
	cr_assert(listed_mask(&num) & 1u, "rocep1s0f0 not listed: not running on softroce?");
}

Test(topology, default_lists_four_spark_hcas)
{
	sr_fabric_setup();
	int num;
	unsigned mask = listed_mask(&num);
	cr_assert_eq(num, 4, "want 4 devices, got %d", num);
	cr_assert_eq(mask, 0xfu, "device names differ from the DGX Spark four (mask %#x)", mask);
}

Test(topology, no_fabric_lists_zero_devices)
{
	sr_fabric_setup();
	unsetenv("SOFTROCE_FABRIC");
	int num = -1;
	struct ibv_device **list = ibv_get_device_list(&num);
	cr_assert_not_null(list, "an empty list, not a failure, is expected");
	cr_assert_eq(num, 0);
	cr_assert_null(list[0]);
	ibv_free_device_list(list);
}

Test(topology, hcas_none_lists_zero_devices)
{
	sr_fabric_setup();
	sr_topology("hcas none\n");
	int num = -1;
	struct ibv_device **list = ibv_get_device_list(&num);
	cr_assert_not_null(list);
	cr_assert_eq(num, 0);
	ibv_free_device_list(list);
}

Test(topology, hcas_keeps_only_named)
{
	sr_fabric_setup();
	sr_topology("# a lone HCA\nhcas " SR_HCA2 "\n");
	int num;
	unsigned mask = listed_mask(&num);
	cr_assert_eq(num, 1);
	cr_assert_eq(mask, 1u << 2);
}

Test(topology, device_and_port_attributes)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	uint64_t sys_guid = 0, node_guid[4];
	for (int h = 0; h < 4; h++) {
		struct ibv_context *ctx = sr_open(&side, spark_hcas[h]);
		struct ibv_device_attr da;
		cr_assert_eq(ibv_query_device(ctx, &da), 0);
		cr_assert_eq(da.vendor_id, 0x02c9u, "%s vendor_id %#x", spark_hcas[h], da.vendor_id);
		cr_assert_eq(da.vendor_part_id, 4129u);
		cr_assert_eq(da.phys_port_cnt, 1);
		node_guid[h] = da.node_guid;
		for (int k = 0; k < h; k++)
			cr_assert_neq(node_guid[k], node_guid[h], "node GUIDs must differ");
		if (h == 0)
			sys_guid = da.sys_image_guid;
		cr_assert_eq(da.sys_image_guid, sys_guid, "one NIC: one sys_image_guid");
		cr_assert_eq(ibv_get_device_guid(ctx->device), node_guid[h]);

		struct ibv_port_attr pa;
		cr_assert_eq(ibv_query_port(ctx, 1, &pa), 0);
		enum ibv_port_state want = (h == 0 || h == 2) ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
		cr_assert_eq(pa.state, want, "%s port state %d", spark_hcas[h], pa.state);
		cr_assert_eq(pa.link_layer, IBV_LINK_LAYER_ETHERNET);
		if (want == IBV_PORT_ACTIVE)
			cr_assert_eq(pa.active_mtu, IBV_MTU_4096);
	}
	cr_assert_neq(sys_guid, 0u);
	sr_side_destroy(&side);
}

Test(topology, gid_table_host_a)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	uint8_t v4[16], ll[16];
	struct ibv_context *ctx = sr_open(&side, SR_HCA0);
	union ibv_gid g0;
	cr_assert_eq(ibv_query_gid(ctx, 1, 0, &g0), 0);
	memcpy(ll, g0.raw, 16);
	cr_assert(ll[0] == 0xfe && ll[1] == 0x80, "GID 0 must be link-local fe80::");
	expect_gid(ctx, 0, ll, IBV_GID_TYPE_ROCE_V1);
	expect_gid(ctx, 1, ll, IBV_GID_TYPE_ROCE_V2);
	v4_gid(v4, 192, 168, 100, 1);
	expect_gid(ctx, 2, v4, IBV_GID_TYPE_ROCE_V1);
	expect_gid(ctx, 3, v4, IBV_GID_TYPE_ROCE_V2);

	ctx = sr_open(&side, SR_HCA2);
	v4_gid(v4, 192, 168, 101, 1);
	expect_gid(ctx, 3, v4, IBV_GID_TYPE_ROCE_V2);

	/* A DOWN port still holds its link-local entries. */
	ctx = sr_open(&side, SR_HCA1);
	cr_assert_eq(ibv_query_gid(ctx, 1, 0, &g0), 0);
	cr_assert(g0.raw[0] == 0xfe && g0.raw[1] == 0x80);
	sr_side_destroy(&side);
}

Test(topology, gid_table_host_b_octet)
{
	sr_fabric_setup();
	setenv("SOFTROCE_HOST", "b", 1);
	struct sr_side side = { 0 };
	uint8_t v4[16];
	v4_gid(v4, 192, 168, 100, 2);
	expect_gid(sr_open(&side, SR_HCA0), 3, v4, IBV_GID_TYPE_ROCE_V2);
	v4_gid(v4, 192, 168, 101, 2);
	expect_gid(sr_open(&side, SR_HCA2), 3, v4, IBV_GID_TYPE_ROCE_V2);
	sr_side_destroy(&side);
}

Test(topology, gid_table_lists_types)
{
	sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_gid_entry e[16];
	ssize_t n = ibv_query_gid_table(sr_open(&side, SR_HCA0), e, 16, 0);
	cr_assert_geq(n, 4, "want >= 4 GID entries, got %zd", n);
	int found = 0;
	for (ssize_t i = 0; i < n; i++)
		if (e[i].gid_index == 3 && e[i].gid_type == IBV_GID_TYPE_ROCE_V2 &&
		    e[i].gid.raw[12] == 192 && e[i].gid.raw[14] == 100)
			found++;
	cr_assert_eq(found, 1, "index 3 RoCE v2 IPv4 entry missing from the table");
	sr_side_destroy(&side);
}

Test(topology, set_gid_index_moves_ipv4_gid_on_host_b)
{
	sr_fabric_setup();
	sr_topology("set b " SR_HCA2 " gid_index=5\n");
	setenv("SOFTROCE_HOST", "b", 1);
	struct sr_side side = { 0 };
	struct ibv_context *ctx = sr_open(&side, SR_HCA2);
	uint8_t v4[16];
	v4_gid(v4, 192, 168, 101, 2);
	expect_gid(ctx, 5, v4, IBV_GID_TYPE_ROCE_V2);
	struct ibv_gid_entry e;
	int rc = ibv_query_gid_ex(ctx, 1, 3, &e, 0);
	cr_assert(rc != 0 || e.gid_type != IBV_GID_TYPE_ROCE_V2 || memcmp(e.gid.raw, v4, 16) != 0,
		  "index 3 still holds the RoCE v2 IPv4 GID");
	/* The other HCA of host b keeps the default. */
	v4_gid(v4, 192, 168, 100, 2);
	expect_gid(sr_open(&side, SR_HCA0), 3, v4, IBV_GID_TYPE_ROCE_V2);
	sr_side_destroy(&side);
}

Test(topology, set_gid_index_for_b_leaves_host_a)
{
	sr_fabric_setup();
	sr_topology("set b " SR_HCA2 " gid_index=5\n");
	struct sr_side side = { 0 };
	uint8_t v4[16];
	v4_gid(v4, 192, 168, 101, 1);
	expect_gid(sr_open(&side, SR_HCA2), 3, v4, IBV_GID_TYPE_ROCE_V2);
	sr_side_destroy(&side);
}

Test(topology, set_state_active_brings_f1_up)
{
	sr_fabric_setup();
	sr_topology("set " SR_HCA1 " state=active\n");
	struct sr_side side = { 0 };
	struct ibv_port_attr pa;
	cr_assert_eq(ibv_query_port(sr_open(&side, SR_HCA1), 1, &pa), 0);
	cr_assert_eq(pa.state, IBV_PORT_ACTIVE);
	sr_side_destroy(&side);
}

static void expect_sysfs(const char *dir, const char *rel, const char *needle)
{
	char path[PATH_MAX * 2], buf[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_geq(sr_read_file(path, buf, sizeof(buf)), 0, "missing %s", path);
	cr_assert(strstr(buf, needle) != NULL, "%s holds '%s', want '%s'", path, buf, needle);
}

Test(topology, sysfs_under_ibdev_path)
{
	const char *fabric = sr_fabric_setup();
	struct sr_side side = { 0 };
	struct ibv_context *ctx = sr_open(&side, SR_HCA0);
	const char *dir = ctx->device->ibdev_path;
	cr_assert(strncmp(dir, fabric, strlen(fabric)) == 0,
		  "ibdev_path %s is not inside the fabric dir %s", dir, fabric);
	expect_sysfs(dir, "ports/1/state", "ACTIVE");
	expect_sysfs(dir, "ports/1/link_layer", "Ethernet");
	expect_sysfs(dir, "ports/1/gid_attrs/types/3", "RoCE v2");
	expect_sysfs(dir, "ports/1/gid_attrs/types/2", "RoCE v1");
	expect_sysfs(dir, "ports/1/gids/3", "0000:0000:0000:0000:0000:ffff:c0a8:6401");
	expect_sysfs(dir, "ports/1/counters/port_xmit_data", "");
	expect_sysfs(dir, "device/current_link_width", "4");
	expect_sysfs(dir, "device/current_link_speed", "32.0 GT/s");
	expect_sysfs(dir, "device/vendor", "0x15b3");
	expect_sysfs(dir, "device/net/enp1s0f0np0/mtu", "");
	ctx = sr_open(&side, SR_HCA1);
	expect_sysfs(ctx->device->ibdev_path, "ports/1/state", "DOWN");
	sr_side_destroy(&side);
}

/* A degraded PCIe link (the Gen5 x2 "stale init" state, or Gen4) is state
 * that tools read from sysfs. */
Test(topology, set_link_shows_in_sysfs)
{
	sr_fabric_setup();
	sr_topology("set a " SR_HCA0 " link=gen5x2\nset a " SR_HCA2 " link=gen4x4\n");
	struct sr_side side = { 0 };
	const char *d0 = sr_open(&side, SR_HCA0)->device->ibdev_path;
	expect_sysfs(d0, "device/current_link_width", "2");
	expect_sysfs(d0, "device/current_link_speed", "32.0 GT/s");
	const char *d2 = sr_open(&side, SR_HCA2)->device->ibdev_path;
	expect_sysfs(d2, "device/current_link_width", "4");
	expect_sysfs(d2, "device/current_link_speed", "16.0 GT/s");
	sr_side_destroy(&side);
}
