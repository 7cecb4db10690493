/* scenario: reads and validates drill scenarios (scenario.h, docs/drills.md). Every problem
 * is reported, as "file:line: what", through the shared configuration readers (conf.h);
 * places, incident types, departments and unit kinds are checked against the scenario's
 * configuration: the embedded sample (sample.h), or the files a musterd.conf names. */
#include "scenario.h"

#include "client.h"
#include "conf.h"
#include "sample.h"
#include "util.h"
#include "whistle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCENARIO_MAX_MS (366LL * 86400 * 1000) /* longest duration or offset */
#define SCENARIO_COUNT_MAX 10000000	       /* casualties, people affected (as the daemon) */
#define SCENARIO_SURGE_MAX 100000	       /* incidents in one surge */

static const char *const inject_names[] = {
    [INJECT_INCIDENT] = "incident",
    [INJECT_UPDATE] = "update",
    [INJECT_TIER] = "tier",
    [INJECT_CLOSE] = "close",
    [INJECT_DIVERT] = "divert",
    [INJECT_AGENT_OFFLINE] = "agent_offline",
    [INJECT_ROAD_BLOCKED] = "road_blocked",
    [INJECT_WHISTLE] = "whistle",
    [INJECT_SURGE] = "surge",
};
#define N_INJECT_KINDS ((int)(sizeof inject_names / sizeof *inject_names))

static const char *const expect_names[] = {
    [EXPECT_GROUP_COMPLETE] = "group_complete",
    [EXPECT_RING_MET] = "ring_met",
    [EXPECT_CIRCLE] = "circle",
    [EXPECT_WHISTLE_ON_TIME] = "whistle_on_time",
    [EXPECT_NO_SHORTFALL] = "no_shortfall",
    [EXPECT_MAX_MISSES] = "max_misses",
};
#define N_EXPECT_KINDS ((int)(sizeof expect_names / sizeof *expect_names))

static const char *const top_members[] = {
    "name",   "description", "seed",	"start",  "duration",
    "config", "models",	     "injects", "expect", NULL,
};
static const char *const inject_members[] = {
    "at",	    "incident", "update", "tier", "close", "divert", "agent_offline",
    "road_blocked", "whistle",	"surge",  NULL,
};
static const char *const incident_members[] = {
    "id",     "type",	  "place", "description", "casualties", "people_affected",
    "hazmat", "building", "tier",  "tier_reason", NULL,
};
static const char *const update_members[] = {
    "ref", "casualties", "people_affected", "description", "note", NULL,
};
static const char *const tier_members[] = {"ref", "tier", "reason", NULL};
static const char *const close_members[] = {"ref", "reason", NULL};
static const char *const divert_members[] = {"ref", "to", "reason", NULL};
static const char *const offline_members[] = {"department", "for", NULL};
static const char *const road_members[] = {"street", "community", "for", "delay", NULL};
static const char *const whistle_members[] = {
    "place", "matter", "departments", "deadline", "rank", "headcount", "ref", NULL,
};
static const char *const surge_members[] = {"count", "over", "types", "places", NULL};
static const char *const group_complete_members[] = {"what", "within", NULL};
static const char *const ring_met_members[] = {"what", "kind", "share", NULL};
static const char *const circle_members[] = {"what", "within", "share", NULL};
static const char *const bare_members[] = {"what", NULL};
static const char *const max_misses_members[] = {"what", "count", NULL};
/* The settings of each expectation, by enum expect_what. */
static const char *const *const expect_members[] = {
    [EXPECT_GROUP_COMPLETE] = group_complete_members,
    [EXPECT_RING_MET] = ring_met_members,
    [EXPECT_CIRCLE] = circle_members,
    [EXPECT_WHISTLE_ON_TIME] = bare_members,
    [EXPECT_NO_SHORTFALL] = bare_members,
    [EXPECT_MAX_MISSES] = max_misses_members,
};

/* ---- the configuration's words: places, departments, kinds, types ---- */

/* Place tags in struct words. */
enum {
	W_STREET = 1,
	W_COMMUNITY,
	W_OTHER_PLACE,
};

/* A set of borrowed strings, each with a tag. */
struct words {
	const char **v;
	int *tag;
	size_t n, cap;
};

/* What the scenario's configuration defines; strings borrowed from the parsed files. */
struct vocab {
	int known; /* 0: the configuration could not be read; nothing is checked */
	config_t cf[3];
	int n_cf;
	struct words places, departments, kinds, classes, types;
};

/* Adds S (borrowed; NULL, empty and known strings are skipped) with TAG to W. */
static void
words_add(struct words *w, const char *s, int tag)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return;
	for (i = 0; i < w->n; i++)
		if (strcmp(w->v[i], s) == 0)
			return; /* the first tag stays */
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 32;
		w->v = xrealloc(w->v, w->cap * sizeof *w->v);
		w->tag = xrealloc(w->tag, w->cap * sizeof *w->tag);
	}
	w->v[w->n] = s;
	w->tag[w->n] = tag;
	w->n++;
}

/* Returns the tag of S in W, or 0 when W does not hold it. */
static int
words_find(const struct words *w, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < w->n; i++)
		if (strcmp(w->v[i], s) == 0)
			return w->tag[i];
	return 0;
}

