/* softroce: process init and the state shared by every emulated host
 * (a mmap'd file in $SOFTROCE_FABRIC): host registry, port faults, traffic
 * counters, link/cable virtual clocks and the QPN registry.  Everything in it
 * is accessed with __atomic operations because several processes share it. */
#include "sr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SR_MAGIC 0x736f6674726f6331ull  /* "softroc1" */

struct sr_proc sr_g = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1, .listen_fd = -1 };

uint64_t sr_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sr_log(const char *fmt, ...)
{
	if (!sr_g.debug)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "softroce[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The one-copy path hands raw addresses to process_vm_readv/writev. Where
 * that cannot work (a kernel or container that refuses it, or qemu-user,
 * whose guest addresses are not the host's), copy a known word from
 * ourselves and stream the payloads if it does not arrive intact. */
static bool one_copy_works(void)
{
	uint64_t src = 0x5eedc0de0badf00dull ^ (uint64_t)getpid(), dst = 0;
	struct iovec local = { &dst, sizeof(dst) }, remote = { &src, sizeof(src) };
	bool ok = process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof(src) &&
		  dst == src;
	if (!ok)
		sr_log("process_vm_readv does not work here: streaming payloads");
	return ok;
}

static int mkdir_p(const char *dir)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0777) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0777) && errno != EEXIST)
		return -errno;
	return 0;
}

static void shm_lock(void)
{
	uint32_t zero = 0;
	while (!__atomic_compare_exchange_n(&sr_g.shm->lock, &zero, 1, false,
					    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		zero = 0;
		sched_yield();
	}
}

static void shm_unlock(void)
{
	__atomic_store_n(&sr_g.shm->lock, 0, __ATOMIC_RELEASE);
}

int sr_fabric_host_idx(const char *name, bool create)
{
	struct sr_shm *s = sr_g.shm;
	for (int i = 0; i < SR_MAX_HOSTS; i++)
		if (__atomic_load_n(&s->host[i].used, __ATOMIC_ACQUIRE) &&
		    strcmp(s->host[i].name, name) == 0)
			return i;
	if (!create)
		return -1;
	shm_lock();
	int found = -1;
	for (int i = 0; i < SR_MAX_HOSTS && found < 0; i++) {
		if (!__atomic_load_n(&s->host[i].used, __ATOMIC_ACQUIRE)) {
			snprintf(s->host[i].name, SR_NAME_MAX, "%s", name);
			__atomic_store_n(&s->host[i].used, 1, __ATOMIC_RELEASE);
			found = i;
		} else if (strcmp(s->host[i].name, name) == 0) {
			found = i;
		}
	}
	shm_unlock();
	return found;
}

int sr_fabric_map(void)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/state", sr_g.fabric);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	flock(fd, LOCK_EX);
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) == 0 && st.st_size < (off_t)sizeof(struct sr_shm) &&
	    ftruncate(fd, sizeof(struct sr_shm)))
		rc = -errno;
	void *m = rc ? MAP_FAILED : mmap(NULL, sizeof(struct sr_shm), PROT_READ | PROT_WRITE,
					 MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		rc = rc ? rc : -errno;
		flock(fd, LOCK_UN);
		close(fd);
		return rc;
	}
	sr_g.shm = m;
	if (__atomic_load_n(&sr_g.shm->magic, __ATOMIC_ACQUIRE) != SR_MAGIC) {
		__atomic_store_n(&sr_g.shm->magic, SR_MAGIC, __ATOMIC_RELEASE);
		for (int i = 0; i < sr_g.topo.nfault; i++)
			sr_control_apply(sr_g.topo.fault[i]);
	}
	flock(fd, LOCK_UN);
	close(fd);
	return 0;
}

static void read_env(char *fabric, size_t fl, char *host, size_t hl)
{
	const char *f = getenv("SOFTROCE_FABRIC");
	const char *h = getenv("SOFTROCE_HOST");
	snprintf(fabric, fl, "%s", f ? f : "");
	snprintf(host, hl, "%s", h && *h ? h : "a");
}

/* Reads the environment, the topology and maps the fabric.  Called with
 * sr_g.lock held.  Re-initialises when the environment changed and nothing
 * is open (tests switch fabrics between cases in one process). */
