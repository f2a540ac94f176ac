/* softroce: the NIC thread.  One per process, started with the first open
 * device and joined when the last one closes.  It blocks in ppoll() until a
 * post, a packet, a timer or the control-file tick needs it; it holds arriving
 * packets until their modelled delivery time (a min-heap), then runs the
 * responder, the requester and the flushes.  All completions come from here.
 * Beside it, a sysfs thread rewrites the counter files every tick: file
 * writes in the fabric directory can take milliseconds (ext4 journal), and
 * a NIC that stalls that long, holding the lock, is no NIC. */
#include "sr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define SR_TICK_NS 5000000ull      /* control file and sysfs counters */

/* Whether the NIC thread is (about to be) blocked in ppoll: only then does a
 * post need the eventfd (a syscall, and a wake-up the scheduler may serve
 * late).  Set under the lock before the NIC releases it for ppoll, cleared
 * after ppoll returns; a poster queues under the lock and reads it after. */
static int nic_sleeping;

/* The sysfs thread: its own lock and condition, never sr_g.lock. */
static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool running, stop;
} sysfs_tick = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct sr_pend {
	uint64_t at, seq;
	struct sr_msg m;
	uint8_t payload[];
};

static struct sr_pend **heap;
static size_t heap_len, heap_cap;
static uint64_t heap_seq;

static bool pend_before(const struct sr_pend *a, const struct sr_pend *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct sr_pend *p)
{
	if (heap_len == heap_cap) {
		size_t cap = heap_cap ? heap_cap * 2 : 256;
		struct sr_pend **h = realloc(heap, cap * sizeof(struct sr_pend *));
		if (!h) {
			free(p);                /* dropped packet: the transport retries */
			return;
		}
		heap = h;
		heap_cap = cap;
	}
	size_t i = heap_len++;
	while (i > 0 && pend_before(p, heap[(i - 1) / 2])) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = p;
}

static struct sr_pend *heap_pop(void)
{
	struct sr_pend *top = heap[0], *last = heap[--heap_len];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= heap_len)
			break;
		if (c + 1 < heap_len && pend_before(heap[c + 1], heap[c]))
			c++;
		if (!pend_before(heap[c], last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (heap_len)
		heap[i] = last;
	return top;
}

void sr_engine_rx(const struct sr_msg *m, const void *payload)
{
	struct sr_pend *p = malloc(sizeof(*p) + m->payload_len);
	if (!p)
		return;
	p->at = m->deliver_at;
	p->seq = heap_seq++;
	p->m = *m;
	if (m->payload_len)
		memcpy(p->payload, payload, m->payload_len);
	heap_push(p);
}

/* fork child: packets queued for the parent are the parent's, and so are
 * the threads (the child has none). */
void sr_engine_forget(void)
{
	heap = NULL;
	heap_len = heap_cap = 0;
	__atomic_store_n(&nic_sleeping, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_init(&sysfs_tick.mu, NULL);
	sysfs_tick.running = false;
}

/* Called after the caller released the lock it queued work under: either
 * the NIC thread had not yet taken the lock for its next pass (it will see
 * the work), or it marked itself sleeping before releasing it (we see that). */
void sr_engine_wake(void)
{
	uint64_t one = 1;
	if (!__atomic_load_n(&nic_sleeping, __ATOMIC_SEQ_CST))
		return;
	if (sr_g.wake_fd >= 0 && write(sr_g.wake_fd, &one, sizeof(one)) < 0)
		sr_log("wake: %d", errno);
}

uint64_t sr_jitter_ns(void)
{
	if (!sr_g.reorder)
		return 0;
	uint64_t x = sr_g.rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sr_g.rng = x;
	return (x * 0x2545f4914f6cdd1dull) % 50000;   /* up to 50 µs */
}

static void deliver(const struct sr_pend *p, uint64_t now)
{
	/* The link went down after the packet left: on a cable its frames were
	 * lost, and the sending QP may be in the error state by now (a packet
	 * held here past a short flap must not land after the sender gave up
	 * on it and re-sent its bytes elsewhere). */
	if (sr_port_down_gen(p->m.src_host, p->m.src_hca) != p->m.link_gen)
		return;
	if (p->m.type == SR_M_REQ) {
		sr_resp_rx(&p->m, p->payload, now);
		return;
	}
	struct sr_qp *qp = sr_qp_find(p->m.dst_qpn);
	if (qp)
		sr_req_rx(qp, &p->m, p->payload, now);
}

static void run_once(uint64_t *wake)
{
	uint64_t now = sr_now_ns();
	if (now - sr_g.last_ctl_ns >= SR_TICK_NS) {
		sr_netdev_poll();
		sr_control_poll();
	}
	*wake = sr_g.last_ctl_ns + SR_TICK_NS;
	bool frozen = __atomic_load_n(&sr_g.shm->host[sr_g.host_idx].frozen, __ATOMIC_ACQUIRE);
	while (heap_len && heap[0]->at <= now) {
		struct sr_pend *p = heap_pop();
		if (!frozen)                   /* a frozen NIC answers nothing */
			deliver(p, now);
		free(p);
	}
	if (heap_len && heap[0]->at < *wake)
		*wake = heap[0]->at;
	if (frozen)
		return;
	/* QPs are served round robin from a start that moves every pass, so no
	 * QP (or HCA) books the shared links first every time; in reorder mode
	 * the start moves by a seeded random step. */
	unsigned nq = 0;
	for (struct sr_qp *qp = sr_qp_list; qp; qp = qp->lnext)
		nq++;
	struct sr_qp *start = sr_qp_list;
	if (nq) {
		static unsigned rot;
		rot += sr_g.reorder ? 1 + (unsigned)(sr_jitter_ns() % nq) : 1;
		for (unsigned i = 0; i < rot % nq; i++)
			start = start->lnext;
	}
	for (int pass = 0; pass < 2; pass++)
		for (struct sr_qp *qp = pass ? sr_qp_list : start; qp && (pass == 0 || qp != start);
		     qp = qp->lnext) {
			if (qp->need_flush)
				sr_qp_flush(qp);
			else
				sr_req_progress(qp, now, wake);
		}
}

static void *engine_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[256];
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);   /* µs-scale modelled latency */
	SR_LOCK();
	while (!sr_g.stop) {
		uint64_t wake;
		run_once(&wake);
		pfd[0].fd = sr_g.wake_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sr_g.listen_fd;
		pfd[1].events = POLLIN;
		int n = sr_wire_fill_pollfds(pfd + 2, 254);
		uint64_t now = sr_now_ns();
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = { (time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull) };
		__atomic_store_n(&nic_sleeping, 1, __ATOMIC_SEQ_CST);
		SR_UNLOCK();
		int r = ppoll(pfd, (nfds_t)n + 2, &ts, NULL);
		__atomic_store_n(&nic_sleeping, 0, __ATOMIC_SEQ_CST);
		SR_LOCK();
		if (r <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			uint64_t v;
			if (read(sr_g.wake_fd, &v, sizeof(v)) < 0)
				sr_log("wake read: %d", errno);
		}
		sr_wire_service(pfd + 2, n);
	}
	SR_UNLOCK();
	return NULL;
}

