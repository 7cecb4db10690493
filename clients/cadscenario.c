/* cadscenario: see cadscenario.h. The export is imported with cadimport (the same column
 * mapping, streaming and errors as `muster import cad-csv`) into a temporary analysis
 * database; its calls, in receipt order, become incident injects at their offsets from the
 * first. Places: the calls' coordinates are laid over the district, the calls' bounding box
 * scaled onto the district's (less a tenth at each side), and each call goes to the nearest
 * community. Types: a call type that is a plan's type is kept; otherwise a table maps common
 * export types (San Francisco's among them) to the sample's plans. */
#include "cadscenario.h"
#include "cadimport.h"
#include "cfg.h"
#include "geo.h"
#include "init.h"
#include "plan.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Export call types and the plan type each becomes (case-insensitive on the left). */
static const struct {
	const char *from, *to;
} cs_types[] = {
    {"Structure Fire", "fire.residential"},
    {"Outside Fire", "fire.ebike"},
    {"Vehicle Fire", "fire.residential"},
    {"Explosion", "hazmat.leak"},
    {"Gas Leak (Natural and LP Gases)", "hazmat.leak"},
    {"HazMat", "hazmat.leak"},
    {"Fuel Spill", "hazmat.leak"},
    {"Traffic Collision", "traffic.collision"},
    {"Water Rescue", "flood"},
    {"Industrial Accidents", "accident.construction"},
    {"Structure Collapse", "accident.construction"},
    {"Extrication / Entrapped (Machinery, Vehicle)", "traffic.collision"},
    {"Assault / Battery", "attack.violent"},
    {"Civil Disturbance", "crowd.disorder"},
    {"Landslide", "collapse.slope"},
};

/* Returns the plan type for export type T, or NULL. */
static const char *
cs_type(const struct config *cfg, const char *t)
{
	size_t i;

	if (t == NULL)
		return NULL;
	if (plan_find(cfg->plans, t) != NULL)
		return t;
	for (i = 0; i < sizeof cs_types / sizeof cs_types[0]; i++)
		if (strcasecmp(cs_types[i].from, t) == 0 && plan_find(cfg->plans, cs_types[i].to))
			return cs_types[i].to;
	return NULL;
}

/* Writes MS as "NhNmNs" (the scenario's duration syntax) into BUF. */
static const char *
cs_offset(int64_t ms, char *buf, size_t size)
{
	int64_t s = ms / 1000;

	snprintf(buf, size, "%" PRId64 "h%02dm%02ds", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
	return buf;
}

/* Writes S as a libconfig string literal (quotes and backslashes escaped). */
static void
cs_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
	}
	fputc('"', f);
}

/* Loads the district and plans to place the calls in. */
static struct config *
cs_config(const struct cadscenario_opts *o, char **tmpdir, char **err)
{
	char *conf;
	struct config *cfg;

	if (o->config) {
		conf = xasprintf("%s/musterd.conf", o->config);
	} else {
		const char *t = getenv("TMPDIR");

		*tmpdir = xasprintf("%s/muster-cadscn-XXXXXX", t && *t ? t : "/tmp");
		if (mkdtemp(*tmpdir) == NULL) {
			*err = xasprintf("%s: %s", *tmpdir, strerror(errno));
			return NULL;
		}
		conf = xasprintf("%s/conf", *tmpdir);
		if (init_write(conf, 0, err) != 0) {
			free(conf);
			return NULL;
		}
		free(conf);
		conf = xasprintf("%s/conf/musterd.conf", *tmpdir);
	}
	cfg = cfg_load(conf, err);
	free(conf);
	return cfg;
}

