/* --serve and --peer: the two Sparks describe themselves to each other over
 * one TCP connection (text lines, validated field by field), the --peer side
 * compares, then probes each rail through the plugin (probe.c).
 *
 *   peer → serve   "SPARK-NETCHECK 1"
 *   serve → peer   "version V", "plugin HASH", "pinned 0|1",
 *                  "hca NAME PORT ACTIVE USABLE GIDIDX IPV4|- PREFIX MTU NETDEV_MTU MBPS",
 *                  "dev NAME", "end"
 *   peer → serve   "probe RAIL COUNT"  →  "handle HEX" | "error TEXT", then "done"
 *   peer → serve   "bye" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hca_spec.h"
#include "peer.h"

uint64_t nc_local_plugin_hash(const struct nc_paths *paths)
{
	char path[512];
	return nc_plugin_find(paths, path, sizeof path) ? nc_file_hash(path) : 0;
}

static bool describe(int fd, const struct nc_host *h, const struct nc_paths *paths)
{
	bool ok = nc_line_send(fd, "version %s", nc_version()) &&
		  nc_line_send(fd, "plugin %016llx", (unsigned long long)nc_local_plugin_hash(paths)) &&
		  nc_line_send(fd, "pinned %d", h->gid_pinned ? 1 : 0);
	for (int i = 0; ok && i < h->nhcas; i++) {
		const struct spark_hca *c = &h->hcas[i];
		char ip[32] = "-";
		if (c->gid.ipv4 != 0 && spark_hca_usable(c))
			snprintf(ip, sizeof ip, "%u.%u.%u.%u", c->gid.ipv4 >> 24,
				 (c->gid.ipv4 >> 16) & 0xff, (c->gid.ipv4 >> 8) & 0xff,
				 c->gid.ipv4 & 0xff);
		ok = nc_line_send(fd, "hca %s %d %d %d %d %s %d %d %d %d", c->name, c->port,
				  c->active, spark_hca_usable(c), spark_hca_usable(c) ? c->gid.index
				  : -1, ip, c->gid.prefix, c->active_mtu, c->netdev_mtu,
				  spark_hca_rail_mbps(c));
	}
	for (int d = 0; ok && d < h->ndevs; d++)
		ok = nc_line_send(fd, "dev %s", h->devs[d].name);
	return ok && nc_line_send(fd, "end");
}

bool nc_in_range(int v, int lo, int hi)
{
	return v >= lo && v <= hi;
}

static bool parse_hca(const char *line, struct remote_hca *r)
{
	char ip[32];
	memset(r, 0, sizeof *r);
	if (sscanf(line, "hca %31s %d %d %d %d %31s %d %d %d %d", r->name, &r->port, &r->active,
		   &r->usable, &r->gid_index, ip, &r->prefix, &r->mtu, &r->netdev_mtu,
		   &r->mbps) != 10)
		return false;
	struct in_addr a;
	if (strcmp(ip, "-") != 0) {
		if (inet_pton(AF_INET, ip, &a) != 1)
			return false;
		r->ipv4 = ntohl(a.s_addr);
	}
	return spark_hca_name_valid(r->name, (int)strlen(r->name)) && nc_in_range(r->port, 1, 255) &&
	       nc_in_range(r->active, 0, 1) && nc_in_range(r->usable, 0, 1) &&
	       nc_in_range(r->gid_index, -1, 65535) && nc_in_range(r->prefix, 0, 32) &&
	       nc_in_range(r->mtu, 0, 4096) && nc_in_range(r->netdev_mtu, 0, 65536) &&
	       nc_in_range(r->mbps, 0, 10000000);
}

bool nc_read_remote(struct nc_conn *c, struct remote *r, char *err, int len)
{
	char line[NC_LINE_MAX];
	memset(r, 0, sizeof *r);
	while (nc_line_recv(c, line, sizeof line)) {
		unsigned long long hash;
		bool ok = true;
		if (strcmp(line, "end") == 0)
			return true;
		if (strncmp(line, "version ", 8) == 0)
			ok = sscanf(line, "version %63s", r->version) == 1;
		else if (strncmp(line, "plugin ", 7) == 0)
			ok = sscanf(line, "plugin %16llx", &hash) == 1 && (r->plugin_hash = hash, true);
		else if (strncmp(line, "pinned ", 7) == 0)
			ok = sscanf(line, "pinned %d", &r->pinned) == 1 && nc_in_range(r->pinned, 0, 1);
		else if (strncmp(line, "hca ", 4) == 0)
			ok = r->nhcas < SPARK_MAX_HCAS && parse_hca(line, &r->hca[r->nhcas++]);
		else if (strncmp(line, "dev ", 4) == 0)
			ok = r->ndevs < SPARK_MAX_DEVS &&
			     sscanf(line, "dev %63s", r->dev[r->ndevs++]) == 1;
		else
			ok = false;
		if (!ok) {
			snprintf(err, (size_t)len, "malformed line from the peer: '%.80s'", line);
			return false;
		}
	}
	snprintf(err, (size_t)len, "the peer closed or timed out before its description ended");
	return false;
}

/* One --peer session: describe ourselves, then answer probes. */
static void serve_one(int fd, const struct nc_host *h, const struct nc_paths *paths)
{
	struct nc_conn c = {.fd = fd, .used = 0};
	char line[NC_LINE_MAX], rail[SPARK_NAME_LEN], err[256];
	struct nc_probe probe;
	bool probe_open = false;
	if (!nc_line_recv(&c, line, sizeof line) || strcmp(line, PROTO) != 0 ||
	    !describe(fd, h, paths))
		return;
	while (nc_line_recv(&c, line, sizeof line)) {
		int count = 0;
		if (strcmp(line, "bye") == 0)
			break;
		if (sscanf(line, "probe %63s %d", rail, &count) != 2 || !nc_in_range(count, 1, 4096) ||
		    !spark_hca_name_valid(rail, (int)strlen(rail))) {
			nc_line_send(fd, "error malformed request");
			break;
		}
		if (!probe_open && !(probe_open = nc_probe_open(&probe, h, paths, err, sizeof err))) {
			nc_line_send(fd, "error %s", err);
			continue;
		}
		int dev = nc_probe_dev(&probe, rail);
		if (dev < 0) {
			nc_line_send(fd, "error no plugin device for %s on the server", rail);
			continue;
		}
		bool ok = nc_probe_recv(&probe, dev, fd, count, err, sizeof err);
		nc_line_send(fd, ok ? "done" : "failed %s", err);
	}
	if (probe_open)
		nc_probe_close(&probe);
}

int nc_serve(const struct nc_host *h, const struct nc_paths *paths, int port, bool once)
{
	char err[256];
	int lfd = nc_tcp_listen(port, err, sizeof err);
	if (lfd < 0) {
		fprintf(stderr, "spark-netcheck --serve: %s\n", err);
		return 2;
	}
	fprintf(stderr, "spark-netcheck --serve: listening on port %d\n", port);
	do {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		nc_line_timeouts(fd, NC_LINE_TIMEOUT_S);
		serve_one(fd, h, paths);
		close(fd);
	} while (!once);
	close(lfd);
	return 0;
}