/* The counter files, every tick, outside sr_g.lock: refresh reads only the
 * shared state's atomics and what sr_proc_init set before this thread began
 * (which does not change while the engine runs). */
static void *sysfs_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sysfs_tick.mu);
	while (!sysfs_tick.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)SR_TICK_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sysfs_tick.cv, &sysfs_tick.mu, &ts);
		if (sysfs_tick.stop)
			break;
		pthread_mutex_unlock(&sysfs_tick.mu);
		sr_sysfs_refresh();
		pthread_mutex_lock(&sysfs_tick.mu);
	}
	pthread_mutex_unlock(&sysfs_tick.mu);
	return NULL;
}

static int sysfs_start(void)
{
	pthread_condattr_t a;
	if (pthread_condattr_init(&a))
		return -ENOMEM;
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	int rc = -pthread_cond_init(&sysfs_tick.cv, &a);
	pthread_condattr_destroy(&a);
	if (rc)
		return rc;
	sysfs_tick.stop = false;
	rc = -pthread_create(&sysfs_tick.thread, NULL, sysfs_main, NULL);
	if (rc) {
		pthread_cond_destroy(&sysfs_tick.cv);
		return rc;
	}
	sysfs_tick.running = true;
	return 0;
}

static void sysfs_stop(void)
{
	if (!sysfs_tick.running)
		return;
	pthread_mutex_lock(&sysfs_tick.mu);
	sysfs_tick.stop = true;
	pthread_cond_signal(&sysfs_tick.cv);
	pthread_mutex_unlock(&sysfs_tick.mu);
	pthread_join(sysfs_tick.thread, NULL);
	pthread_cond_destroy(&sysfs_tick.cv);
	sysfs_tick.running = false;
	sr_sysfs_refresh();   /* the counters as the NIC leaves them, not a tick older */
}

/* Called with the lock held. */
int sr_engine_start(void)
{
	if (sr_g.thread_running)
		return 0;
	int rc = sr_proc_init();
	if (rc)
		return rc;
	sr_g.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sr_g.wake_fd < 0)
		return -errno;
	rc = sr_wire_open();
	if (!rc) {
		sr_g.stop = false;
		sr_g.ctl_off = 0;
		sr_g.last_ctl_ns = 0;
		rc = sysfs_start();
		if (!rc) {
			rc = -pthread_create(&sr_g.thread, NULL, engine_main, NULL);
			if (rc)
				sysfs_stop();
		}
	}
	if (rc) {
		sr_wire_close();
		close(sr_g.wake_fd);
		sr_g.wake_fd = -1;
		return rc;
	}
	sr_g.thread_running = true;
	return 0;
}

/* Called without the lock, after the last context closed. */
void sr_engine_stop(void)
{
	SR_LOCK();
	if (!sr_g.thread_running || sr_g.nctx > 0) {
		SR_UNLOCK();
		return;
	}
	sr_g.stop = true;
	sr_engine_wake();
	pthread_t t = sr_g.thread;
	SR_UNLOCK();
	pthread_join(t, NULL);
	sysfs_stop();
	SR_LOCK();
	sr_sysfs_cleanup();
	sr_wire_close();
	close(sr_g.wake_fd);
	sr_g.wake_fd = -1;
	while (heap_len)
		free(heap_pop());
	free(heap);
	heap = NULL;
	heap_cap = 0;
	sr_g.thread_running = false;
	if (sr_g.nctx > 0)             /* someone opened a device meanwhile */
		sr_engine_start();
	SR_UNLOCK();
}
