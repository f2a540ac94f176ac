#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdlib.h>

#include "capture.h"

Test(log, prefix_and_level_reach_the_nccl_logger)
{
	capture_start();
	SPARK_WARN("bad %d", 7);
	SPARK_INFO(NCCL_INIT, "fine");
	cr_assert(capture_has("WARN NET/Spark : bad 7"), "%s", capture_text);
	cr_assert(capture_has("INFO NET/Spark : fine"), "%s", capture_text);
	cr_assert_eq(capture_warns, 1);
}

Test(log, errno_mapping)
{
	cr_assert_eq(spark_result_from_errno(0), ncclSuccess);
	cr_assert_eq(spark_result_from_errno(ENOMEM), ncclSystemError);
	cr_assert_eq(spark_result_from_errno(ENODEV), ncclSystemError);
	cr_assert_eq(spark_result_from_errno(EINVAL), ncclInternalError);
	cr_assert_eq(spark_result_from_errno(ECONNRESET), ncclRemoteError);
	cr_assert_eq(spark_result_from_errno(ETIMEDOUT), ncclRemoteError);
}

static int fails_with_rc(int rc) { return rc; }
static int fails_with_errno(int e) { errno = e; return -1; }
static void *null_with_errno(int e) { errno = e; return NULL; }

static ncclResult_t checked_rc(int rc)
{
	SPARK_CHECK(fails_with_rc(rc));
	return ncclSuccess;
}

static ncclResult_t checked_errno(int e)
{
	SPARK_CHECK(fails_with_errno(e));
	return ncclSuccess;
}

static ncclResult_t checked_ptr(int e)
{
	void *p;
	SPARK_CHECK_PTR(p, null_with_errno(e));
	(void)p;
	return ncclSuccess;
}

static ncclResult_t tried(ncclResult_t inner)
{
	SPARK_TRY(inner);
	return ncclSuccess;
}

Test(log, check_idiom_logs_the_call_and_errno)
{
	capture_start();
	cr_assert_eq(checked_rc(0), ncclSuccess);
	cr_assert_eq(capture_warns, 0);
	cr_assert_eq(checked_rc(ENOMEM), ncclSystemError);
	cr_assert(capture_has("fails_with_rc(rc) failed: Cannot allocate memory (errno 12)"), "%s",
		  capture_text);
	cr_assert_eq(checked_errno(EINVAL), ncclInternalError);
	cr_assert(capture_has("fails_with_errno(e) failed: Invalid argument (errno 22)"), "%s",
		  capture_text);
	cr_assert_eq(checked_ptr(ENODEV), ncclSystemError);
	cr_assert(capture_has("null_with_errno(e) failed"), "%s", capture_text);
	cr_assert_eq(tried(ncclRemoteError), ncclRemoteError);
	cr_assert_eq(tried(ncclSuccess), ncclSuccess);
}

Test(log, stderr_fallback_without_a_logger, .init = cr_redirect_stderr)
{
	unsetenv("NCCL_DEBUG");
	spark_log_set_logger(NULL);
	SPARK_WARN("shown");
	SPARK_INFO(NCCL_INIT, "hidden");
	fflush(stderr);
	cr_assert_stderr_eq_str("WARN NET/Spark : shown\n");
}

Test(log, stderr_fallback_info_with_nccl_debug, .init = cr_redirect_stderr)
{
	setenv("NCCL_DEBUG", "INFO", 1);
	spark_log_set_logger(NULL);
	SPARK_INFO(NCCL_INIT, "now shown");
	fflush(stderr);
	cr_assert_stderr_eq_str("INFO NET/Spark : now shown\n");
}
