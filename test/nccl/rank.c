/* One rank of nccl_check (nccl_check.h). Values are small integers, so
 * float sums are exact and every element can be compared for equality. */
#include <cuda_runtime.h>
#include <errno.h>
#include <nccl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nccl_check.h"

#define NRANKS 2

#define CUDA_OK(x)                                                                     \
	do {                                                                           \
		cudaError_t e_ = (x);                                                  \
		if (e_ != cudaSuccess) {                                               \
			fprintf(stderr, "rank %d: %s: %s\n", rank_id, #x,              \
				cudaGetErrorString(e_));                               \
			return 1;                                                      \
		}                                                                      \
	} while (0)
#define NCCL_OK(x)                                                                     \
	do {                                                                           \
		ncclResult_t r_ = (x);                                                 \
		if (r_ != ncclSuccess) {                                               \
			fprintf(stderr, "rank %d: %s: %s\n", rank_id, #x,              \
				ncclGetErrorString(r_));                               \
			return 1;                                                      \
		}                                                                      \
	} while (0)

static int rank_id;

enum op { OP_ALLREDUCE_F32, OP_ALLREDUCE_I32, OP_ALLGATHER, OP_REDUCESCATTER, OP_BROADCAST,
	  OP_SENDRECV, OP_COUNT };

static const struct {
	const char *name;   /* nccl-tests' binary name without _perf */
	const char *type, *redop;
	double bus_factor;  /* busbw = algbw × this, for 2 ranks (nccl-tests' formulas) */
} ops[OP_COUNT] = {
	[OP_ALLREDUCE_F32] = {"all_reduce", "float", "sum", 2.0 * (NRANKS - 1) / NRANKS},
	[OP_ALLREDUCE_I32] = {"all_reduce", "int32", "sum", 2.0 * (NRANKS - 1) / NRANKS},
	[OP_ALLGATHER] = {"all_gather", "float", "none", (double)(NRANKS - 1) / NRANKS},
	[OP_REDUCESCATTER] = {"reduce_scatter", "float", "sum", (double)(NRANKS - 1) / NRANKS},
	[OP_BROADCAST] = {"broadcast", "float", "none", 1.0},
	[OP_SENDRECV] = {"sendrecv", "float", "none", 1.0},
};

