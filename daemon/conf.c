/* conf: the typed member readers, error collection and id indexes that every configuration file
 * parser uses, so that each file reports its problems the same way: "file:line: what". */
#include "conf.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records one problem as "FILE:LINE: message", or "FILE: message" when LINE is 0. */
__attribute__((format(printf, 4, 0))) static void
conf_verror(struct conf *x, const char *file, unsigned line, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (line > 0)
		strbuf_addf(x->errors, "%s:%u: %s\n", file, line, msg);
	else
		strbuf_addf(x->errors, "%s: %s\n", file, msg);
	x->n_errors++;
}

/* Records a problem in FILE at LINE; see conf.h. */
void
conf_error(struct conf *x, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verror(x, file, line, fmt, ap);
	va_end(ap);
}

/* Records a problem at setting S, or in X's file when S is NULL; see conf.h. */
void
conf_error_at(struct conf *x, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = x->file;
	unsigned line = 0;
	va_list ap;

	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	va_start(ap, fmt);
	conf_verror(x, file, line, fmt, ap);
	va_end(ap);
}

/* Points a message at member NAME of G, or at G when it has none; see conf.h. */
const config_setting_t *
conf_where(const config_setting_t *g, const char *name)
{
	const config_setting_t *m = config_setting_get_member(g, name);

	return m != NULL ? m : g;
}

/* Parses one file, reporting why it cannot be read or where its syntax is wrong; see conf.h. */
int
conf_parse_file(struct conf *x, config_t *cf, const char *path)
{
	char *dir, *slash;
	FILE *f;

	/* libconfig only says "file I/O error"; opening it first gives the reason. */
	f = fopen(path, "r");
	if (f == NULL) {
		conf_error(x, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	/* A stream opened for reading loses nothing when closing fails. */
	(void)fclose(f);
	/* @include "x.conf" names a file beside this one (e.g. units from `muster import`). */
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	config_set_include_dir(cf, slash != NULL ? dir : ".");
	free(dir);
	if (config_read_file(cf, path) != CONFIG_TRUE) {
		const char *ef = config_error_file(cf) ? config_error_file(cf) : path;

		if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
			conf_error(x, ef, 0, "cannot read: %s", config_error_text(cf));
		else
			conf_error(x, ef, (unsigned)config_error_line(cf), "%s",
				   config_error_text(cf));
		return -1;
	}
	return 0;
}

/* Reports the members of G that are not allowed; see conf.h. */
void
conf_check_members(struct conf *x, const config_setting_t *g, const char *const *allowed,
		   const char *what)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		const char *const *a;

		for (a = allowed; *a != NULL; a++) {
			if (name != NULL && strcmp(*a, name) == 0)
				break;
		}
		if (*a == NULL)
			conf_error_at(x, m, "unknown setting '%s'%s%s", name ? name : "?",
				      what ? " in " : "", what ? what : "");
	}
}

/* Looks up member NAME of G into *S. Returns 1 when present, 0 when absent and optional, -1
 * after reporting it missing when REQUIRED. */
static int
conf_member(struct conf *x, const config_setting_t *g, const char *name, int required,
	    const char *what, const config_setting_t **s)
{
	*s = config_setting_get_member(g, name);
	if (*s != NULL)
		return 1;
	if (!required)
		return 0;
	conf_error_at(x, g, "%s: missing '%s'", what, name);
	return -1;
}

/* Reads a required or optional non-empty string member; see conf.h. */
int
conf_string(struct conf *x, const config_setting_t *g, const char *name, int required,
	    const char *what, const char **out)
{
	const config_setting_t *s;
	int rc;

	*out = NULL;
	rc = conf_member(x, g, name, required, what, &s);
	if (rc != 1)
		return rc;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error_at(x, s, "%s: '%s' must be a string", what, name);
		return -1;
	}
	if (config_setting_get_string(s)[0] == '\0') {
		conf_error_at(x, s, "%s: '%s' must not be empty", what, name);
		return -1;
	}
	*out = config_setting_get_string(s);
	return 1;
}

/* Reads a required or optional integer member within bounds; see conf.h. */
int
conf_int(struct conf *x, const config_setting_t *g, const char *name, int required,
	 const char *what, long long min, long long max, int *out)
{
	const config_setting_t *s;
	long long v;
	int rc = conf_member(x, g, name, required, what, &s);

	if (rc != 1)
		return rc;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_error_at(x, s, "%s: '%s' must be an integer", what, name);
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		conf_error_at(x, s, "%s: '%s' = %lld is out of range (%lld..%lld)", what, name, v,
			      min, max);
		return -1;
	}
	*out = (int)v;
	return 1;
}

/* Reads a required or optional number member, integer or float; see conf.h. */
int
conf_number(struct conf *x, const config_setting_t *g, const char *name, int required,
	    const char *what, double *out)
{
	const config_setting_t *s;
	int rc = conf_member(x, g, name, required, what, &s);

	if (rc != 1)
		return rc;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*out = (double)config_setting_get_int64(s);
		return 1;
	case CONFIG_TYPE_FLOAT:
		*out = config_setting_get_float(s);
		return 1;
	default:
		conf_error_at(x, s, "%s: '%s' must be a number", what, name);
		return -1;
	}
}

