/* Which table each NCCL release takes: its loader dlsyms ncclNetPlugin_vN
 * newest first (src/plugin/net.cc; src/net.cc before 2.26) and keeps the
 * first hit. Ours must be the newest that release knows. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>

#include "abi_drive.h"

struct release {
	const char *nccl;
	int probe[8];    /* versions, newest first, 0-terminated */
	int want;
};

static const struct release releases[] = {
	{"2.18", {6, 5, 4}, 0},
	{"2.19", {7, 6, 5}, 7},
	{"2.20-2.23", {8, 7, 6, 5}, 8},
	{"2.24-2.25", {9, 8, 7, 6, 5}, 9},
	{"2.26-2.27", {10, 9, 8, 7, 6}, 10},
	{"2.28-2.29", {11, 10, 9, 8, 7, 6}, 11},
	{"2.30+", {12, 11, 10, 9, 8, 7, 6}, 12},
};

Test(abi_probe, each_release_takes_its_newest_table)
{
	const void *v8 = abi_load("ncclNetPlugin_v8");
	Dl_info info;
	cr_assert(dladdr(v8, &info) != 0 && info.dli_fname != NULL);
	void *so = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(so, "%s", dlerror());
	for (size_t r = 0; r < sizeof releases / sizeof releases[0]; r++) {
		int got = 0;
		for (int i = 0; got == 0 && releases[r].probe[i] != 0; i++) {
			char sym[32];
			snprintf(sym, sizeof sym, "ncclNetPlugin_v%d", releases[r].probe[i]);
			if (dlsym(so, sym) != NULL)
				got = releases[r].probe[i];
		}
		cr_expect_eq(got, releases[r].want, "NCCL %s takes v%d, want v%d",
			     releases[r].nccl, got, releases[r].want);
	}
	cr_assert_null(dlsym(so, "ncclCollNetPlugin_v8"), "no CollNet");
	dlclose(so);
}
