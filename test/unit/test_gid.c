#include <criterion/criterion.h>

#include "gid.h"

static struct spark_gid_entry link_local(int index, enum spark_gid_type type)
{
	struct spark_gid_entry e = {.index = index, .type = type};
	static const uint8_t fe80[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff,
					 0xfe, 0x33, 0x44, 0x55};
	memcpy(e.raw, fe80, 16);
	return e;
}

static struct spark_gid_entry ipv4(int index, enum spark_gid_type type, uint32_t a)
{
	struct spark_gid_entry e = {.index = index, .type = type};
	e.raw[10] = e.raw[11] = 0xff;
	e.raw[12] = (uint8_t)(a >> 24);
	e.raw[13] = (uint8_t)(a >> 16);
	e.raw[14] = (uint8_t)(a >> 8);
	e.raw[15] = (uint8_t)a;
	return e;
}

static struct spark_gid_entry ipv6(int index, enum spark_gid_type type)
{
	struct spark_gid_entry e = {.index = index, .type = type};
	e.raw[0] = 0xfd;
	e.raw[15] = (uint8_t)index;
	return e;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* The table a Spark shows with extra IPv6 entries before the IPv4 ones: the
 * RoCE v2 IPv4 GID lands at v2_index (3 fresh, 4 or 5 after drift). */
static int spark_table(struct spark_gid_entry *t, int v2_index, uint32_t addr)
{
	int n = 0;
	t[n++] = link_local(0, SPARK_GID_ROCE_V1);
	t[n++] = link_local(1, SPARK_GID_ROCE_V2);
	int idx = 2;
	while (idx < v2_index - 1) {
		t[n] = ipv6(idx, idx % 2 ? SPARK_GID_ROCE_V2 : SPARK_GID_ROCE_V1);
		n++;
		idx++;
	}
	t[n++] = ipv4(idx++, SPARK_GID_ROCE_V1, addr);
	t[n++] = ipv4(idx++, SPARK_GID_ROCE_V2, addr);
	return n;
}

static void expect_index(int v2_index)
{
	struct spark_gid_entry t[16];
	int n = spark_table(t, v2_index, IP(192, 168, 100, 1));
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, n, "enp1s0f0np0", NULL, 0, -1, &c), SPARK_GID_FOUND);
	cr_assert_eq(c.index, v2_index);
	cr_assert_eq(c.ipv4, IP(192, 168, 100, 1));
	cr_assert_eq(c.prefix, SPARK_GID_DEFAULT_PREFIX);
}

Test(gid, fresh_spark_index_3) { expect_index(3); }
Test(gid, drifted_index_4) { expect_index(4); }
Test(gid, drifted_index_5) { expect_index(5); }

Test(gid, subnet_of_the_netdev_wins)
{
	struct spark_gid_entry t[] = {
		link_local(0, SPARK_GID_ROCE_V1), link_local(1, SPARK_GID_ROCE_V2),
		ipv4(2, SPARK_GID_ROCE_V2, IP(10, 0, 0, 5)),
		ipv4(3, SPARK_GID_ROCE_V2, IP(192, 168, 101, 1)),
	};
	struct spark_ipv4_net nets[] = {{IP(192, 168, 101, 1), 24}};
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, 4, "enP2p1s0f0np0", nets, 1, -1, &c), SPARK_GID_FOUND);
	cr_assert_eq(c.index, 3);
	cr_assert_eq(c.prefix, 24);
}

Test(gid, prefix_comes_from_the_netdev)
{
	struct spark_gid_entry t[] = {ipv4(3, SPARK_GID_ROCE_V2, IP(10, 1, 2, 3))};
	struct spark_ipv4_net nets[] = {{IP(10, 1, 0, 1), 16}};
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, 1, "eth0", nets, 1, -1, &c), SPARK_GID_FOUND);
	cr_assert_eq(c.prefix, 16);
}

Test(gid, no_gid_on_the_netdev_subnet)
{
	struct spark_gid_entry t[] = {ipv4(3, SPARK_GID_ROCE_V2, IP(10, 0, 0, 5))};
	struct spark_ipv4_net nets[] = {{IP(192, 168, 100, 1), 24}};
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, 1, "eth0", nets, 1, -1, &c), SPARK_GID_NOT_FOUND);
}

