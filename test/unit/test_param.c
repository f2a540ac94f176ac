#include <criterion/criterion.h>

#include "capture.h"
#include "param.h"

static struct spark_params load(const char *const *env, int expect_rejected)
{
	struct spark_params p;
	capture_start();
	int rejected = spark_params_load(&p, env);
	cr_assert_eq(rejected, expect_rejected, "rejected %d, log:\n%s", rejected, capture_text);
	return p;
}

/* A bad value: one WARN naming the variable and the accepted form, default kept. */
static struct spark_params load_bad(const char *assignment, const char *form_part)
{
	const char *env[] = {assignment, NULL};
	struct spark_params p = load(env, 1);
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)strcspn(assignment, "="), assignment);
	cr_assert_eq(capture_warns, 1, "log:\n%s", capture_text);
	cr_assert(capture_has(name), "WARN lacks the variable name:\n%s", capture_text);
	cr_assert(capture_has(form_part), "WARN lacks the form '%s':\n%s", form_part,
		  capture_text);
	cr_assert(capture_has("default"), "%s", capture_text);
	return p;
}

Test(param, defaults)
{
	const char *env[] = {"PATH=/bin", NULL};
	struct spark_params p = load(env, 0);
	cr_assert(!p.hca.set);
	cr_assert(!p.pairs.set);
	cr_assert_eq(p.gid_index, -1);
	cr_assert_eq(p.pci_path, SPARK_PCI_PATH_AUTO);
	cr_assert_eq(p.mlx5dv, 1);
	cr_assert_eq(p.min_stripe, 32768);
	cr_assert_eq(p.adaptive_weights, 1);
	cr_assert_eq(p.ib_timeout, 20);
	cr_assert_eq(p.ib_retry_cnt, 7);
	cr_assert_eq(p.ib_tc, 0);
	cr_assert_eq(p.ib_sl, 0);
	cr_assert_eq(p.peer_timeout, 30);
	cr_assert_eq(capture_warns, 0);
}

Test(param, null_environment)
{
	struct spark_params p = load(NULL, 0);
	cr_assert_eq(p.ib_timeout, 20);
}

Test(param, hca)
{
	const char *env[] = {"NCCL_SPARK_HCA=^=rocep1s0f1:1", NULL};
	struct spark_params p = load(env, 0);
	cr_assert(p.hca.set && p.hca.exclude && p.hca.exact);
	cr_assert(capture_has("NCCL_SPARK_HCA set by environment to ^=rocep1s0f1:1"));
	p = load_bad("NCCL_SPARK_HCA=a,,b", "[^][=]name[:port]");
	cr_assert(!p.hca.set);
	cr_assert(capture_has("bad HCA name"));
}

Test(param, pairs)
{
	const char *env[] = {"NCCL_SPARK_PAIRS=rocep1s0f0+roceP2p1s0f0", NULL};
	struct spark_params p = load(env, 0);
	cr_assert(p.pairs.set);
	cr_assert_eq(p.pairs.n, 1);
	p = load_bad("NCCL_SPARK_PAIRS=a+b+c", "hca[+hca]");
	cr_assert(!p.pairs.set);
}

Test(param, gid_index)
{
	const char *env[] = {"NCCL_SPARK_GID_INDEX=5", NULL};
	cr_assert_eq(load(env, 0).gid_index, 5);
	const char *env2[] = {"NCCL_SPARK_GID_INDEX=-1", NULL};
	cr_assert_eq(load(env2, 0).gid_index, -1);
	cr_assert_eq(load_bad("NCCL_SPARK_GID_INDEX=256", "0..255").gid_index, -1);
	cr_assert_eq(load_bad("NCCL_SPARK_GID_INDEX=", "0..255").gid_index, -1);
	cr_assert_eq(load_bad("NCCL_SPARK_GID_INDEX=3x", "0..255").gid_index, -1);
	cr_assert_eq(load_bad("NCCL_SPARK_GID_INDEX=-2", "0..255").gid_index, -1);
	cr_assert_eq(load_bad("NCCL_SPARK_GID_INDEX= 3", "0..255").gid_index, -1);
}

