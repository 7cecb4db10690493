/* test_plan: the sample plans as `muster init` writes them (every type has tiers 1..3, the
 * commander comes first, every line can be filled from the sample roster), tier decisions,
 * class look-ups, a small good file read field by field, and one bad file per class of
 * mistake, each checked for its exact "file:line: message". */
/* nftw() (conftest.h) is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "test.h"
#include "conftest.h"

#include "cfg.h"
#include "init.h"
#include "plan.h"
#include "roster.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void);

#define PLANS "../data/plans/"

/* The incident types the sample must have plans for. */
static const char *const sample_types[] = {
    "fire.ebike",     "fire.residential", "accident.construction", "collapse.slope",
    "attack.violent", "crowd.disorder",	  "traffic.collision",	   "flood",
    "hazmat.leak",
};

/* The six groups of a tier I joint action group, in order. */
static const char *const six_groups[] = {
    "commander",	 "coordination",       "dispatch_command",
    "technical_support", "emergency_response", "safe_evacuation",
};

/* Loads plans file PATH against roster R expecting failure, and checks that the errors hold
 * every fragment of the NULL-terminated list. */
static void
expect_plan_errors(const char *path, const struct roster *r, const char *const *fragments)
{
	struct strbuf sb = {0};
	struct plans *p = plan_load(path, r, &sb);
	const char *const *f;

	CHECK(p == NULL);
	CHECK(sb.s != NULL);
	for (f = fragments; sb.s != NULL && *f != NULL; f++) {
		if (strstr(sb.s, *f) == NULL) {
			fprintf(stderr, "missing \"%s\" in:\n%s\n", *f, sb.s);
			test_failures++;
		}
	}
	plan_free(p);
	strbuf_finish(&sb);
}

/* Fills F with TYPE and no other fact (hour noon). */
static void
facts_init(struct plan_facts *f, const char *type)
{
	memset(f, 0, sizeof *f);
	f->type = type;
	f->hour = 12;
}

/* Returns the tier P decides for F, checking that rule WHY_PREFIX (NULL: the default)
 * decided. */
static int
decide(const struct plans *p, const struct plan_facts *f, const char *why)
{
	const struct plan_rule *rule = NULL;
	int tier = plan_decide_tier(p, f, &rule);

	if (why == NULL) {
		CHECK(rule == NULL);
	} else if (rule == NULL || strcmp(rule->why, why) != 0) {
		fprintf(stderr, "type %s: expected rule \"%s\", got \"%s\"\n", f->type, why,
			rule ? rule->why : "(default)");
		test_failures++;
	}
	return tier;
}

