/* nearest: a spatial index over the roster's units that answers "the k nearest available
 * units of this kind (and department, and skills) by estimated arrival time".
 *
 * Design. The globe is cut into a uniform latitude/longitude grid: rows of equal latitude
 * height, columns of equal longitude width (360 divides evenly, so columns wrap around the
 * antimeridian cleanly). The cell size, 250 to 1000 m, comes from the units' extent (5th to
 * 95th percentile of a sample, so a few far-away units do not inflate it) and density, and
 * the column width is corrected by the cosine of the units' median latitude so that cells
 * are roughly square where the units are. Each (kind, row, column) that holds a unit is a
 * cell in one open-addressing hash table; a cell keeps the indexes of its units.
 *
 * A query walks square rings of cells around the incident's cell, keeping the k best
 * candidates in a max-heap ordered by (great-circle distance, unit index). After each ring
 * it computes a true lower bound of the great-circle distance to every unit not yet
 * explored: such a unit lies either outside the explored rows (distance >= R * latitude
 * gap) or outside the explored columns (distance >= R * asin(cos(lat) * sin(min(gap, 90
 * degrees))), the distance to the nearest meridian at that longitude gap). It stops when
 * the k-th best distance is below that bound, minus a millimetre of slack for rounding.
 * When the rings grow much larger than the kind's occupied cells (sparse matches, an
 * incident far from everyone, k larger than the matches), it switches to scanning the
 * kind's occupied cells not yet explored, skipping each cell whose own lower bound is
 * beyond the k-th best. Inside a cell, each unit's stored point on the unit sphere gives
 * a chord, and R * chord is a lower bound of its distance: units that cannot make the
 * answer are skipped without reading the roster. Candidates are then checked against the
 * roster's live status and measured with geo_distance_m, ordered exactly as nearest_brute
 * orders them, so the answers are identical to it. nearest_moved updates the stored point,
 * and moves the unit to another cell when it crossed a cell boundary.
 *
 * Units with no valid position (not finite, latitude outside [-90, 90], longitude outside
 * [-360, 360]) are not filed and never returned, by the index or by brute force. Ranking is
 * by distance; eta_s = distance_m * road_factor / speed_mps, or infinity when speed_mps is
 * not positive. */
#include "nearest.h"

#include "geo.h"
#include "roster.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NEAREST_EARTH_RADIUS_M 6371008.8
#define NEAREST_RAD (M_PI / 180.0)
#define NEAREST_MIN_CELL_M 250.0
#define NEAREST_MAX_CELL_M 1000.0
#define NEAREST_TARGET_PER_CELL 6.0
#define NEAREST_SAMPLE 4096
#define NEAREST_NONE (-1)

/* A unit in a cell, with its position as a point on the unit sphere (float, so 16 bytes):
 * the chord to the incident gives a lower bound of the distance without touching the
 * roster, and the roster is read only for units that could make the answer. */
struct nearest_entry {
	int32_t unit;
	float x, y, z;
};

struct nearest_cell {
	int32_t kind, row, col;
	uint32_t n, cap;
	struct nearest_entry *units;
};

/* A slot of the hash table, holding its key so that a probe touches one cache line. */
struct nearest_slot {
	int32_t kind, row, col;
	int32_t cell; /* index into nearest.cells, NEAREST_NONE when the slot is empty */
};

struct nearest_kind {
	char *name;
	int32_t *cells; /* indexes into nearest.cells */
	size_t n_cells, cap_cells;
};

struct nearest {
	const struct roster *r;
	size_t n_units;
	double cell_m;
	double row_deg, col_deg; /* cell height and width in degrees */
	int32_t n_rows, n_cols;
	struct nearest_kind *kinds;
	size_t n_kinds;
	int32_t *unit_kind; /* per unit: index into kinds, or NEAREST_NONE */
	int32_t *unit_cell; /* per unit: index into cells, or NEAREST_NONE when not filed */
	uint32_t *unit_pos; /* per unit: its place in its cell's units */
	struct nearest_cell *cells;
	size_t n_cells, cap_cells;
	struct nearest_slot *slots; /* open addressing, linear probing */
	size_t cap_slots;	    /* a power of two */
};

