/* softroce: the netdev behind each HCA.  By default it is emulated (its
 * files under the emulated sysfs only).  With SOFTROCE_NETDEV=real it is the
 * real interface of that name in the calling process's network namespace
 * (`ip netns` + veth pairs as the cables): every tick (and every
 * query_port) reads its link state and MTU and applies a change as the
 * control line that says it ("<host> <hca> down|up", "<host> <hca> mtu N",
 * "<host> <hca> addr A.B.C.D|none"), so port state, GIDs, async events,
 * sysfs and routing follow through the one path that faults take.
 *
 * Link state: up = IFF_UP and IFF_RUNNING (operstate up).  A veth loses its
 * carrier when its peer end goes down, so `ip link set X down` on either
 * host takes both ends down, as pulling a QSFP cable does.  Read with
 * getifaddrs and SIOCGIFMTU rather than /sys/class/net: `ip netns exec`
 * remounts /sys and softroce-run covers /sys/class with its own view, while
 * netlink and ioctls always answer for the process's own namespace. */
#include "sr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define SR_ROCE_HDR 96   /* GRH 40 + UDP 8 + BTH 12 + XRC 4 + AtomicETH 28 + ICRC 4 */

struct sr_netdev_seen {
	bool present;        /* the interface was there once: from then on it is followed */
	bool known;          /* link state applied at least once */
	bool up;
	int mtu;             /* last applied, 0 = none yet */
	bool v4_known;
	uint32_t v4;         /* last applied address (network order), 0 = none */
};

static struct {
	bool real;
	char key[SR_NAME_MAX + 520];   /* fabric/host the state below belongs to */
	struct sr_netdev_seen hca[SR_MAX_HCAS];
} nd;

int sr_netdev_setup(void)
{
	const char *e = getenv("SOFTROCE_NETDEV");
	bool real = e && strcmp(e, "real") == 0;
	if (e && *e && !real && strcmp(e, "emulated") != 0) {
		fprintf(stderr, "softroce: SOFTROCE_NETDEV=%s: expected real (follow the "
			"interfaces of this network namespace) or emulated (the default)\n", e);
		return -EINVAL;
	}
	char key[sizeof(nd.key)];
	snprintf(key, sizeof(key), "%s/%s", sr_g.fabric, sr_g.host);
	if (real != nd.real || strcmp(key, nd.key) != 0) {
		memset(nd.hca, 0, sizeof(nd.hca));
		nd.real = real;
		snprintf(nd.key, sizeof(nd.key), "%s", key);
	}
	return 0;
}

bool sr_netdev_real(void)
{
	return nd.real;
}

static void apply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void apply(const char *fmt, ...)
{
	char line[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sr_control_apply(line))
		fprintf(stderr, "softroce: netdev: cannot apply '%s'\n", line);
	else
		sr_log("netdev: %s", line);
}

static int if_mtu(int sock, const char *name)
{
	struct ifreq r;
	size_t len = strlen(name);
	if (sock < 0 || len >= sizeof(r.ifr_name))
		return -1;
	memset(&r, 0, sizeof(r));
	memcpy(r.ifr_name, name, len + 1);
	return ioctl(sock, SIOCGIFMTU, &r) == 0 ? r.ifr_mtu : -1;
}

/* The netdev's IPv4 address, as the kernel's RoCE GID table takes it: the
 * first one the interface lists (its primary); 0 for none. softroce's table
 * has one IPv4 pair (v1 at gid_index-1, v2 at gid_index); a second address
 * gets no entries of its own. */
static uint32_t if_v4(const struct ifaddrs *list, const char *name)
{
	for (const struct ifaddrs *a = list; a; a = a->ifa_next)
		if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET && strcmp(a->ifa_name, name) == 0)
			return ((const struct sockaddr_in *)(const void *)a->ifa_addr)->sin_addr.s_addr;
	return 0;
}

static void follow(int i, const struct ifaddrs *list, int sock)
{
	const struct sr_hca_cfg *c = &sr_g.hca[i];
	struct sr_netdev_seen *s = &nd.hca[i];
	const struct ifaddrs *a = list;
	while (a && strcmp(a->ifa_name, c->netdev) != 0)
		a = a->ifa_next;
	if (!a && !s->present)
		return;                     /* no such interface here: the topology's */
	s->present = true;
	/* One that vanished (its veth deleted) is a pulled cable. */
	bool up = a && (a->ifa_flags & IFF_UP) && (a->ifa_flags & IFF_RUNNING);
	if (!s->known || s->up != up)
		apply("%s %s %s", sr_g.host, c->name, up ? "up" : "down");
	s->known = true;
	s->up = up;
	int mtu = a ? if_mtu(sock, c->netdev) : -1;
	if (mtu > 0 && mtu != s->mtu) {
		apply("%s %s mtu %d", sr_g.host, c->name, mtu);
		s->mtu = mtu;
	}
	uint32_t v4 = if_v4(list, c->netdev);
	if (!s->v4_known || v4 != s->v4) {
		char text[INET_ADDRSTRLEN] = "none";
		struct in_addr in = { .s_addr = v4 };
		if (v4)
			inet_ntop(AF_INET, &in, text, sizeof(text));
		apply("%s %s addr %s", sr_g.host, c->name, text);
		s->v4_known = true;
		s->v4 = v4;
	}
}

