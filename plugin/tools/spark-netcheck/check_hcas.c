/* Findings about the HCAs and the logical devices the plugin forms from them:
 * the cabled port's two halves, their addresses, MTUs and PCIe links. */
#include <stdio.h>
#include <string.h>

#include "netcheck.h"
#include "sysfs.h"

static const char *netdev_of(const struct spark_hca *h)
{
	return h->netdev[0] != '\0' ? h->netdev : "<netdev>";
}

static bool has_gid(const struct spark_hca *h)
{
	return h->gid_result == SPARK_GID_FOUND || h->gid_result == SPARK_GID_OVERRIDDEN;
}

/* The twin of hcas[i] (the other PCIe half of the same port), or -1. */
static int twin_of(const struct nc_host *h, int i)
{
	for (int j = 0; j < h->nhcas; j++)
		if (j != i && spark_hca_twins(&h->hcas[i], &h->hcas[j]))
			return j;
	return -1;
}

/* A /24 for a half without one: the one after its twin's, same host octet. */
static void suggest_addr(const struct spark_hca *twin, char *buf, int len)
{
	uint32_t ip = twin->gid.ipv4;
	if (ip == 0) {
		snprintf(buf, (size_t)len, "192.168.101.<n>/24");
		return;
	}
	snprintf(buf, (size_t)len, "%u.%u.%u.%u/24", ip >> 24, (ip >> 16) & 0xff,
		 ((ip >> 8) & 0xff) + 1 > 255 ? 1 : ((ip >> 8) & 0xff) + 1, ip & 0xff);
}

static void check_halves(const struct nc_host *h, int i, int j, struct nc_report *r)
{
	const struct spark_hca *a = &h->hcas[i], *b = &h->hcas[j];
	char fix[NC_TEXT_LEN], addr[32];
	if (a->active != b->active) {
		const struct spark_hca *down = a->active ? b : a, *up = a->active ? a : b;
		snprintf(fix, sizeof fix, "check the QSFP cable, then reboot both Sparks with the "
			 "final cabling in place (if that fails: power off, unplug AC for 60 s); "
			 "ibv_devinfo -d %s must show PORT_ACTIVE", down->name);
		nc_add(r, "port-down", NC_BANDWIDTH, down->name, fix,
		       "%s:%d is DOWN while its other half %s is ACTIVE: the port runs on one PCIe "
		       "half, about half its bandwidth", down->name, down->port, up->name);
		return;
	}
	if (!a->active)
		return; /* nothing cabled to this port: not a finding */
	if (has_gid(a) != has_gid(b)) {
		const struct spark_hca *bare = has_gid(a) ? b : a, *addressed = has_gid(a) ? a : b;
		suggest_addr(addressed, addr, sizeof addr);
		snprintf(fix, sizeof fix, "sudo ip addr add %s dev %s (on the other Spark the same "
			 "subnet, another host number; persist it in /etc/netplan, e.g. "
			 "40-cx7.yaml), then rerun spark-netcheck", addr, netdev_of(bare));
		nc_add(r, "half-unaddressed", NC_BANDWIDTH, bare->name, fix,
		       "%s (netdev %s) is ACTIVE but has no IPv4 address, so no RoCE v2 IPv4 GID: "
		       "the plugin uses only %s, half the port's bandwidth", bare->name,
		       netdev_of(bare), addressed->name);
		return;
	}
	if (has_gid(a) && a->gid.ipv4 != 0 && b->gid.ipv4 != 0 &&
	    spark_ipv4_same_subnet(a->gid.ipv4, a->gid.prefix, b->gid.ipv4, b->gid.prefix)) {
		char net[32], ipb[32];
		spark_ipv4_format(spark_ipv4_subnet(a->gid.ipv4, a->gid.prefix), a->gid.prefix, net,
				  sizeof net);
		spark_ipv4_format(b->gid.ipv4, b->gid.prefix, ipb, sizeof ipb);
		suggest_addr(a, addr, sizeof addr);
		snprintf(fix, sizeof fix, "sudo ip addr del %s dev %s && sudo ip addr add %s dev %s "
			 "(and the same change on the other Spark; persist it in /etc/netplan)",
			 ipb, netdev_of(b), addr, netdev_of(b));
		nc_add(r, "same-subnet", NC_BANDWIDTH, b->name, fix,
		       "%s and %s are both on %s: the kernel answers ARP for both halves from one "
		       "netdev, so traffic meant for one half can arrive on the other", a->name,
		       b->name, net);
	}
}