/* Frees W's storage. */
static void
words_free(struct words *w)
{
	free(w->v);
	free(w->tag);
	memset(w, 0, sizeof *w);
}

/* Adds string member MEMBER of every element of list NAME of CF to W with TAG (and member
 * ALSO, when not NULL: place names). */
static void
vocab_collect(config_t *cf, const char *name, const char *member, const char *also, struct words *w,
	      int tag)
{
	const config_setting_t *l = config_lookup(cf, name);
	int i, n = l != NULL ? config_setting_length(l) : 0;

	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);
		const char *s = NULL;

		if (e == NULL || !config_setting_is_group(e))
			continue;
		if (config_setting_lookup_string(e, member, &s) == CONFIG_TRUE)
			words_add(w, s, tag);
		if (also != NULL && config_setting_lookup_string(e, also, &s) == CONFIG_TRUE)
			words_add(w, s, tag);
	}
}

/* Parses the embedded sample file NAME into the next config of V; returns it, or NULL after
 * reporting a problem. */
static config_t *
vocab_sample(struct conf *x, struct vocab *v, const char *name)
{
	config_t *cf = &v->cf[v->n_cf];
	size_t i;

	for (i = 0; i < n_sample_files; i++)
		if (strcmp(sample_files[i].name, name) == 0)
			break;
	if (i == n_sample_files) {
		conf_error(x, name, 0, "not in the embedded sample");
		return NULL;
	}
	config_init(cf);
	v->n_cf++;
	if (config_read_string(cf, (const char *)sample_files[i].data) != CONFIG_TRUE) {
		conf_error(x, name, (unsigned)config_error_line(cf), "embedded sample: %s",
			   config_error_text(cf));
		return NULL;
	}
	return cf;
}

/* Parses file setting NAME ("district", ...) of the musterd.conf at MUSTERD into the next
 * config of V; returns it, or NULL after reporting a problem (a missing plans file is not
 * one: NULL, and the configuration has no incident types). */
static config_t *
vocab_file(struct conf *x, struct vocab *v, const config_setting_t *where, const char *musterd,
	   const char *name)
{
	char *err = NULL, *path = client_conf_path(musterd, name, &err);
	config_t *cf = &v->cf[v->n_cf];
	if (path == NULL) {
		conf_error_at(x, where, "config: %s", err ? err : "cannot be read");
		free(err);
		return NULL;
	}
	/* plans.conf is optional (docs/configuration.md): without it there are no types. */
	if (strcmp(name, "plans") == 0 && access(path, F_OK) != 0 && errno == ENOENT) {
		free(path);
		return NULL;
	}
	config_init(cf);
	v->n_cf++;
	if (conf_parse_file(x, cf, path) != 0) {
		free(path);
		return NULL;
	}
	free(path);
	return cf;
}

/* Reads the words of the configuration: the embedded sample when MUSTERD is NULL, else the
 * files the musterd.conf at MUSTERD names. Problems are reported at WHERE or in the files. */
static void
vocab_load(struct conf *x, struct vocab *v, const config_setting_t *where, const char *musterd)
{
	static const char *const names[3] = {"district", "roster", "plans"};
	config_t *cf[3] = {NULL, NULL, NULL};
	int errors = x->n_errors, i;
	char file[32];

	for (i = 0; i < 3; i++) {
		if (musterd == NULL) {
			snprintf(file, sizeof file, "%s.conf", names[i]);
			cf[i] = vocab_sample(x, v, file);
		} else {
			cf[i] = vocab_file(x, v, where, musterd, names[i]);
		}
	}
	if (x->n_errors > errors)
		return;
	v->known = 1;
	vocab_collect(cf[0], "streets", "id", "name", &v->places, W_STREET);
	vocab_collect(cf[0], "communities", "id", "name", &v->places, W_COMMUNITY);
	vocab_collect(cf[0], "grids", "id", "name", &v->places, W_OTHER_PLACE);
	vocab_collect(cf[0], "key_places", "id", "name", &v->places, W_OTHER_PLACE);
	vocab_collect(cf[1], "departments", "id", NULL, &v->departments, 1);
	vocab_collect(cf[1], "units", "kind", NULL, &v->kinds, 1);
	if (cf[2] != NULL) {
		vocab_collect(cf[2], "classes", "kind", NULL, &v->kinds, 1);
		vocab_collect(cf[2], "classes", "kind", NULL, &v->classes, 1);
		vocab_collect(cf[2], "plans", "type", NULL, &v->types, 1);
	}
}

/* Frees what V holds. */
static void
vocab_free(struct vocab *v)
{
	int i;

	for (i = 0; i < v->n_cf; i++)
		config_destroy(&v->cf[i]);
	words_free(&v->places);
	words_free(&v->departments);
	words_free(&v->kinds);
	words_free(&v->classes);
	words_free(&v->types);
}

/* ---- times ---- */

/* Reads up to 9 digits at *P into *V and advances *P; returns the number of digits read, or
 * -1 for more than 9. */
static int
parse_digits(const char **p, long long *v)
{
	int n = 0;

	*v = 0;
	while (**p >= '0' && **p <= '9') {
		if (++n > 9)
			return -1;
		*v = *v * 10 + (**p - '0');
		(*p)++;
	}
	return n;
}

