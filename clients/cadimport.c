/* cadimport: a CAD export in CSV becomes an analysis database. libcsv streams the file (quotes,
 * embedded delimiters and newlines); each record is checked and written at once into one SQLite
 * transaction on OUT.tmp, which is renamed over OUT only when every record was good. Columns are
 * found by name through a layout: the built-in San Francisco one or a libconfig file. */
#include "cadimport.h"
#include "conf.h"
#include "report.h"
#include "util.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CAD_MAX_COLS 1024
#define CAD_MAX_ERRORS 50
#define CAD_MAX_NAMES 16

/* The fields of the analysis schema an export's columns can fill. */
enum {
	F_CALL_ID,
	F_TYPE,
	F_TIER,
	F_PRIORITY,
	F_RECEIVED,
	F_ENTERED,
	F_STREET,
	F_COMMUNITY,
	F_GRID,
	F_LOCATION,
	F_LAT,
	F_LON,
	F_EXERCISE,
	F_UNIT,
	F_KIND,
	F_DEPARTMENT,
	F_ORDERED,
	F_RECEIPT,
	F_EN_ROUTE,
	F_ON_SCENE,
	F_CLEARED,
	F_RING,
	F_DELAY,
	F_N
};

/* How a field's text is read. */
enum { K_TEXT, K_INT, K_TIER, K_TIME, K_LOCATION, K_LAT, K_LON, K_BOOL };

/* One field: its name in layout files and how its values are read. */
struct cad_field {
	const char *key;
	int kind;
};

static const struct cad_field cad_fields[F_N] = {
    [F_CALL_ID] = {"call_id", K_TEXT},
    [F_TYPE] = {"type", K_TEXT},
    [F_TIER] = {"tier", K_TIER},
    [F_PRIORITY] = {"priority", K_TEXT},
    [F_RECEIVED] = {"received", K_TIME},
    [F_ENTERED] = {"entered", K_TIME},
    [F_STREET] = {"street", K_TEXT},
    [F_COMMUNITY] = {"community", K_TEXT},
    [F_GRID] = {"grid", K_TEXT},
    [F_LOCATION] = {"location", K_LOCATION},
    [F_LAT] = {"lat", K_LAT},
    [F_LON] = {"lon", K_LON},
    [F_EXERCISE] = {"exercise", K_BOOL},
    [F_UNIT] = {"unit", K_TEXT},
    [F_KIND] = {"kind", K_TEXT},
    [F_DEPARTMENT] = {"department", K_TEXT},
    [F_ORDERED] = {"ordered", K_TIME},
    [F_RECEIPT] = {"receipt", K_TIME},
    [F_EN_ROUTE] = {"en_route", K_TIME},
    [F_ON_SCENE] = {"on_scene", K_TIME},
    [F_CLEARED] = {"cleared", K_TIME},
    [F_RING] = {"ring_s", K_INT},
    [F_DELAY] = {"delay_reason", K_INT},
};

/* A layout: for each field the column names accepted (first found wins), fixed values, which
 * fields are required, the delimiter and the time format. */
struct cad_layout {
	const char *name;
	char delim;
	const char *time_format;
	const char *names[F_N][CAD_MAX_NAMES + 1]; /* NULL-terminated */
	const char *fixed[F_N];			   /* a value for every row, when no column */
	int required[F_N];
	config_t cf; /* a layout file's strings live here */
	int has_cf;
};

/* The built-in layout: San Francisco "Fire Department Calls for Service" (data.sfgov.org), with
 * the header spellings of its different extracts (the CSV export, the API's snake_case). */
static void
cad_layout_sf(struct cad_layout *L)
{
	static const char *const community[] = {
	    "Neighborhooods - Analysis Boundaries", /* sic: the export's spelling */
	    "Neighborhoods - Analysis Boundaries",
	    "Analysis Neighborhoods",
	    "Analysis Neighborhood",
	    "Neighborhood District",
	    "Neighborhoods",
	    "Neighborhood",
	    NULL};
	static const char *const priority[] = {"Priority", "Original Priority", "Final Priority",
					       NULL};
	static const char *const location[] = {"Location", "Case Location", NULL};
	static const struct {
		int f;
		const char *name;
	} one[] = {
	    {F_CALL_ID, "Call Number"},
	    {F_TYPE, "Call Type"},
	    {F_RECEIVED, "Received DtTm"},
	    {F_ENTERED, "Entry DtTm"},
	    {F_STREET, "Supervisor District"},
	    {F_GRID, "Box"},
	    {F_UNIT, "Unit ID"},
	    {F_KIND, "Unit Type"},
	    {F_ORDERED, "Dispatch DtTm"},
	    {F_EN_ROUTE, "Response DtTm"},
	    {F_ON_SCENE, "On Scene DtTm"},
	    {F_CLEARED, "Available DtTm"},
	};
	static const int required[] = {F_CALL_ID, F_UNIT,     F_RECEIVED, F_ENTERED,
				       F_ORDERED, F_EN_ROUTE, F_ON_SCENE};
	size_t i;

	L->name = "sf";
	L->delim = ',';
	L->time_format = "%m/%d/%Y %I:%M:%S %p";
	for (i = 0; i < sizeof one / sizeof one[0]; i++)
		L->names[one[i].f][0] = one[i].name;
	for (i = 0; community[i]; i++)
		L->names[F_COMMUNITY][i] = community[i];
	for (i = 0; priority[i]; i++)
		L->names[F_PRIORITY][i] = priority[i];
	for (i = 0; location[i]; i++)
		L->names[F_LOCATION][i] = location[i];
	L->fixed[F_DEPARTMENT] = "SFFD";
	for (i = 0; i < sizeof required / sizeof required[0]; i++)
		L->required[required[i]] = 1;
}

