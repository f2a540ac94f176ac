/* softroce: default DGX Spark topology and the topology file parser. */
#include "sr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *pci, *netdev, *subnet;
	bool active;
	int link_group, cable;
} spark_hcas[] = {
	{ "rocep1s0f0",   "0000:01:00.0", "enp1s0f0np0",   "192.168.100", true,  0, 0 },
	{ "rocep1s0f1",   "0000:01:00.1", "enp1s0f1np1",   "192.168.102", false, 0, 1 },
	{ "roceP2p1s0f0", "0002:01:00.0", "enP2p1s0f0np0", "192.168.101", true,  1, 0 },
	{ "roceP2p1s0f1", "0002:01:00.1", "enP2p1s0f1np1", "192.168.103", false, 1, 1 },
};

static void topo_defaults(struct sr_topo *t)
{
	memset(t, 0, sizeof(*t));
	t->scale = 0.05;
	t->latency_us = 2.0;
	t->timeout_scale = 0.01;
	for (unsigned i = 0; i < sizeof(spark_hcas) / sizeof(spark_hcas[0]); i++) {
		struct sr_hca_cfg *c = &t->hca[t->nhca++];
		c->id = (int)i;
		snprintf(c->name, sizeof(c->name), "%s", spark_hcas[i].name);
		snprintf(c->pci, sizeof(c->pci), "%s", spark_hcas[i].pci);
		snprintf(c->netdev, sizeof(c->netdev), "%s", spark_hcas[i].netdev);
		snprintf(c->subnet, sizeof(c->subnet), "%s", spark_hcas[i].subnet);
		c->active = spark_hcas[i].active;
		c->ipv4 = true;
		c->link_gen = 5;
		c->link_width = 4;
		c->mtu = IBV_MTU_4096;
		c->gid_index = 3;
		c->rate = 1.0;
		c->link_group = spark_hcas[i].link_group;
		c->cable = spark_hcas[i].cable;
		c->spark = true;
	}
}

int sr_hca_index(const struct sr_topo *t, const char *name)
{
	for (int i = 0; i < t->nhca; i++)
			if (strcmp(t->hca[i].name, name) == 0)
			return i;
	return -1;
}

static int parse_mtu(const char *v, enum ibv_mtu *out)
{
	static const struct { int bytes; enum ibv_mtu mtu; } tab[] = {
		{ 256, IBV_MTU_256 }, { 512, IBV_MTU_512 }, { 1024, IBV_MTU_1024 },
		{ 2048, IBV_MTU_2048 }, { 4096, IBV_MTU_4096 },
	};
	long bytes;
	if (sr_parse_long(v, 256, 4096, &bytes))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].bytes == bytes) {
			*out = tab[i].mtu;
			return 0;
		}
	return -EINVAL;
}

/* link=gen<G>x<W>: G in 1…6, W a PCIe width. */
static int parse_link(const char *v, int *gen, int *width)
{
	char num[16];
	const char *x = strchr(v, 'x');
	long g, w;
	if (strncmp(v, "gen", 3) != 0 || !x || x - v - 3 >= (long)sizeof(num))
		return -EINVAL;
	snprintf(num, sizeof(num), "%.*s", (int)(x - v - 3), v + 3);
	if (sr_parse_long(num, 1, 6, &g) || sr_parse_long(x + 1, 1, 16, &w) ||
	    (w != 1 && w != 2 && w != 4 && w != 8 && w != 16))
		return -EINVAL;
	*gen = (int)g;
	*width = (int)w;
	return 0;
}

/* An integer value of a key, in [lo, hi]. */
static int parse_int(const char *v, int lo, int hi, int *out)
{
	long n;
	if (sr_parse_long(v, lo, hi, &n))
		return -EINVAL;
	*out = (int)n;
	return 0;
}

