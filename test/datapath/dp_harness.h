/* Two emulated Sparks, one process each: the helpers the data-path tests and
 * the bench share. A test starts host b (a fork + exec of the test binary that
 * runs the same test body as host b, see dp_harness.c); each side sets
 * SOFTROCE_HOST before loading anything, then loads softroce's libibverbs.so.1
 * (by path, so the plugin's DT_NEEDED binds to it) and the plugin, and drives
 * the plugin through its exported ncclNetPlugin_v8 table exactly as NCCL's
 * proxy does. Host b's code paths use DP_CHECK, never cr_assert: b runs the
 * test body outside Criterion. */
#ifndef DP_HARNESS_H
#define DP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "nccl/net_v8.h"

/* In either process: print and exit non-zero (a child) or abort the test. */
#define DP_CHECK(cond, ...)                                                          \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "[%s] %s:%d: check failed: %s: ", dp_host(), \
				__FILE__, __LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                \
			fprintf(stderr, "\n");                                       \
			dp_fail();                                                   \
		}                                                                    \
	} while (0)
#define DP_OK(expr) DP_CHECK((expr) == ncclSuccess, "%s", "call failed")

struct dp_pair {
	int pipe_ab[2];     /* a writes, b reads */
	int pipe_ba[2];     /* b writes, a reads */
	pid_t child;
	bool is_b;
	char fabric[256];
};

/* Fabric directory (mkdtemp), env (REORDER on unless told), host b. Returns in
 * both processes; p->is_b tells which one this is. Host b re-runs the test
 * body from its start, so everything before dp_pair_start runs in both.
 * extra_env: "K=V" strings set in both before loading, NULL-terminated (may
 * be NULL). */
void dp_pair_start(struct dp_pair *p, const char *const *extra_env);
/* a: waits for b, true when b exited 0. b: exits with its status. */
bool dp_pair_finish(struct dp_pair *p, int b_status);

/* True when the tests run under qemu-user, where everything is 5-20x slower:
 * `make test-aarch64` (mk/cross.mk) sets SPARK_TEST_QEMU=1. */
bool dp_under_qemu(void);

const ncclNet_v8_t *dp_load_plugin(void);
const char *dp_host(void);
void dp_fail(void) __attribute__((noreturn));

/* Pipes between the two sides. */
void dp_send(struct dp_pair *p, const void *buf, size_t len);
void dp_recv(struct dp_pair *p, void *buf, size_t len);
void dp_sync(struct dp_pair *p);

/* listen on one side, connect on the other; both loop (non-blocking calls). */
void *dp_connect_recv(struct dp_pair *p, const ncclNet_v8_t *net, int dev);  /* listener */
void *dp_connect_send(struct dp_pair *p, const ncclNet_v8_t *net, int dev);  /* connector */

/* Writes the fabric's topology file (atomically: both hosts write it, and
 * either may be reading it) and points SOFTROCE_TOPOLOGY at it. Call before
 * dp_load_plugin. */
void dp_write_topology(const struct dp_pair *p, const char *text);

/* Sleeps `us` microseconds (nanosleep, resumed after signals). */
void dp_sleep_us(long us);
/* Microseconds dp_wait sleeps between unfinished tests (default 0: spin).
 * The bench naps: on a 2-core host busy pollers starve the emulated NICs. */
void dp_set_nap(int us);
/* Sleeps the nap set (nothing when 0). */
void dp_nap(void);
/* Waits for a request; returns the test() result (ncclSuccess when done). */
ncclResult_t dp_wait(const ncclNet_v8_t *net, void *req, int *sizes);

/* Deterministic byte pattern of message `id`. */
void dp_fill(void *buf, size_t len, uint32_t id);
/* Offset of the first wrong byte, or -1. */
long dp_verify(const void *buf, size_t len, uint32_t id);

/* This process's stderr into a file while a test body runs (start), then
 * read into out, NUL-terminated, and echoed back (end): for the WARN lines
 * a test expects. */
struct dp_capture {
	FILE *tmp;
	int saved;
};
void dp_capture_start(struct dp_capture *c);
void dp_capture_end(struct dp_capture *c, char *out, size_t len);
/* Buffer of the kind NCCL's cuMem host allocations are: mmap'd shared anonymous. */
void *dp_alloc(size_t len);
void dp_free(void *p, size_t len);

double dp_now(void);

/* softroce's port counter `name` (port_xmit_data, ...) of host/hca, in
 * bytes for the *_data counters (mlx5 counts 4-byte words). */
uint64_t dp_counter(const struct dp_pair *p, const char *host, const char *hca,
		    const char *name);

#endif

/* hot: the plugin's control areas of a comm, for tests that play a corrupt
 * peer by writing into them: the CTS FIFO of a send comm
 * (FIFO[SPARK_SLOTS][SPARK_MAX_RECVS] of struct spark_cts_entry), the
 * completion records of a recv comm (records[SPARK_SLOTS]). */
void *dp_send_fifo(void *send_comm);
void *dp_recv_records(void *recv_comm);

/* ---- added for test/stress ---------------------------------------------- */
#ifndef DP_HARNESS_STRESS_H
#define DP_HARNESS_STRESS_H
/* Bytes of buf that differ from message `id`'s pattern (0: all right). */
uint64_t dp_count_bad(const void *buf, size_t len, uint32_t id);
#endif
