/* plan: reads plans.conf (responder classes, tier rules, duplicate-report linking and the
 * response plans per incident type and tier), checks every reference against the roster, and
 * answers which tier an incident is and which plan applies. Problems are reported as
 * "file:line: what is wrong", all of them in one pass, through conf like the other files. */
#include "plan.h"
#include "conf.h"
#include "roster.h"
#include "util.h"

#include <libconfig.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds and defaults of the file's numbers. */
#define PLAN_SPEED_MIN_KMH 0.5
#define PLAN_SPEED_MAX_KMH 200.0
#define PLAN_ROAD_MIN 1.0
#define PLAN_ROAD_MAX 5.0
#define PLAN_ROAD_DEFAULT 1.3
#define PLAN_RING_MIN 10
#define PLAN_RING_MAX 7200
#define PLAN_DEADLINE_MIN 5
#define PLAN_DEADLINE_MAX 3600
#define PLAN_RECEIPT_DEFAULT 30
#define PLAN_ACCEPT_DEFAULT 60
#define PLAN_COUNT_MAX 1000
#define PLAN_DEDUP_RADIUS_DEFAULT 300
#define PLAN_DEDUP_WINDOW_DEFAULT 900

/* Everything one plan_load needs while it runs. */
struct plan_ctx {
	struct conf conf;	/* errors go to the caller's strbuf */
	const struct roster *r; /* NULL: references to the roster are not checked; it may have
				   failed its own checks (a unit's kind, a person's role or an
				   expert's field NULL) */
	struct plans *p;	/* being built */
};

/* Looks up department member of G; returns its index, or -1 when absent, unknown (reported)
 * or when there is no roster to look in. */
static int
plan_get_department(struct plan_ctx *x, const config_setting_t *g, const char *name, int required,
		    const char *what)
{
	const char *id;
	int d;

	if (conf_string(&x->conf, g, name, required, what, &id) != 1 || x->r == NULL)
		return -1;
	d = roster_department(x->r, id);
	if (d < 0)
		conf_error_at(&x->conf, conf_where(g, name), "%s: unknown department '%s'", what,
			      id);
	return d;
}

/* Writes " of department 'ID'" into BUF for messages, "" for any department; returns BUF. */
static const char *
plan_of_department(const struct plan_ctx *x, int department, char *buf, size_t size)
{
	buf[0] = '\0';
	if (x->r != NULL && department >= 0 && (size_t)department < x->r->n_departments)
		snprintf(buf, size, " of department '%s'", x->r->departments[department].id);
	return buf;
}

/* Returns 1 when unit U has every skill in SKILLS. */
static int
plan_unit_has_skills(const struct unit *u, char *const *skills, size_t n_skills)
{
	size_t i, j;

	for (i = 0; i < n_skills; i++) {
		for (j = 0; j < u->n_skills; j++) {
			if (strcmp(u->skills[j], skills[i]) == 0)
				break;
		}
		if (j == u->n_skills)
			return 0;
	}
	return 1;
}

/* Checks a unit line S (from group G) against the roster: some unit of its kind (and
 * department) must exist, and one of them must have every skill asked for. */
static void
plan_check_unit(struct plan_ctx *x, const config_setting_t *g, const struct plan_spec *s,
		const char *what)
{
	size_t i, of_kind = 0, skilled = 0;
	char dep[160];

	for (i = 0; i < x->r->n_units; i++) {
		const struct unit *u = &x->r->units[i];

		if (u->kind == NULL || strcmp(u->kind, s->kind) != 0 ||
		    (s->department >= 0 && u->department != s->department))
			continue;
		of_kind++;
		skilled += plan_unit_has_skills(u, s->skills, s->n_skills);
	}
	if (of_kind == 0)
		conf_error_at(&x->conf, conf_where(g, "unit"),
			      "%s: no unit of kind '%s'%s in the roster (the line can never be "
			      "filled)",
			      what, s->kind, plan_of_department(x, s->department, dep, sizeof dep));
	else if (skilled == 0)
		conf_error_at(&x->conf, conf_where(g, "skills"),
			      "%s: no unit of kind '%s'%s in the roster has every skill asked for",
			      what, s->kind, plan_of_department(x, s->department, dep, sizeof dep));
}

