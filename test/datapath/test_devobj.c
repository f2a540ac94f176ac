/* The per-HCA verbs objects and the registration cache, seen from outside:
 * through ncclNetPlugin_v8 between two emulated Sparks (host a sends, host b
 * receives), counting what softroce makes visible. Each ibv_open_device of
 * softroce opens one pipe (two fds) for its async events, so the pipes in
 * /proc/self/fd count the open contexts; and softroce charges every MR's
 * pages against RLIMIT_MEMLOCK as the kernel does, so with CAP_IPC_LOCK
 * dropped a low limit shows whether a buffer was pinned once or twice.
 * The plugin is loaded by this file (not dp_load_plugin) so a test can
 * dlclose and reload it and read its log. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dp_harness.h"

#define KiB 1024ul
#define MiB (1024ul * KiB)
#define NRAILS 2                 /* the emulated Spark's device fuses two HCAs */
#define BUF (2 * MiB)
#define MSG (256 * KiB)
/* Room for one copy of BUF on each rail plus the control areas of two comms
 * (< 0.6 MiB), not for two copies; under the usual 8 MiB hard limit. */
#define MEMLOCK (3 * BUF)

/* ---- loading, logging, counting --------------------------------------- */

static struct {
	void *verbs, *mlx5, *plugin;    /* softroce's two stay loaded (its NIC thread) */
	char path[PATH_MAX + 64];
	char log[1 << 16];
} ld;

static void logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		   const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	if (level != NCCL_LOG_WARN)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "[%s] WARN %s\n", dp_host(), msg);
	size_t used = strlen(ld.log);
	snprintf(ld.log + used, sizeof ld.log - used, "%s\n", msg);
}

static void build_path(const char *rel, char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	DP_CHECK(n > 0, "readlink: %s", strerror(errno));
	exe[n] = '\0';
	snprintf(out, len, "%s/../../%s", dirname(exe), rel);   /* build/test/datapath/.. */
}

static const ncclNet_v8_t *load(void)
{
	char path[PATH_MAX + 64];
	build_path("softroce/libibverbs.so.1", path, sizeof path);
	ld.verbs = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	DP_CHECK(ld.verbs != NULL, "%s", dlerror());
	build_path("softroce/libmlx5.so.1", path, sizeof path);
	ld.mlx5 = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	build_path("libnccl-net-spark.so", ld.path, sizeof ld.path);
	ld.plugin = dlopen(ld.path, RTLD_NOW | RTLD_LOCAL);
	DP_CHECK(ld.plugin != NULL, "%s", dlerror());
	const ncclNet_v8_t *net = dlsym(ld.plugin, "ncclNetPlugin_v8");
	DP_CHECK(net != NULL, "no ncclNetPlugin_v8");
	DP_OK(net->init(logger));
	return net;
}

static void unload(void)
{
	DP_CHECK(dlclose(ld.plugin) == 0, "%s", dlerror());
	void *still = dlopen(ld.path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (still != NULL)
		dlclose(still);
	DP_CHECK(still == NULL, "the plugin stayed loaded after dlclose");
	ld.plugin = NULL;
}

/* fds whose link starts with `kind` ("pipe:", "" for all). */
static int count_fds(const char *kind)
{
	DIR *d = opendir("/proc/self/fd");
	DP_CHECK(d != NULL, "opendir: %s", strerror(errno));
	char self[16];
	snprintf(self, sizeof self, "%d", dirfd(d));
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		char link[PATH_MAX], target[PATH_MAX] = "";
		if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0)
			continue;
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		if (readlink(link, target, sizeof target - 1) > 0 &&
		    strncmp(target, kind, strlen(kind)) == 0)
			n++;
	}
	closedir(d);
	return n;
}
/* softroce's ibv_open_device opens one pipe: two fds per open context. */
static int open_contexts(void) { return count_fds("pipe:") / 2; }

/* A low memlock limit that this thread cannot bypass (as root it could:
 * the kernel, and softroce, exempt CAP_IPC_LOCK). */
static void limit_memlock(size_t bytes)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3];
	DP_CHECK(syscall(SYS_capget, &h, c) == 0, "capget: %s", strerror(errno));
	c[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	DP_CHECK(syscall(SYS_capset, &h, c) == 0, "capset: %s", strerror(errno));
	struct rlimit rl;
	DP_CHECK(getrlimit(RLIMIT_MEMLOCK, &rl) == 0, "getrlimit");
	rl.rlim_cur = bytes;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < bytes)
		rl.rlim_max = bytes;    /* needs CAP_SYS_RESOURCE */
	DP_CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0, "setrlimit(RLIMIT_MEMLOCK, %zu): %s (the "
		 "hard limit is lower; raise it with ulimit -Hl)", bytes, strerror(errno));
}

