#include "hca.h"

#include <string.h>

bool spark_hca_usable(const struct spark_hca *h)
{
	bool has_gid = h->gid_result == SPARK_GID_FOUND || h->gid_result == SPARK_GID_OVERRIDDEN;
	return h->ethernet && h->active && has_gid;
}

int spark_hca_rail_mbps(const struct spark_hca *h)
{
	if (h->link.mbps > 0 && (h->port_mbps <= 0 || h->link.mbps < h->port_mbps))
		return h->link.mbps;
	return h->port_mbps > 0 ? h->port_mbps : 10000;
}

/* The same physical NIC: the same system image GUID, as a multi-host
 * ConnectX-7 reports on every function; failing that (firmware that gives
 * each host its own), the same board and node GUIDs a few apart, which is how
 * the functions of one card are numbered. */
static bool same_nic(const struct spark_hca *a, const struct spark_hca *b)
{
	if (a->sys_image_guid != 0 && a->sys_image_guid == b->sys_image_guid)
		return true;
	if (a->board_id[0] == '\0' || strcmp(a->board_id, b->board_id) != 0)
		return false;
	if (a->vendor_part_id != b->vendor_part_id || a->node_guid == 0 || b->node_guid == 0)
		return false;
	uint64_t diff = a->node_guid > b->node_guid ? a->node_guid - b->node_guid
						    : b->node_guid - a->node_guid;
	return diff < 8;
}

bool spark_hca_twins(const struct spark_hca *a, const struct spark_hca *b)
{
	if (!a->pci_valid || !b->pci_valid)
		return false;
	if (a->pci.domain == b->pci.domain)
		return false; /* same PCIe link (rocep1s0f0 vs rocep1s0f1): never */
	if (a->pci.bus != b->pci.bus || a->pci.dev != b->pci.dev || a->pci.fn != b->pci.fn)
		return false;
	return a->port == b->port && same_nic(a, b);
}
