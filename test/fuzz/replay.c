/* Runs one harness without libFuzzer, built by the project's own compiler
 * (gcc, clang, the aarch64 cross gcc, any SAN=): its seeds, then every file
 * given or found in the directories given (the kept corpus). A property
 * violated aborts, so `make test` fails on any input that ever found a bug.
 *
 *   replay_<name> [PATH...]          run the seeds and PATH's inputs
 *   replay_<name> --write-seeds DIR  write the seeds into DIR (make fuzz-seeds) */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned long n_seeds, n_files;
static const char *seed_dir;

static void run_input(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);   /* exact size: ASan sees overreads */
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
}

/* A seed is a valid encoding: it must be accepted. */
static void run_seed(const uint8_t *data, size_t size)
{
	fuzz_refused[0] = 0;
	run_input(data, size);
	n_seeds++;
	FUZZ_CHECK(fuzz_refused[0] == 0, "seed %lu %s", n_seeds, fuzz_refused);
}

static void write_seed(const uint8_t *data, size_t size)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/seed-%lu", seed_dir, ++n_seeds);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		fprintf(stderr, "replay: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, got;
	do {
		if (size == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		got = fread(buf + size, 1, cap - size, f);
		size += got;
	} while (got > 0);
	fclose(f);
	run_input(buf, size);
	n_files++;
	free(buf);
	return 0;
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int rc = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		char sub[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		rc |= run_file(sub);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
		seed_dir = argv[2];
		fuzz_seeds(write_seed);
		printf("%lu seeds written to %s\n", n_seeds, seed_dir);
		return 0;
	}
	fuzz_seeds(run_seed);
	int rc = 0;
	for (int i = 1; i < argc; i++)
		rc |= run_path(argv[i]);
	printf("%lu seeds and %lu corpus inputs replayed, every property held\n", n_seeds,
	       n_files);
	return rc ? 1 : 0;
}
