/* gauge: what the daemon holds (memory, open incidents, active orders, sessions, the size of
 * a batch, the database) and the highest each has been since start. A gauge that rises past
 * its last reported mark by a quarter is reported once, as a resource.high_water event, so
 * that growth is visible without an event per message (docs/operations.md, "Resources"). */
#ifndef MUSTER_GAUGE_H
#define MUSTER_GAUGE_H

#include <stdint.h>

enum gauge_id {
	GAUGE_RSS = 0,	      /* resident memory, KiB */
	GAUGE_OPEN_INCIDENTS, /* incidents being mustered (linked reports are not) */
	GAUGE_ACTIVE_ORDERS,  /* orders not yet final, held in memory */
	GAUGE_AGENT_SESSIONS, /* agents with a live session */
	GAUGE_BATCH_MESSAGES, /* messages handled in one loop iteration (one commit) */
	GAUGE_BATCH_SENDS,    /* messages sent after one commit */
	GAUGE_DB_PAGES,	      /* pages in the database file */
	GAUGE_WAL_PAGES,      /* pages in the write-ahead log after the last commit */
	GAUGE_N,
};

struct gauges {
	int64_t value[GAUGE_N]; /* the last reading; -1: could not be read */
	int64_t high[GAUGE_N];	/* the highest reading since start */
	int64_t told[GAUGE_N];	/* the highest reading reported as an event */
	int64_t limit[GAUGE_N]; /* the configured limit, 0: none */
};

/* The gauge's name and unit, as in events and StatusReply. */
const char *gauge_name(enum gauge_id g);
const char *gauge_unit(enum gauge_id g);

/* Records reading V of gauge G (V < 0: could not be read, which is never a mark). */
void gauge_set(struct gauges *s, enum gauge_id g, int64_t v);

/* Returns 1 when G's high-water mark has risen past what was last reported by a quarter (and
 * past the gauge's floor), marking it reported; *PREV is then the previous reported mark. */
int gauge_report_due(struct gauges *s, enum gauge_id g, int64_t *prev);

/* Returns this process's resident memory in KiB, or -1 when /proc cannot tell. */
int64_t gauge_rss_kib(void);

#endif
