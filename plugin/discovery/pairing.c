#include "pairing.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

struct group {
	int n;
	int idx[SPARK_MAX_RAILS];
};

static int cmp_hca(const struct spark_hca *a, const struct spark_hca *b)
{
	if (a->pci_valid != b->pci_valid)
		return a->pci_valid ? -1 : 1; /* devices with a PCI address first */
	if (a->pci_valid) {
		int c = spark_pci_cmp(&a->pci, &b->pci);
		if (c != 0)
			return c;
	}
	int c = strcmp(a->name, b->name);
	return c != 0 ? c : a->port - b->port;
}

/* Indices of the RoCE (HCA, port)s that pass NCCL_SPARK_HCA, in PCI order. */
static int candidates(const struct spark_hca *hcas, int n, const struct spark_params *p,
		      int *out)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		if (!hcas[i].ethernet) {
			SPARK_INFO(NCCL_INIT, "%s:%d is not Ethernet (RoCE), skipped", hcas[i].name,
				   hcas[i].port);
			continue;
		}
		if (!spark_hca_filter_match(&p->hca, hcas[i].name, hcas[i].port)) {
			SPARK_INFO(NCCL_INIT, "%s:%d excluded by NCCL_SPARK_HCA", hcas[i].name,
				   hcas[i].port);
			continue;
		}
		int j = count++;
		while (j > 0 && cmp_hca(&hcas[out[j - 1]], &hcas[i]) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = i;
	}
	return count;
}

static int auto_groups(const struct spark_hca *hcas, const int *cand, int ncand,
		       struct group *groups)
{
	bool used[SPARK_MAX_HCAS] = {false};
	int ngroups = 0;
	for (int a = 0; a < ncand; a++) {
		if (used[a])
			continue;
		struct group *g = &groups[ngroups++];
		g->n = 1;
		g->idx[0] = cand[a];
		used[a] = true;
		for (int b = a + 1; b < ncand; b++) {
			if (!used[b] && spark_hca_twins(&hcas[cand[a]], &hcas[cand[b]])) {
				g->idx[g->n++] = cand[b];
				used[b] = true;
				break;
			}
		}
	}
	return ngroups;
}

/* The candidate with this exact name; its ACTIVE port if it has several. */
static int find_by_name(const struct spark_hca *hcas, const int *cand, int ncand,
			const char *name)
{
	int found = -1;
	for (int c = 0; c < ncand; c++) {
		const struct spark_hca *h = &hcas[cand[c]];
		if (strcmp(h->name, name) == 0 && (found < 0 || (h->active && !hcas[found].active)))
			found = cand[c];
	}
	return found;
}

static int explicit_groups(const struct spark_hca *hcas, const int *cand, int ncand,
			   const struct spark_pairs *pairs, struct group *groups)
{
	int ngroups = 0;
	for (int d = 0; d < pairs->n; d++) {
		struct group g = {0, {0}};
		for (int r = 0; r < pairs->dev[d].nrails; r++) {
			int i = find_by_name(hcas, cand, ncand, pairs->dev[d].name[r]);
			if (i < 0)
				SPARK_WARN("NCCL_SPARK_PAIRS names %s, which is not a RoCE HCA here "
					   "(or NCCL_SPARK_HCA excludes it); check ibv_devices",
					   pairs->dev[d].name[r]);
			else
				g.idx[g.n++] = i;
		}
		if (g.n > 0)
			groups[ngroups++] = g;
	}
	/* PCI order of the first rail, as for automatic devices. */
	for (int a = 1; a < ngroups; a++)
		for (int b = a; b > 0 && cmp_hca(&hcas[groups[b - 1].idx[0]],
						 &hcas[groups[b].idx[0]]) > 0; b--) {
			struct group t = groups[b];
			groups[b] = groups[b - 1];
			groups[b - 1] = t;
		}
	return ngroups;
}

