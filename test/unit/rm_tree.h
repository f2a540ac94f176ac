/* Removing a test's temporary tree (made with mkdtemp) without a shell.
 * nftw and its FTW_* flags are X/Open: define _GNU_SOURCE before the first
 * #include of the file that includes this (without it, FTW_DEPTH is
 * undeclared and the build stops). */
#ifndef SPARK_TEST_RM_TREE_H
#define SPARK_TEST_RM_TREE_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int spark_rm_tree_entry(const char *path, const struct stat *st, int type,
				      struct FTW *ftw)
{
	(void)st; (void)type; (void)ftw;
	return remove(path);
}

/* Removes dir and everything under it; symlinks are removed, not followed.
 * Returns 0, or -1 with errno set (the walk stops at the first failure). */
static inline int spark_rm_tree(const char *dir)
{
	/* Children before their directory (FTW_DEPTH), so each rmdir finds it
	 * empty; 16 directory descriptors at most. */
	return nftw(dir, spark_rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