/* fork(): the child gets no NIC thread and none of the parent's contexts
 * (as with real verbs, they are unusable there) but may open devices afresh,
 * as another host if it changes SOFTROCE_HOST. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&sr_g.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&sr_g.lock);
}

static void atfork_child(void)
{
	pthread_mutex_init(&sr_g.lock, NULL);
	sr_wire_forget();
	if (sr_g.wake_fd >= 0)
		close(sr_g.wake_fd);
	sr_g.wake_fd = -1;
	sr_g.thread_running = false;
	sr_g.stop = false;
	sr_g.nctx = 0;
	sr_g.ctxs = NULL;
	sr_g.qp_tab = NULL;
	sr_g.qp_tab_size = 0;
	sr_qp_list = NULL;
	sr_engine_forget();
	sr_g.rng ^= (uint64_t)getpid() << 17;
}

int sr_proc_init(void)
{
	static bool atfork_done;
	if (!atfork_done) {
		pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
		atfork_done = true;
	}
	char fabric[512], host[SR_NAME_MAX];
	read_env(fabric, sizeof(fabric), host, sizeof(host));
	if (sr_g.inited && strcmp(fabric, sr_g.fabric) == 0 && strcmp(host, sr_g.host) == 0)
		return 0;
	if (sr_g.inited && (sr_g.nctx > 0 || sr_g.thread_running))
		return 0;                           /* keep the open fabric (its threads use it) */
	if (sr_g.shm) {
		munmap(sr_g.shm, sizeof(struct sr_shm));
		sr_g.shm = NULL;
	}
	sr_g.inited = false;
	if (!fabric[0])
		return -ENODEV;
	snprintf(sr_g.fabric, sizeof(sr_g.fabric), "%s", fabric);
	snprintf(sr_g.host, sizeof(sr_g.host), "%s", host);
	const char *e = getenv("SOFTROCE_DEBUG");
	sr_g.debug = e && *e && strcmp(e, "0") != 0;
	e = getenv("SOFTROCE_REORDER");
	sr_g.reorder = e && *e && strcmp(e, "0") != 0;
	e = getenv("SOFTROCE_SEED");
	sr_g.seed = e ? strtoull(e, NULL, 0) : 0;
	if (!e && getrandom(&sr_g.seed, sizeof(sr_g.seed), 0) != sizeof(sr_g.seed))
		sr_g.seed = (uint64_t)getpid() * 2654435761u;
	sr_g.rng = sr_g.seed ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	e = getenv("SOFTROCE_COPY");
	sr_g.stream_copy = (e && strcmp(e, "stream") == 0) || !one_copy_works();
	/* The least ACK timeout: scheduling noise must not look like a lost
	 * packet. 20 ms natively; an emulated CPU (qemu-user) needs more. */
	long floor_ms = 20;
	e = getenv("SOFTROCE_TIMEOUT_FLOOR_MS");
	if (e && sr_parse_long(e, 1, 60000, &floor_ms) != 0) {
		fprintf(stderr, "softroce: SOFTROCE_TIMEOUT_FLOOR_MS=%s: expected 1..60000 ms\n", e);
		return -EINVAL;
	}
	sr_g.tmo_floor_ns = (uint64_t)floor_ms * 1000000ull;

	int rc = sr_topo_load(&sr_g.topo, getenv("SOFTROCE_TOPOLOGY"));
	if (rc)
		return rc;
	rc = mkdir_p(sr_g.fabric);
	if (rc)
		return rc;
	rc = sr_fabric_map();
	if (rc)
		return rc;
	sr_g.host_idx = sr_fabric_host_idx(sr_g.host, true);
	if (sr_g.host_idx < 0)
		return -ENOSPC;
	sr_g.nhca = sr_topo_host_hcas(&sr_g.topo, sr_g.host, sr_g.hca);
	sr_g.octet = sr_topo_host_octet(&sr_g.topo, sr_g.host);
	/* Yama ptrace_scope 1: let peers process_vm_{read,write}v into us. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	sr_g.inited = true;
	return sr_sysfs_build();
}

int sr_host_cfg(int host_idx, struct sr_hca_cfg *hcas, int *octet)
{
	const char *name = sr_g.shm->host[host_idx].name;
	*octet = sr_topo_host_octet(&sr_g.topo, name);
	return sr_topo_host_hcas(&sr_g.topo, name, hcas);
}

uint32_t sr_port_down_gen(int host_idx, int hca_idx)
{
	if (host_idx < 0 || host_idx >= SR_MAX_HOSTS || hca_idx < 0 || hca_idx >= SR_MAX_HCAS)
		return 0;
	return __atomic_load_n(&sr_g.shm->host[host_idx].port[hca_idx].down_gen, __ATOMIC_ACQUIRE);
}

bool sr_port_active(int host_idx, const char *host, int hca_idx)
{
	struct sr_hca_cfg hcas[SR_MAX_HCAS];
	int n = sr_topo_host_hcas(&sr_g.topo, host, hcas);
	if (hca_idx < 0 || hca_idx >= n || !hcas[hca_idx].active)
		return false;
	return !__atomic_load_n(&sr_g.shm->host[host_idx].port[hca_idx].link_down,
				__ATOMIC_ACQUIRE);
}

/* Link rate of one HCA in bytes per ns (GB/s), with scale and faults. */
double sr_port_rate(int host_idx, int hca_idx, const struct sr_hca_cfg *c)
{
	double per_lane = c->link_gen >= 5 ? 13.0 / 4 : 13.0 / 4 / (1 << (5 - c->link_gen));
	double rate = per_lane * c->link_width * sr_g.topo.scale * c->rate;
	uint32_t ppm = __atomic_load_n(&sr_g.shm->host[host_idx].port[hca_idx].rate_ppm,
				       __ATOMIC_ACQUIRE);
	if (ppm)
		rate *= ppm / 1e6;
	return rate;
}

