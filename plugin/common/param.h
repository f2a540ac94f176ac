/* Every NCCL_SPARK_* knob, in one table (param.c): read once at init,
 * validated (a bad value gives a WARN naming the variable and the accepted
 * form, then the default), effective values logged at INFO. */
#ifndef SPARK_PARAM_H
#define SPARK_PARAM_H

#include <stdbool.h>

#include "hca_spec.h"
#include "pairs_spec.h"

enum spark_pci_path_mode {
	SPARK_PCI_PATH_AUTO,    /* rail 0's path for one-rail devices, none for pairs */
	SPARK_PCI_PATH_RAIL0,   /* always rail 0's PCI function */
	SPARK_PCI_PATH_NONE,    /* always NULL: NCCL attaches the NIC to the CPU */
};

struct spark_params {
	/* Discovery and device shape (used now). */
	struct spark_hca_filter hca;      /* NCCL_SPARK_HCA */
	struct spark_pairs pairs;         /* NCCL_SPARK_PAIRS */
	int gid_index;                    /* NCCL_SPARK_GID_INDEX, -1 = auto */
	int pci_path;                     /* NCCL_SPARK_PCI_PATH */
	int mlx5dv;                       /* NCCL_SPARK_MLX5DV */
	/* Data path. */
	long min_stripe;                  /* NCCL_SPARK_MIN_STRIPE, bytes */
	int adaptive_weights;             /* NCCL_SPARK_ADAPTIVE_WEIGHTS */
	int ib_timeout;                   /* NCCL_SPARK_IB_TIMEOUT */
	int ib_retry_cnt;                 /* NCCL_SPARK_IB_RETRY_CNT */
	int ib_tc;                        /* NCCL_SPARK_IB_TC */
	int ib_sl;                        /* NCCL_SPARK_IB_SL */
	int peer_timeout;                 /* NCCL_SPARK_PEER_TIMEOUT, seconds */
	int failback;                     /* NCCL_SPARK_FAILBACK: re-admit a rail that returns */
};

/* Fills p from env (an environ-style NULL-terminated "NAME=value" array).
 * Returns how many variables were rejected (each with a WARN). Unknown
 * NCCL_SPARK_* names are reported too: they are most often typos. */
int spark_params_load(struct spark_params *p, const char *const *env);
void spark_params_defaults(struct spark_params *p);
/* One INFO line with every effective value. */
void spark_params_log(const struct spark_params *p);

/* The table, for tests and docs checks. */
int spark_param_count(void);
const char *spark_param_name(int i);
bool spark_param_is_data_path(int i);

/* Strict parsers (whole string, no trailing junk), exposed for tests. */
int spark_parse_long(const char *text, long *out);
int spark_parse_bool(const char *text, int *out);
int spark_parse_size(const char *text, long *out);

#endif
