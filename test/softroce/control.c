/* softroce: run-time faults.  Every process tails $SOFTROCE_FABRIC/control
 * (from the start, so a late process sees the current state) and applies
 * each line to the shared state; applying is idempotent, so it does not
 * matter how many processes apply a line.  Each process then turns port
 * state changes of its own host into async events. */
#include "sr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int hca_of(const char *name)
{
	return sr_hca_index(&sr_g.topo, name);
}

static void set_link(int host, int hca, uint32_t down)
{
	struct sr_shm_port *port = &sr_g.shm->host[host].port[hca];
	/* The generation first: a packet stamped after it and before the
	 * store is dropped too (it was sent as the link went). */
	if (down && !__atomic_load_n(&port->link_down, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&port->down_gen, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&port->link_down, down, __ATOMIC_RELEASE);
}

int sr_control_apply(const char *line)
{
	char host[SR_NAME_MAX], a[64], b[64], c[64];
	int n = sscanf(line, "%31s %63s %63s %63s", host, a, b, c);
	if (n < 2)
		return -EINVAL;
	int h = sr_fabric_host_idx(host, true);
	if (h < 0)
		return -ENOSPC;
	if (n == 2 && (strcmp(a, "freeze") == 0 || strcmp(a, "thaw") == 0)) {
		__atomic_store_n(&sr_g.shm->host[h].frozen, strcmp(a, "freeze") == 0,
				 __ATOMIC_RELEASE);
		return 0;
	}
	int x = hca_of(a);
	if (x < 0 || n < 3)
		return -EINVAL;
	if (n == 3 && (strcmp(b, "down") == 0 || strcmp(b, "up") == 0)) {
		uint32_t down = strcmp(b, "down") == 0;
		set_link(h, x, down);
		/* The cable has two ends: the peer's same-named HCA follows. */
		for (int p = 0; p < SR_MAX_HOSTS; p++)
			if (p != h && __atomic_load_n(&sr_g.shm->host[p].used, __ATOMIC_ACQUIRE))
				set_link(p, x, down);
		return 0;
	}
	if (n == 4 && strcmp(b, "acks") == 0 && (strcmp(c, "drop") == 0 || strcmp(c, "pass") == 0)) {
		/* This end only: its requesters hear no response, its responders
		 * still execute and answer (the answers are lost on the way in). */
		__atomic_store_n(&sr_g.shm->host[h].port[x].drop_acks, strcmp(c, "drop") == 0,
				 __ATOMIC_RELEASE);
		return 0;
	}
	if (n == 4 && strcmp(b, "mtu") == 0)
		return sr_netdev_set_mtu(h, x, c);     /* this end's netdev only */
	if (n == 4 && strcmp(b, "addr") == 0)
		return sr_netdev_set_addr(h, x, c);
	if (n == 4 && strcmp(b, "rate") == 0) {
		double f;
		if (sr_parse_double(c, &f) || f <= 0 || f > 1)
			return -EINVAL;
		__atomic_store_n(&sr_g.shm->host[h].port[x].rate_ppm, (uint32_t)(f * 1e6),
				 __ATOMIC_RELEASE);
		return 0;
	}
	return -EINVAL;
}

static void tail_control(void)
{
	char path[600];
	struct stat st;
	snprintf(path, sizeof(path), "%s/control", sr_g.fabric);
	if (stat(path, &st))
		return;
	if (st.st_size < sr_g.ctl_off)
		sr_g.ctl_off = 0;                  /* rewritten: replay it */
	if (st.st_size == sr_g.ctl_off)
		return;                            /* nothing new: the common case */
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fseek(f, sr_g.ctl_off, SEEK_SET) == 0) {
		char line[256];
		while (fgets(line, sizeof(line), f)) {
			size_t len = strlen(line);
			if (len == 0 || line[len - 1] != '\n')
				break;                 /* partial line: wait for the rest */
			sr_g.ctl_off += (long)len;
			char *hash = strchr(line, '#');
			if (hash)
				*hash = 0;
			if (strspn(line, " \t\r\n") == strlen(line))
				continue;
			if (sr_control_apply(line))
				fprintf(stderr, "softroce: control: bad line: %s", line);
			else
				sr_log("control: %s", line);
		}
	}
	fclose(f);
}

static void port_events(void)
{
	for (struct sr_ctx *c = sr_g.ctxs; c; c = c->next) {
		if (sr_netdev_gid_changed(c))
			sr_async_push(c, IBV_EVENT_GID_CHANGE, NULL);
		uint32_t up = sr_port_active(sr_g.host_idx, sr_g.host, c->sdev->hca_idx);
		if (up == c->port_state_seen)
			continue;
		c->port_state_seen = up;
		sr_async_push(c, up ? IBV_EVENT_PORT_ACTIVE : IBV_EVENT_PORT_ERR, NULL);
	}
}

/* Called with sr_g.lock held, by the engine every few ms and by query_port. */
void sr_control_poll(void)
{
	if (!sr_g.inited)
		return;
	sr_g.last_ctl_ns = sr_now_ns();
	tail_control();
	port_events();
}