/* A virtual-clock booking: the link is booked back to back, and a transfer
 * starts no earlier than `earliest` (the time its WR was posted, or a resend
 * was decided). A link that fell idle gets no credit for the idle time, so it
 * never delivers faster than its cap; a NIC thread that the scheduler ran late
 * still books from `earliest`, i.e. catches up to the post time instead of
 * losing the time it was not running. */
uint64_t sr_clock_reserve(uint64_t *clock, uint64_t earliest, uint64_t dur)
{
	uint64_t old = __atomic_load_n(clock, __ATOMIC_ACQUIRE), next;
	do {
		uint64_t start = old > earliest ? old : earliest;
		next = start + dur;
	} while (!__atomic_compare_exchange_n(clock, &old, next, true,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return next;
}

static uint64_t rng_next(void)
{
	uint64_t x = sr_g.rng;              /* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sr_g.rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint32_t sr_qpn_alloc(int hca_idx)
{
	for (int tries = 0; tries < 100000; tries++) {
		uint32_t qpn = (uint32_t)(rng_next() >> 40) & 0xffffff;
		if (qpn < 0x100)
			continue;
		struct sr_shm_qpn *e = &sr_g.shm->qpn[qpn & (SR_MAX_QPNS - 1)];
		int32_t zero = 0;
		if (!__atomic_compare_exchange_n(&e->pid, &zero, -1, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		e->host = (uint16_t)sr_g.host_idx;
		e->hca = (uint16_t)hca_idx;
		__atomic_store_n(&e->qpn, qpn, __ATOMIC_RELEASE);
		__atomic_store_n(&e->pid, (int32_t)getpid(), __ATOMIC_RELEASE);
		return qpn;
	}
	return 0;
}

void sr_qpn_free(uint32_t qpn)
{
	struct sr_shm_qpn *e = &sr_g.shm->qpn[qpn & (SR_MAX_QPNS - 1)];
	if (__atomic_load_n(&e->qpn, __ATOMIC_ACQUIRE) != qpn)
		return;
	__atomic_store_n(&e->receiving, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&e->qpn, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&e->pid, 0, __ATOMIC_RELEASE);
}

void sr_qpn_publish(uint32_t qpn, bool receiving, uint32_t peer_qpn)
{
	struct sr_shm_qpn *e = &sr_g.shm->qpn[qpn & (SR_MAX_QPNS - 1)];
	if (__atomic_load_n(&e->qpn, __ATOMIC_ACQUIRE) != qpn)
		return;
	__atomic_store_n(&e->peer_qpn, receiving ? peer_qpn : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->receiving, receiving ? 1u : 0u, __ATOMIC_RELEASE);
}

const struct sr_shm_qpn *sr_qpn_lookup(uint32_t qpn)
{
	const struct sr_shm_qpn *e = &sr_g.shm->qpn[qpn & (SR_MAX_QPNS - 1)];
	if (__atomic_load_n(&e->qpn, __ATOMIC_ACQUIRE) != qpn ||
	    __atomic_load_n(&e->pid, __ATOMIC_ACQUIRE) <= 0)
		return NULL;
	return e;
}

/* dlclose after the last ibv_close_device: drop the mapping. */
__attribute__((destructor)) static void sr_unload(void)
{
	if (sr_g.shm && !sr_g.thread_running) {
		munmap(sr_g.shm, sizeof(struct sr_shm));
		sr_g.shm = NULL;
		sr_g.inited = false;
	}
}
