/* nearest: a spatial index over the roster's units that answers "the k nearest available
 * units of this kind (and department, and skills) by estimated arrival time". */
#ifndef MUSTER_NEAREST_H
#define MUSTER_NEAREST_H

#include <stddef.h>
#include <stdint.h>

struct roster;

struct nearest_query {
	double lat, lon;	   /* the incident */
	const char *kind;	   /* responder class; required */
	int department;		   /* index into roster.departments; -1: any */
	const char *const *skills; /* every one required; may be NULL */
	size_t n_skills;
	double speed_mps;	/* the class's speed ... */
	double road_factor;	/* ... and road factor: eta = distance * road_factor / speed */
	int64_t now_ms;		/* units not heard from since now_ms - stale_ms are not */
	int64_t stale_ms;	/* available; stale_ms 0: liveness is not checked */
	const uint8_t *exclude; /* optional, one byte per roster unit: non-zero skips it */
};

struct nearest_hit {
	int unit;	   /* index into roster.units */
	double distance_m; /* great-circle distance from the incident */
	double eta_s;	   /* distance_m * road_factor / speed_mps */
};

struct nearest;

/* Builds an index over R's units at their live positions (R is borrowed and must outlive
 * the index). Returns a new index; caller frees with nearest_free. */
struct nearest *nearest_new(const struct roster *r);
/* Frees N; accepts NULL. */
void nearest_free(struct nearest *n);
/* Unit UNIT moved (its lat/lon changed): re-files it. */
void nearest_moved(struct nearest *n, int unit);
/* Fills OUT with up to K available units matching Q, nearest first (ties broken by unit
 * index, so results are deterministic). A unit is available when its status is
 * UNIT_STATUS_AVAILABLE, it is fresh (see stale_ms) and not excluded. Returns how many. */
size_t nearest_query(const struct nearest *n, const struct nearest_query *q, size_t k,
		     struct nearest_hit *out);
/* Sizes of an index, for benchmarks and logs. */
struct nearest_stats {
	size_t bytes;  /* heap memory the index holds (capacities, not only what is used) */
	size_t cells;  /* grid cells that hold or held a unit, over all kinds */
	size_t kinds;  /* distinct unit kinds */
	size_t filed;  /* units in the index (those with a kind and a valid position) */
	double cell_m; /* the grid's cell size in metres, chosen from the units' extent */
};

/* Fills ST with the sizes of N (all zero when N is NULL). */
void nearest_get_stats(const struct nearest *n, struct nearest_stats *st);
/* The same answer by scanning every unit: the reference for tests and benchmarks. */
size_t nearest_brute(const struct roster *r, const struct nearest_query *q, size_t k,
		     struct nearest_hit *out);

#endif