/* Checks a person line S (from group G): some person must have its role (and department). */
static void
plan_check_person(struct plan_ctx *x, const config_setting_t *g, const struct plan_spec *s,
		  const char *what)
{
	char dep[160];
	size_t i;

	for (i = 0; i < x->r->n_people; i++) {
		const struct person *p = &x->r->people[i];

		if (p->role != NULL && strcmp(p->role, s->role) == 0 &&
		    (s->department < 0 || p->department == s->department))
			return;
	}
	conf_error_at(&x->conf, conf_where(g, "person"),
		      "%s: no person with role '%s'%s in the roster", what, s->role,
		      plan_of_department(x, s->department, dep, sizeof dep));
}

/* Checks an expert line S (from group G): some expert of its field (any for NULL), local when
 * asked for, and of its department must exist. */
static void
plan_check_expert(struct plan_ctx *x, const config_setting_t *g, const struct plan_spec *s,
		  const char *what)
{
	char dep[160];
	size_t i;

	for (i = 0; i < x->r->n_experts; i++) {
		const struct expert *e = &x->r->experts[i];

		if ((s->field == NULL || (e->field != NULL && strcmp(e->field, s->field) == 0)) &&
		    (!s->local || e->street >= 0) &&
		    (s->department < 0 || e->department == s->department))
			return;
	}
	if (s->local)
		conf_error_at(&x->conf, conf_where(g, "local_expert"),
			      "%s: no local expert (with a street)%s in the roster", what,
			      plan_of_department(x, s->department, dep, sizeof dep));
	else if (s->field != NULL)
		conf_error_at(&x->conf, conf_where(g, "expert"),
			      "%s: no expert with field '%s'%s in the roster", what, s->field,
			      plan_of_department(x, s->department, dep, sizeof dep));
	else
		conf_error_at(&x->conf, conf_where(g, "expert"), "%s: no expert%s in the roster",
			      what, plan_of_department(x, s->department, dep, sizeof dep));
}

/* Returns the class of KIND among those read so far, or NULL. */
static const struct plan_class *
plan_find_class(const struct plans *p, const char *kind)
{
	size_t i;

	for (i = 0; i < p->n_classes; i++) {
		if (strcmp(p->classes[i].kind, kind) == 0)
			return &p->classes[i];
	}
	return NULL;
}

/* Reads the classes list L: one responder class per unit kind. */
static void
plan_load_classes(struct plan_ctx *x, const config_setting_t *l)
{
	static const char *const keys[] = {"kind", "speed_kmh", "road_factor", "ring_s", NULL};
	struct plans *p = x->p;
	char what[256];
	int i, n = l != NULL ? config_setting_length(l) : 0;

	p->classes = n > 0 ? xcalloc((size_t)n, sizeof *p->classes) : NULL;
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, l, i, "class");
		const struct plan_class *prev;
		struct plan_class *c;
		double kmh = 0.0, road = PLAN_ROAD_DEFAULT;
		const char *kind;
		int ring = 0, bad = 0;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "class #%d", i + 1);
		if (conf_string(&x->conf, g, "kind", 1, what, &kind) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "class '%s'", kind);
		conf_check_members(&x->conf, g, keys, what);
		prev = plan_find_class(p, kind);
		if (prev != NULL) {
			conf_error_at(&x->conf, g, "duplicate class '%s' (first on line %d)", kind,
				      prev->line);
			continue;
		}
		bad |= conf_number_in(&x->conf, g, "speed_kmh", 1, what, PLAN_SPEED_MIN_KMH,
				      PLAN_SPEED_MAX_KMH, &kmh) < 0;
		bad |= conf_number_in(&x->conf, g, "road_factor", 0, what, PLAN_ROAD_MIN,
				      PLAN_ROAD_MAX, &road) < 0;
		bad |= conf_int(&x->conf, g, "ring_s", 1, what, PLAN_RING_MIN, PLAN_RING_MAX,
				&ring) < 0;
		/* Kept even when bad, so that plans using the kind are not reported again. */
		c = &p->classes[p->n_classes++];
		c->kind = xstrdup(kind);
		c->speed_mps = bad ? 1.0 : kmh / 3.6;
		c->road_factor = road;
		c->ring_s = ring;
		c->line = (int)config_setting_source_line(g);
	}
}

