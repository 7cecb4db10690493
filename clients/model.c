/* model: reading and choosing the behaviour models of simulated units (muster-agent
 * --simulate, drill scenarios). See model.h, docs/agent.md and docs/drills.md. */
#include "model.h"

#include "conf.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The built-in "*" model (docs/agent.md). */
static const struct model model_builtin = {
    .kind = NULL,
    .department = NULL,
    .turnout_min = 30,
    .turnout_max = 120,
    .speed_kmh = 30.0,
    .decline = 0.05,
    .no_show = 0.02,
    .clear_s = 600,
    .receipt_min = 0,
    .receipt_max = 0,
    .line = 0,
};

/* The settings a scenario's model entry may have. */
static const char *const model_members[] = {
    "kind",    "department", "turnout_s", "speed_kmh", "decline",
    "no_show", "clear_s",    "receipt_s", NULL,
};

/* Fills the built-in models; see model.h. */
void
model_defaults(struct model **out, size_t *n)
{
	*out = xcalloc(1, sizeof **out);
	(*out)[0] = model_builtin;
	(*out)[0].kind = xstrdup("*");
	*n = 1;
}

/* Returns the value of number setting S (integer or float). */
static double
model_value(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
							   : (double)config_setting_get_int64(s);
}

/* Reads number NAME of model group G into *V when present; returns 0, or -1 when it is not
 * a number. */
static int
model_number(const config_setting_t *g, const char *name, double *v)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (!config_setting_is_number(s))
		return -1;
	*v = model_value(s);
	return 0;
}

/* Reads [min, max] member NAME of G into *LO and *HI when present; returns 0, or -1 after
 * reporting one that is not two numbers. */
static int
model_range(struct conf *x, const config_setting_t *g, const char *name, double *lo, double *hi)
{
	const config_setting_t *t = config_setting_get_member(g, name), *a, *b;

	if (t == NULL)
		return 0;
	a = config_setting_get_elem(t, 0);
	b = config_setting_get_elem(t, 1);
	if (!config_setting_is_aggregate(t) || config_setting_length(t) != 2 ||
	    !config_setting_is_number(a) || !config_setting_is_number(b)) {
		conf_error_at(x, g, "%s must be [min, max] seconds", name);
		return -1;
	}
	*lo = model_value(a);
	*hi = model_value(b);
	return 0;
}

/* Fills M from group G (what G does not give keeps M's values); reports the first problem
 * at G's line and returns -1, else 0. */
static int
model_read(struct conf *x, struct model *m, const config_setting_t *g, int flags)
{
	if (model_range(x, g, "turnout_s", &m->turnout_min, &m->turnout_max) != 0)
		return -1;
	if ((flags & MODEL_SCENARIO) &&
	    model_range(x, g, "receipt_s", &m->receipt_min, &m->receipt_max) != 0)
		return -1;
	if (model_number(g, "speed_kmh", &m->speed_kmh) != 0 ||
	    model_number(g, "decline", &m->decline) != 0 ||
	    model_number(g, "no_show", &m->no_show) != 0 ||
	    model_number(g, "clear_s", &m->clear_s) != 0) {
		conf_error_at(x, g, "speed_kmh, decline, no_show and clear_s are numbers");
		return -1;
	}
	if (m->turnout_min < 0 || m->turnout_max < m->turnout_min) {
		conf_error_at(x, g, "turnout_s needs 0 <= min <= max");
		return -1;
	}
	if (m->receipt_min < 0 || m->receipt_max < m->receipt_min) {
		conf_error_at(x, g, "receipt_s needs 0 <= min <= max");
		return -1;
	}
	if (!(m->speed_kmh > 0) || m->speed_kmh > 1000) {
		conf_error_at(x, g, "speed_kmh must be above 0 and at most 1000");
		return -1;
	}
	if (!(m->decline >= 0 && m->decline <= 1 && m->no_show >= 0 && m->no_show <= 1)) {
		conf_error_at(x, g, "decline and no_show are probabilities (0 to 1)");
		return -1;
	}
	if (!(m->clear_s >= 0)) {
		conf_error_at(x, g, "clear_s must be 0 (never) or more");
		return -1;
	}
	return 0;
}

