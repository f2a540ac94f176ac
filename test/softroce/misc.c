/* softroce: the small exported helpers (strings, rates, sysfs reading, fork)
 * and the verbs that a ConnectX-7 has but softroce does not model, which fail
 * cleanly with EOPNOTSUPP. */
#include "sr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sr_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int sr_parse_double(const char *s, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

SR_EXPORT const char *ibv_wc_status_str(enum ibv_wc_status s)
{
	static const char *const str[] = {
		[IBV_WC_SUCCESS] = "success",
		[IBV_WC_LOC_LEN_ERR] = "local length error",
		[IBV_WC_LOC_QP_OP_ERR] = "local QP operation error",
		[IBV_WC_LOC_EEC_OP_ERR] = "local EE context operation error",
		[IBV_WC_LOC_PROT_ERR] = "local protection error",
		[IBV_WC_WR_FLUSH_ERR] = "Work Request Flushed Error",
		[IBV_WC_MW_BIND_ERR] = "memory management operation error",
		[IBV_WC_BAD_RESP_ERR] = "bad response error",
		[IBV_WC_LOC_ACCESS_ERR] = "local access error",
		[IBV_WC_REM_INV_REQ_ERR] = "remote invalid request error",
		[IBV_WC_REM_ACCESS_ERR] = "remote access error",
		[IBV_WC_REM_OP_ERR] = "remote operation error",
		[IBV_WC_RETRY_EXC_ERR] = "transport retry counter exceeded",
		[IBV_WC_RNR_RETRY_EXC_ERR] = "RNR retry counter exceeded",
		[IBV_WC_LOC_RDD_VIOL_ERR] = "local RDD violation error",
		[IBV_WC_REM_INV_RD_REQ_ERR] = "remote invalid RD request",
		[IBV_WC_REM_ABORT_ERR] = "aborted error",
		[IBV_WC_INV_EECN_ERR] = "invalid EE context number",
		[IBV_WC_INV_EEC_STATE_ERR] = "invalid EE context state",
		[IBV_WC_FATAL_ERR] = "fatal error",
		[IBV_WC_RESP_TIMEOUT_ERR] = "response timeout error",
		[IBV_WC_GENERAL_ERR] = "general error",
		[IBV_WC_TM_ERR] = "TM error",
		[IBV_WC_TM_RNDV_INCOMPLETE] = "TM software rendezvous",
	};
	if ((unsigned)s >= sizeof(str) / sizeof(str[0]) || !str[s])
		return "unknown";
	return str[s];
}

SR_EXPORT const char *ibv_event_type_str(enum ibv_event_type e)
{
	static const char *const str[] = {
		[IBV_EVENT_CQ_ERR] = "CQ error",
		[IBV_EVENT_QP_FATAL] = "local work queue catastrophic error",
		[IBV_EVENT_QP_REQ_ERR] = "invalid request local work queue error",
		[IBV_EVENT_QP_ACCESS_ERR] = "local access violation work queue error",
		[IBV_EVENT_COMM_EST] = "communication established",
		[IBV_EVENT_SQ_DRAINED] = "send queue drained",
		[IBV_EVENT_PATH_MIG] = "path migrated",
		[IBV_EVENT_PATH_MIG_ERR] = "path migration request error",
		[IBV_EVENT_DEVICE_FATAL] = "local catastrophic error",
		[IBV_EVENT_PORT_ACTIVE] = "port active",
		[IBV_EVENT_PORT_ERR] = "port error",
		[IBV_EVENT_LID_CHANGE] = "LID change",
		[IBV_EVENT_PKEY_CHANGE] = "P_Key change",
		[IBV_EVENT_SM_CHANGE] = "SM change",
		[IBV_EVENT_SRQ_ERR] = "SRQ catastrophic error",
		[IBV_EVENT_SRQ_LIMIT_REACHED] = "SRQ limit reached",
		[IBV_EVENT_QP_LAST_WQE_REACHED] = "last WQE reached",
		[IBV_EVENT_CLIENT_REREGISTER] = "client reregistration",
		[IBV_EVENT_GID_CHANGE] = "GID table change",
		[IBV_EVENT_WQ_FATAL] = "WQ fatal",
	};
	if ((unsigned)e >= sizeof(str) / sizeof(str[0]) || !str[e])
		return "unknown";
	return str[e];
}

SR_EXPORT const char *ibv_node_type_str(enum ibv_node_type t)
{
	static const char *const str[] = {
		[IBV_NODE_CA] = "InfiniBand channel adapter",
		[IBV_NODE_SWITCH] = "InfiniBand switch",
		[IBV_NODE_ROUTER] = "InfiniBand router",
		[IBV_NODE_RNIC] = "iWARP NIC",
		[IBV_NODE_USNIC] = "usNIC",
		[IBV_NODE_USNIC_UDP] = "usNIC UDP",
		[IBV_NODE_UNSPECIFIED] = "unspecified",
	};
	if ((unsigned)t >= sizeof(str) / sizeof(str[0]) || !str[t])
		return "unknown";
	return str[t];
}

