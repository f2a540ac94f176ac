#define _GNU_SOURCE  /* nftw, in rm_tree.h */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "rm_tree.h"
#include "sysfs.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	strcpy(dir, "/tmp/spark-sysfs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	cr_assert_eq(spark_rm_tree(dir), 0, "removing %s: %s", dir, strerror(errno));
}

TestSuite(sysfs, .init = setup, .fini = teardown);

Test(sysfs, read_first_line)
{
	char buf[64];
	put("state", "4: ACTIVE\nmore\n");
	cr_assert(spark_sysfs_read(dir, "state", buf, sizeof buf));
	cr_assert_str_eq(buf, "4: ACTIVE");
	cr_assert(!spark_sysfs_read(dir, "missing", buf, sizeof buf));
}

Test(sysfs, read_numbers)
{
	long v;
	put("width", "4\n");
	put("vendor", "0x15b3\n");
	put("junk", "x\n");
	cr_assert(spark_sysfs_read_long(dir, "width", &v));
	cr_assert_eq(v, 4);
	cr_assert(spark_sysfs_read_long(dir, "vendor", &v));
	cr_assert_eq(v, 0x15b3);
	cr_assert(!spark_sysfs_read_long(dir, "junk", &v));
}

Test(sysfs, malformed_numbers_are_rejected_and_reported)
{
	long v = 7;
	put("trailing", "4x\n");
	put("huge", "99999999999999999999\n");
	put("empty_line", "\n");
	capture_start();
	cr_assert(!spark_sysfs_read_long(dir, "trailing", &v));
	cr_assert(!spark_sysfs_read_long(dir, "huge", &v));
	cr_assert(!spark_sysfs_read_long(dir, "empty_line", &v));
	cr_assert_eq(v, 7, "left alone");
	cr_assert_eq(capture_warns, 3, "%s", capture_text);
	cr_assert(capture_has("/trailing: '4x' is not a number"), "%s", capture_text);
	cr_assert(capture_has("/huge: '99999999999999999999' is not a number"), "%s",
		  capture_text);
	cr_assert(!spark_sysfs_read_long(dir, "missing", &v));
	cr_assert_eq(capture_warns, 3, "a missing file is not malformed:\n%s", capture_text);
}

Test(sysfs, guid_text)
{
	uint64_t g;
	cr_assert(spark_sysfs_parse_guid("3c6d:6603:00aa:bb00", &g));
	cr_assert_eq(g, 0x3c6d660300aabb00ULL);
	cr_assert(!spark_sysfs_parse_guid("3c6d:6603:00aa", &g));
	cr_assert(!spark_sysfs_parse_guid("3c6d:6603:00aa:bb00x", &g));
	cr_assert(!spark_sysfs_parse_guid(" c6d:6603:00aa:bb00", &g));
	cr_assert(!spark_sysfs_parse_guid("0x6d:6603:00aa:bb00", &g));
	cr_assert(!spark_sysfs_parse_guid("3c6d:-603:00aa:bb00", &g));
}

Test(sysfs, first_entry_is_sorted)
{
	char path[256], buf[64];
	snprintf(path, sizeof path, "%s/net", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	put("net/enp1s0f1np1", "");
	put("net/enp1s0f0np0", "");
	cr_assert(spark_sysfs_first_entry(dir, "net", buf, sizeof buf));
	cr_assert_str_eq(buf, "enp1s0f0np0");
	cr_assert(!spark_sysfs_first_entry(dir, "nothing", buf, sizeof buf));
}

Test(sysfs, netdev_of_a_port)
{
	char path[256], buf[64];
	snprintf(path, sizeof path, "%s/net", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/net/ens1f0np0", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/net/ens1f1np1", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	put("net/ens1f0np0/dev_port", "0\n");
	put("net/ens1f1np1/dev_port", "1\n");
	cr_assert(spark_sysfs_netdev_for_port(dir, "net", 2, buf, sizeof buf));
	cr_assert_str_eq(buf, "ens1f1np1");
	cr_assert(spark_sysfs_netdev_for_port(dir, "net", 1, buf, sizeof buf));
	cr_assert_str_eq(buf, "ens1f0np0");
	cr_assert(spark_sysfs_netdev_for_port(dir, "net", 3, buf, sizeof buf));
	cr_assert_str_eq(buf, "ens1f0np0", "no match: the first by name");
	cr_assert(!spark_sysfs_netdev_for_port(dir, "none", 1, buf, sizeof buf));
}