/* The small good file, read field by field. */
static void
test_good(void)
{
	struct config *c = expect_load(PLANS "musterd.conf");
	const struct plan_class *cl;
	const struct plan_tier *t;
	const struct plan_spec *s;
	const struct plan *pl;
	const struct plans *p;
	int police;

	if (c == NULL)
		return;
	p = c->plans;
	CHECK(p != NULL);
	if (p == NULL)
		goto out;
	police = roster_department(c->roster, "police");
	CHECK(p->n_classes == 3 && p->n_rules == 9 && p->n_plans == 1);
	/* Defaults when dedup is not given. */
	CHECK(p->dedup_radius_m == 300 && p->dedup_window_s == 900);
	cl = plan_class(p, "volunteer_guard");
	CHECK(cl != NULL && fabs(cl->speed_mps - 12.0 / 3.6) < 1e-9 && cl->ring_s == 60);
	CHECK(cl != NULL && cl->road_factor == 1.3 && cl->line == 3);
	cl = plan_class(p, "micro_fire_station");
	CHECK(cl != NULL && cl->road_factor == 1.3 && cl->ring_s == 300);
	CHECK(cl != NULL && fabs(cl->speed_mps - 15.0 / 3.6) < 1e-9);
	CHECK(plan_class(p, "armed_police") != NULL);
	CHECK(plan_class(p, "submarine") == NULL);
	CHECK(plan_class(p, NULL) == NULL && plan_class(NULL, "patrol") == NULL);
	pl = plan_find(p, "fire.ebike");
	CHECK(pl != NULL);
	CHECK(plan_find(p, "fire.other") == NULL && plan_find(p, NULL) == NULL);
	if (pl == NULL)
		goto out;
	CHECK_STR(pl->name, "E-bike fire");
	CHECK(pl->owner == roster_department(c->roster, "fire"));
	CHECK(pl->tiers[1] == NULL && pl->tiers[0] != NULL && pl->tiers[2] != NULL);
	t = pl->tiers[2];
	CHECK(t->tier == 3 && t->level == PLAN_LEVEL_COMMUNITY);
	CHECK(t->receipt_s == 30 && t->accept_s == 60 && t->n_notes == 0);
	CHECK(t->n_groups == 2);
	CHECK_STR(t->groups[0].name, "lead");
	s = &t->groups[0].specs[0];
	CHECK(s->what == PLAN_PERSON && s->department == -1 && s->count == 1);
	CHECK_STR(s->role, "commander");
	CHECK(t->groups[1].n_specs == 2);
	s = &t->groups[1].specs[0];
	CHECK(s->what == PLAN_UNIT && s->n_skills == 2 && s->ring_s == 0 && s->count == 1);
	CHECK_STR(s->kind, "micro_fire_station");
	CHECK_STR(s->skills[1], "rescue");
	CHECK_STR(s->task, "put it out");
	s = &t->groups[1].specs[1];
	CHECK(s->what == PLAN_UNIT && s->department == police && s->count == 2);
	CHECK(s->ring_s == 90 && s->task == NULL && s->n_skills == 0 && s->line == 28);
	t = pl->tiers[0];
	CHECK(t->level == PLAN_LEVEL_DISTRICT && t->receipt_s == 15 && t->accept_s == 30);
	CHECK(t->n_notes == 2);
	CHECK_STR(t->notes[1], "watch for re-ignition");
	CHECK(t->n_groups == 3 && t->groups[1].n_specs == 3);
	s = &t->groups[1].specs[0];
	CHECK(s->what == PLAN_EXPERT && !s->local);
	CHECK_STR(s->field, "fire");
	s = &t->groups[1].specs[1];
	CHECK(s->what == PLAN_EXPERT && s->field == NULL && !s->local && s->count == 2);
	s = &t->groups[1].specs[2];
	CHECK(s->what == PLAN_EXPERT && s->field == NULL && s->local);
	CHECK_STR(plan_level_name(PLAN_LEVEL_DISTRICT), "district");
	CHECK_STR(plan_level_name(PLAN_LEVEL_STREET), "street");
	CHECK_STR(plan_level_name(PLAN_LEVEL_COMMUNITY), "community");
	CHECK_STR(plan_level_name((enum plan_level)0), "unknown");
out:
	cfg_free(c);
}

