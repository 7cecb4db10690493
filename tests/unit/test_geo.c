/* test_geo: distances and place look-ups over a small hand-built district. */
#include "test.h"

#include "geo.h"
#include "util.h"

#include <math.h>

int main(void);

/* Builds a district of one street, two communities, a grid in each and a key place. */
static struct district *
test_district(void)
{
	static const struct {
		const char *id, *name;
		enum place_kind kind;
		double lat, lon;
		int parent;
	} rows[] = {
	    {"s1", "North Street", PLACE_STREET, 30.08, 120.05, -1},
	    {"s2", "South Street", PLACE_STREET, 30.02, 120.05, -1},
	    {"s1-c1", "Lakeside", PLACE_COMMUNITY, 30.085, 120.04, 0},
	    {"s2-c1", "Harbour", PLACE_COMMUNITY, 30.02, 120.05, 1},
	    {"s1-c1-g1", "Lakeside Grid 1", PLACE_GRID, 30.086, 120.041, 2},
	    {"s2-c1-g1", "Harbour Grid 1", PLACE_GRID, 30.021, 120.049, 3},
	    {"kp-mall", "Harbour Mall", PLACE_KEY, 30.021, 120.052, 3},
	};
	struct district *d = xcalloc(1, sizeof *d);
	size_t i, n = sizeof rows / sizeof rows[0];

	d->id = xstrdup("t");
	d->name = xstrdup("Test District");
	d->south = 30.0;
	d->west = 120.0;
	d->north = 30.1;
	d->east = 120.1;
	d->places = xcalloc(n, sizeof *d->places);
	for (i = 0; i < n; i++) {
		struct place *p = &d->places[i];

		p->id = xstrdup(rows[i].id);
		p->name = xstrdup(rows[i].name);
		p->kind = rows[i].kind;
		p->lat = rows[i].lat;
		p->lon = rows[i].lon;
		p->parent = rows[i].parent;
		if (p->kind == PLACE_KEY) {
			p->key_kind = xstrdup("mall");
			p->post24h = 1;
		}
	}
	d->n_places = n;
	d->places[2].neighbours = xcalloc(1, sizeof(int));
	d->places[2].neighbours[0] = 3;
	d->places[2].n_neighbours = 1;
	return d;
}

/* Checks the haversine distance against published figures. */
static void
test_distance(void)
{
	double m;

	/* Nashville BNA to Los Angeles LAX: 2886.44 km (Rosetta Code, haversine). */
	m = geo_distance_m(36.12, -86.67, 33.94, -118.40);
	CHECK(fabs(m - 2886440.0) < 2886440.0 * 0.005);
	/* One degree of latitude is about 111.2 km. */
	m = geo_distance_m(30.0, 120.0, 31.0, 120.0);
	CHECK(fabs(m - 111195.0) < 111195.0 * 0.005);
	/* Hangzhou West Lake to Shanghai People's Square: about 167 km. */
	m = geo_distance_m(30.2460, 120.1470, 31.2304, 121.4737);
	CHECK(fabs(m - 167000.0) < 167000.0 * 0.02);
	CHECK(geo_distance_m(30.1, 120.1, 30.1, 120.1) == 0.0);
	CHECK(fabs(geo_distance_m(30.0, 120.0, 30.05, 120.07) -
		   geo_distance_m(30.05, 120.07, 30.0, 120.0)) < 1e-6);
	/* Antipodes do not produce NaN. */
	m = geo_distance_m(0, 0, 0, 180);
	CHECK(!isnan(m) && m > 2.0e7);
}

/* Finds places by id and by name. */
static void
test_find(void)
{
	struct district *d = test_district();
	const struct place *p;

	p = geo_find(d, "s1-c1");
	CHECK(p != NULL && p->kind == PLACE_COMMUNITY);
	p = geo_find(d, "Harbour Mall");
	CHECK(p != NULL && strcmp(p->id, "kp-mall") == 0);
	CHECK(geo_find(d, "nowhere") == NULL);
	CHECK(geo_find(d, NULL) == NULL);
	CHECK(geo_find(NULL, "s1") == NULL);
	geo_free(d);
}

/* Picks the nearest place of a kind. */
static void
test_nearest(void)
{
	struct district *d = test_district();
	const struct place *p;

	p = geo_nearest(d, 30.084, 120.042, PLACE_COMMUNITY);
	CHECK(p != NULL && strcmp(p->id, "s1-c1") == 0);
	p = geo_nearest(d, 30.03, 120.05, PLACE_COMMUNITY);
	CHECK(p != NULL && strcmp(p->id, "s2-c1") == 0);
	p = geo_nearest(d, 30.03, 120.05, PLACE_STREET);
	CHECK(p != NULL && strcmp(p->id, "s2") == 0);
	p = geo_nearest(d, 30.0, 120.0, PLACE_KEY);
	CHECK(p != NULL && strcmp(p->id, "kp-mall") == 0);
	CHECK(geo_nearest(NULL, 30.0, 120.0, PLACE_KEY) == NULL);
	geo_free(d);
}

/* Walks up from a place to its street, community and grid. */
static void
test_enclosing(void)
{
	struct district *d = test_district();
	const struct place *s, *c, *g;

	geo_enclosing(d, geo_find(d, "s1-c1-g1"), &s, &c, &g);
	CHECK(s != NULL && strcmp(s->id, "s1") == 0);
	CHECK(c != NULL && strcmp(c->id, "s1-c1") == 0);
	CHECK(g != NULL && strcmp(g->id, "s1-c1-g1") == 0);
	geo_enclosing(d, geo_find(d, "kp-mall"), &s, &c, &g);
	CHECK(s != NULL && strcmp(s->id, "s2") == 0);
	CHECK(c != NULL && strcmp(c->id, "s2-c1") == 0);
	CHECK(g == NULL);
	geo_enclosing(d, geo_find(d, "s2"), &s, &c, NULL);
	CHECK(s != NULL && strcmp(s->id, "s2") == 0);
	CHECK(c == NULL);
	geo_enclosing(d, NULL, &s, NULL, NULL);
	CHECK(s == NULL);
	/* A parent cycle (impossible after cfg, possible by hand) ends. */
	d->places[0].parent = 2;
	geo_enclosing(d, geo_find(d, "s1-c1-g1"), &s, &c, &g);
	CHECK(s != NULL && c != NULL && g != NULL);
	d->places[0].parent = -1;
	geo_free(d);
}

/* Tests points against the bounding box, edges included. */
static void
test_in_district(void)
{
	struct district *d = test_district();

	CHECK(geo_in_district(d, 30.05, 120.05));
	CHECK(geo_in_district(d, 30.0, 120.0));
	CHECK(geo_in_district(d, 30.1, 120.1));
	CHECK(!geo_in_district(d, 29.99, 120.05));
	CHECK(!geo_in_district(d, 30.05, 120.2));
	CHECK(!geo_in_district(d, NAN, 120.05));
	CHECK(!geo_in_district(NULL, 30.05, 120.05));
	geo_free(d);
	geo_free(NULL);
}

/* Runs the geo tests. */
int
main(void)
{
	RUN(test_distance);
	RUN(test_find);
	RUN(test_nearest);
	RUN(test_enclosing);
	RUN(test_in_district);
	TEST_DONE();
}
