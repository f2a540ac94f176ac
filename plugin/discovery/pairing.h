/* From discovered (HCA, port)s to the logical devices NCCL sees. Pure.
 *
 * Automatic: the two PCIe functions of one multi-host ConnectX-7 port (see
 * spark_hca_twins) form one two-rail device; anything else is a one-rail
 * device. Never pairs two ports behind one PCIe link (rocep1s0f0 with
 * rocep1s0f1). NCCL_SPARK_HCA filters first; NCCL_SPARK_PAIRS replaces the
 * automatic grouping. Devices come out in PCI order of their first rail. */
#ifndef SPARK_PAIRING_H
#define SPARK_PAIRING_H

#include "hca.h"
#include "param.h"

struct spark_ldev {
	int nrails;
	int rail[SPARK_MAX_RAILS];            /* indices into the HCA array */
	char name[SPARK_MAX_RAILS * SPARK_NAME_LEN];  /* "rocep1s0f0+roceP2p1s0f0" */
	uint64_t guid;
	int port;
	int speed_mbps;
	int max_comms;
	const char *pci_path;                 /* NULL: none reported (see design.md) */
};

/* Builds at most max devices; returns how many. Rails that cannot be used
 * are left out with a WARN saying why and what fixes it. */
int spark_build_devices(const struct spark_hca *hcas, int nhcas, const struct spark_params *p,
			struct spark_ldev *out, int max);

/* WARNs (with the fix) for a device whose rails are degraded; returns the
 * number of problems found. */
int spark_ldev_check(const struct spark_ldev *d, const struct spark_hca *hcas);
/* The INFO line describing a device, into buf. */
void spark_ldev_describe(const struct spark_ldev *d, const struct spark_hca *hcas, char *buf,
			 int len);

#endif
