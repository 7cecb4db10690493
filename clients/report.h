/* report: the response-circle analysis (docs/metrics.md) over the analysis schema, the one SQLite
 * layout that `muster import cad-csv` writes and that snapshots of the daemon will present. */
#ifndef MUSTER_REPORT_H
#define MUSTER_REPORT_H

#include <stdint.h>
#include <stdio.h>

/* The version of the analysis schema this muster writes and reads (analysis_meta 'version'). */
#define REPORT_SCHEMA_VERSION 1

/* The analysis schema: analysis_meta, calls and responses (no indexes; see report_index_sql). */
extern const char report_schema_sql[];
/* The index the report reads responses by; created after a bulk load. */
extern const char report_index_sql[];

/* How a report's figures are printed. */
enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON, REPORT_HTML };

/* What a report covers and how it is printed. Zero-initialise, then set. */
struct report_opts {
	enum report_format format;
	const char *by;		/* NULL, or a slice: type, tier, priority, street, community, grid,
				   hour, day, kind, department */
	int has_from, has_to;	/* a window on calls.received_ms: [from, to) */
	int64_t from_ms, to_ms; /* local wall time as stored, ms since the epoch */
	int include_exercise;	/* count exercise calls too (live only by default) */
	int exercise_only;	/* with include_exercise: exercise calls only (a drill's report) */
	int64_t circle_ms;	/* the circle for the "first on scene within" share (300000) */
	/* The status grid (JSON and HTML): zones by this call attribute, grid, community or
	 * street (NULL or "place": the finest of them known of each call), and the
	 * lowest within-circle share, in percent, of a green, yellow and orange zone (0: 90, 75
	 * and 50). */
	const char *zone;
	double status_green, status_yellow, status_orange;
	const char *preamble_html; /* HTML put after the page's heading (a drill's expectations) */
};

/* Parses --status-thresholds "GREEN,YELLOW,ORANGE" (percent, descending) into O. Returns 0,
 * or -1 with *ERR a new message (caller frees). */
int report_parse_thresholds(const char *arg, struct report_opts *o, char **err);

/* Parses a --window argument "FROM..TO" (either side may be empty; each YYYY-MM-DD, or with
 * [T ]hh:mm[:ss]) into O. Returns 0, or -1 with *ERR a new message (caller frees). */
int report_parse_window(const char *arg, struct report_opts *o, char **err);

/* Returns 1 when NAME is a slice --by accepts, else 0. */
int report_slice_known(const char *name);

/* Reads the analysis database PATH (read-only) and writes the report to OUT. Returns 0, or -1
 * with *ERR a new message (caller frees): not an analysis database, a newer schema, SQL. */
int report_run(const char *path, const struct report_opts *o, FILE *out, char **err);

#endif
