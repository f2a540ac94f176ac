/* What discovery learns about one (HCA, port): plain data, so the pairing,
 * GID and property logic can be tested without any fabric. */
#ifndef SPARK_HCA_H
#define SPARK_HCA_H

#include <stdbool.h>
#include <stdint.h>

#include "gid.h"
#include "spark_limits.h"
#include "pci.h"

#define SPARK_PATH_LEN 256

struct spark_hca {
	char name[SPARK_NAME_LEN];      /* ibv device name, e.g. rocep1s0f0 */
	int port;                       /* ibv port number, 1-based */
	char netdev[SPARK_NETDEV_LEN];  /* "" when sysfs names none */
	bool pci_valid;
	struct spark_pci_addr pci;
	char pci_path[SPARK_PATH_LEN];  /* realpath of <ibdev_path>/device */
	uint64_t node_guid;             /* host byte order */
	uint64_t sys_image_guid;
	uint32_t vendor_part_id;
	char board_id[SPARK_NAME_LEN];
	bool ethernet;                  /* link layer */
	bool active;                    /* IBV_PORT_ACTIVE */
	int active_mtu;                 /* bytes of RoCE path MTU */
	int netdev_mtu;                 /* bytes, 0 unknown */
	int port_mbps;                  /* link rate of the port */
	struct spark_pcie_link link;    /* PCIe link of this function */
	enum spark_gid_result gid_result;
	struct spark_gid_choice gid;    /* valid when gid_result is FOUND/OVERRIDDEN */
	int max_qp;
	bool mlx5dv;                    /* mlx5dv_is_supported() said yes */
};

/* Reached the port at all: ACTIVE Ethernet with a GID we can address. */
bool spark_hca_usable(const struct spark_hca *h);
/* Rate this rail can carry: the port, capped by its PCIe link. */
int spark_hca_rail_mbps(const struct spark_hca *h);
/* Two PCIe functions of one multi-host port: same bus/device/function and
 * port number in different PCI domains, on the same physical NIC. */
bool spark_hca_twins(const struct spark_hca *a, const struct spark_hca *b);

#endif
