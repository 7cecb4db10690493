/* bench_nearest: the nearest-available-unit index against a brute-force scan, on a
 * district-sized roster of 100,000 units; every answer is checked against brute force.
 *
 * Usage: bench_nearest [UNITS [QUERIES]]. Always exits 0 on a completed run (benchmarks
 * never fail the build); a wrong answer is reported as MISMATCH. */
#include "bench.h"
#include "nearest.h"
#include "roster.h"
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv);

#define BENCH_K 5
#define BENCH_NOW_MS 1700000000000LL
#define BENCH_STALE_MS 300000 /* five minutes without a heartbeat */
/* The district box: about 20 km east-west by 17 km north-south around 30.27, 120.20. */
#define BENCH_SOUTH 30.1935
#define BENCH_NORTH 30.3465
#define BENCH_WEST 120.0965
#define BENCH_EAST 120.3035
#define BENCH_HOTSPOTS 40

static const char *const bench_depts[] = {"fire", "police", "health", "emergency", "community"};

static const struct {
	const char *kind;
	int dept; /* its usual department; a tenth of units belong to another */
	double share, speed_mps, road_factor;
} bench_kinds[] = {
    {"volunteer_guard", 4, 0.30, 1.5, 1.3},    {"patrol", 1, 0.20, 8.0, 1.4},
    {"micro_fire_station", 0, 0.12, 4.0, 1.3}, {"ambulance", 2, 0.10, 11.0, 1.4},
    {"fire_engine", 0, 0.08, 10.0, 1.4},       {"armed_police", 1, 0.08, 10.0, 1.4},
    {"rescue_team", 3, 0.07, 9.0, 1.4},	       {"utility_crew", 3, 0.05, 8.0, 1.5},
};

static const char *const bench_skills[] = {"rope", "hazmat", "medic", "diver", "ladder", "aed"};

#define BENCH_N_KINDS (sizeof bench_kinds / sizeof bench_kinds[0])
#define BENCH_N_DEPTS (sizeof bench_depts / sizeof bench_depts[0])
#define BENCH_N_SKILLS (sizeof bench_skills / sizeof bench_skills[0])

/* Returns a kind index drawn by the kinds' shares. */
static size_t
bench_pick_kind(uint64_t *s)
{
	double p = bench_rng_unit(s), acc = 0;
	size_t i;

	for (i = 0; i < BENCH_N_KINDS - 1; i++) {
		acc += bench_kinds[i].share;
		if (p < acc)
			return i;
	}
	return BENCH_N_KINDS - 1;
}

/* Puts (lat, lon) somewhere in the district: 60% uniform, 40% around hot spots. */
static void
bench_position(uint64_t *s, const double *hot, double *lat, double *lon)
{
	if (bench_rng_unit(s) < 0.6) {
		*lat = BENCH_SOUTH + (BENCH_NORTH - BENCH_SOUTH) * bench_rng_unit(s);
		*lon = BENCH_WEST + (BENCH_EAST - BENCH_WEST) * bench_rng_unit(s);
	} else {
		size_t h = (size_t)(bench_rng_next(s) % BENCH_HOTSPOTS);

		/* 600 m standard deviation: 0.0054 degrees of latitude, 0.0062 of longitude. */
		*lat = hot[2 * h] + 0.0054 * bench_rng_normal(s);
		*lon = hot[2 * h + 1] + 0.0062 * bench_rng_normal(s);
	}
}

