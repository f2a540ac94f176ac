/* The plugin as NCCL sees it: dlopen the .so with RTLD_NOW|RTLD_LOCAL, find
 * ncclNetPlugin_v8, init with a logger, list devices and read properties,
 * over softroce's emulated Sparks (one fabric directory per test). This file
 * includes only our ABI header: nothing of the plugin is linked in. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nccl/net_v8.h"
#include "../unit/rm_tree.h"

#ifndef SPARK_BUILD_DIR
#define SPARK_BUILD_DIR "build"
#endif

static char fabric[64];
static char log_text[65536];
static int log_warns;
static void *plugin_so;
static const ncclNet_v8_t *net;

static void logger(ncclDebugLogLevel level, unsigned long flags, const char *file, int line,
		   const char *fmt, ...)
{
	(void)flags; (void)file; (void)line;
	size_t used = strlen(log_text);
	va_list ap;
	va_start(ap, fmt);
	snprintf(log_text + used, sizeof log_text - used, "%s ",
		 level == NCCL_LOG_WARN ? "WARN" : "INFO");
	used = strlen(log_text);
	vsnprintf(log_text + used, sizeof log_text - used, fmt, ap);
	va_end(ap);
	used = strlen(log_text);
	snprintf(log_text + used, sizeof log_text - used, "\n");
	if (level == NCCL_LOG_WARN)
		log_warns++;
}

static int has(const char *needle) { return strstr(log_text, needle) != NULL; }

/* softroce stands in for libibverbs.so.1 and libmlx5.so.1: loaded first by
 * path, they satisfy the plugin's own dependency and dlopen by soname. */
static void preload_softroce(void)
{
	static const char *const libs[] = {"libibverbs.so.1", "libmlx5.so.1"};
	for (int i = 0; i < 2; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/softroce/%s", SPARK_BUILD_DIR, libs[i]);
		cr_assert_not_null(dlopen(path, RTLD_NOW | RTLD_GLOBAL), "%s: %s", path, dlerror());
	}
}

static void load_plugin(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/libnccl-net-spark.so", SPARK_BUILD_DIR);
	plugin_so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(plugin_so, "%s", dlerror());
	net = dlsym(plugin_so, "ncclNetPlugin_v8");
	cr_assert_not_null(net, "ncclNetPlugin_v8 not exported");
}

/* A fresh emulated fabric whose topology file holds these lines. */
static void fabric_with(const char *topology)
{
	strcpy(fabric, "/tmp/spark-loader-XXXXXX");
	cr_assert_not_null(mkdtemp(fabric));
	char topo[128];
	snprintf(topo, sizeof topo, "%s/topology", fabric);
	FILE *f = fopen(topo, "w");
	cr_assert_not_null(f);
	fputs(topology, f);
	fclose(f);
	setenv("SOFTROCE_FABRIC", fabric, 1);
	setenv("SOFTROCE_HOST", "a", 1);
	setenv("SOFTROCE_TOPOLOGY", topo, 1);
	log_text[0] = '\0';
	log_warns = 0;
	preload_softroce();
	load_plugin();
}

static void cleanup(void)
{
	if (fabric[0] != '\0') {
		if (spark_rm_tree(fabric) != 0)
			fprintf(stderr, "could not remove %s: %s\n", fabric, strerror(errno));
	}
}

TestSuite(loader, .fini = cleanup, .timeout = 30);

static int init_devices(void)
{
	cr_assert_eq(net->init(logger), ncclSuccess, "init failed:\n%s", log_text);
	int ndev = -1;
	cr_assert_eq(net->devices(&ndev), ncclSuccess);
	return ndev;
}

static ncclNetProperties_v8_t props_of(int dev)
{
	ncclNetProperties_v8_t p;
	memset(&p, 0xa5, sizeof p);
	cr_assert_eq(net->getProperties(dev, &p), ncclSuccess, "%s", log_text);
	return p;
}