/* Returns the field whose layout key is KEY, or -1. */
static int
cad_field_find(const char *key)
{
	int f;

	for (f = 0; f < F_N; f++)
		if (strcmp(cad_fields[f].key, key) == 0)
			return f;
	return -1;
}

/* Reads the column names of field F from member M (a string or a list of strings). */
static void
cad_layout_names(struct conf *x, struct cad_layout *L, int f, const config_setting_t *m)
{
	int i, n;

	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		if (config_setting_get_string(m)[0] == '\0')
			conf_error_at(x, m, "columns: '%s' must not be empty", cad_fields[f].key);
		else
			L->names[f][0] = config_setting_get_string(m);
		return;
	}
	if (!config_setting_is_array(m) && !config_setting_is_list(m)) {
		conf_error_at(x, m, "columns: '%s' must be a column name or a list of them",
			      cad_fields[f].key);
		return;
	}
	n = config_setting_length(m);
	if (n == 0 || n > CAD_MAX_NAMES) {
		conf_error_at(x, m, "columns: '%s' must list 1 to %d column names",
			      cad_fields[f].key, CAD_MAX_NAMES);
		return;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    config_setting_get_string(e)[0] == '\0') {
			conf_error_at(x, e, "columns: '%s' must hold non-empty strings only",
				      cad_fields[f].key);
			return;
		}
		L->names[f][i] = config_setting_get_string(e);
	}
}

/* Loads the layout file PATH into L. Returns 0, or -1 with *ERRORS (caller frees). */
static int
cad_layout_load(struct cad_layout *L, const char *path, char **errors)
{
	static const char *const top[] = {"name",  "delimiter", "time_format", "columns",
					  "fixed", "required",	NULL};
	static const int def_required[] = {F_CALL_ID, F_UNIT, F_RECEIVED, F_ORDERED, F_ON_SCENE};
	struct strbuf eb = {0};
	struct conf x = {.errors = &eb, .file = path};
	const config_setting_t *root, *cols, *fixed, *req;
	const char *s;
	int i, n, f, bad = 0;
	size_t k;

	config_init(&L->cf);
	L->has_cf = 1;
	if (conf_parse_file(&x, &L->cf, path) != 0)
		goto fail;
	root = config_root_setting(&L->cf);
	conf_check_members(&x, root, top, "a cad-csv layout");
	L->name = path;
	if (conf_string(&x, root, "name", 0, "layout", &s) == 1)
		L->name = s;
	L->delim = ',';
	if (conf_string(&x, root, "delimiter", 0, "layout", &s) == 1) {
		if (strcmp(s, "tab") == 0 || strcmp(s, "\t") == 0)
			L->delim = '\t';
		else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
			L->delim = s[0];
		else
			conf_error_at(&x, conf_where(root, "delimiter"),
				      "layout: 'delimiter' must be one character, or \"tab\"");
	}
	(void)conf_string(&x, root, "time_format", 1, "layout", &L->time_format);
	cols = config_setting_get_member(root, "columns");
	if (cols == NULL || !config_setting_is_group(cols)) {
		conf_error_at(
		    &x, cols ? cols : root,
		    "layout: 'columns' must be a group: columns = { call_id = \"...\"; }");
	} else {
		n = config_setting_length(cols);
		for (i = 0; i < n; i++) {
			const config_setting_t *m = config_setting_get_elem(cols, (unsigned)i);

			f = cad_field_find(config_setting_name(m));
			if (f < 0)
				conf_error_at(&x, m, "columns: unknown field '%s'",
					      config_setting_name(m));
			else
				cad_layout_names(&x, L, f, m);
		}
	}
	fixed = config_setting_get_member(root, "fixed");
	if (fixed != NULL) {
		n = config_setting_is_group(fixed) ? config_setting_length(fixed) : 0;
		if (!config_setting_is_group(fixed))
			conf_error_at(&x, fixed, "layout: 'fixed' must be a group of strings");
		for (i = 0; i < n; i++) {
			const config_setting_t *m = config_setting_get_elem(fixed, (unsigned)i);

			f = cad_field_find(config_setting_name(m));
			if (f < 0 || cad_fields[f].kind != K_TEXT || f == F_CALL_ID || f == F_UNIT)
				conf_error_at(&x, m,
					      "fixed: '%s' is not a text field that may be fixed",
					      config_setting_name(m));
			else if (config_setting_type(m) != CONFIG_TYPE_STRING)
				conf_error_at(&x, m, "fixed: '%s' must be a string",
					      config_setting_name(m));
			else
				L->fixed[f] = config_setting_get_string(m);
		}
	}
	req = conf_strings(&x, root, "required", "layout", &bad);
	if (req != NULL) {
		n = config_setting_length(req);
		for (i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(req, (unsigned)i);

			f = cad_field_find(config_setting_get_string(e));
			if (f < 0)
				conf_error_at(&x, e, "required: unknown field '%s'",
					      config_setting_get_string(e));
			else
				L->required[f] = 1;
		}
	} else if (!bad) {
		for (k = 0; k < sizeof def_required / sizeof def_required[0]; k++)
			L->required[def_required[k]] = 1;
	}
	L->required[F_CALL_ID] = 1;
	for (f = 0; f < F_N; f++)
		if (L->required[f] && L->names[f][0] == NULL)
			conf_error_at(&x, cols ? cols : root,
				      "columns: required field '%s' has no column names",
				      cad_fields[f].key);
	if (x.n_errors == 0)
		return 0;
fail:
	*errors = eb.s;
	return -1;
}