/* Reads the "hours = [from, to]" member of rule G into RU; returns -1 after reporting. */
static int
plan_load_hours(struct plan_ctx *x, const config_setting_t *g, struct plan_rule *ru,
		const char *what)
{
	const config_setting_t *h = config_setting_get_member(g, "hours");
	const config_setting_t *a, *b;

	if (h == NULL)
		return 0;
	if ((!config_setting_is_array(h) && !config_setting_is_list(h)) ||
	    config_setting_length(h) != 2)
		goto bad;
	a = config_setting_get_elem(h, 0);
	b = config_setting_get_elem(h, 1);
	if (config_setting_type(a) != CONFIG_TYPE_INT || config_setting_type(b) != CONFIG_TYPE_INT)
		goto bad;
	if (config_setting_get_int(a) < 0 || config_setting_get_int(a) > 23 ||
	    config_setting_get_int(b) < 0 || config_setting_get_int(b) > 23)
		goto bad;
	if (config_setting_get_int(a) == config_setting_get_int(b)) {
		conf_error_at(&x->conf, h, "%s: 'hours' = [%d, %d] is an empty window", what,
			      config_setting_get_int(a), config_setting_get_int(b));
		return -1;
	}
	ru->hour_from = config_setting_get_int(a);
	ru->hour_to = config_setting_get_int(b);
	return 0;
bad:
	conf_error_at(&x->conf, h,
		      "%s: 'hours' must be [from, to], whole hours 0..23 (may wrap midnight)",
		      what);
	return -1;
}

/* Reads the tier_rules list L, in order: the first rule that matches decides. */
static void
plan_load_rules(struct plan_ctx *x, const config_setting_t *l)
{
	static const char *const keys[] = {
	    "type",	"casualties_min", "people_min", "hazmat", "key_place",
	    "building", "hours",	  "tier",	"why",	  NULL};
	struct plans *p = x->p;
	char what[64];
	int i, n = l != NULL ? config_setting_length(l) : 0;

	p->rules = n > 0 ? xcalloc((size_t)n, sizeof *p->rules) : NULL;
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, l, i, "tier rule");
		struct plan_rule *ru;
		const char *s;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "tier rule #%d", i + 1);
		conf_check_members(&x->conf, g, keys, what);
		ru = &p->rules[p->n_rules++];
		ru->line = (int)config_setting_source_line(g);
		ru->casualties_min = ru->people_min = ru->hazmat = ru->key_place = -1;
		ru->hour_from = ru->hour_to = -1;
		ru->tier = 3;
		ru->type = xstrdup(conf_string(&x->conf, g, "type", 0, what, &s) == 1 ? s : "*");
		(void)conf_int(&x->conf, g, "casualties_min", 0, what, 0, 1000000,
			       &ru->casualties_min);
		(void)conf_int(&x->conf, g, "people_min", 0, what, 0, 100000000, &ru->people_min);
		(void)conf_bool(&x->conf, g, "hazmat", what, &ru->hazmat);
		(void)conf_bool(&x->conf, g, "key_place", what, &ru->key_place);
		if (conf_string(&x->conf, g, "building", 0, what, &s) == 1)
			ru->building = xstrdup(s);
		(void)plan_load_hours(x, g, ru, what);
		(void)conf_int(&x->conf, g, "tier", 1, what, 1, 3, &ru->tier);
		ru->why = xstrdup(conf_string(&x->conf, g, "why", 1, what, &s) == 1 ? s : "");
	}
}

/* Reads the optional dedup group D into P, keeping the defaults for what it does not give. */
static void
plan_load_dedup(struct plan_ctx *x, const config_setting_t *d)
{
	static const char *const keys[] = {"radius_m", "window_s", NULL};

	if (d == NULL)
		return;
	if (!config_setting_is_group(d)) {
		conf_error_at(&x->conf, d,
			      "'dedup' must be a group { radius_m = ...; window_s = ...; }");
		return;
	}
	conf_check_members(&x->conf, d, keys, "dedup");
	(void)conf_int(&x->conf, d, "radius_m", 0, "dedup", 10, 100000, &x->p->dedup_radius_m);
	(void)conf_int(&x->conf, d, "window_s", 0, "dedup", 10, 86400, &x->p->dedup_window_s);
}

