/* plan: the tier rules (which tier an incident is) and the response plans (预案: who must be
 * mustered for an incident type and tier, how fast), read from plans.conf. */
#ifndef MUSTER_PLAN_H
#define MUSTER_PLAN_H

#include <stddef.h>

struct roster;

enum plan_level {
	PLAN_LEVEL_DISTRICT = 1,  /* 区指挥中心 leads */
	PLAN_LEVEL_STREET = 2,	  /* 街道分中心 leads */
	PLAN_LEVEL_COMMUNITY = 3, /* 社区微中心 leads */
};

/* A responder class (unit kind): how fast it moves and its default ring deadline. */
struct plan_class {
	char *kind;	    /* "volunteer_guard", "patrol", "micro_fire_station", ... */
	double speed_mps;   /* travel speed, metres per second */
	double road_factor; /* road distance / straight-line distance, >= 1 */
	int ring_s;	    /* on scene within this many seconds of the order */
	int line;
};

enum plan_what {
	PLAN_UNIT = 1,	 /* a unit of a kind (nearest available) */
	PLAN_PERSON = 2, /* a person by role (a department's duty commander, coordinator) */
	PLAN_EXPERT = 3, /* an expert by field, or the local expert of the incident's street */
};

/* One line of a group: COUNT members of one sort. */
struct plan_spec {
	enum plan_what what;
	int department; /* index into roster.departments; -1: any department */
	char *kind;	/* PLAN_UNIT: the responder class (required) */
	char *role;	/* PLAN_PERSON: "commander", "coordinator", ... (required) */
	char *field;	/* PLAN_EXPERT: "fire", "structural", ...; NULL: any field */
	int local;	/* PLAN_EXPERT: the local expert (土专家) of the incident's street */
	char **skills;	/* PLAN_UNIT: every one required */
	size_t n_skills;
	int count;  /* how many, >= 1 */
	int ring_s; /* PLAN_UNIT: ring deadline for this line; 0: the class's */
	char *task; /* what the order tells them to do, e.g. "fire suppression" */
	int line;
};

/* A group of the joint action group (commander, coordination, dispatch command, technical
 * support, emergency response, safe evacuation; names come from the file). */
struct plan_group {
	char *name;
	struct plan_spec *specs;
	size_t n_specs;
	int line;
};

/* The plan for one type at one tier. */
struct plan_tier {
	int tier; /* 1, 2 or 3 */
	enum plan_level level;
	int receipt_s; /* an order without a receipt this long is re-assigned */
	int accept_s;  /* an order not accepted this long after sending is re-assigned */
	struct plan_group *groups; /* the first group's first member is the commander */
	size_t n_groups;
	char **notes; /* expert notes and instructions copied into every order */
	size_t n_notes;
	int line;
};

/* The plans for one incident type. */
struct plan {
	char *type;		    /* "fire.ebike", "attack.knife", ... */
	char *name;		    /* for people */
	int owner;		    /* department index that owns the type (alert diversion) */
	struct plan_tier *tiers[3]; /* by tier - 1; NULL when the type has no plan at that tier */
	int line;
};

/* One tier rule: all given conditions must hold; the first matching rule wins. */
struct plan_rule {
	char *type;		/* fnmatch(3) pattern on the incident type, "*" for any */
	int casualties_min;	/* -1: not a condition */
	int people_min;		/* people affected; -1: not a condition */
	int hazmat;		/* -1: not a condition; 0 or 1 */
	int key_place;		/* -1: not a condition; 0 or 1: the place is a key place */
	char *building;		/* NULL: not a condition */
	int hour_from, hour_to; /* local hour window [from, to), may wrap; -1: not a condition */
	int tier;
	char *why; /* said on the timeline when the rule decides */
	int line;
};

struct plans {
	struct plan_class *classes;
	size_t n_classes;
	struct plan_rule *rules;
	size_t n_rules;
	struct plan *plans;
	size_t n_plans;
	int dedup_radius_m; /* a report of the same type this close to an open incident ... */
	int dedup_window_s; /* ... and this recent is linked to it instead of mustering again */
};

/* What tiering looks at. */
struct plan_facts {
	const char *type;
	int casualties;
	int people_affected;
	int hazmat;
	int key_place;
	const char *building; /* may be NULL */
	int hour;	      /* local hour 0..23 */
};

/* Reads PATH against roster R. Returns new plans (free with plan_free), or NULL after
 * appending one "file:line: what is wrong" line per problem to ERRORS (a strbuf). R may be
 * NULL (a roster that could not be read): references to it are then not checked. */
struct strbuf;
struct plans *plan_load(const char *path, const struct roster *r, struct strbuf *errors);
/* Returns new empty plans (no classes, rules or plans; default dedup), for a configuration
 * without a plans file: every incident type is then unknown. Free with plan_free. */
struct plans *plan_new(void);
/* Frees P; accepts NULL. */
void plan_free(struct plans *p);
/* Returns the plans for TYPE, or NULL for an unknown type. Borrowed. */
const struct plan *plan_find(const struct plans *p, const char *type);
/* Returns the class of KIND, or NULL. Borrowed. */
const struct plan_class *plan_class(const struct plans *p, const char *kind);
/* Returns the tier (1..3) for F and, in *RULE, the rule that decided (NULL: the default,
 * tier 3, when no rule matches). */
int plan_decide_tier(const struct plans *p, const struct plan_facts *f,
		     const struct plan_rule **rule);
/* Returns "unit", "person" or "expert" for plan line S. */
const char *plan_spec_what(const struct plan_spec *s);
/* Returns what plan line S asks for by name: the unit kind, the person's role, the expert's
 * field, "local" for the local expert, or "*" for any expert. Borrowed. */
const char *plan_spec_kind(const struct plan_spec *s);
/* Returns "district", "street" or "community". */
const char *plan_level_name(enum plan_level l);

#endif
