/* report_int: what report.c computes and report_html.c draws. Internal to the two of them; the
 * public face is report.h. */
#ifndef MUSTER_REPORT_INT_H
#define MUSTER_REPORT_INT_H

#include "report.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NONE INT64_MIN /* a time or number that is not there */

/* The segments, in the order they are printed. */
enum { S_INTAKE, S_PROCESSING, S_RECEIPT, S_TURNOUT, S_TRAVEL, S_RESPONSE, S_N };

struct report_seg {
	const char *name;
	int per_response; /* one value per response, else one per call */
};
extern const struct report_seg report_segs[S_N];

/* The call attributes a slice can be taken by (the order of the query's columns 1..). */
enum { A_TYPE, A_TIER, A_PRIORITY, A_STREET, A_COMMUNITY, A_GRID, A_N };
extern const char *const report_call_slices[A_N];

/* One response of the current call. */
struct resp {
	char *kind, *dept;
	int64_t ordered, receipt, en_route, on_scene, ring_s, delay_reason;
};

/* The current call, with its responses. */
struct call {
	char *id;
	char *attr[A_N];
	int64_t received, entered;
	struct resp *r;
	size_t n, cap;
};

/* Raw values of one segment in one group, and what had none. */
struct seg_stat {
	int64_t *v;
	size_t n, cap;
	long no_value, negative;
};

/* Ring compliance of one responder class in one group. */
struct ring_stat {
	char *kind;
	long pairs, met, no_arrival, negative;
};

/* One group of calls: the whole selection, or one value of the slice. A light group (the
 * zones of the status grid) keeps counts only, no values. */
struct group {
	char *key;
	int light;
	long calls, responses, within, no_arrival, responded;
	struct seg_stat seg[S_N];
	struct ring_stat *rings;
	size_t n_rings;
};

/* Groups by key: open addressing over a power-of-two table, plus the list in arrival order. */
struct gtab {
	struct group **slot;
	size_t cap;
	struct group **list;
	size_t n, list_cap;
	int light; /* the groups it makes are light */
};

/* A ring deadline found in the responses: the lines drawn on the distribution. */
struct ringline {
	char *kind;
	int64_t ring_s;
	long responses;
};

/* One miss: a responder class of a call whose first arrival was after its ring deadline (or
 * never came), or, for a call with no ring deadlines, a first arrival outside the circle. */
struct miss {
	char *call, *type, *place, *kind, *dept;
	int64_t tier, received, ring_s;
	int64_t arrival_ms; /* first arrival of the class after receipt; NONE: nobody arrived */
	unsigned reasons;   /* bit N: a response of the class gave delay reason N */
};

/* The largest delay reason code the report counts by (the protocol's DELAY_OTHER is 15). */
#define REPORT_REASONS 32
/* How many misses are listed (all are counted). */
#define REPORT_MISSES_KEPT 1000

/* One department's answer to one whistle (a musterd database only). */
struct whistle_row {
	int64_t id, blown, deadline, arrived, headcount, got_headcount;
	char *place, *matter, *rank, *dept, *got_rank;
	int status, rank_met, headcount_met; /* status: 0 called, 1 on time, 2 late, 3 absent */
};

/* One alert diversion (a musterd database only). */
struct diversion {
	int64_t incident, at, lost_ms;
	char *type, *from, *to, *reason;
};

/* Everything one report run holds. */
struct rep {
	const struct report_opts *o;
	const char *path;
	const char *slice;    /* NULL for no --by */
	int slice_attr;	      /* A_* for call slices, -1 otherwise */
	int by_kind, by_dept; /* response slices */
	int by_hour, by_day;  /* time slices */
	struct group total;
	struct gtab groups;
	int64_t first_received, last_received;
	long exercise_left_out;
	/* The extras of the JSON and HTML reports. */
	int extras;
	int zone_attr; /* A_STREET, A_COMMUNITY or A_GRID; -1: the finest known of each call */
	struct gtab zones, depts;
	struct ringline *rl;
	size_t n_rl;
	struct miss *misses;
	size_t n_misses, cap_misses;
	long misses_total;
	long by_reason[REPORT_REASONS]; /* misses by delay reason; [0]: none given */
	int daemon_db;			/* whistles and diversions are known */
	struct whistle_row *wh;
	size_t n_wh;
	struct diversion *dv;
	size_t n_dv;
	int64_t *lost; /* the diversions' lost_ms, sorted */
};

/* The nearest-rank P-th percentile of the sorted values of S (which has values). */
int64_t report_pct(const struct seg_stat *s, int p);
/* Nearest-rank P-th percentile of N sorted values V. */
int64_t report_pct_of(const int64_t *v, size_t n, int p);
/* A duration as [-][h:]mm:ss[.mmm] in BUF. */
const char *report_fmt_dur(int64_t ms, char *buf, size_t size);
/* A wall time as "YYYY-MM-DD hh:mm:ss" in BUF ("-" for NONE). */
const char *report_fmt_time(int64_t ms, char *buf, size_t size);
/* The name of delay reason CODE ("road_blocked"), "none given" for 0, or "code N". */
const char *report_reason_name(int code, char *buf, size_t size);
/* The status colour of a zone: "green", "yellow", "orange" or "red", or "grey" when none of
 * its calls has a response value. */
const char *report_zone_status(const struct rep *R, const struct group *z);
/* The departments in ranking order (a new array of R->depts.n pointers; caller frees). */
struct group **report_ranking(const struct rep *R);
/* The combined ring compliance of G: met and judged (pairs less no-arrival and negative). */
void report_ring_sum(const struct group *g, long *met, long *judged, long *no_arrival);

/* Writes the self-contained HTML report. Returns 0, or -1 on a write error. */
int report_print_html(const struct rep *R, FILE *out);

#endif
