/* softroce-run: runs an unmodified program as one emulated host, with
 * softroce's sysfs tree where programs look for it.
 *
 *   softroce-run [-H host] [-F fabric] -- command [args...]
 *
 * Programs such as NCCL's IB transport read /sys/class/infiniband/<dev>/...
 * and /sys/class/net/<netdev>/... directly rather than through ibdev_path.
 * In a private mount namespace (unshare(CLONE_NEWNS), needs root) this
 * mounts a tmpfs over /sys/class that holds:
 *   - every real class, bind-mounted back in place (so relative class links
 *     such as net/lo -> ../../devices/... still resolve to the real /sys);
 *   - class/infiniband (and infiniband_verbs) bound to the host's emulated
 *     tree under $SOFTROCE_FABRIC/sys/<host>/class;
 *   - class/net: the real interfaces' links plus one link per emulated
 *     netdev into the emulated PCI function's net/ directory.
 * Then it sets SOFTROCE_FABRIC, SOFTROCE_HOST and LD_LIBRARY_PATH (the
 * directory of softroce's libibverbs.so.1, which is this program's own) and
 * execs the command.  Nothing outside the namespace changes.
 *
 * Exit status: the command's, or 2 with a message naming the cause when the
 * view cannot be set up (no root, no fabric, no HCA on that host). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#define MAX_NETDEVS 64

struct run {
	const char *host, *fabric;
	char **argv;                 /* the command */
	char libdir[PATH_MAX];       /* softroce's library directory */
	char classdir[PATH_MAX];     /* $fabric/sys/<host>/class */
	int nnet;
	char netdev[MAX_NETDEVS][NAME_MAX + 1];
	char netpath[MAX_NETDEVS][PATH_MAX];
};

static void usage(void)
{
	fprintf(stderr, "usage: softroce-run [-H host] [-F fabric] -- command [args...]\n"
		"  -H host    emulated host (default $SOFTROCE_HOST, else a)\n"
		"  -F fabric  fabric directory (default $SOFTROCE_FABRIC); both hosts use the same\n");
	exit(2);
}

static void fail(const char *what, const char *fix)
{
	fprintf(stderr, "softroce-run: %s: %s; %s\n", what, strerror(errno), fix);
	exit(2);
}

static bool valid_host(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n >= 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(h[i] == '-' || h[i] == '_' || (h[i] >= '0' && h[i] <= '9') ||
		      (h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z')))
			return false;
	return true;
}

static void parse(int argc, char **argv, struct run *r)
{
	r->host = getenv("SOFTROCE_HOST");
	r->fabric = getenv("SOFTROCE_FABRIC");
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-H") == 0 && i + 1 < argc)
			r->host = argv[++i];
		else if (strcmp(argv[i], "-F") == 0 && i + 1 < argc)
			r->fabric = argv[++i];
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	r->argv = argv + i + 1;
	if (!r->host || !*r->host)
		r->host = "a";
	if (!valid_host(r->host)) {
		fprintf(stderr, "softroce-run: -H %s: a host is 1-31 letters, digits, - or _\n",
			r->host);
		exit(2);
	}
	if (!r->fabric || !*r->fabric) {
		fprintf(stderr, "softroce-run: no fabric: give -F DIR or set SOFTROCE_FABRIC "
			"(the hosts of one fabric share that directory)\n");
		exit(2);
	}
}

static void find_libdir(struct run *r)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		fail("readlink /proc/self/exe", "softroce-run needs /proc");
	self[n] = 0;
	char *slash = strrchr(self, '/');
	*slash = 0;
	snprintf(r->libdir, sizeof(r->libdir), "%s", self);
}

/* Opening the devices builds the host's emulated tree (softroce does it on
 * the first ibv_get_device_list); the netdevs are read back from it. */
static void build_tree(struct run *r)
{
	if (setenv("SOFTROCE_FABRIC", r->fabric, 1) || setenv("SOFTROCE_HOST", r->host, 1))
		fail("setenv", "out of memory");
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	if (!list || n == 0) {
		fprintf(stderr, "softroce-run: no softroce HCA on host %s of fabric %s "
			"(SOFTROCE_DEBUG=1 says why)\n", r->host, r->fabric);
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		char net[PATH_MAX];
		snprintf(net, sizeof(net), "%s/device/net", list[i]->ibdev_path);
		DIR *d = opendir(net);
		for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
			if (e->d_name[0] == '.' || r->nnet == MAX_NETDEVS)
				continue;
			snprintf(r->netdev[r->nnet], sizeof(r->netdev[0]), "%s", e->d_name);
			char p[PATH_MAX + NAME_MAX + 2];
			snprintf(p, sizeof(p), "%s/%s", net, e->d_name);
			if (realpath(p, r->netpath[r->nnet]))
				r->nnet++;
		}
		if (d)
			closedir(d);
	}
	ibv_free_device_list(list);
	if (snprintf(r->classdir, sizeof(r->classdir), "%s/sys/%s/class", r->fabric, r->host) >=
	    (int)sizeof(r->classdir)) {
		fprintf(stderr, "softroce-run: fabric path too long\n");
		exit(2);
	}
}