void sr_netdev_poll(void)
{
	if (!nd.real || !sr_g.inited)
		return;
	struct ifaddrs *list;
	if (getifaddrs(&list))
		return;
	/* Opened per tick, not kept: a process that closed its last device
	 * holds no descriptor of softroce's. */
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (int i = 0; i < sr_g.nhca; i++)
		follow(i, list, sock);
	if (sock >= 0)
		close(sock);
	freeifaddrs(list);
}

int sr_netdev_set_mtu(int host_idx, int hca_idx, const char *bytes)
{
	long mtu;
	/* 68: IPv4's least MTU; 65536: the largest Linux allows (lo's). */
	if (sr_parse_long(bytes, 68, 65536, &mtu))
		return -EINVAL;
	__atomic_store_n(&sr_g.shm->host[host_idx].port[hca_idx].netdev_mtu, (uint32_t)mtu,
			 __ATOMIC_RELEASE);
	return 0;
}

int sr_netdev_set_addr(int host_idx, int hca_idx, const char *addr)
{
	struct in_addr in = { 0 };
	if (strcmp(addr, "none") != 0 && (inet_pton(AF_INET, addr, &in) != 1 || in.s_addr == 0))
		return -EINVAL;
	__atomic_store_n(&sr_g.shm->host[host_idx].port[hca_idx].netdev_v4,
			 1ull << 32 | in.s_addr, __ATOMIC_RELEASE);
	return 0;
}

uint64_t sr_netdev_v4(int host_idx, int hca_idx)
{
	return __atomic_load_n(&sr_g.shm->host[host_idx].port[hca_idx].netdev_v4,
			       __ATOMIC_ACQUIRE);
}

void sr_netdev_overlay(int host_idx, int hca_idx, struct sr_hca_cfg *c)
{
	uint64_t v4 = sr_netdev_v4(host_idx, hca_idx);
	if (!v4)
		return;                    /* no line yet: the topology's address */
	c->v4_addr = (uint32_t)v4;
	c->ipv4 = c->v4_addr != 0;
}

bool sr_netdev_gid_changed(struct sr_ctx *c)
{
	const struct sr_device *d = c->sdev;
	uint64_t v4 = sr_netdev_v4(sr_g.host_idx, d->hca_idx);
	if (c->gid_init && v4 == c->gid_seen)
		return false;                  /* the common case: nothing new */
	struct sr_hca_cfg now = d->cfg;
	struct sr_gid gids[SR_MAX_GIDS];
	sr_netdev_overlay(sr_g.host_idx, d->hca_idx, &now);
	sr_hca_gids(&now, d->octet, now.id, gids);
	const struct sr_gid *g = &gids[now.gid_index];
	bool changed = c->gid_init && (g->valid != c->v4_gid_seen.valid ||
				       memcmp(&g->gid, &c->v4_gid_seen.gid, sizeof(g->gid)) != 0);
	c->gid_init = true;
	c->gid_seen = v4;
	c->v4_gid_seen = *g;
	return changed;
}

int sr_port_netdev_mtu(int host_idx, int hca_idx, const struct sr_hca_cfg *c)
{
	uint32_t set = __atomic_load_n(&sr_g.shm->host[host_idx].port[hca_idx].netdev_mtu,
				       __ATOMIC_ACQUIRE);
	if (set)
		return (int)set;
	if (c->netdev_mtu > 0)
		return c->netdev_mtu;
	/* A Spark's ports run at 9000 (active 4096); else the IB MTU itself. */
	return c->mtu == IBV_MTU_4096 ? 9000 : 128 << c->mtu;
}

/* mlx5 reports the largest IB MTU that a RoCE v2 packet of that payload fits
 * in the netdev's MTU (the kernel's iboe_get_mtu): 1500 -> 1024, 9000 ->
 * 4096, and 0 (none) below 352. */
static enum ibv_mtu ib_mtu_of(int netdev_mtu)
{
	for (int m = IBV_MTU_4096; m >= IBV_MTU_256; m--)
		if (netdev_mtu - SR_ROCE_HDR >= (128 << m))
			return (enum ibv_mtu)m;
	return (enum ibv_mtu)0;
}

enum ibv_mtu sr_port_mtu(int host_idx, int hca_idx, const struct sr_hca_cfg *c)
{
	uint32_t set = __atomic_load_n(&sr_g.shm->host[host_idx].port[hca_idx].netdev_mtu,
				       __ATOMIC_ACQUIRE);
	if (!set)
		return c->mtu;
	enum ibv_mtu m = ib_mtu_of((int)set);
	return m < c->mtu ? m : c->mtu;
}