/* Returns 1 when A and B are the same department (both may be NULL). */
static int
model_same_department(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* One entry of a model list, checked before it is read. */
struct model_entry {
	const config_setting_t *g; /* NULL: not a group with a kind (reported) */
	const char *kind, *department;
};

/* Reads a list of models; see model.h. */
int
model_read_list(struct conf *x, const config_setting_t *l, int flags, struct model **out, size_t *n)
{
	int i, len = config_setting_length(l), pass, errors = x->n_errors, stars = 0;
	struct model_entry *e = xcalloc(len > 0 ? (size_t)len : 1, sizeof *e);
	struct model *v;
	size_t nv, k;

	for (i = 0; i < len; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *kind = NULL;

		if (g == NULL || !config_setting_is_group(g) ||
		    config_setting_lookup_string(g, "kind", &kind) != CONFIG_TRUE ||
		    kind[0] == '\0') {
			conf_error_at(x, g != NULL ? g : l, "each model is a group with a kind");
			continue;
		}
		if (flags & MODEL_SCENARIO) {
			conf_check_members(x, g, model_members, "a model");
			if (conf_string(x, g, "department", 0, "model", &e[i].department) < 0)
				continue;
		}
		e[i].g = g;
		e[i].kind = kind;
	}
	model_defaults(&v, &nv);
	/* Pass 0 reads "*" (of no department), pass 1 the others, which inherit from it. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < len; i++) {
			const char *kind = e[i].kind, *dept = e[i].department;
			struct model *m;

			if (e[i].g == NULL ||
			    (pass == 0) != (strcmp(kind, "*") == 0 && dept == NULL))
				continue;
			if (pass == 0) {
				if (stars++ > 0 && (flags & MODEL_SCENARIO))
					conf_error_at(x, e[i].g, "model * is given twice");
				else if (model_read(x, &v[0], e[i].g, flags) == 0)
					v[0].line = config_setting_source_line(e[i].g);
				continue;
			}
			for (k = 1; k < nv; k++) {
				if (strcmp(v[k].kind, kind) == 0 &&
				    model_same_department(v[k].department, dept))
					break;
			}
			if (k < nv) {
				if (dept != NULL)
					conf_error_at(x, e[i].g,
						      "model %s of department %s is given twice",
						      kind, dept);
				else
					conf_error_at(x, e[i].g, "model %s is given twice", kind);
				continue;
			}
			v = xrealloc(v, (nv + 1) * sizeof *v);
			m = &v[nv++];
			*m = v[0];
			m->kind = xstrdup(kind);
			m->department = xstrdup(dept);
			m->line = config_setting_source_line(e[i].g);
			/* A problem is reported; the vector is freed below. */
			(void)model_read(x, m, e[i].g, flags);
		}
	}
	free(e);
	if (x->n_errors > errors) {
		model_free(v, nv);
		*out = NULL;
		*n = 0;
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* Reads a model file; see model.h. */
int
model_load_file(const char *path, struct model **out, size_t *n, struct strbuf *errors)
{
	struct conf x = {errors, 0, path};
	const config_setting_t *l;
	config_t cf;
	int rc = -1;

	*out = NULL;
	*n = 0;
	config_init(&cf);
	if (conf_parse_file(&x, &cf, path) != 0)
		goto out;
	l = config_lookup(&cf, "models");
	if (l == NULL || !config_setting_is_list(l)) {
		conf_error(&x, path, 0, "needs models = ( { kind = \"*\"; ... }, ... );");
		goto out;
	}
	rc = model_read_list(&x, l, 0, out, n);
out:
	config_destroy(&cf);
	return rc;
}

/* Chooses a unit's model; see model.h. */
const struct model *
model_find(const struct model *v, size_t n, const char *department, const char *kind)
{
	const struct model *kind_any = NULL, *dept_star = NULL, *star = NULL;
	size_t i;

	if (kind == NULL)
		kind = "*";
	for (i = 0; i < n; i++) {
		const struct model *m = &v[i];
		int star_kind = strcmp(m->kind, "*") == 0;

		if (m->department == NULL) {
			if (star_kind)
				star = star ? star : m;
			else if (strcmp(m->kind, kind) == 0)
				kind_any = kind_any ? kind_any : m;
		} else if (department != NULL && strcmp(m->department, department) == 0) {
			if (strcmp(m->kind, kind) == 0)
				return m; /* department and kind: the best */
			if (star_kind)
				dept_star = dept_star ? dept_star : m;
		}
	}
	if (kind_any != NULL)
		return kind_any;
	if (dept_star != NULL)
		return dept_star;
	return star;
}

/* Frees a vector of models; see model.h. */
void
model_free(struct model *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++) {
		free(v[i].kind);
		free(v[i].department);
	}
	free(v);
}
