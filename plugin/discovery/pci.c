#include "pci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexfields.h"

bool spark_pci_parse(const char *text, struct spark_pci_addr *out)
{
	static const char pattern[] = "xxxx:xx:xx.x";
	const size_t used = sizeof pattern - 1;
	unsigned long field[4];
	if (spark_hex_fields(text, pattern, field, 4) != 4)
		return false;
	if (text[used] != '\0' && text[used] != '/')
		return false;
	/* The device number has 5 bits and the function 3 in every address
	 * the kernel prints (ARI functions too): more is not a PCI address. */
	if (field[2] > 0x1f || field[3] > 7)
		return false;
	out->domain = (int)field[0];
	out->bus = (int)field[1];
	out->dev = (int)field[2];
	out->fn = (int)field[3];
	return true;
}

bool spark_pci_from_path(const char *path, struct spark_pci_addr *out)
{
	/* Walk the components; the deepest PCI address is the device itself. */
	bool found = false;
	for (const char *p = path; *p != '\0'; p++) {
		if (p != path && p[-1] != '/')
			continue;
		struct spark_pci_addr a;
		if (spark_pci_parse(p, &a)) {
			*out = a;
			found = true;
		}
	}
	return found;
}

int spark_pci_cmp(const struct spark_pci_addr *a, const struct spark_pci_addr *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->fn != b->fn)
		return a->fn < b->fn ? -1 : 1;
	return 0;
}

int spark_pcie_gen_from_speed(const char *text)
{
	char *end;
	double gts = strtod(text, &end);
	if (end == text || strncmp(end, " GT/s", 5) != 0)
		return 0;
	static const struct { double gts; int gen; } table[] = {
		{2.5, 1}, {5.0, 2}, {8.0, 3}, {16.0, 4}, {32.0, 5}, {64.0, 6},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (gts > table[i].gts - 0.1 && gts < table[i].gts + 0.1)
			return table[i].gen;
	return 0;
}

int spark_pcie_mbps(int gen, int width)
{
	/* Per lane: GT/s times the coding efficiency (Gen1/2 8b/10b, Gen3-5
	 * 128b/130b, Gen6 FLIT 242/256). */
	static const int lane_mbps[] = {0, 2000, 4000, 7877, 15754, 31508, 60500};
	if (gen < 1 || gen > 6 || width <= 0)
		return 0;
	return lane_mbps[gen] * width;
}

bool spark_pcie_degraded(const struct spark_pcie_link *link)
{
	if (link->gen == 0 || link->width == 0)
		return false; /* unknown: nothing to say */
	return link->gen < 5 || link->width < 4;
}

void spark_pcie_format(const struct spark_pcie_link *link, char *buf, int len)
{
	if (link->gen > 0 && link->width > 0)
		snprintf(buf, (size_t)len, "Gen%d x%d", link->gen, link->width);
	else if (link->mbps > 0)
		snprintf(buf, (size_t)len, "%d Mbps", link->mbps);
	else
		snprintf(buf, (size_t)len, "unknown");
}
