/* init: writes the embedded sample configuration plus fresh CURVE keys and a clients.conf
 * that enrols them, then loads the result to prove that it works. */
#include "init.h"

#include "cfg.h"
#include "sample.h"
#include "util.h"

#include <libconfig.h>
#include <sodium.h>
#include <zmq.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One client key that init enrols. */
struct init_client {
	char *id;	  /* identity, "agent:fire" */
	const char *role; /* role name as in clients.conf */
	char *department; /* agents only, else NULL */
	char *file;	  /* key file name under keys/, without extension */
	char public_key[41];
	char secret_key[41];
};

/* Creates directory PATH and its missing parents with MODE. Returns 0, or -1 with errno. */
static int
init_mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int rc = -1;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			goto out;
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		goto out;
	rc = 0;
out:
	free(p);
	return rc;
}

/* Writes LEN bytes of DATA to PATH with MODE; exclusive unless FORCE. Returns 0, or -1 with
 * errno set. */
static int
init_write_file(const char *path, const void *data, size_t len, mode_t mode, int force)
{
	int fd, saved, flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
	size_t off = 0;

	fd = open(path, flags, mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	return close(fd);
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Returns the embedded sample file NAME, or NULL. */
static const struct sample_file *
init_sample(const char *name)
{
	size_t i;

	for (i = 0; i < n_sample_files; i++) {
		if (strcmp(sample_files[i].name, name) == 0)
			return &sample_files[i];
	}
	return NULL;
}

/* Fills *CLIENTS with the identities to enrol: one agent per department of the embedded
 * roster, then the operator, the drill coordinator and the observer. */
static int
init_list_clients(struct init_client **clients, size_t *n, char **err)
{
	const struct sample_file *f = init_sample("roster.conf");
	const config_setting_t *deps;
	struct init_client *v = NULL;
	config_t cf;
	int i, nd, rc = -1;

	config_init(&cf);
	if (f == NULL || config_read_string(&cf, (const char *)f->data) != CONFIG_TRUE) {
		*err = xasprintf("init: the embedded roster.conf does not parse: %s",
				 f ? config_error_text(&cf) : "missing");
		goto out;
	}
	deps = config_lookup(&cf, "departments");
	nd = deps ? config_setting_length(deps) : 0;
	v = xcalloc((size_t)nd + 3, sizeof *v);
	*n = 0;
	for (i = 0; i < nd; i++) {
		const char *id = NULL;

		if (config_setting_lookup_string(config_setting_get_elem(deps, (unsigned)i), "id",
						 &id) != CONFIG_TRUE)
			continue;
		v[*n].id = xasprintf("agent:%s", id);
		v[*n].role = "agent";
		v[*n].department = xstrdup(id);
		v[*n].file = xasprintf("agent-%s", id);
		(*n)++;
	}
	v[*n].id = xstrdup("operator:duty");
	v[*n].role = "operator";
	v[*n].file = xstrdup("operator");
	(*n)++;
	v[*n].id = xstrdup("coordinator:drill");
	v[*n].role = "coordinator";
	v[*n].file = xstrdup("coordinator");
	(*n)++;
	v[*n].id = xstrdup("observer:wall");
	v[*n].role = "observer";
	v[*n].file = xstrdup("observer");
	(*n)++;
	*clients = v;
	rc = 0;
out:
	config_destroy(&cf);
	return rc;
}

/* Frees the client list and wipes its secret keys. */
static void
init_free_clients(struct init_client *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].department);
		free(v[i].file);
		sodium_memzero(v[i].secret_key, sizeof v[i].secret_key);
	}
	free(v);
}

/* Returns a new clients.conf text enrolling V. */
static char *
init_clients_conf(const struct init_client *v, size_t n)
{
	struct strbuf b = {0};
	size_t i;

	strbuf_addf(&b, "# clients.conf: the client keys musterd admits (libconfig syntax).\n"
			"# Written by `muster init`. Each client has an identity (the ZAP "
			"User-Id), a role\n"
			"# (agent, operator, coordinator, observer), for agents the department "
			"they speak\n"
			"# for, and its CURVE public key (Z85). Its key pair is in keys/. See\n"
			"# docs/configuration.md.\n\nclients = (\n");
	for (i = 0; i < n; i++) {
		strbuf_addf(&b, "\t{ id = \"%s\"; role = \"%s\";", v[i].id, v[i].role);
		if (v[i].department != NULL)
			strbuf_addf(&b, " department = \"%s\";", v[i].department);
		strbuf_addf(&b, "\n\t  key = \"%s\"; }%s\n", v[i].public_key, i + 1 < n ? "," : "");
	}
	strbuf_addf(&b, ");\n");
	return b.s;
}

