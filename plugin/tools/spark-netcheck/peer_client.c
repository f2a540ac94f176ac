/* --peer: what differs between the two Sparks, then one probe per rail
 * through the plugin, flagging a rail far below what its PCIe link carries. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

#define SLOW_FRACTION 0.5      /* a rail below half its capacity is "far below" */
#define PROBE_SECONDS 0.3      /* aimed duration of one rail's probe at full rate */

static const struct remote_hca *remote_by_name(const struct remote *r, const char *name)
{
	for (int i = 0; i < r->nhcas; i++)
		if (strcmp(r->hca[i].name, name) == 0)
			return &r->hca[i];
	return NULL;
}

static void compare_rail(const struct nc_host *h, const struct spark_hca *c,
			 const struct remote *r, const char *peer, struct nc_report *rep)
{
	const struct remote_hca *o = remote_by_name(r, c->name);
	char fix[NC_TEXT_LEN];
	if (o == NULL || !o->usable) {
		snprintf(fix, sizeof fix, "run spark-netcheck on %s and fix what it reports for %s",
			 peer, c->name);
		nc_add(rep, "peer-rail-missing", NC_BANDWIDTH, c->name, fix, "%s is usable here "
		       "but %s on %s: the devices differ in rails and the pair runs at the "
		       "smaller side's bandwidth", c->name, o == NULL ? "absent" : "not usable",
		       peer);
		return;
	}
	if (o->gid_index != c->gid.index) {
		bool pinned = h->gid_pinned || r->pinned;
		nc_add(rep, "gid-index-differs", pinned ? NC_FATAL : NC_NOTE, c->name,
		       pinned ? "unset NCCL_IB_GID_INDEX and NCCL_SPARK_GID_INDEX on both Sparks: "
				"the plugin finds the RoCE v2 IPv4 GID on each host itself"
			      : "nothing to do for the plugin (it scans the table on each host); "
				"do not pin NCCL_IB_GID_INDEX for runs without it",
		       "%s's RoCE v2 IPv4 GID is index %d here and %d on %s%s", c->name,
		       c->gid.index, o->gid_index, peer, pinned ? ", and a GID index is pinned: "
		       "one side uses the wrong GID (ibv_modify_qp error 110, a hang at connect)"
		       : "");
	}
	if (c->gid.ipv4 != 0 && o->ipv4 != 0) {
		char here[32], there[32];
		spark_ipv4_format(c->gid.ipv4, c->gid.prefix, here, sizeof here);
		spark_ipv4_format(o->ipv4, o->prefix, there, sizeof there);
		snprintf(fix, sizeof fix, "address %s on both Sparks in one /24 with different host "
			 "numbers (e.g. 192.168.100.10 and .11), one /24 per half", c->netdev[0]
			 ? c->netdev : c->name);
		if (c->gid.ipv4 == o->ipv4)
			nc_add(rep, "same-address", NC_FATAL, c->name, fix, "%s has the address %s "
			       "here and on %s", c->name, here, peer);
		else if (!spark_ipv4_same_subnet(c->gid.ipv4, c->gid.prefix, o->ipv4, o->prefix))
			nc_add(rep, "subnet-mismatch", NC_FATAL, c->name, fix, "%s is %s here but %s "
			       "on %s: the rails are not on one subnet, so the RoCE connection "
			       "cannot resolve the peer (ibv_modify_qp error 110, a hang)", c->name,
			       here, there, peer);
	}
	if (o->mtu != c->active_mtu) {
		snprintf(fix, sizeof fix, "set the same MTU on both Sparks: sudo ip link set %s mtu "
			 "9000 on each", c->netdev[0] ? c->netdev : "<netdev>");
		nc_add(rep, "mtu-differs", NC_BANDWIDTH, c->name, fix, "%s's RoCE MTU is %d here and "
		       "%d on %s: the connection uses the smaller", c->name, c->active_mtu, o->mtu,
		       peer);
	}
}

