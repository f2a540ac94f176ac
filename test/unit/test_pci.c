#include <criterion/criterion.h>

#include "pci.h"

Test(pci, parse_addresses)
{
	struct spark_pci_addr a;
	cr_assert(spark_pci_parse("0002:01:00.1", &a));
	cr_assert_eq(a.domain, 2);
	cr_assert_eq(a.bus, 1);
	cr_assert_eq(a.dev, 0);
	cr_assert_eq(a.fn, 1);
	cr_assert(spark_pci_parse("0000:3b:00.0", &a));
	cr_assert_eq(a.bus, 0x3b);
	cr_assert(!spark_pci_parse("2:01:00.1", &a));
	cr_assert(!spark_pci_parse("0000:01:00", &a));
	cr_assert(!spark_pci_parse("0000:01:00.1x", &a));
}

Test(pci, malformed_addresses_are_rejected)
{
	struct spark_pci_addr a;
	cr_assert(spark_pci_parse("0000:01:1f.7/net", &a), "a path goes on after it");
	cr_assert(!spark_pci_parse(" 002:01:00.1", &a));
	cr_assert(!spark_pci_parse("+002:01:00.1", &a));
	cr_assert(!spark_pci_parse("0x02:01:00.1", &a));
	cr_assert(!spark_pci_parse("0002: 1:00.1", &a));
	cr_assert(!spark_pci_parse("0002:-1:00.1", &a));
	cr_assert(!spark_pci_parse("0002:01:20.0", &a), "device is 5 bits");
	cr_assert(!spark_pci_parse("0002:01:00.8", &a), "function is 3 bits");
	cr_assert(!spark_pci_parse("", &a));
}

Test(pci, address_from_a_sysfs_path)
{
	struct spark_pci_addr a;
	cr_assert(spark_pci_from_path("/sys/devices/pci0002:00/0002:00:00.0/0002:01:00.0", &a));
	cr_assert_eq(a.domain, 2);
	cr_assert_eq(a.bus, 1);
	cr_assert(!spark_pci_from_path("/sys/devices/virtual/net/lo", &a));
}

Test(pci, order)
{
	struct spark_pci_addr a = {0, 1, 0, 1}, b = {2, 1, 0, 0}, c = {0, 1, 0, 0};
	cr_assert_lt(spark_pci_cmp(&a, &b), 0);
	cr_assert_gt(spark_pci_cmp(&a, &c), 0);
	cr_assert_eq(spark_pci_cmp(&a, &a), 0);
}

Test(pci, link_speed_text)
{
	cr_assert_eq(spark_pcie_gen_from_speed("32.0 GT/s PCIe"), 5);
	cr_assert_eq(spark_pcie_gen_from_speed("16.0 GT/s PCIe"), 4);
	cr_assert_eq(spark_pcie_gen_from_speed("8.0 GT/s PCIe"), 3);
	cr_assert_eq(spark_pcie_gen_from_speed("2.5 GT/s PCIe"), 1);
	cr_assert_eq(spark_pcie_gen_from_speed("Unknown"), 0);
	cr_assert_eq(spark_pcie_gen_from_speed("12.0 GT/s"), 0);
}

Test(pci, link_rates_and_degradation)
{
	cr_assert_eq(spark_pcie_mbps(5, 4), 126032);
	cr_assert_eq(spark_pcie_mbps(5, 2), 63016);
	cr_assert_eq(spark_pcie_mbps(0, 4), 0);
	struct spark_pcie_link x4 = {5, 4, 0}, x2 = {5, 2, 0}, g4 = {4, 4, 0}, unknown = {0, 0, 0};
	cr_assert(!spark_pcie_degraded(&x4));
	cr_assert(spark_pcie_degraded(&x2));
	cr_assert(spark_pcie_degraded(&g4));
	cr_assert(!spark_pcie_degraded(&unknown));
	char buf[32];
	spark_pcie_format(&x2, buf, sizeof buf);
	cr_assert_str_eq(buf, "Gen5 x2");
	spark_pcie_format(&unknown, buf, sizeof buf);
	cr_assert_str_eq(buf, "unknown");
}