/* Reads one member line G of a group into S (zeroed by the caller); WHAT names it. */
static void
plan_load_spec(struct plan_ctx *x, const config_setting_t *g, struct plan_spec *s, const char *what)
{
	static const char *const keys[] = {"unit",	 "person", "expert", "local_expert",
					   "department", "count",  "skills", "ring_s",
					   "task",	 NULL};
	const char *unit = NULL, *person = NULL, *expert = NULL, *t;
	int local = 0, sorts = 0;

	conf_check_members(&x->conf, g, keys, what);
	s->line = (int)config_setting_source_line(g);
	s->count = 1;
	sorts += conf_string(&x->conf, g, "unit", 0, what, &unit) != 0;
	sorts += conf_string(&x->conf, g, "person", 0, what, &person) != 0;
	sorts += conf_string(&x->conf, g, "expert", 0, what, &expert) != 0;
	if (conf_bool(&x->conf, g, "local_expert", what, &local) != 0)
		sorts += 1;
	if (sorts != 1 || (config_setting_get_member(g, "local_expert") != NULL && !local)) {
		conf_error_at(&x->conf, g,
			      "%s: needs exactly one of 'unit = KIND', 'person = ROLE', "
			      "'expert = FIELD' or 'local_expert = true'",
			      what);
		/* Unusable: a person line, so that the commander check stays quiet. */
		s->what = PLAN_PERSON;
		s->role = xstrdup("?");
		return;
	}
	s->department = plan_get_department(x, g, "department", 0, what);
	(void)conf_int(&x->conf, g, "count", 0, what, 1, PLAN_COUNT_MAX, &s->count);
	if (conf_string(&x->conf, g, "task", 0, what, &t) == 1)
		s->task = xstrdup(t);
	if (unit == NULL && config_setting_get_member(g, "skills") != NULL)
		conf_error_at(&x->conf, conf_where(g, "skills"),
			      "%s: 'skills' is for unit lines only", what);
	if (unit == NULL && config_setting_get_member(g, "ring_s") != NULL)
		conf_error_at(&x->conf, conf_where(g, "ring_s"),
			      "%s: 'ring_s' is for unit lines only", what);
	if (unit != NULL) {
		s->what = PLAN_UNIT;
		s->kind = xstrdup(unit);
		if (conf_copy_strings(&x->conf, g, "skills", what, &s->skills, &s->n_skills) < 0)
			return;
		(void)conf_int(&x->conf, g, "ring_s", 0, what, PLAN_RING_MIN, PLAN_RING_MAX,
			       &s->ring_s);
		if (plan_find_class(x->p, unit) == NULL) {
			conf_error_at(&x->conf, conf_where(g, "unit"),
				      "%s: unit kind '%s' has no class in 'classes'", what, unit);
			return;
		}
		if (x->r != NULL &&
		    (config_setting_get_member(g, "department") == NULL || s->department >= 0))
			plan_check_unit(x, g, s, what);
	} else if (person != NULL) {
		s->what = PLAN_PERSON;
		s->role = xstrdup(person);
		if (x->r != NULL &&
		    (config_setting_get_member(g, "department") == NULL || s->department >= 0))
			plan_check_person(x, g, s, what);
	} else {
		s->what = PLAN_EXPERT;
		s->local = local;
		if (expert != NULL && strcmp(expert, "*") != 0)
			s->field = xstrdup(expert);
		if (x->r != NULL &&
		    (config_setting_get_member(g, "department") == NULL || s->department >= 0))
			plan_check_expert(x, g, s, what);
	}
}

/* Reads group G (number IDX) of a tier into GR (zeroed by the caller); WHERE names the tier. */
static void
plan_load_group(struct plan_ctx *x, const config_setting_t *g, int idx, struct plan_group *gr,
		const char *where)
{
	static const char *const keys[] = {"name", "members", NULL};
	const config_setting_t *l;
	char what[512];
	const char *name;
	int i, n;

	gr->line = (int)config_setting_source_line(g);
	snprintf(what, sizeof what, "%s group #%d", where, idx + 1);
	if (conf_string(&x->conf, g, "name", 1, what, &name) == 1)
		snprintf(what, sizeof what, "%s group '%s'", where, name);
	else
		name = "?";
	gr->name = xstrdup(name);
	conf_check_members(&x->conf, g, keys, what);
	l = conf_list(&x->conf, g, "members", 1, what);
	n = l != NULL ? config_setting_length(l) : 0;
	if (l != NULL && n == 0)
		conf_error_at(&x->conf, l, "%s: no members", what);
	gr->specs = n > 0 ? xcalloc((size_t)n, sizeof *gr->specs) : NULL;
	for (i = 0; i < n; i++) {
		const config_setting_t *m = conf_list_group(&x->conf, l, i, "member");
		char mwhat[600];

		if (m == NULL)
			continue;
		snprintf(mwhat, sizeof mwhat, "%s member #%d", what, i + 1);
		plan_load_spec(x, m, &gr->specs[gr->n_specs++], mwhat);
	}
}

