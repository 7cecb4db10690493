/* bench_report: `muster report` over a synthetic district timeline of a million calls (issue 4),
 * beside the same aggregation done by an equivalent pandas script in the same run.
 *
 * The analysis database is generated deterministically from a seed, in the schema of
 * report_schema_sql and report_index_sql, with prepared statements in one transaction, into a
 * temporary directory ($TMPDIR or /tmp). A month of calls shaped like a district's: nine
 * incident types, tiers 1 to 3, six streets of ten communities of four grids, received times
 * following the hours of a day, 1 to 4 responses per call (a few with none) of four responder
 * classes with their rings, log-normal segment times per class, and the untidy part of real
 * data: missing times, units that never arrive, times out of order, exercise calls, delay
 * reasons.
 *
 * Then `$MUSTER report DB --json` and `$PYTHON3 $REPORT_PANDAS DB` (set by meson) run as child
 * processes, alternately, RUNS times each; the benchmark prints their median wall times, CPU
 * times and peak RSS (ru_maxrss from wait4), and the ratio pandas / muster. Last it compares
 * the two programs' totals field by field and prints MATCH or MISMATCH.
 *
 * Usage: bench_report [-n CALLS] [-r RUNS] [-s SEED]. $BENCH_REPORT_KEEP keeps the directory.
 * Exits 0 whatever it measures (benchmarks never fail the build); 1 only when it could not
 * run: no database, or no muster run succeeded. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "bench.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv);

#define BENCH_NONE INT64_MIN	       /* a time not recorded: NULL */
#define BENCH_START_MS 1709251200000LL /* 2024-03-01 00:00, local wall time read as UTC */
#define BENCH_DAYS 30		       /* the span of the timeline */
#define BENCH_MAX_RUNS 15	       /* runs of each program */
#define BENCH_AIM_S 3.0		       /* the aim for muster: under 3 s ... */
#define BENCH_AIM_MIB 500.0	       /* ... and 500 MiB */
#define BENCH_STREETS 6		       /* streets (街道) */
#define BENCH_COMMUNITIES 10	       /* communities per street */
#define BENCH_GRIDS 4		       /* grids per community */
#define BENCH_N_COMM (BENCH_STREETS * BENCH_COMMUNITIES)

/* Incident types (the sample's plans) and their shares of the calls. */
static const struct {
	const char *type;
	double share;
	int fire; /* a micro fire station is sent first */
} bench_types[] = {
    {"traffic.collision", 0.28, 0}, {"fire.ebike", 0.14, 1},	 {"crowd.disorder", 0.12, 0},
    {"fire.residential", 0.10, 1},  {"flood", 0.08, 0},		 {"accident.construction", 0.08, 0},
    {"hazmat.leak", 0.08, 1},	    {"attack.violent", 0.07, 0}, {"collapse.slope", 0.05, 0},
};
#define BENCH_N_TYPES (sizeof bench_types / sizeof bench_types[0])

/* Responder classes: ring (seconds from the call's receipt), share of the responses, and the
 * medians of turnout (order to en route) and travel (en route to on scene), in seconds. */
static const struct {
	const char *kind, *prefix, *dept;
	int ring_s;
	double share, turnout_s, travel_s;
	int units; /* units of the class in the district */
} bench_classes[] = {
    {"volunteer_guard", "vg", "police", 60, 0.45, 10.0, 45.0, 600},
    {"patrol", "pt", "police", 180, 0.25, 25.0, 110.0, 120},
    {"micro_fire_station", "ms", "fire", 300, 0.20, 35.0, 140.0, 60},
    {"armed_police", "ap", "police", 300, 0.10, 45.0, 190.0, 30},
};
#define BENCH_N_CLASSES (sizeof bench_classes / sizeof bench_classes[0])
#define BENCH_MICRO_FIRE 2