/* Returns the benchmark roster of N units; freed by roster_free. */
static struct roster *
bench_roster(size_t n, uint64_t *s)
{
	struct roster *r = xcalloc(1, sizeof *r);
	double hot[2 * BENCH_HOTSPOTS];
	size_t i, j;

	r->departments = xcalloc(BENCH_N_DEPTS, sizeof *r->departments);
	r->n_departments = BENCH_N_DEPTS;
	for (i = 0; i < BENCH_N_DEPTS; i++) {
		r->departments[i].id = xstrdup(bench_depts[i]);
		r->departments[i].name = xstrdup(bench_depts[i]);
	}
	for (i = 0; i < BENCH_HOTSPOTS; i++) {
		hot[2 * i] = BENCH_SOUTH + (BENCH_NORTH - BENCH_SOUTH) * bench_rng_unit(s);
		hot[2 * i + 1] = BENCH_WEST + (BENCH_EAST - BENCH_WEST) * bench_rng_unit(s);
	}
	r->units = xcalloc(n + 1, sizeof *r->units);
	r->n_units = n;
	for (i = 0; i < n; i++) {
		struct unit *u = &r->units[i];
		size_t k = bench_pick_kind(s);
		double p = bench_rng_unit(s);

		u->id = xasprintf("u%06zu", i);
		u->name = xasprintf("%s %zu", bench_kinds[k].kind, i);
		u->kind = xstrdup(bench_kinds[k].kind);
		u->agent = xasprintf("agent:%s", bench_depts[bench_kinds[k].dept]);
		u->department = bench_kinds[k].dept;
		if (bench_rng_unit(s) < 0.1)
			u->department = (int)(bench_rng_next(s) % BENCH_N_DEPTS);
		u->station = -1;
		u->people = 1 + (int)(bench_rng_next(s) % 6);
		u->skills = xcalloc(BENCH_N_SKILLS, sizeof *u->skills);
		for (j = 0; j < BENCH_N_SKILLS; j++) {
			if (bench_rng_unit(s) < 0.2)
				u->skills[u->n_skills++] = xstrdup(bench_skills[j]);
		}
		bench_position(s, hot, &u->home_lat, &u->home_lon);
		bench_position(s, hot, &u->lat, &u->lon);
		u->status = p < 0.65   ? UNIT_STATUS_AVAILABLE
			    : p < 0.85 ? UNIT_STATUS_BUSY
			    : p < 0.95 ? UNIT_STATUS_OFF_DUTY
				       : UNIT_STATUS_OUT_OF_SERVICE;
		u->last_seen_ms = BENCH_NOW_MS - (int64_t)(bench_rng_next(s) % 120000);
		if (bench_rng_unit(s) < 0.03)
			u->last_seen_ms = BENCH_NOW_MS - 600000;
	}
	return r;
}

/* Returns the sum of the N timings in V, in milliseconds. */
static double
bench_total_ms(const int64_t *v, size_t n)
{
	double t = 0;
	size_t i;

	for (i = 0; i < n; i++)
		t += (double)v[i];
	return t / 1e6;
}

/* Returns 1 when two answers are identical, hit for hit. */
static int
bench_same(const struct nearest_hit *a, size_t na, const struct nearest_hit *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++) {
		if (a[i].unit != b[i].unit || a[i].distance_m != b[i].distance_m ||
		    a[i].eta_s != b[i].eta_s)
			return 0;
	}
	return 1;
}

/* Prints a differing answer, for the first few mismatches. */
static void
bench_print_mismatch(const struct nearest_query *q, const struct nearest_hit *a, size_t na,
		     const struct nearest_hit *b, size_t nb)
{
	size_t i;

	printf("MISMATCH: kind %s at %.6f,%.6f dept %d skills %zu\n", q->kind, q->lat, q->lon,
	       q->department, q->n_skills);
	for (i = 0; i < na || i < nb; i++)
		printf("  #%zu index %d %.3f m   brute %d %.3f m\n", i, i < na ? a[i].unit : -1,
		       i < na ? a[i].distance_m : 0.0, i < nb ? b[i].unit : -1,
		       i < nb ? b[i].distance_m : 0.0);
}

/* Returns a random query in the district for one kind, sometimes with a department or a
 * skill. SKILL is storage for the skill list. */