/* Tier decisions of the small good file: each rule, the default, hour windows and order. */
static void
test_decide(void)
{
	struct config *c = expect_load(PLANS "musterd.conf");
	const struct plan_rule *rule = NULL;
	const struct plans *p;
	struct plan_facts f;

	if (c == NULL)
		return;
	p = c->plans;
	/* Nothing matches: tier 3, no rule. */
	facts_init(&f, "flood");
	CHECK(decide(p, &f, NULL) == 3);
	/* Each rule. */
	f.hazmat = 1;
	CHECK(decide(p, &f, "hazmat") == 1);
	facts_init(&f, "flood");
	f.casualties = 3;
	CHECK(decide(p, &f, "casualties >= 3") == 1);
	facts_init(&f, "fire.ebike");
	f.people_affected = 50;
	CHECK(decide(p, &f, "big fire") == 1);
	f.people_affected = 49;
	CHECK(decide(p, &f, "small e-bike fire") == 3);
	facts_init(&f, "flood");
	f.people_affected = 5000; /* type pattern: only fires */
	CHECK(decide(p, &f, NULL) == 3);
	facts_init(&f, "attack.knife");
	f.key_place = 1;
	CHECK(decide(p, &f, "attack at a key place") == 1);
	f.key_place = 0;
	CHECK(decide(p, &f, "attack elsewhere") == 2);
	facts_init(&f, "flood");
	f.casualties = 1;
	CHECK(decide(p, &f, "casualties") == 2);
	/* Hours [22, 6) wrap midnight. */
	facts_init(&f, "collapse.wall");
	f.building = "urban_village";
	f.hour = 22;
	CHECK(decide(p, &f, "urban village at night") == 2);
	f.hour = 23;
	CHECK(decide(p, &f, "urban village at night") == 2);
	f.hour = 0;
	CHECK(decide(p, &f, "urban village at night") == 2);
	f.hour = 5;
	CHECK(decide(p, &f, "urban village at night") == 2);
	f.hour = 6;
	CHECK(decide(p, &f, NULL) == 3);
	f.hour = 21;
	CHECK(decide(p, &f, NULL) == 3);
	f.hour = 3;
	f.building = "high_rise";
	CHECK(decide(p, &f, NULL) == 3);
	f.building = NULL;
	CHECK(decide(p, &f, NULL) == 3);
	/* Hours [9, 21) do not wrap. */
	f.building = "mall";
	f.hour = 9;
	CHECK(decide(p, &f, "mall, open hours") == 2);
	f.hour = 20;
	CHECK(decide(p, &f, "mall, open hours") == 2);
	f.hour = 21;
	CHECK(decide(p, &f, NULL) == 3);
	f.hour = 8;
	CHECK(decide(p, &f, NULL) == 3);
	/* First match wins: hazmat comes before casualties, and "hazmat = false" is a condition. */
	facts_init(&f, "fire.ebike");
	f.casualties = 5;
	f.hazmat = 1;
	CHECK(decide(p, &f, "hazmat") == 1);
	f.casualties = 1;
	CHECK(decide(p, &f, "hazmat") == 1);
	f.hazmat = 0;
	CHECK(decide(p, &f, "casualties") == 2);
	/* The urban-village rule comes before the e-bike rule. */
	f.casualties = 0;
	f.building = "urban_village";
	f.hour = 2;
	CHECK(decide(p, &f, "urban village at night") == 2);
	f.hour = 14;
	CHECK(decide(p, &f, "small e-bike fire") == 3);
	/* Bad input never crashes. */
	CHECK(plan_decide_tier(NULL, &f, &rule) == 3 && rule == NULL);
	CHECK(plan_decide_tier(p, NULL, NULL) == 3);
	facts_init(&f, NULL);
	CHECK(decide(p, &f, NULL) == 3);
	cfg_free(c);
}

/* Returns how many units of R can fill unit line S (kind, department, skills). */
static size_t
count_units(const struct roster *r, const struct plan_spec *s)
{
	size_t i, j, k, n = 0;

	for (i = 0; i < r->n_units; i++) {
		const struct unit *u = &r->units[i];
		size_t have = 0;

		if (strcmp(u->kind, s->kind) != 0 ||
		    (s->department >= 0 && u->department != s->department))
			continue;
		for (j = 0; j < s->n_skills; j++) {
			for (k = 0; k < u->n_skills; k++) {
				if (strcmp(u->skills[k], s->skills[j]) == 0) {
					have++;
					break;
				}
			}
		}
		n += have == s->n_skills;
	}
	return n;
}

/* Checks one tier of the sample: level, commander first, six groups at tier I, and that the
 * roster can fill every line, counting each kind over the whole tier. */
