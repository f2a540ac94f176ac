#include <criterion/criterion.h>

#include "capture.h"
#include "pairing.h"
#include "props.h"
#include "spark_fixture.h"

static struct spark_params params;
static struct spark_ldev devs[SPARK_MAX_DEVS];

static void setup(void)
{
	spark_params_defaults(&params);
	capture_start();
}

TestSuite(pairing, .init = setup);

static int build(const struct spark_hca *h, int n)
{
	return spark_build_devices(h, n, &params, devs, SPARK_MAX_DEVS);
}

static void set_env_param(const char *assignment)
{
	const char *env[] = {assignment, NULL};
	cr_assert_eq(spark_params_load(&params, env), 0, "%s", capture_text);
}

Test(pairing, one_cable_on_port_0)
{
	struct spark_hca h[4];
	int nd = build(h, spark_box(h, 1, 0));
	cr_assert_eq(nd, 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_eq(devs[0].nrails, 2);
	cr_assert_eq(devs[0].rail[0], 0);
	cr_assert_eq(devs[0].rail[1], 2);
	/* Two Gen5 x4 halves (2 x 126 Gb/s) behind one 200G port: the port binds. */
	cr_assert_eq(devs[0].speed_mbps, 200000);
	cr_assert_null(devs[0].pci_path, "a pair reports no PCI path (design.md)");
	cr_assert_eq(devs[0].guid, SPARK_SYS_GUID);
	cr_assert_eq(devs[0].port, 1);
	cr_assert_eq(capture_warns, 0, "%s", capture_text);
	cr_assert(capture_has("rocep1s0f1:1 is not ACTIVE (no cable?)"), "%s", capture_text);
}

Test(pairing, one_cable_on_port_1)
{
	struct spark_hca h[4];
	int nd = build(h, spark_box(h, 0, 1));
	cr_assert_eq(nd, 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f1+roceP2p1s0f1");
	cr_assert_eq(capture_warns, 0, "%s", capture_text);
}

Test(pairing, two_cables_two_devices_in_pci_order)
{
	struct spark_hca h[4];
	int nd = build(h, spark_box(h, 1, 1));
	cr_assert_eq(nd, 2);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_str_eq(devs[1].name, "rocep1s0f1+roceP2p1s0f1");
	cr_assert_eq(devs[0].guid, devs[1].guid, "one physical NIC");
	cr_assert_neq(devs[0].port, devs[1].port, "(guid, port) unique per device");
}

Test(pairing, input_order_does_not_matter)
{
	struct spark_hca box[4], h[4];
	spark_box(box, 1, 1);
	h[0] = box[3]; h[1] = box[2]; h[2] = box[1]; h[3] = box[0];
	cr_assert_eq(build(h, 4), 2);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_str_eq(devs[1].name, "rocep1s0f1+roceP2p1s0f1");
}

Test(pairing, never_pairs_the_two_ports_of_one_link)
{
	struct spark_hca h[2] = {spark_fn("rocep1s0f0", "0000:01:00.0", 1, 100),
				 spark_fn("rocep1s0f1", "0000:01:00.1", 1, 102)};
	cr_assert_eq(build(h, 2), 2);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0");
	cr_assert_str_eq(devs[1].name, "rocep1s0f1");
	cr_assert_eq(devs[0].nrails, 1);
}

Test(pairing, never_pairs_different_ports_across_domains)
{
	/* f0 on domain 0 with f1 on domain 2: two different cables. */
	struct spark_hca h[2] = {spark_fn("rocep1s0f0", "0000:01:00.0", 1, 100),
				 spark_fn("roceP2p1s0f1", "0002:01:00.1", 1, 103)};
	cr_assert_eq(build(h, 2), 2);
}

Test(pairing, degraded_gen5_x2_half)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	h[2].link.width = 2;
	h[2].link.mbps = spark_pcie_mbps(5, 2);
	cr_assert_eq(build(h, 4), 1);
	cr_assert_eq(devs[0].nrails, 2, "a slow half still carries its share");
	cr_assert_eq(devs[0].speed_mbps, 126032 + 63016);
	cr_assert_eq(spark_ldev_check(&devs[0], h), 1);
	cr_assert(capture_has("WARN NET/Spark : roceP2p1s0f0: PCIe link runs at Gen5 x2"), "%s", capture_text);
	cr_assert(capture_has("fwupdmgr"), "the WARN says the fix");
}

Test(pairing, asus_style_second_half)
{
	/* Second endpoint at x2 and firmware giving each host its own system
	 * image GUID: still one NIC (same board, neighbouring node GUIDs). */
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	h[2].sys_image_guid = SPARK_SYS_GUID + 2;
	h[2].link.width = 2;
	h[2].link.mbps = spark_pcie_mbps(5, 2);
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_eq(spark_ldev_check(&devs[0], h), 1);
}

Test(pairing, two_separate_nics_are_not_fused)
{
	struct spark_hca h[2] = {spark_fn("mlx5_0", "0000:01:00.0", 1, 100),
				 spark_fn("mlx5_1", "0002:01:00.0", 1, 101)};
	h[1].sys_image_guid = 0x1111;
	h[1].node_guid = 0x1111;
	snprintf(h[1].board_id, sizeof h[1].board_id, "OTHER");
	cr_assert_eq(build(h, 2), 2);
}

Test(pairing, plain_single_port_nic)
{
	struct spark_hca h[1] = {plain_nic()};
	cr_assert_eq(build(h, 1), 1);
	cr_assert_str_eq(devs[0].name, "mlx5_0");
	cr_assert_eq(devs[0].nrails, 1);
	cr_assert_eq(devs[0].speed_mbps, 100000, "the port binds, not Gen3 x16");
	cr_assert_str_eq(devs[0].pci_path, h[0].pci_path, "one rail: its real PCI path");
	cr_assert_eq(spark_ldev_check(&devs[0], h), 1, "Gen3 is below Gen5 x4");
}

Test(pairing, dual_port_nic_keeps_its_port_numbers)
{
	struct spark_hca h[2] = {plain_nic(), plain_nic()};
	h[1].port = 2;
	cr_assert_eq(build(h, 2), 2);
	cr_assert_str_eq(devs[0].name, "mlx5_0");
	cr_assert_eq(devs[0].port, 1);
	cr_assert_eq(devs[1].port, 2);
	cr_assert_eq(devs[0].guid, devs[1].guid);
}

Test(pairing, plain_nic_next_to_a_spark_in_pci_order)
{
	struct spark_hca h[5];
	h[0] = plain_nic();
	spark_box(h + 1, 1, 0);
	cr_assert_eq(build(h, 5), 2);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_str_eq(devs[1].name, "mlx5_0");
	cr_assert_eq(devs[1].port, 1, "another NIC, its own guid");
}

Test(pairing, lone_hca)
{
	struct spark_hca h[1] = {spark_fn("rocep1s0f0", "0000:01:00.0", 1, 100)};
	cr_assert_eq(build(h, 1), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0");
	cr_assert_eq(devs[0].speed_mbps, 126032, "one x4 link binds");
	cr_assert_eq(capture_warns, 0);
}

Test(pairing, no_hca)
{
	cr_assert_eq(build(NULL, 0), 0);
}

Test(pairing, half_down_gives_one_rail_and_a_warning)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	h[2].active = 0;
	h[2].gid_result = SPARK_GID_NOT_FOUND;
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0");
	cr_assert(capture_has("WARN NET/Spark : roceP2p1s0f0:1 is not ACTIVE while its twin is"), "%s",
		  capture_text);
}

Test(pairing, half_without_ipv4_gid)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	h[0].gid_result = SPARK_GID_NOT_FOUND;
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "roceP2p1s0f0");
	cr_assert(capture_has("rocep1s0f0:1 is ACTIVE but has no RoCE v2 IPv4 GID"), "%s",
		  capture_text);
	cr_assert(capture_has("IPv4 address"));
}

