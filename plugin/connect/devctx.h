/* The verbs objects of one HCA that every comm and every registration on it
 * share: one ibv_context and one PD per HCA per process. Sharing the PD is
 * what lets an MR serve any comm of the device (regIsGlobal) and lets a
 * buffer NCCL registers on several comms be pinned once (mr.c).
 *
 * Lifetime: a devctx lives while any comm rail or any cached MR holds it.
 * NCCL may deregister after closing the comm, so the PD outlives the comm
 * until the last MR is gone; the last release closes the device, so nothing
 * stays open after the last comm and the last MR (dlclose is then safe).
 * Registrations never deregistered are released at unload (devctx.c's
 * destructor), on HCAs no comm uses any more.
 *
 * One process-wide mutex guards the registry, the counts and the MR caches.
 * Nothing here runs on the data path: the data path reads the ibv_mr
 * pointers copied into each handle.
 *
 * Port events: the context's async fd is made non-blocking at open, and any
 * comm on the HCA may drain it (spark_devctx_poll_events, under a trylock:
 * several proxy threads share the context). The port's state lands in
 * atomics here, not in the comm that happened to drain, so every comm on
 * the HCA sees every event. No thread: the comms' data paths drain, at most
 * every SPARK_PORT_CHECK_NS each (failback.c). */
#ifndef SPARK_DEVCTX_H
#define SPARK_DEVCTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hca.h"
#include "nccl/err.h"

struct ibv_context;
struct ibv_pd;
struct spark_mr_entry;

/* Ports 1..SPARK_DEVCTX_PORTS are tracked (a Spark HCA has one). */
#define SPARK_DEVCTX_PORTS 4

/* What the async events said about one port, as a comm reads it. */
struct spark_port_state {
	uint32_t gen;                   /* bumped on every event of the port */
	uint32_t errs;                  /* PORT_ERR (or DEVICE_FATAL) events seen */
	bool up;                        /* the last event said ACTIVE (or none came) */
};

struct spark_devctx {
	char name[SPARK_NAME_LEN];
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	int comms;                      /* comm rails holding it */
	int mrs;                        /* cache entries (MRs) on its PD */
	struct spark_mr_entry *cache;   /* mr.c: sorted by start address */
	struct spark_devctx *next;
	/* Port events (no registry lock: readers hold a reference). */
	_Atomic bool draining;          /* a thread is in spark_devctx_poll_events */
	bool events;                    /* the async fd is non-blocking: may be drained */
	_Atomic uint32_t port_gen[SPARK_DEVCTX_PORTS];
	_Atomic uint32_t port_errs[SPARK_DEVCTX_PORTS];
	_Atomic uint32_t port_down[SPARK_DEVCTX_PORTS];
};

void spark_devctx_lock(void);
void spark_devctx_unlock(void);

/* A comm rail's reference: opens the HCA and allocates its PD on first use. */
ncclResult_t spark_devctx_acquire(const char *hca_name, struct spark_devctx **out);
/* Drops a comm rail's reference (d may be NULL). */
void spark_devctx_release(struct spark_devctx *d);

/* Reads the async events queued on d's context (none waits) and acks each;
 * returns at once when another thread is draining. Any thread. */
void spark_devctx_poll_events(struct spark_devctx *d);
/* The state of d's port (1-based) as the events drained so far tell it. */
void spark_devctx_port(struct spark_devctx *d, int port, struct spark_port_state *out);

/* Called with the lock held (mr.c): an MR was added to or removed from d's
 * cache. The last removal may close d. */
void spark_devctx_mr_added_locked(struct spark_devctx *d);
void spark_devctx_mr_removed_locked(struct spark_devctx *d);

/* mr.c, at unload: frees the handles never deregistered whose HCAs no comm
 * uses (their MRs, and then those HCAs, go with them). Returns how many. */
int spark_mr_release_orphans_locked(void);

#endif
