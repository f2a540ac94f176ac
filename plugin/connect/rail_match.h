/* Which rail of the peer each local rail talks to: the one on its subnet.
 * Pure (no verbs), so test/unit can try every layout. A device's rail order
 * is local (PCI order, or NCCL_SPARK_PAIRS as written), so position alone
 * says nothing about reachability: a host whose first half lost its address
 * has a one-rail device [roceP2p1s0f0] while its peer has two. */
#ifndef SPARK_RAIL_MATCH_H
#define SPARK_RAIL_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

#define SPARK_RAIL_NONE 0xffu

struct spark_rail_match {
	uint8_t peer[SPARK_WIRE_MAX_RAILS];  /* per local rail: the peer's rail, or NONE */
	uint32_t mask;                       /* local rails that have one */
	uint32_t nmatched;
};

/* Same IPv4 subnet (the shorter prefix of the two); without IPv4 on either
 * side, the same /64 of the GIDs. */
bool spark_rails_reach(const struct spark_rail_info *a, const struct spark_rail_info *b);

/* Pairs local rails with peer rails that reach them, each peer rail at most
 * once (one QP pair per link): as many pairs as possible; among those, most
 * pairs of the same HCA name (two peer rails on one subnet is a
 * misconfiguration pairing WARNs about; the names then decide), then most at
 * the same position; then the first in order. Counts above
 * SPARK_WIRE_MAX_RAILS are cut to it. */
void spark_rails_match(const struct spark_rail_info *local, uint32_t nlocal,
		       const struct spark_rail_info *peer, uint32_t npeer,
		       struct spark_rail_match *out);

/* "rocep1s0f0 192.168.100.1/24, roceP2p1s0f0 192.168.101.1/24" for a log line. */
void spark_rails_format(const struct spark_rail_info *rails, uint32_t n, char *buf, int len);

#endif