Test(loader, table_is_complete)
{
	fabric_with("");
	cr_assert_str_eq(net->name, "Spark");
	cr_assert(net->init && net->devices && net->getProperties && net->listen && net->connect &&
		  net->accept && net->regMr && net->regMrDmaBuf && net->deregMr && net->isend &&
		  net->irecv && net->iflush && net->test && net->closeSend && net->closeRecv &&
		  net->closeListen);
	cr_assert_null(net->getDeviceMr);
	cr_assert_null(net->irecvConsumed);
}

/* init sets up fork safety (NCCL's processes fork) before anything is
 * registered: softroce, strict as rdma-core on an old kernel, refuses
 * ibv_fork_init after a registration, so ENABLED here means it came first. */
Test(loader, init_sets_up_fork_safety)
{
	fabric_with("");
	void *verbs = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(verbs, "softroce is loaded");
	int (*is_fork_initialized)(void) =
		(int (*)(void))dlsym(verbs, "ibv_is_fork_initialized");
	cr_assert_not_null(is_fork_initialized);
	cr_assert_eq(is_fork_initialized(), 0 /* IBV_FORK_DISABLED */, "not before init");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert_eq(is_fork_initialized(), 1 /* IBV_FORK_ENABLED */, "%s", log_text);
	cr_assert(has("fork safety: ibv_fork_init done"), "%s", log_text);
	dlclose(verbs);
}