static void
check_sample_tier(const struct config *c, const struct plan *pl, const struct plan_tier *t)
{
	static const enum plan_level levels[] = {PLAN_LEVEL_DISTRICT, PLAN_LEVEL_STREET,
						 PLAN_LEVEL_COMMUNITY};
	size_t g, s, i, o, want;

	CHECK(t->level == levels[t->tier - 1]);
	CHECK(t->n_groups > 0 && t->groups[0].n_specs > 0);
	if (t->n_groups == 0 || t->groups[0].n_specs == 0)
		return;
	CHECK_STR(t->groups[0].name, "commander");
	CHECK(t->groups[0].specs[0].what == PLAN_PERSON);
	CHECK(t->receipt_s >= 5 && t->accept_s >= t->receipt_s);
	if (t->tier == 1) {
		CHECK(t->n_groups == 6);
		for (g = 0; g < 6 && g < t->n_groups; g++)
			CHECK_STR(t->groups[g].name, six_groups[g]);
	} else {
		CHECK(t->n_groups < 6);
	}
	for (g = 0; g < t->n_groups; g++) {
		for (s = 0; s < t->groups[g].n_specs; s++) {
			const struct plan_spec *sp = &t->groups[g].specs[s];

			CHECK(sp->count >= 1);
			if (sp->what != PLAN_UNIT)
				continue;
			CHECK(plan_class(c->plans, sp->kind) != NULL);
			/* Everything asked for this kind in the tier, anywhere in it. */
			want = 0;
			for (i = 0; i < t->n_groups; i++) {
				for (o = 0; o < t->groups[i].n_specs; o++) {
					const struct plan_spec *q = &t->groups[i].specs[o];

					if (q->what == PLAN_UNIT && strcmp(q->kind, sp->kind) == 0)
						want += (size_t)q->count;
				}
			}
			if (count_units(c->roster, sp) < (size_t)sp->count ||
			    count_units(c->roster, &(struct plan_spec){.kind = sp->kind,
								       .department = -1}) < want) {
				fprintf(stderr,
					"%s tier %d: %d x %s (%zu of the kind) cannot be "
					"filled\n",
					pl->type, t->tier, sp->count, sp->kind, want);
				test_failures++;
			}
		}
	}
}

/* The sample as `muster init` writes it: every type with tiers 1..3, fillable, and the
 * sample's tier rules and classes. */
static void
test_sample(void)
{
	char dir[] = "/tmp/muster-test-plan-XXXXXX";
	char *err = NULL, *path = NULL;
	const struct plan_class *cl;
	const struct plans *p;
	struct plan_facts f;
	struct config *c;
	size_t i, t;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(init_write(dir, 1, &err) == 0);
	if (err != NULL)
		fprintf(stderr, "init_write: %s\n", err);
	free(err);
	path = xasprintf("%s/musterd.conf", dir);
	c = expect_load(path);
	free(path);
	if (c == NULL)
		goto out;
	p = c->plans;
	CHECK(p->n_plans == sizeof sample_types / sizeof sample_types[0]);
	for (i = 0; i < sizeof sample_types / sizeof sample_types[0]; i++) {
		const struct plan *pl = plan_find(p, sample_types[i]);

		CHECK(pl != NULL);
		if (pl == NULL) {
			fprintf(stderr, "no plan for %s\n", sample_types[i]);
			continue;
		}
		CHECK(pl->owner >= 0);
		for (t = 0; t < 3; t++) {
			CHECK(pl->tiers[t] != NULL);
			if (pl->tiers[t] != NULL)
				check_sample_tier(c, pl, pl->tiers[t]);
		}
	}
	/* The response circles. */
	cl = plan_class(p, "volunteer_guard");
	CHECK(cl != NULL && cl->ring_s == 60);
	cl = plan_class(p, "patrol");
	CHECK(cl != NULL && cl->ring_s == 180);
	cl = plan_class(p, "armed_police");
	CHECK(cl != NULL && cl->ring_s == 300);
	cl = plan_class(p, "micro_fire_station");
	CHECK(cl != NULL && cl->ring_s == 300 && cl->speed_mps > 3.0 && cl->speed_mps < 6.0);
	CHECK(p->dedup_radius_m == 300 && p->dedup_window_s == 900);
	/* The sample's tier rules. */
	facts_init(&f, "fire.ebike");
	CHECK(plan_decide_tier(p, &f, NULL) == 3);
	f.hazmat = 1;
	CHECK(plan_decide_tier(p, &f, NULL) == 1);
	facts_init(&f, "fire.ebike");
	f.casualties = 3;
	CHECK(plan_decide_tier(p, &f, NULL) == 1);
	f.casualties = 1;
	CHECK(plan_decide_tier(p, &f, NULL) == 2);
	facts_init(&f, "flood");
	f.people_affected = 100;
	CHECK(plan_decide_tier(p, &f, NULL) == 1);
	f.people_affected = 30;
	CHECK(plan_decide_tier(p, &f, NULL) == 2);
	facts_init(&f, "attack.violent");
	CHECK(plan_decide_tier(p, &f, NULL) == 2);
	f.key_place = 1;
	CHECK(plan_decide_tier(p, &f, NULL) == 1);
	facts_init(&f, "crowd.disorder");
	CHECK(plan_decide_tier(p, &f, NULL) == 3);
	f.key_place = 1;
	CHECK(plan_decide_tier(p, &f, NULL) == 1);
	facts_init(&f, "fire.ebike");
	f.building = "urban_village";
	CHECK(plan_decide_tier(p, &f, NULL) == 3);
	f.hour = 2;
	CHECK(plan_decide_tier(p, &f, NULL) == 2);
	facts_init(&f, "fire.residential");
	f.building = "high_rise";
	CHECK(plan_decide_tier(p, &f, NULL) == 2);
	cfg_free(c);
out:
	rm_tree(dir);
}

