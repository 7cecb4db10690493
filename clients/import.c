/* import: a roster CSV becomes a libconfig list that cfg then validates like any roster
 * entry (department, station and agent references included). libcsv parses the CSV (quotes,
 * embedded delimiters and newlines); this file only maps columns and checks values. */
#include "import.h"
#include "util.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMPORT_MAX_COLS 64
#define IMPORT_MAX_ERRORS 50

/* One column muster knows, and whether a row must have it. */
struct import_col {
	const char *name;
	int required;
	int kind; /* IMPORT_TEXT, IMPORT_INT, IMPORT_COORD, IMPORT_LIST */
};

enum { IMPORT_TEXT, IMPORT_INT, IMPORT_LAT, IMPORT_LON, IMPORT_LIST };

static const struct import_col import_units[] = {
    {"id", 1, IMPORT_TEXT},
    {"department", 1, IMPORT_TEXT},
    {"kind", 1, IMPORT_TEXT},
    {"station", 1, IMPORT_TEXT},
    {"name", 0, IMPORT_TEXT},
    {"agent", 0, IMPORT_TEXT},
    {"people", 0, IMPORT_INT},
    {"skills", 0, IMPORT_LIST},
    {"lat", 0, IMPORT_LAT},
    {"lon", 0, IMPORT_LON},
    {NULL, 0, 0},
};

static const struct import_col import_people[] = {
    {"id", 1, IMPORT_TEXT},	{"department", 1, IMPORT_TEXT},
    {"role", 1, IMPORT_TEXT},	{"name", 0, IMPORT_TEXT},
    {"rank", 0, IMPORT_TEXT},	{"unit", 0, IMPORT_TEXT},
    {"skills", 0, IMPORT_LIST}, {NULL, 0, 0},
};

/* The state of one import, shared by libcsv's callbacks. */
struct import {
	const char *path;
	const struct import_col *cols; /* the table's known columns */
	FILE *out;
	long row;		       /* current record, 1 = header */
	char *fields[IMPORT_MAX_COLS]; /* the current record's fields */
	size_t n_fields;
	int too_many;		  /* the record had more fields than we keep */
	int map[IMPORT_MAX_COLS]; /* CSV column -> index in cols, or -1 */
	size_t n_header;
	int header_done;
	int fatal; /* stop: the header is unusable */
	long written;
	struct strbuf errors;
	int n_errors;
};

