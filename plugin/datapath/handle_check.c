#include "handle_check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct range {
	uintptr_t base, end;            /* [base, end) */
	size_t stride;
};

/* Process-wide like the comms it describes; the table is freed when the
 * last range goes, so nothing outlives the last comm (NCCL may dlclose). */
static struct {
	pthread_mutex_t lock;
	struct range *r;                /* sorted by base, disjoint */
	size_t n, cap;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Index of the first range whose base is > p. */
static size_t upper(uintptr_t p)
{
	size_t lo = 0, hi = table.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (table.r[mid].base <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ncclResult_t spark_req_range_add(const void *base, size_t count, size_t stride)
{
	uintptr_t b = (uintptr_t)base;
	if (base == NULL || count == 0 || stride == 0 || count > (UINTPTR_MAX - b) / stride) {
		SPARK_WARN("request array %p x %zu x %zu: invalid", base, count, stride);
		return ncclInternalError;
	}
	ncclResult_t res = ncclSuccess;
	pthread_mutex_lock(&table.lock);
	if (table.n == table.cap) {
		size_t cap = table.cap ? table.cap * 2 : 16;
		struct range *r = realloc(table.r, cap * sizeof *r);
		if (r == NULL)
			res = ncclSystemError;
		else {
			table.r = r;
			table.cap = cap;
		}
	}
	if (res == ncclSuccess) {
		size_t i = upper(b);
		memmove(&table.r[i + 1], &table.r[i], (table.n - i) * sizeof *table.r);
		table.r[i] = (struct range){b, b + count * stride, stride};
		table.n++;
	}
	pthread_mutex_unlock(&table.lock);
	return res;
}

void spark_req_range_remove(const void *base)
{
	uintptr_t b = (uintptr_t)base;
	pthread_mutex_lock(&table.lock);
	size_t i = upper(b);
	if (i > 0 && table.r[i - 1].base == b) {
		memmove(&table.r[i - 1], &table.r[i], (table.n - i) * sizeof *table.r);
		if (--table.n == 0) {
			free(table.r);
			table.r = NULL;
			table.cap = 0;
		}
	}
	pthread_mutex_unlock(&table.lock);
}

ncclResult_t spark_req_check(const void *request, const char *op)
{
	uintptr_t p = (uintptr_t)request;
	bool ok = false;
	pthread_mutex_lock(&table.lock);
	size_t i = upper(p);
	if (i > 0) {
		const struct range *r = &table.r[i - 1];
		ok = p < r->end && (p - r->base) % r->stride == 0;
	}
	pthread_mutex_unlock(&table.lock);
	if (!ok) {
		SPARK_WARN("%s: request %p is not a request of a live comm (stale, already "
			   "freed with its comm, or never returned by isend/irecv)", op, request);
		return ncclInvalidUsage;
	}
	return ncclSuccess;
}

size_t spark_req_ranges(void)
{
	pthread_mutex_lock(&table.lock);
	size_t n = table.n;
	pthread_mutex_unlock(&table.lock);
	return n;
}
