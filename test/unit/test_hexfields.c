#include <criterion/criterion.h>

#include "hexfields.h"

Test(hexfields, fields_in_order)
{
	unsigned long f[4] = {0};
	cr_assert_eq(spark_hex_fields("0002:c9:1F.7", "xxxx:xx:xx.x", f, 4), 4);
	cr_assert_eq(f[0], 0x2);
	cr_assert_eq(f[1], 0xc9);
	cr_assert_eq(f[2], 0x1f);
	cr_assert_eq(f[3], 7);
	cr_assert_eq(spark_hex_fields("ffffffff", "xxxxxxxx", f, 1), 1);
	cr_assert_eq(f[0], 0xffffffffUL);
}

Test(hexfields, text_after_the_pattern_is_the_callers)
{
	unsigned long f[1];
	cr_assert_eq(spark_hex_fields("ab/rest", "xx", f, 1), 1);
	cr_assert_eq(f[0], 0xab);
}

Test(hexfields, what_scanf_would_have_taken)
{
	unsigned long f[4];
	const char *pattern = "xxxx:xx";
	cr_assert_eq(spark_hex_fields(" 002:01", pattern, f, 4), -1, "blank");
	cr_assert_eq(spark_hex_fields("+002:01", pattern, f, 4), -1, "sign");
	cr_assert_eq(spark_hex_fields("-002:01", pattern, f, 4), -1, "sign");
	cr_assert_eq(spark_hex_fields("0x02:01", pattern, f, 4), -1, "0x prefix");
	cr_assert_eq(spark_hex_fields("02:01", pattern, f, 4), -1, "short field");
	cr_assert_eq(spark_hex_fields("0002:0", pattern, f, 4), -1, "text ends early");
	cr_assert_eq(spark_hex_fields("", pattern, f, 4), -1, "empty");
	cr_assert_eq(spark_hex_fields("0002-01", pattern, f, 4), -1, "wrong separator");
	cr_assert_eq(spark_hex_fields("000g:01", pattern, f, 4), -1, "not hex");
}

Test(hexfields, more_fields_than_room)
{
	unsigned long f[2] = {0, 0};
	cr_assert_eq(spark_hex_fields("1:2:3", "x:x:x", f, 2), -1);
}

Test(hexfields, field_wider_than_unsigned_long)
{
	unsigned long f[1];
	cr_assert_eq(spark_hex_fields("11112222333344445", "xxxxxxxxxxxxxxxxx", f, 1), -1);
}
