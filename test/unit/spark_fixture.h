/* Discovered-HCA descriptions shaped like real machines, for the pairing
 * and property tests. */
#ifndef SPARK_TEST_FIXTURE_H
#define SPARK_TEST_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "hca.h"

#define SPARK_SYS_GUID 0x3c6d660300aabb00ULL

/* One DGX Spark function: name, "dddd:bb:dd.f", ACTIVE?, IPv4 third octet. */
static inline struct spark_hca spark_fn(const char *name, const char *bdf, int active, int subnet)
{
	struct spark_hca h;
	memset(&h, 0, sizeof h);
	snprintf(h.name, sizeof h.name, "%s", name);
	h.port = 1;
	spark_pci_parse(bdf, &h.pci);
	h.pci_valid = 1;
	snprintf(h.pci_path, sizeof h.pci_path, "/sys/devices/pci%04x:00/%04x:00:00.0/%s",
		 h.pci.domain, h.pci.domain, bdf);
	snprintf(h.netdev, sizeof h.netdev, "%s", h.pci.domain ? "enP2p1s0fXnpX" : "enp1s0fXnpX");
	h.node_guid = SPARK_SYS_GUID + (uint64_t)(h.pci.domain * 2 + h.pci.fn);
	h.sys_image_guid = SPARK_SYS_GUID;
	h.vendor_part_id = 4129;
	snprintf(h.board_id, sizeof h.board_id, "NVD0000000087");
	h.ethernet = 1;
	h.active = active;
	h.active_mtu = 4096;
	h.netdev_mtu = 9000;
	h.port_mbps = 200000;
	h.link.gen = 5;
	h.link.width = 4;
	h.link.mbps = spark_pcie_mbps(5, 4);
	h.gid_result = active ? SPARK_GID_FOUND : SPARK_GID_NOT_FOUND;
	h.gid.index = 3;
	h.gid.ipv4 = active ? (192u << 24 | 168u << 16 | (uint32_t)subnet << 8 | 1) : 0;
	h.gid.prefix = 24;
	h.max_qp = 131072;
	return h;
}

/* A whole Spark: port 0 and/or port 1 cabled. Returns the HCA count (4). */
static inline int spark_box(struct spark_hca *h, int port0, int port1)
{
	h[0] = spark_fn("rocep1s0f0", "0000:01:00.0", port0, 100);
	h[1] = spark_fn("rocep1s0f1", "0000:01:00.1", port1, 102);
	h[2] = spark_fn("roceP2p1s0f0", "0002:01:00.0", port0, 101);
	h[3] = spark_fn("roceP2p1s0f1", "0002:01:00.1", port1, 103);
	return 4;
}

/* An ordinary single-port ConnectX at 0000:3b:00.0 (Gen3 x16, 100G). */
static inline struct spark_hca plain_nic(void)
{
	struct spark_hca h = spark_fn("mlx5_0", "0000:3b:00.0", 1, 50);
	h.sys_image_guid = 0x0c42a10300001111ULL;
	h.node_guid = 0x0c42a10300001111ULL;
	snprintf(h.board_id, sizeof h.board_id, "MT_0000000222");
	h.vendor_part_id = 4123;
	h.port_mbps = 100000;
	h.link.gen = 3;
	h.link.width = 16;
	h.link.mbps = spark_pcie_mbps(3, 16);
	snprintf(h.netdev, sizeof h.netdev, "ens1f0np0");
	return h;
}

#endif