static void check_mtu(const struct spark_hca *h, struct nc_report *r)
{
	char fix[NC_TEXT_LEN];
	snprintf(fix, sizeof fix, "sudo ip link set %s mtu 9000 on both Sparks; persist it "
		 "(netplan: mtu: 9000) and check again after firmware updates", netdev_of(h));
	if (h->active_mtu > 0 && h->active_mtu < 4096)
		nc_add(r, "mtu-low", NC_BANDWIDTH, h->name, fix,
		       "%s: RoCE active MTU is %d, below 4096 (netdev %s MTU %d): ~6%% less "
		       "bandwidth and more packets per message", h->name, h->active_mtu,
		       netdev_of(h), h->netdev_mtu);
	else if (h->netdev_mtu > 0 && h->netdev_mtu < 9000)
		nc_add(r, "netdev-mtu", NC_NOTE, h->name, fix,
		       "%s: netdev %s MTU is %d, below the 9000 NVIDIA's playbook sets (RoCE MTU "
		       "4096 still fits; a value below 4200 would not)", h->name, netdev_of(h),
		       h->netdev_mtu);
}

bool nc_pcie_cap(const struct spark_hca *h, struct spark_pcie_link *cap)
{
	char text[64];
	long width = 0;
	memset(cap, 0, sizeof *cap);
	if (h->pci_path[0] == '\0' ||
	    !spark_sysfs_read(h->pci_path, "max_link_speed", text, sizeof text) ||
	    !spark_sysfs_read_long(h->pci_path, "max_link_width", &width) || width <= 0 ||
	    width > 32)
		return false;
	cap->gen = spark_pcie_gen_from_speed(text);
	cap->width = (int)width;
	cap->mbps = spark_pcie_mbps(cap->gen, cap->width);
	return cap->gen > 0;
}

/* Below what the function can do, or (a Spark half) below Gen5 x4. */
static void check_pcie(const struct spark_hca *h, bool spark_half, struct nc_report *r)
{
	char cur[32], cap[32] = "unknown";
	struct spark_pcie_link max;
	bool known = nc_pcie_cap(h, &max);
	bool below_cap = known && h->link.gen > 0 && h->link.width > 0 &&
			 (h->link.gen < max.gen || h->link.width < max.width);
	if (!below_cap && !(spark_half && spark_pcie_degraded(&h->link)))
		return;
	spark_pcie_format(&h->link, cur, sizeof cur);
	if (known)
		spark_pcie_format(&max, cap, sizeof cap);
	char fix[NC_TEXT_LEN];
	snprintf(fix, sizeof fix, "sudo lspci -vv -s %04x:%02x:%02x.%x | grep -E 'LnkCap|LnkSta'; "
		 "update the BIOS/firmware (sudo fwupdmgr refresh && sudo fwupdmgr update; ASUS "
		 "GX10 BIOS before 2026-04 trains 0002:01:00.0 at x2), then reboot",
		 h->pci.domain, h->pci.bus, h->pci.dev, h->pci.fn);
	nc_add(r, "pcie-degraded", NC_BANDWIDTH, h->name, fix,
	       "%s: PCIe link is %s (capable of %s)%s: this rail carries %d Mb/s at most",
	       h->name, cur, cap, spark_half ? ", below the Gen5 x4 a Spark half trains at" : "",
	       spark_hca_rail_mbps(h));
}