/* The k best so far, a max-heap on (distance, unit) in the caller's output array. */
struct nearest_heap {
	struct nearest_hit *h;
	size_t n, k;
};

/* Returns 1 when (lat, lon) is a position the index can file. */
static int
nearest_valid_position(double lat, double lon)
{
	return isfinite(lat) && isfinite(lon) && fabs(lat) <= 90.0 && fabs(lon) <= 360.0;
}

/* Returns 1 when hit A ranks after hit B (farther, or as far with a higher index). */
static int
nearest_hit_after(const struct nearest_hit *a, const struct nearest_hit *b)
{
	if (a->distance_m != b->distance_m)
		return a->distance_m > b->distance_m;
	return a->unit > b->unit;
}

/* Restores the heap property downwards from I among the first N entries. */
static void
nearest_heap_sift_down(struct nearest_hit *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct nearest_hit t;

		if (l < n && nearest_hit_after(&h[l], &h[m]))
			m = l;
		if (r < n && nearest_hit_after(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Offers unit U at distance D to the heap; keeps it when it is among the k best. */
static void
nearest_heap_offer(struct nearest_heap *hp, int u, double d)
{
	struct nearest_hit x = {.unit = u, .distance_m = d, .eta_s = 0};

	if (hp->n < hp->k) {
		size_t i = hp->n++;

		hp->h[i] = x;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			struct nearest_hit t;

			if (!nearest_hit_after(&hp->h[i], &hp->h[p]))
				break;
			t = hp->h[i];
			hp->h[i] = hp->h[p];
			hp->h[p] = t;
			i = p;
		}
		return;
	}
	if (hp->k == 0 || !nearest_hit_after(&hp->h[0], &x))
		return;
	hp->h[0] = x;
	nearest_heap_sift_down(hp->h, hp->n, 0);
}

/* Returns 1 when the heap is full and every unit farther than D_LB can be ignored. */
static int
nearest_heap_beats(const struct nearest_heap *hp, double d_lb)
{
	/* Slack for rounding in the bound and in the haversine: a millimetre and 1e-9. */
	double safe = d_lb * (1.0 - 1e-9) - 1e-3;

	return hp->n == hp->k && hp->h[0].distance_m < safe;
}

/* Sorts the heap nearest first, fills in the ETAs and returns how many hits it holds. */
static size_t
nearest_heap_finish(struct nearest_heap *hp, const struct nearest_query *q)
{
	size_t i, n = hp->n;

	for (i = n; i > 1; i--) {
		struct nearest_hit t = hp->h[0];

		hp->h[0] = hp->h[i - 1];
		hp->h[i - 1] = t;
		nearest_heap_sift_down(hp->h, i - 1, 0);
	}
	for (i = 0; i < n; i++) {
		if (q->speed_mps > 0)
			hp->h[i].eta_s = hp->h[i].distance_m * q->road_factor / q->speed_mps;
		else
			hp->h[i].eta_s = INFINITY;
	}
	return n;
}

/* Returns 1 when the query is one that can have answers at all. */
static int
nearest_query_usable(const struct nearest_query *q, size_t k, const struct nearest_hit *out)
{
	return q != NULL && k > 0 && out != NULL && q->kind != NULL &&
	       nearest_valid_position(q->lat, q->lon);
}

/* Returns 1 when unit I matches Q in everything but kind and distance. */
static int
nearest_unit_eligible(const struct roster *r, const struct nearest_query *q, size_t i)
{
	const struct unit *u = &r->units[i];
	size_t s, t;

	if (u->status != UNIT_STATUS_AVAILABLE)
		return 0;
	if (q->exclude != NULL && q->exclude[i] != 0)
		return 0;
	if (q->stale_ms > 0 && (u->last_seen_ms == 0 || u->last_seen_ms < q->now_ms - q->stale_ms))
		return 0;
	if (q->department >= 0 && u->department != q->department)
		return 0;
	if (!nearest_valid_position(u->lat, u->lon))
		return 0;
	for (s = 0; q->skills != NULL && s < q->n_skills; s++) {
		for (t = 0; t < u->n_skills; t++) {
			if (u->skills[t] != NULL && q->skills[s] != NULL &&
			    strcmp(u->skills[t], q->skills[s]) == 0)
				break;
		}
		if (t == u->n_skills)
			return 0;
	}
	return 1;
}

/* Scans every unit, keeping the k best in a heap: the reference answer. */
size_t
nearest_brute(const struct roster *r, const struct nearest_query *q, size_t k,
	      struct nearest_hit *out)
{
	struct nearest_heap hp = {.h = out, .n = 0, .k = k};
	size_t i;

	if (r == NULL || !nearest_query_usable(q, k, out))
		return 0;
	for (i = 0; i < r->n_units; i++) {
		const struct unit *u = &r->units[i];

		if (u->kind == NULL || strcmp(u->kind, q->kind) != 0)
			continue;
		if (!nearest_unit_eligible(r, q, i))
			continue;
		nearest_heap_offer(&hp, (int)i, geo_distance_m(q->lat, q->lon, u->lat, u->lon));
	}
	return nearest_heap_finish(&hp, q);
}

/* Orders doubles ascending, for the extent percentiles. */
static int
nearest_cmp_double_cb(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Chooses the cell size and grid dimensions from the units' extent and density. */
static void
nearest_plan_grid(struct nearest *n)
{
	const struct roster *r = n->r;
	size_t i, n_valid = 0, n_sample = 0, stride;
	double *lats, *lons, ref_lat = 0, cell_m = 500.0, w;

	for (i = 0; i < n->n_units; i++) {
		if (nearest_valid_position(r->units[i].lat, r->units[i].lon))
			n_valid++;
	}
	if (n_valid > 0 && n->n_kinds > 0) {
		stride = n_valid > NEAREST_SAMPLE ? n_valid / NEAREST_SAMPLE : 1;
		lats = xcalloc(n_valid / stride + 1, sizeof *lats);
		lons = xcalloc(n_valid / stride + 1, sizeof *lons);
		for (i = 0; i < n->n_units; i += stride) {
			const struct unit *u = &r->units[i];

			if (!nearest_valid_position(u->lat, u->lon) || n_sample > n_valid / stride)
				continue;
			lats[n_sample] = u->lat;
			lons[n_sample] = u->lon;
			n_sample++;
		}
		if (n_sample > 0) {
			double dlat, dlon, area, per_kind;

			qsort(lats, n_sample, sizeof *lats, nearest_cmp_double_cb);
			qsort(lons, n_sample, sizeof *lons, nearest_cmp_double_cb);
			ref_lat = lats[n_sample / 2];
			if (ref_lat > 80.0)
				ref_lat = 80.0;
			if (ref_lat < -80.0)
				ref_lat = -80.0;
			dlat = lats[n_sample * 95 / 100] - lats[n_sample * 5 / 100];
			dlon = lons[n_sample * 95 / 100] - lons[n_sample * 5 / 100];
			area = dlat * NEAREST_RAD * NEAREST_EARTH_RADIUS_M * dlon * NEAREST_RAD *
			       NEAREST_EARTH_RADIUS_M * cos(ref_lat * NEAREST_RAD);
			per_kind = (double)n_valid / (double)n->n_kinds;
			cell_m = sqrt(area * NEAREST_TARGET_PER_CELL / per_kind);
		}
		free(lats);
		free(lons);
	}
	if (!(cell_m >= NEAREST_MIN_CELL_M))
		cell_m = NEAREST_MIN_CELL_M;
	if (cell_m > NEAREST_MAX_CELL_M)
		cell_m = NEAREST_MAX_CELL_M;
	n->cell_m = cell_m;
	w = cell_m / (NEAREST_EARTH_RADIUS_M * NEAREST_RAD);
	n->n_rows = (int32_t)ceil(180.0 / w);
	n->row_deg = 180.0 / n->n_rows;
	w /= cos(ref_lat * NEAREST_RAD);
	n->n_cols = (int32_t)ceil(360.0 / w);
	n->col_deg = 360.0 / n->n_cols;
}

/* Returns LON brought into [-180, 180). */
static double
nearest_norm_lon(double lon)
{
	double x = fmod(lon + 180.0, 360.0);

	if (x < 0)
		x += 360.0;
	return x - 180.0;
}

/* Returns the grid row of latitude LAT. */
static int32_t
nearest_row_of(const struct nearest *n, double lat)
{
	double x = floor((lat + 90.0) / n->row_deg);

	if (x < 0)
		return 0;
	if (x >= n->n_rows)
		return n->n_rows - 1;
	return (int32_t)x;
}

/* Returns the grid column of longitude LON. */
static int32_t
nearest_col_of(const struct nearest *n, double lon)
{
	double x = floor((nearest_norm_lon(lon) + 180.0) / n->col_deg);

	if (x < 0)
		return 0;
	if (x >= n->n_cols)
		return n->n_cols - 1;
	return (int32_t)x;
}

/* Returns the hash of a cell key. */
static uint64_t
nearest_hash_key(int32_t kind, int32_t row, int32_t col)
{
	uint64_t h = (uint64_t)(uint32_t)kind * 0x9E3779B97F4A7C15ULL;

	h ^= (uint64_t)(uint32_t)row * 0xC2B2AE3D27D4EB4FULL;
	h ^= (uint64_t)(uint32_t)col * 0x165667B19E3779F9ULL;
	h ^= h >> 31;
	h *= 0xBF58476D1CE4E5B9ULL;
	h ^= h >> 29;
	return h;
}

/* Returns the slot where the cell (KIND, ROW, COL) is, or the empty slot where it goes. */
static size_t
nearest_find_slot(const struct nearest *n, int32_t kind, int32_t row, int32_t col)
{
	size_t mask = n->cap_slots - 1;
	size_t i = (size_t)nearest_hash_key(kind, row, col) & mask;

	for (;;) {
		const struct nearest_slot *sl = &n->slots[i];

		if (sl->cell == NEAREST_NONE ||
		    (sl->kind == kind && sl->row == row && sl->col == col))
			return i;
		i = (i + 1) & mask;
	}
}

/* Returns the index of cell (KIND, ROW, COL), or NEAREST_NONE when it holds no unit yet. */
static int32_t
nearest_find_cell(const struct nearest *n, int32_t kind, int32_t row, int32_t col)
{
	return n->slots[nearest_find_slot(n, kind, row, col)].cell;
}

/* Allocates n->cap_slots empty slots. */
static void
nearest_init_slots(struct nearest *n)
{
	size_t i;

	n->slots = xmalloc(n->cap_slots * sizeof *n->slots);
	for (i = 0; i < n->cap_slots; i++)
		n->slots[i].cell = NEAREST_NONE;
}

/* Puts cell IDX into its slot. */
static void
nearest_set_slot(struct nearest *n, int32_t idx)
{
	const struct nearest_cell *c = &n->cells[idx];
	struct nearest_slot *sl = &n->slots[nearest_find_slot(n, c->kind, c->row, c->col)];

	sl->kind = c->kind;
	sl->row = c->row;
	sl->col = c->col;
	sl->cell = idx;
}

/* Doubles the hash table and files every cell again. */
static void
nearest_grow_slots(struct nearest *n)
{
	size_t i;

	free(n->slots);
	n->cap_slots *= 2;
	nearest_init_slots(n);
	for (i = 0; i < n->n_cells; i++)
		nearest_set_slot(n, (int32_t)i);
}

/* Returns the index of cell (KIND, ROW, COL), creating it when needed. */
static int32_t
nearest_get_cell(struct nearest *n, int32_t kind, int32_t row, int32_t col)
{
	size_t slot = nearest_find_slot(n, kind, row, col);
	struct nearest_kind *k = &n->kinds[kind];
	struct nearest_cell *c;
	int32_t idx;

	if (n->slots[slot].cell != NEAREST_NONE)
		return n->slots[slot].cell;
	if (n->n_cells == n->cap_cells) {
		n->cap_cells = n->cap_cells ? 2 * n->cap_cells : 64;
		n->cells = xrealloc(n->cells, n->cap_cells * sizeof *n->cells);
	}
	idx = (int32_t)n->n_cells++;
	c = &n->cells[idx];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->row = row;
	c->col = col;
	nearest_set_slot(n, idx);
	if (k->n_cells == k->cap_cells) {
		k->cap_cells = k->cap_cells ? 2 * k->cap_cells : 16;
		k->cells = xrealloc(k->cells, k->cap_cells * sizeof *k->cells);
	}
	k->cells[k->n_cells++] = idx;
	if (2 * n->n_cells > n->cap_slots)
		nearest_grow_slots(n);
	return idx;
}

/* Stores (lat, lon) in E as a point on the unit sphere. */
static void
nearest_set_point(struct nearest_entry *e, double lat, double lon)
{
	double cl = cos(lat * NEAREST_RAD);

	e->x = (float)(cl * cos(lon * NEAREST_RAD));
	e->y = (float)(cl * sin(lon * NEAREST_RAD));
	e->z = (float)sin(lat * NEAREST_RAD);
}

/* Files unit U in the cell of its current position, when it has a kind and a position. */
static void
nearest_file_unit(struct nearest *n, size_t u)
{
	const struct unit *un = &n->r->units[u];
	struct nearest_cell *c;
	int32_t idx;

	n->unit_cell[u] = NEAREST_NONE;
	if (n->unit_kind[u] == NEAREST_NONE || !nearest_valid_position(un->lat, un->lon))
		return;
	idx = nearest_get_cell(n, n->unit_kind[u], nearest_row_of(n, un->lat),
			       nearest_col_of(n, un->lon));
	c = &n->cells[idx];
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 4;
		c->units = xrealloc(c->units, c->cap * sizeof *c->units);
	}
	n->unit_cell[u] = idx;
	n->unit_pos[u] = c->n;
	c->units[c->n].unit = (int32_t)u;
	nearest_set_point(&c->units[c->n], un->lat, un->lon);
	c->n++;
}

/* Takes unit U out of its cell, when it is filed. */
static void
nearest_unfile_unit(struct nearest *n, size_t u)
{
	struct nearest_cell *c;
	uint32_t pos;
	struct nearest_entry last;

	if (n->unit_cell[u] == NEAREST_NONE)
		return;
	c = &n->cells[n->unit_cell[u]];
	pos = n->unit_pos[u];
	last = c->units[--c->n];
	c->units[pos] = last;
	n->unit_pos[last.unit] = pos;
	n->unit_cell[u] = NEAREST_NONE;
}

/* Returns the index of the kind named NAME, or NEAREST_NONE. */
static int32_t
nearest_find_kind(const struct nearest *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->n_kinds; i++) {
		if (strcmp(n->kinds[i].name, name) == 0)
			return (int32_t)i;
	}
	return NEAREST_NONE;
}

/* Interns the kinds, plans the grid, then files every unit. */
struct nearest *
nearest_new(const struct roster *r)
{
	struct nearest *n = xcalloc(1, sizeof *n);
	size_t i, cap_kinds = 0;

	n->r = r;
	n->n_units = r != NULL ? r->n_units : 0;
	n->unit_kind = xcalloc(n->n_units + 1, sizeof *n->unit_kind);
	n->unit_cell = xcalloc(n->n_units + 1, sizeof *n->unit_cell);
	n->unit_pos = xcalloc(n->n_units + 1, sizeof *n->unit_pos);
	for (i = 0; i < n->n_units; i++) {
		const char *kind = r->units[i].kind;
		int32_t k;

		n->unit_kind[i] = NEAREST_NONE;
		if (kind == NULL)
			continue;
		k = nearest_find_kind(n, kind);
		if (k == NEAREST_NONE) {
			if (n->n_kinds == cap_kinds) {
				cap_kinds = cap_kinds ? 2 * cap_kinds : 8;
				n->kinds = xrealloc(n->kinds, cap_kinds * sizeof *n->kinds);
			}
			memset(&n->kinds[n->n_kinds], 0, sizeof *n->kinds);
			n->kinds[n->n_kinds].name = xstrdup(kind);
			k = (int32_t)n->n_kinds++;
		}
		n->unit_kind[i] = k;
	}
	nearest_plan_grid(n);
	n->cap_slots = 64; /* grows with the cells, kept at most half full */
	nearest_init_slots(n);
	for (i = 0; i < n->n_units; i++)
		nearest_file_unit(n, i);
	return n;
}

/* Frees the cells, kinds, hash table and per-unit arrays. */
void
nearest_free(struct nearest *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n_cells; i++)
		free(n->cells[i].units);
	for (i = 0; i < n->n_kinds; i++) {
		free(n->kinds[i].name);
		free(n->kinds[i].cells);
	}
	free(n->kinds);
	free(n->cells);
	free(n->slots);
	free(n->unit_kind);
	free(n->unit_cell);
	free(n->unit_pos);
	free(n);
}