/* Why a rail of a group cannot carry traffic, said once with the fix. */
static void report_unusable(const struct spark_hca *h, bool partner_ok,
			    const struct spark_params *p)
{
	if (!h->active) {
		if (partner_ok)
			SPARK_WARN("%s:%d is not ACTIVE while its twin is: the device runs on one "
				   "rail at half speed. Fix: check the cable, then reboot both "
				   "machines with the final cabling in place (a stale ConnectX-7 "
				   "init leaves one half down)", h->name, h->port);
		else
			SPARK_INFO(NCCL_INIT, "%s:%d is not ACTIVE (no cable?), skipped", h->name,
				   h->port);
	} else if (h->gid_result == SPARK_GID_OVERRIDE_BAD) {
		SPARK_WARN("%s:%d: NCCL_SPARK_GID_INDEX=%d names no valid GID on this port; unset "
			   "it to let the plugin find the RoCE v2 IPv4 GID (the index drifts)",
			   h->name, h->port, p->gid_index);
	} else {
		SPARK_WARN("%s:%d is ACTIVE but has no RoCE v2 IPv4 GID: left out. Fix: give "
			   "netdev %s an IPv4 address on its own /24 subnet (and persist it, e.g. "
			   "netplan); then rerun", h->name, h->port,
			   h->netdev[0] != '\0' ? h->netdev : "(unknown)");
	}
}

static const char *choose_pci_path(const struct spark_ldev *d, const struct spark_hca *hcas,
				   int mode)
{
	const struct spark_hca *rail0 = &hcas[d->rail[0]];
	if (rail0->pci_path[0] == '\0' || mode == SPARK_PCI_PATH_NONE)
		return NULL;
	if (mode == SPARK_PCI_PATH_RAIL0 || d->nrails == 1)
		return rail0->pci_path;
	return NULL; /* a pair: see docs/design.md, "pciPath" */
}

/* "rocep1s0f0+roceP2p1s0f0": the rails' names joined by '+'. d->name has room
 * for SPARK_MAX_RAILS names; anything longer would be cut, never overrun. */