/* Applies one key=value to an HCA; returns -EINVAL on an unknown key/value. */
static int hca_set_kv(struct sr_hca_cfg *c, const char *kv)
{
	char key[64], val[192];
	const char *eq = strchr(kv, '=');
	if (!eq || eq - kv >= (long)sizeof(key))
		return -EINVAL;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	snprintf(val, sizeof(val), "%s", eq + 1);

	if (strcmp(key, "state") == 0) {
		if (strcmp(val, "active") != 0 && strcmp(val, "down") != 0)
			return -EINVAL;
		c->active = strcmp(val, "active") == 0;
	} else if (strcmp(key, "link") == 0) {
		return parse_link(val, &c->link_gen, &c->link_width);
	} else if (strcmp(key, "mtu") == 0) {
		return parse_mtu(val, &c->mtu);
	} else if (strcmp(key, "netdev_mtu") == 0) {
		return parse_int(val, 68, 9216, &c->netdev_mtu);
	} else if (strcmp(key, "gid_index") == 0) {
		return parse_int(val, 3, 5, &c->gid_index);
	} else if (strcmp(key, "ipv4") == 0) {
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0)
			return -EINVAL;
		c->ipv4 = strcmp(val, "yes") == 0;
	} else if (strcmp(key, "subnet") == 0) {
		if (SR_STR(c->subnet, "%s", val))
			return -EINVAL;
	} else if (strcmp(key, "rate") == 0) {
		double rate;
		if (sr_parse_double(val, &rate) || rate <= 0 || rate > 1)
			return -EINVAL;
		c->rate = rate;
	} else if (strcmp(key, "pci") == 0) {
		if (SR_STR(c->pci, "%s", val))
			return -EINVAL;
	} else if (strcmp(key, "netdev") == 0) {
		if (SR_STR(c->netdev, "%s", val))
			return -EINVAL;
	} else if (strcmp(key, "port") == 0 || strcmp(key, "cable") == 0) {
		return parse_int(val, 0, SR_MAX_LINKS - 1, &c->cable);
	} else if (strcmp(key, "link_group") == 0) {
		return parse_int(val, 0, SR_MAX_LINKS - 1, &c->link_group);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int split(char *line, char **tok, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *s = strtok_r(line, " \t\r\n", &save); s && n < max;
	     s = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = s;
	return n;
}

static int topo_hcas(struct sr_topo *t, char *list)
{
	struct sr_hca_cfg keep[SR_MAX_HCAS];
	int n = 0;
	memset(keep, 0, sizeof(keep));
	if (strcmp(list, "none") != 0) {
		char *save = NULL;
		for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
			int i = sr_hca_index(t, s);
			if (i < 0 || n >= SR_MAX_HCAS)
				return -EINVAL;
			keep[n++] = t->hca[i];
		}
	}
	memcpy(t->hca, keep, sizeof(keep[0]) * (size_t)n);
	t->nhca = n;
	return 0;
}

static int topo_add_hca(struct sr_topo *t, char **tok, int n)
{
	if (n < 2 || t->nhca >= SR_MAX_HCAS || sr_hca_index(t, tok[1]) >= 0)
		return -EINVAL;
	struct sr_hca_cfg *c = &t->hca[t->nhca];
	memset(c, 0, sizeof(*c));
	c->id = 4 + t->nhca;
	snprintf(c->name, sizeof(c->name), "%s", tok[1]);
	snprintf(c->pci, sizeof(c->pci), "0003:%02x:00.0", t->nhca);
	snprintf(c->netdev, sizeof(c->netdev), "eth%d", t->nhca);
	snprintf(c->subnet, sizeof(c->subnet), "10.%d.0", 10 + t->nhca);
	c->active = true;
	c->ipv4 = true;
	c->link_gen = 4;
	c->link_width = 16;
	c->mtu = IBV_MTU_4096;
	c->gid_index = 3;
	c->rate = 1.0;
	c->link_group = 4 + t->nhca;
	c->cable = 4 + t->nhca;
	for (int i = 2; i < n; i++)
		if (hca_set_kv(c, tok[i]))
			return -EINVAL;
	t->nhca++;
	return 0;
}

/* set [<host>] <hca> key=value …: checked against the HCA now, applied per
 * host by sr_topo_host_hcas. */
