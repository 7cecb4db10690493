/* cadimport: a dispatch (CAD) export in CSV becomes an analysis database (report.h's schema):
 * columns mapped by name through a layout, the file streamed, nothing written unless the whole
 * file is good. */
#ifndef MUSTER_CADIMPORT_H
#define MUSTER_CADIMPORT_H

/* What an import did. */
struct cadimport_stats {
	long rows;	/* data records read */
	long calls;	/* distinct calls written */
	long responses; /* responses (unit rows) written */
};

/* Imports the CSV file PATH into a new analysis database OUT (written as OUT.tmp, renamed over
 * OUT only when every row is good). LAYOUT is "sf" (the built-in San Francisco "Fire Department
 * Calls for Service" layout; also the default when NULL) or the path of a layout file (libconfig;
 * see docs/metrics.md). Notes (ignored columns, unmapped optional fields) go to stderr.
 * Returns 0 and *STATS, or -1 with *ERRORS a new string (caller frees) of "file:row: what" lines
 * (row 1 is the header). */
int cadimport_run(const char *path, const char *layout, const char *out,
		  struct cadimport_stats *stats, char **errors);

#endif
