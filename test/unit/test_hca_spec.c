#include <criterion/criterion.h>
#include <stdio.h>

#include "hca_spec.h"

static struct spark_hca_filter parse_ok(const char *text)
{
	struct spark_hca_filter f;
	char err[128] = "";
	cr_assert_eq(spark_hca_filter_parse(text, &f, err, sizeof err), 0, "%s: %s", text, err);
	return f;
}

static void parse_bad(const char *text, const char *why)
{
	struct spark_hca_filter f;
	char err[128] = "";
	cr_assert_eq(spark_hca_filter_parse(text, &f, err, sizeof err), -1, "accepted '%s'", text);
	cr_assert(strstr(err, why) != NULL, "'%s': error '%s' lacks '%s'", text, err, why);
	cr_assert(!f.set);
}

Test(hca_filter, unset_passes_everything)
{
	struct spark_hca_filter f = parse_ok(NULL);
	cr_assert(!f.set);
	cr_assert(spark_hca_filter_match(&f, "rocep1s0f0", 1));
	f = parse_ok("");
	cr_assert(spark_hca_filter_match(&f, "mlx5_0", 2));
}

Test(hca_filter, prefix_match_by_default)
{
	struct spark_hca_filter f = parse_ok("rocep1s0f1,roceP2");
	cr_assert(f.set && !f.exclude && !f.exact);
	cr_assert_eq(f.n, 2);
	cr_assert(spark_hca_filter_match(&f, "rocep1s0f1", 1));
	cr_assert(spark_hca_filter_match(&f, "rocep1s0f10", 1), "prefix match");
	cr_assert(spark_hca_filter_match(&f, "roceP2p1s0f0", 1));
	cr_assert(!spark_hca_filter_match(&f, "rocep1s0f0", 1));
}

Test(hca_filter, exact_match_with_equals)
{
	struct spark_hca_filter f = parse_ok("=rocep1s0f1,roceP2p1s0f1");
	cr_assert(f.exact);
	cr_assert(spark_hca_filter_match(&f, "rocep1s0f1", 1));
	cr_assert(!spark_hca_filter_match(&f, "rocep1s0f10", 1));
	cr_assert(!spark_hca_filter_match(&f, "roceP2p1s0f", 1));
}

Test(hca_filter, exclude_with_caret)
{
	struct spark_hca_filter f = parse_ok("^rocep1s0f1");
	cr_assert(f.exclude && !f.exact);
	cr_assert(!spark_hca_filter_match(&f, "rocep1s0f1", 1));
	cr_assert(spark_hca_filter_match(&f, "rocep1s0f0", 1));
	f = parse_ok("^=mlx5_1");
	cr_assert(f.exclude && f.exact);
	cr_assert(!spark_hca_filter_match(&f, "mlx5_1", 1));
	cr_assert(spark_hca_filter_match(&f, "mlx5_10", 1));
}

Test(hca_filter, port_limits_an_entry)
{
	struct spark_hca_filter f = parse_ok("mlx5_0:1,rocep1s0f0");
	cr_assert_eq(f.entry[0].port, 1);
	cr_assert_eq(f.entry[1].port, -1);
	cr_assert(spark_hca_filter_match(&f, "mlx5_0", 1));
	cr_assert(!spark_hca_filter_match(&f, "mlx5_0", 2));
	cr_assert(spark_hca_filter_match(&f, "rocep1s0f0", 2));
	f = parse_ok("^mlx5_0:2");
	cr_assert(spark_hca_filter_match(&f, "mlx5_0", 1));
	cr_assert(!spark_hca_filter_match(&f, "mlx5_0", 2));
}

Test(hca_filter, errors_name_the_problem)
{
	parse_bad("^", "no HCA");
	parse_bad("=", "no HCA");
	parse_bad("a,,b", "bad HCA name");
	parse_bad("rocep1s0f0,", "bad HCA name");
	parse_bad("roce p1", "bad HCA name");
	parse_bad("mlx5_0:", "bad port");
	parse_bad("mlx5_0:0", "bad port");
	parse_bad("mlx5_0:x", "bad port");
	parse_bad("mlx5_0:1:2", "bad port");
	parse_bad("mlx5_0:256", "bad port");
	parse_bad("a234567890123456789012345678901234567890123456789012345678901234", "bad HCA name");
}

Test(hca_filter, too_many_entries)
{
	char text[1024] = "";
	for (int i = 0; i < SPARK_MAX_HCAS + 1; i++)
		sprintf(text + strlen(text), "%sh%d", i ? "," : "", i);
	parse_bad(text, "more than");
}
