/* Request handles NCCL passes back: one inside a live comm's request array,
 * at a whole element, is accepted; anything else (between elements, outside
 * every array, in an array already removed, NULL) is ncclInvalidUsage. */
#include <criterion/criterion.h>

#include "handle_check.h"

struct fake_req {
	int kind;
	void *comm;
	char pad[40];
};

Test(handle_check, live_elements_only)
{
	static struct fake_req pool[17];   /* one element apart: a[8] is in no array */
	struct fake_req *a = &pool[0], *b = &pool[9], *c = &pool[14];
	cr_assert_eq(spark_req_range_add(b, 4, sizeof b[0]), ncclSuccess);
	cr_assert_eq(spark_req_range_add(a, 8, sizeof a[0]), ncclSuccess);
	cr_assert_eq(spark_req_range_add(c, 2, sizeof c[0]), ncclSuccess);
	cr_assert_eq(spark_req_ranges(), 3);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(spark_req_check(&a[i], "test"), ncclSuccess, "a[%d]", i);
	cr_assert_eq(spark_req_check(&b[3], "test"), ncclSuccess);
	cr_assert_eq(spark_req_check(&c[0], "test"), ncclSuccess);
	cr_assert_eq(spark_req_check((char *)&a[2] + 8, "test"), ncclInvalidUsage, "mid-element");
	cr_assert_eq(spark_req_check(&a[8], "test"), ncclInvalidUsage, "one past the end");
	cr_assert_eq(spark_req_check(NULL, "test"), ncclInvalidUsage);
	int other;
	cr_assert_eq(spark_req_check(&other, "test"), ncclInvalidUsage, "not a request");
	spark_req_range_remove(a);
	cr_assert_eq(spark_req_check(&a[0], "test"), ncclInvalidUsage, "its comm was freed");
	cr_assert_eq(spark_req_check(&b[0], "test"), ncclSuccess, "others stay");
	spark_req_range_remove(b);
	spark_req_range_remove(c);
	cr_assert_eq(spark_req_ranges(), 0);
	cr_assert_eq(spark_req_check(&c[0], "test"), ncclInvalidUsage);
}

Test(handle_check, bad_arrays_are_refused)
{
	static struct fake_req a[2];
	cr_assert_neq(spark_req_range_add(NULL, 2, sizeof a[0]), ncclSuccess);
	cr_assert_neq(spark_req_range_add(a, 0, sizeof a[0]), ncclSuccess);
	cr_assert_neq(spark_req_range_add(a, 2, 0), ncclSuccess);
	cr_assert_eq(spark_req_ranges(), 0);
}