static struct nearest_query
bench_query(uint64_t *s, const char **skill)
{
	struct nearest_query q;
	size_t k = (size_t)(bench_rng_next(s) % BENCH_N_KINDS);

	memset(&q, 0, sizeof q);
	q.lat = BENCH_SOUTH + (BENCH_NORTH - BENCH_SOUTH) * bench_rng_unit(s);
	q.lon = BENCH_WEST + (BENCH_EAST - BENCH_WEST) * bench_rng_unit(s);
	q.kind = bench_kinds[k].kind;
	q.department = bench_rng_unit(s) < 0.3 ? bench_kinds[k].dept : -1;
	if (bench_rng_unit(s) < 0.25) {
		*skill = bench_skills[bench_rng_next(s) % BENCH_N_SKILLS];
		q.skills = skill;
		q.n_skills = 1;
	}
	q.speed_mps = bench_kinds[k].speed_mps;
	q.road_factor = bench_kinds[k].road_factor;
	q.now_ms = BENCH_NOW_MS;
	q.stale_ms = BENCH_STALE_MS;
	return q;
}

/* Parses a positive count argument; exits with a message when it is not one. */
static size_t
bench_parse_count(const char *arg)
{
	char *end = NULL;
	unsigned long v = strtoul(arg, &end, 10);

	if (end == arg || *end != '\0' || v == 0 || v > 100000000UL) {
		fprintf(stderr, "bench_nearest: not a count: %s\n", arg);
		exit(2);
	}
	return (size_t)v;
}

/* Compares two answers to Q; prints the first few differences and counts them all. */
static void
bench_check(const struct nearest_query *q, const struct nearest_hit *a, size_t na,
	    const struct nearest_hit *b, size_t nb, size_t *mismatches)
{
	if (bench_same(a, na, b, nb))
		return;
	if (*mismatches < 5)
		bench_print_mismatch(q, a, na, b, nb);
	(*mismatches)++;
}

/* Prints one row of the timing table from the N timings in V (sorted in place). */
static void
bench_print_row(const char *what, int64_t *v, size_t n)
{
	double total = bench_total_ms(v, n);
	double med = bench_percentile_us(v, n, 50), p99 = bench_percentile_us(v, n, 99);

	printf("%-34s %10.2f %10.2f %10.1f\n", what, med, p99, total);
}