/* Returns NAME lowercased with everything but letters and digits left out, into BUF. */
static const char *
cad_norm(const char *name, char *buf, size_t size)
{
	size_t n = 0;

	for (; *name && n + 1 < size; name++)
		if (isalnum((unsigned char)*name))
			buf[n++] = (char)tolower((unsigned char)*name);
	buf[n] = '\0';
	return buf;
}

/* Describes time format FMT for people: "%m/%d/%Y" becomes "MM/DD/YYYY". */
static char *
cad_time_example(const char *fmt)
{
	struct strbuf b = {0};

	for (; *fmt; fmt++) {
		if (*fmt != '%' || fmt[1] == '\0') {
			strbuf_addf(&b, "%c", *fmt);
			continue;
		}
		switch (*++fmt) {
		case 'Y':
			strbuf_addf(&b, "YYYY");
			break;
		case 'm':
			strbuf_addf(&b, "MM");
			break;
		case 'd':
			strbuf_addf(&b, "DD");
			break;
		case 'H':
		case 'I':
			strbuf_addf(&b, "hh");
			break;
		case 'M':
			strbuf_addf(&b, "mm");
			break;
		case 'S':
			strbuf_addf(&b, "ss");
			break;
		case 'f':
			strbuf_addf(&b, "fff");
			break;
		case 'p':
			strbuf_addf(&b, "AM");
			break;
		default:
			strbuf_addf(&b, "%c", *fmt);
		}
	}
	return b.s ? b.s : xstrdup("");
}

/* Checks that FMT uses only the conversions cad_time knows. Returns 0, or -1. */
static int
cad_time_format_ok(const char *fmt)
{
	int has_I = 0, has_p = 0, has_ymd = 0;

	for (; *fmt; fmt++) {
		if (*fmt != '%')
			continue;
		fmt++;
		if (*fmt == '\0' || strchr("YmdHIMSfp%", *fmt) == NULL)
			return -1;
		has_I |= *fmt == 'I';
		has_p |= *fmt == 'p';
		has_ymd += *fmt == 'Y' || *fmt == 'm' || *fmt == 'd';
	}
	return has_I == has_p && has_ymd == 3 ? 0 : -1;
}

