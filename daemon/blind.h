/* blind: double-blind drills (docs/drills.md). A coordinator arms a drill (its incident injects
 * and a window); the daemon picks the start at random inside the window and seals it: no
 * reply, timeline event, feed message or snapshot tells it, nor the drill's name or what it
 * injects, until the drill has ended. At the start the tick plays each inject as an exercise
 * incident opened by "drill:<id>"; the end (or an abort after the start) reveals the record. */
#ifndef MUSTER_BLIND_H
#define MUSTER_BLIND_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct request;

enum blind_state {
	BLIND_ARMED = 0,   /* waiting for its sealed start */
	BLIND_RUNNING = 1, /* started: injects being played */
	BLIND_DONE = 2,	   /* every inject played and the duration over: revealed */
	BLIND_ABORTED = 3, /* stopped by a coordinator (or a missed window) */
};

#define BLIND_INJECTS_MAX 1000
#define BLIND_SPAN_MAX_MS (366LL * 86400 * 1000) /* the longest window, duration and lead */

/* One inject: an incident report at AT_MS from the start. */
struct blind_inject {
	int64_t at_ms;
	uint8_t *incident; /* a packed SubmitIncident */
	size_t incident_len;
	uint64_t incident_id; /* what it opened; 0 before, and when it was refused */
	int64_t fired_ms;     /* when it was played; 0 before */
	char *error;	      /* why the incident code refused it; "" otherwise */
};

struct blind_drill {
	uint64_t id;
	char *name, *armed_by, *reason; /* reason: of an abort, "" otherwise */
	int state;			/* enum blind_state */
	int64_t window_from_ms, window_to_ms, duration_ms;
	int64_t start_ms; /* the sealed start, in [window_from_ms, window_to_ms - duration_ms] */
	int64_t armed_ms, ended_ms;
	uint32_t fired, failed; /* injects played (refused ones included), and refused */
	struct blind_inject *injects;
	size_t n_injects;
};

/* Frees B and everything in it; accepts NULL. */
void blind_drill_free(struct blind_drill *b);
/* Handlers (the dispatch table in daemon.c): ArmDrill, GetDrill, AbortDrill. */
int blind_arm(struct request *r);
int blind_get(struct request *r);
int blind_abort(struct request *r);
/* Sets d->blind_next_ms from the drills armed or running in the store (at start, and after a
 * storage failure). Returns 0 or -1. */
int blind_load(struct daemon *d);
/* Starts, plays and ends the drills that are due; each step is its own unit of work. */
void blind_tick(struct daemon *d);
/* Returns a uniformly random number in [0, N) from libsodium's generator (0 when N is 0). */
uint64_t blind_uniform(uint64_t n);

#endif