/* Removes the temporary directory DIR and what is in it. */
static void
cs_rmtree(const char *dir)
{
	char *cmd;

	if (dir == NULL)
		return;
	cmd = xasprintf("rm -rf -- '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "muster: could not remove %s\n", dir);
	free(cmd);
}

int
cadscenario_run(const struct cadscenario_opts *o, struct cadscenario_stats *st, char **err)
{
	static const char sql[] =
	    "SELECT id, type, received_ms, lat, lon FROM calls WHERE received_ms IS NOT NULL"
	    " AND exercise = 0 AND (?1 IS NULL OR received_ms >= ?1)"
	    " AND (?2 IS NULL OR received_ms < ?2) ORDER BY received_ms, id";
	struct cadimport_stats is;
	struct config *cfg = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	char *tmpdir = NULL, *dbpath = NULL, *tmpout = NULL, *errors = NULL;
	double south = 90, north = -90, west = 180, east = -180;
	int64_t first = 0;
	FILE *f = NULL;
	int pass, rc = -1;
	size_t k;

	memset(st, 0, sizeof *st);
	*err = NULL;
	if ((cfg = cs_config(o, &tmpdir, err)) == NULL)
		goto out;
	if (tmpdir == NULL) {
		const char *t = getenv("TMPDIR");

		tmpdir = xasprintf("%s/muster-cadscn-XXXXXX", t && *t ? t : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			*err = xasprintf("%s: %s", tmpdir, strerror(errno));
			free(tmpdir);
			tmpdir = NULL;
			goto out;
		}
	}
	dbpath = xasprintf("%s/calls.db", tmpdir);
	if (cadimport_run(o->csv, o->layout, dbpath, &is, &errors) != 0) {
		*err = errors ? errors : xasprintf("%s: cannot import", o->csv);
		errors = NULL;
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: %s", dbpath, db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	tmpout = xasprintf("%s.tmp", o->out);
	if ((f = fopen(tmpout, "w")) == NULL) {
		*err = xasprintf("%s: %s", tmpout, strerror(errno));
		goto out;
	}
	/* Two passes over the calls: their bounding box and span, then the injects. */
	for (pass = 0; pass < 2; pass++) {
		int s;

		if (sqlite3_reset(q) != SQLITE_OK ||
		    (o->has_from ? sqlite3_bind_int64(q, 1, o->from_ms)
				 : sqlite3_bind_null(q, 1)) != SQLITE_OK ||
		    (o->has_to ? sqlite3_bind_int64(q, 2, o->to_ms) : sqlite3_bind_null(q, 2)) !=
			SQLITE_OK) {
			*err = xasprintf("%s: %s", dbpath, sqlite3_errmsg(db));
			goto out;
		}
		if (pass == 1) {
			char when[32], dur[32];
			time_t t = (time_t)(first / 1000);
			struct tm tm;

			if (st->calls == 0) {
				*err = xasprintf("%s: no calls with a receipt time%s", o->csv,
						 o->has_from || o->has_to ? " in the window" : "");
				goto out;
			}
			if (gmtime_r(&t, &tm) == NULL ||
			    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
				snprintf(when, sizeof when, "2000-01-01T00:00:00");
			fprintf(
			    f,
			    "# A drill scenario written by `muster import cad-scenario` from %s.\n"
			    "# Each call of the export is an incident at its offset from the first "
			    "call%s;\n# its coordinates laid over the district (the calls' "
			    "bounding "
			    "box scaled onto\n# the district's), at the nearest community. "
			    "docs/drills.md.\n\n",
			    o->csv, o->scale != 1 ? " (divided by the scale)" : "");
			fprintf(f, "name = ");
			cs_string(f, o->csv);
			fprintf(f, ";\nseed = %" PRIu64 ";\nstart = \"%s\";\nduration = \"%s\";\n",
				o->seed, when, cs_offset(st->span_ms + 3600000, dur, sizeof dur));
			if (o->config) {
				fprintf(f, "config = ");
				cs_string(f, o->config);
				fprintf(f, ";\n");
			} else {
				fprintf(f, "config = \"sample\";\n");
			}
			fprintf(f, "injects = (\n");
			st->calls = 0;
		}
		while ((s = sqlite3_step(q)) == SQLITE_ROW) {
			const char *id = (const char *)sqlite3_column_text(q, 0);
			const char *type = cs_type(cfg, (const char *)sqlite3_column_text(q, 1));
			int64_t at = sqlite3_column_int64(q, 2);
			int has_pos = sqlite3_column_type(q, 3) != SQLITE_NULL &&
				      sqlite3_column_type(q, 4) != SQLITE_NULL;
			double lat = sqlite3_column_double(q, 3), lon = sqlite3_column_double(q, 4);
			const struct district *d = cfg->district;
			const struct place *best = NULL;
			double bd = INFINITY, y, x;
			char buf[32];

			if (st->calls++ == 0)
				first = at;
			if (pass == 0) {
				if (has_pos) {
					south = fmin(south, lat);
					north = fmax(north, lat);
					west = fmin(west, lon);
					east = fmax(east, lon);
				}
				st->span_ms = (int64_t)((double)(at - first) / o->scale);
				continue;
			}
			if (type == NULL) {
				st->unmapped++;
				continue;
			}
			/* scaled into the district's box, less a tenth at each side */
			y = has_pos && north > south ? (lat - south) / (north - south) : 0.5;
			x = has_pos && east > west ? (lon - west) / (east - west) : 0.5;
			y = d->south + (d->north - d->south) * (0.1 + 0.8 * y);
			x = d->west + (d->east - d->west) * (0.1 + 0.8 * x);
			for (k = 0; k < d->n_places; k++) {
				double dd;

				if (d->places[k].kind != PLACE_COMMUNITY)
					continue;
				dd = geo_distance_m(y, x, d->places[k].lat, d->places[k].lon);
				if (dd < bd) {
					bd = dd;
					best = &d->places[k];
				}
			}
			if (best == NULL) {
				*err =
				    xasprintf("the district has no communities to place calls in");
				goto out;
			}
			fprintf(
			    f, "%s\t{ at = \"%s\"; incident = { id = ", st->written ? ",\n" : "",
			    cs_offset((int64_t)((double)(at - first) / o->scale), buf, sizeof buf));
			snprintf(buf, sizeof buf, "c%" PRId64, (int64_t)st->written + 1);
			cs_string(f, buf);
			fprintf(f, "; type = \"%s\"; place = \"%s\"; description = ", type,
				best->id);
			{
				char *desc = xasprintf("call %s (%s)", id ? id : "?",
						       (const char *)sqlite3_column_text(q, 1));

				cs_string(f, desc);
				free(desc);
			}
			fprintf(f, "; }; }");
			st->written++;
		}
		if (s != SQLITE_DONE) {
			*err = xasprintf("%s: %s", dbpath, sqlite3_errmsg(db));
			goto out;
		}
	}
	if (st->span_ms > 365LL * 86400000) {
		*err =
		    xasprintf("%s: the calls span %" PRId64 " days, more than a scenario's year: "
			      "give --window or --scale",
			      o->csv, st->span_ms / 86400000);
		goto out;
	}
	if (st->written == 0) {
		*err = xasprintf("%s: none of the %ld calls has a type with a plan", o->csv,
				 st->calls);
		goto out;
	}
	fprintf(f, "\n);\n");
	if (fclose(f) != 0) {
		f = NULL;
		*err = xasprintf("%s: %s", tmpout, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmpout, o->out) != 0) {
		*err = xasprintf("%s: %s", o->out, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		(void)fclose(f);
	if (rc != 0 && tmpout != NULL)
		(void)unlink(tmpout);
	(void)sqlite3_finalize(q);
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0) {
		*err = xasprintf("%s: cannot close", dbpath);
		rc = -1;
	}
	if (cfg)
		cfg_free(cfg);
	cs_rmtree(tmpdir);
	free(tmpdir);
	free(dbpath);
	free(tmpout);
	free(errors);
	return rc;
}