/* Reads 1 to MAXD digits (exactly MAXD when EXACT) at *S into *V, advancing *S. */
static int
cad_digits(const char **s, int maxd, int exact, int *v)
{
	int n = 0;

	*v = 0;
	while (n < maxd && isdigit((unsigned char)**s)) {
		*v = *v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n == 0 || (exact && n != maxd) ? -1 : 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t
cad_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Parses S by FMT (%Y %m %d %H %I %M %S %f %p, other characters literal) into milliseconds since
 * the epoch, the wall time read as if it were UTC (no time zone is applied). Returns 0, or -1. */
static int
cad_time(const char *fmt, const char *s, int64_t *ms)
{
	int y = -1, mo = -1, d = -1, h = 0, mi = 0, sec = 0, frac = 0, pm = -1;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			if (*s != *fmt)
				return -1;
			s++;
			continue;
		}
		switch (*++fmt) {
		case 'Y':
			if (cad_digits(&s, 4, 1, &y) != 0)
				return -1;
			break;
		case 'm':
			if (cad_digits(&s, 2, 0, &mo) != 0)
				return -1;
			break;
		case 'd':
			if (cad_digits(&s, 2, 0, &d) != 0)
				return -1;
			break;
		case 'H':
		case 'I':
			if (cad_digits(&s, 2, 0, &h) != 0)
				return -1;
			break;
		case 'M':
			if (cad_digits(&s, 2, 0, &mi) != 0)
				return -1;
			break;
		case 'S':
			if (cad_digits(&s, 2, 0, &sec) != 0)
				return -1;
			break;
		case 'f': {
			int n = 0;

			if (!isdigit((unsigned char)*s))
				return -1;
			for (; isdigit((unsigned char)*s); s++, n++)
				if (n < 3)
					frac = frac * 10 + (*s - '0');
			for (; n < 3; n++)
				frac *= 10;
			break;
		}
		case 'p':
			if (strncasecmp(s, "AM", 2) == 0)
				pm = 0;
			else if (strncasecmp(s, "PM", 2) == 0)
				pm = 1;
			else
				return -1;
			s += 2;
			break;
		default: /* '%' */
			if (*s != '%')
				return -1;
			s++;
		}
	}
	if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 || mi > 59 || sec > 59)
		return -1;
	if (d > mdays[mo - 1] + (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	if (pm >= 0) {
		if (h < 1 || h > 12)
			return -1;
		h = h % 12 + (pm ? 12 : 0);
	} else if (h > 23) {
		return -1;
	}
	*ms = ((cad_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac;
	return 0;
}

/* Reads a coordinate within +-LIMIT at *S, advancing *S. Returns 0, or -1. */
static int
cad_coord(const char **s, double limit, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(*s, &end);
	if (errno || end == *s || !isfinite(*v) || fabs(*v) > limit)
		return -1;
	*s = end;
	return 0;
}

/* Skips spaces at *S. */
static void
cad_skip(const char **s)
{
	while (**s == ' ')
		(*s)++;
}

/* Parses a location "(lat, lon)", "lat, lon" or WKT "POINT (lon lat)". Returns 0, or -1. */
static int
cad_location(const char *s, double *lat, double *lon)
{
	int paren = 0;

	if (strncasecmp(s, "POINT", 5) == 0) {
		s += 5;
		cad_skip(&s);
		if (*s++ != '(' || cad_coord(&s, 180, lon) != 0)
			return -1;
		cad_skip(&s);
		if (cad_coord(&s, 90, lat) != 0)
			return -1;
		cad_skip(&s);
		return *s == ')' && s[1] == '\0' ? 0 : -1;
	}
	if (*s == '(') {
		paren = 1;
		s++;
	}
	cad_skip(&s);
	if (cad_coord(&s, 90, lat) != 0)
		return -1;
	cad_skip(&s);
	if (*s++ != ',')
		return -1;
	cad_skip(&s);
	if (cad_coord(&s, 180, lon) != 0)
		return -1;
	cad_skip(&s);
	if (paren && *s++ != ')')
		return -1;
	return *s == '\0' ? 0 : -1;
}

/* One value of the current record, as read. */
struct cad_val {
	int set;
	const char *text;
	int64_t i; /* K_INT, K_TIER, K_BOOL, K_TIME (ms) */
	double lat, lon;
};

/* The state of one import, shared by libcsv's callbacks. */
struct cad {
	const char *path;
	struct cad_layout *L;
	char *time_example;
	sqlite3 *db;
	sqlite3_stmt *ins_call, *ins_resp;
	long row; /* current record, 1 = header */
	char **fields;
	size_t *caps;
	size_t n_fields, n_slots;
	int too_many;
	size_t n_header;
	char **header; /* the header's names, for messages */
	int col[F_N];  /* the header column of each field, or -1 */
	int header_done;
	int fatal;
	struct strbuf errors;
	int n_errors;
	int write_failed;
	struct cadimport_stats st;
};

/* Records a problem at the current row. */
static void __attribute__((format(printf, 2, 3))) cad_error(struct cad *c, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	if (++c->n_errors > CAD_MAX_ERRORS) {
		if (c->n_errors == CAD_MAX_ERRORS + 1)
			strbuf_addf(&c->errors, "%s: more than %d problems; stopping the list\n",
				    c->path, CAD_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	strbuf_addf(&c->errors, "%s:%ld: %s\n", c->path, c->row, buf);
}

/* Describes field F's column names for a message: "'A' (or 'B')". */
static char *
cad_names_text(const struct cad_layout *L, int f)
{
	struct strbuf b = {0};
	int i;

	for (i = 0; L->names[f][i]; i++)
		strbuf_addf(&b, "%s'%s'", i == 0 ? "" : i == 1 ? " (or " : ", ", L->names[f][i]);
	if (i > 1)
		strbuf_addf(&b, ")");
	return b.s ? b.s : xstrdup("");
}

/* Takes the header: finds each field's column by name; names the missing required ones. */
static void
cad_header(struct cad *c)
{
	char a[256], b[256];
	size_t i, used = 0;
	int f, k;
	int *is_used = xcalloc(c->n_fields ? c->n_fields : 1, sizeof *is_used);
	struct strbuf ignored = {0};

	c->n_header = c->n_fields;
	c->header = xcalloc(c->n_fields ? c->n_fields : 1, sizeof *c->header);
	for (f = 0; f < F_N; f++)
		c->col[f] = -1;
	for (i = 0; i < c->n_fields; i++) {
		char *h = c->fields[i];

		/* A UTF-8 byte-order mark on the first column is not part of its name. */
		if (i == 0 && (unsigned char)h[0] == 0xef && (unsigned char)h[1] == 0xbb &&
		    (unsigned char)h[2] == 0xbf)
			memmove(h, h + 3, strlen(h + 3) + 1);
		c->header[i] = xstrdup(h);
	}
	if (c->n_fields == 1 && (strchr(c->header[0], ';') || strchr(c->header[0], '\t') ||
				 strchr(c->header[0], ',') || strchr(c->header[0], '|'))) {
		cad_error(
		    c,
		    "the header has one column, \"%.60s\": is the delimiter wrong? (the layout "
		    "says '%s')",
		    c->header[0], c->L->delim == '\t' ? "tab" : (char[]){c->L->delim, 0});
		goto done;
	}
	for (f = 0; f < F_N; f++) {
		for (k = 0; c->L->names[f][k] && c->col[f] < 0; k++) {
			cad_norm(c->L->names[f][k], a, sizeof a);
			for (i = 0; i < c->n_header; i++) {
				if (strcmp(cad_norm(c->header[i], b, sizeof b), a) != 0)
					continue;
				if (c->col[f] >= 0) {
					cad_error(c, "column '%s' appears twice", c->header[i]);
					break;
				}
				c->col[f] = (int)i;
			}
		}
		if (c->col[f] >= 0) {
			is_used[c->col[f]] = 1;
			continue;
		}
		if (c->L->names[f][0] == NULL)
			continue;
		{
			char *names = cad_names_text(c->L, f);

			if (c->L->required[f])
				cad_error(c, "required column %s (%s) is missing", names,
					  cad_fields[f].key);
			else
				fprintf(stderr, "muster: %s: no column %s: %s is left empty\n",
					c->path, names, cad_fields[f].key);
			free(names);
		}
	}
	for (i = 0; i < c->n_header; i++) {
		if (is_used[i]) {
			used++;
			continue;
		}
		strbuf_addf(&ignored, "%s'%s'", ignored.len ? ", " : "", c->header[i]);
	}
	if (ignored.len)
		fprintf(stderr, "muster: %s: %zu columns not used: %s\n", c->path,
			c->n_header - used, ignored.s);
	if (c->col[F_LOCATION] >= 0 && (c->col[F_LAT] >= 0 || c->col[F_LON] >= 0))
		fprintf(stderr,
			"muster: %s: both a location and lat/lon columns: the location is "
			"used where it is set\n",
			c->path);
	if ((c->col[F_LAT] >= 0) != (c->col[F_LON] >= 0) && c->col[F_LOCATION] < 0)
		cad_error(c, "a lat column needs a lon column, and the other way round");
done:
	strbuf_finish(&ignored);
	free(is_used);
	if (c->n_errors)
		c->fatal = 1;
	c->header_done = 1;
}

/* Trims spaces and tabs around S in place; returns S. */
static char *
cad_trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Reads field F of the current record into V; reports a bad value. Returns 0, or -1. */
static int
cad_read(struct cad *c, int f, struct cad_val *v)
{
	const char *col;
	char *s, *end;
	long long n;

	memset(v, 0, sizeof *v);
	if (c->col[f] < 0) {
		if (c->L->fixed[f] != NULL) {
			v->set = 1;
			v->text = c->L->fixed[f];
		}
		return 0;
	}
	s = cad_trim(c->fields[c->col[f]]);
	col = c->header[c->col[f]];
	if (*s == '\0')
		return 0;
	v->text = s;
	switch (cad_fields[f].kind) {
	case K_TEXT:
		break;
	case K_INT:
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno || end == s || *end != '\0' || n < 0 || n > INT32_MAX) {
			cad_error(c, "column '%s': '%.40s' is not a whole number", col, s);
			return -1;
		}
		v->i = n;
		break;
	case K_TIER:
		if (strcmp(s, "1") == 0 || strcmp(s, "I") == 0)
			v->i = 1;
		else if (strcmp(s, "2") == 0 || strcmp(s, "II") == 0)
			v->i = 2;
		else if (strcmp(s, "3") == 0 || strcmp(s, "III") == 0)
			v->i = 3;
		else {
			cad_error(c, "column '%s': '%.40s' is not a tier (1, 2, 3 or I, II, III)",
				  col, s);
			return -1;
		}
		break;
	case K_BOOL:
		if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 ||
		    strcasecmp(s, "yes") == 0 || strcasecmp(s, "y") == 0)
			v->i = 1;
		else if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 ||
			 strcasecmp(s, "no") == 0 || strcasecmp(s, "n") == 0)
			v->i = 0;
		else {
			cad_error(c, "column '%s': '%.40s' is not yes or no", col, s);
			return -1;
		}
		break;
	case K_TIME:
		if (cad_time(c->L->time_format, s, &v->i) != 0) {
			cad_error(c, "column '%s': '%.40s' is not a time like %s", col, s,
				  c->time_example);
			return -1;
		}
		break;
	case K_LOCATION:
		if (cad_location(s, &v->lat, &v->lon) != 0) {
			cad_error(c, "column '%s': '%.60s' is not a location like (lat, lon)", col,
				  s);
			return -1;
		}
		break;
	case K_LAT:
	case K_LON: {
		const char *p = s;

		if (cad_coord(&p, cad_fields[f].kind == K_LAT ? 90 : 180, &v->lat) != 0 ||
		    *p != '\0') {
			cad_error(c, "column '%s': '%.40s' is not a %s", col, s,
				  cad_fields[f].kind == K_LAT ? "latitude (-90..90)"
							      : "longitude (-180..180)");
			return -1;
		}
		break;
	}
	default:
		break;
	}
	v->set = 1;
	return 0;
}

/* Binds V (as field F reads) to parameter I of ST, NULL when unset. */
static int
cad_bind(sqlite3_stmt *st, int i, int f, const struct cad_val *v)
{
	if (!v->set)
		return sqlite3_bind_null(st, i);
	switch (cad_fields[f].kind) {
	case K_TEXT:
		return sqlite3_bind_text(st, i, v->text, -1, SQLITE_TRANSIENT);
	case K_LAT:
	case K_LON:
		return sqlite3_bind_double(st, i, v->lat);
	default:
		return sqlite3_bind_int64(st, i, v->i);
	}
}

/* Runs a bound statement to completion and resets it; reports a failure. Returns 0, or -1. */
static int
cad_step(struct cad *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (sqlite3_reset(st) != SQLITE_OK || rc != SQLITE_DONE) {
		cad_error(c, "cannot write the database: %s", sqlite3_errmsg(c->db));
		c->write_failed = 1;
		c->fatal = 1;
		return -1;
	}
	return 0;
}

/* Checks one data record and writes its call and response. */
static void
cad_record(struct cad *c)
{
	static const int call_fields[] = {F_CALL_ID, F_TYPE,   F_TIER,	    F_PRIORITY, F_RECEIVED,
					  F_ENTERED, F_STREET, F_COMMUNITY, F_GRID};
	static const int resp_fields[] = {F_UNIT,    F_KIND,	 F_DEPARTMENT, F_ORDERED,
					  F_RECEIPT, F_EN_ROUTE, F_ON_SCENE,   F_CLEARED,
					  F_RING,    F_DELAY};
	struct cad_val v[F_N];
	int f, bad = 0, rc = 0;
	size_t i;

	if (c->n_fields == 1 && cad_trim(c->fields[0])[0] == '\0')
		return; /* a blank line */
	c->st.rows++;
	if (c->too_many || c->n_fields != c->n_header) {
		cad_error(c, "%zu fields, but the header has %zu", c->n_fields, c->n_header);
		return;
	}
	for (f = 0; f < F_N; f++)
		if (cad_read(c, f, &v[f]) != 0)
			bad = 1;
	if (!bad && !v[F_CALL_ID].set) {
		cad_error(c, "column '%s' is empty", c->header[c->col[F_CALL_ID]]);
		bad = 1;
	}
	if (!bad && !v[F_LOCATION].set && v[F_LAT].set != v[F_LON].set) {
		cad_error(c, "give both lat and lon, or neither");
		bad = 1;
	}
	if (!bad && !v[F_UNIT].set) {
		for (f = 0; f < F_N; f++)
			if (cad_fields[f].kind == K_TIME && f != F_RECEIVED && f != F_ENTERED &&
			    v[f].set && c->col[f] >= 0) {
				cad_error(c, "column '%s' is empty, but '%s' is set",
					  c->header[c->col[F_UNIT]], c->header[c->col[f]]);
				bad = 1;
				break;
			}
	}
	if (bad || c->n_errors)
		return;		 /* keep checking, but write nothing once anything is wrong */
	if (v[F_LOCATION].set) { /* lat and lon values keep their number in .lat */
		v[F_LAT] = v[F_LOCATION];
		v[F_LON] = v[F_LOCATION];
		v[F_LON].lat = v[F_LOCATION].lon;
	}
	for (i = 0; i < sizeof call_fields / sizeof call_fields[0] && rc == SQLITE_OK; i++)
		rc = cad_bind(c->ins_call, (int)i + 1, call_fields[i], &v[call_fields[i]]);
	if (rc == SQLITE_OK)
		rc = cad_bind(c->ins_call, 10, F_LAT, &v[F_LAT]);
	if (rc == SQLITE_OK)
		rc = cad_bind(c->ins_call, 11, F_LON, &v[F_LON]);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(c->ins_call, 12, v[F_EXERCISE].set ? v[F_EXERCISE].i : 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(c->ins_call, 13, c->L->name, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		cad_error(c, "cannot write the database: %s", sqlite3_errmsg(c->db));
		c->fatal = c->write_failed = 1;
		return;
	}
	if (cad_step(c, c->ins_call) != 0)
		return;
	if (!v[F_UNIT].set)
		return; /* a call no unit was sent to */
	rc = cad_bind(c->ins_resp, 1, F_CALL_ID, &v[F_CALL_ID]);
	for (i = 0; i < sizeof resp_fields / sizeof resp_fields[0] && rc == SQLITE_OK; i++)
		rc = cad_bind(c->ins_resp, (int)i + 2, resp_fields[i], &v[resp_fields[i]]);
	if (rc != SQLITE_OK) {
		cad_error(c, "cannot write the database: %s", sqlite3_errmsg(c->db));
		c->fatal = c->write_failed = 1;
		return;
	}
	if (cad_step(c, c->ins_resp) == 0)
		c->st.responses++;
}

/* libcsv: one field of the current record. */
static void
cad_field_cb(void *data, size_t len, void *arg)
{
	struct cad *c = arg;

	if (c->n_fields >= CAD_MAX_COLS) {
		c->too_many = 1;
		return;
	}
	if (c->n_fields == c->n_slots) {
		size_t n = c->n_slots ? c->n_slots * 2 : 64;

		c->fields = xrealloc(c->fields, n * sizeof *c->fields);
		c->caps = xrealloc(c->caps, n * sizeof *c->caps);
		memset(c->fields + c->n_slots, 0, (n - c->n_slots) * sizeof *c->fields);
		memset(c->caps + c->n_slots, 0, (n - c->n_slots) * sizeof *c->caps);
		c->n_slots = n;
	}
	if (c->caps[c->n_fields] < len + 1) {
		c->caps[c->n_fields] = len + 1 < 64 ? 64 : len + 1;
		c->fields[c->n_fields] = xrealloc(c->fields[c->n_fields], c->caps[c->n_fields]);
	}
	if (len)
		memcpy(c->fields[c->n_fields], data, len);
	c->fields[c->n_fields][len] = '\0';
	c->n_fields++;
}

/* libcsv: the end of a record. */
static void
cad_row_cb(int term, void *arg)
{
	struct cad *c = arg;

	c->row++;
	if (!c->fatal) {
		if (!c->header_done)
			cad_header(c);
		else
			cad_record(c);
	}
	c->n_fields = 0;
	c->too_many = 0;
}

/* Runs SQL on DB; on failure records "what: message" in C. Returns 0, or -1. */
static int
cad_exec(struct cad *c, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	cad_error(c, "cannot write the database: %s", msg ? msg : sqlite3_errmsg(c->db));
	sqlite3_free(msg);
	c->write_failed = 1;
	return -1;
}

/* Opens the temporary output TMP with the schema and prepared inserts, in a transaction. */
static int
cad_open(struct cad *c, const char *tmp)
{
	static const char ins_call[] =
	    "INSERT INTO calls (id, type, tier, priority, received_ms, entered_ms, street,"
	    " community, grid, lat, lon, exercise, source)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	    " ON CONFLICT (id) DO UPDATE SET"
	    " type = coalesce(type, excluded.type), tier = coalesce(tier, excluded.tier),"
	    " priority = coalesce(priority, excluded.priority),"
	    " received_ms = CASE WHEN received_ms IS NULL OR excluded.received_ms < received_ms"
	    "   THEN excluded.received_ms ELSE received_ms END,"
	    " entered_ms = CASE WHEN entered_ms IS NULL OR excluded.entered_ms < entered_ms"
	    "   THEN excluded.entered_ms ELSE entered_ms END,"
	    " street = coalesce(street, excluded.street),"
	    " community = coalesce(community, excluded.community),"
	    " grid = coalesce(grid, excluded.grid),"
	    " lat = CASE WHEN lat IS NULL THEN excluded.lat ELSE lat END,"
	    " lon = CASE WHEN lat IS NULL THEN excluded.lon ELSE lon END,"
	    " exercise = max(exercise, excluded.exercise)";
	static const char ins_resp[] =
	    "INSERT INTO responses (call_id, unit, kind, department, ordered_ms, received_ms,"
	    " en_route_ms, on_scene_ms, cleared_ms, ring_s, delay_reason)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

	if (unlink(tmp) != 0 && errno != ENOENT) {
		strbuf_addf(&c->errors, "%s: cannot remove: %s\n", tmp, strerror(errno));
		c->n_errors++;
		return -1;
	}
	if (sqlite3_open_v2(tmp, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		strbuf_addf(&c->errors, "%s: cannot create: %s\n", tmp,
			    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		c->n_errors++;
		return -1;
	}
	/* A private file renamed into place at the end needs no journal. */
	if (cad_exec(c, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;") != 0 ||
	    cad_exec(c, report_schema_sql) != 0 || cad_exec(c, "BEGIN") != 0)
		return -1;
	if (sqlite3_prepare_v2(c->db, ins_call, -1, &c->ins_call, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, ins_resp, -1, &c->ins_resp, NULL) != SQLITE_OK) {
		cad_error(c, "cannot prepare: %s", sqlite3_errmsg(c->db));
		return -1;
	}
	return 0;
}

/* Writes the index and analysis_meta and commits. Returns 0, or -1. */
static int
cad_close_good(struct cad *c, const char *path)
{
	sqlite3_stmt *st = NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char ver[16];
	int rc;

	snprintf(ver, sizeof ver, "%d", REPORT_SCHEMA_VERSION);
	if (cad_exec(c, report_index_sql) != 0)
		return -1;
	rc = sqlite3_prepare_v2(c->db, "INSERT INTO analysis_meta (key, value) VALUES (?1, ?2)", -1,
				&st, NULL);
	if (rc == SQLITE_OK) {
		const char *kv[][2] = {
		    {"version", ver},
		    {"source", "cad-csv"},
		    {"layout", c->L->name},
		    {"file", base},
		    {"times", "local wall time as in the source, read as UTC"},
		};
		size_t i;

		for (i = 0; i < sizeof kv / sizeof kv[0] && rc == SQLITE_OK; i++) {
			if (sqlite3_bind_text(st, 1, kv[i][0], -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_bind_text(st, 2, kv[i][1], -1, SQLITE_STATIC) != SQLITE_OK)
				rc = SQLITE_ERROR;
			else if (cad_step(c, st) != 0)
				rc = SQLITE_ERROR;
		}
	}
	if (rc != SQLITE_OK && c->n_errors == 0)
		cad_error(c, "cannot write the database: %s", sqlite3_errmsg(c->db));
	if (sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_OK) {
		cad_error(c, "cannot write the database: %s", sqlite3_errmsg(c->db));
		rc = SQLITE_ERROR;
	}
	if (rc != SQLITE_OK)
		return -1;
	return cad_exec(c, "COMMIT");
}

/* Counts the calls written. Returns 0, or -1. */
static int
cad_count_calls(struct cad *c)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM calls", -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		c->st.calls = (long)sqlite3_column_int64(st, 0);
	return sqlite3_finalize(st) == SQLITE_OK && rc == SQLITE_ROW ? 0 : -1;
}

/* Streams the CSV file PATH through libcsv into C. */
static void
cad_parse(struct cad *c, FILE *in)
{
	struct csv_parser p;
	char buf[65536];
	size_t n;

	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
		c->row++;
		cad_error(c, "cannot initialise the CSV parser");
		return;
	}
	csv_set_delim(&p, (unsigned char)c->L->delim);
	while (!c->fatal && (n = fread(buf, 1, sizeof buf, in)) > 0) {
		if (csv_parse(&p, buf, n, cad_field_cb, cad_row_cb, c) != n) {
			if (c->fatal)
				break; /* the header is unusable: what follows says nothing */
			c->row++;
			cad_error(c,
				  "CSV syntax: %s (a quote inside an unquoted field, or text after "
				  "a closing quote?)",
				  csv_strerror(csv_error(&p)));
			break;
		}
	}
	if (ferror(in)) {
		c->row++;
		cad_error(c, "read error: %s", strerror(errno));
	}
	if (c->n_errors == 0 && csv_fini(&p, cad_field_cb, cad_row_cb, c) != 0) {
		c->row++;
		cad_error(c, "the file ends inside a quoted field (truncated?)");
	}
	csv_free(&p);
	if (c->row == 0 && c->n_errors == 0) {
		c->row = 1;
		cad_error(c, "the file is empty (a header row is needed)");
	}
}

/* Imports a CAD CSV export into an analysis database; see cadimport.h. */
int
cadimport_run(const char *path, const char *layout, const char *out, struct cadimport_stats *stats,
	      char **errors)
{
	struct cad_layout L;
	struct cad c;
	char *tmp = NULL;
	FILE *in;
	int ok = 0;
	size_t i;

	memset(&L, 0, sizeof L);
	memset(&c, 0, sizeof c);
	memset(stats, 0, sizeof *stats);
	*errors = NULL;
	if (layout == NULL || strcmp(layout, "sf") == 0)
		cad_layout_sf(&L);
	else if (cad_layout_load(&L, layout, errors) != 0)
		goto out;
	if (cad_time_format_ok(L.time_format) != 0) {
		*errors =
		    xasprintf("%s: time_format '%s' must give %%Y, %%m and %%d, %%I only with "
			      "%%p, and no conversions but %%Y %%m %%d %%H %%I %%M %%S %%f %%p\n",
			      L.name, L.time_format);
		goto out;
	}
	c.path = path;
	c.L = &L;
	c.time_example = cad_time_example(L.time_format);
	in = fopen(path, "rb");
	if (in == NULL) {
		*errors = xasprintf("%s: cannot open: %s\n", path, strerror(errno));
		free(c.time_example);
		goto out;
	}
	tmp = xasprintf("%s.tmp", out);
	if (cad_open(&c, tmp) == 0)
		cad_parse(&c, in);
	if (fclose(in) != 0 && c.n_errors == 0)
		cad_error(&c, "cannot close: %s", strerror(errno));
	if (c.n_errors == 0 && cad_count_calls(&c) != 0)
		cad_error(&c, "cannot count calls: %s", sqlite3_errmsg(c.db));
	if (c.n_errors == 0 && cad_close_good(&c, path) == 0)
		ok = 1;
	if (sqlite3_finalize(c.ins_call) != SQLITE_OK && ok)
		ok = 0;
	if (sqlite3_finalize(c.ins_resp) != SQLITE_OK && ok)
		ok = 0;
	if (c.db != NULL && sqlite3_close(c.db) != SQLITE_OK && ok) {
		cad_error(&c, "cannot close the database");
		ok = 0;
	}
	if (ok && rename(tmp, out) != 0) {
		strbuf_addf(&c.errors, "%s: cannot rename to %s: %s\n", tmp, out, strerror(errno));
		ok = 0;
	}
	if (!ok) {
		if (unlink(tmp) != 0 && errno != ENOENT)
			strbuf_addf(&c.errors, "%s: cannot remove: %s\n", tmp, strerror(errno));
		*errors = c.errors.s ? c.errors.s : xasprintf("%s: import failed\n", path);
		c.errors.s = NULL;
	} else {
		*stats = c.st;
	}
	strbuf_finish(&c.errors);
	for (i = 0; i < c.n_slots; i++)
		free(c.fields[i]);
	free(c.fields);
	free(c.caps);
	for (i = 0; i < c.n_header; i++)
		free(c.header[i]);
	free(c.header);
	free(c.time_example);
	free(tmp);
out:
	if (L.has_cf)
		config_destroy(&L.cf);
	return ok ? 0 : -1;
}