/* Parses a duration; see scenario.h. */
int
scenario_parse_duration(const char *text, int64_t *ms)
{
	const char *p = text;
	long long v, total = 0;
	int n;

	if (text == NULL || text[0] == '\0')
		return -1;
	if (strchr(text, ':') != NULL) {
		long long part[3];
		int parts = 0;

		for (;;) {
			n = parse_digits(&p, &part[parts]);
			if (n <= 0 || (parts > 0 && (n != 2 || part[parts] > 59)))
				return -1;
			parts++;
			if (*p == '\0')
				break;
			if (*p != ':' || parts == 3)
				return -1;
			p++;
		}
		if (parts == 2)
			total = part[0] * 60 + part[1];
		else if (parts == 3 && part[1] <= 59)
			total = (part[0] * 60 + part[1]) * 60 + part[2];
		else
			return -1;
	} else {
		const char *units = "hms";
		static const long long scale[] = {3600, 60, 1};
		int next = 0;

		while (*p != '\0') {
			const char *u;

			if (parse_digits(&p, &v) <= 0 || *p == '\0')
				return -1;
			u = strchr(units + next, *p);
			if (u == NULL)
				return -1;
			next = (int)(u - units) + 1;
			total += v * scale[u - units];
			p++;
		}
	}
	if (total * 1000 > SCENARIO_MAX_MS)
		return -1;
	*ms = total * 1000;
	return 0;
}

/* Formats an offset; see scenario.h. */
char *
scenario_format_offset(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms < 0 ? -ms / 1000 : ms / 1000;
	const char *sign = ms < 0 ? "-" : "";

	if (s >= 3600)
		snprintf(buf, len, "%s%" PRId64 ":%02d:%02d", sign, s / 3600, (int)(s / 60 % 60),
			 (int)(s % 60));
	else
		snprintf(buf, len, "%s%02d:%02d", sign, (int)(s / 60), (int)(s % 60));
	return buf;
}

/* Parses "YYYY-MM-DDThh:mm:ss" (UTC, an optional trailing Z) into *MS; returns 0 or -1. */
static int
parse_start(const char *s, int64_t *ms)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	struct tm tm, back;
	size_t i, len = strlen(s);
	time_t t;

	if (len != sizeof shape - 1 && !(len == sizeof shape && s[len - 1] == 'Z'))
		return -1;
	for (i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return -1;
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	back = tm;
	t = timegm(&tm);
	/* timegm normalises 31 April into 1 May: a date that changes did not exist. */
	if (t == (time_t)-1 || tm.tm_year != back.tm_year || tm.tm_mon != back.tm_mon ||
	    tm.tm_mday != back.tm_mday || tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min ||
	    tm.tm_sec != back.tm_sec || t < 0)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

/* ---- readers ---- */

/* Reads duration member NAME of G (a string, scenario_parse_duration) into *MS; more than 0
 * when POSITIVE. Returns 1, 0 when absent and optional, or -1 after reporting. */
static int
read_duration(struct conf *x, const config_setting_t *g, const char *name, int required,
	      const char *what, int positive, int64_t *ms)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	const char *t;

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error_at(x, s,
			      "%s: '%s' must be a duration in quotes, like \"90s\" or \"05:00\"",
			      what, name);
		return -1;
	}
	if (conf_string(x, g, name, required, what, &t) != 1)
		return s == NULL && !required ? 0 : -1;
	if (scenario_parse_duration(t, ms) != 0) {
		conf_error_at(x, s,
			      "%s: '%s' = \"%s\" is not a duration (\"90s\", \"5m\", \"1h30m\", "
			      "\"mm:ss\" or \"hh:mm:ss\", at most 366 days)",
			      what, name, t);
		return -1;
	}
	if (positive && *ms <= 0) {
		conf_error_at(x, s, "%s: '%s' must be longer than 0", what, name);
		return -1;
	}
	return 1;
}

/* Copies optional (or REQUIRED) string member NAME of G into *OUT; returns as conf_string. */
static int
copy_string(struct conf *x, const config_setting_t *g, const char *name, int required,
	    const char *what, char **out)
{
	const char *s = NULL;
	int rc = conf_string(x, g, name, required, what, &s);

	*out = rc == 1 ? xstrdup(s) : NULL;
	return rc;
}

/* Checks PLACE (member NAME of G) against the configuration: any place when WANT is 0, else
 * a place of that tag (W_STREET, W_COMMUNITY). */
static void
check_place(struct conf *x, const struct vocab *v, const config_setting_t *g, const char *name,
	    const char *what, const char *place, int want)
{
	int tag;

	if (!v->known || place == NULL)
		return;
	tag = words_find(&v->places, place);
	if (tag == 0)
		conf_error_at(x, conf_where(g, name), "%s: unknown place '%s'", what, place);
	else if (want != 0 && tag != want)
		conf_error_at(x, conf_where(g, name), "%s: '%s' is not a %s", what, place,
			      want == W_STREET ? "street" : "community");
}

/* Checks department DEPT (member NAME of G) against the configuration. */
static void
check_department(struct conf *x, const struct vocab *v, const config_setting_t *where,
		 const char *what, const char *dept)
{
	if (v->known && dept != NULL && !words_find(&v->departments, dept))
		conf_error_at(x, where, "%s: unknown department '%s'", what, dept);
}

