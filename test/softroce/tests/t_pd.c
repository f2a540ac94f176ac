/* Protection domains and pinned memory as mlx5 and the kernel enforce them:
 * an lkey of another PD is a local protection error even on the same
 * context, and reg_mr charges the pages it pins against RLIMIT_MEMLOCK
 * (ENOMEM past it, unless the thread has CAP_IPC_LOCK), per MR, so the same
 * pages registered twice count twice. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sr_test.h"

TestSuite(rule2_pd, .fini = sr_teardown, .timeout = 60);

Test(rule2_pd, lkey_of_other_pd_on_same_context_is_loc_prot_err)
{
	sr_fabric_setup();
	struct sr_pair p;
	sr_pair_default(&p);
	struct sr_ep *ep = &p.side.ep[0];
	struct ibv_mr *other = ep->mr[SR_MR_OTHER_PD];
	cr_assert_eq(other->pd->context, ep->qp->context, "same context, other PD");
	struct ibv_sge sge = {.addr = (uintptr_t)other->addr, .length = 64, .lkey = other->lkey};
	struct ibv_send_wr wr = {.wr_id = 0xabc, .sg_list = &sge, .num_sge = 1,
				 .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED};
	wr.wr.rdma.remote_addr = ep->remote.mr[SR_MR_FULL].addr;
	wr.wr.rdma.rkey = ep->remote.mr[SR_MR_FULL].rkey;
	struct ibv_send_wr *bad;
	cr_assert_eq(ibv_post_send(ep->qp, &wr, &bad), 0);
	struct ibv_wc wc;
	cr_assert_eq(sr_poll(ep->scq, &wc, 1, SR_DEADLINE_MS), 1, "no completion");
	cr_assert_eq(wc.status, IBV_WC_LOC_PROT_ERR, "got %s", ibv_wc_status_str(wc.status));
	cr_assert_eq(sr_wait_state(ep->qp, IBV_QPS_ERR, SR_DEADLINE_MS), IBV_QPS_ERR);
	sr_pair_stop(&p);
}

static void set_ipc_lock(bool on)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	cr_assert_eq(syscall(SYS_capget, &h, d), 0, "capget: %s", strerror(errno));
	if (on)
		d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective |= CAP_TO_MASK(CAP_IPC_LOCK);
	else
		d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	cr_assert_eq(syscall(SYS_capset, &h, d), 0, "capset: %s", strerror(errno));
}

static bool permitted_ipc_lock(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	return syscall(SYS_capget, &h, d) == 0 &&
	       (d[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted & CAP_TO_MASK(CAP_IPC_LOCK));
}

static void memlock_pages(size_t pages)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	rl.rlim_cur = pages * page;
	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0, "setrlimit: %s", strerror(errno));
}

#define RW (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)

static uint8_t *map_pages(size_t pages)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *m = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	memset(m, 1, pages * page);
	return m;
}

Test(rule2_pd, memlock_limit_is_enomem_and_counts_each_mr)
{
	sr_fabric_setup();
	struct sr_side side = {0};
	struct ibv_pd *pd = ibv_alloc_pd(sr_open(&side, SR_HCA0));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf = map_pages(32);
	set_ipc_lock(false);
	memlock_pages(16);
	struct ibv_mr *a = ibv_reg_mr(pd, buf, 16 * page, RW);
	cr_assert_not_null(a, "16 pages fit a 16-page limit: %s", strerror(errno));
	errno = 0;
	cr_assert_null(ibv_reg_mr(pd, buf, 1, RW), "the same page pinned again counts again");
	cr_assert_eq(errno, ENOMEM, "errno %d", errno);
	cr_assert_eq(ibv_dereg_mr(a), 0);
	a = ibv_reg_mr(pd, buf + 16 * page, 16 * page, RW);
	cr_assert_not_null(a, "dereg gave the pages back: %s", strerror(errno));
	cr_assert_eq(ibv_dereg_mr(a), 0);
	errno = 0;
	cr_assert_null(ibv_reg_mr(pd, buf, 17 * page, RW));
	cr_assert_eq(errno, ENOMEM);
	/* Two bytes across a page boundary pin two pages. */
	memlock_pages(2);
	a = ibv_reg_mr(pd, buf + page - 1, 2, RW);
	cr_assert_not_null(a);
	cr_assert_null(ibv_reg_mr(pd, buf + 8 * page, 1, RW), "two pages were charged");
	cr_assert_eq(ibv_dereg_mr(a), 0);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
	munmap(buf, 32 * page);
}

