/* The heartbeat registry and thread (heartbeat.h). Process-wide by nature:
 * the state is one struct, guarded by its mutex. The thread holds the
 * mutex while it sends a round (each send non-blocking), so a comm that
 * unregisters waits at most one round and its fd is never used after.
 * A fork (PyTorch workers fork) leaves the child without the thread:
 * pthread_atfork keeps the child's registry consistent with that. */
#include "heartbeat.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ctl_send.h"
#include "log.h"
#include "param.h"

struct member {
	struct spark_comm *comm;
};

struct heartbeat {
	pthread_mutex_t lock;
	pthread_cond_t wake;            /* the thread's sleep; signalled to stop it */
	pthread_cond_t joined;          /* a join finished */
	pthread_t thread;
	bool running, stopping;
	struct member *comms;           /* registered comms, [0, n) */
	size_t n, cap;
};

static struct heartbeat hb = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t hb_once = PTHREAD_ONCE_INIT;

uint64_t spark_heartbeat_period_ns(int timeout_s)
{
	uint64_t quarter = (uint64_t)timeout_s * 250000000ull;
	return quarter < 1000000000ull ? quarter : 1000000000ull;
}

/* The wake condition on CLOCK_MONOTONIC (a wall-clock step must not stall
 * or rush the heartbeats). */
static void init_conds(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&hb.wake, &a);
	pthread_condattr_destroy(&a);
	pthread_cond_init(&hb.joined, NULL);
}

static void fork_prepare(void) { pthread_mutex_lock(&hb.lock); }
static void fork_parent(void) { pthread_mutex_unlock(&hb.lock); }
static void fork_child(void)
{
	/* No thread here: the comms copied stay unregistered (their sockets go
	 * quiet, which is how the peer learns the parent died). The parent's
	 * thread waited on `wake`: fresh conditions, a fresh mutex. */
	pthread_mutex_init(&hb.lock, NULL);
	init_conds();
	hb.running = hb.stopping = false;
	hb.n = 0;
}

/* glibc drops a library's atfork handlers when it is unloaded. */
static void init_once(void)
{
	init_conds();
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void *run(void *arg)
{
	(void)arg;
	uint64_t period = spark_heartbeat_period_ns(spark_params()->peer_timeout);
	pthread_mutex_lock(&hb.lock);
	while (!hb.stopping) {
		for (size_t i = 0; i < hb.n; i++)
			spark_ctl_heartbeat(hb.comms[i].comm);
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint64_t at = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec + period;
		t.tv_sec = (time_t)(at / 1000000000ull);
		t.tv_nsec = (long)(at % 1000000000ull);
		while (!hb.stopping && pthread_cond_timedwait(&hb.wake, &hb.lock, &t) == 0)
			;
	}
	pthread_mutex_unlock(&hb.lock);
	return NULL;
}

/* With every signal blocked: NCCL's and the application's handlers must
 * never run on our thread. */
static ncclResult_t start_thread(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&hb.thread, NULL, run, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		SPARK_WARN("could not start the heartbeat thread: %s; the peer would take this "
			   "process for dead", strerror(rc));
		return ncclSystemError;
	}
	hb.running = true;
	hb.stopping = false;
	return ncclSuccess;
}

ncclResult_t spark_heartbeat_add(struct spark_comm *c)
{
	ncclResult_t res = ncclSuccess;
	pthread_once(&hb_once, init_once);
	pthread_mutex_lock(&hb.lock);
	while (hb.stopping)             /* the last comm's close is joining: wait */
		pthread_cond_wait(&hb.joined, &hb.lock);
	if (hb.n == hb.cap) {
		size_t cap = hb.cap ? 2 * hb.cap : 16;
		struct member *grown = realloc(hb.comms, cap * sizeof *grown);
		if (grown == NULL) {
			res = ncclSystemError;
		} else {
			hb.comms = grown;
			hb.cap = cap;
		}
	}
	if (res == ncclSuccess && !hb.running)
		res = start_thread();
	if (res == ncclSuccess) {
		hb.comms[hb.n++].comm = c;
		c->ctl_chan.heartbeat = true;
	}
	pthread_mutex_unlock(&hb.lock);
	return res;
}

void spark_heartbeat_remove(struct spark_comm *c)
{
	if (!c->ctl_chan.heartbeat)
		return;
	c->ctl_chan.heartbeat = false;
	pthread_mutex_lock(&hb.lock);
	for (size_t i = 0; i < hb.n; i++)
		if (hb.comms[i].comm == c) {
			hb.comms[i] = hb.comms[--hb.n];
			break;
		}
	bool join = hb.n == 0 && hb.running && !hb.stopping;
	if (join) {
		hb.stopping = true;
		pthread_cond_signal(&hb.wake);
	}
	pthread_mutex_unlock(&hb.lock);
	if (!join)
		return;
	pthread_join(hb.thread, NULL);
	pthread_mutex_lock(&hb.lock);
	hb.running = hb.stopping = false;
	free(hb.comms);
	hb.comms = NULL;
	hb.cap = 0;
	pthread_cond_broadcast(&hb.joined);
	pthread_mutex_unlock(&hb.lock);
}