/* ---- moving one message (a sends, b receives) ----------------------- */

static void *conn(struct dp_pair *p, const ncclNet_v8_t *net)
{
	return p->is_b ? dp_connect_recv(p, net, 0) : dp_connect_send(p, net, 0);
}

static void close_comm(struct dp_pair *p, const ncclNet_v8_t *net, void *c)
{
	DP_OK(p->is_b ? net->closeRecv(c) : net->closeSend(c));
}

/* One MSG-byte message on comm c out of / into buf, with handle mh. */
static void move(struct dp_pair *p, const ncclNet_v8_t *net, void *c, uint8_t *buf, void *mh,
		 uint32_t id)
{
	void *req = NULL;
	int size = (int)MSG, tag = 5, got = -1;
	double end = dp_now() + 60;
	if (!p->is_b)
		dp_fill(buf, MSG, id);
	else
		memset(buf, 0, MSG);
	while (req == NULL) {
		void *b = buf;
		DP_OK(p->is_b ? net->irecv(c, 1, &b, &size, &tag, &mh, &req)
			      : net->isend(c, buf, size, tag, mh, &req));
		DP_CHECK(dp_now() < end, "no request");
	}
	DP_OK(dp_wait(net, req, &got));
	DP_CHECK(got == (int)MSG, "message %u: size %d", id, got);
	if (p->is_b)
		DP_CHECK(dp_verify(buf, MSG, id) < 0, "message %u arrived wrong", id);
}

static void *reg(const ncclNet_v8_t *net, void *c, void *data, size_t size)
{
	void *mh = NULL;
	DP_OK(net->regMr(c, data, size, NCCL_PTR_HOST, &mh));
	DP_CHECK(mh != NULL, "regMr gave no handle");
	return mh;
}

/* ---- tests ------------------------------------------------------------ */

