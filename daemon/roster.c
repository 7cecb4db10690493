/* roster: look-ups over departments and units, and carrying live unit state over a reload. */
#include "roster.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Finds a department's index by id (departments are few). */
int
roster_on_shift(const struct unit *u, int hour)
{
	if (u->shift_from < 0)
		return 1;
	if (u->shift_from < u->shift_to)
		return hour >= u->shift_from && hour < u->shift_to;
	return hour >= u->shift_from || hour < u->shift_to;
}

const char *
roster_status_name(enum unit_status s)
{
	switch (s) {
	case UNIT_STATUS_AVAILABLE:
		return "available";
	case UNIT_STATUS_BUSY:
		return "busy";
	case UNIT_STATUS_OFF_DUTY:
		return "off_duty";
	case UNIT_STATUS_OUT_OF_SERVICE:
		return "out_of_service";
	default:
		return "unknown";
	}
}

int
roster_department(const struct roster *r, const char *id)
{
	size_t i;

	if (r == NULL || id == NULL)
		return -1;
	for (i = 0; i < r->n_departments; i++) {
		if (strcmp(r->departments[i].id, id) == 0)
			return (int)i;
	}
	return -1;
}

/* Finds a unit by id with a scan. */
/* Orders unit indexes by the ids they point at (qsort_r is not C11; the roster is passed
 * through a file-scope pointer that only roster_index_build sets, single-threaded). */
static const struct roster *roster_sorting;

/* Compares two unit indexes by unit id. */
static int
roster_cmp_index_cb(const void *a, const void *b)
{
	return strcmp(roster_sorting->units[*(const int *)a].id,
		      roster_sorting->units[*(const int *)b].id);
}

/* Builds R's id index. */
static void
roster_index_build(struct roster *r)
{
	size_t i;

	r->by_id = xmalloc((r->n_units ? r->n_units : 1) * sizeof *r->by_id);
	for (i = 0; i < r->n_units; i++)
		r->by_id[i] = (int)i;
	roster_sorting = r;
	qsort(r->by_id, r->n_units, sizeof *r->by_id, roster_cmp_index_cb);
	roster_sorting = NULL;
}

struct unit *
roster_unit(struct roster *r, const char *id)
{
	size_t lo = 0, hi;

	if (r == NULL || id == NULL)
		return NULL;
	if (r->by_id == NULL)
		roster_index_build(r);
	hi = r->n_units;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->units[r->by_id[mid]].id, id);

		if (c == 0)
			return &r->units[r->by_id[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Orders unit pointers by id, for the merge in roster_carry_live. */
static int
roster_cmp_unit_cb(const void *a, const void *b)
{
	const struct unit *const *ua = a;
	const struct unit *const *ub = b;

	return strcmp((*ua)->id, (*ub)->id);
}

/* Copies live unit state from the old roster into the new one, matching units by id. */
void
roster_carry_live(struct roster *new_roster, const struct roster *old_roster)
{
	const struct unit **old_sorted;
	size_t i;

	if (new_roster == NULL || old_roster == NULL || old_roster->n_units == 0)
		return;
	/* Sorting the old units keeps a reload O(n log n) for large rosters. */
	old_sorted = xcalloc(old_roster->n_units, sizeof *old_sorted);
	for (i = 0; i < old_roster->n_units; i++)
		old_sorted[i] = &old_roster->units[i];
	qsort(old_sorted, old_roster->n_units, sizeof *old_sorted, roster_cmp_unit_cb);
	for (i = 0; i < new_roster->n_units; i++) {
		struct unit *u = &new_roster->units[i];
		const struct unit *key = u;
		const struct unit **hit;

		hit = bsearch(&key, old_sorted, old_roster->n_units, sizeof *old_sorted,
			      roster_cmp_unit_cb);
		if (hit == NULL)
			continue;
		u->lat = (*hit)->lat;
		u->lon = (*hit)->lon;
		u->status = (*hit)->status;
		u->last_seen_ms = (*hit)->last_seen_ms;
		u->held = (*hit)->held;
	}
	free(old_sorted);
}

/* Frees an array of N strings and the array. */
static void
roster_free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees a roster and everything in it. */
void
roster_free(struct roster *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->by_id);
	for (i = 0; i < r->n_departments; i++) {
		free(r->departments[i].id);
		free(r->departments[i].name);
		free(r->departments[i].supervisor);
	}
	free(r->departments);
	for (i = 0; i < r->n_units; i++) {
		struct unit *u = &r->units[i];

		free(u->id);
		free(u->name);
		free(u->kind);
		free(u->agent);
		roster_free_strings(u->skills, u->n_skills);
	}
	free(r->units);
	for (i = 0; i < r->n_people; i++) {
		struct person *p = &r->people[i];

		free(p->id);
		free(p->name);
		free(p->role);
		free(p->rank);
		roster_free_strings(p->skills, p->n_skills);
	}
	free(r->people);
	for (i = 0; i < r->n_experts; i++) {
		free(r->experts[i].id);
		free(r->experts[i].name);
		free(r->experts[i].field);
		free(r->experts[i].agent);
	}
	free(r->experts);
	free(r);
}
