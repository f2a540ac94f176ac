/* NCCL_SPARK_PAIRS: the logical devices spelled out by hand. Pure.
 *
 *   name[+name][,name[+name]...]     e.g. rocep1s0f0+roceP2p1s0f0,rocep1s0f1
 *
 * Each comma-separated group becomes one logical device, its rails in the
 * order written; a single name is a one-rail device. */
#ifndef SPARK_PAIRS_SPEC_H
#define SPARK_PAIRS_SPEC_H

#include <stdbool.h>

#include "spark_limits.h"

struct spark_pairs {
	bool set;
	int n;
	struct {
		int nrails;
		char name[SPARK_MAX_RAILS][SPARK_NAME_LEN];
	} dev[SPARK_MAX_DEVS];
};

#define SPARK_PAIRS_FORM "hca[+hca][,hca[+hca]...] (e.g. rocep1s0f0+roceP2p1s0f0,rocep1s0f1+roceP2p1s0f1)"

int spark_pairs_parse(const char *text, struct spark_pairs *out, char *err, int errlen);

#endif
