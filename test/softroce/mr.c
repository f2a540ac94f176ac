/* softroce: protection domains and memory regions.  Keys are mlx5-shaped
 * (index << 8 | variant, lkey == rkey); indices grow monotonically so a key
 * is not handed out again right after dereg and stale keys fail.
 * Pinned memory is charged against RLIMIT_MEMLOCK as the kernel does
 * (ib_umem_get): each MR of user memory adds the pages it spans to the
 * process's pinned count, even pages another MR pinned already; past the
 * limit reg_mr fails with ENOMEM unless the calling thread has CAP_IPC_LOCK
 * in its effective set. dma-buf MRs pin nothing. */
#include "sr.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#undef ibv_reg_mr
#undef ibv_reg_mr_iova

static struct sr_mr **mr_tab;      /* indexed by key >> 8, minus the base */
static uint32_t mr_tab_len, mr_next, mr_base;
static uint8_t mr_variant;
static uint64_t pinned_pages;      /* the mm's pinned_vm, under SR_LOCK */

SR_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
	static uint32_t handles;
	struct sr_pd *pd = calloc(1, sizeof(*pd));
	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	pd->pd.context = ctx;
	pd->pd.handle = __atomic_add_fetch(&handles, 1, __ATOMIC_RELAXED);
	return &pd->pd;
}

SR_EXPORT int ibv_dealloc_pd(struct ibv_pd *ibpd)
{
	struct sr_pd *pd = (struct sr_pd *)ibpd;
	SR_LOCK();
	int busy = pd->refs;
	SR_UNLOCK();
	if (busy)
		return EBUSY;
	free(pd);
	return 0;
}

struct sr_mr *sr_mr_find(uint32_t key)
{
	uint32_t idx = key >> 8;
	if (idx < mr_base || idx - mr_base >= mr_tab_len)
		return NULL;
	struct sr_mr *mr = mr_tab[idx - mr_base];
	return mr && mr->mr.lkey == key ? mr : NULL;
}

bool sr_mr_covers(const struct sr_mr *mr, uint64_t iova, uint64_t len)
{
	return iova >= mr->iova && len <= mr->mr.length && iova - mr->iova <= mr->mr.length - len;
}

/* Every page must be mapped now, as pinning would require. mincore fails
 * with ENOMEM on any unmapped page of the range (and, unlike a
 * process_vm_readv probe, works under qemu-user). */
static bool mapped(void *addr, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~((uintptr_t)page - 1);
	size_t span = (uintptr_t)addr + len - start;
	unsigned char *vec = malloc((span + (size_t)page - 1) / (size_t)page);
	if (!vec)
		return false;
	bool ok = mincore((void *)start, span, vec) == 0;
	free(vec);
	return ok;
}

static int mr_slot(struct sr_mr *mr)
{
	if (!mr_tab) {
		mr_base = 0x100 + ((uint32_t)getpid() & 0xfff) * 0x10;
		mr_variant = (uint8_t)(getpid() * 37);
	}
	/* mr_tab and mr_tab_len change together; testing both lets the
	 * analyzer see the table exists past this block. */
	if (!mr_tab || mr_next >= mr_tab_len) {
		uint32_t len = mr_tab_len ? mr_tab_len * 2 : 1024;
		if (mr_base + len >= (1u << 24))
			return -ENOSPC;
		struct sr_mr **t = realloc(mr_tab, len * sizeof(struct sr_mr *));
		if (!t)
			return -ENOMEM;
		memset(t + mr_tab_len, 0, (len - mr_tab_len) * sizeof(struct sr_mr *));
		mr_tab = t;
		mr_tab_len = len;
	}
	uint32_t idx = mr_next++;
	mr_tab[idx] = mr;
	mr->mr.lkey = mr->mr.rkey = (mr_base + idx) << 8 | mr_variant++;
	return 0;
}

/* Pages [addr, addr + len) spans: what ib_umem_get pins. */
static uint64_t span_pages(uintptr_t addr, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t first = addr & ~(page - 1);
	return (uint64_t)((addr + len - first + page - 1) / page);
}

static bool can_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
}

/* Charges npages, or fails with ENOMEM as the kernel would; under SR_LOCK. */
static int pin_charge(uint64_t npages)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    pinned_pages + npages > rl.rlim_cur / (uint64_t)sysconf(_SC_PAGESIZE) &&
	    !can_ipc_lock())
		return -ENOMEM;
	pinned_pages += npages;
	return 0;
}