/* Relative calls per hour of the day, from midnight. */
static const double bench_hour_w[24] = {2.0, 1.5, 1.2, 1.0, 1.0, 1.3, 2.0, 3.0, 4.0, 4.5, 4.8, 5.0,
					5.0, 4.8, 4.7, 4.8, 5.0, 5.2, 5.3, 5.0, 4.5, 4.0, 3.3, 2.6};

/* What the generator wrote. */
struct bench_gen {
	size_t calls, exercise, responses, no_response;
	double seconds, mib;
};

/* One program's runs. */
struct bench_prog {
	const char *name;
	double wall_s[BENCH_MAX_RUNS], cpu_s[BENCH_MAX_RUNS], rss_mib[BENCH_MAX_RUNS];
	size_t ok; /* successful runs */
	char *out; /* the output of the first successful run */
};

/* Parses a positive count option; exits with a message when it is not one. */
static unsigned long
bench_parse_count(const char *arg, unsigned long max)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v == 0 || v > max) {
		fprintf(stderr, "bench_report: not a count (1 to %lu): %s\n", max, arg);
		exit(2);
	}
	return v;
}

/* nftw callback: removes one entry. */
static int
bench_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Names the file system type of PATH. */
static const char *
bench_fs(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) != 0)
		return "an unknown file system";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:
		return "ext4";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x01021994UL:
		return "tmpfs";
	case 0x794C7630UL:
		return "overlayfs";
	default:
		return "another file system";
	}
}

/* Returns a log-normal duration in ms with the given median (seconds) and spread. */
static int64_t
bench_lognormal_ms(uint64_t *s, double median_s, double sigma)
{
	return (int64_t)llround(median_s * 1000.0 * exp(sigma * bench_rng_normal(s)));
}

/* Binds V to parameter I of ST, NULL for BENCH_NONE. */
static int
bench_bind_time(sqlite3_stmt *st, int i, int64_t v)
{
	return v == BENCH_NONE ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, v);
}

/* Runs ST to its end and resets it. Returns 0, or -1. */
static int
bench_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return sqlite3_reset(st) == SQLITE_OK && rc == SQLITE_DONE ? 0 : -1;
}

/* Runs SQL on DB. Returns 0, or -1 after saying why. */
static int
bench_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Picks a responder class for response J of a call of type T. */
static size_t
bench_pick_class(uint64_t *s, size_t t, size_t j)
{
	double u = bench_rng_unit(s), acc = 0;
	size_t k;

	if (j == 0 && bench_types[t].fire)
		return BENCH_MICRO_FIRE;
	for (k = 0; k < BENCH_N_CLASSES - 1; k++) {
		acc += bench_classes[k].share;
		if (u < acc)
			return k;
	}
	return BENCH_N_CLASSES - 1;
}

/* Writes the responses of call ID (received at RECEIVED, of type T) with ST. Returns 0, or -1
 * after saying why. */
