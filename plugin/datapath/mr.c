/* Memory registration with a per-HCA cache. A handle holds one MR per rail,
 * each on that HCA's shared PD (devctx.h). NCCL registers its shared host
 * buffers on every comm that uses them; pinning each copy would count the
 * same pages against memlock once per comm, so a range already covered by a
 * cached MR of that HCA (whole pages, compatible access) takes a reference
 * on it instead. Each regMr still returns its own handle, deregMr drops its
 * references, and the last reference deregisters the MR.
 *
 * The rule NCCL relies on (regIsGlobal = 1): a handle works on every comm of
 * its device and is deregistered with any of them, before or after the comm
 * it was registered on is closed.
 *
 * Handles NCCL passes back are checked, never trusted: deregMr looks the
 * pointer up among the live handles before touching it (a handle
 * deregistered twice, or never returned by regMr, is ncclInvalidUsage and a
 * WARN, not a crash), and each handle carries a tag (SPARK_MR_LIVE, or
 * SPARK_MR_DEAD from deregMr on), its device and the pages it covers, which
 * isend/irecv check inline without a lock (spark_mr_usable, comm.h). For that
 * check to read a deregistered handle safely (ASan included), handles live in
 * slabs that are not returned to malloc while the library is loaded: a freed
 * handle goes to the back of a free list (FIFO, so a stale pointer stays
 * dead for as long as possible before its memory serves a new regMr), and
 * the slabs are freed at unload (spark_mr_release_orphans_locked). */
#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "comm.h"
#include "devctx.h"
#include "handle_check.h"
#include "log.h"

struct spark_mr_entry {
	uintptr_t start, end;           /* page-aligned [start, end) */
	unsigned access;
	int refs;                       /* handles holding it */
	struct ibv_mr *mr;
	struct spark_devctx *dc;
	struct spark_mr_entry *next;    /* dc->cache, sorted by start */
};

/* A handle as allocated: NCCL holds &pub; the links let unload find the
 * handles NCCL never deregistered, or chain the free ones. All under the
 * devctx lock. */
struct mr_handle {
	struct spark_mr_handle pub;     /* first member: the pointer NCCL holds */
	struct mr_handle *prev, *next;  /* live list, or (next only) the free list */
};

#define HANDLES_PER_SLAB 64
struct handle_slab {
	struct handle_slab *next;
	struct mr_handle h[HANDLES_PER_SLAB];
};

static struct {
	struct mr_handle *head;         /* live handles */
	struct mr_handle *free_head, *free_tail;
	struct handle_slab *slabs;
} live;

static struct mr_handle *handle_alloc_locked(void)
{
	if (live.free_head == NULL) {
		struct handle_slab *sl = calloc(1, sizeof *sl);
		if (sl == NULL)
			return NULL;
		sl->next = live.slabs;
		live.slabs = sl;
		for (int i = 0; i < HANDLES_PER_SLAB; i++) {
			sl->h[i].pub.tag = SPARK_MR_DEAD;
			sl->h[i].next = i + 1 < HANDLES_PER_SLAB ? &sl->h[i + 1] : NULL;
		}
		live.free_head = &sl->h[0];
		live.free_tail = &sl->h[HANDLES_PER_SLAB - 1];
	}
	struct mr_handle *h = live.free_head;
	live.free_head = h->next;
	if (live.free_head == NULL)
		live.free_tail = NULL;
	memset(h, 0, sizeof *h);
	return h;
}

static void handle_free_locked(struct mr_handle *h)
{
	memset(&h->pub, 0, sizeof h->pub);
	h->pub.tag = SPARK_MR_DEAD;
	h->prev = h->next = NULL;
	if (live.free_tail != NULL)
		live.free_tail->next = h;
	else
		live.free_head = h;
	live.free_tail = h;
}

