/* Logging through NCCL's logger with a "NET/Spark" prefix, and the one error
 * idiom of the plugin.
 *
 *   SPARK_WARN(fmt, ...)          problems the user must see
 *   SPARK_INFO(flags, fmt, ...)   what was chosen (flags: NCCL_INIT, NCCL_NET, ...)
 *   SPARK_TRACE(flags, fmt, ...)  hot-path detail
 *
 *   SPARK_TRY(expr)          expr yields an ncclResult_t; propagate a failure.
 *   SPARK_CHECK(expr)        expr is a C/verbs call yielding 0 on success and an
 *                            errno value (> 0) or -1 with errno set on failure:
 *                            WARN naming the call, errno and strerror, then
 *                            return spark_result_from_errno().
 *   SPARK_CHECK_PTR(expr)    the same for calls returning NULL with errno set.
 */
#ifndef SPARK_LOG_H
#define SPARK_LOG_H

#include <errno.h>

#include "nccl/err.h"
#include "nccl/log.h"

#define SPARK_LOG_PREFIX "NET/Spark : "

void spark_log_set_logger(ncclDebugLogger_t logger);
ncclDebugLogger_t spark_log_get_logger(void);
void spark_log(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

ncclResult_t spark_result_from_errno(int err);
ncclResult_t spark_check_failed(const char *what, int err, const char *file, int line);

#define SPARK_WARN(...) spark_log(NCCL_LOG_WARN, NCCL_ALL, __FILE__, __LINE__, __VA_ARGS__)
#define SPARK_INFO(flags, ...) spark_log(NCCL_LOG_INFO, (flags), __func__, __LINE__, __VA_ARGS__)
#define SPARK_TRACE(flags, ...) spark_log(NCCL_LOG_TRACE, (flags), __func__, __LINE__, __VA_ARGS__)

#define SPARK_TRY(expr)                                   \
	do {                                              \
		ncclResult_t spark_try_res_ = (expr);     \
		if (spark_try_res_ != ncclSuccess)        \
			return spark_try_res_;            \
	} while (0)

#define SPARK_CHECK(expr)                                                          \
	do {                                                                       \
		int spark_check_rc_ = (expr);                                      \
		if (spark_check_rc_ != 0)                                          \
			return spark_check_failed(#expr,                           \
				spark_check_rc_ > 0 ? spark_check_rc_ : errno,     \
				__FILE__, __LINE__);                               \
	} while (0)

#define SPARK_CHECK_PTR(var, expr)                                                 \
	do {                                                                       \
		(var) = (expr);                                                    \
		if ((var) == NULL)                                                 \
			return spark_check_failed(#expr, errno, __FILE__, __LINE__); \
	} while (0)

#endif