SR_EXPORT const char *ibv_port_state_str(enum ibv_port_state s)
{
	static const char *const str[] = {
		[IBV_PORT_NOP] = "no state change (NOP)",
		[IBV_PORT_DOWN] = "down",
		[IBV_PORT_INIT] = "init",
		[IBV_PORT_ARMED] = "armed",
		[IBV_PORT_ACTIVE] = "active",
		[IBV_PORT_ACTIVE_DEFER] = "active defer",
	};
	if ((unsigned)s >= sizeof(str) / sizeof(str[0]) || !str[s])
		return "unknown";
	return str[s];
}

static const struct { enum ibv_rate rate; int mult; int mbps; } rate_tab[] = {
	{ IBV_RATE_2_5_GBPS, 1, 2500 }, { IBV_RATE_5_GBPS, 2, 5000 },
	{ IBV_RATE_10_GBPS, 4, 10000 }, { IBV_RATE_20_GBPS, 8, 20000 },
	{ IBV_RATE_30_GBPS, 12, 30000 }, { IBV_RATE_40_GBPS, 16, 40000 },
	{ IBV_RATE_60_GBPS, 24, 60000 }, { IBV_RATE_80_GBPS, 32, 80000 },
	{ IBV_RATE_120_GBPS, 48, 120000 }, { IBV_RATE_14_GBPS, 5, 14062 },
	{ IBV_RATE_56_GBPS, 22, 56250 }, { IBV_RATE_112_GBPS, 45, 112500 },
	{ IBV_RATE_168_GBPS, 67, 168750 }, { IBV_RATE_25_GBPS, 10, 25781 },
	{ IBV_RATE_100_GBPS, 40, 103125 }, { IBV_RATE_200_GBPS, 80, 206250 },
	{ IBV_RATE_300_GBPS, 120, 309375 }, { IBV_RATE_28_GBPS, 11, 28125 },
	{ IBV_RATE_50_GBPS, 20, 53125 }, { IBV_RATE_400_GBPS, 160, 425000 },
	{ IBV_RATE_600_GBPS, 240, 637500 },
};
#define RATE_N (int)(sizeof(rate_tab) / sizeof(rate_tab[0]))

SR_EXPORT int ibv_rate_to_mult(enum ibv_rate rate)
{
	for (int i = 0; i < RATE_N; i++)
		if (rate_tab[i].rate == rate)
			return rate_tab[i].mult;
	return -1;
}

SR_EXPORT enum ibv_rate mult_to_ibv_rate(int mult)
{
	for (int i = 0; i < RATE_N; i++)
		if (rate_tab[i].mult == mult)
			return rate_tab[i].rate;
	return IBV_RATE_MAX;
}

SR_EXPORT int ibv_rate_to_mbps(enum ibv_rate rate)
{
	for (int i = 0; i < RATE_N; i++)
		if (rate_tab[i].rate == rate)
			return rate_tab[i].mbps;
	return -1;
}

SR_EXPORT enum ibv_rate mbps_to_ibv_rate(int mbps)
{
	for (int i = 0; i < RATE_N; i++)
		if (rate_tab[i].mbps == mbps)
			return rate_tab[i].rate;
	return IBV_RATE_MAX;
}

SR_EXPORT int ibv_read_sysfs_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len = read(fd, buf, size);
	close(fd);
	if (len <= 0)
		return -1;
	if ((size_t)len == size)
		len--;
	if (buf[len - 1] == '\n')
		len--;
	buf[len] = 0;
	return (int)len;
}