/* At unload, once the orphans are released: slabs with no live handle go
 * back to malloc (NCCL may dlclose and reload the plugin). A slab still
 * holding a live handle (an HCA with a comm open) is kept. */
static void release_slabs_locked(void)
{
	for (struct handle_slab **pp = &live.slabs; *pp != NULL;) {
		struct handle_slab *sl = *pp;
		bool used = false;
		for (int i = 0; i < HANDLES_PER_SLAB && !used; i++)
			used = sl->h[i].pub.tag != SPARK_MR_DEAD;
		if (used) {
			pp = &sl->next;
			continue;
		}
		*pp = sl->next;
		free(sl);
	}
	/* The free list pointed into the slabs: rebuild it from those left. */
	live.free_head = live.free_tail = NULL;
	for (struct handle_slab *sl = live.slabs; sl != NULL; sl = sl->next)
		for (int i = 0; i < HANDLES_PER_SLAB; i++)
			if (sl->h[i].pub.tag == SPARK_MR_DEAD)
				handle_free_locked(&sl->h[i]);
}

static void link_handle(struct mr_handle *h)
{
	h->prev = NULL;
	h->next = live.head;
	if (live.head != NULL)
		live.head->prev = h;
	live.head = h;
}

/* Membership by address only: h is never dereferenced unless it is live. */
static bool is_live_locked(const void *h)
{
	for (const struct mr_handle *l = live.head; l != NULL; l = l->next)
		if ((const void *)l == h)
			return true;
	return false;
}

static void unlink_handle(struct mr_handle *h)
{
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		live.head = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
}

/* Data buffers may take relaxed ordering: their visibility is ordered by the
 * completion, never by reading the buffer itself. */
#define DATA_ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
		     IBV_ACCESS_REMOTE_READ | IBV_ACCESS_RELAXED_ORDERING)

/* Relaxed ordering permits reordering: a strict MR serves a relaxed request,
 * a relaxed MR never serves a strict one. Other rights must be a superset. */
static bool access_covers(unsigned have, unsigned want)
{
	const unsigned ro = IBV_ACCESS_RELAXED_ORDERING;
	if ((have & ro) && !(want & ro))
		return false;
	return (have & want & ~ro) == (want & ~ro);
}

static struct spark_mr_entry *lookup(struct spark_devctx *dc, uintptr_t start, uintptr_t end,
				     unsigned access)
{
	for (struct spark_mr_entry *e = dc->cache; e != NULL && e->start <= start; e = e->next)
		if (e->end >= end && access_covers(e->access, access))
			return e;
	return NULL;
}

static void insert(struct spark_devctx *dc, struct spark_mr_entry *e)
{
	struct spark_mr_entry **pp = &dc->cache;
	while (*pp != NULL && (*pp)->start <= e->start)
		pp = &(*pp)->next;
	e->next = *pp;
	*pp = e;
}

static void warn_reg_failed(const struct spark_devctx *dc, uintptr_t start, uintptr_t end,
			    int err)
{
	size_t len = end - start;
	if (err != ENOMEM && err != EPERM) {
		SPARK_WARN("regMr: %zu bytes at %#lx on %s failed: %s", len, (unsigned long)start,
			   dc->name, strerror(err));
		return;
	}
	struct rlimit rl = {0, 0};
	char limit[32] = "unknown";
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY)
		snprintf(limit, sizeof limit, "unlimited");
	else if (rl.rlim_cur != 0 || rl.rlim_max != 0)
		snprintf(limit, sizeof limit, "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
	SPARK_WARN("regMr: pinning %zu bytes at %#lx on %s failed: %s. Registered memory counts "
		   "against the memlock limit (ulimit -l = %s): raise it (`ulimit -l unlimited`, "
		   "`memlock unlimited` in /etc/security/limits.conf, LimitMEMLOCK=infinity for a "
		   "service, `docker run --ulimit memlock=-1`) or grant CAP_IPC_LOCK",
		   len, (unsigned long)start, dc->name, strerror(err), limit);
}

