/* Findings about the process's right to use the HCAs: the device nodes a
 * container must be given, the pinning limit, and a real 1 MiB registration
 * on every usable HCA (what NCCL's first regMr will do). */
#define _GNU_SOURCE
#include <errno.h>
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netcheck.h"

#define REG_BYTES (1u << 20)
#define CAP_IPC_LOCK_BIT 14

static const char *container_fix =
	"give the container the RDMA devices: docker run --device=/dev/infiniband "
	"--ulimit memlock=-1 --cap-add=IPC_LOCK --network=host ... (Kubernetes: the RDMA "
	"device plugin, or a privileged pod with /dev/infiniband mounted)";

/* Every uverbs node libibverbs names must be there and open read-write. */
static void check_dev_nodes(const struct nc_paths *paths, struct nc_report *r)
{
	struct stat st;
	if (stat(paths->dev_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		nc_add(r, "dev-infiniband", NC_FATAL, paths->dev_dir, container_fix,
		       "%s is missing (a container started without it?): no process here can "
		       "open an HCA, so NCCL falls back to sockets, or fails with \"Failed to "
		       "initialize any NET plugin\" when NCCL_NET is set", paths->dev_dir);
		return;
	}
	int n = 0, bad = 0, err = 0, used = 0;
	char nodes[NC_TEXT_LEN / 2] = "";
	struct ibv_device **list = ibv_get_device_list(&n);
	for (int i = 0; list != NULL && i < n; i++) {
		char node[512];
		snprintf(node, sizeof node, "%s/%s", paths->dev_dir, list[i]->dev_name);
		if (access(node, R_OK | W_OK) == 0)
			continue;
		err = errno;
		bad++;
		if (used < (int)sizeof nodes - 48)
			used += snprintf(nodes + used, sizeof nodes - (size_t)used, "%s%s (%s)",
					 bad > 1 ? ", " : "", list[i]->dev_name,
					 ibv_get_device_name(list[i]));
	}
	if (list != NULL)
		ibv_free_device_list(list);
	if (bad > 0)
		nc_add(r, "dev-infiniband", NC_FATAL, paths->dev_dir, container_fix,
		       "%d verbs node%s in %s %s: %s; those HCAs cannot be opened from this process",
		       bad, bad == 1 ? "" : "s", paths->dev_dir, err == ENOENT ? "missing"
		       : "not readable and writable", nodes);
}

static bool has_cap_ipc_lock(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return false;
	char line[256];
	unsigned long long eff = 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "CapEff:", 7) == 0) {
			eff = strtoull(line + 7, NULL, 16);
			break;
		}
	fclose(f);
	return (eff >> CAP_IPC_LOCK_BIT) & 1;
}

static void check_memlock(const struct nc_paths *paths, struct nc_report *r)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_MEMLOCK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY ||
	    lim.rlim_cur >= (rlim_t)paths->memlock_min || has_cap_ipc_lock())
		return;
	nc_add(r, "memlock-low", NC_FATAL, "RLIMIT_MEMLOCK",
	       "ulimit -l unlimited in the job's shell; for every login: a line '* - memlock "
	       "unlimited' in /etc/security/limits.d/rdma.conf (systemd services: "
	       "LimitMEMLOCK=infinity; docker: --ulimit memlock=-1)",
	       "locked-memory limit is %llu KiB and the process lacks CAP_IPC_LOCK: NCCL pins "
	       "hundreds of MiB of buffers, and registration fails with ENOMEM "
	       "(ibv_reg_mr ... Cannot allocate memory)", (unsigned long long)lim.rlim_cur / 1024);
}

/* 1 MiB on one HCA: 0, or the errno of the step that failed. */
static int try_register(const char *name, const char **step)
{
	int n = 0, err = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	struct ibv_context *ctx = NULL;
	for (int i = 0; list != NULL && i < n && ctx == NULL; i++)
		if (strcmp(ibv_get_device_name(list[i]), name) == 0)
			ctx = ibv_open_device(list[i]);
	*step = "ibv_open_device";
	err = ctx == NULL ? (errno != 0 ? errno : ENODEV) : 0;
	if (list != NULL)
		ibv_free_device_list(list);
	if (ctx == NULL)
		return err;
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	*step = "ibv_alloc_pd";
	err = pd == NULL ? errno : 0;
	void *buf = pd == NULL ? MAP_FAILED
			       : mmap(NULL, REG_BYTES, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (pd != NULL && buf != MAP_FAILED) {
		struct ibv_mr *mr = ibv_reg_mr(pd, buf, REG_BYTES, IBV_ACCESS_LOCAL_WRITE |
					       IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
		*step = "ibv_reg_mr";
		err = mr == NULL ? errno : 0;
		if (mr != NULL)
			ibv_dereg_mr(mr);
	}
	if (buf != MAP_FAILED)
		munmap(buf, REG_BYTES);
	if (pd != NULL)
		ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return err;
}

static void check_registration(const struct nc_host *h, struct nc_report *r)
{
	for (int i = 0; i < h->nhcas; i++) {
		const struct spark_hca *c = &h->hcas[i];
		if (!spark_hca_usable(c))
			continue;
		const char *step = "";
		int err = try_register(c->name, &step);
		if (err == 0)
			continue;
		nc_add(r, "reg-fail", NC_FATAL, c->name,
		       err == ENOMEM ? "ulimit -l unlimited (see memlock-low), or run with "
		       "CAP_IPC_LOCK; if it still fails for a few KiB, the kernel's CMA pool is 0: "
		       "boot with cma=512M (or a kernel whose default is non-zero)"
				     : "check dmesg for mlx5 errors; reload the driver (sudo modprobe "
		       "-r mlx5_ib && sudo modprobe mlx5_ib) or reboot",
		       "registering 1 MiB of host memory on %s failed at %s: %s; NCCL's regMr "
		       "fails the same way and the job aborts", c->name, step, strerror(err));
	}
}

void nc_check_host(const struct nc_host *h, const struct nc_paths *paths, struct nc_report *r)
{
	check_dev_nodes(paths, r);
	check_memlock(paths, r);
	check_registration(h, r);
}
