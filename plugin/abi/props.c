#include "props.h"

#include "nccl/net.h"

void spark_props_from_ldev(const struct spark_ldev *d, struct spark_props *out)
{
	out->name = d->name;
	out->pci_path = d->pci_path;
	out->guid = d->guid;
	out->ptr_support = SPARK_PTR_SUPPORT;
	out->reg_is_global = SPARK_REG_IS_GLOBAL;
	out->speed_mbps = d->speed_mbps;
	out->port = d->port;
	out->latency_us = SPARK_LATENCY_US;
	out->max_comms = d->max_comms;
	out->max_recvs = SPARK_MAX_RECVS;
}