/* Returns the level named S, or 0 when there is none. */
static enum plan_level
plan_parse_level(const char *s)
{
	if (strcmp(s, "district") == 0)
		return PLAN_LEVEL_DISTRICT;
	if (strcmp(s, "street") == 0)
		return PLAN_LEVEL_STREET;
	if (strcmp(s, "community") == 0)
		return PLAN_LEVEL_COMMUNITY;
	return 0;
}

/* Returns the first member line of the first group of groups list L (or what exists of it),
 * for messages about the commander. */
static const config_setting_t *
plan_first_member(const config_setting_t *l)
{
	const config_setting_t *g = config_setting_get_elem(l, 0);
	const config_setting_t *m = g != NULL ? config_setting_get_member(g, "members") : NULL;
	const config_setting_t *first = m != NULL ? config_setting_get_elem(m, 0) : NULL;

	if (first != NULL)
		return first;
	return g != NULL ? g : l;
}

/* Reads one tier G of plan PL; PWHAT names the plan. */
static void
plan_load_tier(struct plan_ctx *x, const config_setting_t *g, struct plan *pl, const char *pwhat)
{
	static const char *const keys[] = {"tier",  "level",  "receipt_s", "accept_s",
					   "notes", "groups", NULL};
	const config_setting_t *l;
	struct plan_tier *t;
	char what[400];
	const char *level;
	int i, n, tier = 0;

	if (conf_int(&x->conf, g, "tier", 1, pwhat, 1, 3, &tier) != 1) {
		conf_check_members(&x->conf, g, keys, pwhat);
		return;
	}
	snprintf(what, sizeof what, "%s tier %d", pwhat, tier);
	conf_check_members(&x->conf, g, keys, what);
	if (pl->tiers[tier - 1] != NULL) {
		conf_error_at(&x->conf, conf_where(g, "tier"),
			      "%s: duplicate tier %d (first on line %d)", pwhat, tier,
			      pl->tiers[tier - 1]->line);
		return;
	}
	t = xcalloc(1, sizeof *t);
	pl->tiers[tier - 1] = t;
	t->tier = tier;
	t->line = (int)config_setting_source_line(g);
	t->receipt_s = PLAN_RECEIPT_DEFAULT;
	t->accept_s = PLAN_ACCEPT_DEFAULT;
	if (conf_string(&x->conf, g, "level", 1, what, &level) == 1) {
		t->level = plan_parse_level(level);
		if (t->level == 0)
			conf_error_at(&x->conf, conf_where(g, "level"),
				      "%s: unknown level '%s' (district, street or community)",
				      what, level);
	}
	(void)conf_int(&x->conf, g, "receipt_s", 0, what, PLAN_DEADLINE_MIN, PLAN_DEADLINE_MAX,
		       &t->receipt_s);
	(void)conf_int(&x->conf, g, "accept_s", 0, what, PLAN_DEADLINE_MIN, PLAN_DEADLINE_MAX,
		       &t->accept_s);
	(void)conf_copy_strings(&x->conf, g, "notes", what, &t->notes, &t->n_notes);
	l = conf_list(&x->conf, g, "groups", 1, what);
	n = l != NULL ? config_setting_length(l) : 0;
	if (l != NULL && n == 0)
		conf_error_at(&x->conf, l, "%s: no groups", what);
	t->groups = n > 0 ? xcalloc((size_t)n, sizeof *t->groups) : NULL;
	for (i = 0; i < n; i++) {
		const config_setting_t *gg = conf_list_group(&x->conf, l, i, "group");
		size_t j;

		if (gg == NULL)
			continue;
		plan_load_group(x, gg, i, &t->groups[t->n_groups], what);
		for (j = 0; j < t->n_groups; j++) {
			if (strcmp(t->groups[j].name, t->groups[t->n_groups].name) == 0 &&
			    strcmp(t->groups[j].name, "?") != 0)
				conf_error_at(&x->conf, gg,
					      "%s: duplicate group '%s' (first on line %d)", what,
					      t->groups[j].name, t->groups[j].line);
		}
		t->n_groups++;
	}
	if (t->n_groups > 0 && t->groups[0].n_specs > 0 &&
	    t->groups[0].specs[0].what != PLAN_PERSON)
		conf_error_at(&x->conf, plan_first_member(l),
			      "%s: the first member of the first group ('%s') must be a person, "
			      "the commander",
			      what, t->groups[0].name);
}