/* Without a plans file the plans are empty, never NULL: every type is unknown. */
static void
test_no_plans(void)
{
	struct config *c = expect_load("../data/conf/noplans/musterd.conf");
	struct plan_facts f;
	struct plans *p;

	if (c == NULL)
		return;
	CHECK(c->plans_file == NULL);
	CHECK(c->plans != NULL);
	if (c->plans != NULL) {
		CHECK(c->plans->n_plans == 0 && c->plans->n_classes == 0);
		CHECK(plan_find(c->plans, "fire.ebike") == NULL);
		CHECK(plan_class(c->plans, "patrol") == NULL);
		facts_init(&f, "fire.ebike");
		f.casualties = 10;
		CHECK(plan_decide_tier(c->plans, &f, NULL) == 3);
		CHECK(c->plans->dedup_radius_m == 300 && c->plans->dedup_window_s == 900);
	}
	cfg_free(c);
	p = plan_new();
	CHECK(p != NULL && p->n_rules == 0);
	plan_free(p);
	plan_free(NULL);
}

/* A syntax error and a missing file. */
static void
test_bad_syntax(void)
{
	static const char *const s[] = {"bad-syntax.conf:2: syntax error", NULL};
	static const char *const m[] = {"no-such.conf: cannot open: No such file", NULL};
	static const char *const n[] = {"no plans file given", NULL};

	expect_plan_errors(PLANS "bad-syntax.conf", NULL, s);
	expect_plan_errors(PLANS "no-such.conf", NULL, m);
	expect_plan_errors(NULL, NULL, n);
	/* Without a place for errors, still NULL. */
	CHECK(plan_load(PLANS "bad-syntax.conf", NULL, NULL) == NULL);
}

/* Unknown settings at every level. */
static void
test_bad_unknown(void)
{
	static const char *const f[] = {
	    "bad-unknown.conf:2: unknown setting 'colour'\n",
	    "bad-unknown.conf:3: unknown setting 'wheels' in class 'volunteer_guard'",
	    "bad-unknown.conf:4: unknown setting 'severity' in tier rule #1",
	    "bad-unknown.conf:5: unknown setting 'window' in dedup",
	    "bad-unknown.conf:7: unknown setting 'colour' in plan 't'\n",
	    "bad-unknown.conf:9: unknown setting 'colour' in plan 't' tier 3\n",
	    "bad-unknown.conf:11: unknown setting 'colour' in plan 't' tier 3 group 'commander'\n",
	    "bad-unknown.conf:13: unknown setting 'colour' in plan 't' tier 3 group 'commander' "
	    "member #1",
	    NULL,
	};
	struct config *c = expect_load(PLANS "musterd.conf");

	if (c != NULL)
		expect_plan_errors(PLANS "bad-unknown.conf", c->roster, f);
	cfg_free(c);
}