static void check_link_local(const struct spark_hca *h, struct nc_report *r)
{
	if (!has_gid(h) || (h->gid.ipv4 >> 16) != 0xa9fe)
		return;
	char ip[32], fix[NC_TEXT_LEN];
	spark_ipv4_format(h->gid.ipv4, h->gid.prefix, ip, sizeof ip);
	snprintf(fix, sizeof fix, "give %s a static address on its own /24 (e.g. sudo ip addr add "
		 "192.168.100.<n>/24 dev %s), persist it in /etc/netplan without link-local: "
		 "[ ipv4 ], and remove the 169.254 address", netdev_of(h), netdev_of(h));
	nc_add(r, "link-local", NC_BANDWIDTH, h->name, fix,
	       "%s uses the link-local address %s: link-local addresses change at every boot "
	       "and put every port on one 169.254/16, so HCAs are paired with the wrong peer",
	       h->name, ip);
}

static void check_devices(const struct nc_host *h, struct nc_report *r)
{
	if (h->ndevs == 0) {
		nc_add(r, "no-device", NC_FATAL, "", "cable port 0 of both Sparks, give both halves "
		       "an IPv4 address on their own /24 (see the other findings), then rerun",
		       "the plugin forms no device (%d HCA ports found, none ACTIVE with a RoCE v2 "
		       "IPv4 GID): NCCL_NET=Spark fails, otherwise NCCL falls back to its own "
		       "transports", h->nhcas);
		return;
	}
	int fused = 0;
	for (int d = 0; d < h->ndevs; d++)
		fused += h->devs[d].nrails > 1;
	if (h->ndevs == 1)
		return;
	char keep[160] = "";
	for (int d = 0; d < h->ndevs; d++)
		if (h->devs[d].nrails > 1 || (fused == 0 && d == 0)) {
			snprintf(keep, sizeof keep, "%s", h->devs[d].name);
			break;
		}
	for (char *p = keep; *p != '\0'; p++)
		if (*p == '+')
			*p = ',';
	char fix[NC_TEXT_LEN];
	snprintf(fix, sizeof fix, "if the other Spark does not show the same devices: "
		 "export NCCL_SPARK_HCA==%s (or take the extra port down / remove its address); "
		 "spark-netcheck --peer <other Spark> compares both", keep);
	for (int d = 0; d < h->ndevs; d++) {
		if (h->devs[d].nrails > 1 || (fused == 0 && d == 0))
			continue;
		nc_add(r, "extra-device", NC_BANDWIDTH, h->devs[d].name, fix,
		       "%s is ACTIVE and addressed outside the cabled pair: NCCL gets %d devices "
		       "and pairs them with the other Spark's by position; an extra port or "
		       "address makes it connect HCAs with no path between them (ibv_modify_qp "
		       "error 110, hangs)", h->devs[d].name, h->ndevs);
	}
}

void nc_check_hcas(const struct nc_host *h, struct nc_report *r)
{
	bool seen[SPARK_MAX_HCAS] = {false};
	for (int i = 0; i < h->nhcas; i++) {
		if (!h->hcas[i].ethernet)
			continue;
		int j = twin_of(h, i);
		if (j >= 0 && !seen[i] && !seen[j])
			check_halves(h, i, j, r);
		seen[i] = true;
		if (j >= 0)
			seen[j] = true;
	}
	for (int i = 0; i < h->nhcas; i++) {
		const struct spark_hca *c = &h->hcas[i];
		if (!c->ethernet || !c->active)
			continue;
		if (c->gid_result == SPARK_GID_OVERRIDE_BAD)
			nc_add(r, "gid-index-bad", NC_FATAL, c->name, "unset NCCL_SPARK_GID_INDEX: the "
			       "plugin finds the RoCE v2 IPv4 GID itself (the index drifts)",
			       "NCCL_SPARK_GID_INDEX=%d names no valid GID on %s: the plugin leaves "
			       "this rail out", h->params.gid_index, c->name);
		if (!has_gid(c))
			continue;
		check_mtu(c, r);
		check_pcie(c, twin_of(h, i) >= 0, r);
		check_link_local(c, r);
	}
	check_devices(h, r);
}