Test(pairing, bad_gid_override_is_explained)
{
	struct spark_hca h[1] = {spark_fn("rocep1s0f0", "0000:01:00.0", 1, 100)};
	h[0].gid_result = SPARK_GID_OVERRIDE_BAD;
	params.gid_index = 9;
	cr_assert_eq(build(h, 1), 0);
	cr_assert(capture_has("NCCL_SPARK_GID_INDEX=9 names no valid GID"), "%s", capture_text);
}

Test(pairing, small_mtu_and_shared_subnet_warn)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	h[0].active_mtu = 1024;
	h[2].gid.ipv4 = h[0].gid.ipv4 + 1;
	cr_assert_eq(build(h, 4), 1);
	cr_assert_eq(spark_ldev_check(&devs[0], h), 2);
	cr_assert(capture_has("RoCE MTU is 1024"), "%s", capture_text);
	cr_assert(capture_has("are both on 192.168.100.0/24"), "%s", capture_text);
}

Test(pairing, infiniband_ports_are_skipped)
{
	struct spark_hca h[1] = {plain_nic()};
	h[0].ethernet = 0;
	cr_assert_eq(build(h, 1), 0);
}

Test(pairing, hca_filter_exact)
{
	struct spark_hca h[4];
	spark_box(h, 1, 1);
	set_env_param("NCCL_SPARK_HCA==rocep1s0f1,roceP2p1s0f1");
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f1+roceP2p1s0f1");
}

