/* fuzz_config: cfg_load, the whole configuration as one unit. The input's first byte picks
 * which file of the small test configuration (tests/data/conf/good/, with
 * tests/data/plans/good.conf as its plans) the rest of the input replaces:
 *   0 musterd.conf, 1 clients.conf, 2 district.conf, 3 roster.conf, 4 plans.conf,
 *   5 keys/musterd.key (the daemon's key pair)
 * the others stay valid, so that the cross-file checks (a roster's departments against the
 * clients, the plans against the roster, ...) are reached. "../good/" from the configuration
 * directory leads back to it, so that the musterd.conf files of the test suite's bad-*
 * directories work as seeds.
 * Checks the contract: a configuration, or errors, never both and never neither. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "fuzz.h"

#include "cfg.h"
#include "log.h"
#include "util.h"

#ifndef FUZZ_CONF_DIR
#error "FUZZ_CONF_DIR: the directory of the test configurations (tests/data)"
#endif

#define N_FILES 6

static const char *const names[N_FILES] = {
    "musterd.conf", "clients.conf", "district.conf",
    "roster.conf",  "plans.conf",   "keys/musterd.key",
};
static const char *const sources[N_FILES] = {
    "conf/good/musterd.conf", "conf/good/clients.conf", "conf/good/district.conf",
    "conf/good/roster.conf",  "plans/good.conf",	"conf/good/keys/musterd.key",
};
static char *paths[N_FILES]; /* in the scratch configuration directory */
static char *texts[N_FILES]; /* the valid contents */
static size_t lens[N_FILES];
static int dirty = -1; /* the file the last input replaced, or -1 */

/* Reads PATH whole into *TEXT and *LEN; exits when it cannot. */
static void
slurp(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(1);
	}
	*text = xmalloc((size_t)n + 1);
	if (fread(*text, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	(*text)[n] = '\0';
	*len = (size_t)n;
	fclose(f);
}

/* atexit: frees what Initialize kept. */
static void
release(void)
{
	int i;

	for (i = 0; i < N_FILES; i++) {
		free(paths[i]);
		free(texts[i]);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch("config");
	char *p;
	int i;

	(void)argc;
	(void)argv;
	log_init("fuzz_config", 1, 0);
	p = xasprintf("%s/conf", dir);
	if (mkdir(p, 0700) != 0) {
		perror(p);
		exit(1);
	}
	free(p);
	p = xasprintf("%s/conf/keys", dir);
	if (mkdir(p, 0700) != 0) {
		perror(p);
		exit(1);
	}
	free(p);
	p = xasprintf("%s/good", dir);
	if (symlink("conf", p) != 0) {
		perror(p);
		exit(1);
	}
	free(p);
	for (i = 0; i < N_FILES; i++) {
		p = xasprintf("%s/%s", FUZZ_CONF_DIR, sources[i]);
		slurp(p, &texts[i], &lens[i]);
		free(p);
		paths[i] = xasprintf("%s/conf/%s", dir, names[i]);
		fuzz_write(paths[i], texts[i], lens[i]);
	}
	atexit(release);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	char *errors = NULL;
	size_t i;
	int which;

	if (size == 0)
		return 0;
	which = data[0] % N_FILES;
	if (dirty >= 0 && dirty != which)
		fuzz_write(paths[dirty], texts[dirty], lens[dirty]);
	fuzz_write(paths[which], data + 1, size - 1);
	dirty = which;
	c = cfg_load(paths[0], &errors);
	if ((c == NULL) == (errors == NULL) || (errors != NULL && errors[0] == '\0'))
		abort(); /* the contract: a configuration, or the reasons why not */
	if (c != NULL) {
		for (i = 0; i < c->n_clients; i++)
			if (cfg_client_by_id(c, c->clients[i].id) == NULL ||
			    cfg_client_by_key(c, c->clients[i].key) == NULL)
				abort(); /* every enrolled client is found by id and by key */
	}
	cfg_free(c);
	free(errors);
	return 0;
}