/* Checks that none of the files init writes exists in DIR. */
static int
init_check_free(const char *dir, const struct init_client *v, size_t n, char **err)
{
	struct stat st;
	char *path = NULL;
	size_t i, total = n_sample_files + 1 + (n + 1) * 2;

	for (i = 0; i < total; i++) {
		if (i < n_sample_files)
			path = xasprintf("%s/%s", dir, sample_files[i].name);
		else if (i == n_sample_files)
			path = xasprintf("%s/clients.conf", dir);
		else {
			size_t k = (i - n_sample_files - 1) / 2;
			const char *ext = (i - n_sample_files - 1) % 2 ? "pub" : "key";

			path = xasprintf("%s/keys/%s.%s", dir, k < n ? v[k].file : "musterd", ext);
		}
		if (lstat(path, &st) == 0) {
			*err = xasprintf("%s: already exists (use --force to overwrite)", path);
			free(path);
			return -1;
		}
		free(path);
	}
	return 0;
}

/* Writes the configuration; see init.h. */
int
init_write(const char *dir, int force, char **err)
{
	struct init_client *v = NULL;
	char pub[41], sec[41], *path = NULL, *pub_path = NULL, *text = NULL, *errors = NULL;
	struct config *c;
	size_t n = 0, i;
	int rc = -1;

	*err = NULL;
	memset(sec, 0, sizeof sec);
	if (init_list_clients(&v, &n, err) < 0)
		goto out;
	if (!force && init_check_free(dir, v, n, err) < 0)
		goto out;
	path = xasprintf("%s/keys", dir);
	if (init_mkdir_p(dir, 0755) < 0 || init_mkdir_p(path, 0700) < 0) {
		*err = xasprintf("%s: cannot create directory: %s", path, strerror(errno));
		goto out;
	}
	for (i = 0; i < n_sample_files; i++) {
		free(path);
		path = xasprintf("%s/%s", dir, sample_files[i].name);
		if (init_write_file(path, sample_files[i].data, sample_files[i].len, 0644, force) <
		    0) {
			*err = xasprintf("%s: cannot write: %s", path, strerror(errno));
			goto out;
		}
	}
	/* Index n is the daemon; 0..n-1 are the clients. */
	for (i = 0; i <= n; i++) {
		const char *file = i < n ? v[i].file : "musterd";

		if (zmq_curve_keypair(pub, sec) != 0) {
			*err = xasprintf("init: cannot make a CURVE key pair: %s",
					 zmq_strerror(errno));
			goto out;
		}
		free(path);
		free(pub_path);
		path = xasprintf("%s/keys/%s.key", dir, file);
		pub_path = xasprintf("%s/keys/%s.pub", dir, file);
		if (cfg_write_key_pair(path, pub_path, pub, sec) < 0) {
			*err = xasprintf("%s: cannot write: %s", path, strerror(errno));
			goto out;
		}
		if (i < n) {
			memcpy(v[i].public_key, pub, sizeof pub);
			memcpy(v[i].secret_key, sec, sizeof sec);
		}
	}
	text = init_clients_conf(v, n);
	free(path);
	path = xasprintf("%s/clients.conf", dir);
	if (init_write_file(path, text, strlen(text), 0644, force) < 0) {
		*err = xasprintf("%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	/* What init writes must load: check it the way the daemon will. */
	free(path);
	path = xasprintf("%s/musterd.conf", dir);
	c = cfg_load(path, &errors);
	if (c == NULL) {
		*err = xasprintf("init: the written configuration does not load:\n%s", errors);
		goto out;
	}
	cfg_free(c);
	rc = 0;
out:
	sodium_memzero(sec, sizeof sec);
	init_free_clients(v, n);
	free(text);
	free(errors);
	free(path);
	free(pub_path);
	return rc;
}