Test(param, pci_path)
{
	const char *env[] = {"NCCL_SPARK_PCI_PATH=rail0", NULL};
	cr_assert_eq(load(env, 0).pci_path, SPARK_PCI_PATH_RAIL0);
	const char *env2[] = {"NCCL_SPARK_PCI_PATH=NONE", NULL};
	cr_assert_eq(load(env2, 0).pci_path, SPARK_PCI_PATH_NONE);
	cr_assert_eq(load_bad("NCCL_SPARK_PCI_PATH=rail1", "auto, rail0 or none").pci_path,
		     SPARK_PCI_PATH_AUTO);
}

Test(param, mlx5dv_bool_forms)
{
	static const char *const off[] = {"0", "no", "false", "OFF"};
	for (int i = 0; i < 4; i++) {
		char a[64];
		snprintf(a, sizeof a, "NCCL_SPARK_MLX5DV=%s", off[i]);
		const char *env[] = {a, NULL};
		cr_assert_eq(load(env, 0).mlx5dv, 0, "%s", a);
	}
	const char *on[] = {"NCCL_SPARK_MLX5DV=yes", NULL};
	cr_assert_eq(load(on, 0).mlx5dv, 1);
	cr_assert_eq(load_bad("NCCL_SPARK_MLX5DV=2", "0 or 1").mlx5dv, 1);
}

Test(param, min_stripe)
{
	const char *env[] = {"NCCL_SPARK_MIN_STRIPE=64K", NULL};
	cr_assert_eq(load(env, 0).min_stripe, 65536);
	const char *env2[] = {"NCCL_SPARK_MIN_STRIPE=1M", NULL};
	cr_assert_eq(load(env2, 0).min_stripe, 1 << 20);
	const char *env3[] = {"NCCL_SPARK_MIN_STRIPE=384", NULL};
	cr_assert_eq(load(env3, 0).min_stripe, 384);
	cr_assert_eq(load_bad("NCCL_SPARK_MIN_STRIPE=100", "multiple of 128").min_stripe, 32768);
	cr_assert(capture_has("not a multiple of 128"));
	cr_assert_eq(load_bad("NCCL_SPARK_MIN_STRIPE=0", "multiple of 128").min_stripe, 32768);
	cr_assert_eq(load_bad("NCCL_SPARK_MIN_STRIPE=2G", "multiple of 128").min_stripe, 32768);
	cr_assert_eq(load_bad("NCCL_SPARK_MIN_STRIPE=64KB", "multiple of 128").min_stripe, 32768);
	cr_assert_eq(load_bad("NCCL_SPARK_MIN_STRIPE=-128", "multiple of 128").min_stripe, 32768);
	cr_assert_eq(load_bad("NCCL_SPARK_MIN_STRIPE=99999999999999999999", "K/M/G").min_stripe,
		     32768);
}

Test(param, adaptive_weights)
{
	const char *env[] = {"NCCL_SPARK_ADAPTIVE_WEIGHTS=0", NULL};
	cr_assert_eq(load(env, 0).adaptive_weights, 0);
	cr_assert_eq(load_bad("NCCL_SPARK_ADAPTIVE_WEIGHTS=maybe", "0 or 1").adaptive_weights, 1);
}

Test(param, ib_timeout)
{
	const char *env[] = {"NCCL_SPARK_IB_TIMEOUT=14", NULL};
	cr_assert_eq(load(env, 0).ib_timeout, 14);
	cr_assert_eq(load_bad("NCCL_SPARK_IB_TIMEOUT=0", "1..31").ib_timeout, 20);
	cr_assert_eq(load_bad("NCCL_SPARK_IB_TIMEOUT=32", "1..31").ib_timeout, 20);
}

Test(param, ib_retry_cnt)
{
	const char *env[] = {"NCCL_SPARK_IB_RETRY_CNT=0", NULL};
	cr_assert_eq(load(env, 0).ib_retry_cnt, 0);
	cr_assert_eq(load_bad("NCCL_SPARK_IB_RETRY_CNT=8", "0..7").ib_retry_cnt, 7);
}