static void dereg_entry_mr(const struct spark_devctx *dc, struct ibv_mr *mr)
{
	if (ibv_dereg_mr(mr) != 0)
		SPARK_WARN("deregMr: ibv_dereg_mr on %s failed: %s", dc->name, strerror(errno));
}

/* A reference on an MR of dc covering [start, end), registering one if none. */
static ncclResult_t ref_entry(struct spark_devctx *dc, uintptr_t start, uintptr_t end,
			      unsigned access, struct spark_mr_entry **out)
{
	struct spark_mr_entry *e = lookup(dc, start, end, access);
	if (e != NULL) {
		e->refs++;
		*out = e;
		return ncclSuccess;
	}
	struct ibv_mr *mr = ibv_reg_mr(dc->pd, (void *)start, end - start, (int)access);
	if (mr == NULL) {
		int err = errno;
		warn_reg_failed(dc, start, end, err);
		return spark_result_from_errno(err);
	}
	e = calloc(1, sizeof *e);
	if (e == NULL) {
		dereg_entry_mr(dc, mr);
		return ncclSystemError;
	}
	*e = (struct spark_mr_entry){.start = start, .end = end, .access = access, .refs = 1,
				     .mr = mr, .dc = dc};
	insert(dc, e);
	spark_devctx_mr_added_locked(dc);
	*out = e;
	return ncclSuccess;
}

static void unref_entry(struct spark_mr_entry *e)
{
	if (--e->refs > 0)
		return;
	struct spark_devctx *dc = e->dc;
	for (struct spark_mr_entry **pp = &dc->cache; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	dereg_entry_mr(dc, e->mr);
	free(e);
	spark_devctx_mr_removed_locked(dc);
}

static void unref_all(struct spark_mr_handle *h)
{
	for (int r = 0; r < SPARK_MAX_RAILS; r++)
		if (h->ent[r] != NULL)
			unref_entry(h->ent[r]);
}

static bool on_idle_hcas(const struct spark_mr_handle *h)
{
	for (int r = 0; r < SPARK_MAX_RAILS; r++)
		if (h->ent[r] != NULL && h->ent[r]->dc->comms != 0)
			return false;
	return true;
}

int spark_mr_release_orphans_locked(void)
{
	int n = 0;
	for (struct mr_handle *h = live.head, *next; h != NULL; h = next) {
		next = h->next;
		if (!on_idle_hcas(&h->pub))
			continue;
		unlink_handle(h);
		unref_all(&h->pub);
		handle_free_locked(h);
		n++;
	}
	release_slabs_locked();
	return n;
}

/* Whole pages around [data, data + size): what the kernel pins anyway, and
 * the granularity at which two registrations can share an MR. */
static ncclResult_t page_span(void *data, size_t size, uintptr_t *start, uintptr_t *end)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)data;
	if (data == NULL || size == 0 || a + size < a || a + size > UINTPTR_MAX - page) {
		SPARK_WARN("regMr: invalid region %p + %zu", data, size);
		return ncclInvalidArgument;
	}
	*start = a & ~(page - 1);
	*end = (a + size + page - 1) & ~(page - 1);
	return ncclSuccess;
}

/* References on an MR covering [start, end) on every rail's HCA. */
static ncclResult_t ref_rails(const struct spark_comm *c, uintptr_t start, uintptr_t end,
			      struct spark_mr_handle *h)
{
	for (uint32_t r = 0; r < c->nrails; r++) {
		if (c->rail[r].dc == NULL)
			continue;
		ncclResult_t res = ref_entry(c->rail[r].dc, start, end, DATA_ACCESS, &h->ent[r]);
		if (res != ncclSuccess) {
			unref_all(h);
			return res;
		}
		h->mr[r] = h->ent[r]->mr;
	}
	return ncclSuccess;
}