/* References the roster cannot satisfy, and unit kinds without a class. */
static void
test_bad_refs(void)
{
	static const char *const f[] = {
	    "bad-refs.conf:8: plan 't': unknown department 'navy'",
	    "bad-refs.conf:13: plan 't' tier 1 group 'commander' member #1: no person with role "
	    "'mayor' in the roster",
	    "bad-refs.conf:14: plan 't' tier 1 group 'commander' member #2: no person with role "
	    "'commander' of department 'police' in the roster",
	    "bad-refs.conf:16: plan 't' tier 1 group 'response' member #1: unit kind "
	    "'helicopter' has no class in 'classes'",
	    "bad-refs.conf:17: plan 't' tier 1 group 'response' member #2: no unit of kind "
	    "'fire_engine' in the roster (the line can never be filled)",
	    "bad-refs.conf:18: plan 't' tier 1 group 'response' member #3: no unit of kind "
	    "'volunteer_guard' of department 'fire' in the roster",
	    "bad-refs.conf:19: plan 't' tier 1 group 'response' member #4: no unit of kind "
	    "'micro_fire_station' in the roster has every skill asked for",
	    "bad-refs.conf:20: plan 't' tier 1 group 'response' member #5: unknown department "
	    "'army'",
	    "bad-refs.conf:22: plan 't' tier 1 group 'experts' member #1: no expert with field "
	    "'astrology' in the roster",
	    "bad-refs.conf:23: plan 't' tier 1 group 'experts' member #2: no expert with field "
	    "'fire' of department 'police' in the roster",
	    "bad-refs.conf:24: plan 't' tier 1 group 'experts' member #3: no local expert (with "
	    "a street) of department 'fire' in the roster",
	    NULL,
	};
	struct config *c = expect_load(PLANS "musterd.conf");
	struct strbuf sb = {0};
	struct plans *p;

	if (c != NULL)
		expect_plan_errors(PLANS "bad-refs.conf", c->roster, f);
	/* The line that any expert fills is fine; nothing more than the lines above. */
	if (c != NULL) {
		p = plan_load(PLANS "bad-refs.conf", c->roster, &sb);
		CHECK(p == NULL && sb.s != NULL && strstr(sb.s, ":25:") == NULL);
		plan_free(p);
		strbuf_finish(&sb);
	}
	cfg_free(c);
	/* Without a roster, only what the file says by itself is checked. */
	p = plan_load(PLANS "bad-refs.conf", NULL, &sb);
	CHECK(p == NULL && sb.s != NULL);
	CHECK(sb.s != NULL && strstr(sb.s, "unit kind 'helicopter' has no class") != NULL);
	CHECK(sb.s != NULL && strstr(sb.s, "navy") == NULL && strstr(sb.s, "mayor") == NULL);
	plan_free(p);
	strbuf_finish(&sb);
}

/* Tiers and plans wrong in themselves. */
static void
test_bad_tiers(void)
{
	static const char *const f[] = {
	    "bad-tiers.conf:6: plan 'a': 'tier' = 4 is out of range (1..3)",
	    "bad-tiers.conf:8: plan 'a' tier 2: unknown level 'city' (district, street or "
	    "community)",
	    "bad-tiers.conf:8: plan 'a' tier 2: 'receipt_s' = 2 is out of range (5..3600)",
	    "bad-tiers.conf:8: plan 'a' tier 2: 'accept_s' = 4000 is out of range (5..3600)",
	    "bad-tiers.conf:10: plan 'a': duplicate tier 2 (first on line 8)",
	    "bad-tiers.conf:15: plan 'a' tier 3 group 'response' member #1: 'count' = 0 is out "
	    "of range (1..1000)",
	    "bad-tiers.conf:16: plan 'a' tier 3 group 'response' member #2: 'count' = 1001 is "
	    "out of range (1..1000)",
	    "bad-tiers.conf:16: plan 'a' tier 3 group 'response' member #2: 'ring_s' = 5 is out "
	    "of range (10..7200)",
	    "bad-tiers.conf:15: plan 'a' tier 3: the first member of the first group "
	    "('response') must be a person, the commander",
	    "bad-tiers.conf:17: plan 'a' tier 3: duplicate group 'response' (first on line 14)",
	    "bad-tiers.conf:20: duplicate plan type 'a' (first on line 4)",
	    "bad-tiers.conf:23: plan 'b': no tiers",
	    "bad-tiers.conf:24: plan 'c': missing 'tiers'",
	    NULL,
	};
	struct config *c = expect_load(PLANS "musterd.conf");

	if (c != NULL)
		expect_plan_errors(PLANS "bad-tiers.conf", c->roster, f);
	cfg_free(c);
}