Test(param, ib_tc)
{
	const char *env[] = {"NCCL_SPARK_IB_TC=106", NULL};
	cr_assert_eq(load(env, 0).ib_tc, 106);
	cr_assert_eq(load_bad("NCCL_SPARK_IB_TC=256", "0..255").ib_tc, 0);
}

Test(param, ib_sl)
{
	const char *env[] = {"NCCL_SPARK_IB_SL=3", NULL};
	cr_assert_eq(load(env, 0).ib_sl, 3);
	cr_assert_eq(load_bad("NCCL_SPARK_IB_SL=16", "0..15").ib_sl, 0);
}

Test(param, peer_timeout)
{
	const char *env[] = {"NCCL_SPARK_PEER_TIMEOUT=3", NULL};
	cr_assert_eq(load(env, 0).peer_timeout, 3);
	cr_assert_eq(load_bad("NCCL_SPARK_PEER_TIMEOUT=1", "2..3600").peer_timeout, 30);
	cr_assert_eq(load_bad("NCCL_SPARK_PEER_TIMEOUT=3601", "2..3600").peer_timeout, 30);
	cr_assert_eq(load_bad("NCCL_SPARK_PEER_TIMEOUT=5s", "seconds").peer_timeout, 30);
}

Test(param, failback)
{
	cr_assert_eq(load((const char *[]){NULL}, 0).failback, 1);
	const char *env[] = {"NCCL_SPARK_FAILBACK=0", NULL};
	cr_assert_eq(load(env, 0).failback, 0);
	cr_assert_eq(load_bad("NCCL_SPARK_FAILBACK=2", "0 or 1").failback, 1);
}

Test(param, unknown_variable_is_reported)
{
	const char *env[] = {"NCCL_SPARK_GID_IDX=3", "NCCL_IB_HCA=mlx5", NULL};
	load(env, 1);
	cr_assert(capture_has("unknown variable NCCL_SPARK_GID_IDX"), "%s", capture_text);
	cr_assert(!capture_has("NCCL_IB_HCA"));
}

Test(param, one_bad_value_keeps_the_others)
{
	const char *env[] = {"NCCL_SPARK_IB_SL=99", "NCCL_SPARK_IB_TC=7", NULL};
	struct spark_params p = load(env, 1);
	cr_assert_eq(p.ib_sl, 0);
	cr_assert_eq(p.ib_tc, 7);
}

Test(param, effective_values_logged)
{
	const char *env[] = {"NCCL_SPARK_IB_TIMEOUT=18", NULL};
	struct spark_params p = load(env, 0);
	spark_params_log(&p);
	cr_assert(capture_has("IB_TIMEOUT=18"), "%s", capture_text);
	cr_assert(capture_has("MIN_STRIPE=32768"), "%s", capture_text);
}

Test(param, every_variable_is_documented)
{
	FILE *f = fopen("docs/configuration.md", "r");
	cr_assert_not_null(f, "run from the repository root");
	static char doc[65536];
	size_t n = fread(doc, 1, sizeof doc - 1, f);
	doc[n] = '\0';
	fclose(f);
	for (int i = 0; i < spark_param_count(); i++)
		cr_assert(strstr(doc, spark_param_name(i)) != NULL, "%s missing from docs",
			  spark_param_name(i));
}

Test(param, strict_number_parsers)
{
	long v;
	int b;
	cr_assert_eq(spark_parse_long("42", &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(spark_parse_long("4 2", &v), -1);
	cr_assert_eq(spark_parse_long("", &v), -1);
	cr_assert_eq(spark_parse_size("2k", &v), 0);
	cr_assert_eq(v, 2048);
	cr_assert_eq(spark_parse_size("2g", &v), 0);
	cr_assert_eq(v, 2L << 30);
	cr_assert_eq(spark_parse_size("k", &v), -1);
	cr_assert_eq(spark_parse_bool("TRUE", &b), 0);
	cr_assert_eq(b, 1);
	cr_assert_eq(spark_parse_bool("10", &b), -1);
}
