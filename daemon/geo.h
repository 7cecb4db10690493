/* geo: the district's places (streets, communities, grids, key places) and distances. */
#ifndef MUSTER_GEO_H
#define MUSTER_GEO_H

#include <stddef.h>

enum place_kind {
	PLACE_STREET = 1,    /* 街道: a street sub-centre's area */
	PLACE_COMMUNITY = 2, /* 社区: a community micro-centre's area */
	PLACE_GRID = 3,	     /* 网格: a work grid inside a community */
	PLACE_KEY = 4,	     /* a key place (mall, stadium, dock, ...) inside a community */
};

struct place {
	char *id;   /* unique across the district, e.g. "s03", "s03-c02", "kp-harbour-mall" */
	char *name; /* for people; unique too, so operators may type it */
	enum place_kind kind;
	double lat, lon;
	int parent;	 /* index of the enclosing place in district.places, -1 for a street */
	char *key_kind;	 /* PLACE_KEY only: "mall", "stadium", "dock", ...; else NULL */
	int post24h;	 /* PLACE_KEY only: has a 24-hour police post (囤警点) */
	int *neighbours; /* PLACE_COMMUNITY only: indexes of neighbouring communities */
	size_t n_neighbours;
	int line; /* line in the district file, for messages */
};

struct district {
	char *id;
	char *name;
	double south, west, north, east; /* bounding box; every coordinate must be inside */
	struct place *places;		 /* streets first, then communities, grids, key places */
	size_t n_places;
};

/* Returns the place whose id or name is S, or NULL. Borrowed. */
const struct place *geo_find(const struct district *d, const char *s);
/* Returns 1 when (lat, lon) lies inside the district's bounding box. */
int geo_in_district(const struct district *d, double lat, double lon);
/* Great-circle distance in metres (haversine). */
double geo_distance_m(double lat1, double lon1, double lat2, double lon2);
/* Returns the place of KIND nearest to (lat, lon), or NULL when there is none. Borrowed. */
const struct place *geo_nearest(const struct district *d, double lat, double lon,
				enum place_kind kind);
/* Fills *street, *community, *grid (each may be NULL on output) with the places that
 * enclose P, P itself included. Any output pointer may be NULL to skip it. */
void geo_enclosing(const struct district *d, const struct place *p, const struct place **street,
		   const struct place **community, const struct place **grid);
/* Frees D and everything in it; accepts NULL. */
void geo_free(struct district *d);

#endif