static int
bench_put_responses(sqlite3 *db, sqlite3_stmt *st, uint64_t *s, struct bench_gen *g, const char *id,
		    int64_t received, size_t t)
{
	double u = bench_rng_unit(s);
	size_t n = u < 0.005 ? 0 : u < 0.35 ? 1 : u < 0.65 ? 2 : u < 0.85 ? 3 : 4, j;
	int64_t order_at = received + bench_lognormal_ms(s, 20.0, 0.6);
	char unit[32];

	if (n == 0)
		g->no_response++;
	for (j = 0; j < n; j++) {
		size_t k = bench_pick_class(s, t, j);
		const char *dept = bench_classes[k].dept;
		int64_t ordered, receipt, en_route, on_scene, cleared, ring, delay = BENCH_NONE;
		int64_t turnout = bench_lognormal_ms(s, bench_classes[k].turnout_s, 0.5);
		int64_t travel = bench_lognormal_ms(s, bench_classes[k].travel_s, 0.55);
		int bad = 0;

		if (j > 0) /* later orders follow the first */
			order_at += bench_lognormal_ms(s, 15.0, 0.8);
		ordered = order_at;
		if (j == 0 &&
		    bench_rng_unit(s) < 0.0005) /* the dispatch clock behind the intake's */
			ordered = received - bench_uniform(s, 1000, 30000);
		en_route = ordered + turnout;
		on_scene = en_route + travel;
		receipt = ordered + bench_lognormal_ms(s, 2.5, 0.8);
		cleared = on_scene + bench_lognormal_ms(s, 1500.0, 0.6);
		ring = bench_classes[k].ring_s;
		if (on_scene - received > ring * 1000 && bench_rng_unit(s) < 0.4)
			delay = bench_uniform(s, 1, 6);
		if (bench_rng_unit(s) < 0.08) /* the agent's receipt not recorded */
			receipt = BENCH_NONE;
		if (bench_rng_unit(s) < 0.0015) /* buttons pressed in the wrong order */
			en_route = on_scene + bench_uniform(s, 5000, 60000);
		else if (bench_rng_unit(s) < 0.04) /* en route not pressed */
			en_route = BENCH_NONE;
		if (bench_rng_unit(s) < 0.07) { /* cancelled or turned back: no arrival */
			on_scene = BENCH_NONE;
			cleared = received + bench_lognormal_ms(s, 600.0, 0.5);
			delay = BENCH_NONE;
		}
		if (bench_rng_unit(s) < 0.005) /* an order with no dispatch time */
			ordered = BENCH_NONE;
		if (bench_rng_unit(s) < 0.02)
			cleared = BENCH_NONE;
		if (bench_rng_unit(s) < 0.03) /* older records carry no ring */
			ring = BENCH_NONE;
		if (k == 1 && t == 0) /* patrols at collisions are the traffic police's */
			dept = "traffic";
		snprintf(unit, sizeof unit, "%s-%04d", bench_classes[k].prefix,
			 (int)bench_uniform(s, 1, bench_classes[k].units));
		bad += sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_text(st, 2, unit, -1, SQLITE_STATIC) != SQLITE_OK;
		bad +=
		    sqlite3_bind_text(st, 3, bench_classes[k].kind, -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_text(st, 4, dept, -1, SQLITE_STATIC) != SQLITE_OK;
		bad += bench_bind_time(st, 5, ordered) != SQLITE_OK;
		bad += bench_bind_time(st, 6, receipt) != SQLITE_OK;
		bad += bench_bind_time(st, 7, en_route) != SQLITE_OK;
		bad += bench_bind_time(st, 8, on_scene) != SQLITE_OK;
		bad += bench_bind_time(st, 9, cleared) != SQLITE_OK;
		bad += bench_bind_time(st, 10, ring) != SQLITE_OK;
		bad += bench_bind_time(st, 11, delay) != SQLITE_OK;
		if (bad > 0 || bench_step(st) != 0) {
			fprintf(stderr, "bench_report: cannot write a response: %s\n",
				sqlite3_errmsg(db));
			return -1;
		}
		g->responses++;
	}
	return 0;
}

/* Writes N calls, from seed SEED, with their responses, with CALL and RESP. Returns 0, or -1
 * after saying why. */
static int
bench_put_calls(sqlite3 *db, sqlite3_stmt *call, sqlite3_stmt *resp, size_t n, uint64_t seed,
		struct bench_gen *g)
{
	static const char *const tiers[] = {"1", "2", "3"};
	char comm[BENCH_N_COMM][8], grid[BENCH_N_COMM * BENCH_GRIDS][12], street[BENCH_STREETS][4];
	char id[24];
	double total_w = 0, hour_w0 = 0; /* the weight of the timeline, and before hour `hour` */
	size_t i, hour = 0, hours = BENCH_DAYS * 24;
	uint64_t s = seed;

	for (i = 0; i < BENCH_STREETS; i++)
		snprintf(street[i], sizeof street[i], "s%02zu", i + 1);
	for (i = 0; i < BENCH_N_COMM; i++)
		snprintf(comm[i], sizeof comm[i], "s%02zuc%02zu", i / BENCH_COMMUNITIES + 1,
			 i % BENCH_COMMUNITIES + 1);
	for (i = 0; i < BENCH_N_COMM * BENCH_GRIDS; i++)
		snprintf(grid[i], sizeof grid[i], "%s-g%zu", comm[i / BENCH_GRIDS],
			 i % BENCH_GRIDS + 1);
	for (i = 0; i < hours; i++)
		total_w += bench_hour_w[i % 24];
	for (i = 0; i < n; i++) {
		/* Received times in call order, spread over the month by the hour weights: the
		 * inverse of the cumulative weight at (i + u) / n. */
		double target = ((double)i + bench_rng_unit(&s)) / (double)n * total_w, u, x;
		size_t t, c, gi, tier;
		int64_t received, entered;
		int exercise, bad = 0;

		while (hour + 1 < hours && target >= hour_w0 + bench_hour_w[hour % 24]) {
			hour_w0 += bench_hour_w[hour % 24];
			hour++;
		}
		received = BENCH_START_MS + (int64_t)hour * 3600000 +
			   (int64_t)fmin(3599999.0,
					 (target - hour_w0) / bench_hour_w[hour % 24] * 3600000.0);
		u = bench_rng_unit(&s);
		x = 0;
		for (t = 0; t < BENCH_N_TYPES - 1; t++) {
			x += bench_types[t].share;
			if (u < x)
				break;
		}
		u = bench_rng_unit(&s);
		tier = u < 0.06 ? 0 : u < 0.30 ? 1 : 2;
		/* Busier communities first: a skewed pick. */
		c = (size_t)((double)BENCH_N_COMM * pow(bench_rng_unit(&s), 1.6));
		gi = c * BENCH_GRIDS + (size_t)(bench_rng_next(&s) % BENCH_GRIDS);
		entered = received + bench_lognormal_ms(&s, 30.0, 0.7);
		if (bench_rng_unit(&s) < 0.005) /* entry time not exported */
			entered = BENCH_NONE;
		exercise = bench_rng_unit(&s) < 0.01;
		snprintf(id, sizeof id, "B%09zu", i + 1);
		bad += sqlite3_bind_text(call, 1, id, -1, SQLITE_STATIC) != SQLITE_OK;
		bad +=
		    sqlite3_bind_text(call, 2, bench_types[t].type, -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_int(call, 3, (int)tier + 1) != SQLITE_OK;
		bad += sqlite3_bind_text(call, 4, tiers[tier], -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_int64(call, 5, received) != SQLITE_OK;
		bad += bench_bind_time(call, 6, entered) != SQLITE_OK;
		bad += sqlite3_bind_text(call, 7, street[c / BENCH_COMMUNITIES], -1,
					 SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_text(call, 8, comm[c], -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_text(call, 9, grid[gi], -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_double(call, 10,
					   30.22 + 0.012 * (double)(c % 8) +
					       0.003 * bench_rng_normal(&s)) != SQLITE_OK;
		bad += sqlite3_bind_double(call, 11,
					   120.12 + 0.014 * (double)(c / 8) +
					       0.003 * bench_rng_normal(&s)) != SQLITE_OK;
		bad += sqlite3_bind_int(call, 12, exercise) != SQLITE_OK;
		bad += sqlite3_bind_text(call, 13, "bench", -1, SQLITE_STATIC) != SQLITE_OK;
		if (bad > 0 || bench_step(call) != 0) {
			fprintf(stderr, "bench_report: cannot write a call: %s\n",
				sqlite3_errmsg(db));
			return -1;
		}
		g->calls++;
		g->exercise += (size_t)exercise;
		if (bench_put_responses(db, resp, &s, g, id, received, t) != 0)
			return -1;
	}
	return 0;
}

/* Writes analysis_meta. Returns 0, or -1 after saying why. */
static int
bench_put_meta(sqlite3 *db)
{
	static const char *const kv[][2] = {
	    {"source", "bench"},
	    {"layout", "bench_report"},
	    {"file", "(generated)"},
	    {"times", "local wall time as in the source, read as UTC"},
	};
	sqlite3_stmt *st = NULL;
	char ver[16];
	size_t i;
	int bad = 0;

	snprintf(ver, sizeof ver, "%d", REPORT_SCHEMA_VERSION);
	if (sqlite3_prepare_v2(db, "INSERT INTO analysis_meta (key, value) VALUES (?1, ?2)", -1,
			       &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	bad += sqlite3_bind_text(st, 1, "version", -1, SQLITE_STATIC) != SQLITE_OK;
	bad += sqlite3_bind_text(st, 2, ver, -1, SQLITE_STATIC) != SQLITE_OK;
	bad += bench_step(st) != 0;
	for (i = 0; i < sizeof kv / sizeof kv[0] && bad == 0; i++) {
		bad += sqlite3_bind_text(st, 1, kv[i][0], -1, SQLITE_STATIC) != SQLITE_OK;
		bad += sqlite3_bind_text(st, 2, kv[i][1], -1, SQLITE_STATIC) != SQLITE_OK;
		bad += bench_step(st) != 0;
	}
	if (bad > 0)
		fprintf(stderr, "bench_report: cannot write analysis_meta: %s\n",
			sqlite3_errmsg(db));
	if (sqlite3_finalize(st) != SQLITE_OK)
		bad++;
	return bad > 0 ? -1 : 0;
}

/* Generates the analysis database PATH: N calls from SEED. Returns 0, or -1 after saying
 * why. */
static int
bench_generate(const char *path, size_t n, uint64_t seed, struct bench_gen *g)
{
	static const char ins_call[] =
	    "INSERT INTO calls (id, type, tier, priority, received_ms, entered_ms, street,"
	    " community, grid, lat, lon, exercise, source)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
	static const char ins_resp[] =
	    "INSERT INTO responses (call_id, unit, kind, department, ordered_ms, received_ms,"
	    " en_route_ms, on_scene_ms, cleared_ms, ring_s, delay_reason)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	sqlite3 *db = NULL;
	sqlite3_stmt *call = NULL, *resp = NULL;
	struct stat st;
	int64_t t0 = util_mono_ns();
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "bench_report: %s: %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	/* As `muster import cad-csv` writes: no journal, one transaction, the index last. */
	if (bench_exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;") != 0 ||
	    bench_exec(db, report_schema_sql) != 0 || bench_exec(db, "BEGIN") != 0)
		goto out;
	if (sqlite3_prepare_v2(db, ins_call, -1, &call, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, ins_resp, -1, &resp, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_report: cannot prepare: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	if (bench_put_calls(db, call, resp, n, seed, g) != 0 ||
	    bench_exec(db, report_index_sql) != 0 || bench_put_meta(db) != 0 ||
	    bench_exec(db, "COMMIT") != 0)
		goto out;
	rc = 0;
out:
	if (sqlite3_finalize(call) != SQLITE_OK || sqlite3_finalize(resp) != SQLITE_OK)
		rc = -1;
	if (db != NULL && sqlite3_close(db) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s: cannot close\n", path);
		rc = -1;
	}
	g->seconds = bench_s(t0, util_mono_ns());
	if (rc == 0 && stat(path, &st) == 0)
		g->mib = (double)st.st_size / 1048576.0;
	return rc;
}

/* Runs ARGV[0] with ARGV, its standard output into OUT_PATH (input from /dev/null), and waits
 * for it. Stores its wall time, CPU time and peak RSS into run I of P when it exits with 0.
 * Returns 0, or -1 after saying why. */
static int
bench_spawn(char *const argv[], const char *out_path, struct bench_prog *p)
{
	struct rusage ru;
	int64_t wall;
	int st = 0;

	if (bench_run_child("bench_report", argv, out_path, &st, &ru, &wall) != 0)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("  %s: run failed (%s %d)\n", p->name,
		       WIFEXITED(st) ? "exit status" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	p->wall_s[p->ok] = (double)wall / 1e9;
	p->cpu_s[p->ok] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	p->rss_mib[p->ok] = (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
	if (p->out == NULL)
		p->out = xstrdup(out_path);
	p->ok++;
	return 0;
}

/* Returns the median of the N values of V (the lower middle for even N); sorts a copy. */
static double
bench_median(const double *v, size_t n)
{
	double c[BENCH_MAX_RUNS];

	if (n == 0)
		return 0;
	memcpy(c, v, n * sizeof *v);
	qsort(c, n, sizeof *c, bench_cmp_double_cb);
	return c[(n - 1) / 2];
}

/* Returns the largest of the N values of V. */
static double
bench_max(const double *v, size_t n)
{
	double m = 0;
	size_t i;

	for (i = 0; i < n; i++)
		m = fmax(m, v[i]);
	return m;
}

/* Returns the smallest of the N values of V. */
static double
bench_min(const double *v, size_t n)
{
	double m = n ? v[0] : 0;
	size_t i;

	for (i = 1; i < n; i++)
		m = fmin(m, v[i]);
	return m;
}

/* Prints one program's row of figures. */
static void
bench_prog_row(const struct bench_prog *p)
{
	if (p->ok == 0) {
		printf("  %-28s no successful run\n", p->name);
		return;
	}
	printf("  %-28s %8.2f %8.2f %8.2f %8.2f %10.0f %8.0f\n", p->name,
	       bench_median(p->wall_s, p->ok), bench_min(p->wall_s, p->ok),
	       bench_max(p->wall_s, p->ok), bench_median(p->cpu_s, p->ok),
	       bench_median(p->rss_mib, p->ok), bench_max(p->rss_mib, p->ok));
}

/* Returns member PATH (dot-separated names) of ROOT, or NULL. */
static json_t *
bench_json_at(json_t *root, const char *path)
{
	char name[64];
	const char *p = path, *dot;
	size_t len;

	while (root != NULL && *p) {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len >= sizeof name)
			return NULL;
		memcpy(name, p, len);
		name[len] = '\0';
		root = json_object_get(root, name);
		p += len + (dot != NULL);
	}
	return root;
}

/* Writes the canonical form of V into BUF: an integer, a real to the millisecond (the reports'
 * seconds are whole milliseconds), "null", or "(missing)". */
static void
bench_json_str(json_t *v, char *buf, size_t size)
{
	if (v == NULL)
		snprintf(buf, size, "(missing)");
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%.3f", json_real_value(v));
	else if (json_is_null(v))
		snprintf(buf, size, "null");
	else
		snprintf(buf, size, "(not a number)");
}

/* Compares member PATH of A and B; prints it when they differ. Returns 1 when equal. */
static int
bench_same(json_t *a, json_t *b, const char *path, size_t *fields)
{
	char x[64], y[64];

	bench_json_str(bench_json_at(a, path), x, sizeof x);
	bench_json_str(bench_json_at(b, path), y, sizeof y);
	(*fields)++;
	if (strcmp(x, y) == 0 && strcmp(x, "(missing)") != 0)
		return 1;
	printf("  differs: %s: muster %s, pandas %s\n", path, x, y);
	return 0;
}

/* Returns the ring entry of class KIND in the array RINGS, or NULL. */
static json_t *
bench_ring(json_t *rings, const char *kind)
{
	size_t i;

	for (i = 0; i < json_array_size(rings); i++) {
		json_t *r = json_array_get(rings, i);
		const char *k = json_string_value(json_object_get(r, "kind"));

		if (k != NULL && strcmp(k, kind) == 0)
			return r;
	}
	return NULL;
}

/* Compares the totals of muster's JSON report at MUSTER_PATH and the pandas script's at
 * PANDAS_PATH and prints MATCH or MISMATCH with the differing fields. */
static void
bench_compare(const char *muster_path, const char *pandas_path)
{
	static const char *const segs[] = {"intake",  "processing", "receipt",
					   "turnout", "travel",	    "response"};
	static const char *const seg_fields[] = {"n",	  "no_value", "negative",
						 "p50_s", "p90_s",    "p95_s"};
	static const char *const total_fields[] = {
	    "total.calls",
	    "total.responses",
	    "total.first_on_scene_within_circle.calls",
	    "total.first_on_scene_within_circle.within",
	    "total.first_on_scene_within_circle.no_arrival",
	    "filters.exercise_calls_left_out",
	};
	static const char *const ring_fields[] = {"calls", "met", "no_arrival", "negative"};
	json_error_t e;
	json_t *m = json_load_file(muster_path, 0, &e), *p = NULL, *mr, *pr;
	char path[128];
	size_t i, j, fields = 0, diffs = 0;

	if (m == NULL) {
		printf("answers: not compared: %s: %s\n", muster_path, e.text);
		return;
	}
	p = json_load_file(pandas_path, 0, &e);
	if (p == NULL) {
		printf("answers: not compared: %s: %s\n", pandas_path, e.text);
		json_decref(m);
		return;
	}
	for (i = 0; i < sizeof segs / sizeof segs[0]; i++)
		for (j = 0; j < sizeof seg_fields / sizeof seg_fields[0]; j++) {
			snprintf(path, sizeof path, "total.segments.%s.%s", segs[i], seg_fields[j]);
			diffs += !bench_same(m, p, path, &fields);
		}
	for (i = 0; i < sizeof total_fields / sizeof total_fields[0]; i++)
		diffs += !bench_same(m, p, total_fields[i], &fields);
	mr = bench_json_at(m, "total.rings");
	pr = bench_json_at(p, "total.rings");
	if (json_array_size(mr) != json_array_size(pr) || json_array_size(mr) == 0) {
		printf("  differs: total.rings: muster %zu classes, pandas %zu\n",
		       json_array_size(mr), json_array_size(pr));
		diffs++;
	}
	for (i = 0; i < json_array_size(mr); i++) {
		const char *kind =
		    json_string_value(json_object_get(json_array_get(mr, i), "kind"));
		json_t *a = json_array_get(mr, i), *b = bench_ring(pr, kind ? kind : "");

		for (j = 0; j < sizeof ring_fields / sizeof ring_fields[0]; j++) {
			char x[64], y[64];

			bench_json_str(json_object_get(a, ring_fields[j]), x, sizeof x);
			bench_json_str(b ? json_object_get(b, ring_fields[j]) : NULL, y, sizeof y);
			fields++;
			if (strcmp(x, y) != 0) {
				printf("  differs: total.rings[%s].%s: muster %s, pandas %s\n",
				       kind ? kind : "?", ring_fields[j], x, y);
				diffs++;
			}
		}
	}
	if (diffs == 0)
		printf("answers: MATCH (%zu fields of the total: every segment's n, no value, "
		       "negative, p50, p90, p95; calls, responses, within the circle, no arrival, "
		       "exercise left out; %zu ring classes)\n",
		       fields, json_array_size(mr));
	else
		printf("\n*** MISMATCH: %zu of %zu fields differ (above) ***\n", diffs, fields);
	json_decref(m);
	json_decref(p);
}

int
main(int argc, char **argv)
{
	const char *tmp = bench_env("TMPDIR", "/tmp");
	const char *muster = bench_env("MUSTER", "muster");
	const char *python = bench_env("PYTHON3", "/usr/bin/python3");
	const char *script = bench_env("REPORT_PANDAS", "bench/report_pandas.py");
	struct bench_prog mp = {.name = "muster report --json"},
			  pp = {.name = "pandas (report_pandas.py)"};
	struct bench_gen g;
	size_t n = 1000000, runs = 3, i;
	uint64_t seed = 20240604;
	char dir[128], *db = NULL, *out = NULL;
	double mt, prss, pt, mrss;
	int ch, rc = 1;

	memset(&g, 0, sizeof g);
	while ((ch = getopt(argc, argv, "n:r:s:")) != -1) {
		switch (ch) {
		case 'n':
			n = bench_parse_count(optarg, 100000000UL);
			break;
		case 'r':
			runs = bench_parse_count(optarg, BENCH_MAX_RUNS);
			break;
		case 's':
			seed = bench_parse_count(optarg, ~0UL);
			break;
		default:
			fprintf(stderr, "usage: bench_report [-n CALLS] [-r RUNS] [-s SEED]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: bench_report [-n CALLS] [-r RUNS] [-s SEED]\n");
		return 2;
	}
	/* Line by line, so that progress shows under `meson test -v`. */
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		return 1;
	if (strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/bench-report-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench_report: mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	db = xasprintf("%s/analysis.db", dir);
	printf("bench_report: generating %zu calls (seed %llu) into %s (%s)...\n", n,
	       (unsigned long long)seed, db, bench_fs(dir));
	if (bench_generate(db, n, seed, &g) != 0)
		goto out;
	printf("generated: %zu calls (%zu exercise, %zu with no response), %zu responses, "
	       "%.0f MiB, in %.1f s (%.0f rows/s; one transaction, index last)\n",
	       g.calls, g.exercise, g.no_response, g.responses, g.mib, g.seconds,
	       (double)(g.calls + g.responses) / g.seconds);

	printf("\nruns: %zu of each, alternately (muster %s; pandas %s %s)\n", runs, muster, python,
	       script);
	for (i = 0; i < runs; i++) {
		char *margv[] = {(char *)muster, "report", db, "--json", NULL};
		char *pargv[] = {(char *)python, (char *)script, db, NULL};

		out = xasprintf("%s/muster-%zu.json", dir, i);
		(void)bench_spawn(margv, out, &mp);
		free(out);
		out = xasprintf("%s/pandas-%zu.json", dir, i);
		(void)bench_spawn(pargv, out, &pp);
		free(out);
		out = NULL;
	}
	printf("\nwall time (median, min, max of the runs), CPU time (median), peak RSS (median, "
	       "max)\n");
	printf("  %-28s %8s %8s %8s %8s %10s %8s\n", "", "wall s", "min s", "max s", "CPU s",
	       "peak MiB", "max MiB");
	bench_prog_row(&mp);
	bench_prog_row(&pp);
	if (mp.ok == 0) {
		printf("\n*** NOT COMPLETED: no muster report run succeeded ***\n");
		goto out;
	}
	rc = 0;
	mt = bench_median(mp.wall_s, mp.ok);
	mrss = bench_median(mp.rss_mib, mp.ok);
	printf("muster: %.0f calls/s; aim under %.0f s and %.0f MiB: %s\n", (double)g.calls / mt,
	       BENCH_AIM_S, BENCH_AIM_MIB,
	       mt < BENCH_AIM_S && mrss < BENCH_AIM_MIB ? "met"
	       : mt < BENCH_AIM_S			? "NOT met (memory)"
	       : mrss < BENCH_AIM_MIB			? "NOT met (time)"
							: "NOT met (time and memory)");
	if (pp.ok == 0) {
		printf("pandas: no successful run: no ratio, answers not compared\n");
		goto out;
	}
	pt = bench_median(pp.wall_s, pp.ok);
	prss = bench_median(pp.rss_mib, pp.ok);
	printf("ratio pandas / muster: %.2fx the wall time, %.2fx the CPU time, %.2fx the peak "
	       "RSS\n\n",
	       pt / mt, bench_median(pp.cpu_s, pp.ok) / bench_median(mp.cpu_s, mp.ok), prss / mrss);
	bench_compare(mp.out, pp.out);
out:
	fflush(stdout);
	free(db);
	free(mp.out);
	free(pp.out);
	if (getenv("BENCH_REPORT_KEEP") != NULL)
		printf("kept %s\n", dir);
	else if (nftw(dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_report: cannot remove %s\n", dir);
	return rc;
}
