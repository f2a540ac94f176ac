/* The parts of libibverbs.so.1's ABI that exist for other libraries
 * (librdmacm, providers, old binaries): present at their versions and
 * behaving as a kernel without the feature, never crashing.  check-abi.sh
 * checks that every symbol exists; this checks what a few of them do. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rdma/ib_user_verbs.h>

#include "sr_test.h"

TestSuite(abi, .fini = sr_teardown, .timeout = 30);

/* Not declared by the installed headers (rdma-core keeps them internal). */
const char *ibv_get_sysfs_path(void);
int ibv_read_sysfs_file(const char *dir, const char *file, char *buf, size_t size);
void ibv_copy_qp_attr_from_kern(struct ibv_qp_attr *dst, struct ib_uverbs_qp_attr *src);

Test(abi, sysfs_path_is_the_hosts_tree)
{
	const char *fab = sr_fabric_setup();
	char want[512];
	snprintf(want, sizeof(want), "%s/sys/a", fab);
	cr_assert_str_eq(ibv_get_sysfs_path(), want);
	struct ibv_device **list = ibv_get_device_list(NULL);   /* builds the tree */
	cr_assert_not_null(list);
	ibv_free_device_list(list);
	char buf[64];
	cr_assert_gt(ibv_read_sysfs_file(ibv_get_sysfs_path(),
					 "class/infiniband/roceP2p1s0f0/ports/1/gid_attrs/types/3",
					 buf, sizeof(buf)), 0, "no emulated tree below the sysfs path");
	cr_assert_str_eq(buf, "RoCE v2");
	/* librdmacm's probe finds no rdma_cm here and gives up cleanly */
	cr_assert_lt(ibv_read_sysfs_file(ibv_get_sysfs_path(), "class/misc/rdma_cm/abi_version",
					 buf, sizeof(buf)), 0);
}

Test(abi, copy_qp_attr_from_kern)
{
	struct ib_uverbs_qp_attr k;
	memset(&k, 0, sizeof(k));
	k.qp_state = IBV_QPS_RTS;
	k.cur_qp_state = IBV_QPS_RTR;
	k.path_mtu = IBV_MTU_4096;
	k.dest_qp_num = 0x123456;
	k.rq_psn = 77;
	k.max_send_wr = 64;
	k.ah_attr.grh.sgid_index = 3;
	k.ah_attr.grh.dgid[15] = 0x42;
	k.ah_attr.is_global = 1;
	k.ah_attr.port_num = 1;
	k.timeout = 14;
	k.rnr_retry = 7;
	struct ibv_qp_attr a;
	memset(&a, 0xa5, sizeof(a));
	ibv_copy_qp_attr_from_kern(&a, &k);
	cr_assert_eq(a.cur_qp_state, IBV_QPS_RTR);
	cr_assert_eq(a.path_mtu, IBV_MTU_4096);
	cr_assert_eq(a.dest_qp_num, 0x123456);
	cr_assert_eq(a.rq_psn, 77);
	cr_assert_eq(a.cap.max_send_wr, 64);
	cr_assert_eq(a.ah_attr.grh.sgid_index, 3);
	cr_assert_eq(a.ah_attr.grh.dgid.raw[15], 0x42);
	cr_assert_eq(a.ah_attr.is_global, 1);
	cr_assert_eq(a.timeout, 14);
	cr_assert_eq(a.rnr_retry, 7);
}

/* A provider's command and an old-ABI entry: ENOSYS, no crash. */
Test(abi, provider_and_compat_entries_fail_cleanly)
{
	sr_fabric_setup();
	void *lib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(lib, "softroce's libibverbs is not loaded: %s", dlerror());
	int (*cmd)(void) = (int (*)(void))dlvsym(lib, "ibv_cmd_destroy_cq", "IBVERBS_PRIVATE_34");
	cr_assert_not_null(cmd);
	errno = 0;
	cr_assert_eq(cmd(), ENOSYS);
	void *(*old)(void) = (void *(*)(void))dlvsym(lib, "ibv_get_device_list", "IBVERBS_1.0");
	void *(*cur)(void) = (void *(*)(void))dlvsym(lib, "ibv_get_device_list", "IBVERBS_1.1");
	cr_assert(old && cur && old != cur, "1.0 and 1.1 entries must differ");
	errno = 0;
	cr_assert_null(old());
	cr_assert_eq(errno, ENOSYS);
	dlclose(lib);
}
