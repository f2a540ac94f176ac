/* softroce: the emulated sysfs tree under $SOFTROCE_FABRIC/sys/<host>/ that
 * ibv_device.ibdev_path points into.  Files are replaced atomically (write to
 * a temporary name, rename) because several processes of one host refresh
 * them. */
#include "sr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SR_SYSFS_GIDS 16   /* gids/N files written per port */
#define SR_SYSFS_PERIOD_NS 4500000ull   /* with the 5 ms tick: ≤ 10 ms stale */

static int mkdirs(const char *path)
{
	char tmp[700];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0777);
			*p = '/';
		}
	if (mkdir(tmp, 0777) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool swap_mode;     /* refresh: exchange inodes (see put_file) */

static void put_file(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put_file(const char *dir, const char *name, const char *fmt, ...)
{
	char path[800], tmp[820], buf[256];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return;
	ssize_t w = write(fd, buf, (size_t)len);
	close(fd);
	if (w != len) {
		unlink(tmp);
		return;
	}
	/* Swap the two inodes rather than create one per update: readers see
	 * the old or the new file, and the file system does not churn inodes.
	 * The temporary is removed when the files are rebuilt or the engine
	 * stops (sr_sysfs_cleanup). */
	if (!swap_mode || renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE))
		rename(tmp, path);
}

static void guid_str(uint64_t g, char *out, size_t n)
{
	snprintf(out, n, "%04x:%04x:%04x:%04x", (unsigned)(g >> 48) & 0xffff,
		 (unsigned)(g >> 32) & 0xffff, (unsigned)(g >> 16) & 0xffff, (unsigned)g & 0xffff);
}

static void gid_str(const union ibv_gid *g, char *out, size_t n)
{
	size_t off = 0;
	for (int i = 0; i < 16; i += 2)
		off += (size_t)snprintf(out + off, n - off, "%s%02x%02x", i ? ":" : "",
					g->raw[i], g->raw[i + 1]);
}

static void pci_dir(const struct sr_hca_cfg *c, char *out, size_t n)
{
	snprintf(out, n, "%s/sys/%s/devices/pci%.4s:00/%s", sr_g.fabric, sr_g.host, c->pci, c->pci);
}

static void build_pci(int idx)
{
	const struct sr_hca_cfg *c = &sr_g.hca[idx];
	char dir[700], net[760];
	static const char *speeds[] = { "", "2.5 GT/s PCIe", "5.0 GT/s PCIe", "8.0 GT/s PCIe",
					"16.0 GT/s PCIe", "32.0 GT/s PCIe", "64.0 GT/s PCIe" };
	pci_dir(c, dir, sizeof(dir));
	mkdirs(dir);
	put_file(dir, "current_link_speed", "%s\n", speeds[c->link_gen]);
	put_file(dir, "current_link_width", "%d\n", c->link_width);
	put_file(dir, "max_link_speed", "%s\n", c->spark ? speeds[5] : speeds[c->link_gen]);
	put_file(dir, "max_link_width", "%d\n", c->spark ? 4 : c->link_width);
	put_file(dir, "class", "0x020000\n");       /* Ethernet controller (NCCL reads it) */
	put_file(dir, "vendor", "0x15b3\n");
	put_file(dir, "device", "0x1021\n");
	put_file(dir, "numa_node", "-1\n");
	snprintf(net, sizeof(net), "%s/net/%s", dir, c->netdev);
	mkdirs(net);
	uint8_t mac[6];
	sr_hca_mac(sr_g.octet, c->id, mac);
	put_file(net, "address", "%02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	put_file(net, "mtu", "%d\n", sr_port_netdev_mtu(sr_g.host_idx, idx, c));
}

static void put_gids(const struct sr_hca_cfg *c, const char *port);

static void build_port(const struct sr_hca_cfg *c, const char *ib)
{
	char port[760], sub[800];
	snprintf(port, sizeof(port), "%s/ports/1", ib);
	snprintf(sub, sizeof(sub), "%s/gids", port);
	mkdirs(sub);
	snprintf(sub, sizeof(sub), "%s/gid_attrs/types", port);
	mkdirs(sub);
	snprintf(sub, sizeof(sub), "%s/gid_attrs/ndevs", port);
	mkdirs(sub);
	snprintf(sub, sizeof(sub), "%s/counters", port);
	mkdirs(sub);
	put_file(port, "link_layer", "Ethernet\n");
	put_file(port, "rate", "200 Gb/sec (4X HDR)\n");
	put_file(port, "lid", "0x0\n");
	put_gids(c, port);
}

/* An entry that is not valid has no types/N and ndevs/N, as in the kernel's
 * tree (whose files there fail to read). */
static void put_gids(const struct sr_hca_cfg *c, const char *port)
{
	struct sr_gid gids[SR_MAX_GIDS];
	sr_hca_gids(c, sr_g.octet, c->id, gids);
	for (int i = 0; i < SR_SYSFS_GIDS; i++) {
		char name[64], text[64];
		union ibv_gid zero;
		memset(&zero, 0, sizeof(zero));
		bool valid = i < SR_MAX_GIDS && gids[i].valid;
		gid_str(valid ? &gids[i].gid : &zero, text, sizeof(text));
		snprintf(name, sizeof(name), "gids/%d", i);
		put_file(port, name, "%s\n", text);
		if (!valid) {
			char path[900];
			snprintf(path, sizeof(path), "%s/gid_attrs/types/%d", port, i);
			unlink(path);
			snprintf(path, sizeof(path), "%s/gid_attrs/ndevs/%d", port, i);
			unlink(path);
			continue;
		}
		snprintf(name, sizeof(name), "gid_attrs/types/%d", i);
		put_file(port, name, "%s\n",
			 gids[i].type == IBV_GID_TYPE_ROCE_V2 ? "RoCE v2" : "IB/RoCE v1");
		snprintf(name, sizeof(name), "gid_attrs/ndevs/%d", i);
		put_file(port, name, "%s\n", c->netdev);
	}
}

static void build_hca(int idx)
{
	const struct sr_hca_cfg *c = &sr_g.hca[idx];
	char ib[700], pci[700], link[800], uv[700], g[64];
	snprintf(ib, sizeof(ib), "%s/sys/%s/class/infiniband/%s", sr_g.fabric, sr_g.host, c->name);
	mkdirs(ib);
	build_pci(idx);
	pci_dir(c, pci, sizeof(pci));
	snprintf(link, sizeof(link), "%s/device", ib);
	unlink(link);
	if (symlink(pci, link) && errno != EEXIST)
		sr_log("symlink %s: %s", link, strerror(errno));
	guid_str(sr_hca_guid(sr_g.octet, c->id), g, sizeof(g));
	put_file(ib, "node_guid", "%s\n", g);
	guid_str(sr_hca_guid(sr_g.octet, 0), g, sizeof(g));
	put_file(ib, "sys_image_guid", "%s\n", g);
	put_file(ib, "fw_ver", "28.45.4028\n");
	put_file(ib, "hca_type", "MT4129\n");
	put_file(ib, "board_id", "NVD0000000033\n");
	put_file(ib, "node_type", "1: CA\n");
	build_port(c, ib);
	snprintf(uv, sizeof(uv), "%s/sys/%s/class/infiniband_verbs/uverbs%d", sr_g.fabric,
		 sr_g.host, idx);
	mkdirs(uv);
	put_file(uv, "ibdev", "%s\n", c->name);
	put_file(uv, "abi_version", "1\n");
}

struct sr_sysfs_seen { uint64_t v[7]; bool valid; };
static struct sr_sysfs_seen seen[SR_MAX_HCAS];

static void refresh_hca(int idx)
{
	const struct sr_hca_cfg *c = &sr_g.hca[idx];
	const struct sr_shm_port *p = &sr_g.shm->host[sr_g.host_idx].port[idx];
	bool up = sr_port_active(sr_g.host_idx, sr_g.host, idx);
	uint64_t now[7] = {
		__atomic_load_n(&p->xmit_bytes, __ATOMIC_RELAXED),
		__atomic_load_n(&p->rcv_bytes, __ATOMIC_RELAXED),
		__atomic_load_n(&p->xmit_pkts, __ATOMIC_RELAXED),
		__atomic_load_n(&p->rcv_pkts, __ATOMIC_RELAXED),
		up, (uint64_t)sr_port_netdev_mtu(sr_g.host_idx, idx, c),
		sr_netdev_v4(sr_g.host_idx, idx),
	};
	if (seen[idx].valid && memcmp(now, seen[idx].v, sizeof(now)) == 0)
		return;
	char port[760], cnt[800];
	static const char *const names[4] = { "port_xmit_data", "port_rcv_data",
					       "port_xmit_packets", "port_rcv_packets" };
	snprintf(port, sizeof(port), "%s/sys/%s/class/infiniband/%s/ports/1", sr_g.fabric,
		 sr_g.host, c->name);
	snprintf(cnt, sizeof(cnt), "%s/counters", port);
	for (int i = 0; i < 4; i++) {
		if (seen[idx].valid && seen[idx].v[i] == now[i])
			continue;
		/* mlx5 counts port_*_data in 4-byte words. */
		put_file(cnt, names[i], "%llu\n", (unsigned long long)(i < 2 ? now[i] / 4 : now[i]));
	}
	if (!seen[idx].valid || seen[idx].v[4] != now[4]) {
		char pci[700], net[800];
		put_file(port, "state", "%s\n", up ? "4: ACTIVE" : "1: DOWN");
		put_file(port, "phys_state", "%s\n", up ? "5: LinkUp" : "3: Disabled");
		pci_dir(c, pci, sizeof(pci));
		snprintf(net, sizeof(net), "%s/net/%s", pci, c->netdev);
		put_file(net, "operstate", "%s\n", up ? "up" : "down");
	}
	if (!seen[idx].valid || seen[idx].v[5] != now[5]) {   /* the netdev's MTU */
		char pci[700], net[800];
		pci_dir(c, pci, sizeof(pci));
		snprintf(net, sizeof(net), "%s/net/%s", pci, c->netdev);
		put_file(net, "mtu", "%llu\n", (unsigned long long)now[5]);
	}
	if (seen[idx].valid ? seen[idx].v[6] != now[6] : now[6] != 0) {   /* its address */
		struct sr_hca_cfg live = *c;
		bool swap = swap_mode;
		sr_netdev_overlay(sr_g.host_idx, idx, &live);
		swap_mode = false;         /* rare: plain renames, no temporaries left */
		put_gids(&live, port);
		swap_mode = swap;
	}
	memcpy(seen[idx].v, now, sizeof(now));
	seen[idx].valid = true;
}

/* At most one process of a host rewrites the files per period. */
void sr_sysfs_refresh(void)
{
	uint64_t *last = &sr_g.shm->host[sr_g.host_idx].sysfs_ns;
	uint64_t t = sr_now_ns(), prev = __atomic_load_n(last, __ATOMIC_ACQUIRE);
	if (t - prev < SR_SYSFS_PERIOD_NS ||
	    !__atomic_compare_exchange_n(last, &prev, t, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	swap_mode = true;
	for (int i = 0; i < sr_g.nhca; i++)
		refresh_hca(i);
	swap_mode = false;
}

/* Removes this process's swap temporaries (engine stop). */
void sr_sysfs_cleanup(void)
{
	static const char *const files[] = {
		"counters/port_xmit_data", "counters/port_rcv_data", "counters/port_xmit_packets",
		"counters/port_rcv_packets", "state", "phys_state",
	};
	char path[900];
	for (int i = 0; i < sr_g.nhca; i++) {
		const struct sr_hca_cfg *c = &sr_g.hca[i];
		for (unsigned k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
			snprintf(path, sizeof(path), "%s/sys/%s/class/infiniband/%s/ports/1/%s.%d.tmp",
				 sr_g.fabric, sr_g.host, c->name, files[k], (int)getpid());
			unlink(path);
		}
		char pci[700];
		pci_dir(c, pci, sizeof(pci));
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/net/%s/%s.%d.tmp", pci, c->netdev,
				 k ? "mtu" : "operstate", (int)getpid());
			unlink(path);
		}
	}
}

/* The static part is built once per host and fabric (every process of a
 * fabric uses the same topology); the marker is written last. */
int sr_sysfs_build(void)
{
	char marker[700];
	struct stat st;
	memset(seen, 0, sizeof(seen));
	snprintf(marker, sizeof(marker), "%s/sys/%s/.softroce-built", sr_g.fabric, sr_g.host);
	bool built = stat(marker, &st) == 0;
	for (int i = 0; i < sr_g.nhca; i++) {
		if (!built)
			build_hca(i);
		refresh_hca(i);
	}
	if (!built) {
		int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