static void compare(const struct nc_host *h, const struct nc_paths *paths,
		    const struct remote *r, const char *peer, struct nc_report *rep)
{
	for (int i = 0; i < h->nhcas; i++)
		if (spark_hca_usable(&h->hcas[i]))
			compare_rail(h, &h->hcas[i], r, peer, rep);
	bool same = r->ndevs == h->ndevs;
	for (int d = 0; same && d < h->ndevs; d++)
		same = strcmp(r->dev[d], h->devs[d].name) == 0;
	if (!same) {
		char here[256] = "", there[256] = "";
		for (int d = 0, u = 0; d < h->ndevs; d++)
			u += snprintf(here + u, sizeof here - (size_t)u, "%s%s", d ? " " : "",
				      h->devs[d].name);
		for (int d = 0, u = 0; d < r->ndevs; d++)
			u += snprintf(there + u, sizeof there - (size_t)u, "%s%s", d ? " " : "",
				      r->dev[d]);
		nc_add(rep, "devices-differ", NC_FATAL, "devices", "make both Sparks form the same "
		       "devices: same cabled port, same halves addressed; or list them with "
		       "NCCL_SPARK_HCA / NCCL_SPARK_PAIRS on both",
		       "the plugin forms [%s] here and [%s] on %s: NCCL pairs devices by position, "
		       "so some connections join HCAs with no path between them", here, there,
		       peer);
	}
	if (strcmp(r->version, nc_version()) != 0 || r->plugin_hash != nc_local_plugin_hash(paths))
		nc_add(rep, "version-differs", NC_BANDWIDTH, "libnccl-net-spark.so", "install the same "
		       "libnccl-net-spark build on both Sparks (dpkg -i the same .deb)",
		       "spark-netcheck %s here, %s on %s; plugin builds %s: both ends must speak "
		       "the same wire format", nc_version(), r->version, peer,
		       r->plugin_hash == nc_local_plugin_hash(paths) ? "equal" : "differ");
}

/* Expected rail rate in Mb/s: the smaller end, times the emulation scale. */
static double expected_mbps(const struct spark_hca *c, const struct remote *r,
			    const struct nc_paths *paths)
{
	const struct remote_hca *o = remote_by_name(r, c->name);
	int mbps = spark_hca_rail_mbps(c);
	if (o != NULL && o->mbps > 0 && o->mbps < mbps)
		mbps = o->mbps;
	return mbps * paths->rate_scale;
}

static void judge_rate(const struct spark_hca *c, double got, double want,
		       const struct nc_paths *paths, struct nc_report *rep)
{
	if (got >= SLOW_FRACTION * want)
		return;
	double real = got / paths->rate_scale / 1000.0; /* Gb/s on real hardware */
	/* A full-width link carrying 25 Gb/s or less: the stale-init state
	 * (reported at 8-25 Gb/s; lower is the same failure, worse). */
	bool stale = !spark_pcie_degraded(&c->link) && real <= 25.0;
	nc_add(rep, stale ? "stale-init" : "rail-slow", NC_BANDWIDTH, c->name,
	       stale ? "reboot both Sparks with the final cabling in place; if the rate stays "
		       "at 8-25 Gb/s, power both off and unplug AC for 60 s (do not move the QSFP "
		       "cables)"
		     : "run spark-netcheck on both Sparks for this rail's link and MTU; check "
		       "sudo ethtool -S <netdev> for errors and pause frames; reseat the cable",
	       "%s carried %.1f Gb/s, below half of the %.1f Gb/s its PCIe link allows%s", c->name,
	       real, want / paths->rate_scale / 1000.0,
	       stale ? " while the link reads full width: the 8-25 Gb/s signature of a stale "
		       "ConnectX-7 initialisation" : "");
}

/* Probes each usable rail; appends {"rail", "gbps", "expected_gbps"} objects
 * to out->json (len bytes usable) and a line per rail to out->text. */
