/* whistle: whistle and report (吹哨报到). A street or community calls departments to a matter
 * with a deadline, a leader rank and a headcount; each department reports its arrival
 * through its agent; compliance (on time, late, absent; rank and headcount met) is recorded
 * and published. */
#ifndef MUSTER_WHISTLE_H
#define MUSTER_WHISTLE_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct request;

enum whistle_status {
	WHISTLE_CALLED = 0,
	WHISTLE_ON_TIME = 1,
	WHISTLE_LATE = 2,
	WHISTLE_ABSENT = 3,
};

/* One department's answer to a whistle. */
struct whistle_dept {
	char *department;
	int status;	    /* enum whistle_status */
	int64_t arrived_ms; /* 0 until it arrives */
	char *rank;	    /* the leader's rank as reported */
	int headcount;
	int rank_met, headcount_met;
};

struct whistle {
	uint64_t id;
	char *place, *matter, *rank, *called_by;
	int64_t blown_ms, deadline_ms, close_ms; /* after close_ms the absent are recorded */
	int headcount;
	uint64_t incident_id;
	int exercise;
	int closed;
	struct whistle_dept *depts;
	size_t n_depts;
};

/* Frees W and its strings; accepts NULL. */
void whistle_free(struct whistle *w);
/* Handlers (the dispatch table in daemon.c). */
int whistle_blow(struct request *r);
int whistle_get(struct request *r);
/* An agent's WhistleArrival (called by agents_report after de-duplication). */
int whistle_arrival(struct request *r);
/* Records the absent and publishes compliance for whistles past their close time. */
void whistle_tick(struct daemon *d);
/* Returns the earliest time whistle_tick has anything to do (INT64_MAX: nothing). */
int64_t whistle_next_due(struct daemon *d);
/* Returns the index of RANK on the rank ladder (higher is more senior), or -1. */
int whistle_rank_index(const char *rank);

#endif