Test(loader, default_topology_is_one_fused_device)
{
	fabric_with("");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	ncclNetProperties_v8_t p = props_of(0);
	cr_assert_str_eq(p.name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_null(p.pciPath);
	cr_assert_eq(p.ptrSupport, NCCL_PTR_HOST);
	cr_assert_eq(p.regIsGlobal, 1);   /* shared PDs + registration cache */
	cr_assert_gt(p.speed, 0);
	cr_assert_eq(p.port, 1);
	cr_assert_float_eq(p.latency, 0.0f, 1e-9);
	cr_assert_gt(p.maxComms, 0);
	cr_assert_eq(p.maxRecvs, 8);
	cr_assert_eq(p.netDeviceType, NCCL_NET_DEVICE_HOST);
	cr_assert_eq(p.netDeviceVersion, NCCL_NET_DEVICE_INVALID_VERSION);
	cr_assert_neq(p.guid, 0);
	cr_assert(has("INFO NET/Spark : dev 0 rocep1s0f0+roceP2p1s0f0: 2 rails"), "%s", log_text);
	cr_assert(has("GID 3 192.168.100.1/24"), "%s", log_text);
	cr_assert(has("GID 3 192.168.101.1/24"), "%s", log_text);
	cr_assert(has("mlx5dv"), "says whether mlx5dv is used:\n%s", log_text);
	cr_assert_eq(log_warns, 0, "%s", log_text);
}

Test(loader, both_ports_cabled_are_two_devices)
{
	fabric_with("set rocep1s0f1 state=active\nset roceP2p1s0f1 state=active\n");
	cr_assert_eq(init_devices(), 2, "%s", log_text);
	cr_assert_str_eq(props_of(0).name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_str_eq(props_of(1).name, "rocep1s0f1+roceP2p1s0f1");
	cr_assert_neq(props_of(0).port, props_of(1).port);
}

Test(loader, one_cable_on_port_1)
{
	fabric_with("set rocep1s0f0 state=down\nset roceP2p1s0f0 state=down\n"
		    "set rocep1s0f1 state=active\nset roceP2p1s0f1 state=active\n");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert_str_eq(props_of(0).name, "rocep1s0f1+roceP2p1s0f1");
	cr_assert_eq(log_warns, 0, "%s", log_text);
}

Test(loader, halves_on_one_subnet_warn)
{
	fabric_with("set roceP2p1s0f0 subnet=192.168.100\n");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert(has("are both on 192.168.100.0/24"), "%s", log_text);
}

Test(loader, configuration_from_the_environment)
{
	setenv("NCCL_SPARK_PAIRS", "roceP2p1s0f0+rocep1s0f0", 1);
	setenv("NCCL_SPARK_GID_INDEX", "3", 1);
	setenv("NCCL_SPARK_IB_TIMEOUT", "99", 1);
	fabric_with("");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert_str_eq(props_of(0).name, "roceP2p1s0f0+rocep1s0f0");
	cr_assert(has("GID 3 192.168.101.1/24 (NCCL_SPARK_GID_INDEX)"), "%s", log_text);
	cr_assert(has("WARN NET/Spark : NCCL_SPARK_IB_TIMEOUT='99' ignored"), "%s", log_text);
	cr_assert(has("IB_TIMEOUT=20"), "effective value logged:\n%s", log_text);
}

Test(loader, lone_hca_is_a_one_rail_device)
{
	fabric_with("hcas rocep1s0f0\n");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	ncclNetProperties_v8_t p = props_of(0);
	cr_assert_str_eq(p.name, "rocep1s0f0");
	cr_assert_not_null(p.pciPath, "one rail: its real PCI function");
	cr_assert(strstr(p.pciPath, "0000:01:00.0") != NULL, "%s", p.pciPath);
}

Test(loader, no_hca_is_a_clean_error)
{
	fabric_with("hcas none\n");
	ncclResult_t res = net->init(logger);
	cr_assert_eq(res, ncclSystemError, "%s", log_text);
	cr_assert(has("no usable RoCE HCA"), "%s", log_text);
	int ndev = 7;
	cr_assert_neq(net->devices(&ndev), ncclSuccess);
}

Test(loader, no_fabric_at_all_is_a_clean_error)
{
	fabric_with("");
	unsetenv("SOFTROCE_FABRIC");
	cr_assert_eq(net->init(logger), ncclSystemError, "%s", log_text);
}

Test(loader, init_is_idempotent)
{
	fabric_with("");
	cr_assert_eq(init_devices(), 1);
	size_t first = strlen(log_text);
	cr_assert_eq(init_devices(), 1);
	cr_assert_eq(strlen(log_text), first, "second init rediscovered:\n%s", log_text);
}

Test(loader, degraded_rails_warn_with_the_fix)
{
	fabric_with("set roceP2p1s0f0 link=gen5x2\nset rocep1s0f0 mtu=1024\n");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert(has("roceP2p1s0f0: PCIe link runs at Gen5 x2"), "%s", log_text);
	cr_assert(has("rocep1s0f0: RoCE MTU is 1024"), "%s", log_text);
}

Test(loader, drifted_gid_index_is_found)
{
	fabric_with("set rocep1s0f0 gid_index=5\nset roceP2p1s0f0 gid_index=4\n");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert(has("GID 5 192.168.100.1/24"), "%s", log_text);
	cr_assert(has("GID 4 192.168.101.1/24"), "%s", log_text);
}

Test(loader, half_without_ipv4_leaves_one_rail)
{
	fabric_with("set roceP2p1s0f0 ipv4=no\n");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert_str_eq(props_of(0).name, "rocep1s0f0");
	cr_assert(has("roceP2p1s0f0:1 is ACTIVE but has no RoCE v2 IPv4 GID"), "%s", log_text);
}

Test(loader, hca_filter_from_the_environment)
{
	setenv("NCCL_SPARK_HCA", "=roceP2p1s0f0", 1);
	fabric_with("");
	cr_assert_eq(init_devices(), 1, "%s", log_text);
	cr_assert_str_eq(props_of(0).name, "roceP2p1s0f0");
}

Test(loader, plain_nic_beside_the_spark)
{
	fabric_with("hca mlx5_0 subnet=10.20.0\n");
	cr_assert_eq(init_devices(), 2, "%s", log_text);
	cr_assert_str_eq(props_of(0).name, "rocep1s0f0+roceP2p1s0f0");
	cr_assert_str_eq(props_of(1).name, "mlx5_0");
}

Test(loader, bad_device_index)
{
	fabric_with("");
	cr_assert_eq(init_devices(), 1);
	ncclNetProperties_v8_t p;
	cr_assert_eq(net->getProperties(1, &p), ncclInternalError);
	cr_assert_eq(net->getProperties(-1, &p), ncclInternalError);
}

/* The data path refuses what NCCL never passes (NULL comms and requests, a
 * zeroed handle, a device that does not exist) with an error, not a crash. */
Test(loader, data_path_refuses_bad_arguments)
{
	fabric_with("");
	cr_assert_eq(init_devices(), 1);
	char handle[NCCL_NET_HANDLE_MAXSIZE] = {0};
	void *comm = (void *)0x1;
	cr_assert_eq(net->listen(7, handle, &comm), ncclInvalidArgument);
	cr_assert_null(comm);
	cr_assert_neq(net->connect(0, handle, &comm, NULL), ncclSuccess, "zeroed handle");
	cr_assert_null(comm);
	cr_assert(has("connect: refusing handle"), "%s", log_text);
	ncclNetDeviceHandle_v8_t *dev_comm = (void *)0x1;
	cr_assert_eq(net->accept(NULL, &comm, &dev_comm), ncclInternalError);
	cr_assert_null(dev_comm);
	void *mh = NULL, *req = (void *)0x1;
	cr_assert_eq(net->regMr(NULL, handle, 64, NCCL_PTR_HOST, &mh), ncclInternalError);
	cr_assert_eq(net->isend(NULL, handle, 8, 0, NULL, &req), ncclInternalError);
	cr_assert_null(req);
	int sizes[1] = {8}, tags[1] = {0}, done = 1;
	void *data[1] = {handle}, *mhs[1] = {NULL};
	cr_assert_eq(net->irecv(NULL, 1, data, sizes, tags, mhs, &req), ncclInternalError);
	cr_assert_eq(net->irecv(NULL, 9, data, sizes, tags, mhs, &req), ncclInternalError);
	cr_assert(has("irecv: 9 buffers, maxRecvs is 8"), "%s", log_text);
	cr_assert_eq(net->test(NULL, &done, NULL), ncclInternalError);
	cr_assert_eq(done, 0);
	cr_assert_eq(net->closeSend(NULL), ncclSuccess);
	cr_assert_eq(net->closeRecv(NULL), ncclSuccess);
	cr_assert_eq(net->closeListen(NULL), ncclSuccess);
}

static void *init_in_thread(void *arg)
{
	int *ndev = arg;
	if (net->init(logger) != ncclSuccess || net->devices(ndev) != ncclSuccess)
		*ndev = -1;
	return NULL;
}

/* Several communicators' threads may reach init at once: one discovery,
 * the same answer everywhere. */
Test(loader, concurrent_init)
{
	fabric_with("");
	pthread_t threads[4];
	int ndev[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, init_in_thread, &ndev[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_eq(ndev[i], 1, "thread %d", i);
	}
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* NCCL ≥ 2.28 dlcloses the plugin after the last comm and may load it
 * again: each cycle must work and leave nothing open behind. */
Test(loader, unload_and_reload)
{
	fabric_with("");
	cr_assert_eq(init_devices(), 1);
	cr_assert_eq(dlclose(plugin_so), 0);
	int fds = count_fds();
	for (int cycle = 0; cycle < 3; cycle++) {
		load_plugin();
		cr_assert_eq(init_devices(), 1, "cycle %d:\n%s", cycle, log_text);
		cr_assert_str_eq(props_of(0).name, "rocep1s0f0+roceP2p1s0f0");
		cr_assert_eq(dlclose(plugin_so), 0);
		cr_assert_eq(count_fds(), fds, "cycle %d leaked a file descriptor", cycle);
	}
}