/* Updates the unit's point in place when it stays in its cell, else re-files it. */
void
nearest_moved(struct nearest *n, int unit)
{
	const struct unit *u;
	int32_t cell;

	if (n == NULL || unit < 0 || (size_t)unit >= n->n_units)
		return;
	u = &n->r->units[unit];
	cell = n->unit_cell[unit];
	if (cell != NEAREST_NONE && nearest_valid_position(u->lat, u->lon) &&
	    n->cells[cell].row == nearest_row_of(n, u->lat) &&
	    n->cells[cell].col == nearest_col_of(n, u->lon)) {
		nearest_set_point(&n->cells[cell].units[n->unit_pos[unit]], u->lat, u->lon);
		return;
	}
	nearest_unfile_unit(n, (size_t)unit);
	nearest_file_unit(n, (size_t)unit);
}

/* Adds up the capacities of everything the index allocated. */
void
nearest_get_stats(const struct nearest *n, struct nearest_stats *st)
{
	size_t i, bytes;

	memset(st, 0, sizeof *st);
	if (n == NULL)
		return;
	bytes = sizeof *n + (n->n_units + 1) *
				(sizeof *n->unit_kind + sizeof *n->unit_cell + sizeof *n->unit_pos);
	bytes += n->cap_cells * sizeof *n->cells + n->cap_slots * sizeof *n->slots;
	for (i = 0; i < n->n_cells; i++)
		bytes += n->cells[i].cap * sizeof *n->cells[i].units;
	for (i = 0; i < n->n_kinds; i++)
		bytes += sizeof *n->kinds + strlen(n->kinds[i].name) + 1 +
			 n->kinds[i].cap_cells * sizeof *n->kinds[i].cells;
	for (i = 0; i < n->n_units; i++)
		st->filed += n->unit_cell[i] != NEAREST_NONE;
	st->bytes = bytes;
	st->cells = n->n_cells;
	st->kinds = n->n_kinds;
	st->cell_m = n->cell_m;
}

