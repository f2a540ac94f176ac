/* A stress run's settings, figures and checks (run.c). */
#ifndef STRESS_RUN_H
#define STRESS_RUN_H

#include "faults.h"

struct st_run {
	struct st_config cfg;
	bool live, failback, no_faults;
	const char *slow;              /* why the run is scaled down, or NULL */
	double stall_s;                /* no request moved this long: a hang */
};

/* From SPARK_STRESS_*: native_msgs messages (0: no end), slow_msgs when the
 * run is slow (sanitizer, valgrind, qemu). salt: each test's own traffic. */
void st_setup(struct st_run *r, uint64_t native_msgs, uint64_t slow_msgs, uint64_t salt);
void st_print_figures(const char *test, const struct st_run *r, const struct st_figures *f,
		      int faults, int survived, const char *errors);
void st_add(struct st_figures *a, const struct st_figures *b);
/* fds and pinned pages back to what they were before the comms (fd0). */
void st_check_released(int fd0);
/* The survivable run: the traffic with random faults; every byte right. */
void st_run_traffic(struct st_run *r, const char *test);

#endif
