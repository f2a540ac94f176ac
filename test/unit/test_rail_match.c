/* Rails matched by subnet (rail_match.c): each local rail pairs with the
 * peer's rail on its subnet, whatever the order or count of rails on either
 * side; ambiguity is settled by HCA name, then position. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rail_match.h"

#define NONE SPARK_RAIL_NONE

/* A rail named `name` at a.b.c.host/prefix (RoCE v2 IPv4-mapped GID). */
static struct spark_rail_info rail(const char *name, uint32_t net24, uint32_t host, uint32_t prefix)
{
	struct spark_rail_info r;
	memset(&r, 0, sizeof r);
	snprintf(r.name, sizeof r.name, "%s", name);
	r.ipv4 = net24 << 8 | host;
	r.prefix = prefix;
	r.gid[10] = r.gid[11] = 0xff;
	for (int i = 0; i < 4; i++)
		r.gid[12 + i] = (uint8_t)(r.ipv4 >> (24 - 8 * i));
	return r;
}

#define NET100 0xc0a864u   /* 192.168.100 */
#define NET101 0xc0a865u   /* 192.168.101 */

static struct spark_rail_match match(const struct spark_rail_info *l, uint32_t nl,
				     const struct spark_rail_info *p, uint32_t np)
{
	struct spark_rail_match m;
	memset(&m, 0x5a, sizeof m);   /* every field must be written */
	spark_rails_match(l, nl, p, np, &m);
	return m;
}

