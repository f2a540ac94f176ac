/*
 * Preloaded into Criterion test binaries in the ThreadSanitizer variant only
 * (scripts/san-run.sh). Not part of the plugin.
 *
 * Why: at start-up Criterion (through BoxFort) maps a shared "inheritable
 * arena" at a random 16 MiB-aligned address in [0x2000'0000'0000,
 * 0x6000'0000'0000), drawn with rand_r(), and gives up after a few candidates
 * that are already mapped. TSan reserves almost all of that range for its
 * shadow and metadata; only the window where the kernel places PIE
 * executables, [0x5500'0000'0000, 0x5680'0000'0000), is application memory
 * there. So under TSan Criterion aborts with "Could not initialize
 * inheritable arena" nearly every time.
 *
 * What: rand_r() calls made from libcriterion get a value that lands the arena
 * candidate inside that window (still random within it); every other caller
 * gets the real rand_r() unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

/* The arena base is 0x2000'0000'0000 + (value & 0x3fffff) * 16 MiB. */
enum {
	ARENA_SLOT_PIE_WINDOW = 0x350000,  /* (0x5500'0000'0000 - base) / 16 MiB */
	ARENA_SLOT_SPREAD_MASK = 0x17fff,  /* 0x18000 slots = 1.5 TiB window */
};

typedef int rand_r_fn(unsigned int *seed);

static int caller_is_criterion(const void *return_address)
{
	Dl_info info;

	if (dladdr(return_address, &info) == 0 || info.dli_fname == NULL)
		return 0;
	return strstr(info.dli_fname, "libcriterion") != NULL;
}

int rand_r(unsigned int *seed)
{
	static rand_r_fn *real_rand_r;
	rand_r_fn *next = __atomic_load_n(&real_rand_r, __ATOMIC_ACQUIRE);

	if (next == NULL) {
		next = (rand_r_fn *)dlsym(RTLD_NEXT, "rand_r");
		__atomic_store_n(&real_rand_r, next, __ATOMIC_RELEASE);
	}
	int value = next(seed);

	if (!caller_is_criterion(__builtin_return_address(0)))
		return value;
	return ARENA_SLOT_PIE_WINDOW + (value & ARENA_SLOT_SPREAD_MASK);
}
