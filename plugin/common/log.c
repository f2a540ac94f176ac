/* NET/Spark logging. NCCL hands us its logger in init(); before that (unit
 * tests, tools) messages go to stderr: WARN always, INFO/TRACE only when
 * NCCL_DEBUG asks for them, as NCCL itself would. */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Written by init, read by any proxy thread. */
static ncclDebugLogger_t spark_logger;

void spark_log_set_logger(ncclDebugLogger_t logger)
{
	__atomic_store_n(&spark_logger, logger, __ATOMIC_RELEASE);
}

ncclDebugLogger_t spark_log_get_logger(void)
{
	return __atomic_load_n(&spark_logger, __ATOMIC_ACQUIRE);
}

static int stderr_level(void)
{
	const char *debug = getenv("NCCL_DEBUG");
	if (debug == NULL)
		return NCCL_LOG_WARN;
	if (strcasecmp(debug, "INFO") == 0)
		return NCCL_LOG_INFO;
	if (strcasecmp(debug, "TRACE") == 0)
		return NCCL_LOG_TRACE;
	return NCCL_LOG_WARN;
}

void spark_log(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
	       const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	ncclDebugLogger_t logger = spark_log_get_logger();
	if (logger != NULL) {
		logger(level, flags, file, line, SPARK_LOG_PREFIX "%s", msg);
		return;
	}
	if ((int)level > stderr_level())
		return;
	fprintf(stderr, "%s %s%s\n", level == NCCL_LOG_WARN ? "WARN" : "INFO",
		SPARK_LOG_PREFIX, msg);
}

/* The one place where an errno becomes an ncclResult_t, following NCCL's
 * rules: the peer or the wire → ncclRemoteError; a call we made wrongly →
 * ncclInternalError; everything else the OS, library or hardware refused →
 * ncclSystemError. */
ncclResult_t spark_result_from_errno(int err)
{
	switch (err) {
	case 0:
		return ncclSuccess;
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
		return ncclRemoteError;
	case EINVAL:
	case EFAULT:
	case EBADF:
		return ncclInternalError;
	default:
		return ncclSystemError;
	}
}

ncclResult_t spark_check_failed(const char *what, int err, const char *file, int line)
{
	char buf[128];
	const char *text = strerror_r(err, buf, sizeof buf);
	spark_log(NCCL_LOG_WARN, NCCL_ALL, file, line, "%s failed: %s (errno %d)", what,
		  text, err);
	return spark_result_from_errno(err);
}