/* Checks incident type TYPE against the plans. */
static void
check_type(struct conf *x, const struct vocab *v, const config_setting_t *where, const char *what,
	   const char *type)
{
	if (v->known && type != NULL && !words_find(&v->types, type))
		conf_error_at(x, where, "%s: unknown incident type '%s' (no plan for it)", what,
			      type);
}

/* Reads the list of strings NAME of G into *OUT and *N; non-empty when REQUIRED or present. Returns
 * 0 or -1. */
static int
copy_strings(struct conf *x, const config_setting_t *g, const char *name, int required,
	     const char *what, char ***out, size_t *n)
{
	if (conf_copy_strings(x, g, name, what, out, n) != 0)
		return -1;
	if (*n == 0 && (required || config_setting_get_member(g, name) != NULL)) {
		conf_error_at(x, conf_where(g, name), "%s: '%s' needs at least one name", what,
			      name);
		return -1;
	}
	return 0;
}

/* Frees the N strings of V and V. */
static void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* Reads an incident inject from B. */
static void
read_incident(struct conf *x, const struct vocab *v, const config_setting_t *b, const char *what,
	      struct inject *in)
{
	struct inject_incident *c = &in->u.incident;

	conf_check_members(x, b, incident_members, what);
	copy_string(x, b, "id", 1, what, &c->id);
	copy_string(x, b, "type", 1, what, &c->type);
	copy_string(x, b, "place", 1, what, &c->place);
	copy_string(x, b, "description", 0, what, &c->description);
	copy_string(x, b, "building", 0, what, &c->building);
	conf_int(x, b, "casualties", 0, what, 0, SCENARIO_COUNT_MAX, &c->casualties);
	conf_int(x, b, "people_affected", 0, what, 0, SCENARIO_COUNT_MAX, &c->people_affected);
	conf_bool(x, b, "hazmat", what, &c->hazmat);
	if (conf_int(x, b, "tier", 0, what, 1, 3, &c->tier) == 1)
		copy_string(x, b, "tier_reason", 1, what, &c->tier_reason);
	else if (config_setting_get_member(b, "tier_reason") != NULL)
		conf_error_at(x, conf_where(b, "tier_reason"), "%s: 'tier_reason' goes with 'tier'",
			      what);
	check_type(x, v, conf_where(b, "type"), what, c->type);
	check_place(x, v, b, "place", what, c->place, 0);
}

/* Reads an update inject from B. */
static void
read_update(struct conf *x, const config_setting_t *b, const char *what, struct inject *in)
{
	struct inject_update *u = &in->u.update;
	int given = 0;

	conf_check_members(x, b, update_members, what);
	u->casualties = u->people_affected = -1;
	given += conf_int(x, b, "casualties", 0, what, 0, SCENARIO_COUNT_MAX, &u->casualties) != 0;
	given += conf_int(x, b, "people_affected", 0, what, 0, SCENARIO_COUNT_MAX,
			  &u->people_affected) != 0;
	given += copy_string(x, b, "description", 0, what, &u->description) != 0;
	given += copy_string(x, b, "note", 0, what, &u->note) != 0;
	if (given == 0)
		conf_error_at(x, b,
			      "%s: nothing to update (casualties, people_affected, description or "
			      "note)",
			      what);
}

/* Reads a whistle inject from B. */
static void
read_whistle(struct conf *x, const struct vocab *v, const config_setting_t *b, const char *what,
	     struct inject *in)
{
	struct inject_whistle *w = &in->u.whistle;
	size_t i, k;
	int tag;

	conf_check_members(x, b, whistle_members, what);
	copy_string(x, b, "place", 1, what, &w->place);
	copy_string(x, b, "matter", 1, what, &w->matter);
	if (copy_strings(x, b, "departments", 1, what, &w->departments, &w->n_departments) == 0) {
		for (i = 0; i < w->n_departments; i++) {
			check_department(x, v, conf_where(b, "departments"), what,
					 w->departments[i]);
			for (k = 0; k < i; k++)
				if (strcmp(w->departments[k], w->departments[i]) == 0)
					conf_error_at(x, conf_where(b, "departments"),
						      "%s: department '%s' named twice", what,
						      w->departments[i]);
		}
	}
	if (read_duration(x, b, "deadline", 1, what, 1, &w->deadline_ms) == 1 &&
	    (w->deadline_ms < 10000 || w->deadline_ms > 86400000))
		conf_error_at(x, conf_where(b, "deadline"),
			      "%s: the deadline must be 10 s to 24 h away", what);
	if (copy_string(x, b, "rank", 1, what, &w->rank) == 1 && whistle_rank_index(w->rank) < 0)
		conf_error_at(x, conf_where(b, "rank"),
			      "%s: unknown rank '%s' (staff, team leader, section chief, deputy "
			      "director, director)",
			      what, w->rank);
	conf_int(x, b, "headcount", 1, what, 1, 1000, &w->headcount);
	if (v->known && w->place != NULL) {
		tag = words_find(&v->places, w->place);
		if (tag != W_STREET && tag != W_COMMUNITY)
			conf_error_at(x, conf_where(b, "place"),
				      "%s: the whistle is blown by a street or a community; '%s' "
				      "is neither",
				      what, w->place);
	}
}