/* Returns the squared chord (on the unit sphere) beyond which a unit cannot be among the
 * k best, or INFINITY while the heap is not full. */
static double
nearest_chord_limit2(const struct nearest_heap *hp)
{
	double lim;

	if (hp->n < hp->k)
		return INFINITY;
	/* The great-circle distance is at least R * chord. The points are stored as floats,
	 * off by at most 2^-24 per coordinate: R * 1.04e-7 = 0.66 m; allow 2 m. */
	lim = (hp->h[0].distance_m * (1.0 + 1e-9) + 2.0) / NEAREST_EARTH_RADIUS_M;
	return lim * lim;
}

/* Offers every eligible unit of cell IDX to the heap. P is the incident on the unit sphere. */
static void
nearest_scan_cell(const struct nearest *n, const struct nearest_query *q, const double *p,
		  int32_t idx, struct nearest_heap *hp)
{
	const struct nearest_cell *c = &n->cells[idx];
	double lim2 = nearest_chord_limit2(hp);
	uint32_t i;

	for (i = 0; i < c->n; i++) {
		const struct nearest_entry *e = &c->units[i];
		double dx = p[0] - e->x, dy = p[1] - e->y, dz = p[2] - e->z;
		const struct unit *un;

		if (dx * dx + dy * dy + dz * dz > lim2)
			continue;
		if (!nearest_unit_eligible(n->r, q, (size_t)e->unit))
			continue;
		un = &n->r->units[e->unit];
		nearest_heap_offer(hp, e->unit, geo_distance_m(q->lat, q->lon, un->lat, un->lon));
		lim2 = nearest_chord_limit2(hp);
	}
}

