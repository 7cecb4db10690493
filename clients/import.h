/* import: turns exports from other systems into muster's files (roster CSV to libconfig). */
#ifndef MUSTER_IMPORT_H
#define MUSTER_IMPORT_H

#include <stdio.h>

/* Reads the CSV file PATH (fields separated by DELIM), whose first row names the columns,
 * and writes to OUT one libconfig setting, `units = ( ... );` or `people = ( ... );` as TABLE
 * says, for roster.conf to @include. Columns are matched by name, whatever their order; a
 * missing required column is named, an unknown one is reported and ignored. The file is
 * streamed, never held whole. Returns the number of entries written, or -1 with *ERRORS a
 * new string (caller frees) of "file:row: what" lines (row 1 is the header). */
long import_roster_csv(const char *path, const char *table, char delim, FILE *out, char **errors);

#endif