SR_EXPORT int ibv_read_ibdev_sysfs_file(char *buf, size_t size, struct ibv_device *dev,
					const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

SR_EXPORT int ibv_read_ibdev_sysfs_file(char *buf, size_t size, struct ibv_device *dev,
					const char *fmt, ...)
{
	char rel[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return ibv_read_sysfs_file(dev->ibdev_path, rel, buf, size);
}

/* rdma-core: const char *ibv_get_sysfs_path(void), "/sys" unless $SYSFS_PATH
 * says otherwise.  softroce answers with the emulated tree of this host (the
 * fabric's sys/<host>, laid out like /sys), so a caller that builds paths
 * below it (librdmacm's class/misc/rdma_cm/abi_version) reads softroce's
 * tree and finds no rdma_cm there. */
static char sysfs_path[640];

static void sysfs_path_init(void)
{
	const char *f = getenv("SOFTROCE_FABRIC");
	const char *h = getenv("SOFTROCE_HOST");
	const char *sys = getenv("SYSFS_PATH");
	if (f && *f) {
		if (SR_STR(sysfs_path, "%s/sys/%s", f, h && *h ? h : "a"))
			sysfs_path[0] = 0;
	} else if (sys && *sys && !SR_STR(sysfs_path, "%s", sys)) {
		/* as rdma-core: $SYSFS_PATH without its trailing slashes */
		for (size_t n = strlen(sysfs_path); n > 1 && sysfs_path[n - 1] == '/'; n--)
			sysfs_path[n - 1] = 0;
	}
	if (!sysfs_path[0])
		snprintf(sysfs_path, sizeof(sysfs_path), "/sys");
}

SR_EXPORT const char *ibv_get_sysfs_path(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sysfs_path_init);
	return sysfs_path;
}

/* Fork: softroce's memory is ordinary anonymous memory; nothing to protect,
 * but the rule is rdma-core's on a kernel without copy-on-fork for pinned
 * pages (the strict case): ibv_fork_init after the process's first
 * registration is too late (EINVAL), and RDMAV_FORK_SAFE / IBV_FORK_SAFE in
 * the environment enable it as the call would. */
static int fork_inited, fork_too_late;

void sr_fork_note_registration(void)
{
	__atomic_store_n(&fork_too_late, 1, __ATOMIC_RELAXED);
}

static bool fork_env(void)
{
	return getenv("RDMAV_FORK_SAFE") != NULL || getenv("IBV_FORK_SAFE") != NULL;
}

SR_EXPORT int ibv_fork_init(void)
{
	if (__atomic_load_n(&fork_inited, __ATOMIC_RELAXED) || fork_env())
		return 0;
	if (__atomic_load_n(&fork_too_late, __ATOMIC_RELAXED))
		return EINVAL;
	__atomic_store_n(&fork_inited, 1, __ATOMIC_RELAXED);
	return 0;
}

SR_EXPORT enum ibv_fork_status ibv_is_fork_initialized(void)
{
	return __atomic_load_n(&fork_inited, __ATOMIC_RELAXED) || fork_env() ? IBV_FORK_ENABLED
									   : IBV_FORK_DISABLED;
}

SR_EXPORT int ibv_dontfork_range(void *base, size_t size)
{
	(void)base;
	(void)size;
	return 0;
}

SR_EXPORT int ibv_dofork_range(void *base, size_t size)
{
	(void)base;
	(void)size;
	return 0;
}

/* ---- not modelled: fail the way a provider without the feature does ---- */
#define UNSUPPORTED_PTR(ret, name, ...) \
	SR_EXPORT ret name(__VA_ARGS__) { errno = EOPNOTSUPP; return NULL; }
#define UNSUPPORTED_INT(name, ...) \
	SR_EXPORT int name(__VA_ARGS__) { return EOPNOTSUPP; }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
UNSUPPORTED_PTR(struct ibv_ah *, ibv_create_ah, struct ibv_pd *pd, struct ibv_ah_attr *attr)
UNSUPPORTED_INT(ibv_destroy_ah, struct ibv_ah *ah)
UNSUPPORTED_PTR(struct ibv_ah *, ibv_create_ah_from_wc, struct ibv_pd *pd, struct ibv_wc *wc,
		struct ibv_grh *grh, uint8_t port)
UNSUPPORTED_INT(ibv_init_ah_from_wc, struct ibv_context *c, uint8_t port, struct ibv_wc *wc,
		struct ibv_grh *grh, struct ibv_ah_attr *ah)
UNSUPPORTED_INT(ibv_attach_mcast, struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
UNSUPPORTED_INT(ibv_detach_mcast, struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
UNSUPPORTED_PTR(struct ibv_srq *, ibv_create_srq, struct ibv_pd *pd,
		struct ibv_srq_init_attr *attr)
UNSUPPORTED_INT(ibv_modify_srq, struct ibv_srq *srq, struct ibv_srq_attr *attr, int mask)
UNSUPPORTED_INT(ibv_query_srq, struct ibv_srq *srq, struct ibv_srq_attr *attr)
UNSUPPORTED_INT(ibv_destroy_srq, struct ibv_srq *srq)
UNSUPPORTED_INT(ibv_resize_cq, struct ibv_cq *cq, int cqe)
UNSUPPORTED_PTR(struct ibv_context *, ibv_import_device, int fd)
UNSUPPORTED_PTR(struct ibv_pd *, ibv_import_pd, struct ibv_context *c, uint32_t h)
UNSUPPORTED_PTR(struct ibv_mr *, ibv_import_mr, struct ibv_pd *pd, uint32_t h)
UNSUPPORTED_PTR(struct ibv_dm *, ibv_import_dm, struct ibv_context *c, uint32_t h)
SR_EXPORT void ibv_unimport_pd(struct ibv_pd *pd) { }
SR_EXPORT void ibv_unimport_mr(struct ibv_mr *mr) { }
SR_EXPORT void ibv_unimport_dm(struct ibv_dm *dm) { }
UNSUPPORTED_INT(ibv_query_ece, struct ibv_qp *qp, struct ibv_ece *ece)
UNSUPPORTED_INT(ibv_set_ece, struct ibv_qp *qp, struct ibv_ece *ece)
UNSUPPORTED_INT(ibv_resolve_eth_l2_from_gid, struct ibv_context *c, struct ibv_ah_attr *attr,
		uint8_t eth_mac[6], uint16_t *vid)
#pragma GCC diagnostic pop

/* Placement within one message follows address order in softroce. */
SR_EXPORT int ibv_query_qp_data_in_order(struct ibv_qp *qp, enum ibv_wr_opcode op, uint32_t flags)
{
	(void)qp;
	(void)op;
	(void)flags;
	return 0;
}
