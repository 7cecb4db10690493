/* roster: departments, units, people and experts, with live positions from agents. */
#ifndef MUSTER_ROSTER_H
#define MUSTER_ROSTER_H

#include <stddef.h>
#include <stdint.h>

struct department {
	char *id;	  /* "fire", "police", "emergency", ... */
	char *name;	  /* for people, e.g. "Fire and rescue (消防)" */
	char *supervisor; /* identity told when a task is not handled in time (督办), or NULL */
	int line;
};

/* Live status of a unit; values match UnitStatus in proto/muster.proto. */
enum unit_status {
	UNIT_STATUS_UNKNOWN = 0,
	UNIT_STATUS_AVAILABLE = 1,
	UNIT_STATUS_BUSY = 2,
	UNIT_STATUS_OFF_DUTY = 3,
	UNIT_STATUS_OUT_OF_SERVICE = 4,
};

struct unit {
	char *id; /* unique, e.g. "fire-ms-s01c02" */
	char *name;
	int department; /* index into roster.departments */
	char *kind;	/* responder class: "volunteer_guard", "patrol", "armed_police",
			   "micro_fire_station", "fire_engine", "ambulance", ... */
	int station;	/* index of its home place in district.places */
	char *agent;	/* identity of the agent that speaks for it, e.g. "agent:fire" */
	int people;	/* headcount */
	char **skills;
	size_t n_skills;
	double home_lat, home_lon;
	int shift_from, shift_to; /* on duty [from, to) local hours, may wrap; -1: always */
	int line;
	/* live, from heartbeats; never from the file */
	double lat, lon;
	enum unit_status status;
	int64_t last_seen_ms; /* 0 = never heard from */
	int held;	      /* active orders that hold this unit (muster keeps it) */
	int held_drill;	      /* of them, exercise orders: a live incident may take the unit */
};

struct person {
	char *id;
	char *name;
	int department; /* index into roster.departments */
	char *role;	/* "commander", "coordinator", "responder", ... */
	char *rank;	/* leader rank, for whistle-and-report; may be NULL */
	int unit;	/* index into roster.units, -1 when not attached to a unit */
	char **skills;
	size_t n_skills;
	int line;
};

struct expert {
	char *id;
	char *name;
	int department; /* index into roster.departments */
	char *field;	/* "fire", "structural", "geotechnical", "hazmat", ... */
	int street;	/* local expert (土专家): index of the street place, else -1 */
	char *agent;	/* identity that relays to the expert, or NULL */
	int line;
};

struct roster {
	struct department *departments;
	size_t n_departments;
	struct unit *units;
	size_t n_units;
	struct person *people;
	size_t n_people;
	struct expert *experts;
	size_t n_experts;
	int *by_id; /* unit indexes sorted by id, built on first look-up (the units never
		       change after loading; a reload builds a new roster) */
};

/* Returns the index of the department with ID, or -1. */
int roster_department(const struct roster *r, const char *id);
/* Returns the unit with ID, or NULL. Borrowed. */
struct unit *roster_unit(struct roster *r, const char *id);
/* Copies the live state (position, status, last seen) of units with the same id from OLD
 * into NEW, so that a configuration reload keeps what agents have told us. */
void roster_carry_live(struct roster *new_roster, const struct roster *old_roster);
/* Returns 1 when U is on shift at local hour HOUR (0..23). */
int roster_on_shift(const struct unit *u, int hour);
/* Returns "available", "busy", "off_duty", "out_of_service" or "unknown". */
const char *roster_status_name(enum unit_status s);
/* Frees R and everything in it; accepts NULL. */
void roster_free(struct roster *r);

#endif
