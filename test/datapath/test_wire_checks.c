/* What the peer writes into our memory is range-checked, and the handles
 * NCCL passes back are checked: a corrupt clear-to-send entry in the
 * sender's FIFO, a corrupt completion record at the receiver, a stale memory
 * handle, a request tested after it was reported done. Each ends in a WARN
 * naming the field or handle and an error on that side (ncclRemoteError for
 * the wire, ncclInvalidUsage for a handle); nothing crashes or hangs. The
 * corrupt peer is played by writing into the plugin's own control areas
 * (dp_send_fifo, dp_recv_records) once the real peer's write has landed. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../plugin/common/wire.h"
#include "dp_harness.h"

#define MSG 65536

/* stderr into a file while a call runs: the WARN lines it printed. */
struct capture {
	int saved;
	char path[64];
};

static void capture_start(struct capture *cap)
{
	snprintf(cap->path, sizeof cap->path, "/tmp/dp-warn-XXXXXX");
	int fd = mkstemp(cap->path);
	DP_CHECK(fd >= 0, "mkstemp");
	fflush(stderr);
	cap->saved = dup(2);
	DP_CHECK(cap->saved >= 0 && dup2(fd, 2) == 2, "dup2");
	close(fd);
}

/* Stops capturing; true when the captured text contains want. */
static bool capture_has(struct capture *cap, const char *want)
{
	fflush(stderr);
	dup2(cap->saved, 2);
	close(cap->saved);
	char text[8192] = "";
	FILE *f = fopen(cap->path, "r");
	DP_CHECK(f != NULL, "%s", cap->path);
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(cap->path);
	fputs(text, stderr);
	return strstr(text, want) != NULL;
}

static void *wait_irecv(const ncclNet_v8_t *net, void *rc, int n, void **bufs, int *sizes,
			int *tags, void **mhs)
{
	void *req = NULL;
	double end = dp_now() + 60;
	while (req == NULL) {
		DP_OK(net->irecv(rc, n, bufs, sizes, tags, mhs, &req));
		DP_CHECK(dp_now() < end, "irecv never accepted");
	}
	return req;
}

static void *wait_isend(const ncclNet_v8_t *net, void *sc, void *buf, int size, int tag,
			void *mh)
{
	void *req = NULL;
	double end = dp_now() + 60;
	while (req == NULL) {
		DP_OK(net->isend(sc, buf, size, tag, mh, &req));
		DP_CHECK(dp_now() < end, "isend never found a receive");
	}
	return req;
}

enum cts_fault { ADDR_0, RKEY_0, NREQS_9, WRONG_SEQ, CTS_FAULTS };
static const char *const cts_field[CTS_FAULTS] = {"cts.addr", "cts.rkey", "cts.nreqs",
						  "cts.seq"};

/* Receive 1 is CTS seq 1, slot 1: once the receiver's write has landed in
 * the sender's FIFO, one field of it is made wrong before isend reads it. */
Test(wire_checks, a_corrupt_clear_to_send_fails_the_send_comm, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	void *buf = dp_alloc(MSG), *mh = NULL;
	for (int k = 0; k < CTS_FAULTS; k++) {
		if (p.is_b) {
			void *rc = dp_connect_recv(&p, net, 0);
			DP_OK(net->regMr(rc, buf, MSG, NCCL_PTR_HOST, &mh));
			int size = MSG, tag = 9;
			wait_irecv(net, rc, 1, &buf, &size, &tag, &mh);
			dp_sync(&p);   /* CTS posted */
			dp_sync(&p);   /* the sender has seen it and failed */
			DP_OK(net->closeRecv(rc));   /* with the receive in flight */
			DP_OK(net->deregMr(NULL, mh));
			continue;
		}
		void *sc = dp_connect_send(&p, net, 0);
		DP_OK(net->regMr(sc, buf, MSG, NCCL_PTR_HOST, &mh));
		dp_sync(&p);
		struct spark_cts_entry *e = (struct spark_cts_entry *)dp_send_fifo(sc) +
					    1 * SPARK_MAX_RECVS;
		double end = dp_now() + 30;
		while (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) != 1) {
			DP_CHECK(dp_now() < end, "the CTS never landed");
			dp_sleep_us(1000);
		}
		switch (k) {
		case ADDR_0: e->addr = 0; break;
		case RKEY_0: memset(e->rkey, 0, sizeof e->rkey); break;
		case NREQS_9: e->nreqs = SPARK_MAX_RECVS + 1; break;
		default: __atomic_store_n(&e->seq, 1 + SPARK_SLOTS, __ATOMIC_RELEASE); break;
		}
		void *req = (void *)1;
		struct capture cap;
		capture_start(&cap);
		ncclResult_t res = net->isend(sc, buf, MSG, 9, mh, &req);
		bool warned = capture_has(&cap, cts_field[k]);
		cr_assert_eq(res, ncclRemoteError, "fault %s: isend gave %d", cts_field[k], res);
		cr_assert_null(req, "fault %s: a request for a corrupt CTS", cts_field[k]);
		cr_assert(warned, "no WARN naming %s", cts_field[k]);
		cr_assert_eq(net->isend(sc, buf, MSG, 9, mh, &req), ncclRemoteError, "sticky");
		dp_sync(&p);
		DP_OK(net->closeSend(sc));
		DP_OK(net->deregMr(NULL, mh));
	}
	if (p.is_b)
		dp_pair_finish(&p, 0);
	dp_free(buf, MSG);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