#define SR_ACCESS_KNOWN (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
	IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)

/* pin: user memory the kernel would pin (and charge); false for dma-buf. */
static struct ibv_mr *reg_common(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova,
				 unsigned int access, bool pin)
{
	/* Optional flags (relaxed ordering …) may be ignored by a provider. */
	access &= ~(unsigned)IBV_ACCESS_OPTIONAL_RANGE;
	if (!pd || length == 0 || (access & ~(unsigned)SR_ACCESS_KNOWN) ||
	    ((access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC)) &&
	     !(access & IBV_ACCESS_LOCAL_WRITE))) {
		errno = EINVAL;
		return NULL;
	}
	if (!addr || !mapped(addr, length)) {
		errno = EFAULT;
		return NULL;
	}
	struct sr_mr *mr = calloc(1, sizeof(*mr));
	if (!mr) {
		errno = ENOMEM;
		return NULL;
	}
	sr_fork_note_registration();
	mr->mr.context = pd->context;
	mr->mr.pd = pd;
	mr->mr.addr = addr;
	mr->mr.length = length;
	mr->iova = iova;
	mr->va = (uintptr_t)addr;
	mr->access = access;
	SR_LOCK();
	uint64_t npages = pin ? span_pages(mr->va, length) : 0;
	int rc = pin_charge(npages);
	if (!rc) {
		rc = mr_slot(mr);
		if (rc)
			pinned_pages -= npages;
	}
	if (!rc) {
		mr->mr.handle = mr->mr.lkey;
		((struct sr_pd *)pd)->refs++;
	}
	SR_UNLOCK();
	if (rc) {
		free(mr);
		errno = -rc;
		return NULL;
	}
	return &mr->mr;
}

SR_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
					  uint64_t iova, unsigned int access)
{
	return reg_common(pd, addr, length, iova, access, true);
}

SR_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	return ibv_reg_mr_iova2(pd, addr, length, (uintptr_t)addr, (unsigned)access);
}

SR_EXPORT struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length,
					 uint64_t iova, int access)
{
	return ibv_reg_mr_iova2(pd, addr, length, iova, (unsigned)access);
}

SR_EXPORT int ibv_dereg_mr(struct ibv_mr *ibmr)
{
	struct sr_mr *mr = (struct sr_mr *)ibmr;
	SR_LOCK();
	uint32_t idx = (mr->mr.lkey >> 8) - mr_base;
	if (idx < mr_tab_len && mr_tab[idx] == mr)
		mr_tab[idx] = NULL;
	((struct sr_pd *)mr->mr.pd)->refs--;
	if (!mr->map)   /* dma-buf MRs were charged nothing (reg_common) */
		pinned_pages -= span_pages(mr->va, mr->mr.length);
	SR_UNLOCK();
	if (mr->map)
		munmap(mr->map, mr->map_len);
	free(mr);
	return 0;
}

/* A dma-buf is mapped into our address space (a memfd works as a stand-in in
 * tests) and registered like host memory; mr->addr is the iova, as the
 * memory has no user address of the caller's. */
SR_EXPORT struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset, size_t length,
					   uint64_t iova, int fd, int access)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t skew = offset % (uint64_t)page;
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		errno = EBADF;             /* the kernel's dma_buf_get() answer */
		return NULL;
	}
	if (length == 0) {
		errno = EINVAL;
		return NULL;
	}
	size_t map_len = length + skew;
	void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)(offset - skew));
	if (map == MAP_FAILED)
		return NULL;
	struct ibv_mr *ibmr = reg_common(pd, (char *)map + skew, length, iova, (unsigned)access,
					 false);
	if (!ibmr) {
		int e = errno;
		munmap(map, map_len);
		errno = e;
		return NULL;
	}
	struct sr_mr *mr = (struct sr_mr *)ibmr;
	mr->map = map;
	mr->map_len = map_len;
	mr->mr.addr = (void *)(uintptr_t)iova;
	return ibmr;
}

SR_EXPORT int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd, void *addr,
			   size_t length, int access)
{
	(void)mr;
	(void)flags;
	(void)pd;
	(void)addr;
	(void)length;
	(void)access;
	errno = EOPNOTSUPP;
	return IBV_REREG_MR_ERR_INPUT;
}
