/* `make memcheck`'s driver: one small stress cycle (traffic with survivable
 * faults, every byte checked, fds and MRs released) under valgrind's
 * memcheck. A plain program, not a Criterion test: host b is then a plain
 * fork (dp_harness.c), which valgrind follows; the exec of /proc/self/exe
 * that a Criterion test uses would start valgrind's own tool binary. */
#include <stdlib.h>

#include "run.h"

int main(void)
{
	setenv("SPARK_STRESS_SLOW", "valgrind", 0);
	struct st_run r;
	st_setup(&r, 100000, 400, 7);   /* 10^5: the CI run this one scales down */
	st_run_traffic(&r, "memcheck");
	return 0;
}