struct bufs {
	void *send, *recv;     /* device */
	void *host;            /* staging for fills and checks */
	cudaStream_t stream;
	ncclComm_t comm;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Element i of rank r's input: small, exact in float, distinct per rank. */
static int32_t input_value(int r, size_t i) { return (int32_t)((r + 1) * (int32_t)(1 + i % 251)); }

static int publish_id(const char *path, const ncclUniqueId *id)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (f == NULL || fwrite(id, sizeof *id, 1, f) != 1 || fclose(f) != 0) {
		fprintf(stderr, "rank 0: cannot write %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	return rename(tmp, path) == 0 ? 0 : 1;     /* atomic: rank 1 sees all or nothing */
}

static int read_id(const char *path, ncclUniqueId *id, int timeout_s)
{
	double end = now_s() + timeout_s;
	for (;;) {
		FILE *f = fopen(path, "rb");
		if (f != NULL) {
			size_t n = fread(id, sizeof *id, 1, f);
			fclose(f);
			if (n == 1)
				return 0;
		}
		if (now_s() > end) {
			fprintf(stderr, "rank 1: no unique id in %s after %d s\n", path, timeout_s);
			return 1;
		}
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	}
}

static void fill_input(enum op op, void *host, size_t count)
{
	if (op == OP_ALLREDUCE_I32) {
		for (size_t i = 0; i < count; i++)
			((int32_t *)host)[i] = input_value(rank_id, i);
	} else {
		for (size_t i = 0; i < count; i++)
			((float *)host)[i] = (float)input_value(rank_id, i);
	}
}

/* count: elements per rank's input (all_gather/reduce_scatter: per chunk). */
static ncclResult_t run_op(enum op op, struct bufs *b, size_t count)
{
	switch (op) {
	case OP_ALLREDUCE_F32:
		return ncclAllReduce(b->send, b->recv, count, ncclFloat32, ncclSum, b->comm, b->stream);
	case OP_ALLREDUCE_I32:
		return ncclAllReduce(b->send, b->recv, count, ncclInt32, ncclSum, b->comm, b->stream);
	case OP_ALLGATHER:
		return ncclAllGather(b->send, b->recv, count, ncclFloat32, b->comm, b->stream);
	case OP_REDUCESCATTER:
		return ncclReduceScatter(b->send, b->recv, count, ncclFloat32, ncclSum, b->comm,
					 b->stream);
	case OP_BROADCAST:
		return ncclBroadcast(b->send, b->recv, count, ncclFloat32, 0, b->comm, b->stream);
	case OP_SENDRECV: {
		int peer = 1 - rank_id;
		ncclGroupStart();
		ncclSend(b->send, count, ncclFloat32, peer, b->comm, b->stream);
		ncclRecv(b->recv, count, ncclFloat32, peer, b->comm, b->stream);
		return ncclGroupEnd();
	}
	default:
		return ncclInvalidArgument;
	}
}

/* The value element i of the output must hold. */
static int32_t expected(enum op op, size_t i, size_t count)
{
	switch (op) {
	case OP_ALLREDUCE_F32:
	case OP_ALLREDUCE_I32:
		return input_value(0, i) + input_value(1, i);
	case OP_ALLGATHER:
		return input_value((int)(i / count), i % count);
	case OP_REDUCESCATTER:
		return input_value(0, (size_t)rank_id * count + i) +
		       input_value(1, (size_t)rank_id * count + i);
	case OP_BROADCAST:
		return input_value(0, i);
	default: /* sendrecv */
		return input_value(1 - rank_id, i);
	}
}

static size_t count_wrong(enum op op, const void *host, size_t out_count, size_t count)
{
	size_t wrong = 0;
	for (size_t i = 0; i < out_count; i++) {
		int32_t want = expected(op, i, count);
		int ok = op == OP_ALLREDUCE_I32 ? ((const int32_t *)host)[i] == want
						: ((const float *)host)[i] == (float)want;
		if (!ok && wrong++ == 0)
			fprintf(stderr, "rank %d: %s %s: element %zu wrong (want %d)\n", rank_id,
				ops[op].name, ops[op].type, i, (int)want);
	}
	return wrong;
}

/* The element counts of one run at nccl-tests' `size` (the larger buffer:
 * all_gather's output, reduce_scatter's input). */
struct shape {
	size_t count;      /* what the NCCL call takes */
	size_t in, out;    /* elements of this rank's input and output */
};

static struct shape shape_of(enum op op, size_t bytes)
{
	size_t elems = bytes / 4, chunk = elems / NRANKS;
	if (op == OP_ALLGATHER)
		return (struct shape){chunk, chunk, chunk * NRANKS};
	if (op == OP_REDUCESCATTER)
		return (struct shape){chunk, chunk * NRANKS, chunk};
	return (struct shape){elems, elems, elems};
}

static int one_size(const struct nc_opts *o, enum op op, struct bufs *b, size_t bytes,
		    size_t *wrong_total)
{
	struct shape sh = shape_of(op, bytes);
	if (sh.count == 0)
		return 0;
	fill_input(op, b->host, sh.in);
	CUDA_OK(cudaMemcpy(b->send, b->host, sh.in * 4, cudaMemcpyHostToDevice));
	CUDA_OK(cudaMemset(b->recv, 0xff, sh.out * 4));
	NCCL_OK(run_op(op, b, sh.count));           /* the checked run */
	CUDA_OK(cudaStreamSynchronize(b->stream));
	CUDA_OK(cudaMemcpy(b->host, b->recv, sh.out * 4, cudaMemcpyDeviceToHost));
	size_t wrong = count_wrong(op, b->host, sh.out, sh.count);
	*wrong_total += wrong;
	for (int i = 0; i < o->warmup; i++)
		NCCL_OK(run_op(op, b, sh.count));
	CUDA_OK(cudaStreamSynchronize(b->stream));
	double t0 = now_s();
	for (int i = 0; i < o->iters; i++)
		NCCL_OK(run_op(op, b, sh.count));
	CUDA_OK(cudaStreamSynchronize(b->stream));
	double us = (now_s() - t0) * 1e6 / o->iters;
	size_t size = (sh.in > sh.out ? sh.in : sh.out) * 4;
	double algbw = (double)size / (us * 1e3);   /* GB/s */
	if (rank_id == 0)
		printf("%12zu %12zu %8s %6s %6d %10.1f %7.2f %7.2f %6zu   %s\n", size,
		       size / 4, ops[op].type, ops[op].redop, op == OP_BROADCAST ? 0 : -1, us,
		       algbw, algbw * ops[op].bus_factor, wrong, ops[op].name);
	fflush(stdout);
	return 0;
}

static int run_all(const struct nc_opts *o, struct bufs *b, size_t *wrong)
{
	for (int op = 0; op < OP_COUNT; op++) {
		if (rank_id == 0)
			printf("# %s (%s): %d ranks, %d iters\n"
			       "#%11s %12s %8s %6s %6s %10s %7s %7s %6s\n", ops[op].name,
			       ops[op].type, NRANKS, o->iters, "size", "count", "type", "redop",
			       "root", "time(us)", "algbw", "busbw", "#wrong");
		size_t bytes = o->min_bytes;
		for (;;) {
			if (one_size(o, (enum op)op, b, bytes, wrong) != 0)
				return 1;
			if (bytes >= o->max_bytes)
				break;
			bytes = bytes * (size_t)o->factor > o->max_bytes ? o->max_bytes
								  : bytes * (size_t)o->factor;
		}
	}
	return 0;
}

int nc_rank_main(const struct nc_opts *o)
{
	rank_id = o->rank;
	struct bufs b = {0};
	ncclUniqueId id;
	int version = 0;
	NCCL_OK(ncclGetVersion(&version));
	CUDA_OK(cudaSetDevice(0));
	if (rank_id == 0) {
		NCCL_OK(ncclGetUniqueId(&id));
		if (publish_id(o->id_file, &id) != 0)
			return 1;
		printf("# nccl_check: NCCL %d, net %s, %zu .. %zu bytes\n", version, o->net,
		       o->min_bytes, o->max_bytes);
	} else if (read_id(o->id_file, &id, o->timeout_s) != 0) {
		return 1;
	}
	NCCL_OK(ncclCommInitRank(&b.comm, NRANKS, id, rank_id));
	CUDA_OK(cudaStreamCreate(&b.stream));
	size_t cap = o->max_bytes * NRANKS;
	CUDA_OK(cudaMalloc(&b.send, cap));
	CUDA_OK(cudaMalloc(&b.recv, cap));
	CUDA_OK(cudaMallocHost(&b.host, cap));
	size_t wrong = 0;
	int rc = run_all(o, &b, &wrong);
	NCCL_OK(ncclCommFinalize(b.comm));
	NCCL_OK(ncclCommDestroy(b.comm));
	cudaFree(b.send);
	cudaFree(b.recv);
	cudaFreeHost(b.host);
	cudaStreamDestroy(b.stream);
	if (wrong != 0)
		fprintf(stderr, "rank %d: %zu wrong elements\n", rank_id, wrong);
	return rc != 0 ? rc : wrong != 0 ? 2 : 0;
}