/* Returns a lower bound in metres of the distance from latitude LAT to any point at least
 * DLON degrees of longitude away (the distance to the nearest such meridian). */
static double
nearest_lon_bound_m(double lat, double dlon)
{
	double s;

	if (dlon <= 0)
		return 0;
	if (dlon > 90.0)
		dlon = 90.0;
	s = cos(lat * NEAREST_RAD) * sin(dlon * NEAREST_RAD);
	if (s > 1.0)
		s = 1.0;
	if (s < 0)
		s = 0;
	return NEAREST_EARTH_RADIUS_M * asin(s);
}

/* The walk of one query: its cell, and the column offsets that name distinct columns. */
struct nearest_walk {
	int32_t kind, row0, col0;
	int32_t dc_min, dc_max; /* column offsets in [dc_min, dc_max] are distinct columns */
	double lat, lon;	/* lon brought into [-180, 180) */
	double p[3];		/* the incident on the unit sphere */
};

/* Visits the cells at ring R (Chebyshev distance R in rows and column offsets). */
static void
nearest_visit_ring(const struct nearest *n, const struct nearest_query *q,
		   const struct nearest_walk *w, int32_t r, struct nearest_heap *hp)
{
	int32_t dr, dc, lo = -r > w->dc_min ? -r : w->dc_min, hi = r < w->dc_max ? r : w->dc_max;

	for (dr = -r; dr <= r; dr++) {
		int32_t row = w->row0 + dr;
		/* A full row at the ring's top and bottom, its two ends in between. */
		int32_t step = (dr == -r || dr == r) ? 1 : 2 * r;

		if (row < 0 || row >= n->n_rows)
			continue;
		for (dc = -r; dc <= r; dc += step) {
			int32_t col, idx;

			if (dc < lo || dc > hi)
				continue;
			col = (int32_t)(((int64_t)w->col0 + dc + n->n_cols) % n->n_cols);
			idx = nearest_find_cell(n, w->kind, row, col);
			if (idx != NEAREST_NONE)
				nearest_scan_cell(n, q, w->p, idx, hp);
		}
	}
}