Test(rule2_pd, cap_ipc_lock_lifts_the_limit)
{
	if (!permitted_ipc_lock())
		cr_skip_test("needs CAP_IPC_LOCK in the permitted set (root)");
	sr_fabric_setup();
	struct sr_side side = {0};
	struct ibv_pd *pd = ibv_alloc_pd(sr_open(&side, SR_HCA0));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf = map_pages(8);
	memlock_pages(1);
	set_ipc_lock(false);
	cr_assert_null(ibv_reg_mr(pd, buf, 8 * page, RW), "the limit holds without the cap");
	set_ipc_lock(true);
	struct ibv_mr *a = ibv_reg_mr(pd, buf, 8 * page, RW);
	cr_assert_not_null(a, "CAP_IPC_LOCK ignores the limit: %s", strerror(errno));
	cr_assert_eq(ibv_dereg_mr(a), 0);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
	munmap(buf, 8 * page);
}

Test(rule2_pd, dmabuf_mr_pins_nothing)
{
	sr_fabric_setup();
	struct sr_side side = {0};
	struct ibv_pd *pd = ibv_alloc_pd(sr_open(&side, SR_HCA0));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int fd = memfd_create("t_pd", 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)(8 * page)), 0);
	set_ipc_lock(false);
	memlock_pages(1);
	struct ibv_mr *a = ibv_reg_dmabuf_mr(pd, 0, 8 * page, 0x10000, fd, RW);
	cr_assert_not_null(a, "dma-buf memory is not pinned user memory: %s", strerror(errno));
	uint8_t *buf = map_pages(1);
	struct ibv_mr *b = ibv_reg_mr(pd, buf, page, RW);
	cr_assert_not_null(b, "the dma-buf MR left the one page free");
	cr_assert_eq(ibv_dereg_mr(b), 0);
	cr_assert_eq(ibv_dereg_mr(a), 0);
	close(fd);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
	munmap(buf, page);
}

/* rdma-core's fork rule where the kernel lacks copy-on-fork for pinned
 * pages: ibv_fork_init works before the first registration (and again:
 * idempotent), and is refused with EINVAL after one, so a plugin that calls
 * it late learns so here as it would there. */
Test(rule2_pd, fork_init_before_registration_only)
{
	sr_fabric_setup();
	cr_assert_eq(ibv_is_fork_initialized(), IBV_FORK_DISABLED);
	cr_assert_eq(ibv_fork_init(), 0);
	cr_assert_eq(ibv_fork_init(), 0, "a second call is harmless");
	cr_assert_eq(ibv_is_fork_initialized(), IBV_FORK_ENABLED);
}

Test(rule2_pd, fork_init_after_registration_is_einval)
{
	sr_fabric_setup();
	struct sr_side side = {0};
	struct ibv_pd *pd = ibv_alloc_pd(sr_open(&side, SR_HCA0));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf = map_pages(1);
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, page, RW);
	cr_assert_not_null(mr);
	cr_assert_eq(ibv_fork_init(), EINVAL, "too late after a registration");
	cr_assert_eq(ibv_is_fork_initialized(), IBV_FORK_DISABLED);
	cr_assert_eq(ibv_dereg_mr(mr), 0);
	ibv_dealloc_pd(pd);
	sr_side_destroy(&side);
	munmap(buf, page);
}