/* Reads the plans list L: one entry per incident type, with its tiers. */
static void
plan_load_plans(struct plan_ctx *x, const config_setting_t *l)
{
	static const char *const keys[] = {"type", "name", "owner", "tiers", NULL};
	struct plans *p = x->p;
	char what[256];
	int i, n = l != NULL ? config_setting_length(l) : 0;

	p->plans = n > 0 ? xcalloc((size_t)n, sizeof *p->plans) : NULL;
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, l, i, "plan");
		const config_setting_t *tl;
		const struct plan *prev;
		struct plan *pl;
		const char *type, *s;
		int j, nt;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "plan #%d", i + 1);
		if (conf_string(&x->conf, g, "type", 1, what, &type) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "plan '%s'", type);
		conf_check_members(&x->conf, g, keys, what);
		prev = plan_find(p, type);
		if (prev != NULL) {
			conf_error_at(&x->conf, conf_where(g, "type"),
				      "duplicate plan type '%s' (first on line %d)", type,
				      prev->line);
			continue;
		}
		pl = &p->plans[p->n_plans++];
		pl->type = xstrdup(type);
		pl->line = (int)config_setting_source_line(g);
		pl->name = xstrdup(conf_string(&x->conf, g, "name", 1, what, &s) == 1 ? s : type);
		pl->owner = plan_get_department(x, g, "owner", 1, what);
		tl = conf_list(&x->conf, g, "tiers", 1, what);
		nt = tl != NULL ? config_setting_length(tl) : 0;
		if (tl != NULL && nt == 0)
			conf_error_at(&x->conf, tl, "%s: no tiers", what);
		for (j = 0; j < nt; j++) {
			const config_setting_t *tg = conf_list_group(&x->conf, tl, j, "tier");

			if (tg != NULL)
				plan_load_tier(x, tg, pl, what);
		}
	}
}

/* Returns new empty plans with the default dedup settings; see plan.h. */
struct plans *
plan_new(void)
{
	struct plans *p = xcalloc(1, sizeof *p);

	p->dedup_radius_m = PLAN_DEDUP_RADIUS_DEFAULT;
	p->dedup_window_s = PLAN_DEDUP_WINDOW_DEFAULT;
	return p;
}

/* Reads and checks the whole plans file; see plan.h. */
struct plans *
plan_load(const char *path, const struct roster *r, struct strbuf *errors)
{
	static const char *const keys[] = {"classes", "tier_rules", "dedup", "plans", NULL};
	const config_setting_t *root;
	struct strbuf scratch = {0};
	struct plan_ctx x;
	config_t cf;

	memset(&x, 0, sizeof x);
	x.conf.errors = errors != NULL ? errors : &scratch;
	x.conf.file = path != NULL ? path : "(plans)";
	x.r = r;
	x.p = plan_new();
	config_init(&cf);
	if (path == NULL) {
		conf_error_at(&x.conf, NULL, "no plans file given");
		goto out;
	}
	if (conf_parse_file(&x.conf, &cf, path) < 0)
		goto out;
	root = config_root_setting(&cf);
	conf_check_members(&x.conf, root, keys, NULL);
	plan_load_classes(&x, conf_list(&x.conf, root, "classes", 0, "plans file"));
	plan_load_rules(&x, conf_list(&x.conf, root, "tier_rules", 0, "plans file"));
	plan_load_dedup(&x, config_setting_get_member(root, "dedup"));
	plan_load_plans(&x, conf_list(&x.conf, root, "plans", 0, "plans file"));
out:
	config_destroy(&cf);
	strbuf_finish(&scratch);
	if (x.conf.n_errors == 0)
		return x.p;
	plan_free(x.p);
	return NULL;
}