/* Reads a required or optional number member within bounds; see conf.h. */
int
conf_number_in(struct conf *x, const config_setting_t *g, const char *name, int required,
	       const char *what, double min, double max, double *out)
{
	double v = 0.0;
	int rc = conf_number(x, g, name, required, what, &v);

	if (rc != 1)
		return rc;
	/* Written so that NaN fails too. */
	if (!(v >= min && v <= max)) {
		conf_error_at(x, config_setting_get_member(g, name),
			      "%s: '%s' = %g is out of range (%g..%g)", what, name, v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

/* Reads an optional boolean member; see conf.h. */
int
conf_bool(struct conf *x, const config_setting_t *g, const char *name, const char *what, int *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_error_at(x, s, "%s: '%s' must be true or false", what, name);
		return -1;
	}
	*out = config_setting_get_bool(s);
	return 1;
}

/* Checks that a member is a list of non-empty strings and returns it; see conf.h. */
const config_setting_t *
conf_strings(struct conf *x, const config_setting_t *g, const char *name, const char *what,
	     int *bad)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	int i, n;

	*bad = 0;
	if (s == NULL)
		return NULL;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error_at(x, s, "%s: '%s' must be a list of strings [\"a\", \"b\"]", what,
			      name);
		*bad = 1;
		return NULL;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    config_setting_get_string(e)[0] == '\0') {
			conf_error_at(x, e, "%s: '%s' must hold non-empty strings only", what,
				      name);
			*bad = 1;
			return NULL;
		}
	}
	return s;
}

/* Copies a list-of-strings member into a new vector; see conf.h. */
int
conf_copy_strings(struct conf *x, const config_setting_t *g, const char *name, const char *what,
		  char ***out, size_t *n)
{
	const config_setting_t *s;
	int bad, i, len;

	*out = NULL;
	*n = 0;
	s = conf_strings(x, g, name, what, &bad);
	if (s == NULL)
		return bad ? -1 : 0;
	len = config_setting_length(s);
	if (len == 0)
		return 0;
	*out = xcalloc((size_t)len, sizeof **out);
	for (i = 0; i < len; i++)
		(*out)[i] = xstrdup(config_setting_get_string_elem(s, (unsigned)i));
	*n = (size_t)len;
	return 0;
}

/* Returns a list member, reporting one that is missing (when required) or not a list; see
 * conf.h. */
const config_setting_t *
conf_list(struct conf *x, const config_setting_t *g, const char *name, int required,
	  const char *what)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL) {
		if (required)
			conf_error_at(x, g, "%s%smissing '%s'", what ? what : "", what ? ": " : "",
				      name);
		return NULL;
	}
	if (config_setting_is_list(s) ||
	    (config_setting_is_array(s) && config_setting_length(s) == 0))
		return s;
	conf_error_at(x, s, "%s%s'%s' must be a list ( { ... }, { ... } )", what ? what : "",
		      what ? ": " : "", name);
	return NULL;
}

/* Returns element I of list L when it is a group, reporting anything else; see conf.h. */
const config_setting_t *
conf_list_group(struct conf *x, const config_setting_t *l, int i, const char *what)
{
	const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);

	if (e != NULL && config_setting_is_group(e))
		return e;
	conf_error_at(x, e != NULL ? e : l, "%s #%d must be a group { ... }", what, i + 1);
	return NULL;
}

/* Adds one id to an index; see conf.h. */
void
conf_index_add(struct conf_index *ix, const char *key, int idx, unsigned line)
{
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? ix->cap * 2 : 64;
		ix->v = xrealloc(ix->v, ix->cap * sizeof *ix->v);
	}
	ix->v[ix->n].key = key;
	ix->v[ix->n].idx = idx;
	ix->v[ix->n].line = line;
	ix->n++;
}

/* Orders index entries by key, then by position, so the first of duplicates comes first. */
static int
conf_key_cmp_cb(const void *a, const void *b)
{
	const struct conf_key *ka = a, *kb = b;
	int r = strcmp(ka->key, kb->key);

	if (r != 0)
		return r;
	return (ka->idx > kb->idx) - (ka->idx < kb->idx);
}

/* Orders a bare key against an index entry, for bsearch. */
static int
conf_key_find_cb(const void *key, const void *elem)
{
	const struct conf_key *k = elem;

	return strcmp(key, k->key);
}

/* Sorts an index and reports its duplicates; see conf.h. */
void
conf_index_sort(struct conf *x, struct conf_index *ix, const char *file, const char *what)
{
	size_t i, first = 0;

	if (ix->n > 1)
		qsort(ix->v, ix->n, sizeof *ix->v, conf_key_cmp_cb);
	for (i = 1; i < ix->n; i++) {
		if (strcmp(ix->v[i].key, ix->v[first].key) != 0) {
			first = i;
			continue;
		}
		conf_error(x, file, ix->v[i].line, "duplicate %s '%s' (first on line %u)", what,
			   ix->v[i].key, ix->v[first].line);
	}
}

/* Finds a key in a sorted index; see conf.h. */
int
conf_index_find(const struct conf_index *ix, const char *key)
{
	const struct conf_key *k;

	if (key == NULL || ix->n == 0)
		return -1;
	k = bsearch(key, ix->v, ix->n, sizeof *ix->v, conf_key_find_cb);
	return k != NULL ? k->idx : -1;
}

/* Frees an index's storage; see conf.h. */
void
conf_index_free(struct conf_index *ix)
{
	free(ix->v);
	memset(ix, 0, sizeof *ix);
}
