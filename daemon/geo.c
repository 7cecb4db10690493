/* geo: look-ups and distances over the district's places; the district is small (hundreds of
 * places), so plain scans are fast enough and keep the data structure a flat array. */
#include "geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Mean Earth radius (IUGG), metres; the haversine error against the ellipsoid is < 0.5%. */
#define GEO_EARTH_RADIUS_M 6371008.8

/* Finds a place by id first, then by name, so an id always wins over a name. */
const struct place *
geo_find(const struct district *d, const char *s)
{
	size_t i;

	if (d == NULL || s == NULL)
		return NULL;
	for (i = 0; i < d->n_places; i++) {
		if (strcmp(d->places[i].id, s) == 0)
			return &d->places[i];
	}
	for (i = 0; i < d->n_places; i++) {
		if (d->places[i].name != NULL && strcmp(d->places[i].name, s) == 0)
			return &d->places[i];
	}
	return NULL;
}

/* Tests (lat, lon) against the district's bounding box. */
int
geo_in_district(const struct district *d, double lat, double lon)
{
	if (d == NULL || isnan(lat) || isnan(lon))
		return 0;
	return lat >= d->south && lat <= d->north && lon >= d->west && lon <= d->east;
}

/* Haversine distance on a sphere of the mean Earth radius. */
double
geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	const double rad = M_PI / 180.0;
	double dlat = (lat2 - lat1) * rad;
	double dlon = (lon2 - lon1) * rad;
	double a, c;

	a = sin(dlat / 2) * sin(dlat / 2) +
	    cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
	if (a > 1.0)
		a = 1.0;
	c = 2 * atan2(sqrt(a), sqrt(1 - a));
	return GEO_EARTH_RADIUS_M * c;
}

/* Scans the places of one kind for the nearest to (lat, lon). */
const struct place *
geo_nearest(const struct district *d, double lat, double lon, enum place_kind kind)
{
	const struct place *best = NULL;
	double best_m = 0;
	size_t i;

	if (d == NULL)
		return NULL;
	for (i = 0; i < d->n_places; i++) {
		const struct place *p = &d->places[i];
		double m;

		if (p->kind != kind)
			continue;
		m = geo_distance_m(lat, lon, p->lat, p->lon);
		if (best == NULL || m < best_m) {
			best = p;
			best_m = m;
		}
	}
	return best;
}

/* Walks up the parent chain from P, picking the street, community and grid. */
void
geo_enclosing(const struct district *d, const struct place *p, const struct place **street,
	      const struct place **community, const struct place **grid)
{
	const struct place *s = NULL, *c = NULL, *g = NULL;
	size_t hops = 0;

	/* The hop limit guards against a parent cycle in a hand-built district. */
	while (d != NULL && p != NULL && hops++ <= d->n_places) {
		if (p->kind == PLACE_STREET && s == NULL)
			s = p;
		else if (p->kind == PLACE_COMMUNITY && c == NULL)
			c = p;
		else if (p->kind == PLACE_GRID && g == NULL)
			g = p;
		if (p->parent < 0 || (size_t)p->parent >= d->n_places)
			break;
		p = &d->places[p->parent];
	}
	if (street != NULL)
		*street = s;
	if (community != NULL)
		*community = c;
	if (grid != NULL)
		*grid = g;
}

/* Frees a district and its places. */
void
geo_free(struct district *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n_places; i++) {
		free(d->places[i].id);
		free(d->places[i].name);
		free(d->places[i].key_kind);
		free(d->places[i].neighbours);
	}
	free(d->places);
	free(d->id);
	free(d->name);
	free(d);
}