int
main(int argc, char **argv)
{
	size_t n_units = 100000, n_queries = 10000, i, mismatches = 0, moved_checks;
	uint64_t s = 20240601;
	struct roster *r;
	struct nearest *idx;
	struct nearest_stats st;
	struct nearest_query *qs;
	const char **skills;
	struct nearest_hit *ans, b[BENCH_K], c[BENCH_K];
	size_t *n_ans;
	int64_t t0, build_ns, *t_idx, *t_brute, *t_cold, *t_move;
	double idx_med, brute_med;

	if (argc > 3) {
		fprintf(stderr, "usage: bench_nearest [UNITS [QUERIES]]\n");
		return 2;
	}
	if (argc > 1)
		n_units = bench_parse_count(argv[1]);
	if (argc > 2)
		n_queries = bench_parse_count(argv[2]);
	r = bench_roster(n_units, &s);
	t0 = util_mono_ns();
	idx = nearest_new(r);
	build_ns = util_mono_ns() - t0;
	nearest_get_stats(idx, &st);

	qs = xcalloc(n_queries, sizeof *qs);
	skills = xcalloc(n_queries, sizeof *skills);
	ans = xcalloc(n_queries * BENCH_K, sizeof *ans);
	n_ans = xcalloc(n_queries, sizeof *n_ans);
	t_idx = xcalloc(n_queries, sizeof *t_idx);
	t_brute = xcalloc(n_queries, sizeof *t_brute);
	t_cold = xcalloc(n_queries, sizeof *t_cold);
	t_move = xcalloc(n_units, sizeof *t_move);
	for (i = 0; i < n_queries; i++)
		qs[i] = bench_query(&s, &skills[i]);
	/* Pass 1: the index alone, one query after another. */
	for (i = 0; i < n_queries; i++) {
		t0 = util_mono_ns();
		n_ans[i] = nearest_query(idx, &qs[i], BENCH_K, &ans[i * BENCH_K]);
		t_idx[i] = util_mono_ns() - t0;
	}
	/* Pass 2: brute force, then the index again right after it, with the caches full of
	 * the roster scan (closer to a daemon that answers now and then). */
	for (i = 0; i < n_queries; i++) {
		size_t nb, nc;

		t0 = util_mono_ns();
		nb = nearest_brute(r, &qs[i], BENCH_K, b);
		t_brute[i] = util_mono_ns() - t0;
		t0 = util_mono_ns();
		nc = nearest_query(idx, &qs[i], BENCH_K, c);
		t_cold[i] = util_mono_ns() - t0;
		bench_check(&qs[i], &ans[i * BENCH_K], n_ans[i], b, nb, &mismatches);
		bench_check(&qs[i], c, nc, b, nb, &mismatches);
	}
	/* Every unit moves up to ~50 m, as after a round of heartbeats, and is re-filed; a
	 * tenth of the queries are then checked again. */
	for (i = 0; i < n_units; i++) {
		r->units[i].lat += 0.00045 * (bench_rng_unit(&s) - 0.5) * 2;
		r->units[i].lon += 0.00052 * (bench_rng_unit(&s) - 0.5) * 2;
		t0 = util_mono_ns();
		nearest_moved(idx, (int)i);
		t_move[i] = util_mono_ns() - t0;
	}
	moved_checks = n_queries / 10 + 1;
	for (i = 0; i < moved_checks && i < n_queries; i++) {
		size_t nb = nearest_brute(r, &qs[i], BENCH_K, b);
		size_t nc = nearest_query(idx, &qs[i], BENCH_K, c);

		bench_check(&qs[i], c, nc, b, nb, &mismatches);
	}
	if (moved_checks > n_queries)
		moved_checks = n_queries;

	printf("nearest: %zu units, %zu kinds, %zu queries (k = %d; 30%% with a department, "
	       "25%% with a skill; staleness checked)\n",
	       n_units, st.kinds, n_queries, BENCH_K);
	printf("district box %.1f km x %.1f km around 30.27, 120.20\n",
	       (BENCH_EAST - BENCH_WEST) * 111.195 * cos(30.27 * M_PI / 180.0),
	       (BENCH_NORTH - BENCH_SOUTH) * 111.195);
	printf("index: built in %.1f ms; cell %.0f m; %zu cells; %zu units filed; "
	       "memory %.2f MiB (%.1f bytes/unit)\n",
	       (double)build_ns / 1e6, st.cell_m, st.cells, st.filed,
	       (double)st.bytes / (1024.0 * 1024.0), (double)st.bytes / (double)n_units);
	/* Spelled out: printf pads by bytes, and µ takes two. */
	printf("\n%-34s  median µs     p99 µs   total ms\n", "");
	bench_print_row("index query", t_idx, n_queries);
	bench_print_row("brute-force query", t_brute, n_queries);
	bench_print_row("index query after a brute scan", t_cold, n_queries);
	bench_print_row("nearest_moved (per unit)", t_move, n_units);
	/* The rows sorted the timings, so the medians are in place. */
	idx_med = bench_percentile_us(t_idx, n_queries, 50);
	brute_med = bench_percentile_us(t_brute, n_queries, 50);
	printf("\nspeed-up (brute median / index median): %.0fx; after a brute scan: %.0fx\n",
	       idx_med > 0 ? brute_med / idx_med : 0.0,
	       bench_percentile_us(t_cold, n_queries, 50) > 0
		   ? brute_med / bench_percentile_us(t_cold, n_queries, 50)
		   : 0.0);
	if (mismatches == 0)
		printf("answers: all identical to brute force (%zu queries, each answered twice, "
		       "and %zu again after every unit moved)\n",
		       n_queries, moved_checks);
	else
		printf("\n*** MISMATCH: %zu answers differ from brute force ***\n", mismatches);

	free(qs);
	free((void *)skills);
	free(ans);
	free(n_ans);
	free(t_idx);
	free(t_brute);
	free(t_cold);
	free(t_move);
	nearest_free(idx);
	roster_free(r);
	return 0;
}
