/* Choosing the GID a rail uses: RoCE v2, IPv4-mapped, on the netdev's IPv4
 * subnet, found by scanning the whole table every time (on real Sparks the
 * index drifts from 3 to 4 or 5). Pure: the caller reads the table. */
#ifndef SPARK_GID_H
#define SPARK_GID_H

#include <stdbool.h>
#include <stdint.h>

enum spark_gid_type { SPARK_GID_UNKNOWN = 0, SPARK_GID_IB, SPARK_GID_ROCE_V1, SPARK_GID_ROCE_V2 };

struct spark_gid_entry {
	int index;
	uint8_t raw[16];
	enum spark_gid_type type;
	char ndev[32];          /* netdev the entry belongs to; "" when unknown */
};

struct spark_ipv4_net {
	uint32_t addr;          /* host byte order */
	int prefix;             /* 0..32 */
};

/* Prefix assumed when the netdev's own address cannot be read (emulated
 * hosts, containers without the netdev): one /24 per half, as Spark setups use. */
#define SPARK_GID_DEFAULT_PREFIX 24

enum spark_gid_result {
	SPARK_GID_FOUND,            /* auto-selected */
	SPARK_GID_OVERRIDDEN,       /* NCCL_SPARK_GID_INDEX used */
	SPARK_GID_OVERRIDE_BAD,     /* NCCL_SPARK_GID_INDEX names no valid entry */
	SPARK_GID_NOT_FOUND,        /* no RoCE v2 IPv4 GID (on the netdev's subnet) */
};

struct spark_gid_choice {
	int index;
	uint32_t ipv4;          /* 0 when the chosen GID is not IPv4-mapped */
	int prefix;
};

bool spark_gid_is_zero(const uint8_t raw[16]);
bool spark_gid_is_ipv4(const uint8_t raw[16], uint32_t *ipv4);
bool spark_ipv4_in_net(uint32_t ipv4, const struct spark_ipv4_net *net);
uint32_t spark_ipv4_subnet(uint32_t ipv4, int prefix);
bool spark_ipv4_same_subnet(uint32_t a, int prefix_a, uint32_t b, int prefix_b);

/* override_index < 0 means automatic. nets may be empty (nnets == 0): then no
 * subnet filter applies and the prefix is SPARK_GID_DEFAULT_PREFIX. */
enum spark_gid_result spark_gid_select(const struct spark_gid_entry *table, int n,
				       const char *netdev, const struct spark_ipv4_net *nets,
				       int nnets, int override_index,
				       struct spark_gid_choice *out);

/* "192.168.100.1/24" */
void spark_ipv4_format(uint32_t ipv4, int prefix, char *buf, int len);

#endif
