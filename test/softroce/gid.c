/* softroce: MACs, GUIDs and GID tables of the emulated HCAs. */
#include "sr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void sr_hca_mac(int octet, int hca_id, uint8_t mac[6])
{
	/* A locally administered-looking but stable MAC per (host, function). */
	mac[0] = 0x4c;
	mac[1] = 0xbb;
	mac[2] = 0x47;
	mac[3] = (uint8_t)(octet >> 8);
	mac[4] = (uint8_t)octet;
	mac[5] = (uint8_t)hca_id;
}

/* EUI-64 from the MAC, as the kernel derives RoCE link-local GIDs. */
static void eui64(const uint8_t mac[6], uint8_t out[8])
{
	out[0] = mac[0] ^ 2;
	out[1] = mac[1];
	out[2] = mac[2];
	out[3] = 0xff;
	out[4] = 0xfe;
	out[5] = mac[3];
	out[6] = mac[4];
	out[7] = mac[5];
}

uint64_t sr_hca_guid(int octet, int hca_id)
{
	uint8_t mac[6], e[8];
	sr_hca_mac(octet, hca_id, mac);
	eui64(mac, e);
	uint64_t g = 0;
	for (int i = 0; i < 8; i++)
		g = g << 8 | e[i];
	return g;
}

static void gid_v4(union ibv_gid *g, const struct sr_hca_cfg *c, int octet)
{
	char addr[64];
	struct in_addr a = { .s_addr = c->v4_addr };
	snprintf(addr, sizeof(addr), "%s.%d", c->subnet, octet);
	memset(g, 0, sizeof(*g));
	if (!c->v4_addr && inet_pton(AF_INET, addr, &a) != 1)
		return;
	g->raw[10] = 0xff;
	g->raw[11] = 0xff;
	memcpy(&g->raw[12], &a, 4);
}

/* Table layout: 0/1 link-local (v1/v2); extra ULA IPv6 entries from 2 up to
 * gid_index-2; the IPv4-mapped GID at gid_index-1 (v1) and gid_index (v2).
 * A port configured down (no cable, no address) has only the IPv6 entries. */
void sr_hca_gids(const struct sr_hca_cfg *c, int octet, int hca_id,
		 struct sr_gid gids[SR_MAX_GIDS])
{
	uint8_t mac[6], e[8];
	memset(gids, 0, sizeof(struct sr_gid) * SR_MAX_GIDS);
	sr_hca_mac(octet, hca_id, mac);
	eui64(mac, e);
	for (int i = 0; i < 2; i++) {
		gids[i].gid.raw[0] = 0xfe;
		gids[i].gid.raw[1] = 0x80;
		memcpy(&gids[i].gid.raw[8], e, 8);
		gids[i].type = i ? IBV_GID_TYPE_ROCE_V2 : IBV_GID_TYPE_ROCE_V1;
		gids[i].valid = true;
	}
	for (int i = 2; i <= c->gid_index - 2; i++) {
		gids[i].gid.raw[0] = 0xfd;
		gids[i].gid.raw[1] = 0x00;
		memcpy(&gids[i].gid.raw[8], e, 8);
		gids[i].type = (i % 2) ? IBV_GID_TYPE_ROCE_V2 : IBV_GID_TYPE_ROCE_V1;
		gids[i].valid = true;
	}
	if (c->ipv4 && c->active) {
		int v2 = c->gid_index;
		gid_v4(&gids[v2 - 1].gid, c, octet);
		gids[v2 - 1].type = IBV_GID_TYPE_ROCE_V1;
		gids[v2 - 1].valid = true;
		gid_v4(&gids[v2].gid, c, octet);
		gids[v2].type = IBV_GID_TYPE_ROCE_V2;
		gids[v2].valid = true;
	}
}