/* Classes out of range, and a class given twice. */
static void
test_bad_classes(void)
{
	static const char *const f[] = {
	    "bad-classes.conf:3: class 'volunteer_guard': 'speed_kmh' = 0.1 is out of range "
	    "(0.5..200)",
	    "bad-classes.conf:4: class 'patrol': 'road_factor' = 0.8 is out of range (1..5)",
	    "bad-classes.conf:5: class 'armed_police': 'speed_kmh' = 300 is out of range "
	    "(0.5..200)",
	    "bad-classes.conf:5: class 'armed_police': 'road_factor' = 6 is out of range (1..5)",
	    "bad-classes.conf:5: class 'armed_police': 'ring_s' = 5 is out of range (10..7200)",
	    "bad-classes.conf:6: duplicate class 'patrol' (first on line 4)",
	    "bad-classes.conf:7: class 'micro_fire_station': 'speed_kmh' must be a number",
	    "bad-classes.conf:7: class 'micro_fire_station': 'ring_s' = 8000 is out of range "
	    "(10..7200)",
	    NULL,
	};

	expect_plan_errors(PLANS "bad-classes.conf", NULL, f);
}

/* Tier rules (hours, tier, types, why) and dedup out of range. */
static void
test_bad_rules(void)
{
	static const char *const f[] = {
	    "bad-rules.conf:3: tier rule #1: 'hours' must be [from, to], whole hours 0..23 (may "
	    "wrap midnight)",
	    "bad-rules.conf:4: tier rule #2: 'hours' must be [from, to]",
	    "bad-rules.conf:5: tier rule #3: 'hours' = [6, 6] is an empty window",
	    "bad-rules.conf:6: tier rule #4: 'hours' must be [from, to]",
	    "bad-rules.conf:7: tier rule #5: 'tier' = 0 is out of range (1..3)",
	    "bad-rules.conf:8: tier rule #6: 'people_min' = -5 is out of range",
	    "bad-rules.conf:8: tier rule #6: missing 'why'",
	    "bad-rules.conf:9: tier rule #7: 'hazmat' must be true or false",
	    "bad-rules.conf:11: dedup: 'radius_m' = 5 is out of range (10..100000)",
	    "bad-rules.conf:11: dedup: 'window_s' = 100000 is out of range (10..86400)",
	    NULL,
	};

	expect_plan_errors(PLANS "bad-rules.conf", NULL, f);
}

/* Member lines that are not exactly one thing, and groups without a name or members. */
static void
test_bad_members(void)
{
	static const char *const f[] = {
	    "bad-members.conf:9: plan 't' tier 3 group 'commander' member #1: 'skills' is for "
	    "unit lines only",
	    "bad-members.conf:9: plan 't' tier 3 group 'commander' member #1: 'ring_s' is for "
	    "unit lines only",
	    "bad-members.conf:11: plan 't' tier 3 group 'response' member #1: needs exactly one "
	    "of 'unit = KIND', 'person = ROLE', 'expert = FIELD' or 'local_expert = true'",
	    "bad-members.conf:12: plan 't' tier 3 group 'response' member #2: needs exactly one",
	    "bad-members.conf:13: plan 't' tier 3 group 'response' member #3: needs exactly one",
	    "bad-members.conf:14: plan 't' tier 3 group 'response' member #4: 'skills' must be a "
	    "list of strings",
	    "bad-members.conf:15: plan 't' tier 3 group #3: missing 'name'",
	    "bad-members.conf:16: plan 't' tier 3 group 'empty': no members",
	    NULL,
	};
	struct config *c = expect_load(PLANS "musterd.conf");

	if (c != NULL)
		expect_plan_errors(PLANS "bad-members.conf", c->roster, f);
	cfg_free(c);
}

/* Plan problems come out of cfg_load with the other files' problems, and fail the load. */
static void
test_cfg_errors(void)
{
	static const char *const f[] = {
	    PLANS "bad-refs.conf:8: plan 't': unknown department 'navy'",
	    PLANS "bad-refs.conf:13: ",
	    NULL,
	};

	expect_errors(PLANS "bad-musterd.conf", f);
}

/* Runs the plan tests. */
int
main(void)
{
	RUN(test_good);
	RUN(test_decide);
	RUN(test_sample);
	RUN(test_no_plans);
	RUN(test_bad_syntax);
	RUN(test_bad_unknown);
	RUN(test_bad_refs);
	RUN(test_bad_tiers);
	RUN(test_bad_classes);
	RUN(test_bad_rules);
	RUN(test_bad_members);
	RUN(test_cfg_errors);
	TEST_DONE();
}