/* Returns a lower bound in metres of the distance to any cell beyond ring R, or INFINITY
 * when rings 0..R cover the whole globe. */
static double
nearest_ring_bound_m(const struct nearest *n, const struct nearest_walk *w, int32_t r)
{
	double south = INFINITY, north = INFINITY, lat_m, lon_m, west, east;
	double y = w->lat + 90.0, x = w->lon + 180.0;

	if (w->row0 - r > 0)
		south = y - (double)(w->row0 - r) * n->row_deg;
	if (w->row0 + r < n->n_rows - 1)
		north = (double)(w->row0 + r + 1) * n->row_deg - y;
	lat_m = fmin(south, north);
	if (lat_m < 0)
		lat_m = 0;
	lat_m *= NEAREST_RAD * NEAREST_EARTH_RADIUS_M;
	if (r >= w->dc_max && r >= -w->dc_min) {
		lon_m = INFINITY;
	} else if (2 * (int64_t)r + 2 >= n->n_cols) {
		lon_m = 0;
	} else {
		west = (double)r * n->col_deg + (x - (double)w->col0 * n->col_deg);
		east = (double)r * n->col_deg + ((double)(w->col0 + 1) * n->col_deg - x);
		lon_m = nearest_lon_bound_m(w->lat, fmax(0, fmin(west, east)));
	}
	return fmin(lat_m, lon_m);
}