ncclResult_t spark_reg_mr(void *comm, void *data, size_t size, int type, void **mhandle)
{
	const struct spark_comm *c = comm;
	SPARK_NOT_NULL(mhandle, "mhandle");
	*mhandle = NULL;
	SPARK_NOT_NULL(c, "comm");
	if (type != NCCL_PTR_HOST) {
		SPARK_WARN("regMr: pointer type %d not supported (host memory only: GB10 has "
			   "no GPUDirect RDMA)", type);
		return ncclInvalidArgument;
	}
	uintptr_t start = 0, end = 0;
	SPARK_TRY(page_span(data, size, &start, &end));
	spark_devctx_lock();
	struct mr_handle *h = handle_alloc_locked();
	ncclResult_t res = h != NULL ? ncclSuccess : ncclSystemError;
	if (h != NULL) {
		h->pub.dev = c->dev;
		h->pub.lo = start;
		h->pub.len = end - start;
		res = ref_rails(c, start, end, &h->pub);
		if (res == ncclSuccess) {
			h->pub.tag = spark_mr_tag(c->dev);
			link_handle(h);
		} else {
			handle_free_locked(h);
		}
	}
	spark_devctx_unlock();
	if (res != ncclSuccess)
		return res;
	*mhandle = &h->pub;
	return ncclSuccess;
}

ncclResult_t spark_reg_mr_dmabuf(void *comm, void *data, size_t size, int type,
				 uint64_t offset, int fd, void **mhandle)
{
	(void)comm; (void)data; (void)size; (void)offset; (void)fd;
	*mhandle = NULL;
	/* ptrSupport never advertises NCCL_PTR_DMABUF, so NCCL does not call this. */
	SPARK_WARN("regMrDmaBuf: dma-buf not supported (type %d); the device advertises host "
		   "memory only", type);
	return ncclInvalidUsage;
}

/* comm is not needed: the handle knows its entries, which know their HCA
 * (and NCCL may deregister after the comm it registered on has closed). */
ncclResult_t spark_dereg_mr(void *comm, void *mhandle)
{
	struct mr_handle *h = mhandle;   /* &h->pub is what regMr handed out */
	(void)comm;
	if (h == NULL)
		return ncclSuccess;
	spark_devctx_lock();
	bool ok = is_live_locked(h);
	if (ok) {
		unlink_handle(h);
		unref_all(&h->pub);
		handle_free_locked(h);
	}
	spark_devctx_unlock();
	if (!ok) {
		SPARK_WARN("deregMr: handle %p is not a live registration (deregistered twice, "
			   "or never returned by regMr); ignored", mhandle);
		return ncclInvalidUsage;
	}
	return ncclSuccess;
}

/* Cold: the WARN once spark_mr_usable (comm.h) said no. The handle was
 * readable there (a slab never returned to malloc), so its fields can be
 * named here. */
ncclResult_t spark_mr_handle_bad(const void *mhandle, int dev, const void *data, size_t size,
				 const char *op)
{
	const struct spark_mr_handle *h = mhandle;
	if (h == NULL) {
		SPARK_WARN("%s: %zu bytes at %p without a memory handle (regMr first)", op, size,
			   data);
		return ncclInvalidUsage;
	}
	if (h->tag != spark_mr_tag(h->dev))
		SPARK_WARN("%s: memory handle %p is %s; register the buffer again", op, mhandle,
			   h->tag == SPARK_MR_DEAD ? "deregistered" : "not one regMr returned");
	else if (h->dev != dev)
		SPARK_WARN("%s: memory handle %p was registered on device %d, used on device %d",
			   op, mhandle, h->dev, dev);
	else
		SPARK_WARN("%s: %zu bytes at %p lie outside memory handle %p ([%#lx, %#lx)); "
			   "pass the handle of the buffer's registration", op, size, data, mhandle,
			   (unsigned long)h->lo, (unsigned long)(h->lo + h->len));
	return ncclInvalidUsage;
}
