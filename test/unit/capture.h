/* A logger that keeps what the plugin says, so tests can assert on WARN
 * text. Criterion runs each test in its own process: no sharing. */
#ifndef SPARK_TEST_CAPTURE_H
#define SPARK_TEST_CAPTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static char capture_text[65536];
static int capture_warns;

static void capture_logger(ncclDebugLogLevel level, unsigned long flags, const char *file,
			   int line, const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	size_t used = strlen(capture_text);
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(capture_text + used, sizeof capture_text - used, "%s ",
			 level == NCCL_LOG_WARN ? "WARN" : "INFO");
	if (n > 0 && (size_t)n < sizeof capture_text - used)
		used += (size_t)n;
	vsnprintf(capture_text + used, sizeof capture_text - used, fmt, ap);
	va_end(ap);
	used = strlen(capture_text);
	snprintf(capture_text + used, sizeof capture_text - used, "\n");
	if (level == NCCL_LOG_WARN)
		capture_warns++;
}

static inline void capture_start(void)
{
	capture_text[0] = '\0';
	capture_warns = 0;
	spark_log_set_logger(capture_logger);
}

static inline int capture_has(const char *needle)
{
	return strstr(capture_text, needle) != NULL;
}

#endif