static int topo_set(struct sr_topo *t, char **tok, int n)
{
	struct sr_set_line *s = &t->set[t->nset++];
	int k = 1;
	if (sr_hca_index(t, tok[1]) < 0) {
		snprintf(s->host, sizeof(s->host), "%s", tok[1]);
		k = 2;
	}
	int h = sr_hca_index(t, tok[k]);
	if (h < 0)
		return -EINVAL;
	snprintf(s->hca, sizeof(s->hca), "%s", tok[k]);
	s->kv[0] = 0;
	for (int i = k + 1; i < n; i++) {
		struct sr_hca_cfg probe = t->hca[h];
		if (hca_set_kv(&probe, tok[i]))
			return -EINVAL;
		size_t l = strlen(s->kv);
		snprintf(s->kv + l, sizeof(s->kv) - l, "%s ", tok[i]);
	}
	return 0;
}

/* host <h> octet <n> */
static int topo_octet(struct sr_topo *t, char **tok)
{
	long octet;
	if (sr_parse_long(tok[3], 0, 255, &octet))
		return -EINVAL;
	snprintf(t->octet[t->noctet].host, SR_NAME_MAX, "%s", tok[1]);
	t->octet[t->noctet++].octet = (int)octet;
	return 0;
}

static int topo_line(struct sr_topo *t, char *line, const char *raw)
{
	char *tok[40];
	int n = split(line, tok, 40);
	int rc = 0;
	if (n == 0)
		return 0;
	if (strcmp(tok[0], "scale") == 0 && n == 2)
		rc = sr_parse_double(tok[1], &t->scale);
	else if (strcmp(tok[0], "latency_us") == 0 && n == 2)
		rc = sr_parse_double(tok[1], &t->latency_us);
	else if (strcmp(tok[0], "timeout_scale") == 0 && n == 2)
		rc = sr_parse_double(tok[1], &t->timeout_scale);
	else if (strcmp(tok[0], "host") == 0 && n == 4 && strcmp(tok[2], "octet") == 0 &&
		 t->noctet < SR_MAX_HOSTS)
		rc = topo_octet(t, tok);
	else if (strcmp(tok[0], "hcas") == 0 && n == 2)
		return topo_hcas(t, tok[1]);
	else if (strcmp(tok[0], "hca") == 0)
		return topo_add_hca(t, tok, n);
	else if (strcmp(tok[0], "set") == 0 && n >= 3 && t->nset < 64)
		rc = topo_set(t, tok, n);
	else if (strcmp(tok[0], "fault") == 0 && t->nfault < 32) {
		const char *rest = strstr(raw, "fault") + 5;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		snprintf(t->fault[t->nfault++], 128, "%s", rest);
	} else
		return -EINVAL;
	if (rc || t->scale <= 0 || t->timeout_scale <= 0 || t->latency_us < 0)
		return -EINVAL;
	return 0;
}

int sr_topo_load(struct sr_topo *t, const char *path)
{
	topo_defaults(t);
	if (!path || !*path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char line[512], raw[512];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		snprintf(raw, sizeof(raw), "%s", line);
		raw[strcspn(raw, "\r\n")] = 0;
		if (topo_line(t, line, raw)) {
			fprintf(stderr, "softroce: %s:%d: bad topology line\n", path, lineno);
			rc = -EINVAL;
			break;
		}
	}
	fclose(f);
	return rc;
}

int sr_topo_host_octet(const struct sr_topo *t, const char *host)
{
	for (int i = 0; i < t->noctet; i++)
		if (strcmp(t->octet[i].host, host) == 0)
			return t->octet[i].octet;
	if (strlen(host) == 1 && islower((unsigned char)host[0]))
		return host[0] - 'a' + 1;
	uint32_t h = 2166136261u;              /* FNV-1a: stable across processes */
	for (const char *p = host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return 30 + (int)(h % 200);
}

int sr_topo_host_hcas(const struct sr_topo *t, const char *host, struct sr_hca_cfg *out)
{
	memcpy(out, t->hca, sizeof(t->hca[0]) * (size_t)t->nhca);
	for (int i = 0; i < t->nset; i++) {
		const struct sr_set_line *s = &t->set[i];
		if (s->host[0] && strcmp(s->host, host) != 0)
			continue;
		int h = sr_hca_index(t, s->hca);
		char kv[256], *save = NULL;
		snprintf(kv, sizeof(kv), "%s", s->kv);
		for (char *p = strtok_r(kv, " ", &save); p; p = strtok_r(NULL, " ", &save))
			hca_set_kv(&out[h], p);
	}
	return t->nhca;
}
