#include <criterion/criterion.h>
#include <stdio.h>

#include "pairs_spec.h"

static void parse_bad(const char *text, const char *why)
{
	struct spark_pairs p;
	char err[128] = "";
	cr_assert_eq(spark_pairs_parse(text, &p, err, sizeof err), -1, "accepted '%s'", text);
	cr_assert(strstr(err, why) != NULL, "'%s': error '%s' lacks '%s'", text, err, why);
	cr_assert(!p.set);
}

Test(pairs, two_pairs)
{
	struct spark_pairs p;
	char err[128];
	cr_assert_eq(spark_pairs_parse("rocep1s0f0+roceP2p1s0f0,rocep1s0f1+roceP2p1s0f1", &p, err,
				       sizeof err), 0);
	cr_assert(p.set);
	cr_assert_eq(p.n, 2);
	cr_assert_eq(p.dev[0].nrails, 2);
	cr_assert_str_eq(p.dev[0].name[0], "rocep1s0f0");
	cr_assert_str_eq(p.dev[0].name[1], "roceP2p1s0f0");
	cr_assert_str_eq(p.dev[1].name[0], "rocep1s0f1");
	cr_assert_str_eq(p.dev[1].name[1], "roceP2p1s0f1");
}

Test(pairs, single_rail_devices)
{
	struct spark_pairs p;
	char err[128];
	cr_assert_eq(spark_pairs_parse("mlx5_0,rocep1s0f0+roceP2p1s0f0", &p, err, sizeof err), 0);
	cr_assert_eq(p.n, 2);
	cr_assert_eq(p.dev[0].nrails, 1);
	cr_assert_str_eq(p.dev[0].name[0], "mlx5_0");
}

Test(pairs, unset_when_empty)
{
	struct spark_pairs p;
	char err[128];
	cr_assert_eq(spark_pairs_parse("", &p, err, sizeof err), 0);
	cr_assert(!p.set);
	cr_assert_eq(spark_pairs_parse(NULL, &p, err, sizeof err), 0);
	cr_assert(!p.set);
}

Test(pairs, errors)
{
	parse_bad("a+b+c", "at most 2");
	parse_bad("a+", "bad HCA name");
	parse_bad("+b", "bad HCA name");
	parse_bad("a+b,", "bad HCA name");
	parse_bad("a++b", "bad HCA name");
	parse_bad("a+a", "named twice");
	parse_bad("a+b,b+c", "named twice");
	parse_bad("a b", "bad HCA name");
}

Test(pairs, too_many_devices)
{
	char text[1024] = "";
	for (int i = 0; i < SPARK_MAX_DEVS + 1; i++)
		sprintf(text + strlen(text), "%sh%d", i ? "," : "", i);
	parse_bad(text, "more than");
}