enum rec_fault { SIZE_OVER, REC_NREQS_9, REC_WRONG_SEQ, REC_FAULTS };
static const char *const rec_field[REC_FAULTS] = {"record.sizes", "record.nreqs", "record.seq"};

/* A grouped receive (2 buffers) takes its sizes from the record in
 * records[slot 1]; once the sender's writes are acknowledged (so they have
 * landed), the record is made wrong before the receiver's test reads it. */
Test(wire_checks, a_corrupt_completion_record_fails_the_recv_comm, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	uint8_t *buf = dp_alloc(2 * MSG);
	void *mh = NULL;
	for (int k = 0; k < REC_FAULTS; k++) {
		if (!p.is_b) {
			void *sc = dp_connect_send(&p, net, 0);
			DP_OK(net->regMr(sc, buf, 2 * MSG, NCCL_PTR_HOST, &mh));
			void *r0 = wait_isend(net, sc, buf, 1000, 1, mh);
			void *r1 = wait_isend(net, sc, buf + MSG, 2000, 2, mh);
			DP_OK(dp_wait(net, r0, NULL));
			DP_OK(dp_wait(net, r1, NULL));
			dp_sync(&p);   /* acknowledged: landed at the receiver */
			dp_sync(&p);   /* the receiver has failed */
			DP_OK(net->closeSend(sc));
			DP_OK(net->deregMr(NULL, mh));
			continue;
		}
		void *rc = dp_connect_recv(&p, net, 0);
		DP_OK(net->regMr(rc, buf, 2 * MSG, NCCL_PTR_HOST, &mh));
		void *bufs[2] = {buf, buf + MSG}, *mhs[2] = {mh, mh};
		int sizes[2] = {MSG / 2, MSG / 2}, tags[2] = {1, 2}, got[2] = {-1, -1};
		void *req = wait_irecv(net, rc, 2, bufs, sizes, tags, mhs);
		dp_sync(&p);
		struct spark_cmpl_record *rec = (struct spark_cmpl_record *)dp_recv_records(rc) + 1;
		DP_CHECK(__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) == 1, "no record landed");
		switch (k) {
		case SIZE_OVER: rec->sizes[1] = MSG / 2 + 1; break;
		case REC_NREQS_9: rec->nreqs = SPARK_MAX_RECVS + 1; break;
		default: __atomic_store_n(&rec->seq, 1 + SPARK_SLOTS, __ATOMIC_RELEASE); break;
		}
		struct capture cap;
		capture_start(&cap);
		int done = 0;
		ncclResult_t res = ncclSuccess;
		double end = dp_now() + 30;
		while (res == ncclSuccess && !done && dp_now() < end)
			res = net->test(req, &done, got);
		bool warned = capture_has(&cap, rec_field[k]);
		DP_CHECK(res == ncclRemoteError && !done, "fault %s: test gave %d, done %d",
			 rec_field[k], res, done);
		DP_CHECK(warned, "no WARN naming %s", rec_field[k]);
		DP_CHECK(got[0] == -1 && got[1] == -1, "sizes reported from a corrupt record");
		dp_sync(&p);
		DP_OK(net->closeRecv(rc));
		DP_OK(net->deregMr(NULL, mh));
	}
	dp_free(buf, 2 * MSG);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* A handle deregistered (or one that does not cover the buffer) on isend or
 * irecv: ncclInvalidUsage with a WARN, the comm still usable. */