Test(rail_match, same_layout_pairs_by_position)
{
	struct spark_rail_info a[] = {rail("rocep1s0f0", NET100, 1, 24), rail("roceP2p1s0f0", NET101, 1, 24)};
	struct spark_rail_info b[] = {rail("rocep1s0f0", NET100, 2, 24), rail("roceP2p1s0f0", NET101, 2, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.peer[0], 0);
	cr_assert_eq(m.peer[1], 1);
	cr_assert_eq(m.peer[2], NONE);
	cr_assert_eq(m.peer[3], NONE);
	cr_assert_eq(m.mask, 0x3);
	cr_assert_eq(m.nmatched, 2);
}

/* The case: the first half lost its address, the device is
 * [roceP2p1s0f0]; position would compare it with the peer's rocep1s0f0. */
Test(rail_match, one_rail_host_meets_two_rail_peer)
{
	struct spark_rail_info one[] = {rail("roceP2p1s0f0", NET101, 1, 24)};
	struct spark_rail_info two[] = {rail("rocep1s0f0", NET100, 2, 24), rail("roceP2p1s0f0", NET101, 2, 24)};
	struct spark_rail_match m = match(one, 1, two, 2);
	cr_assert_eq(m.peer[0], 1);
	cr_assert_eq(m.mask, 0x1);
	m = match(two, 2, one, 1);
	cr_assert_eq(m.peer[0], NONE, "rocep1s0f0 has no partner");
	cr_assert_eq(m.peer[1], 0);
	cr_assert_eq(m.mask, 0x2);
	cr_assert_eq(m.nmatched, 1);
}

Test(rail_match, opposite_orders_pair_crosswise)
{
	struct spark_rail_info a[] = {rail("rocep1s0f0", NET100, 1, 24), rail("roceP2p1s0f0", NET101, 1, 24)};
	struct spark_rail_info b[] = {rail("roceP2p1s0f0", NET101, 2, 24), rail("rocep1s0f0", NET100, 2, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.peer[0], 1);
	cr_assert_eq(m.peer[1], 0);
	m = match(b, 2, a, 2);
	cr_assert_eq(m.peer[0], 1);
	cr_assert_eq(m.peer[1], 0);
}

/* Subnets decide, not names: the peer's halves are named the other way
 * round (another NIC, another PCI layout), yet each /24 finds its partner. */
Test(rail_match, subnet_beats_name)
{
	struct spark_rail_info a[] = {rail("rocep1s0f0", NET100, 1, 24), rail("roceP2p1s0f0", NET101, 1, 24)};
	struct spark_rail_info b[] = {rail("rocep1s0f0", NET101, 2, 24), rail("roceP2p1s0f0", NET100, 2, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.peer[0], 1);
	cr_assert_eq(m.peer[1], 0);
}

Test(rail_match, no_shared_subnet_matches_nothing)
{
	struct spark_rail_info a[] = {rail("rocep1s0f0", NET100, 1, 24), rail("roceP2p1s0f0", NET101, 1, 24)};
	struct spark_rail_info b[] = {rail("rocep1s0f0", 0x0a4d00u, 2, 24), rail("roceP2p1s0f0", 0x0a4e00u, 2, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.mask, 0);
	cr_assert_eq(m.nmatched, 0);
	for (int i = 0; i < SPARK_WIRE_MAX_RAILS; i++)
		cr_assert_eq(m.peer[i], NONE);
	m = match(a, 0, b, 2);
	cr_assert_eq(m.mask, 0);
}

/* Both peer halves on one /24 (the misconfiguration pairing WARNs about):
 * the same HCA name wins over position. */
Test(rail_match, ambiguity_prefers_the_same_name)
{
	struct spark_rail_info a[] = {rail("roceP2p1s0f0", NET100, 1, 24), rail("rocep1s0f0", NET100, 3, 24)};
	struct spark_rail_info b[] = {rail("rocep1s0f0", NET100, 2, 24), rail("roceP2p1s0f0", NET100, 4, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.peer[0], 1);
	cr_assert_eq(m.peer[1], 0);
	m = match(a, 1, b, 2);
	cr_assert_eq(m.peer[0], 1, "name before position for a single rail too");
}

Test(rail_match, ambiguity_without_names_goes_by_position)
{
	struct spark_rail_info a[] = {rail("mlx5_0", NET100, 1, 24), rail("mlx5_1", NET100, 3, 24)};
	struct spark_rail_info b[] = {rail("mlx5_2", NET100, 2, 24), rail("mlx5_3", NET100, 4, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.peer[0], 0);
	cr_assert_eq(m.peer[1], 1);
	m = match(a + 1, 1, b, 2);
	cr_assert_eq(m.peer[0], 0, "position 0 first");
}

/* Most pairs first: local rail 0 (a /16) reaches both peer rails, local
 * rail 1 only the first; taking peer 0 for rail 0 by position would leave
 * rail 1 out. */
Test(rail_match, as_many_pairs_as_possible)
{
	struct spark_rail_info a[] = {rail("x0", 0x0a0000u, 1, 16), rail("x1", 0x0a0001u, 3, 24)};
	struct spark_rail_info b[] = {rail("y0", 0x0a0001u, 2, 24), rail("y1", 0x0a0002u, 2, 24)};
	struct spark_rail_match m = match(a, 2, b, 2);
	cr_assert_eq(m.peer[0], 1);
	cr_assert_eq(m.peer[1], 0);
	cr_assert_eq(m.nmatched, 2);
}

/* Each peer rail serves one local rail: two local rails on one subnet and a
 * one-rail peer give one pair. */
Test(rail_match, a_peer_rail_is_used_once)
{
	struct spark_rail_info a[] = {rail("rocep1s0f0", NET100, 1, 24), rail("roceP2p1s0f0", NET100, 3, 24)};
	struct spark_rail_info b[] = {rail("roceP2p1s0f0", NET100, 2, 24)};
	struct spark_rail_match m = match(a, 2, b, 1);
	cr_assert_eq(m.peer[0], NONE);
	cr_assert_eq(m.peer[1], 0);
	cr_assert_eq(m.nmatched, 1);
}

Test(rail_match, without_ipv4_the_gid_prefix_decides)
{
	struct spark_rail_info a = rail("r0", 0, 0, 0), b = rail("r0", 0, 0, 0), c = rail("r0", 0, 0, 0);
	a.gid[0] = b.gid[0] = c.gid[0] = 0xfd;
	a.gid[15] = 1;
	b.gid[15] = 2;
	c.gid[7] = 9;   /* another /64 */
	cr_assert(spark_rails_reach(&a, &b));
	cr_assert(!spark_rails_reach(&a, &c));
	struct spark_rail_match m = match(&a, 1, &c, 1);
	cr_assert_eq(m.mask, 0);
}

Test(rail_match, counts_beyond_the_wire_are_cut)
{
	struct spark_rail_info a[6], b[6];
	for (uint32_t i = 0; i < 6; i++) {
		char n[16];
		snprintf(n, sizeof n, "r%u", i);
		a[i] = rail(n, 0x0a0000u + i, 1, 24);
		b[i] = rail(n, 0x0a0000u + i, 2, 24);
	}
	struct spark_rail_match m = match(a, 6, b, 6);
	cr_assert_eq(m.nmatched, SPARK_WIRE_MAX_RAILS);
	cr_assert_eq(m.mask, (1u << SPARK_WIRE_MAX_RAILS) - 1);
}

Test(rail_match, format_names_rails_and_subnets)
{
	struct spark_rail_info a[] = {rail("rocep1s0f0", NET100, 1, 24), rail("roceP2p1s0f0", 0, 0, 0)};
	char buf[128];
	spark_rails_format(a, 2, buf, sizeof buf);
	cr_assert_str_eq(buf, "rocep1s0f0 192.168.100.1/24, roceP2p1s0f0 (no IPv4)");
	spark_rails_format(a, 2, buf, 12);
	cr_assert_eq(strlen(buf), 11, "cut, NUL-terminated: '%s'", buf);
}