/* Reads a surge inject from B. */
static void
read_surge(struct conf *x, const struct vocab *v, const config_setting_t *b, const char *what,
	   struct inject *in)
{
	struct inject_surge *g = &in->u.surge;
	size_t i;

	conf_check_members(x, b, surge_members, what);
	conf_int(x, b, "count", 1, what, 1, SCENARIO_SURGE_MAX, &g->count);
	read_duration(x, b, "over", 1, what, 1, &g->over_ms);
	if (copy_strings(x, b, "types", 1, what, &g->types, &g->n_types) == 0)
		for (i = 0; i < g->n_types; i++)
			check_type(x, v, conf_where(b, "types"), what, g->types[i]);
	if (copy_strings(x, b, "places", 0, what, &g->places, &g->n_places) == 0)
		for (i = 0; i < g->n_places; i++)
			check_place(x, v, b, "places", what, g->places[i], 0);
}

/* Reads the kind-specific block B (member NAME) of inject IN. *REF_AT gets the setting a
 * ref is reported at. */
static void
read_inject_body(struct conf *x, const struct vocab *v, const config_setting_t *b, const char *what,
		 struct inject *in, const config_setting_t **ref_at)
{
	const char *const *allowed[] = {
	    [INJECT_TIER] = tier_members,
	    [INJECT_CLOSE] = close_members,
	    [INJECT_DIVERT] = divert_members,
	};

	*ref_at = conf_where(b, "ref");
	switch (in->kind) {
	case INJECT_INCIDENT:
		read_incident(x, v, b, what, in);
		return;
	case INJECT_UPDATE:
		copy_string(x, b, "ref", 1, what, &in->ref);
		read_update(x, b, what, in);
		return;
	case INJECT_TIER:
	case INJECT_CLOSE:
	case INJECT_DIVERT:
		conf_check_members(x, b, allowed[in->kind], what);
		copy_string(x, b, "ref", 1, what, &in->ref);
		copy_string(x, b, "reason", 1, what, &in->reason);
		if (in->kind == INJECT_TIER)
			conf_int(x, b, "tier", 1, what, 1, 3, &in->u.tier);
		if (in->kind == INJECT_DIVERT && copy_string(x, b, "to", 1, what, &in->u.to) == 1)
			check_department(x, v, conf_where(b, "to"), what, in->u.to);
		return;
	case INJECT_AGENT_OFFLINE:
		conf_check_members(x, b, offline_members, what);
		if (copy_string(x, b, "department", 1, what, &in->u.offline.department) == 1)
			check_department(x, v, conf_where(b, "department"), what,
					 in->u.offline.department);
		read_duration(x, b, "for", 1, what, 1, &in->u.offline.for_ms);
		return;
	case INJECT_ROAD_BLOCKED:
		conf_check_members(x, b, road_members, what);
		copy_string(x, b, "street", 0, what, &in->u.road.street);
		copy_string(x, b, "community", 0, what, &in->u.road.community);
		if (in->u.road.street != NULL && in->u.road.community != NULL)
			conf_error_at(x, conf_where(b, "community"),
				      "%s: give 'street' or 'community', not both", what);
		check_place(x, v, b, "street", what, in->u.road.street, W_STREET);
		check_place(x, v, b, "community", what, in->u.road.community, W_COMMUNITY);
		read_duration(x, b, "for", 1, what, 1, &in->u.road.for_ms);
		read_duration(x, b, "delay", 1, what, 1, &in->u.road.delay_ms);
		return;
	case INJECT_WHISTLE:
		copy_string(x, b, "ref", 0, what, &in->ref);
		read_whistle(x, v, b, what, in);
		return;
	case INJECT_SURGE:
		read_surge(x, v, b, what, in);
		return;
	}
}

/* Reads inject #I+1, group G, into IN (kind 0 when it has no readable kind). */
static void
read_inject(struct conf *x, const struct vocab *v, const config_setting_t *g, int i,
	    struct inject *in, const config_setting_t **ref_at)
{
	const config_setting_t *body = NULL;
	char what[64];
	int k;

	in->line = config_setting_source_line(g);
	in->index = (size_t)i;
	in->incident = -1;
	snprintf(what, sizeof what, "inject #%d", i + 1);
	conf_check_members(x, g, inject_members, what);
	read_duration(x, g, "at", 1, what, 0, &in->at_ms);
	for (k = 1; k < N_INJECT_KINDS; k++) {
		const config_setting_t *b = config_setting_get_member(g, inject_names[k]);

		if (b == NULL)
			continue;
		if (body != NULL) {
			conf_error_at(x, b, "%s: has both '%s' and '%s' (one kind per inject)",
				      what, inject_names[in->kind], inject_names[k]);
			continue;
		}
		body = b;
		in->kind = (enum inject_kind)k;
	}
	if (body == NULL) {
		conf_error_at(x, g,
			      "%s: needs one of incident, update, tier, close, divert, "
			      "agent_offline, road_blocked, whistle or surge",
			      what);
		return;
	}
	snprintf(what, sizeof what, "inject #%d (%s)", i + 1, inject_names[in->kind]);
	if (!config_setting_is_group(body)) {
		conf_error_at(x, body, "%s: '%s' must be a group { ... }", what,
			      inject_names[in->kind]);
		in->kind = 0;
		return;
	}
	read_inject_body(x, v, body, what, in, ref_at);
}

