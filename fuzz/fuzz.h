/* fuzz: what the libFuzzer harnesses share: a scratch directory (on tmpfs when there is one,
 * so that SQLite's fsyncs cost nothing), removed at exit, and writing an input to a file there.
 * Include it in a file that defines _XOPEN_SOURCE 700 first (for nftw). */
#ifndef MUSTER_FUZZ_H
#define MUSTER_FUZZ_H

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);

/* AddressSanitizer's defaults here: a quarantine of 16 MB instead of 256 keeps the heap small,
 * and with it every leak check (libFuzzer runs one after each input that freed less than it
 * allocated): three times the executions per second, and freed memory is still held back
 * long enough for the short lives of these programs' allocations. */
const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

/* LeakSanitizer's built-in suppressions. libconfig 1.5 (Debian 12) leaks the text of a
 * string literal that a syntax error follows (a bare `""` is enough): its scanner allocates it
 * (libconfig_yylex, strbuf_append) and the parser drops it without freeing; config_destroy
 * cannot reach it. It is libconfig's, not ours (docs/reliability.md, "Fuzzing"). Suppressed by
 * module, not by function: a machine without llvm-symbolizer has no function names, and the
 * leak was reported there. Only libconfig's own allocations are concerned (ours never pass
 * through it); a config_t we forgot to destroy would be hidden here, not in the unit tests
 * under ASan. */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static char fuzz_dir[256]; /* the scratch directory, "" before fuzz_scratch */

/* Removes one entry of a tree walk (depth first). */
static int
fuzz_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes the tree at PATH, if there is one. */
static void
fuzz_rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		(void)nftw(path, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* atexit: removes the scratch directory (a crash leaves it, for a look). */
static void
fuzz_cleanup(void)
{
	if (fuzz_dir[0] != '\0')
		fuzz_rm_tree(fuzz_dir);
}

/* Makes the scratch directory "muster-fuzz-NAME-XXXXXX" on /dev/shm when it is writable, else
 * in $TMPDIR or /tmp; exits when it cannot. Returns it. */
static const char *
fuzz_scratch(const char *name)
{
	const char *base = getenv("TMPDIR");

	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/muster-fuzz-%s-XXXXXX", base, name);
	if (mkdtemp(fuzz_dir) == NULL) {
		perror(fuzz_dir);
		exit(1);
	}
	atexit(fuzz_cleanup);
	return fuzz_dir;
}

/* Writes LEN bytes of DATA to PATH (truncated); exits when it cannot, which is not the input's
 * fault. */
static void
fuzz_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

#endif
