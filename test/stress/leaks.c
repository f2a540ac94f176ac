/* What a closed comm must give back, seen from outside the plugin: file
 * descriptors (softroce opens a pipe per device context, sockets are fds)
 * and pinned memory. softroce charges every MR's pages against
 * RLIMIT_MEMLOCK as the kernel does (test/softroce/mr.c), so with
 * CAP_IPC_LOCK dropped a registration of exactly the limit succeeds only
 * when no other MR of this process is left. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stress.h"

int st_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	DP_CHECK(d != NULL, "opendir /proc/self/fd: %s", strerror(errno));
	int n = 0;
	for (const struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the directory's own fd */
}

/* softroce's verbs, by name: the library dp_load_plugin loaded globally. */
struct verbs {
	void **(*get_list)(int *);
	void (*free_list)(void **);
	void *(*open)(void *);
	int (*close)(void *);
	void *(*alloc_pd)(void *);
	int (*dealloc_pd)(void *);
	void *(*reg_mr)(void *, void *, size_t, int);
	int (*dereg_mr)(void *);
};

static void *sym(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	DP_CHECK(f != NULL, "no %s: %s", name, dlerror());
	return f;
}

static void load_verbs(struct verbs *v)
{
	*(void **)&v->get_list = sym("ibv_get_device_list");
	*(void **)&v->free_list = sym("ibv_free_device_list");
	*(void **)&v->open = sym("ibv_open_device");
	*(void **)&v->close = sym("ibv_close_device");
	*(void **)&v->alloc_pd = sym("ibv_alloc_pd");
	*(void **)&v->dealloc_pd = sym("ibv_dealloc_pd");
	*(void **)&v->reg_mr = sym("ibv_reg_mr");
	*(void **)&v->dereg_mr = sym("ibv_dereg_mr");
}

/* Sets this thread's effective CAP_IPC_LOCK; returns whether it was set. */
static bool ipc_lock(bool on)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3];
	DP_CHECK(syscall(SYS_capget, &h, c) == 0, "capget: %s", strerror(errno));
	bool was = c[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
	if (on && (c[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted & CAP_TO_MASK(CAP_IPC_LOCK)))
		c[CAP_TO_INDEX(CAP_IPC_LOCK)].effective |= CAP_TO_MASK(CAP_IPC_LOCK);
	else
		c[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	DP_CHECK(syscall(SYS_capset, &h, c) == 0, "capset: %s", strerror(errno));
	return was;
}

#define PROBE (256 * 4096ul)

bool st_no_pinned_pages(void)
{
	struct verbs v;
	load_verbs(&v);
	int n = 0;
	void **list = v.get_list(&n);
	DP_CHECK(list != NULL && n > 0, "no softroce device");
	void *ctx = v.open(list[0]);
	DP_CHECK(ctx != NULL, "ibv_open_device");
	void *pd = v.alloc_pd(ctx);
	DP_CHECK(pd != NULL, "ibv_alloc_pd");
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (PROBE + (size_t)page - 1) & ~((size_t)page - 1);
	void *buf = dp_alloc(len);
	struct rlimit old, probe;
	DP_CHECK(getrlimit(RLIMIT_MEMLOCK, &old) == 0, "getrlimit");
	probe = old;
	probe.rlim_cur = len;
	DP_CHECK(old.rlim_max == RLIM_INFINITY || old.rlim_max >= len,
		 "RLIMIT_MEMLOCK hard limit %llu < %zu", (unsigned long long)old.rlim_max, len);
	bool had_cap = ipc_lock(false);
	DP_CHECK(setrlimit(RLIMIT_MEMLOCK, &probe) == 0, "setrlimit: %s", strerror(errno));
	void *mr = v.reg_mr(pd, buf, len, 1 /* IBV_ACCESS_LOCAL_WRITE */);
	int err = errno;
	DP_CHECK(setrlimit(RLIMIT_MEMLOCK, &old) == 0, "setrlimit: %s", strerror(errno));
	if (had_cap)
		ipc_lock(true);
	if (mr != NULL)
		DP_CHECK(v.dereg_mr(mr) == 0, "ibv_dereg_mr");
	else
		fprintf(stderr, "[%s] a %zu-byte MR under a %zu-byte memlock limit: %s: pages of "
			"another MR are still pinned\n", dp_host(), len, len, strerror(err));
	dp_free(buf, len);
	DP_CHECK(v.dealloc_pd(pd) == 0 && v.close(ctx) == 0, "dealloc_pd / close_device");
	v.free_list(list);
	return mr != NULL;
}