static void join_rail_names(struct spark_ldev *d, const struct spark_hca *hcas)
{
	size_t used = 0;
	d->name[0] = '\0';
	for (int r = 0; r < d->nrails && used < sizeof d->name; r++) {
		int n = snprintf(d->name + used, sizeof d->name - used, "%s%s", r > 0 ? "+" : "",
				 hcas[d->rail[r]].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void fill_device(struct spark_ldev *d, const struct spark_hca *hcas,
			const struct spark_ldev *earlier, int nearlier, int pci_mode)
{
	const struct spark_hca *rail0 = &hcas[d->rail[0]];
	join_rail_names(d, hcas);
	d->speed_mbps = 0;
	d->max_comms = 0;
	int wire_mbps = 0;
	for (int r = 0; r < d->nrails; r++) {
		const struct spark_hca *h = &hcas[d->rail[r]];
		d->speed_mbps += spark_hca_rail_mbps(h);
		if (h->port_mbps > wire_mbps)
			wire_mbps = h->port_mbps;
		int qps = h->max_qp > 0 ? h->max_qp : 65536;
		if (d->max_comms == 0 || qps < d->max_comms)
			d->max_comms = qps;
	}
	/* Twins share one cable: together they cannot beat the port's rate. */
	if (d->nrails == 2 && spark_hca_twins(rail0, &hcas[d->rail[1]]) && wire_mbps > 0 &&
	    d->speed_mbps > wire_mbps)
		d->speed_mbps = wire_mbps;
	d->guid = rail0->sys_image_guid != 0 ? rail0->sys_image_guid : rail0->node_guid;
	/* A unique (guid, port) per device: NCCL's search shares one bandwidth
	 * budget among devices with equal pairs. Rail 0's port number unless an
	 * earlier device of this NIC holds it, then the next free one. */
	d->port = rail0->port;
	for (bool taken = true; taken; ) {
		taken = false;
		for (int e = 0; e < nearlier && !taken; e++)
			taken = earlier[e].guid == d->guid && earlier[e].port == d->port;
		if (taken)
			d->port++;
	}
	d->pci_path = choose_pci_path(d, hcas, pci_mode);
}

int spark_build_devices(const struct spark_hca *hcas, int nhcas, const struct spark_params *p,
			struct spark_ldev *out, int max)
{
	int cand[SPARK_MAX_HCAS];
	struct group groups[SPARK_MAX_HCAS];
	if (nhcas > SPARK_MAX_HCAS)
		nhcas = SPARK_MAX_HCAS;
	int ncand = candidates(hcas, nhcas, p, cand);
	int ngroups = p->pairs.set ? explicit_groups(hcas, cand, ncand, &p->pairs, groups)
				   : auto_groups(hcas, cand, ncand, groups);
	int ndev = 0;
	for (int g = 0; g < ngroups && ndev < max; g++) {
		struct spark_ldev *d = &out[ndev];
		memset(d, 0, sizeof *d);
		int usable = 0;
		for (int r = 0; r < groups[g].n; r++)
			usable += spark_hca_usable(&hcas[groups[g].idx[r]]);
		for (int r = 0; r < groups[g].n; r++) {
			int i = groups[g].idx[r];
			if (spark_hca_usable(&hcas[i]))
				d->rail[d->nrails++] = i;
			else
				report_unusable(&hcas[i], usable > 0, p);
		}
		if (d->nrails == 0)
			continue;
		fill_device(d, hcas, out, ndev, p->pci_path);
		ndev++;
	}
	if (ngroups > max)
		SPARK_WARN("%d logical devices, only the first %d are used", ngroups, max);
	return ndev;
}

int spark_ldev_check(const struct spark_ldev *d, const struct spark_hca *hcas)
{
	int problems = 0;
	for (int r = 0; r < d->nrails; r++) {
		const struct spark_hca *h = &hcas[d->rail[r]];
		char link[32];
		spark_pcie_format(&h->link, link, sizeof link);
		if (spark_pcie_degraded(&h->link)) {
			SPARK_WARN("%s: PCIe link runs at %s, below Gen5 x4, so this rail carries "
				   "less. Fix: update the BIOS (ASUS GX10 before 2026-04 trains "
				   "0002:01:00.0 at x2: fwupdmgr refresh && fwupdmgr update), then "
				   "reboot; check LnkSta with lspci -vv", h->name, link);
			problems++;
		}
		if (h->active_mtu > 0 && h->active_mtu < 4096) {
			SPARK_WARN("%s: RoCE MTU is %d, below 4096 (~6%% less bandwidth). Fix: set "
				   "the MTU of %s to 9000 (at least 4200) on both machines and "
				   "persist it", h->name, h->active_mtu,
				   h->netdev[0] != '\0' ? h->netdev : "its netdev");
			problems++;
		}
	}
	if (d->nrails == 2) {
		const struct spark_hca *a = &hcas[d->rail[0]], *b = &hcas[d->rail[1]];
		if (a->gid.ipv4 != 0 && b->gid.ipv4 != 0 &&
		    spark_ipv4_same_subnet(a->gid.ipv4, a->gid.prefix, b->gid.ipv4, b->gid.prefix)) {
			char net[32];
			spark_ipv4_format(spark_ipv4_subnet(a->gid.ipv4, a->gid.prefix),
					  a->gid.prefix, net, sizeof net);
			SPARK_WARN("%s and %s are both on %s: traffic for one half may be answered "
				   "by the other. Fix: give each half its own /24 (e.g. "
				   "192.168.100.x and 192.168.101.x) on both machines",
				   a->name, b->name, net);
			problems++;
		}
	}
	return problems;
}

void spark_ldev_describe(const struct spark_ldev *d, const struct spark_hca *hcas, char *buf,
			 int len)
{
	int used = snprintf(buf, (size_t)len, "%s: %d rail%s", d->name, d->nrails,
			    d->nrails == 1 ? "" : "s");
	for (int r = 0; r < d->nrails && used < len; r++) {
		const struct spark_hca *h = &hcas[d->rail[r]];
		char link[32], ip[32];
		spark_pcie_format(&h->link, link, sizeof link);
		spark_ipv4_format(h->gid.ipv4, h->gid.prefix, ip, sizeof ip);
		used += snprintf(buf + used, (size_t)(len - used),
				 " [%s:%d pci %04x:%02x:%02x.%x PCIe %s, %s mtu %d, GID %d %s%s]",
				 h->name, h->port, h->pci.domain, h->pci.bus, h->pci.dev, h->pci.fn,
				 link, h->netdev[0] != '\0' ? h->netdev : "-", h->active_mtu,
				 h->gid.index, h->gid.ipv4 != 0 ? ip : "(not IPv4)",
				 h->gid_result == SPARK_GID_OVERRIDDEN ? " (NCCL_SPARK_GID_INDEX)"
								       : "");
	}
	if (used < len)
		snprintf(buf + used, (size_t)(len - used), " speed %d Mbps, port %d, pciPath %s",
			 d->speed_mbps, d->port, d->pci_path != NULL ? d->pci_path : "none");
}