/* Frees what inject IN owns. */
static void
inject_clear(struct inject *in)
{
	free(in->ref);
	free(in->reason);
	switch (in->kind) {
	case INJECT_INCIDENT:
		free(in->u.incident.id);
		free(in->u.incident.type);
		free(in->u.incident.place);
		free(in->u.incident.description);
		free(in->u.incident.building);
		free(in->u.incident.tier_reason);
		break;
	case INJECT_UPDATE:
		free(in->u.update.description);
		free(in->u.update.note);
		break;
	case INJECT_DIVERT:
		free(in->u.to);
		break;
	case INJECT_AGENT_OFFLINE:
		free(in->u.offline.department);
		break;
	case INJECT_ROAD_BLOCKED:
		free(in->u.road.street);
		free(in->u.road.community);
		break;
	case INJECT_WHISTLE:
		free(in->u.whistle.place);
		free(in->u.whistle.matter);
		free_strings(in->u.whistle.departments, in->u.whistle.n_departments);
		free(in->u.whistle.rank);
		break;
	case INJECT_SURGE:
		free_strings(in->u.surge.types, in->u.surge.n_types);
		free_strings(in->u.surge.places, in->u.surge.n_places);
		break;
	case INJECT_TIER:
	case INJECT_CLOSE:
		break;
	}
}

/* Orders injects by time, then by their place in the file (a stable sort). */
static int
inject_cmp_cb(const void *a, const void *b)
{
	const struct inject *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Reads the injects of list L into S: each one, then the incident ids (unique), the order
 * (stable by time), every ref (an incident injected before it and, but for a whistle, not yet
 * closed) and the times (within the duration). */
static void
read_injects(struct conf *x, const struct vocab *v, const config_setting_t *l, struct scenario *s,
	     int have_duration)
{
	int i, n = config_setting_length(l);
	const config_setting_t **ref_at;
	const struct inject **closed; /* by incident inject: its close, once passed */
	struct conf_index ids = {0};
	size_t *pos, k;
	char t1[32], t2[32];

	if (n == 0) {
		conf_error_at(x, l, "'injects' needs at least one inject");
		return;
	}
	s->injects = xcalloc((size_t)n, sizeof *s->injects);
	ref_at = xcalloc((size_t)n, sizeof *ref_at);
	pos = xcalloc((size_t)n, sizeof *pos);
	closed = xcalloc((size_t)n, sizeof *closed);
	s->n_injects = (size_t)n;
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(x, l, i, "inject");

		s->injects[i].index = (size_t)i;
		s->injects[i].incident = -1;
		if (g != NULL)
			read_inject(x, v, g, i, &s->injects[i], &ref_at[i]);
		else
			s->injects[i].line = config_setting_source_line(l);
	}
	for (i = 0; i < n; i++) {
		const struct inject *in = &s->injects[i];

		if (in->kind == INJECT_INCIDENT && in->u.incident.id != NULL)
			conf_index_add(&ids, in->u.incident.id, i, in->line);
	}
	conf_index_sort(x, &ids, s->path, "incident id");
	qsort(s->injects, s->n_injects, sizeof *s->injects, inject_cmp_cb);
	for (k = 0; k < s->n_injects; k++)
		pos[s->injects[k].index] = k;
	for (k = 0; k < s->n_injects; k++) {
		struct inject *in = &s->injects[k];
		const config_setting_t *at = ref_at[in->index];
		const char *kind = in->kind ? inject_names[in->kind] : "?";
		int f;

		if (have_duration && in->at_ms > s->duration_ms)
			conf_error(
			    x, s->path, in->line,
			    "inject #%zu (%s): at %s is after the end of the drill (duration "
			    "%s)",
			    in->index + 1, kind, scenario_format_offset(in->at_ms, t1, sizeof t1),
			    scenario_format_offset(s->duration_ms, t2, sizeof t2));
		else if (have_duration && in->kind == INJECT_SURGE &&
			 in->at_ms + in->u.surge.over_ms > s->duration_ms)
			conf_error(
			    x, s->path, in->line,
			    "inject #%zu (surge): ends at %s, after the end of the drill "
			    "(duration %s)",
			    in->index + 1,
			    scenario_format_offset(in->at_ms + in->u.surge.over_ms, t1, sizeof t1),
			    scenario_format_offset(s->duration_ms, t2, sizeof t2));
		if (in->ref == NULL)
			continue;
		f = conf_index_find(&ids, in->ref);
		if (f < 0) {
			conf_error_at(x, at,
				      "inject #%zu (%s): unknown incident '%s' (no incident "
				      "inject has that id)",
				      in->index + 1, kind, in->ref);
			continue;
		}
		if (pos[f] > k) {
			const struct inject *target = &s->injects[pos[f]];

			conf_error_at(x, at,
				      "inject #%zu (%s): incident '%s' is only injected later (at "
				      "%s, line %u)",
				      in->index + 1, kind, in->ref,
				      scenario_format_offset(target->at_ms, t1, sizeof t1),
				      target->line);
			continue;
		}
		in->incident = (long)pos[f];
		if (closed[pos[f]] != NULL && in->kind != INJECT_WHISTLE) {
			conf_error_at(
			    x, at,
			    "inject #%zu (%s): incident '%s' is already closed (at %s, line %u)",
			    in->index + 1, kind, in->ref,
			    scenario_format_offset(closed[pos[f]]->at_ms, t1, sizeof t1),
			    closed[pos[f]]->line);
			continue;
		}
		if (in->kind == INJECT_CLOSE)
			closed[pos[f]] = in;
	}
	conf_index_free(&ids);
	free(ref_at);
	free(pos);
	free(closed);
}