Test(pairing, hca_filter_exclude)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	set_env_param("NCCL_SPARK_HCA=^roceP2");
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0");
}

Test(pairing, hca_filter_port)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	set_env_param("NCCL_SPARK_HCA=rocep1s0f0:2,roceP2p1s0f0:1");
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "roceP2p1s0f0");
}

Test(pairing, explicit_pairs)
{
	struct spark_hca h[4];
	spark_box(h, 1, 1);
	set_env_param("NCCL_SPARK_PAIRS=rocep1s0f1+roceP2p1s0f1,rocep1s0f0");
	cr_assert_eq(build(h, 4), 2);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0", "PCI order of the first rail");
	cr_assert_str_eq(devs[1].name, "rocep1s0f1+roceP2p1s0f1");
}

Test(pairing, explicit_pairs_may_join_one_link_and_keep_written_order)
{
	struct spark_hca h[4];
	spark_box(h, 1, 1);
	set_env_param("NCCL_SPARK_PAIRS=roceP2p1s0f0+rocep1s0f0");
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "roceP2p1s0f0+rocep1s0f0");
	set_env_param("NCCL_SPARK_PAIRS=rocep1s0f0+rocep1s0f1");
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0+rocep1s0f1");
	/* Not twins: no shared-port cap, each rail at its x4 link. */
	cr_assert_eq(devs[0].speed_mbps, 2 * 126032);
}

Test(pairing, explicit_pair_with_a_missing_hca)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	set_env_param("NCCL_SPARK_PAIRS=rocep1s0f0+mlx5_9");
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0");
	cr_assert(capture_has("NCCL_SPARK_PAIRS names mlx5_9"), "%s", capture_text);
}

Test(pairing, explicit_pairs_respect_the_hca_filter)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	set_env_param("NCCL_SPARK_PAIRS=rocep1s0f0+roceP2p1s0f0");
	params.hca.set = true;
	params.hca.exclude = true;
	params.hca.n = 1;
	strcpy(params.hca.entry[0].name, "roceP2");
	params.hca.entry[0].port = -1;
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].name, "rocep1s0f0");
}

Test(pairing, pci_path_modes)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	params.pci_path = SPARK_PCI_PATH_RAIL0;
	cr_assert_eq(build(h, 4), 1);
	cr_assert_str_eq(devs[0].pci_path, h[0].pci_path);
	struct spark_hca lone[1] = {plain_nic()};
	params.pci_path = SPARK_PCI_PATH_NONE;
	cr_assert_eq(build(lone, 1), 1);
	cr_assert_null(devs[0].pci_path);
}

Test(pairing, describe_line)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	cr_assert_eq(build(h, 4), 1);
	char line[1024];
	spark_ldev_describe(&devs[0], h, line, sizeof line);
	cr_assert(strstr(line, "rocep1s0f0+roceP2p1s0f0: 2 rails") != NULL, "%s", line);
	cr_assert(strstr(line, "pci 0002:01:00.0 PCIe Gen5 x4") != NULL, "%s", line);
	cr_assert(strstr(line, "GID 3 192.168.101.1/24") != NULL, "%s", line);
	cr_assert(strstr(line, "speed 200000 Mbps") != NULL, "%s", line);
}

Test(pairing, properties)
{
	struct spark_hca h[4];
	spark_box(h, 1, 0);
	cr_assert_eq(build(h, 4), 1);
	struct spark_props p;
	spark_props_from_ldev(&devs[0], &p);
	cr_assert_str_eq(p.name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_null(p.pci_path);
	cr_assert_eq(p.ptr_support, NCCL_PTR_HOST);
	cr_assert_eq(p.reg_is_global, 1);
	cr_assert_eq(p.speed_mbps, 200000);
	cr_assert_eq(p.max_recvs, 8);
	cr_assert_eq(p.max_comms, 131072);
	cr_assert_float_eq(p.latency_us, 0.0f, 1e-9);
}
