/* cadscenario: a dispatch (CAD) export becomes a drill scenario that replays its calls'
 * arrival times and places on a muster district (`muster import cad-scenario`, docs/drills.md). */
#ifndef MUSTER_CADSCENARIO_H
#define MUSTER_CADSCENARIO_H

#include <stdint.h>

struct cadscenario_opts {
	const char *csv;    /* the export */
	const char *layout; /* as cadimport_run: NULL or "sf" for the built-in SF layout */
	const char *out;    /* the scenario file to write */
	const char *config; /* a configuration directory to place the calls in; NULL: the sample */
	int has_from, has_to;
	int64_t from_ms, to_ms; /* a window on the calls' receipt (local time as stored) */
	double scale;		/* divide the offsets between calls by this (1: as they were) */
	uint64_t seed;
};

/* What a conversion did. */
struct cadscenario_stats {
	long calls, written, unmapped, no_time;
	int64_t span_ms; /* from the first call to the last, as written (scaled) */
};

/* Imports O->csv, lays its calls over the district and writes the scenario O->out (through
 * O->out.tmp, renamed when complete). Calls of a type with no plan are left out and counted;
 * calls with no receipt time too. Returns 0 and *ST, or -1 with *ERR a new message. */
int cadscenario_run(const struct cadscenario_opts *o, struct cadscenario_stats *st, char **err);

#endif