/* ---- expectations ---- */

/* Appends setting S's value to B in libconfig syntax. */
static void
render_value(struct strbuf *b, const config_setting_t *s)
{
	const char *p;
	char num[64];
	int i, n;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		strbuf_addf(b, "%lld", config_setting_get_int64(s));
		return;
	case CONFIG_TYPE_FLOAT:
		snprintf(num, sizeof num, "%g", config_setting_get_float(s));
		strbuf_addf(b, "%s%s", num, strpbrk(num, ".en") ? "" : ".0");
		return;
	case CONFIG_TYPE_BOOL:
		strbuf_addf(b, "%s", config_setting_get_bool(s) ? "true" : "false");
		return;
	case CONFIG_TYPE_STRING:
		strbuf_addf(b, "\"");
		for (p = config_setting_get_string(s); *p; p++)
			strbuf_addf(b, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
		strbuf_addf(b, "\"");
		return;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_GROUP:
		n = config_setting_length(s);
		strbuf_addf(b, "%s",
			    config_setting_is_array(s)	? "["
			    : config_setting_is_list(s) ? "("
							: "{");
		for (i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

			if (config_setting_is_group(s))
				strbuf_addf(b, " %s = ", config_setting_name(e));
			else
				strbuf_addf(b, "%s", i ? ", " : " ");
			render_value(b, e);
			if (config_setting_is_group(s))
				strbuf_addf(b, ";");
		}
		strbuf_addf(b, "%s",
			    config_setting_is_array(s)	? " ]"
			    : config_setting_is_list(s) ? " )"
							: " }");
		return;
	default:
		strbuf_addf(b, "?");
	}
}

/* Reads expectation #I+1, group G, into E. */
static void
read_expect(struct conf *x, const struct vocab *v, const config_setting_t *g, int i,
	    struct expect *e)
{
	struct strbuf text = {0};
	const char *w = NULL;
	char what[64];
	int k;

	e->line = config_setting_source_line(g);
	e->share = 100.0;
	render_value(&text, g);
	e->text = text.s ? text.s : xstrdup("{ }");
	snprintf(what, sizeof what, "expectation #%d", i + 1);
	if (conf_string(x, g, "what", 1, what, &w) != 1)
		return;
	for (k = 1; k < N_EXPECT_KINDS; k++)
		if (strcmp(w, expect_names[k]) == 0)
			break;
	if (k == N_EXPECT_KINDS) {
		conf_error_at(x, conf_where(g, "what"),
			      "%s: unknown 'what' = \"%s\" (group_complete, ring_met, circle, "
			      "whistle_on_time, no_shortfall or max_misses)",
			      what, w);
		return;
	}
	e->what = (enum expect_what)k;
	snprintf(what, sizeof what, "expectation #%d (%s)", i + 1, w);
	conf_check_members(x, g, expect_members[k], what);
	switch (e->what) {
	case EXPECT_GROUP_COMPLETE:
		read_duration(x, g, "within", 1, what, 1, &e->within_ms);
		break;
	case EXPECT_CIRCLE:
		read_duration(x, g, "within", 1, what, 1, &e->within_ms);
		conf_number_in(x, g, "share", 0, what, 0.0, 100.0, &e->share);
		break;
	case EXPECT_RING_MET:
		if (copy_string(x, g, "kind", 1, what, &e->kind) == 1 && v->known &&
		    !words_find(&v->classes, e->kind))
			conf_error_at(x, conf_where(g, "kind"),
				      "%s: no responder class '%s' in the plans (so no ring)", what,
				      e->kind);
		conf_number_in(x, g, "share", 0, what, 0.0, 100.0, &e->share);
		break;
	case EXPECT_MAX_MISSES:
		conf_int(x, g, "count", 1, what, 0, 100000000, &e->count);
		break;
	case EXPECT_WHISTLE_ON_TIME:
	case EXPECT_NO_SHORTFALL:
		break;
	}
}

/* ---- the scenario ---- */

/* Reads the models list L (absent: the built-in models) and checks its kinds and
 * departments. */
static void
read_models(struct conf *x, const struct vocab *v, const config_setting_t *l, struct scenario *s)
{
	size_t i;

	if (l == NULL) {
		model_defaults(&s->models, &s->n_models);
		return;
	}
	if (model_read_list(x, l, MODEL_SCENARIO, &s->models, &s->n_models) != 0)
		return;
	for (i = 0; v->known && i < s->n_models; i++) {
		const struct model *m = &s->models[i];

		if (strcmp(m->kind, "*") != 0 && !words_find(&v->kinds, m->kind))
			conf_error(x, s->path, m->line, "model %s: no unit kind '%s' in the roster",
				   m->kind, m->kind);
		if (m->department != NULL && !words_find(&v->departments, m->department))
			conf_error(x, s->path, m->line, "model %s: unknown department '%s'",
				   m->kind, m->department);
	}
}

