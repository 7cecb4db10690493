/* conf: typed reading of libconfig files with file:line errors, shared by every configuration
 * file parser (cfg for musterd.conf, the key file, district, roster and clients; plan for
 * plans.conf). */
#ifndef MUSTER_CONF_H
#define MUSTER_CONF_H

#include <libconfig.h>

#include <stddef.h>

struct strbuf;

/* Where one reading reports to. The caller zeroes it, points ERRORS at its strbuf, and sets
 * FILE to each file before reading it. */
struct conf {
	struct strbuf *errors; /* the caller's: one "file:line: what" line per problem */
	int n_errors;	       /* problems recorded so far */
	const char *file;      /* the file being read, for settings without a source file */
};

/* Records a problem in FILE at LINE: "FILE:LINE: message", or "FILE: message" when LINE is 0. */
void conf_error(struct conf *x, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records a problem at setting S (its file and line); at X's file alone when S is NULL. */
void conf_error_at(struct conf *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Returns member NAME of group G when present, else G itself: where to point a message. */
const config_setting_t *conf_where(const config_setting_t *g, const char *name);

/* Parses PATH into CF (initialised by the caller), with @include resolved beside PATH; reports
 * an unreadable file (with the reason) or a syntax error and returns -1, else 0. */
int conf_parse_file(struct conf *x, config_t *cf, const char *path);
/* Reports every member of group G whose name is not in ALLOWED (NULL-terminated) as "unknown
 * setting 'x' in WHAT" (WHAT may be NULL: "unknown setting 'x'"). */
void conf_check_members(struct conf *x, const config_setting_t *g, const char *const *allowed,
			const char *what);

/* The member readers below name the owner WHAT in messages ("WHAT: missing 'NAME'") and
 * return 1 when the member was read, 0 when it is absent and optional, -1 after reporting a
 * problem. */

/* Reads non-empty string member NAME of G into *OUT (borrowed from the parsed file; NULL
 * unless read). */
int conf_string(struct conf *x, const config_setting_t *g, const char *name, int required,
		const char *what, const char **out);
/* Reads integer member NAME of G within [MIN, MAX] into *OUT. */
int conf_int(struct conf *x, const config_setting_t *g, const char *name, int required,
	     const char *what, long long min, long long max, int *out);
/* Reads number member NAME of G (integer or float) into *OUT. */
int conf_number(struct conf *x, const config_setting_t *g, const char *name, int required,
		const char *what, double *out);
/* Reads number member NAME of G within [MIN, MAX] (NaN never is) into *OUT. */
int conf_number_in(struct conf *x, const config_setting_t *g, const char *name, int required,
		   const char *what, double min, double max, double *out);
/* Reads optional boolean member NAME of G into *OUT. */
int conf_bool(struct conf *x, const config_setting_t *g, const char *name, const char *what,
	      int *out);
/* Returns member NAME of G when it is an array or list of non-empty strings, NULL when absent;
 * reports anything else and sets *BAD. */
const config_setting_t *conf_strings(struct conf *x, const config_setting_t *g, const char *name,
				     const char *what, int *bad);
/* Copies the strings of member NAME of G (as conf_strings) into a new vector *OUT of *N (NULL,
 * 0 when absent, empty or bad). Returns 0, or -1 after reporting a problem. */
int conf_copy_strings(struct conf *x, const config_setting_t *g, const char *name, const char *what,
		      char ***out, size_t *n);
/* Returns list member NAME of G (an empty array counts as an empty list), or NULL when absent
 * (reported when REQUIRED) or not a list (reported). WHAT may be NULL for top-level lists. */
const config_setting_t *conf_list(struct conf *x, const config_setting_t *g, const char *name,
				  int required, const char *what);
/* Returns element I of list L when it is a group, else reports "WHAT #I+1 must be a group"
 * and returns NULL. */
const config_setting_t *conf_list_group(struct conf *x, const config_setting_t *l, int i,
					const char *what);

/* One id in a conf_index: the key is borrowed from the structure being built. */
struct conf_key {
	const char *key;
	int idx;
	unsigned line;
};

/* Ids of one namespace, sorted for duplicate detection and binary search. Zero-initialise. */
struct conf_index {
	struct conf_key *v;
	size_t n, cap;
};

/* Adds KEY (borrowed) with its index IDX and LINE to IX. */
void conf_index_add(struct conf_index *ix, const char *key, int idx, unsigned line);
/* Sorts IX and reports every key that appeared before as "duplicate WHAT 'key' (first on
 * line N)" at its line of FILE. */
void conf_index_sort(struct conf *x, struct conf_index *ix, const char *file, const char *what);
/* Returns the index stored with KEY in the sorted IX, or -1 (also for a NULL KEY). */
int conf_index_find(const struct conf_index *ix, const char *key);
/* Frees IX's storage (not the keys, which are borrowed) and zeroes it. */
void conf_index_free(struct conf_index *ix);

#endif
