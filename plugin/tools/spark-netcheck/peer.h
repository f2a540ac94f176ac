/* What --serve tells --peer about itself (peer.c reads it, peer_client.c
 * compares it). */
#ifndef SPARK_NETCHECK_PEER_H
#define SPARK_NETCHECK_PEER_H

#include "probe.h"

#define PROTO "SPARK-NETCHECK 1"

struct remote_hca {
	char name[SPARK_NAME_LEN];
	int port, active, usable, gid_index, prefix, mtu, netdev_mtu, mbps;
	uint32_t ipv4;
};

struct remote {
	char version[64];
	uint64_t plugin_hash;
	int pinned;
	struct remote_hca hca[SPARK_MAX_HCAS];
	int nhcas;
	char dev[SPARK_MAX_DEVS][SPARK_MAX_RAILS * SPARK_NAME_LEN];
	int ndevs;
};

uint64_t nc_local_plugin_hash(const struct nc_paths *paths);
bool nc_read_remote(struct nc_conn *c, struct remote *r, char *err, int len);

#endif