/* Records a problem at the current row. */
static void __attribute__((format(printf, 2, 3)))
import_error(struct import *im, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	if (++im->n_errors > IMPORT_MAX_ERRORS) {
		if (im->n_errors == IMPORT_MAX_ERRORS + 1)
			strbuf_addf(&im->errors, "%s: more than %d problems; stopping the list\n",
				    im->path, IMPORT_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	strbuf_addf(&im->errors, "%s:%ld: %s\n", im->path, im->row, buf);
}

/* Writes S as a libconfig string literal. */
static void
import_put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* Returns the field of known column NAME in the current record, or NULL when absent/empty. */
static const char *
import_get(struct import *im, const char *name)
{
	size_t i;

	for (i = 0; i < im->n_fields && i < im->n_header; i++)
		if (im->map[i] >= 0 && strcmp(im->cols[im->map[i]].name, name) == 0)
			return im->fields[i][0] ? im->fields[i] : NULL;
	return NULL;
}

/* Takes the header: maps each column by name; names the missing required ones. */
static void
import_header(struct import *im)
{
	size_t i, k;
	int found[IMPORT_MAX_COLS] = {0};

	im->n_header = im->n_fields;
	if (im->n_fields == 1 && (strchr(im->fields[0], ';') || strchr(im->fields[0], '\t') ||
				  strchr(im->fields[0], ',')))
		import_error(im,
			     "the header has one column, \"%.60s\": is the delimiter wrong? "
			     "(--delimiter)",
			     im->fields[0]);
	for (i = 0; i < im->n_fields; i++) {
		char *f = im->fields[i];

		/* A UTF-8 byte-order mark on the first column is not part of its name. */
		if (i == 0 && (unsigned char)f[0] == 0xef && (unsigned char)f[1] == 0xbb &&
		    (unsigned char)f[2] == 0xbf)
			memmove(f, f + 3, strlen(f + 3) + 1);
		im->map[i] = -1;
		for (k = 0; im->cols[k].name; k++)
			if (strcasecmp(f, im->cols[k].name) == 0) {
				if (found[k])
					import_error(im, "column '%s' appears twice", f);
				im->map[i] = (int)k;
				found[k] = 1;
			}
		if (im->map[i] < 0)
			fprintf(stderr,
				"muster: %s: column '%s' is not one muster knows; ignored\n",
				im->path, f);
	}
	for (k = 0; im->cols[k].name; k++)
		if (im->cols[k].required && !found[k])
			import_error(im, "required column '%s' is missing", im->cols[k].name);
	if (im->n_errors)
		im->fatal = 1;
	im->header_done = 1;
}

/* Checks a whole number; returns 0 and *V, or -1. */
static int
import_int(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || end == s || *end != '\0' || *v < 0 ? -1 : 0;
}

/* Checks a coordinate within +-LIMIT; returns 0 and *V, or -1. */
static int
import_coord(const char *s, double limit, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end != '\0' || !isfinite(*v) || fabs(*v) > limit ? -1 : 0;
}

/* Writes a list column ("a;b|c d") as a libconfig array of strings. */
static void
import_put_list(FILE *out, const char *s)
{
	char *copy = xstrdup(s), *save = NULL, *tok;
	int first = 1;

	fputs("[ ", out);
	for (tok = strtok_r(copy, ";| ", &save); tok; tok = strtok_r(NULL, ";| ", &save)) {
		if (!first)
			fputs(", ", out);
		import_put_string(out, tok);
		first = 0;
	}
	fputs(" ]", out);
	free(copy);
}

/* Checks one data record and writes its entry. */
static void
import_record(struct import *im)
{
	size_t k;
	int bad = 0;
	const char *lat, *lon, *dept;
	long v;
	double d;

	if (im->n_fields == 1 && im->fields[0][0] == '\0')
		return; /* a blank line */
	if (im->too_many || im->n_fields != im->n_header) {
		import_error(im, "%zu fields, but the header has %zu", im->n_fields, im->n_header);
		return;
	}
	for (k = 0; im->cols[k].name; k++) {
		const char *f = import_get(im, im->cols[k].name);

		if (f == NULL) {
			if (im->cols[k].required) {
				import_error(im, "'%s' is empty", im->cols[k].name);
				bad = 1;
			}
			continue;
		}
		if (im->cols[k].kind == IMPORT_INT && import_int(f, &v) != 0) {
			import_error(im, "%s '%.40s' is not a whole number", im->cols[k].name, f);
			bad = 1;
		} else if (im->cols[k].kind == IMPORT_LAT && import_coord(f, 90, &d) != 0) {
			import_error(im, "lat '%.40s' is not a latitude (-90..90)", f);
			bad = 1;
		} else if (im->cols[k].kind == IMPORT_LON && import_coord(f, 180, &d) != 0) {
			import_error(im, "lon '%.40s' is not a longitude (-180..180)", f);
			bad = 1;
		}
	}
	lat = import_get(im, "lat");
	lon = import_get(im, "lon");
	if ((lat == NULL) != (lon == NULL)) {
		import_error(im, "give both lat and lon, or neither");
		bad = 1;
	}
	if (bad || im->n_errors)
		return; /* keep checking, but write nothing once anything is wrong */
	fprintf(im->out, "%s\t{ # %s:%ld\n\t  ", im->written ? ",\n" : "", im->path, im->row);
	for (k = 0; im->cols[k].name; k++) {
		const char *f = import_get(im, im->cols[k].name);

		if (f == NULL)
			continue;
		fprintf(im->out, "%s = ", im->cols[k].name);
		if (im->cols[k].kind == IMPORT_TEXT)
			import_put_string(im->out, f);
		else if (im->cols[k].kind == IMPORT_LIST)
			import_put_list(im->out, f);
		else if (im->cols[k].kind == IMPORT_INT)
			fputs(f, im->out);
		else /* libconfig reads "30" as an integer: a coordinate must look like a float */
			fprintf(im->out, "%s%s", f, strpbrk(f, ".eE") ? "" : ".0");
		fputs("; ", im->out);
	}
	dept = import_get(im, "department");
	if (im->cols == import_units && import_get(im, "agent") == NULL) {
		/* Each department's own agent speaks for its units unless the export says. */
		fputs("agent = ", im->out);
		{
			char *a = xasprintf("agent:%s", dept);

			import_put_string(im->out, a);
			free(a);
		}
		fputs("; ", im->out);
	}
	fputs("}", im->out);
	im->written++;
}

/* libcsv: one field of the current record. */
static void
import_field_cb(void *data, size_t len, void *arg)
{
	struct import *im = arg;

	if (im->n_fields >= IMPORT_MAX_COLS) {
		im->too_many = 1;
		return;
	}
	im->fields[im->n_fields] = xmalloc(len + 1);
	memcpy(im->fields[im->n_fields], data, len);
	im->fields[im->n_fields][len] = '\0';
	im->n_fields++;
}

/* libcsv: the end of a record. */
static void
import_row_cb(int term, void *arg)
{
	struct import *im = arg;
	size_t i;

	im->row++;
	if (!im->fatal) {
		if (!im->header_done)
			import_header(im);
		else
			import_record(im);
	}
	for (i = 0; i < im->n_fields; i++)
		free(im->fields[i]);
	im->n_fields = 0;
	im->too_many = 0;
}

long
import_roster_csv(const char *path, const char *table, char delim, FILE *out, char **errors)
{
	struct import im;
	struct csv_parser p;
	FILE *in;
	char buf[65536];
	size_t n;

	memset(&im, 0, sizeof im);
	*errors = NULL;
	im.path = path;
	im.out = out;
	if (strcmp(table, "units") == 0)
		im.cols = import_units;
	else if (strcmp(table, "people") == 0)
		im.cols = import_people;
	else {
		*errors = xasprintf("unknown table '%s' (units or people)", table);
		return -1;
	}
	in = fopen(path, "rb");
	if (in == NULL) {
		*errors = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
		fclose(in);
		*errors = xstrdup("cannot initialise the CSV parser");
		return -1;
	}
	csv_set_delim(&p, (unsigned char)delim);
	fprintf(out,
		"# Imported by `muster import roster-csv` from %s.\n"
		"# Include it in roster.conf with: @include \"<this file>\"\n%s = (\n",
		path, table);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
		if (csv_parse(&p, buf, n, import_field_cb, import_row_cb, &im) != n) {
			im.row++;
			import_error(&im, "CSV syntax: %s", csv_strerror(csv_error(&p)));
			break;
		}
	}
	if (ferror(in)) {
		im.row++;
		import_error(&im, "read error: %s", strerror(errno));
	}
	if (im.n_errors == 0 && csv_fini(&p, import_field_cb, import_row_cb, &im) != 0) {
		im.row++;
		import_error(&im, "CSV syntax at the end of the file: %s (truncated?)",
			     csv_strerror(csv_error(&p)));
	}
	for (n = 0; n < im.n_fields; n++)
		free(im.fields[n]);
	csv_free(&p);
	fclose(in);
	if (im.row == 0 && im.n_errors == 0) {
		im.row = 1;
		import_error(&im, "the file is empty (a header row is needed)");
	}
	fprintf(out, "\n);\n");
	if (im.n_errors) {
		*errors = im.errors.s;
		return -1;
	}
	strbuf_finish(&im.errors);
	return im.written;
}
