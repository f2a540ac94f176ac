/* The per-rail probe of --peer: the plugin loaded as NCCL loads it, with
 * every usable HCA made a one-rail device (NCCL_SPARK_PAIRS), and bulk
 * traffic sent from the --peer side to the --serve side on one rail. */
#ifndef SPARK_NETCHECK_PROBE_H
#define SPARK_NETCHECK_PROBE_H

#include "lineio.h"
#include "netcheck.h"
#include "nccl/net_v8.h"

#define NC_PROBE_MSG (4 << 20)
#define NC_PROBE_INFLIGHT 8

struct nc_probe {
	void *lib;
	const ncclNet_v8_t *net;
	int ndev;
};

/* false with a reason when the plugin cannot be loaded or initialised. */
bool nc_probe_open(struct nc_probe *p, const struct nc_host *h, const struct nc_paths *paths,
		   char *err, int len);
void nc_probe_close(struct nc_probe *p);
/* The plugin's device for one rail, or -1. */
int nc_probe_dev(const struct nc_probe *p, const char *rail);
/* --serve side: listen, send "handle <hex>", accept, receive count messages. */
bool nc_probe_recv(struct nc_probe *p, int dev, int fd, int count, char *err, int len);
/* --peer side: connect to the handle, send count messages; seconds taken. */
bool nc_probe_send(struct nc_probe *p, int dev, const char *handle_hex, int count,
		   double *seconds, char *err, int len);

#endif
