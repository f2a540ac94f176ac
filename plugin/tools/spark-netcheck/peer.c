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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* "hca NAME PORT ACTIVE USABLE GIDIDX IPV4|- PREFIX MTU NETDEV_MTU MBPS" */
static bool parse_hca(char **tok, int n, struct remote_hca *r)
{
	memset(r, 0, sizeof *r);
	if (n != 11 || strlen(tok[1]) >= sizeof r->name ||
	    !spark_hca_name_valid(tok[1], (int)strlen(tok[1])))
		return false;
	snprintf(r->name, sizeof r->name, "%s", tok[1]);
	struct in_addr a;
	if (strcmp(tok[6], "-") != 0) {
		if (inet_pton(AF_INET, tok[6], &a) != 1)
			return false;
		r->ipv4 = ntohl(a.s_addr);
	}
	return nc_token_int(tok[2], 1, 255, &r->port) && nc_token_int(tok[3], 0, 1, &r->active) &&
	       nc_token_int(tok[4], 0, 1, &r->usable) &&
	       nc_token_int(tok[5], -1, 65535, &r->gid_index) &&
	       nc_token_int(tok[7], 0, 32, &r->prefix) && nc_token_int(tok[8], 0, 4096, &r->mtu) &&
	       nc_token_int(tok[9], 0, 65536, &r->netdev_mtu) &&
	       nc_token_int(tok[10], 0, 10000000, &r->mbps);
}

static bool parse_hash(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 16);
	if (errno != 0 || end == text || *end != '\0' || strlen(text) != 16)
		return false;
	*out = v;
	return true;
}

static bool copy_token(const char *t, char *dst, size_t len)
{
	if (strlen(t) >= len)
		return false;
	snprintf(dst, len, "%s", t);
	return true;
}

/* One line of the description into r; false when malformed. */
static bool parse_line(char *line, struct remote *r)
{
	char *tok[12];
	int n = nc_tokens(line, tok, 12);
	if (n == 2 && strcmp(tok[0], "version") == 0)
		return copy_token(tok[1], r->version, sizeof r->version);
	if (n == 2 && strcmp(tok[0], "plugin") == 0)
		return parse_hash(tok[1], &r->plugin_hash);
	if (n == 2 && strcmp(tok[0], "pinned") == 0)
		return nc_token_int(tok[1], 0, 1, &r->pinned);
	if (n >= 1 && strcmp(tok[0], "hca") == 0)
		return r->nhcas < SPARK_MAX_HCAS && parse_hca(tok, n, &r->hca[r->nhcas++]);
	if (n == 2 && strcmp(tok[0], "dev") == 0)
		return r->ndevs < SPARK_MAX_DEVS && copy_token(tok[1], r->dev[r->ndevs++],
							       sizeof r->dev[0]);
	return false;
}

bool nc_read_remote(struct nc_conn *c, struct remote *r, char *err, int len)
{
	char line[NC_LINE_MAX], shown[NC_LINE_MAX];
	memset(r, 0, sizeof *r);
	while (nc_line_recv(c, line, sizeof line)) {
		if (strcmp(line, "end") == 0)
			return true;
		snprintf(shown, sizeof shown, "%s", line);
		if (!parse_line(line, r)) {
			snprintf(err, (size_t)len, "malformed line from the peer: '%.80s'", shown);
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
		char *tok[4];
		if (strcmp(line, "bye") == 0)
			break;
		if (nc_tokens(line, tok, 4) != 3 || strcmp(tok[0], "probe") != 0 ||
		    !nc_token_int(tok[2], 1, 4096, &count) ||
		    !copy_token(tok[1], rail, sizeof rail) ||
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
	for (bool more = true; more;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			struct timespec pause = {0, 100000000}; /* EMFILE and the like: no busy loop */
			nanosleep(&pause, NULL);
			continue;
		}
		nc_line_timeouts(fd, NC_LINE_TIMEOUT_S);
		serve_one(fd, h, paths);
		close(fd);
		more = !once;
	}
	close(lfd);
	return 0;
}