static void probe_rails(const struct nc_host *h, const struct nc_paths *paths,
			const struct remote *r, struct nc_conn *conn, struct nc_report *rep,
			struct nc_peer_out *out, int len)
{
	char *js = out->json;
	size_t tused = strlen(out->text);
	struct nc_probe probe;
	char err[256], line[NC_LINE_MAX];
	int used = (int)strlen(js);
	if (!nc_probe_open(&probe, h, paths, err, sizeof err)) {
		nc_add(rep, "probe-failed", NC_FATAL, "plugin", "build or install the plugin "
		       "(make; or --plugin PATH)", "the probe could not load the plugin: %s", err);
		return;
	}
	for (int i = 0; i < h->nhcas; i++) {
		const struct spark_hca *c = &h->hcas[i];
		const struct remote_hca *o = remote_by_name(r, c->name);
		int dev = nc_probe_dev(&probe, c->name);
		if (!spark_hca_usable(c) || o == NULL || !o->usable || dev < 0)
			continue;
		double want = expected_mbps(c, r, paths), secs = 0;
		double count_d = want * 1e6 / 8 * PROBE_SECONDS / NC_PROBE_MSG;
		int count = count_d < 8 ? 8 : count_d > 512 ? 512 : (int)count_d;
		bool ok = nc_line_send(conn->fd, "probe %s %d", c->name, count) &&
			  nc_line_recv(conn, line, sizeof line);
		if (!ok) {
			nc_add(rep, "probe-failed", NC_FATAL, c->name, "check that --serve still runs",
			       "the peer stopped answering during the probe of %s", c->name);
			break; /* the control stream is gone */
		}
		if (strncmp(line, "handle ", 7) != 0) {
			nc_add(rep, "probe-failed", NC_FATAL, c->name, "fix the other findings first "
			       "(on both Sparks); then NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=NET shows the "
			       "plugin's reason", "the peer could not receive on %s: %.200s", c->name,
			       line);
			continue;
		}
		ok = nc_probe_send(&probe, dev, line + 7, count, &secs, err, sizeof err);
		bool peer_ok = nc_line_recv(conn, line, sizeof line) && strcmp(line, "done") == 0;
		if (!ok || !peer_ok || secs <= 0) {
			nc_add(rep, "probe-failed", NC_FATAL, c->name, "fix the other findings first "
			       "(on both Sparks); then NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=NET shows the "
			       "plugin's reason", "the probe of %s through the plugin failed: %s",
			       c->name, ok ? line : err);
			continue;
		}
		double got = (double)count * NC_PROBE_MSG * 8 / secs / 1e6;
		judge_rate(c, got, want, paths, rep);
		if (tused < sizeof out->text)
			tused += (size_t)snprintf(out->text + tused, sizeof out->text - tused,
						  "  %-14s %7.2f Gb/s through the plugin (its link: "
						  "%.2f)\n", c->name, got / 1000.0, want / 1000.0);
		used += snprintf(js + used, (size_t)(len - used), "%s{\"rail\": \"%s\", \"gbps\": %.2f, "
				 "\"expected_gbps\": %.2f}", js[used - 1] == '[' ? "" : ", ",
				 c->name, got / 1000.0, want / 1000.0);
		if (used >= len)
			break;
	}
	nc_probe_close(&probe);
}

void nc_peer(const struct nc_host *h, const struct nc_paths *paths, const char *peer, int port,
	     bool probe, struct nc_report *r, struct nc_peer_out *out)
{
	char *peer_json = out->json;
	int len = (int)sizeof out->json;
	char err[256], name[128];
	struct remote rem;
	struct nc_conn conn = {.fd = nc_tcp_connect(peer, port, err, sizeof err), .used = 0};
	nc_json_string(name, sizeof name, peer);
	if (conn.fd < 0 || !nc_line_send(conn.fd, PROTO) ||
	    !nc_read_remote(&conn, &rem, err, sizeof err)) {
		nc_add(r, "peer-unreachable", NC_FATAL, peer, "start spark-netcheck --serve on the "
		       "other Spark (same --port), and check that this host can reach it",
		       "no answer from spark-netcheck --serve on %s:%d: %s", peer, port,
		       conn.fd < 0 ? err : err[0] ? err : "it closed the connection");
		if (conn.fd >= 0)
			close(conn.fd);
		snprintf(peer_json, (size_t)len, "{\"host\": %s, \"reachable\": false}", name);
		return;
	}
	compare(h, paths, &rem, peer, r);
	char version[160];
	nc_json_string(version, sizeof version, rem.version);
	int used = snprintf(peer_json, (size_t)len, "{\"host\": %s, \"reachable\": true, "
			    "\"version\": %s, \"devices\": %d, \"probe\": [", name, version,
			    rem.ndevs);
	snprintf(out->text, sizeof out->text, "Peer %s: spark-netcheck %s, %d device%s%s\n", peer,
		 rem.version, rem.ndevs, rem.ndevs == 1 ? "" : "s",
		 paths->rate_scale != 1.0 ? " (rates at SPARK_NETCHECK_RATE_SCALE)" : "");
	if (probe && used < len)
		probe_rails(h, paths, &rem, &conn, r, out, len - 3);
	used = (int)strlen(peer_json);
	snprintf(peer_json + used, (size_t)(len - used), "]}");
	nc_line_send(conn.fd, "bye");
	close(conn.fd);
}