/* Returns a lower bound in metres of the distance from the query to any point of cell C. */
static double
nearest_cell_bound_m(const struct nearest *n, const struct nearest_walk *w,
		     const struct nearest_cell *c)
{
	double lo = (double)c->row * n->row_deg - 90.0, hi = lo + n->row_deg;
	double lat_gap = fmax(0, fmax(lo - w->lat, w->lat - hi));
	double centre = ((double)c->col + 0.5) * n->col_deg - 180.0;
	double dlon = fabs(w->lon - centre);

	if (dlon > 180.0)
		dlon = 360.0 - dlon;
	return fmax(lat_gap * NEAREST_RAD * NEAREST_EARTH_RADIUS_M,
		    nearest_lon_bound_m(w->lat, dlon - n->col_deg / 2));
}

/* Returns the ring at which the walk W visits cell C. */
static int64_t
nearest_ring_of(const struct nearest *n, const struct nearest_walk *w, const struct nearest_cell *c)
{
	int64_t dr = (int64_t)c->row - w->row0;
	int64_t dc = (((int64_t)c->col - w->col0) % n->n_cols + n->n_cols) % n->n_cols;

	if (dc > w->dc_max)
		dc -= n->n_cols;
	if (dr < 0)
		dr = -dr;
	if (dc < 0)
		dc = -dc;
	return dr > dc ? dr : dc;
}

