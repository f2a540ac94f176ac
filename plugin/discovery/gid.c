#include "gid.h"

#include <stdio.h>
#include <string.h>

bool spark_gid_is_zero(const uint8_t raw[16])
{
	for (int i = 0; i < 16; i++)
		if (raw[i] != 0)
			return false;
	return true;
}

bool spark_gid_is_ipv4(const uint8_t raw[16], uint32_t *ipv4)
{
	/* ::ffff:a.b.c.d */
	for (int i = 0; i < 10; i++)
		if (raw[i] != 0)
			return false;
	if (raw[10] != 0xff || raw[11] != 0xff)
		return false;
	if (ipv4 != NULL)
		*ipv4 = (uint32_t)raw[12] << 24 | (uint32_t)raw[13] << 16 |
			(uint32_t)raw[14] << 8 | raw[15];
	return true;
}

uint32_t spark_ipv4_subnet(uint32_t ipv4, int prefix)
{
	if (prefix <= 0)
		return 0;
	if (prefix >= 32)
		return ipv4;
	return ipv4 & ~((UINT32_C(1) << (32 - prefix)) - 1);
}

bool spark_ipv4_in_net(uint32_t ipv4, const struct spark_ipv4_net *net)
{
	return spark_ipv4_subnet(ipv4, net->prefix) == spark_ipv4_subnet(net->addr, net->prefix);
}

bool spark_ipv4_same_subnet(uint32_t a, int prefix_a, uint32_t b, int prefix_b)
{
	int prefix = prefix_a < prefix_b ? prefix_a : prefix_b;
	return spark_ipv4_subnet(a, prefix) == spark_ipv4_subnet(b, prefix);
}

static int net_prefix_for(uint32_t ipv4, const struct spark_ipv4_net *nets, int nnets)
{
	for (int i = 0; i < nnets; i++)
		if (spark_ipv4_in_net(ipv4, &nets[i]))
			return nets[i].prefix;
	return -1;
}

static void fill_choice(const struct spark_gid_entry *e, const struct spark_ipv4_net *nets,
			int nnets, struct spark_gid_choice *out)
{
	out->index = e->index;
	out->ipv4 = 0;
	out->prefix = 0;
	if (spark_gid_is_ipv4(e->raw, &out->ipv4)) {
		int prefix = net_prefix_for(out->ipv4, nets, nnets);
		out->prefix = prefix >= 0 ? prefix : SPARK_GID_DEFAULT_PREFIX;
	}
}

static bool usable_auto(const struct spark_gid_entry *e, const char *netdev,
			const struct spark_ipv4_net *nets, int nnets)
{
	uint32_t ipv4;
	if (e->type != SPARK_GID_ROCE_V2 || !spark_gid_is_ipv4(e->raw, &ipv4) || ipv4 == 0)
		return false;
	if (e->ndev[0] != '\0' && netdev != NULL && netdev[0] != '\0' &&
	    strcmp(e->ndev, netdev) != 0)
		return false; /* belongs to another netdev (a VLAN, a macvlan) */
	return nnets == 0 || net_prefix_for(ipv4, nets, nnets) >= 0;
}

enum spark_gid_result spark_gid_select(const struct spark_gid_entry *table, int n,
				       const char *netdev, const struct spark_ipv4_net *nets,
				       int nnets, int override_index,
				       struct spark_gid_choice *out)
{
	if (override_index >= 0) {
		for (int i = 0; i < n; i++) {
			if (table[i].index == override_index && !spark_gid_is_zero(table[i].raw)) {
				fill_choice(&table[i], nets, nnets, out);
				return SPARK_GID_OVERRIDDEN;
			}
		}
		return SPARK_GID_OVERRIDE_BAD;
	}
	/* Lowest index first, whatever order the caller read the table in. */
	const struct spark_gid_entry *best = NULL;
	for (int i = 0; i < n; i++)
		if (usable_auto(&table[i], netdev, nets, nnets) &&
		    (best == NULL || table[i].index < best->index))
			best = &table[i];
	if (best == NULL)
		return SPARK_GID_NOT_FOUND;
	fill_choice(best, nets, nnets, out);
	return SPARK_GID_FOUND;
}

void spark_ipv4_format(uint32_t ipv4, int prefix, char *buf, int len)
{
	snprintf(buf, (size_t)len, "%u.%u.%u.%u/%d", ipv4 >> 24, (ipv4 >> 16) & 0xff,
		 (ipv4 >> 8) & 0xff, ipv4 & 0xff, prefix);
}