/* Reads the top-level settings of CF (the scenario file) into S. */
static void
read_scenario(struct conf *x, config_t *cf, struct scenario *s)
{
	const config_setting_t *root = config_root_setting(cf), *cs, *l;
	const char *config = NULL, *start = NULL, *slash;
	struct vocab v;
	long long seed;
	int i, have_duration;
	char *musterd = NULL;

	memset(&v, 0, sizeof v);
	conf_check_members(x, root, top_members, NULL);
	copy_string(x, root, "name", 1, "scenario", &s->name);
	copy_string(x, root, "description", 0, "scenario", &s->description);
	cs = config_setting_get_member(root, "seed");
	if (cs == NULL) {
		conf_error(x, s->path, 0, "scenario: missing 'seed'");
	} else if (config_setting_type(cs) != CONFIG_TYPE_INT &&
		   config_setting_type(cs) != CONFIG_TYPE_INT64) {
		conf_error_at(x, cs, "scenario: 'seed' must be an integer");
	} else if ((seed = config_setting_get_int64(cs)) < 0) {
		conf_error_at(x, cs, "scenario: 'seed' must not be negative");
	} else {
		s->seed = (uint64_t)seed;
	}
	if (conf_string(x, root, "start", 1, "scenario", &start) == 1 &&
	    parse_start(start, &s->start_ms) != 0)
		conf_error_at(
		    x, conf_where(root, "start"),
		    "scenario: 'start' = \"%s\" is not a time like \"2025-06-01T14:00:00\" "
		    "(UTC)",
		    start);
	have_duration = read_duration(x, root, "duration", 1, "scenario", 1, &s->duration_ms) == 1;
	/* The configuration: the embedded sample, or a directory beside the scenario. */
	if (conf_string(x, root, "config", 0, "scenario", &config) == 0)
		config = "sample";
	if (config != NULL && strcmp(config, "sample") != 0) {
		FILE *f;

		slash = strrchr(s->path, '/');
		if (config[0] == '/' || slash == NULL)
			s->config_dir = xstrdup(config);
		else
			s->config_dir =
			    xasprintf("%.*s/%s", (int)(slash - s->path), s->path, config);
		musterd = xasprintf("%s/musterd.conf", s->config_dir);
		f = fopen(musterd, "r");
		if (f == NULL) {
			conf_error_at(x, conf_where(root, "config"),
				      "scenario: config '%s': cannot open %s: %s", config, musterd,
				      strerror(errno));
		} else {
			(void)fclose(f); /* only opened to see that it can be */
			vocab_load(x, &v, conf_where(root, "config"), musterd);
		}
	} else if (config != NULL) {
		vocab_load(x, &v, conf_where(root, "config"), NULL);
	}
	if (config_setting_get_member(root, "models") == NULL)
		read_models(x, &v, NULL, s);
	else if ((l = conf_list(x, root, "models", 0, NULL)) != NULL)
		read_models(x, &v, l, s);
	if ((l = conf_list(x, root, "injects", 1, NULL)) != NULL)
		read_injects(x, &v, l, s, have_duration);
	l = conf_list(x, root, "expect", 0, NULL);
	if (l != NULL && config_setting_length(l) > 0) {
		s->n_expects = (size_t)config_setting_length(l);
		s->expects = xcalloc(s->n_expects, sizeof *s->expects);
		for (i = 0; i < (int)s->n_expects; i++) {
			const config_setting_t *g = conf_list_group(x, l, i, "expectation");

			if (g != NULL)
				read_expect(x, &v, g, i, &s->expects[i]);
			else
				s->expects[i].text = xstrdup("");
		}
	}
	free(musterd);
	vocab_free(&v);
}

/* Loads a scenario; see scenario.h. */
int
scenario_load(const char *path, struct scenario **out, struct strbuf *errors)
{
	struct conf x = {errors, 0, path};
	struct scenario *s = xcalloc(1, sizeof *s);
	config_t cf;

	*out = NULL;
	s->path = xstrdup(path);
	config_init(&cf);
	if (conf_parse_file(&x, &cf, path) == 0)
		read_scenario(&x, &cf, s);
	config_destroy(&cf);
	if (x.n_errors > 0) {
		scenario_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* Frees a scenario; see scenario.h. */
void
scenario_free(struct scenario *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_injects; i++)
		inject_clear(&s->injects[i]);
	free(s->injects);
	for (i = 0; i < s->n_expects; i++) {
		free(s->expects[i].kind);
		free(s->expects[i].text);
	}
	free(s->expects);
	model_free(s->models, s->n_models);
	free(s->path);
	free(s->name);
	free(s->description);
	free(s->config_dir);
	free(s);
}

/* Chooses a unit's model; see scenario.h. */
const struct model *
scenario_model(const struct scenario *s, const char *department, const char *kind)
{
	return model_find(s->models, s->n_models, department, kind);
}

/* Names an inject kind; see scenario.h. */
const char *
scenario_inject_name(enum inject_kind k)
{
	return (int)k > 0 && (int)k < N_INJECT_KINDS ? inject_names[k] : "?";
}

/* Names an expectation; see scenario.h. */
const char *
scenario_expect_name(enum expect_what w)
{
	return (int)w > 0 && (int)w < N_EXPECT_KINDS ? expect_names[w] : "?";
}