/* Walks rings of cells until the bound beats the k-th best, else scans the kind's cells. */
size_t
nearest_query(const struct nearest *n, const struct nearest_query *q, size_t k,
	      struct nearest_hit *out)
{
	struct nearest_heap hp = {.h = out, .n = 0, .k = k};
	struct nearest_walk w;
	const struct nearest_kind *kd;
	size_t visited = 0, budget, i;
	int32_t r;

	if (n == NULL || !nearest_query_usable(q, k, out))
		return 0;
	w.kind = nearest_find_kind(n, q->kind);
	if (w.kind == NEAREST_NONE)
		return 0;
	kd = &n->kinds[w.kind];
	w.lat = q->lat;
	w.lon = nearest_norm_lon(q->lon);
	w.row0 = nearest_row_of(n, q->lat);
	w.col0 = nearest_col_of(n, q->lon);
	w.p[0] = cos(q->lat * NEAREST_RAD) * cos(q->lon * NEAREST_RAD);
	w.p[1] = cos(q->lat * NEAREST_RAD) * sin(q->lon * NEAREST_RAD);
	w.p[2] = sin(q->lat * NEAREST_RAD);
	w.dc_min = -((n->n_cols - 1) / 2);
	w.dc_max = n->n_cols - 1 + w.dc_min;
	/* Rings cost a hash probe per cell, occupied or not; past a few times the kind's
	 * occupied cells, scanning those cells directly is cheaper. */
	budget = 4 * kd->n_cells + 64;
	for (r = 0;; r++) {
		double lb;

		nearest_visit_ring(n, q, &w, r, &hp);
		visited += r == 0 ? 1 : 8 * (size_t)r;
		lb = nearest_ring_bound_m(n, &w, r);
		if (lb == INFINITY || nearest_heap_beats(&hp, lb))
			return nearest_heap_finish(&hp, q);
		if (visited > budget)
			break;
	}
	for (i = 0; i < kd->n_cells; i++) {
		const struct nearest_cell *c = &n->cells[kd->cells[i]];

		if (c->n == 0 || nearest_ring_of(n, &w, c) <= r)
			continue;
		if (nearest_heap_beats(&hp, nearest_cell_bound_m(n, &w, c)))
			continue;
		nearest_scan_cell(n, q, w.p, kd->cells[i], &hp);
	}
	return nearest_heap_finish(&hp, q);
}
