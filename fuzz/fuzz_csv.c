/* fuzz_csv: cadimport_run on the input written as a CAD export in the built-in San Francisco
 * layout, into an analysis database in the scratch directory (removed after each input).
 * Checks the contract: 0 with no errors and a database written, or -1 with errors and no
 * database (nothing is written unless the whole file is good). */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "fuzz.h"

#include "cadimport.h"
#include "log.h"
#include "util.h"

static char *in_path, *out_path, *tmp_path;

/* atexit: frees what Initialize kept. */
static void
release(void)
{
	free(in_path);
	free(out_path);
	free(tmp_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch("csv");

	(void)argc;
	(void)argv;
	log_init("fuzz_csv", 1, 0);
	in_path = xasprintf("%s/calls.csv", dir);
	out_path = xasprintf("%s/calls.db", dir);
	tmp_path = xasprintf("%s/calls.db.tmp", dir);
	atexit(release);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cadimport_stats st;
	char *errors = NULL;
	int rc;

	fuzz_write(in_path, data, size);
	rc = cadimport_run(in_path, "sf", out_path, &st, &errors);
	if (rc == 0
		? (errors != NULL || access(out_path, F_OK) != 0)
		: (rc != -1 || errors == NULL || errors[0] == '\0' || access(out_path, F_OK) == 0))
		abort(); /* the contract: a database, or the reasons why not and no file */
	if (rc == 0 && (st.rows < 0 || st.calls > st.rows || st.responses > st.rows))
		abort(); /* a call or a response comes from at least one row */
	if (access(tmp_path, F_OK) == 0)
		abort(); /* the temporary file never stays */
	free(errors);
	(void)unlink(out_path);
	return 0;
}