/* Frees the strings of vector V of N. */
static void
plan_free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees tier T and everything in it; accepts NULL. */
static void
plan_free_tier(struct plan_tier *t)
{
	size_t g, s;

	if (t == NULL)
		return;
	for (g = 0; g < t->n_groups; g++) {
		struct plan_group *gr = &t->groups[g];

		for (s = 0; s < gr->n_specs; s++) {
			struct plan_spec *sp = &gr->specs[s];

			free(sp->kind);
			free(sp->role);
			free(sp->field);
			plan_free_strings(sp->skills, sp->n_skills);
			free(sp->task);
		}
		free(gr->specs);
		free(gr->name);
	}
	free(t->groups);
	plan_free_strings(t->notes, t->n_notes);
	free(t);
}

/* Frees plans and everything they own; see plan.h. */
void
plan_free(struct plans *p)
{
	size_t i, t;

	if (p == NULL)
		return;
	for (i = 0; i < p->n_classes; i++)
		free(p->classes[i].kind);
	free(p->classes);
	for (i = 0; i < p->n_rules; i++) {
		free(p->rules[i].type);
		free(p->rules[i].building);
		free(p->rules[i].why);
	}
	free(p->rules);
	for (i = 0; i < p->n_plans; i++) {
		free(p->plans[i].type);
		free(p->plans[i].name);
		for (t = 0; t < 3; t++)
			plan_free_tier(p->plans[i].tiers[t]);
	}
	free(p->plans);
	free(p);
}

/* Finds the plans of an incident type (a scan: types are few); see plan.h. */
const struct plan *
plan_find(const struct plans *p, const char *type)
{
	size_t i;

	if (p == NULL || type == NULL)
		return NULL;
	for (i = 0; i < p->n_plans; i++) {
		if (strcmp(p->plans[i].type, type) == 0)
			return &p->plans[i];
	}
	return NULL;
}

/* Finds the class of a unit kind; see plan.h. */
const struct plan_class *
plan_class(const struct plans *p, const char *kind)
{
	if (p == NULL || kind == NULL)
		return NULL;
	return plan_find_class(p, kind);
}

/* Returns 1 when HOUR lies in the window [FROM, TO), which wraps past midnight when FROM is
 * later than TO. */
static int
plan_hour_in(int hour, int from, int to)
{
	if (from <= to)
		return hour >= from && hour < to;
	return hour >= from || hour < to;
}

/* Returns 1 when every condition of rule RU holds for facts F. */
static int
plan_rule_matches(const struct plan_rule *ru, const struct plan_facts *f)
{
	if (fnmatch(ru->type, f->type != NULL ? f->type : "", 0) != 0)
		return 0;
	if (ru->casualties_min >= 0 && f->casualties < ru->casualties_min)
		return 0;
	if (ru->people_min >= 0 && f->people_affected < ru->people_min)
		return 0;
	if (ru->hazmat >= 0 && (f->hazmat != 0) != ru->hazmat)
		return 0;
	if (ru->key_place >= 0 && (f->key_place != 0) != ru->key_place)
		return 0;
	if (ru->building != NULL && (f->building == NULL || strcmp(f->building, ru->building) != 0))
		return 0;
	if (ru->hour_from >= 0 && !plan_hour_in(f->hour, ru->hour_from, ru->hour_to))
		return 0;
	return 1;
}

/* Decides the tier by the first matching rule, tier 3 when none does; see plan.h. */
int
plan_decide_tier(const struct plans *p, const struct plan_facts *f, const struct plan_rule **rule)
{
	size_t i;

	if (rule != NULL)
		*rule = NULL;
	if (p == NULL || f == NULL)
		return 3;
	for (i = 0; i < p->n_rules; i++) {
		if (plan_rule_matches(&p->rules[i], f)) {
			if (rule != NULL)
				*rule = &p->rules[i];
			return p->rules[i].tier;
		}
	}
	return 3;
}

/* Names a command level; see plan.h. */
const char *
plan_level_name(enum plan_level l)
{
	switch (l) {
	case PLAN_LEVEL_DISTRICT:
		return "district";
	case PLAN_LEVEL_STREET:
		return "street";
	case PLAN_LEVEL_COMMUNITY:
		return "community";
	}
	return "unknown";
}

const char *
plan_spec_what(const struct plan_spec *s)
{
	return s->what == PLAN_UNIT ? "unit" : s->what == PLAN_PERSON ? "person" : "expert";
}

const char *
plan_spec_kind(const struct plan_spec *s)
{
	if (s->what == PLAN_UNIT)
		return s->kind;
	if (s->what == PLAN_PERSON)
		return s->role;
	if (s->local)
		return "local";
	return s->field ? s->field : "*";
}
