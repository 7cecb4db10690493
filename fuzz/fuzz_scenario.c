/* fuzz_scenario: scenario_load on the input written as a scenario file. Beside it is "small",
 * a copy of the small test configuration (tests/data/conf/good/ with tests/data/plans/
 * good.conf), for scenarios that say config = "small"; config = "sample" (the default) checks
 * against the embedded sample. Checks the contract: 0 with a scenario and no errors, or -1
 * with no scenario and at least one error; and what it returns is sorted by time. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "fuzz.h"

#include "log.h"
#include "scenario.h"
#include "util.h"

#ifndef FUZZ_CONF_DIR
#error "FUZZ_CONF_DIR: the directory of the test configurations (tests/data)"
#endif

static char *path;  /* the scenario file */
static int verbose; /* MUSTER_FUZZ_VERBOSE: print what scenario_load says */

/* Copies FROM (under FUZZ_CONF_DIR) to TO (under the scratch directory). */
static void
copy(const char *from, const char *to)
{
	char *src = xasprintf("%s/%s", FUZZ_CONF_DIR, from),
	     *dst = xasprintf("%s/%s", fuzz_dir, to);
	FILE *f = fopen(src, "rb");
	char buf[65536];
	size_t n;

	if (f == NULL || (n = fread(buf, 1, sizeof buf, f)) == sizeof buf) {
		perror(src);
		exit(1);
	}
	fclose(f);
	fuzz_write(dst, buf, n);
	free(src);
	free(dst);
}

/* atexit: frees what Initialize kept. */
static void
release(void)
{
	free(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch("scenario");
	char *p;

	(void)argc;
	(void)argv;
	log_init("fuzz_scenario", 1, 0);
	verbose = getenv("MUSTER_FUZZ_VERBOSE") != NULL;
	p = xasprintf("%s/small", dir);
	if (mkdir(p, 0700) != 0) {
		perror(p);
		exit(1);
	}
	free(p);
	p = xasprintf("%s/small/keys", dir);
	if (mkdir(p, 0700) != 0) {
		perror(p);
		exit(1);
	}
	free(p);
	copy("conf/good/musterd.conf", "small/musterd.conf");
	copy("conf/good/clients.conf", "small/clients.conf");
	copy("conf/good/district.conf", "small/district.conf");
	copy("conf/good/roster.conf", "small/roster.conf");
	copy("plans/good.conf", "small/plans.conf");
	copy("conf/good/keys/musterd.key", "small/keys/musterd.key");
	path = xasprintf("%s/scenario.conf", dir);
	atexit(release);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scenario *s = NULL;
	struct strbuf errors = {0};
	size_t i;
	int rc;

	fuzz_write(path, data, size);
	rc = scenario_load(path, &s, &errors);
	if (verbose && errors.s != NULL)
		fprintf(stderr, "%s", errors.s);
	if (rc == 0 ? (s == NULL || errors.len != 0) : (rc != -1 || s != NULL || errors.len == 0))
		abort(); /* the contract: a scenario, or the reasons why not */
	if (s != NULL) {
		if (s->n_models == 0)
			abort(); /* models[0] is always "*" */
		for (i = 1; i < s->n_injects; i++)
			if (s->injects[i].at_ms < s->injects[i - 1].at_ms)
				abort(); /* injects are sorted by time */
		for (i = 0; i < s->n_injects; i++) {
			char buf[32];

			(void)scenario_format_offset(s->injects[i].at_ms, buf, sizeof buf);
		}
	}
	scenario_free(s);
	strbuf_finish(&errors);
	return 0;
}