static void bind(const char *src, const char *dst)
{
	if (mkdir(dst, 0755) && errno != EEXIST)
		fail(dst, "cannot make a mount point in the tmpfs over /sys/class");
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL))
		fail(dst, "bind mount failed");
}

static bool emulated_class(const char *name)
{
	return strcmp(name, "infiniband") == 0 || strcmp(name, "infiniband_verbs") == 0 ||
	       strcmp(name, "net") == 0;
}

/* /sys/class/net: the real interfaces' relative links, copied (they resolve
 * from /sys/class/net as before), and the emulated netdevs. */
static void net_view(const struct run *r, int real)
{
	if (mkdir("/sys/class/net", 0755))
		fail("/sys/class/net", "cannot populate the tmpfs over /sys/class");
	int fd = openat(real, "net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		char target[PATH_MAX], link[PATH_MAX + 16];
		ssize_t n = readlinkat(fd, e->d_name, target, sizeof(target) - 1);
		if (e->d_name[0] == '.' || n <= 0)
			continue;
		target[n] = 0;
		snprintf(link, sizeof(link), "/sys/class/net/%s", e->d_name);
		if (symlink(target, link))
			fail(link, "cannot link a real interface");
	}
	if (d)
		closedir(d);
	for (int i = 0; i < r->nnet; i++) {
		char link[PATH_MAX];
		snprintf(link, sizeof(link), "/sys/class/net/%s", r->netdev[i]);
		if (symlink(r->netpath[i], link) && errno != EEXIST)
			fail(link, "cannot link an emulated netdev");
	}
}

/* First of all, so that an unprivileged caller hears the real reason. */
static void private_namespace(void)
{
	if (unshare(CLONE_NEWNS))
		fail("unshare(CLONE_NEWNS)",
		     "a private mount namespace needs root (CAP_SYS_ADMIN); run softroce-run as "
		     "root, or run the command with LD_LIBRARY_PATH=<build>/softroce and "
		     "SOFTROCE_HOST only (it then finds no HCA under /sys/class/infiniband)");
	/* In a chroot "/" is no mount point (EINVAL): everything mounted here
	 * lies under /sys, so keeping /sys's mounts private is enough there. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
	    (errno != EINVAL || mount(NULL, "/sys", NULL, MS_REC | MS_PRIVATE, NULL)))
		fail("making / (or /sys) private", "the view would leak to the host");
}

static void mount_view(const struct run *r)
{
	int real = open("/sys/class", O_PATH | O_DIRECTORY | O_CLOEXEC);
	DIR *d = opendir("/sys/class");
	if (real < 0 || !d)
		fail("/sys/class", "is sysfs mounted?");
	if (mount("softroce", "/sys/class", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=755"))
		fail("tmpfs on /sys/class", "cannot cover /sys/class");
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.' || emulated_class(e->d_name))
			continue;
		char src[64 + NAME_MAX], dst[16 + NAME_MAX];
		snprintf(src, sizeof(src), "/proc/self/fd/%d/%s", real, e->d_name);
		snprintf(dst, sizeof(dst), "/sys/class/%s", e->d_name);
		bind(src, dst);
	}
	closedir(d);
	const char *own[] = { "infiniband", "infiniband_verbs" };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		char src[PATH_MAX + 32], dst[64];
		struct stat st;
		snprintf(src, sizeof(src), "%s/%s", r->classdir, own[i]);
		snprintf(dst, sizeof(dst), "/sys/class/%s", own[i]);
		if (stat(src, &st) == 0)
			bind(src, dst);
	}
	net_view(r, real);
	close(real);
	/* The view is read-only above the bound trees, like sysfs's classes. */
	if (mount(NULL, "/sys/class", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, "mode=755"))
		fail("remounting /sys/class read-only", "cannot seal the view");
}

int main(int argc, char **argv)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	parse(argc, argv, &r);
	find_libdir(&r);
	private_namespace();
	build_tree(&r);
	mount_view(&r);
	const char *old = getenv("LD_LIBRARY_PATH");
	char ld[2 * PATH_MAX];
	snprintf(ld, sizeof(ld), "%s%s%s", r.libdir, old && *old ? ":" : "", old ? old : "");
	if (setenv("LD_LIBRARY_PATH", ld, 1))
		fail("setenv", "out of memory");
	execvp(r.argv[0], r.argv);
	fprintf(stderr, "softroce-run: %s: %s\n", r.argv[0], strerror(errno));
	return 127;
}