Test(wire_checks, a_stale_mhandle_is_invalid_usage, .timeout = 120)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	uint8_t *buf = dp_alloc(2 * MSG);
	void *mh = NULL, *stale = NULL;
	int size = MSG, tag = 4, got = -1;
	if (p.is_b) {
		void *rc = dp_connect_recv(&p, net, 0);
		DP_OK(net->regMr(rc, buf, MSG, NCCL_PTR_HOST, &mh));
		DP_OK(net->regMr(rc, buf, MSG, NCCL_PTR_HOST, &stale));
		DP_OK(net->deregMr(rc, stale));
		void *req = (void *)1, *b2 = buf + MSG;
		DP_CHECK(net->irecv(rc, 1, (void **)&buf, &size, &tag, &stale, &req) ==
			 ncclInvalidUsage && req == NULL, "irecv took a deregistered handle");
		DP_CHECK(net->irecv(rc, 1, &b2, &size, &tag, &mh, &req) == ncclInvalidUsage &&
			 req == NULL, "irecv took a handle that does not cover the buffer");
		/* The sender's isend with a stale handle is refused: told so. */
		req = wait_irecv(net, rc, 1, (void **)&buf, &size, &tag, &mh);
		DP_CHECK(dp_wait(net, req, &got) == ncclInvalidUsage, "the refusal not reported");
		/* Then a good message. */
		req = wait_irecv(net, rc, 1, (void **)&buf, &size, &tag, &mh);
		DP_OK(dp_wait(net, req, &got));
		DP_CHECK(got == 100 && dp_verify(buf, 100, 7) == -1, "message after the refusals");
		dp_sync(&p);
		DP_OK(net->closeRecv(rc));
		DP_OK(net->deregMr(rc, mh));
		dp_pair_finish(&p, 0);
	}
	void *sc = dp_connect_send(&p, net, 0);
	DP_OK(net->regMr(sc, buf, MSG, NCCL_PTR_HOST, &mh));
	DP_OK(net->regMr(sc, buf, MSG, NCCL_PTR_HOST, &stale));
	DP_OK(net->deregMr(sc, stale));
	void *req = NULL;
	ncclResult_t res = ncclSuccess;
	struct capture cap;
	capture_start(&cap);
	double end = dp_now() + 60;
	while (res == ncclSuccess && req == NULL && dp_now() < end)
		res = net->isend(sc, buf, MSG, tag, stale, &req);
	bool warned = capture_has(&cap, "deregistered");
	cr_assert_eq(res, ncclInvalidUsage, "isend with a deregistered handle gave %d", res);
	cr_assert_null(req);
	cr_assert(warned, "no WARN for the deregistered handle");
	dp_fill(buf, 100, 7);
	req = wait_isend(net, sc, buf, 100, tag, mh);
	cr_assert_eq(dp_wait(net, req, NULL), ncclSuccess, "the comm is still usable");
	dp_sync(&p);
	DP_OK(net->closeSend(sc));
	DP_OK(net->deregMr(sc, mh));
	dp_free(buf, 2 * MSG);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}

/* NCCL tests a request until it is done and never again: a test after done
 * (on either side), or of something isend/irecv never returned, is
 * ncclInvalidUsage with a WARN. */
Test(wire_checks, a_request_tested_after_done_is_invalid_usage, .timeout = 60)
{
	struct dp_pair p;
	dp_pair_start(&p, NULL);
	const ncclNet_v8_t *net = dp_load_plugin();
	void *buf = dp_alloc(MSG), *mh = NULL, *req;
	int size = MSG, tag = 5, done = 0;
	void *comm = p.is_b ? dp_connect_recv(&p, net, 0) : dp_connect_send(&p, net, 0);
	DP_OK(net->regMr(comm, buf, MSG, NCCL_PTR_HOST, &mh));
	req = p.is_b ? wait_irecv(net, comm, 1, &buf, &size, &tag, &mh)
		     : wait_isend(net, comm, buf, MSG, tag, mh);
	DP_OK(dp_wait(net, req, NULL));
	struct capture cap;
	capture_start(&cap);
	ncclResult_t again = net->test(req, &done, NULL);
	bool warned = capture_has(&cap, "already reported done");
	DP_CHECK(again == ncclInvalidUsage && done == 0, "a second test gave %d, done %d", again,
		 done);
	DP_CHECK(warned, "no WARN for the second test");
	long junk[16];
	memset(junk, 0x5a, sizeof junk);
	DP_CHECK(net->test(junk, &done, NULL) == ncclInvalidUsage, "a pointer to junk");
	dp_sync(&p);
	DP_OK(p.is_b ? net->closeRecv(comm) : net->closeSend(comm));
	DP_OK(net->deregMr(comm, mh));
	dp_free(buf, MSG);
	if (p.is_b)
		dp_pair_finish(&p, 0);
	cr_assert(dp_pair_finish(&p, 0), "host b failed");
}
