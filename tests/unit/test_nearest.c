/* test_nearest: the spatial index gives exactly the brute-force answer, over random rosters
 * and on hand-made edge cases; brute force itself is checked against a naive count. */
#include "test.h"

#include "geo.h"
#include "nearest.h"
#include "roster.h"
#include "util.h"

#include <math.h>
#include <stdint.h>

int main(void);

static const char *const test_kinds[] = {"patrol", "fire_engine", "ambulance", "volunteer_guard"};
static const char *const test_skills[] = {"rope", "hazmat", "medic", "diver", "ladder"};

#define TEST_N_KINDS (sizeof test_kinds / sizeof test_kinds[0])
#define TEST_N_SKILLS (sizeof test_skills / sizeof test_skills[0])
#define TEST_N_DEPTS 3

/* A deterministic random number generator (splitmix64). */
static uint64_t
test_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Returns a uniform double in [0, 1). */
static double
test_rng_unit(uint64_t *s)
{
	return (double)(test_rng_next(s) >> 11) / 9007199254740992.0;
}

/* Returns a uniform integer in [0, n). */
static size_t
test_rng_below(uint64_t *s, size_t n)
{
	return (size_t)(test_rng_next(s) % n);
}

/* Returns a roster of N units with no kind, skills or position yet, and TEST_N_DEPTS
 * departments; freed by roster_free. */
static struct roster *
test_roster_new(size_t n)
{
	static const char *const depts[TEST_N_DEPTS] = {"fire", "police", "emergency"};
	struct roster *r = xcalloc(1, sizeof *r);
	size_t i;

	r->departments = xcalloc(TEST_N_DEPTS, sizeof *r->departments);
	r->n_departments = TEST_N_DEPTS;
	for (i = 0; i < TEST_N_DEPTS; i++) {
		r->departments[i].id = xstrdup(depts[i]);
		r->departments[i].name = xstrdup(depts[i]);
	}
	r->units = xcalloc(n + 1, sizeof *r->units);
	r->n_units = n;
	for (i = 0; i < n; i++) {
		struct unit *u = &r->units[i];

		u->id = xasprintf("u%zu", i);
		u->name = xasprintf("Unit %zu", i);
		u->agent = xstrdup("agent:test");
		u->station = -1;
		u->people = 1;
	}
	return r;
}

/* Sets unit I's kind, department, position and status (fresh, last seen at 1000). */
static void
test_unit_set(struct roster *r, size_t i, const char *kind, int dept, double lat, double lon,
	      enum unit_status status)
{
	struct unit *u = &r->units[i];

	free(u->kind);
	u->kind = kind ? xstrdup(kind) : NULL;
	u->department = dept;
	u->lat = u->home_lat = lat;
	u->lon = u->home_lon = lon;
	u->status = status;
	u->last_seen_ms = 1000;
}

/* Gives unit I the skills named by the bits of MASK. */
static void
test_unit_skills(struct roster *r, size_t i, unsigned mask)
{
	struct unit *u = &r->units[i];
	size_t s;

	for (s = 0; s < u->n_skills; s++)
		free(u->skills[s]);
	free(u->skills);
	u->skills = xcalloc(TEST_N_SKILLS + 1, sizeof *u->skills);
	u->n_skills = 0;
	for (s = 0; s < TEST_N_SKILLS; s++) {
		if (mask & (1u << s))
			u->skills[u->n_skills++] = xstrdup(test_skills[s]);
	}
}

/* Returns a query for KIND at (lat, lon) with no filters: any department, no skills. */
static struct nearest_query
test_query(const char *kind, double lat, double lon)
{
	struct nearest_query q;

	memset(&q, 0, sizeof q);
	q.lat = lat;
	q.lon = lon;
	q.kind = kind;
	q.department = -1;
	q.speed_mps = 10.0;
	q.road_factor = 1.4;
	return q;
}

/* Returns 1 when unit I satisfies every condition of Q, written independently of the
 * module (a position is valid when finite, |lat| <= 90 and |lon| <= 360). */
