/* scenario: a drill scenario (docs/drills.md, "Scenario format"): a libconfig file naming the
 * configuration to drill on, a virtual start time and duration, the behaviour models of the
 * simulated units, a timeline of injects (incidents, updates, tier changes, closures,
 * diversions, silent agents, blocked roads, whistles, surges) and the expectations the
 * after-action report checks. scenario_load reads and validates one file, reporting every
 * problem as "file:line: what"; the drill runner plays what it returns. */
#ifndef MUSTER_SCENARIO_H
#define MUSTER_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct strbuf;

/* What an inject does. */
enum inject_kind {
	INJECT_INCIDENT = 1,  /* a new incident report */
	INJECT_UPDATE,	      /* new facts about an incident */
	INJECT_TIER,	      /* an operator sets an incident's tier */
	INJECT_CLOSE,	      /* an operator closes an incident */
	INJECT_DIVERT,	      /* an operator diverts an incident to another department */
	INJECT_AGENT_OFFLINE, /* a department's agent goes silent, then registers again */
	INJECT_ROAD_BLOCKED,  /* units travelling in an area are delayed (road_blocked) */
	INJECT_WHISTLE,	      /* a street or community blows the whistle (吹哨报到) */
	INJECT_SURGE,	      /* many incidents at once, expanded by the runner from the seed */
};

/* Numbers an inject leaves out are -1 where 0 would mean something (update). Strings left
 * out are NULL. Every string is owned by the scenario. */
struct inject_incident {
	char *id;	   /* the scenario's own name for it ("fire1"), for later refs */
	char *type;	   /* incident type (a plan's type) */
	char *place;	   /* place id or name */
	char *description; /* NULL: none given */
	char *building;	   /* building kind for the tier rules ("urban_village"), or NULL */
	int casualties, people_affected; /* 0 when not given */
	int hazmat;			 /* 0 or 1 */
	int tier;			 /* 0: decided by the tier rules; 1..3: operator override */
	char *tier_reason;		 /* with tier only */
};

struct inject_update {
	int casualties, people_affected; /* -1: unchanged */
	char *description, *note;	 /* NULL: unchanged / none */
};

struct inject_whistle {
	char *place; /* street or community id or name */
	char *matter;
	char **departments;
	size_t n_departments;
	int64_t deadline_ms; /* from the whistle */
	char *rank;	     /* leader rank asked for ("section chief") */
	int headcount;
};

struct inject_surge {
	int count;	 /* incidents */
	int64_t over_ms; /* spread over this long from the inject's time */
	char **types;	 /* chosen from, by the seed */
	size_t n_types;
	char **places; /* chosen from; NULL/0: every community of the district */
	size_t n_places;
};

struct inject {
	enum inject_kind kind;
	int64_t at_ms; /* from T+0 */
	unsigned line; /* of the inject in the scenario file */
	size_t index;  /* position in the file's injects list (0-based) */
	char *ref;     /* update, tier, close, divert, whistle (optional): an incident id */
	long incident; /* with ref: index in scenario.injects of that incident; else -1 */
	char *reason;  /* tier, close, divert */
	union {
		struct inject_incident incident;
		struct inject_update update;
		int tier; /* INJECT_TIER: 1..3 */
		char *to; /* INJECT_DIVERT: department id */
		struct {  /* INJECT_AGENT_OFFLINE */
			char *department;
			int64_t for_ms;
		} offline;
		struct {			  /* INJECT_ROAD_BLOCKED */
			char *street, *community; /* at most one; neither: everywhere */
			int64_t for_ms, delay_ms;
		} road;
		struct inject_whistle whistle;
		struct inject_surge surge;
	} u;
};

/* What an expectation checks (docs/drills.md). */
enum expect_what {
	EXPECT_GROUP_COMPLETE = 1, /* every incident's group fully receipted within within_ms */
	EXPECT_RING_MET,	   /* KIND's ring met in at least share % of incidents */
	EXPECT_CIRCLE,		   /* first unit on scene within within_ms in share % */
	EXPECT_WHISTLE_ON_TIME,	   /* every called department on time */
	EXPECT_NO_SHORTFALL,	   /* no muster.shortfall event */
	EXPECT_MAX_MISSES,	   /* at most count missed rings */
};

struct expect {
	enum expect_what what;
	int64_t within_ms; /* group_complete, circle */
	char *kind;	   /* ring_met: the responder class (unit kind) */
	double share;	   /* ring_met, circle: percent, 0..100 (default 100) */
	int count;	   /* max_misses */
	unsigned line;	   /* of the expectation in the scenario file */
	char *text;	   /* as written: its settings in file order, in libconfig syntax */
};

struct scenario {
	char *path;		  /* as given to scenario_load */
	char *name, *description; /* description: NULL when not given */
	char *config_dir;	  /* directory holding musterd.conf; NULL: the built-in sample */
	uint64_t seed;
	int64_t start_ms;	/* virtual wall time of T+0, ms since the epoch (UTC) */
	int64_t duration_ms;	/* the drill ends at T+duration */
	struct inject *injects; /* sorted stably by at_ms: ties keep the file's order */
	size_t n_injects;
	struct model *models; /* never empty: models[0] is "*" (built in when not given) */
	size_t n_models;
	struct expect *expects; /* in file order */
	size_t n_expects;
};

/* Reads and validates the scenario file PATH into a new *OUT (free with scenario_free).
 * Places, incident types, departments and unit kinds are checked against the scenario's
 * configuration (the built-in sample, or the files its musterd.conf names). Returns 0, or -1
 * with *OUT NULL and every problem appended to ERRORS as "file:line: what\n". */
int scenario_load(const char *path, struct scenario **out, struct strbuf *errors);
/* Frees S and everything in it; accepts NULL. */
void scenario_free(struct scenario *s);

/* Parses a duration or time offset: "90s", "5m", "2h", "1h30m", "2m30s" (h, m, s in that
 * order, each at most once), "mm:ss" or "hh:mm:ss" (minutes and seconds 0..59 after a colon).
 * At most 366 days. Returns 0 with *MS, or -1. */
int scenario_parse_duration(const char *text, int64_t *ms);
/* Formats offset MS as "mm:ss", or "h:mm:ss" from an hour on, into BUF; returns BUF. */
char *scenario_format_offset(int64_t ms, char *buf, size_t len);

/* Returns the model for a unit of DEPARTMENT (may be NULL) and KIND: department and kind,
 * else kind, else department ("*"), else "*" (model_find). Never NULL. */
const struct model *scenario_model(const struct scenario *s, const char *department,
				   const char *kind);

/* Returns the name of inject kind K as written in a scenario ("incident", "road_blocked"). */
const char *scenario_inject_name(enum inject_kind k);
/* Returns the name of expectation W as written in a scenario ("group_complete"). */
const char *scenario_expect_name(enum expect_what w);

#endif
