/* PCI addresses and PCIe links, parsed from sysfs text. Pure. */
#ifndef SPARK_PCI_H
#define SPARK_PCI_H

#include <stdbool.h>

struct spark_pci_addr {
	int domain, bus, dev, fn;
};

struct spark_pcie_link {
	int gen;      /* 1..6, 0 = unknown */
	int width;    /* lanes, 0 = unknown */
	int mbps;     /* usable rate per direction after line encoding, 0 = unknown */
};

/* "0002:01:00.1" (also the last component of a sysfs path) → address. */
bool spark_pci_parse(const char *text, struct spark_pci_addr *out);
/* Address of the last "dddd:bb:dd.f" component of a path. */
bool spark_pci_from_path(const char *path, struct spark_pci_addr *out);
int spark_pci_cmp(const struct spark_pci_addr *a, const struct spark_pci_addr *b);
/* sysfs current_link_speed ("32.0 GT/s PCIe", "16 GT/s", "8.0 GT/s") → gen. */
int spark_pcie_gen_from_speed(const char *text);
/* Per-direction rate of a link in Mbps after 8b/10b or 128b/130b coding. */
int spark_pcie_mbps(int gen, int width);
/* A link is degraded below PCIe Gen5 x4, the link a Spark half trains at. */
bool spark_pcie_degraded(const struct spark_pcie_link *link);
/* "Gen5 x4" or "unknown". */
void spark_pcie_format(const struct spark_pcie_link *link, char *buf, int len);

#endif
