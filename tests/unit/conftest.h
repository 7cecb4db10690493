/* conftest: the helpers the configuration tests (test_cfg, test_plan) share: loading a
 * configuration expecting success or exact errors, and removing a scratch tree. Include it
 * after test.h, in a file that defines _XOPEN_SOURCE 700 first (for nftw). */
#ifndef MUSTER_CONFTEST_H
#define MUSTER_CONFTEST_H

#include "test.h"

#include "cfg.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Loads PATH expecting failure, and checks that the errors contain every fragment in the
 * NULL-terminated list. */
static void
expect_errors(const char *path, const char *const *fragments)
{
	char *errors = NULL;
	struct config *c = cfg_load(path, &errors);
	const char *const *f;

	CHECK(c == NULL);
	CHECK(errors != NULL);
	for (f = fragments; errors != NULL && *f != NULL; f++) {
		if (strstr(errors, *f) == NULL) {
			fprintf(stderr, "missing \"%s\" in:\n%s\n", *f, errors);
			test_failures++;
		}
	}
	cfg_free(c);
	free(errors);
}

/* Loads PATH expecting success; prints the errors when it fails. */
static struct config *
expect_load(const char *path)
{
	char *errors = NULL;
	struct config *c = cfg_load(path, &errors);

	if (c == NULL)
		fprintf(stderr, "%s: unexpected errors:\n%s\n", path, errors ? errors : "(none)");
	CHECK(c != NULL);
	CHECK(errors == NULL);
	free(errors);
	return c;
}

/* Removes one entry of a tree walk (depth first). */
static int
rm_entry_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Removes the tree at PATH. */
static void
rm_tree(const char *path)
{
	CHECK(nftw(path, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

#endif