Test(gid, roce_v1_and_ipv6_are_not_chosen)
{
	struct spark_gid_entry t[] = {
		link_local(0, SPARK_GID_ROCE_V1), link_local(1, SPARK_GID_ROCE_V2),
		ipv4(2, SPARK_GID_ROCE_V1, IP(192, 168, 100, 1)), ipv6(3, SPARK_GID_ROCE_V2),
	};
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, 4, NULL, NULL, 0, -1, &c), SPARK_GID_NOT_FOUND);
}

Test(gid, entry_of_another_netdev_is_skipped)
{
	struct spark_gid_entry t[] = {
		ipv4(3, SPARK_GID_ROCE_V2, IP(192, 168, 100, 1)),
		ipv4(4, SPARK_GID_ROCE_V2, IP(192, 168, 100, 1)),
	};
	strcpy(t[0].ndev, "enp1s0f0np0.10");
	strcpy(t[1].ndev, "enp1s0f0np0");
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, 2, "enp1s0f0np0", NULL, 0, -1, &c), SPARK_GID_FOUND);
	cr_assert_eq(c.index, 4);
	/* Unknown netdev (emulated host): the netdev names are not used. */
	cr_assert_eq(spark_gid_select(t, 2, NULL, NULL, 0, -1, &c), SPARK_GID_FOUND);
	cr_assert_eq(c.index, 3);
}

Test(gid, lowest_index_whatever_the_order)
{
	struct spark_gid_entry t[] = {
		ipv4(7, SPARK_GID_ROCE_V2, IP(192, 168, 100, 1)),
		ipv4(5, SPARK_GID_ROCE_V2, IP(192, 168, 100, 1)),
	};
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, 2, NULL, NULL, 0, -1, &c), SPARK_GID_FOUND);
	cr_assert_eq(c.index, 5);
}

Test(gid, override_picks_that_entry)
{
	struct spark_gid_entry t[16];
	int n = spark_table(t, 4, IP(192, 168, 100, 1));
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, n, NULL, NULL, 0, 1, &c), SPARK_GID_OVERRIDDEN);
	cr_assert_eq(c.index, 1);
	cr_assert_eq(c.ipv4, 0, "a link-local GID is not IPv4");
	cr_assert_eq(spark_gid_select(t, n, NULL, NULL, 0, 4, &c), SPARK_GID_OVERRIDDEN);
	cr_assert_eq(c.ipv4, IP(192, 168, 100, 1));
}

Test(gid, override_of_a_missing_entry_is_refused)
{
	struct spark_gid_entry t[16];
	int n = spark_table(t, 3, IP(192, 168, 100, 1));
	struct spark_gid_choice c;
	cr_assert_eq(spark_gid_select(t, n, NULL, NULL, 0, 9, &c), SPARK_GID_OVERRIDE_BAD);
	struct spark_gid_entry zero = {.index = 2, .type = SPARK_GID_ROCE_V2};
	cr_assert_eq(spark_gid_select(&zero, 1, NULL, NULL, 0, 2, &c), SPARK_GID_OVERRIDE_BAD);
}

Test(gid, ipv4_helpers)
{
	uint32_t a;
	struct spark_gid_entry e = ipv4(0, SPARK_GID_ROCE_V2, IP(169, 254, 3, 4));
	cr_assert(spark_gid_is_ipv4(e.raw, &a));
	cr_assert_eq(a, IP(169, 254, 3, 4));
	struct spark_gid_entry l = link_local(0, SPARK_GID_ROCE_V2);
	cr_assert(!spark_gid_is_ipv4(l.raw, NULL));
	cr_assert(spark_ipv4_same_subnet(IP(192, 168, 100, 1), 24, IP(192, 168, 100, 2), 24));
	cr_assert(!spark_ipv4_same_subnet(IP(192, 168, 100, 1), 24, IP(192, 168, 101, 1), 24));
	cr_assert(spark_ipv4_same_subnet(IP(192, 168, 100, 1), 16, IP(192, 168, 101, 1), 24));
	cr_assert_eq(spark_ipv4_subnet(IP(10, 1, 2, 3), 0), 0);
	cr_assert_eq(spark_ipv4_subnet(IP(10, 1, 2, 3), 32), IP(10, 1, 2, 3));
	char buf[32];
	spark_ipv4_format(IP(192, 168, 100, 0), 24, buf, sizeof buf);
	cr_assert_str_eq(buf, "192.168.100.0/24");
}
