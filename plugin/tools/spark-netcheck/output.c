/* What spark-netcheck prints: the HCAs, the devices the plugin forms and the
 * findings, as text for people or as one JSON object (--json). */
#include <stdio.h>
#include <string.h>

#include "netcheck.h"

const char *nc_half(const struct nc_host *h, int i)
{
	for (int j = 0; j < h->nhcas; j++)
		if (j != i && spark_hca_twins(&h->hcas[i], &h->hcas[j]))
			return h->hcas[i].pci.domain < h->hcas[j].pci.domain ? "A" : "B";
	return "-";
}

static const char *gid_text(const struct spark_hca *c, char *buf, int len)
{
	bool found = c->gid_result == SPARK_GID_FOUND || c->gid_result == SPARK_GID_OVERRIDDEN;
	if (!found)
		snprintf(buf, (size_t)len, "none");
	else if (c->gid.ipv4 != 0)
		spark_ipv4_format(c->gid.ipv4, c->gid.prefix, buf, len);
	else
		snprintf(buf, (size_t)len, "not IPv4");
	return buf;
}

void nc_print_text(const struct nc_host *h, const struct nc_report *r,
		   const struct nc_peer_out *peer)
{
	printf("spark-netcheck %s\n\nHCA ports\n", nc_version());
	for (int i = 0; i < h->nhcas; i++) {
		const struct spark_hca *c = &h->hcas[i];
		char cur[32], cap[32] = "?", ip[32], net[32] = "-";
		struct spark_pcie_link max;
		spark_pcie_format(&c->link, cur, sizeof cur);
		if (nc_pcie_cap(c, &max))
			spark_pcie_format(&max, cap, sizeof cap);
		if (c->gid.ipv4 != 0)
			spark_ipv4_format(spark_ipv4_subnet(c->gid.ipv4, c->gid.prefix),
					  c->gid.prefix, net, sizeof net);
		printf("  %-14s port %d  pci %04x:%02x:%02x.%x half %s  PCIe %s (capable %s)  %-6s"
		       "  %s mtu %d, RoCE mtu %d  GID %d %s  subnet %s\n", c->name, c->port,
		       c->pci.domain, c->pci.bus, c->pci.dev, c->pci.fn, nc_half(h, i), cur, cap,
		       c->active ? "ACTIVE" : "DOWN", c->netdev[0] != '\0' ? c->netdev : "-",
		       c->netdev_mtu, c->active_mtu, c->gid_result == SPARK_GID_NOT_FOUND ? -1
		       : c->gid.index, gid_text(c, ip, sizeof ip), net);
	}
	if (h->nhcas == 0)
		printf("  (none: no RDMA device is visible to this process)\n");
	printf("\nDevices the plugin forms\n");
	for (int d = 0; d < h->ndevs; d++)
		printf("  dev %d  %s  %d rail%s, %d Mb/s\n", d, h->devs[d].name, h->devs[d].nrails,
		       h->devs[d].nrails == 1 ? "" : "s", h->devs[d].speed_mbps);
	if (h->ndevs == 0)
		printf("  (none)\n");
	if (peer->text[0] != '\0')
		printf("\n%s", peer->text);
	printf("\nFindings\n");
	for (int i = 0; i < r->n; i++) {
		const struct nc_finding *f = &r->f[i];
		printf("  [%s] %s%s%s%s\n    cause: %s\n    fix:   %s\n", nc_severity_name(f->severity),
		       f->id, f->subject[0] != '\0' ? " (" : "", f->subject,
		       f->subject[0] != '\0' ? ")" : "", f->cause, f->fix);
	}
	int status = nc_exit_status(r);
	if (r->n == 0)
		printf("  none\n");
	printf("\nexit %d: %s\n", status, status == 2 ? "NCCL will fail or not use the plugin"
	       : status == 1 ? "NCCL will run, slower than the cable allows" : "clean");
}

void nc_json_string(char *out, int len, const char *s)
{
	int o = 0;
	if (len < 3)
		return;
	out[o++] = '"';
	for (; *s != '\0' && o < len - 8; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += snprintf(out + o, (size_t)(len - o), "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

static void print_hca_json(const struct nc_host *h, int i)
{
	const struct spark_hca *c = &h->hcas[i];
	char name[80], netdev[80], ip[32], cur[32], cap[32] = "unknown";
	struct spark_pcie_link max;
	spark_pcie_format(&c->link, cur, sizeof cur);
	if (nc_pcie_cap(c, &max))
		spark_pcie_format(&max, cap, sizeof cap);
	nc_json_string(name, sizeof name, c->name);
	nc_json_string(netdev, sizeof netdev, c->netdev);
	bool gid = c->gid_result == SPARK_GID_FOUND || c->gid_result == SPARK_GID_OVERRIDDEN;
	spark_ipv4_format(c->gid.ipv4, c->gid.prefix, ip, sizeof ip);
	printf("%s\n    {\"name\": %s, \"port\": %d, \"pci\": \"%04x:%02x:%02x.%x\", \"half\": \"%s\", "
	       "\"pcie\": \"%s\", \"pcie_capable\": \"%s\", \"pcie_mbps\": %d, \"active\": %s, "
	       "\"netdev\": %s, \"netdev_mtu\": %d, \"active_mtu\": %d, \"gid_index\": %d, "
	       "\"ipv4\": %s%s%s}", i > 0 ? "," : "", name, c->port, c->pci.domain, c->pci.bus,
	       c->pci.dev, c->pci.fn, nc_half(h, i), cur, cap, c->link.mbps,
	       c->active ? "true" : "false", netdev, c->netdev_mtu, c->active_mtu,
	       gid ? c->gid.index : -1, gid && c->gid.ipv4 != 0 ? "\"" : "",
	       gid && c->gid.ipv4 != 0 ? ip : "null", gid && c->gid.ipv4 != 0 ? "\"" : "");
}

void nc_print_json(const struct nc_host *h, const struct nc_report *r,
		   const struct nc_peer_out *peer)
{
	char version[96];
	nc_json_string(version, sizeof version, nc_version());
	printf("{\n  \"version\": %s,\n  \"hcas\": [", version);
	for (int i = 0; i < h->nhcas; i++)
		print_hca_json(h, i);
	printf("\n  ],\n  \"devices\": [");
	for (int d = 0; d < h->ndevs; d++) {
		char name[160];
		nc_json_string(name, sizeof name, h->devs[d].name);
		printf("%s\n    {\"index\": %d, \"name\": %s, \"rails\": %d, \"speed_mbps\": %d}",
		       d > 0 ? "," : "", d, name, h->devs[d].nrails, h->devs[d].speed_mbps);
	}
	printf("\n  ],\n  \"findings\": [");
	for (int i = 0; i < r->n; i++) {
		const struct nc_finding *f = &r->f[i];
		char id[80], subject[160], cause[2 * NC_TEXT_LEN], fix[2 * NC_TEXT_LEN];
		nc_json_string(id, sizeof id, f->id);
		nc_json_string(subject, sizeof subject, f->subject);
		nc_json_string(cause, sizeof cause, f->cause);
		nc_json_string(fix, sizeof fix, f->fix);
		printf("%s\n    {\"id\": %s, \"severity\": \"%s\", \"subject\": %s, \"cause\": %s, "
		       "\"fix\": %s}", i > 0 ? "," : "", id, nc_severity_name(f->severity), subject,
		       cause, fix);
	}
	printf("\n  ],\n  \"peer\": %s,\n  \"exit\": %d\n}\n",
	       peer->json[0] != '\0' ? peer->json : "null", nc_exit_status(r));
}
