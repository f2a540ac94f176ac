/* NCCL_SPARK_HCA: the NCCL_IB_HCA grammar. Pure.
 *
 *   [^][=]name[:port][,name[:port]...]
 *
 * '^' excludes the listed HCAs instead of selecting them; '=' makes names
 * match exactly instead of as prefixes; a port limits an entry to that port. */
#ifndef SPARK_HCA_SPEC_H
#define SPARK_HCA_SPEC_H

#include <stdbool.h>

#include "spark_limits.h"

struct spark_hca_filter {
	bool set;        /* false: every HCA passes */
	bool exclude;
	bool exact;
	int n;
	struct {
		char name[SPARK_NAME_LEN];
		int port;        /* -1: any port */
	} entry[SPARK_MAX_HCAS];
};

#define SPARK_HCA_FILTER_FORM "[^][=]name[:port][,name[:port]...] (e.g. =rocep1s0f0,roceP2p1s0f0)"

/* 0 on success; -1 with a reason in err. NULL or "" gives an unset filter. */
int spark_hca_filter_parse(const char *text, struct spark_hca_filter *out, char *err, int errlen);
bool spark_hca_filter_match(const struct spark_hca_filter *f, const char *name, int port);
/* A valid HCA name: letters, digits, '_', '-', '.'. */
bool spark_hca_name_valid(const char *name, int len);

#endif