static int
test_naive_match(const struct roster *r, const struct nearest_query *q, size_t i)
{
	const struct unit *u = &r->units[i];
	size_t s, t;

	if (u->kind == NULL || strcmp(u->kind, q->kind) != 0)
		return 0;
	if (u->status != UNIT_STATUS_AVAILABLE || (q->exclude && q->exclude[i]))
		return 0;
	if (q->department != -1 && u->department != q->department)
		return 0;
	if (q->stale_ms != 0 && (u->last_seen_ms == 0 || q->now_ms - u->last_seen_ms > q->stale_ms))
		return 0;
	if (!isfinite(u->lat) || !isfinite(u->lon) || fabs(u->lat) > 90 || fabs(u->lon) > 360)
		return 0;
	for (s = 0; q->skills != NULL && s < q->n_skills; s++) {
		int found = 0;

		for (t = 0; t < u->n_skills; t++)
			found |= strcmp(u->skills[t], q->skills[s]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* Checks the brute-force answer against the naive rules: right count, only matching
 * units, nearest first with ties by index, nothing nearer left out. Returns failures. */
static int
test_check_brute(const struct roster *r, const struct nearest_query *q, size_t k,
		 const struct nearest_hit *h, size_t got)
{
	size_t i, matches = 0, bad = 0;
	double worst = got ? h[got - 1].distance_m : 0;
	int worst_unit = got ? h[got - 1].unit : -1;

	/* An incident with no valid position (a moved unit's NaN, copied) has no answer. */
	if (!isfinite(q->lat) || !isfinite(q->lon) || fabs(q->lat) > 90 || fabs(q->lon) > 360)
		return got != 0;
	for (i = 0; i < r->n_units; i++) {
		double d;

		if (!test_naive_match(r, q, i))
			continue;
		matches++;
		d = geo_distance_m(q->lat, q->lon, r->units[i].lat, r->units[i].lon);
		/* A match that ranks before the last hit must be among the hits. */
		if (got == k && (d < worst || (d == worst && (int)i < worst_unit))) {
			size_t j;

			for (j = 0; j < got && h[j].unit != (int)i; j++)
				;
			bad += j == got;
		}
	}
	bad += got != (matches < k ? matches : k);
	for (i = 0; i < got; i++) {
		const struct unit *u = &r->units[h[i].unit];
		double d = geo_distance_m(q->lat, q->lon, u->lat, u->lon);

		bad += !test_naive_match(r, q, (size_t)h[i].unit);
		bad += h[i].distance_m != d;
		bad += h[i].eta_s != d * q->road_factor / q->speed_mps;
		if (i > 0)
			bad +=
			    h[i - 1].distance_m > h[i].distance_m ||
			    (h[i - 1].distance_m == h[i].distance_m && h[i - 1].unit >= h[i].unit);
	}
	return (int)bad;
}

/* Runs Q through the index and brute force; returns the number of differences (0 when
 * identical) plus brute force's own failures. */
static int
test_compare(const struct nearest *n, const struct roster *r, const struct nearest_query *q,
	     size_t k)
{
	struct nearest_hit *a = xcalloc(k + 1, sizeof *a), *b = xcalloc(k + 1, sizeof *b);
	size_t na = nearest_query(n, q, k, a), nb = nearest_brute(r, q, k, b), i;
	int bad = 0;

	if (na != nb)
		bad++;
	for (i = 0; i < na && i < nb; i++) {
		if (a[i].unit != b[i].unit || a[i].distance_m != b[i].distance_m ||
		    a[i].eta_s != b[i].eta_s)
			bad++;
	}
	if (bad)
		fprintf(stderr, "mismatch: kind %s at %.6f,%.6f k %zu: index %zu brute %zu\n",
			q->kind, q->lat, q->lon, k, na, nb);
	bad += test_check_brute(r, q, k, b, nb);
	free(a);
	free(b);
	return bad;
}

/* Puts unit I at a random position: mostly in a district box, some anywhere on the globe,
 * some exactly where an earlier unit is. */
static void
test_random_position(struct roster *r, size_t i, uint64_t *s)
{
	double p = test_rng_unit(s);
	struct unit *u = &r->units[i];

	if (p < 0.04) {
		u->lat = -90.0 + 180.0 * test_rng_unit(s);
		u->lon = -180.0 + 360.0 * test_rng_unit(s);
	} else if (p < 0.05) {
		/* Near a pole or the antimeridian. */
		u->lat = (test_rng_unit(s) < 0.5 ? 89.9 : -89.9) + 0.1 * (test_rng_unit(s) - 0.5);
		u->lon = (test_rng_unit(s) < 0.5 ? 179.999 : -179.999) +
			 0.002 * (test_rng_unit(s) - 0.5);
	} else if (p < 0.10 && i > 0) {
		size_t j = test_rng_below(s, i);

		u->lat = r->units[j].lat;
		u->lon = r->units[j].lon;
	} else {
		u->lat = 30.19 + 0.153 * test_rng_unit(s);
		u->lon = 120.10 + 0.207 * test_rng_unit(s);
	}
}

/* Returns a random roster of N units for seed S. */
static struct roster *
test_random_roster(size_t n, uint64_t *s)
{
	struct roster *r = test_roster_new(n);
	size_t i;

	for (i = 0; i < n; i++) {
		double p = test_rng_unit(s);
		enum unit_status st = p < 0.7	 ? UNIT_STATUS_AVAILABLE
				      : p < 0.85 ? UNIT_STATUS_BUSY
				      : p < 0.95 ? UNIT_STATUS_OFF_DUTY
						 : UNIT_STATUS_UNKNOWN;

		test_unit_set(r, i, test_kinds[test_rng_below(s, TEST_N_KINDS)],
			      (int)test_rng_below(s, TEST_N_DEPTS), 0, 0, st);
		test_random_position(r, i, s);
		test_unit_skills(r, i, (unsigned)test_rng_below(s, 1u << TEST_N_SKILLS));
		r->units[i].last_seen_ms =
		    test_rng_unit(s) < 0.05 ? 0 : (int64_t)test_rng_below(s, 100000);
	}
	return r;
}

/* Returns a random query; SKILLS and EXCLUDE are storage for its skills and exclusions. */
static struct nearest_query
test_random_query(const struct roster *r, uint64_t *s, const char **skills, uint8_t *exclude)
{
	double p = test_rng_unit(s);
	struct nearest_query q;
	size_t i;

	if (p < 0.8)
		q = test_query(NULL, 30.19 + 0.153 * test_rng_unit(s),
			       120.10 + 0.207 * test_rng_unit(s));
	else if (p < 0.9)
		q = test_query(NULL, -90.0 + 180.0 * test_rng_unit(s),
			       -180.0 + 360.0 * test_rng_unit(s));
	else if (p < 0.95)
		q = test_query(NULL, test_rng_unit(s) < 0.5 ? 89.95 : -89.99,
			       test_rng_unit(s) < 0.5 ? 179.9995 : -180.0);
	else
		q = test_query(NULL, r->units[test_rng_below(s, r->n_units)].lat,
			       r->units[test_rng_below(s, r->n_units)].lon);
	q.kind =
	    test_rng_unit(s) < 0.02 ? "hovercraft" : test_kinds[test_rng_below(s, TEST_N_KINDS)];
	if (test_rng_unit(s) < 0.4)
		q.department = (int)test_rng_below(s, TEST_N_DEPTS);
	if (test_rng_unit(s) < 0.4) {
		q.n_skills = 1 + test_rng_below(s, 2);
		for (i = 0; i < q.n_skills; i++)
			skills[i] = test_skills[test_rng_below(s, TEST_N_SKILLS)];
		q.skills = skills;
	}
	if (test_rng_unit(s) < 0.3) {
		q.now_ms = 100000;
		q.stale_ms = (int64_t)test_rng_below(s, 100000) + 1;
	}
	if (test_rng_unit(s) < 0.3) {
		for (i = 0; i < r->n_units; i++)
			exclude[i] = test_rng_unit(s) < 0.2;
		q.exclude = exclude;
	}
	return q;
}

/* Returns a random k: mostly small, sometimes more than there can be matches. */
static size_t
test_random_k(const struct roster *r, uint64_t *s)
{
	static const size_t ks[] = {1, 2, 3, 5, 5, 8, 16, 50};
	double p = test_rng_unit(s);

	if (p < 0.05)
		return r->n_units + 10;
	return ks[test_rng_below(s, sizeof ks / sizeof ks[0])];
}

/* Over many seeds, random rosters and queries get the brute-force answer, also after some
 * units moved (and were re-filed with nearest_moved). */
static void
test_random_against_brute(void)
{
	uint64_t seed;
	int bad = 0, queries = 0;

	for (seed = 1; seed <= 30; seed++) {
		uint64_t s = seed * 7919;
		size_t n = 1000 + test_rng_below(&s, 3000), i;
		struct roster *r = test_random_roster(n, &s);
		struct nearest *idx = nearest_new(r);
		uint8_t *exclude = xcalloc(n, 1);
		const char *skills[2];
		int round;

		for (round = 0; round < 2; round++) {
			int j;

			for (j = 0; j < 150; j++) {
				struct nearest_query q = test_random_query(r, &s, skills, exclude);

				bad += test_compare(idx, r, &q, test_random_k(r, &s));
				queries++;
			}
			/* Move a tenth of the units, some off the globe's valid range. */
			for (i = 0; i < n / 10; i++) {
				size_t u = test_rng_below(&s, n);

				if (test_rng_unit(&s) < 0.05)
					r->units[u].lat = NAN;
				else
					test_random_position(r, u, &s);
				nearest_moved(idx, (int)u);
			}
		}
		free(exclude);
		nearest_free(idx);
		roster_free(r);
	}
	CHECK(bad == 0);
	CHECK(queries == 30 * 2 * 150);
}

/* Hand-made: three units at known places; distances, ETAs and order are as computed. */
static void
test_known_answer(void)
{
	struct roster *r = test_roster_new(4);
	struct nearest *n;
	struct nearest_query q = test_query("patrol", 30.27, 120.2);
	struct nearest_hit h[4];
	size_t got;

	test_unit_set(r, 0, "patrol", 0, 30.30, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 1, "patrol", 0, 30.28, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 2, "patrol", 0, 30.27, 120.2, UNIT_STATUS_BUSY);
	test_unit_set(r, 3, "patrol", 0, 31.27, 120.2, UNIT_STATUS_AVAILABLE);
	n = nearest_new(r);
	got = nearest_query(n, &q, 4, h);
	CHECK(got == 3);
	CHECK(h[0].unit == 1 && h[1].unit == 0 && h[2].unit == 3);
	/* 0.01 degree of latitude is 1111.95 m on the 6371 km sphere. */
	CHECK(fabs(h[0].distance_m - 1111.95) < 0.05);
	CHECK(fabs(h[1].distance_m - 3335.85) < 0.05);
	CHECK(fabs(h[2].distance_m - 111195.08) < 0.05);
	CHECK(h[0].eta_s == h[0].distance_m * 1.4 / 10.0);
	got = nearest_query(n, &q, 1, h);
	CHECK(got == 1 && h[0].unit == 1);
	CHECK(test_compare(n, r, &q, 4) == 0);
	nearest_free(n);
	roster_free(r);
}

/* k = 0, an empty roster, an unknown or missing kind and bad coordinates give nothing. */
static void
test_empty_cases(void)
{
	struct roster *empty = test_roster_new(0), *r = test_roster_new(2);
	struct nearest *ne = nearest_new(empty), *n;
	struct nearest_query q = test_query("patrol", 30.27, 120.2);
	struct nearest_hit h[2];
	struct nearest_stats st;

	CHECK(nearest_query(ne, &q, 2, h) == 0);
	CHECK(nearest_brute(empty, &q, 2, h) == 0);
	nearest_get_stats(ne, &st);
	CHECK(st.filed == 0 && st.cells == 0 && st.bytes > 0);
	nearest_moved(ne, 0);
	nearest_free(ne);
	nearest_free(NULL);

	test_unit_set(r, 0, "patrol", 0, 30.27, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 1, NULL, 0, 30.27, 120.2, UNIT_STATUS_AVAILABLE);
	n = nearest_new(r);
	h[0].unit = 77;
	CHECK(nearest_query(n, &q, 0, h) == 0);
	CHECK(nearest_brute(r, &q, 0, h) == 0);
	CHECK(h[0].unit == 77);
	CHECK(nearest_query(n, &q, 0, NULL) == 0);
	CHECK(nearest_query(n, &q, 2, h) == 1 && h[0].unit == 0);
	q.kind = "ambulance";
	CHECK(nearest_query(n, &q, 2, h) == 0);
	q.kind = NULL;
	CHECK(nearest_query(n, &q, 2, h) == 0);
	CHECK(nearest_brute(r, &q, 2, h) == 0);
	q = test_query("patrol", NAN, 120.2);
	CHECK(nearest_query(n, &q, 2, h) == 0);
	CHECK(nearest_brute(r, &q, 2, h) == 0);
	q = test_query("patrol", 91.0, 120.2);
	CHECK(nearest_query(n, &q, 2, h) == 0);
	nearest_get_stats(n, &st);
	CHECK(st.filed == 1 && st.kinds == 1 && st.cells == 1);
	CHECK(st.cell_m >= 250 && st.cell_m <= 1000);
	nearest_free(n);
	roster_free(empty);
	roster_free(r);
}

/* Units at one spot tie; ties go by index. Asking for more than match gives all matches. */
static void
test_ties_and_large_k(void)
{
	struct roster *r = test_roster_new(12);
	struct nearest *n;
	struct nearest_query q = test_query("fire_engine", 30.2701, 120.2001);
	struct nearest_hit h[20];
	size_t i;

	for (i = 0; i < 12; i++)
		test_unit_set(r, 11 - i, "fire_engine", 0, 30.27, 120.2,
			      i % 3 == 0 ? UNIT_STATUS_BUSY : UNIT_STATUS_AVAILABLE);
	n = nearest_new(r);
	/* Available: every index but 11, 8, 5, 2. */
	CHECK(nearest_query(n, &q, 3, h) == 3);
	CHECK(h[0].unit == 0 && h[1].unit == 1 && h[2].unit == 3);
	CHECK(h[0].distance_m == h[2].distance_m);
	CHECK(nearest_query(n, &q, 20, h) == 8);
	CHECK(h[7].unit == 10);
	CHECK(test_compare(n, r, &q, 20) == 0);
	CHECK(test_compare(n, r, &q, 5) == 0);
	nearest_free(n);
	roster_free(r);
}

/* Department, skills (all required), exclusions and staleness each filter as documented. */
static void
test_filters(void)
{
	struct roster *r = test_roster_new(5);
	struct nearest *n;
	struct nearest_query q = test_query("ambulance", 30.27, 120.2);
	struct nearest_hit h[5];
	const char *need[] = {"medic", "diver"};
	uint8_t exclude[5] = {0};

	test_unit_set(r, 0, "ambulance", 0, 30.271, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 1, "ambulance", 2, 30.272, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 2, "ambulance", 2, 30.273, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 3, "ambulance", 1, 30.274, 120.2, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 4, "ambulance", 2, 30.275, 120.2, UNIT_STATUS_OFF_DUTY);
	test_unit_skills(r, 1, 1u << 2);	       /* medic */
	test_unit_skills(r, 2, (1u << 2) | (1u << 3)); /* medic, diver */
	test_unit_skills(r, 3, (1u << 2) | (1u << 3));
	r->units[0].last_seen_ms = 0;
	r->units[1].last_seen_ms = 50000;
	r->units[2].last_seen_ms = 90000;
	r->units[3].last_seen_ms = 99000;
	n = nearest_new(r);

	CHECK(nearest_query(n, &q, 5, h) == 4 && h[0].unit == 0 && h[3].unit == 3);
	q.department = 2;
	CHECK(nearest_query(n, &q, 5, h) == 2 && h[0].unit == 1 && h[1].unit == 2);
	q.department = -1;
	q.skills = need;
	q.n_skills = 1;
	CHECK(nearest_query(n, &q, 5, h) == 3 && h[0].unit == 1);
	q.n_skills = 2;
	CHECK(nearest_query(n, &q, 5, h) == 2 && h[0].unit == 2 && h[1].unit == 3);
	q.skills = NULL; /* no list: no skill required, whatever n_skills says */
	CHECK(nearest_query(n, &q, 5, h) == 4 && nearest_brute(r, &q, 5, h) == 4);
	q.skills = need;
	exclude[2] = 1;
	q.exclude = exclude;
	CHECK(nearest_query(n, &q, 5, h) == 1 && h[0].unit == 3);
	CHECK(test_compare(n, r, &q, 5) == 0);
	q = test_query("ambulance", 30.27, 120.2);
	q.now_ms = 100000;
	q.stale_ms = 20000; /* fresh: last seen at or after 80000; never seen is stale */
	CHECK(nearest_query(n, &q, 5, h) == 2 && h[0].unit == 2 && h[1].unit == 3);
	CHECK(test_compare(n, r, &q, 5) == 0);
	q.stale_ms = 10000;
	CHECK(nearest_query(n, &q, 5, h) == 2);
	q.stale_ms = 9999;
	CHECK(nearest_query(n, &q, 5, h) == 1 && h[0].unit == 3);
	nearest_free(n);
	roster_free(r);
}

/* A moved unit is found at its new place and no longer at its old one. */
static void
test_moved(void)
{
	struct roster *r = test_roster_new(200);
	struct nearest *n;
	struct nearest_query q = test_query("patrol", 30.20, 120.10);
	struct nearest_hit h[3];
	uint64_t s = 42;
	size_t i;

	for (i = 0; i < 200; i++)
		test_unit_set(r, i, "patrol", 1, 30.25 + 0.05 * test_rng_unit(&s),
			      120.15 + 0.05 * test_rng_unit(&s), UNIT_STATUS_AVAILABLE);
	n = nearest_new(r);
	CHECK(nearest_query(n, &q, 1, h) == 1 && h[0].unit != 150);
	r->units[150].lat = 30.2001;
	r->units[150].lon = 120.1001;
	nearest_moved(n, 150);
	CHECK(nearest_query(n, &q, 1, h) == 1 && h[0].unit == 150);
	CHECK(test_compare(n, r, &q, 3) == 0);
	/* Off to the other side of the world, then back. */
	q = test_query("patrol", -33.86, 151.21);
	r->units[150].lat = -33.87;
	r->units[150].lon = 151.2;
	nearest_moved(n, 150);
	CHECK(nearest_query(n, &q, 1, h) == 1 && h[0].unit == 150 && h[0].distance_m < 2000);
	r->units[150].lat = NAN;
	nearest_moved(n, 150);
	CHECK(nearest_query(n, &q, 1, h) == 1 && h[0].unit != 150 && h[0].distance_m > 7e6);
	CHECK(test_compare(n, r, &q, 3) == 0);
	r->units[150].lat = 30.26;
	r->units[150].lon = 120.16;
	nearest_moved(n, 150);
	nearest_moved(n, 150); /* twice, and a unit that does not exist */
	nearest_moved(n, -1);
	nearest_moved(n, 200);
	CHECK(test_compare(n, r, &q, 200) == 0);
	CHECK(nearest_query(n, &q, 300, NULL) == 0);
	{
		struct nearest_hit all[201];

		CHECK(nearest_query(n, &q, 201, all) == 200);
	}
	nearest_free(n);
	roster_free(r);
}

/* A small move that stays inside a cell is seen too: fifty places, each with a unit 50 m
 * away and a unit that comes from 120 m to 5 m; the latter must win everywhere. */
static void
test_moved_within_cell(void)
{
	struct roster *r = test_roster_new(100);
	struct nearest *n;
	struct nearest_hit h[1];
	size_t i, wins = 0;

	for (i = 0; i < 50; i++) {
		double lat = 30.0 + 0.05 * (double)(i / 10), lon = 120.0 + 0.05 * (double)(i % 10);

		test_unit_set(r, 2 * i, "patrol", 0, lat + 0.00045, lon, UNIT_STATUS_AVAILABLE);
		test_unit_set(r, 2 * i + 1, "patrol", 0, lat - 0.0011, lon, UNIT_STATUS_AVAILABLE);
	}
	n = nearest_new(r);
	for (i = 0; i < 50; i++) {
		r->units[2 * i + 1].lat = 30.0 + 0.05 * (double)(i / 10) + 0.00004;
		nearest_moved(n, (int)(2 * i + 1));
	}
	for (i = 0; i < 50; i++) {
		struct nearest_query q = test_query("patrol", 30.0 + 0.05 * (double)(i / 10),
						    120.0 + 0.05 * (double)(i % 10));

		wins += nearest_query(n, &q, 1, h) == 1 && h[0].unit == (int)(2 * i + 1) &&
			h[0].distance_m < 6;
		CHECK(test_compare(n, r, &q, 1) == 0);
	}
	CHECK(wins == 50);
	nearest_free(n);
	roster_free(r);
}

/* Across the antimeridian and near the poles the nearest is still the nearest. */
static void
test_globe(void)
{
	struct roster *r = test_roster_new(6);
	struct nearest *n;
	struct nearest_query q = test_query("patrol", 10.0, 179.9999);
	struct nearest_hit h[6];

	test_unit_set(r, 0, "patrol", 0, 10.0, -179.9999, UNIT_STATUS_AVAILABLE); /* 22 m */
	test_unit_set(r, 1, "patrol", 0, 10.01, 179.9999, UNIT_STATUS_AVAILABLE); /* 1.1 km */
	test_unit_set(r, 2, "patrol", 0, 89.999, 0.0, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 3, "patrol", 0, 89.999, 180.0, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 4, "patrol", 0, -90.0, 45.0, UNIT_STATUS_AVAILABLE);
	test_unit_set(r, 5, "patrol", 0, 30.27, 120.2 - 360.0, UNIT_STATUS_AVAILABLE);
	n = nearest_new(r);
	CHECK(nearest_query(n, &q, 2, h) == 2 && h[0].unit == 0 && h[1].unit == 1);
	CHECK(h[0].distance_m < 30);
	CHECK(test_compare(n, r, &q, 6) == 0);
	/* At the pole, units on opposite meridians are both about 111 m away. */
	q = test_query("patrol", 90.0, 90.0);
	CHECK(nearest_query(n, &q, 2, h) == 2 && h[0].distance_m < 112 && h[1].distance_m < 112);
	CHECK(test_compare(n, r, &q, 6) == 0);
	q = test_query("patrol", 30.27, 120.2);
	CHECK(nearest_query(n, &q, 1, h) == 1 && h[0].unit == 5 && h[0].distance_m < 1e-3);
	q = test_query("patrol", -89.9, -100.0);
	CHECK(nearest_query(n, &q, 1, h) == 1 && h[0].unit == 4);
	CHECK(test_compare(n, r, &q, 6) == 0);
	nearest_free(n);
	roster_free(r);
}

int
main(void)
{
	RUN(test_known_answer);
	RUN(test_empty_cases);
	RUN(test_ties_and_large_k);
	RUN(test_filters);
	RUN(test_moved);
	RUN(test_moved_within_cell);
	RUN(test_globe);
	RUN(test_random_against_brute);
	TEST_DONE();
}