Test(devobj, properties_claim_global_registration, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = load();
	ncclNetProperties_v8_t props;
	DP_OK(net->getProperties(0, &props));
	DP_CHECK(props.regIsGlobal == 1, "regIsGlobal %d", props.regIsGlobal);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* A second comm opens no context of its own, and NCCL's habit of
 * registering one shared buffer on every comm pins it once per rail: the
 * limit holds one copy, and the second regMr (and a range inside) still
 * succeeds. A range the cached MR does not cover is pinned anew, and when
 * that is past the limit the WARN names memlock and the fix. */
Test(devobj, second_comm_shares_context_and_pins_once, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	limit_memlock(MEMLOCK);
	const ncclNet_v8_t *net = load();
	int ctx0 = open_contexts();
	void *c1 = conn(&p, net);
	int ctx1 = open_contexts();
	DP_CHECK(ctx1 == ctx0 + NRAILS, "first comm: %d contexts opened", ctx1 - ctx0);
	void *c2 = conn(&p, net);
	DP_CHECK(open_contexts() == ctx1, "second comm opened %d more", open_contexts() - ctx1);

	long page = sysconf(_SC_PAGESIZE);
	uint8_t *buf = dp_alloc(BUF + (size_t)page);
	void *mh1 = reg(net, c1, buf, BUF);
	void *mh2 = reg(net, c2, buf, BUF);             /* pinned twice would not fit */
	void *mh3 = reg(net, c2, buf + 100, MSG);       /* inside, unaligned */
	void *big = (void *)0x1;
	DP_CHECK(net->regMr(c1, buf, BUF + (size_t)page, NCCL_PTR_HOST, &big) != ncclSuccess,
		 "a range one page past the cached MR cannot share it");
	DP_CHECK(big == NULL, "a failed regMr left a handle");
	DP_CHECK(strstr(ld.log, "ulimit -l") && strstr(ld.log, "memlock"),
		 "the ENOMEM WARN does not name memlock: %s", ld.log);

	move(&p, net, c1, buf, mh1, 1);
	move(&p, net, c2, buf + MSG, mh2, 2);
	DP_OK(net->deregMr(c1, mh1));                   /* mh2, mh3 keep the MRs */
	move(&p, net, c2, buf + 2 * MSG, mh2, 3);
	move(&p, net, c2, buf + 100, mh3, 4);
	DP_OK(net->deregMr(c2, mh2));
	DP_OK(net->deregMr(c2, mh3));
	close_comm(&p, net, c2);                        /* the later comm first */
	DP_CHECK(open_contexts() == ctx1, "a live comm lost its contexts");
	close_comm(&p, net, c1);
	DP_CHECK(open_contexts() == ctx0, "%d contexts left open", open_contexts() - ctx0);
	dp_free(buf, BUF + (size_t)page);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* regIsGlobal as NCCL may use it: a handle registered on one comm moves
 * data on another after the first is closed; and NCCL closes comms before
 * deregistering, so the PD outlives the last comm until the last MR. */
Test(devobj, registration_outlives_its_comm, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	limit_memlock(MEMLOCK);
	const ncclNet_v8_t *net = load();
	int ctx0 = open_contexts();
	void *c1 = conn(&p, net);
	void *c2 = conn(&p, net);
	int ctx1 = open_contexts();
	uint8_t *buf = dp_alloc(BUF);
	void *mh1 = reg(net, c1, buf, BUF);
	close_comm(&p, net, c1);                        /* the earlier comm first */
	move(&p, net, c2, buf, mh1, 10);                /* c1's handle on c2 */
	void *mh2 = reg(net, c2, buf + MSG, MSG);       /* a hit on c1's MR */
	close_comm(&p, net, c2);
	DP_CHECK(open_contexts() == ctx1, "contexts closed under live MRs");
	DP_OK(net->deregMr(c2, mh1));                   /* with a closed comm, as NCCL does */
	DP_CHECK(open_contexts() == ctx1, "the MR of mh2 lost its PD");
	DP_OK(net->deregMr(c1, mh2));
	DP_CHECK(open_contexts() == ctx0, "%d contexts left after the last MR",
		 open_contexts() - ctx0);
	/* Nothing stayed pinned: one copy of BUF on each rail fits again. */
	void *c3 = conn(&p, net);
	void *mh3 = reg(net, c3, buf, BUF);
	move(&p, net, c3, buf, mh3, 11);
	DP_OK(net->deregMr(c3, mh3));
	close_comm(&p, net, c3);
	dp_free(buf, BUF);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* dlclose after the last close leaves no fd behind, and a reloaded plugin
 * opens the HCAs afresh and moves data. A registration never deregistered
 * is released at unload (with a WARN), not kept pinned forever. */
Test(devobj, reload_after_last_close, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	limit_memlock(MEMLOCK);
	const ncclNet_v8_t *net = load();
	int fds0 = count_fds("");
	uint8_t *buf = dp_alloc(BUF);
	void *c = conn(&p, net);
	void *mh = reg(net, c, buf, BUF);
	move(&p, net, c, buf, mh, 20);
	close_comm(&p, net, c);                         /* mh left registered */
	dp_sync(&p);
	unload();
	DP_CHECK(strstr(ld.log, "never deregistered") != NULL, "no WARN for the leaked MR");
	DP_CHECK(count_fds("") == fds0, "%d fds left after dlclose", count_fds("") - fds0);
	net = load();
	c = conn(&p, net);
	mh = reg(net, c, buf, BUF);                     /* fits only if the leak was unpinned */
	move(&p, net, c, buf, mh, 21);
	DP_OK(net->deregMr(c, mh));
	close_comm(&p, net, c);
	dp_sync(&p);
	unload();
	DP_CHECK(count_fds("") == fds0, "%d fds left after the reload", count_fds("") - fds0);
	dp_free(buf, BUF);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* NCCL's proxy threads of two communicators may register on comms of one
 * device at the same time: the shared cache stays consistent (TSan checks
 * the locking), and both handles still move data afterwards. */
struct churn {
	const ncclNet_v8_t *net;
	void *comm;
	uint8_t *buf;
	bool ok;
};

static void *churn_thread(void *arg)
{
	struct churn *t = arg;
	t->ok = true;
	for (int i = 0; i < 200 && t->ok; i++) {
		void *mh = NULL;
		size_t off = (size_t)(i % 7) * 4096 + (size_t)i;
		t->ok = t->net->regMr(t->comm, t->buf + off, MSG, NCCL_PTR_HOST, &mh) ==
				ncclSuccess &&
			t->net->deregMr(t->comm, mh) == ncclSuccess;
	}
	return NULL;
}

Test(devobj, concurrent_regmr_on_two_comms, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = load();
	void *c[2] = {conn(&p, net), conn(&p, net)};
	uint8_t *buf = dp_alloc(BUF);
	void *keep = reg(net, c[0], buf, BUF);          /* most churn hits this MR */
	struct churn t[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		t[i] = (struct churn){net, c[i], buf, false};
		DP_CHECK(pthread_create(&th[i], NULL, churn_thread, &t[i]) == 0, "pthread_create");
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		DP_CHECK(t[i].ok, "regMr/deregMr failed on thread %d", i);
	}
	move(&p, net, c[0], buf, keep, 30);
	move(&p, net, c[1], buf + MSG, keep, 31);
	DP_OK(net->deregMr(c[1], keep));
	close_comm(&p, net, c[0]);
	close_comm(&p, net, c[1]);
	dp_free(buf, BUF);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
