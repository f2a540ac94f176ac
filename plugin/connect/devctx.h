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
 * pointers copied into each handle. */
#ifndef SPARK_DEVCTX_H
#define SPARK_DEVCTX_H

#include <stdint.h>

#include "hca.h"
#include "nccl/err.h"

struct ibv_context;
struct ibv_pd;
struct spark_mr_entry;

struct spark_devctx {
	char name[SPARK_NAME_LEN];
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	int comms;                      /* comm rails holding it */
	int mrs;                        /* cache entries (MRs) on its PD */
	struct spark_mr_entry *cache;   /* mr.c: sorted by start address */
	struct spark_devctx *next;
};

void spark_devctx_lock(void);
void spark_devctx_unlock(void);

/* A comm rail's reference: opens the HCA and allocates its PD on first use. */
ncclResult_t spark_devctx_acquire(const char *hca_name, struct spark_devctx **out);
/* Drops a comm rail's reference (d may be NULL). */
void spark_devctx_release(struct spark_devctx *d);

/* Called with the lock held (mr.c): an MR was added to or removed from d's
 * cache. The last removal may close d. */
void spark_devctx_mr_added_locked(struct spark_devctx *d);
void spark_devctx_mr_removed_locked(struct spark_devctx *d);

/* mr.c, at unload: frees the handles never deregistered whose HCAs no comm
 * uses (their MRs, and then those HCAs, go with them). Returns how many. */
int spark_mr_release_orphans_locked(void);

#endif
