/* report: the response-circle figures of docs/metrics.md. SQLite hands over the calls with their
 * responses, ordered by call; each call's segments are computed here and appended to the value
 * vectors of its groups, and the exact (nearest-rank) percentiles are read from the sorted raw
 * values at the end. No average of percentiles, no SQL window functions: one pass, one sort per
 * segment and group. */
#include "report.h"
#include "report_int.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The analysis schema; docs/metrics.md describes every column. */
const char report_schema_sql[] =
    "CREATE TABLE analysis_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE calls (id TEXT PRIMARY KEY, type TEXT, tier INTEGER, priority TEXT,"
    " received_ms INTEGER, entered_ms INTEGER, street TEXT, community TEXT, grid TEXT,"
    " lat REAL, lon REAL, exercise INTEGER NOT NULL DEFAULT 0, source TEXT);"
    "CREATE TABLE responses (call_id TEXT, unit TEXT, kind TEXT, department TEXT,"
    " ordered_ms INTEGER, received_ms INTEGER, en_route_ms INTEGER, on_scene_ms INTEGER,"
    " cleared_ms INTEGER, ring_s INTEGER, delay_reason INTEGER);";

const char report_index_sql[] = "CREATE INDEX responses_call ON responses (call_id);";

const struct report_seg report_segs[S_N] = {
    [S_INTAKE] = {"intake", 0},	  [S_PROCESSING] = {"processing", 0},
    [S_RECEIPT] = {"receipt", 1}, [S_TURNOUT] = {"turnout", 1},
    [S_TRAVEL] = {"travel", 1},	  [S_RESPONSE] = {"response", 0},
};

const char *const report_call_slices[A_N] = {"type",   "tier",	    "priority",
					     "street", "community", "grid"};

/* Returns 1 when NAME is a slice; see report.h. */
int
report_slice_known(const char *name)
{
	static const char *const extra[] = {"hour", "day", "kind", "department", NULL};
	size_t i;

	for (i = 0; i < A_N; i++)
		if (strcmp(name, report_call_slices[i]) == 0)
			return 1;
	for (i = 0; extra[i]; i++)
		if (strcmp(name, extra[i]) == 0)
			return 1;
	return 0;
}

/* Parses one side of a window ("YYYY-MM-DD[(T| )hh:mm[:ss]]") into ms. Returns 0, or -1. */
static int
report_parse_time(const char *s, size_t len, int64_t *ms)
{
	char buf[32];
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	time_t t;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	if (buf[n] == 'T' || buf[n] == ' ') {
		int m = 0;

		if (sscanf(buf + n + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
			return -1;
		n += 1 + m;
		if (buf[n] == ':') {
			if (sscanf(buf + n + 1, "%2d%n", &sec, &m) != 1)
				return -1;
			n += 1 + m;
		}
	}
	if (buf[n] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 59 || h < 0 || mi < 0 || sec < 0)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

/* Parses --window FROM..TO; see report.h. */
int
report_parse_window(const char *arg, struct report_opts *o, char **err)
{
	const char *dots = strstr(arg, "..");
	size_t lf, lt;

	if (dots == NULL) {
		*err = xasprintf("--window '%s': give FROM..TO (YYYY-MM-DD[Thh:mm[:ss]], either "
				 "side may be empty)",
				 arg);
		return -1;
	}
	lf = (size_t)(dots - arg);
	lt = strlen(dots + 2);
	o->has_from = lf > 0;
	o->has_to = lt > 0;
	if ((lf > 0 && report_parse_time(arg, lf, &o->from_ms) != 0) ||
	    (lt > 0 && report_parse_time(dots + 2, lt, &o->to_ms) != 0)) {
		*err = xasprintf("--window '%s': each side must be YYYY-MM-DD or "
				 "YYYY-MM-DDThh:mm[:ss]",
				 arg);
		return -1;
	}
	if (o->has_from && o->has_to && o->to_ms <= o->from_ms) {
		*err = xasprintf("--window '%s': TO must be after FROM", arg);
		return -1;
	}
	return 0;
}

/* Parses --status-thresholds; see report.h. */
int
report_parse_thresholds(const char *arg, struct report_opts *o, char **err)
{
	double v[3];
	char *end;
	const char *p = arg;
	int i;

	for (i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtod(p, &end);
		if (errno || end == p || v[i] < 0 || v[i] > 100 || (i < 2 && *end != ',') ||
		    (i == 2 && *end != '\0'))
			break;
		p = end + 1;
	}
	if (i < 3 || !(v[0] > v[1] && v[1] > v[2])) {
		*err = xasprintf("--status-thresholds '%s': give GREEN,YELLOW,ORANGE, the lowest "
				 "share in percent (0 to 100, descending) of calls reached within "
				 "the circle, e.g. 90,75,50",
				 arg);
		return -1;
	}
	o->status_green = v[0];
	o->status_yellow = v[1];
	o->status_orange = v[2];
	return 0;
}

/* Appends V to S's values. */
static void
seg_push(struct seg_stat *s, int64_t v)
{
	if (v < 0) { /* the source's times are out of order: counted, not used */
		s->negative++;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = v;
}

/* Records the value TO - FROM of segment S, or a missing value when either is missing. */
static void
seg_add(struct group *g, int s, int64_t from, int64_t to)
{
	if (from == NONE || to == NONE)
		g->seg[s].no_value++;
	else
		seg_push(&g->seg[s], to - from);
}

/* Returns the ring statistics of KIND in G, adding them when new. */
static struct ring_stat *
group_ring(struct group *g, const char *kind)
{
	size_t i;

	for (i = 0; i < g->n_rings; i++)
		if (strcmp(g->rings[i].kind, kind) == 0)
			return &g->rings[i];
	g->rings = xrealloc(g->rings, (g->n_rings + 1) * sizeof *g->rings);
	memset(&g->rings[g->n_rings], 0, sizeof *g->rings);
	g->rings[g->n_rings].kind = xstrdup(kind);
	return &g->rings[g->n_rings++];
}

/* Returns the responder class of R for grouping ("(none)" when unknown). */
static const char *
resp_kind(const struct resp *r)
{
	return r->kind ? r->kind : "(none)";
}

/* Adds call C to group G, counting only its responses for which PICK[i] is set (all when
 * PICK is NULL). */
static void
group_add(struct rep *R, struct group *g, const struct call *c, const unsigned char *pick)
{
	int64_t first_order = NONE, first_scene = NONE;
	size_t i, j;

	g->calls++;
	if (!g->light)
		seg_add(g, S_INTAKE, c->received, c->entered);
	for (i = 0; i < c->n; i++) {
		const struct resp *r = &c->r[i];

		if (pick && !pick[i])
			continue;
		g->responses++;
		if (r->ordered != NONE && (first_order == NONE || r->ordered < first_order))
			first_order = r->ordered;
		if (r->on_scene != NONE && (first_scene == NONE || r->on_scene < first_scene))
			first_scene = r->on_scene;
		if (g->light)
			continue;
		seg_add(g, S_RECEIPT, r->ordered, r->receipt);
		seg_add(g, S_TURNOUT, r->ordered, r->en_route);
		seg_add(g, S_TRAVEL, r->en_route, r->on_scene);
	}
	if (first_scene == NONE) {
		g->no_arrival++;
	} else if (c->received != NONE && first_scene >= c->received) {
		g->responded++;
		if (first_scene - c->received <= R->o->circle_ms)
			g->within++;
	}
	if (g->light)
		return;
	seg_add(g, S_PROCESSING, c->received, first_order);
	seg_add(g, S_RESPONSE, c->received, first_scene);
	/* Rings: per class of the picked responses that carry a ring deadline. */
	for (i = 0; i < c->n; i++) {
		const struct resp *r = &c->r[i];
		int64_t ring = NONE, arrive = NONE;
		struct ring_stat *rs;

		if ((pick && !pick[i]) || r->ring_s == NONE)
			continue;
		for (j = 0; j < i; j++) /* each class once per call */
			if ((!pick || pick[j]) && c->r[j].ring_s != NONE &&
			    strcmp(resp_kind(&c->r[j]), resp_kind(r)) == 0)
				break;
		if (j < i)
			continue;
		for (j = 0; j < c->n; j++) { /* every response of the class */
			const struct resp *q = &c->r[j];

			if ((pick && !pick[j]) || strcmp(resp_kind(q), resp_kind(r)) != 0)
				continue;
			if (q->ring_s != NONE && (ring == NONE || q->ring_s < ring))
				ring = q->ring_s;
			if (q->on_scene != NONE && (arrive == NONE || q->on_scene < arrive))
				arrive = q->on_scene;
		}
		rs = group_ring(g, resp_kind(r));
		rs->pairs++;
		if (arrive == NONE || c->received == NONE)
			rs->no_arrival++;
		else if (arrive < c->received)
			rs->negative++;
		else if (arrive - c->received <= ring * 1000)
			rs->met++;
	}
}

/* FNV-1a of S. */
static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Returns the group KEY of T, creating it when new. */
static struct group *
gtab_get(struct gtab *t, const char *key)
{
	size_t i, mask;
	struct group *g;

	if (t->n * 2 >= t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64, k;
		struct group **ns = xcalloc(ncap, sizeof *ns);

		for (k = 0; k < t->n; k++) {
			i = hash_str(t->list[k]->key) & (ncap - 1);
			while (ns[i])
				i = (i + 1) & (ncap - 1);
			ns[i] = t->list[k];
		}
		free(t->slot);
		t->slot = ns;
		t->cap = ncap;
	}
	mask = t->cap - 1;
	for (i = hash_str(key) & mask; t->slot[i]; i = (i + 1) & mask)
		if (strcmp(t->slot[i]->key, key) == 0)
			return t->slot[i];
	g = xcalloc(1, sizeof *g);
	g->key = xstrdup(key);
	g->light = t->light;
	t->slot[i] = g;
	if (t->n == t->list_cap) {
		t->list_cap = t->list_cap ? t->list_cap * 2 : 64;
		t->list = xrealloc(t->list, t->list_cap * sizeof *t->list);
	}
	t->list[t->n++] = g;
	return g;
}

/* Writes the wall-clock hour ("07") or day ("2019-03-01") of MS into BUF. */
static void
time_key(int64_t ms, int day, char *buf, size_t size)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	struct tm tm;

	if (ms == NONE || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, size, "(none)");
		return;
	}
	if (day)
		snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	else
		snprintf(buf, size, "%02d", tm.tm_hour);
}

/* Adds call C to a group of T for each value of its responses' class (BY_KIND) or
 * department, counting in each only the responses of that value; a call nobody was sent to
 * goes to "(none)". */
static void
add_by_response(struct rep *R, struct gtab *t, int by_kind, const struct call *c)
{
	unsigned char *pick;
	size_t i, j;

	if (c->n == 0) {
		group_add(R, gtab_get(t, "(none)"), c, NULL);
		return;
	}
	pick = xcalloc(c->n, 1);
	for (i = 0; i < c->n; i++) {
		const char *k = by_kind ? c->r[i].kind : c->r[i].dept;

		if (k == NULL)
			k = "(none)";
		for (j = 0; j < i; j++) {
			const char *kj = by_kind ? c->r[j].kind : c->r[j].dept;

			if (strcmp(kj ? kj : "(none)", k) == 0)
				break;
		}
		if (j < i)
			continue; /* this value's group already has the call */
		for (j = 0; j < c->n; j++) {
			const char *kj = by_kind ? c->r[j].kind : c->r[j].dept;

			pick[j] = strcmp(kj ? kj : "(none)", k) == 0;
		}
		group_add(R, gtab_get(t, k), c, pick);
	}
	free(pick);
}

/* Notes the ring deadline of class KIND for the distribution's lines. */
static void
ringline_note(struct rep *R, const char *kind, int64_t ring_s)
{
	size_t i;

	for (i = 0; i < R->n_rl; i++)
		if (R->rl[i].ring_s == ring_s && strcmp(R->rl[i].kind, kind) == 0) {
			R->rl[i].responses++;
			return;
		}
	R->rl = xrealloc(R->rl, (R->n_rl + 1) * sizeof *R->rl);
	R->rl[R->n_rl].kind = xstrdup(kind);
	R->rl[R->n_rl].ring_s = ring_s;
	R->rl[R->n_rl].responses = 1;
	R->n_rl++;
}

/* Records a miss of class KIND (NULL: the circle) of call C: counted always, listed while
 * fewer than REPORT_MISSES_KEPT are. */
static void
miss_note(struct rep *R, const struct call *c, const char *kind, const char *dept, int64_t ring_s,
	  int64_t arrive, unsigned reasons)
{
	struct miss *m;
	const char *place;
	int code;

	R->misses_total++;
	if (reasons == 0)
		R->by_reason[0]++;
	for (code = 1; code < REPORT_REASONS; code++)
		if (reasons & (1u << code))
			R->by_reason[code]++;
	if (R->n_misses == REPORT_MISSES_KEPT)
		return;
	if (R->n_misses == R->cap_misses) {
		R->cap_misses = R->cap_misses ? R->cap_misses * 2 : 64;
		R->misses = xrealloc(R->misses, R->cap_misses * sizeof *R->misses);
	}
	m = &R->misses[R->n_misses++];
	place = c->attr[A_COMMUNITY] ? c->attr[A_COMMUNITY]
		: c->attr[A_STREET]  ? c->attr[A_STREET]
				     : c->attr[A_GRID];
	m->call = xstrdup(c->id);
	m->type = c->attr[A_TYPE] ? xstrdup(c->attr[A_TYPE]) : NULL;
	m->place = place ? xstrdup(place) : NULL;
	m->kind = kind ? xstrdup(kind) : NULL;
	m->dept = dept ? xstrdup(dept) : NULL;
	m->tier = c->attr[A_TIER] ? strtoll(c->attr[A_TIER], NULL, 10) : NONE;
	m->received = c->received;
	m->ring_s = ring_s;
	m->arrival_ms = arrive == NONE || c->received == NONE ? NONE : arrive - c->received;
	m->reasons = reasons;
}

/* Returns the reason bit of delay reason CODE (0 for none or out of range). */
static unsigned
reason_bit(int64_t code)
{
	return code > 0 && code < REPORT_REASONS ? 1u << code : 0;
}

/* Finds the misses of call C: each responder class whose first arrival missed its ring (the
 * rule of the ring statistics: no arrival, or no receipt time, is a miss; a negative value is
 * not judged), or, when no response carries a ring, the call's first arrival outside the
 * circle or no arrival at all. */
static void
call_misses(struct rep *R, const struct call *c)
{
	int64_t first = NONE;
	unsigned all_reasons = 0;
	int any_ring = 0;
	size_t i, j;

	for (i = 0; i < c->n; i++) {
		const struct resp *r = &c->r[i];
		int64_t ring = NONE, arrive = NONE;
		unsigned reasons = 0;

		all_reasons |= reason_bit(r->delay_reason);
		if (r->on_scene != NONE && (first == NONE || r->on_scene < first))
			first = r->on_scene;
		if (r->ring_s == NONE)
			continue;
		any_ring = 1;
		ringline_note(R, resp_kind(r), r->ring_s);
		for (j = 0; j < i; j++) /* each class once per call */
			if (c->r[j].ring_s != NONE &&
			    strcmp(resp_kind(&c->r[j]), resp_kind(r)) == 0)
				break;
		if (j < i)
			continue;
		for (j = 0; j < c->n; j++) { /* every response of the class */
			const struct resp *q = &c->r[j];

			if (strcmp(resp_kind(q), resp_kind(r)) != 0)
				continue;
			if (q->ring_s != NONE && (ring == NONE || q->ring_s < ring))
				ring = q->ring_s;
			if (q->on_scene != NONE && (arrive == NONE || q->on_scene < arrive))
				arrive = q->on_scene;
			reasons |= reason_bit(q->delay_reason);
		}
		if (arrive == NONE || c->received == NONE)
			miss_note(R, c, resp_kind(r), r->dept, ring, NONE, reasons);
		else if (arrive >= c->received && arrive - c->received > ring * 1000)
			miss_note(R, c, resp_kind(r), r->dept, ring, arrive, reasons);
	}
	if (any_ring)
		return;
	if (first == NONE)
		miss_note(R, c, NULL, NULL, NONE, NONE, all_reasons);
	else if (c->received != NONE && first >= c->received &&
		 first - c->received > R->o->circle_ms)
		miss_note(R, c, NULL, NULL, NONE, first, all_reasons);
}

/* Adds the finished call C to the total, to its slice's groups, and to the extras. */
static void
call_finish(struct rep *R, struct call *c)
{
	char key[64];
	const char *zone;

	if (c->received != NONE) {
		if (R->total.calls == 0 || c->received < R->first_received)
			R->first_received = c->received;
		if (R->total.calls == 0 || c->received > R->last_received)
			R->last_received = c->received;
	}
	group_add(R, &R->total, c, NULL);
	if (R->extras) {
		if (R->zone_attr >= 0)
			zone = c->attr[R->zone_attr];
		else /* the finest place known of the call */
			zone = c->attr[A_GRID]	      ? c->attr[A_GRID]
			       : c->attr[A_COMMUNITY] ? c->attr[A_COMMUNITY]
						      : c->attr[A_STREET];
		group_add(R, gtab_get(&R->zones, zone ? zone : "(none)"), c, NULL);
		add_by_response(R, &R->depts, 0, c);
		call_misses(R, c);
	}
	if (R->slice == NULL)
		return;
	if (R->by_kind || R->by_dept) {
		add_by_response(R, &R->groups, R->by_kind, c);
		return;
	}
	if (R->by_hour || R->by_day) {
		time_key(c->received, R->by_day, key, sizeof key);
		group_add(R, gtab_get(&R->groups, key), c, NULL);
		return;
	}
	if (R->slice_attr == A_TIER && c->attr[A_TIER] != NULL) {
		static const char *const roman[] = {"I", "II", "III"};
		long t = strtol(c->attr[A_TIER], NULL, 10);

		group_add(R,
			  gtab_get(&R->groups, t >= 1 && t <= 3 ? roman[t - 1] : c->attr[A_TIER]),
			  c, NULL);
		return;
	}
	group_add(R,
		  gtab_get(&R->groups, c->attr[R->slice_attr] ? c->attr[R->slice_attr] : "(none)"),
		  c, NULL);
}

/* Frees the strings of call C and empties it (its response array is kept for reuse). */
static void
call_clear(struct call *c)
{
	size_t i;

	free(c->id);
	c->id = NULL;
	for (i = 0; i < A_N; i++) {
		free(c->attr[i]);
		c->attr[i] = NULL;
	}
	for (i = 0; i < c->n; i++) {
		free(c->r[i].kind);
		free(c->r[i].dept);
	}
	c->n = 0;
}

/* Returns column I of ST as a time or number, NONE when NULL. */
static int64_t
col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NONE : sqlite3_column_int64(st, i);
}

/* Returns a new copy of text column I of ST, NULL when NULL. */
static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return sqlite3_column_type(st, i) == SQLITE_NULL || s == NULL ? NULL
								      : xstrdup((const char *)s);
}

/* Compares two int64 values for qsort. */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Returns the nearest-rank P-th percentile of N sorted values V: the value at rank
 * ceil(P*n/100), 1-based. N must not be 0. */
int64_t
report_pct_of(const int64_t *v, size_t n, int p)
{
	size_t rank = ((size_t)p * n + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

/* Returns the nearest-rank P-th percentile of the sorted values of S (see report_pct_of). */
int64_t
report_pct(const struct seg_stat *s, int p)
{
	return report_pct_of(s->v, s->n, p);
}

/* Compares ring statistics by class for qsort. */
static int
ring_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ring_stat *)a)->kind, ((const struct ring_stat *)b)->kind);
}

/* Sorts the N values of V, none negative, in place: a least-significant-digit radix sort by
 * 16 bits, skipping the digits where every value is the same (durations in ms rarely use
 * more than two). qsort with a comparison callback took most of a large report's time. */
static void
sort_values(int64_t *v, size_t n)
{
	uint64_t *a = (uint64_t *)v, *b, *t, all_or = 0, all_and = UINT64_MAX;
	size_t *count, i;
	int shift;

	if (n < 64) {
		qsort(v, n, sizeof *v, cmp_i64);
		return;
	}
	for (i = 0; i < n; i++) {
		all_or |= a[i];
		all_and &= a[i];
	}
	b = xmalloc(n * sizeof *b);
	count = xmalloc(65537 * sizeof *count);
	for (shift = 0; shift < 64; shift += 16) {
		if ((((all_or ^ all_and) >> shift) & 0xffff) == 0)
			continue; /* this digit is the same everywhere */
		memset(count, 0, 65537 * sizeof *count);
		for (i = 0; i < n; i++)
			count[((a[i] >> shift) & 0xffff) + 1]++;
		for (i = 1; i <= 65536; i++)
			count[i] += count[i - 1];
		for (i = 0; i < n; i++)
			b[count[(a[i] >> shift) & 0xffff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	if (a != (uint64_t *)v) { /* an odd number of passes: the result is in the buffer */
		memcpy(v, a, n * sizeof *v);
		b = a;
	}
	free(b);
	free(count);
}

/* Sorts the values of every segment of G and its rings by class. */
static void
group_sort(struct group *g)
{
	int s;

	for (s = 0; s < S_N; s++)
		if (g->seg[s].n > 1)
			sort_values(g->seg[s].v, g->seg[s].n);
	if (g->n_rings > 1)
		qsort(g->rings, g->n_rings, sizeof *g->rings, ring_cmp);
}

/* Frees G's storage (not G). */
static void
group_free(struct group *g)
{
	size_t i;
	int s;

	for (s = 0; s < S_N; s++)
		free(g->seg[s].v);
	for (i = 0; i < g->n_rings; i++)
		free(g->rings[i].kind);
	free(g->rings);
	free(g->key);
}

/* Compares groups by key for qsort. */
static int
group_cmp(const void *a, const void *b)
{
	return strcmp((*(struct group *const *)a)->key, (*(struct group *const *)b)->key);
}

/* Writes a duration of MS as [-][h:]mm:ss[.mmm] into BUF. */
const char *
report_fmt_dur(int64_t ms, char *buf, size_t size)
{
	int64_t a = ms < 0 ? -ms : ms, s = a / 1000;
	int n;

	if (s >= 3600)
		n = snprintf(buf, size, "%s%" PRId64 ":%02d:%02d", ms < 0 ? "-" : "", s / 3600,
			     (int)(s / 60 % 60), (int)(s % 60));
	else
		n = snprintf(buf, size, "%s%d:%02d", ms < 0 ? "-" : "", (int)(s / 60),
			     (int)(s % 60));
	if (a % 1000 && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ".%03d", (int)(a % 1000));
	return buf;
}

/* Writes the wall time MS as "YYYY-MM-DD hh:mm:ss" into BUF. */
const char *
report_fmt_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	struct tm tm;

	if (ms == NONE || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "-");
	else if (strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "?");
	return buf;
}

/* Prints one group as a terminal table. */
static void
print_table_group(const struct rep *R, const struct group *g, FILE *out)
{
	char a[32], b[32], c[32];
	size_t i;
	int s;

	fprintf(out, "%-11s %-9s %8s %9s %9s %10s %10s %10s\n", "segment", "per", "n", "no value",
		"negative", "p50", "p90", "p95");
	for (s = 0; s < S_N; s++) {
		const struct seg_stat *st = &g->seg[s];

		fprintf(out, "%-11s %-9s %8zu %9ld %9ld", report_segs[s].name,
			report_segs[s].per_response ? "response" : "call", st->n, st->no_value,
			st->negative);
		if (st->n)
			fprintf(out, " %10s %10s %10s\n",
				report_fmt_dur(report_pct(st, 50), a, sizeof a),
				report_fmt_dur(report_pct(st, 90), b, sizeof b),
				report_fmt_dur(report_pct(st, 95), c, sizeof c));
		else
			fprintf(out, " %10s %10s %10s\n", "-", "-", "-");
	}
	report_fmt_dur(R->o->circle_ms, a, sizeof a);
	if (g->seg[S_RESPONSE].n)
		fprintf(out,
			"first unit on scene within %s of receipt: %ld of %zu calls (%.1f %%); "
			"no arrival: %ld\n",
			a, g->within, g->seg[S_RESPONSE].n,
			100.0 * (double)g->within / (double)g->seg[S_RESPONSE].n, g->no_arrival);
	else
		fprintf(out,
			"first unit on scene within %s of receipt: no call with an arrival; "
			"no arrival: %ld\n",
			a, g->no_arrival);
	if (g->n_rings == 0) {
		fprintf(out, "ring compliance: no ring deadlines in these responses\n");
		return;
	}
	fprintf(out, "ring compliance (first arrival of the class within its ring):\n");
	for (i = 0; i < g->n_rings; i++) {
		const struct ring_stat *r = &g->rings[i];
		long with = r->pairs - r->no_arrival - r->negative;

		fprintf(out, "  %-20s %ld of %ld calls", r->kind, r->met, with);
		if (with)
			fprintf(out, " (%.1f %%)", 100.0 * (double)r->met / (double)with);
		fprintf(out, "; no arrival: %ld\n", r->no_arrival);
	}
}

/* Prints the report as terminal tables. */
static void
print_table(const struct rep *R, const char *path, FILE *out)
{
	char a[32], b[32];
	size_t i;

	fprintf(out, "muster report: %s\n", path);
	fprintf(out, "calls: %ld (%s), responses: %ld; received %s .. %s\n", R->total.calls,
		R->o->include_exercise ? "live and exercise" : "live only", R->total.responses,
		report_fmt_time(R->total.calls ? R->first_received : NONE, a, sizeof a),
		report_fmt_time(R->total.calls ? R->last_received : NONE, b, sizeof b));
	if (!R->o->include_exercise && R->exercise_left_out)
		fprintf(out, "exercise calls left out: %ld (--include-exercise)\n",
			R->exercise_left_out);
	if (R->o->has_from || R->o->has_to)
		fprintf(out, "window: %s .. %s (received)\n",
			R->o->has_from ? report_fmt_time(R->o->from_ms, a, sizeof a) : "",
			R->o->has_to ? report_fmt_time(R->o->to_ms, b, sizeof b) : "");
	fputc('\n', out);
	print_table_group(R, &R->total, out);
	for (i = 0; i < R->groups.n; i++) {
		const struct group *g = R->groups.list[i];

		fprintf(out, "\n== %s: %s  (%ld calls, %ld responses)\n", R->slice, g->key,
			g->calls, g->responses);
		print_table_group(R, g, out);
	}
}

/* Writes one CSV field, quoted when it needs to be. */
static void
csv_put(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* Prints one group's CSV rows. */
static void
print_csv_group(const struct rep *R, const struct group *g, FILE *out)
{
	size_t i;
	int s;

	for (s = 0; s < S_N; s++) {
		const struct seg_stat *st = &g->seg[s];

		csv_put(out, R->slice ? R->slice : "");
		fputc(',', out);
		csv_put(out, g->key);
		fprintf(out, ",%ld,%s,%s,%zu,%ld,%ld", g->calls, report_segs[s].name,
			report_segs[s].per_response ? "response" : "call", st->n, st->no_value,
			st->negative);
		if (st->n)
			fprintf(out, ",%.3f,%.3f,%.3f,,\n", (double)report_pct(st, 50) / 1000.0,
				(double)report_pct(st, 90) / 1000.0,
				(double)report_pct(st, 95) / 1000.0);
		else
			fputs(",,,,,\n", out);
	}
	csv_put(out, R->slice ? R->slice : "");
	fputc(',', out);
	csv_put(out, g->key);
	fprintf(out, ",%ld,within_%" PRId64 "s,call,%zu,%ld,%ld,,,,%ld,", g->calls,
		R->o->circle_ms / 1000, g->seg[S_RESPONSE].n, g->no_arrival,
		g->seg[S_RESPONSE].negative, g->within);
	if (g->seg[S_RESPONSE].n)
		fprintf(out, "%.17g", (double)g->within / (double)g->seg[S_RESPONSE].n);
	fputc('\n', out);
	for (i = 0; i < g->n_rings; i++) {
		const struct ring_stat *r = &g->rings[i];
		long with = r->pairs - r->no_arrival - r->negative;
		char *m = xasprintf("ring:%s", r->kind);

		csv_put(out, R->slice ? R->slice : "");
		fputc(',', out);
		csv_put(out, g->key);
		fprintf(out, ",%ld,", g->calls);
		csv_put(out, m);
		fprintf(out, ",call,%ld,%ld,%ld,,,,%ld,", with, r->no_arrival, r->negative, r->met);
		if (with)
			fprintf(out, "%.17g", (double)r->met / (double)with);
		fputc('\n', out);
		free(m);
	}
}

/* Prints the report as CSV: one row per group and metric. */
static void
print_csv(const struct rep *R, FILE *out)
{
	size_t i;

	fputs("by,group,calls,metric,per,n,no_value,negative,p50_s,p90_s,p95_s,met,share\n", out);
	print_csv_group(R, &R->total, out);
	for (i = 0; i < R->groups.n; i++)
		print_csv_group(R, R->groups.list[i], out);
}

/* Sets KEY of OBJ to VAL (taking it); out of memory is fatal. */
static void
jset(json_t *obj, const char *key, json_t *val)
{
	if (val == NULL || json_object_set_new(obj, key, val) != 0) {
		fprintf(stderr, "muster: out of memory building JSON\n");
		abort();
	}
}

/* Appends VAL (taking it) to ARR; out of memory is fatal. */
static void
jpush(json_t *arr, json_t *val)
{
	if (val == NULL || json_array_append_new(arr, val) != 0) {
		fprintf(stderr, "muster: out of memory building JSON\n");
		abort();
	}
}

/* Returns a share as JSON: NUM/DEN, or null when DEN is 0. */
static json_t *
jshare(long num, long den)
{
	return den ? json_real((double)num / (double)den) : json_null();
}

/* Returns V, a new JSON value; out of memory (NULL) is fatal. */
static json_t *
jnew(json_t *v)
{
	if (v == NULL) {
		fprintf(stderr, "muster: out of memory building JSON\n");
		abort();
	}
	return v;
}

#define jobj() jnew(json_object())
#define jarr() jnew(json_array())

/* Returns one group as a JSON object. */
static json_t *
json_group(const struct rep *R, const struct group *g)
{
	json_t *o = jobj(), *segs = jobj(), *w = jobj(), *rings = jarr();
	size_t i;
	int s;

	jset(o, "key", json_string(g->key));
	jset(o, "calls", json_integer(g->calls));
	jset(o, "responses", json_integer(g->responses));
	for (s = 0; s < S_N; s++) {
		const struct seg_stat *st = &g->seg[s];
		json_t *j = jobj();

		jset(j, "per", json_string(report_segs[s].per_response ? "response" : "call"));
		jset(j, "n", json_integer((json_int_t)st->n));
		jset(j, "no_value", json_integer(st->no_value));
		jset(j, "negative", json_integer(st->negative));
		jset(j, "p50_s",
		     st->n ? json_real((double)report_pct(st, 50) / 1000.0) : json_null());
		jset(j, "p90_s",
		     st->n ? json_real((double)report_pct(st, 90) / 1000.0) : json_null());
		jset(j, "p95_s",
		     st->n ? json_real((double)report_pct(st, 95) / 1000.0) : json_null());
		jset(segs, report_segs[s].name, j);
	}
	jset(o, "segments", segs);
	jset(w, "circle_s", json_real((double)R->o->circle_ms / 1000.0));
	jset(w, "calls", json_integer((json_int_t)g->seg[S_RESPONSE].n));
	jset(w, "within", json_integer(g->within));
	jset(w, "share", jshare(g->within, (long)g->seg[S_RESPONSE].n));
	jset(w, "no_arrival", json_integer(g->no_arrival));
	jset(w, "share_of_all_calls", jshare(g->within, g->calls));
	jset(o, "first_on_scene_within_circle", w);
	for (i = 0; i < g->n_rings; i++) {
		const struct ring_stat *r = &g->rings[i];
		long with = r->pairs - r->no_arrival - r->negative;
		json_t *j = jobj();

		jset(j, "kind", json_string(r->kind));
		jset(j, "calls", json_integer(with));
		jset(j, "met", json_integer(r->met));
		jset(j, "share", jshare(r->met, with));
		jset(j, "no_arrival", json_integer(r->no_arrival));
		jset(j, "negative", json_integer(r->negative));
		jpush(rings, j);
	}
	jset(o, "rings", rings);
	return o;
}

/* Returns a time or number as JSON: an integer, or null for NONE. */
static json_t *
jint(int64_t v)
{
	return v == NONE ? json_null() : json_integer((json_int_t)v);
}

/* Returns a string as JSON, or null. */
static json_t *
jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Returns a duration in ms as seconds, or null for NONE. */
static json_t *
jsec(int64_t ms)
{
	return ms == NONE ? json_null() : json_real((double)ms / 1000.0);
}

/* Adds the status grid, the department ranking, the misses, the ring deadlines, the whistles
 * and the diversions of R to ROOT. */
static void
json_extras(const struct rep *R, json_t *root)
{
	json_t *st = jobj(), *zones = jarr(), *th = jarr(), *deps = jarr(), *mi = jobj();
	json_t *list = jarr(), *reasons = jobj(), *rl = jarr();
	struct group **rank = report_ranking(R);
	char buf[64];
	size_t i;
	int code;

	jset(st, "zone_by",
	     json_string(R->zone_attr >= 0 ? report_call_slices[R->zone_attr] : "place"));
	jpush(th, json_real(R->o->status_green));
	jpush(th, json_real(R->o->status_yellow));
	jpush(th, json_real(R->o->status_orange));
	jset(st, "thresholds", th);
	for (i = 0; i < R->zones.n; i++) {
		const struct group *z = R->zones.list[i];
		json_t *j = jobj();

		jset(j, "zone", json_string(z->key));
		jset(j, "calls", json_integer(z->calls));
		jset(j, "within", json_integer(z->within));
		jset(j, "no_arrival", json_integer(z->no_arrival));
		jset(j, "judged", json_integer(z->responded + z->no_arrival));
		jset(j, "share", jshare(z->within, z->responded + z->no_arrival));
		jset(j, "status", json_string(report_zone_status(R, z)));
		jpush(zones, j);
	}
	jset(st, "zones", zones);
	jset(root, "status", st);
	for (i = 0; i < R->depts.n; i++) {
		const struct group *g = rank[i];
		json_t *j = jobj();
		long met, judged, noarr;

		report_ring_sum(g, &met, &judged, &noarr);
		jset(j, "rank", json_integer((json_int_t)i + 1));
		jset(j, "department", json_string(g->key));
		jset(j, "calls", json_integer(g->calls));
		jset(j, "responses", json_integer(g->responses));
		jset(j, "ring_judged", json_integer(judged));
		jset(j, "ring_met", json_integer(met));
		jset(j, "ring_no_arrival", json_integer(noarr));
		jset(j, "ring_share", jshare(met, judged));
		jset(j, "receipt_p50_s",
		     jsec(g->seg[S_RECEIPT].n ? report_pct(&g->seg[S_RECEIPT], 50) : NONE));
		jset(j, "turnout_p90_s",
		     jsec(g->seg[S_TURNOUT].n ? report_pct(&g->seg[S_TURNOUT], 90) : NONE));
		jset(j, "response_p90_s",
		     jsec(g->seg[S_RESPONSE].n ? report_pct(&g->seg[S_RESPONSE], 90) : NONE));
		jpush(deps, j);
	}
	free(rank);
	jset(root, "departments", deps);
	jset(mi, "total", json_integer(R->misses_total));
	jset(mi, "listed", json_integer((json_int_t)R->n_misses));
	for (code = 0; code < REPORT_REASONS; code++)
		if (R->by_reason[code])
			jset(reasons, report_reason_name(code, buf, sizeof buf),
			     json_integer(R->by_reason[code]));
	jset(mi, "by_reason", reasons);
	for (i = 0; i < R->n_misses; i++) {
		const struct miss *m = &R->misses[i];
		json_t *j = jobj(), *rs = jarr();

		jset(j, "call", json_string(m->call));
		jset(j, "received",
		     m->received == NONE
			 ? json_null()
			 : json_string(report_fmt_time(m->received, buf, sizeof buf)));
		jset(j, "type", jstr(m->type));
		jset(j, "tier", jint(m->tier));
		jset(j, "place", jstr(m->place));
		jset(j, "kind", jstr(m->kind));
		jset(j, "department", jstr(m->dept));
		jset(j, "deadline_s", m->ring_s == NONE ? jsec(R->o->circle_ms) : jint(m->ring_s));
		jset(j, "arrival_s", jsec(m->arrival_ms));
		for (code = 1; code < REPORT_REASONS; code++)
			if (m->reasons & (1u << code))
				jpush(rs, json_string(report_reason_name(code, buf, sizeof buf)));
		jset(j, "delay_reasons", rs);
		jpush(list, j);
	}
	jset(mi, "list", list);
	jset(root, "misses", mi);
	for (i = 0; i < R->n_rl; i++) {
		json_t *j = jobj();

		jset(j, "kind", json_string(R->rl[i].kind));
		jset(j, "ring_s", json_integer(R->rl[i].ring_s));
		jset(j, "responses", json_integer(R->rl[i].responses));
		jpush(rl, j);
	}
	jset(root, "ring_deadlines", rl);
	if (!R->daemon_db) {
		jset(root, "whistles", json_null());
		jset(root, "diversions", json_null());
		return;
	}
	{
		static const char *const names[] = {"called", "on_time", "late", "absent"};
		json_t *w = jobj(), *wl = jarr(), *counts = jobj();
		long n[4] = {0, 0, 0, 0}, rank_met = 0, head_met = 0;

		for (i = 0; i < R->n_wh; i++) {
			const struct whistle_row *r = &R->wh[i];
			json_t *j = jobj();
			int sidx = r->status >= 0 && r->status <= 3 ? r->status : 0;

			n[sidx]++;
			rank_met += r->rank_met;
			head_met += r->headcount_met;
			jset(j, "whistle", json_integer(r->id));
			jset(j, "place", jstr(r->place));
			jset(j, "matter", jstr(r->matter));
			jset(j, "department", jstr(r->dept));
			jset(j, "status", json_string(names[sidx]));
			jset(j, "arrival_s",
			     r->arrived == NONE || r->blown == NONE ? json_null()
								    : jsec(r->arrived - r->blown));
			jset(j, "deadline_s",
			     r->deadline == NONE || r->blown == NONE
				 ? json_null()
				 : jsec(r->deadline - r->blown));
			jset(j, "rank_met", json_boolean(r->rank_met));
			jset(j, "headcount_met", json_boolean(r->headcount_met));
			jpush(wl, j);
		}
		for (code = 0; code < 4; code++)
			jset(counts, names[code], json_integer(n[code]));
		jset(w, "called", json_integer((json_int_t)R->n_wh));
		jset(w, "by_status", counts);
		jset(w, "rank_met", json_integer(rank_met));
		jset(w, "headcount_met", json_integer(head_met));
		jset(w, "list", wl);
		jset(root, "whistles", w);
	}
	{
		json_t *d = jobj(), *dl = jarr();

		jset(d, "count", json_integer((json_int_t)R->n_dv));
		jset(d, "lost_p50_s",
		     R->n_dv ? jsec(report_pct_of(R->lost, R->n_dv, 50)) : json_null());
		jset(d, "lost_p90_s",
		     R->n_dv ? jsec(report_pct_of(R->lost, R->n_dv, 90)) : json_null());
		jset(d, "lost_max_s", R->n_dv ? jsec(R->lost[R->n_dv - 1]) : json_null());
		for (i = 0; i < R->n_dv; i++) {
			const struct diversion *v = &R->dv[i];
			json_t *j = jobj();

			jset(j, "incident", jint(v->incident));
			jset(j, "type", jstr(v->type));
			jset(j, "from", jstr(v->from));
			jset(j, "to", jstr(v->to));
			jset(j, "reason", jstr(v->reason));
			jset(j, "lost_s", jsec(v->lost_ms));
			jpush(dl, j);
		}
		jset(d, "list", dl);
		jset(root, "diversions", d);
	}
}

/* Prints the report as one JSON document. Returns 0, or -1. */
static int
print_json(const struct rep *R, const char *path, FILE *out)
{
	json_t *root = jobj(), *groups = jarr(), *f = jobj();
	char a[32];
	size_t i;
	int rc;

	jset(root, "database", json_string(path));
	jset(root, "schema_version", json_integer(REPORT_SCHEMA_VERSION));
	jset(f, "from",
	     R->o->has_from ? json_string(report_fmt_time(R->o->from_ms, a, sizeof a))
			    : json_null());
	jset(f, "to",
	     R->o->has_to ? json_string(report_fmt_time(R->o->to_ms, a, sizeof a)) : json_null());
	jset(f, "include_exercise", json_boolean(R->o->include_exercise));
	jset(f, "exercise_calls_left_out", json_integer(R->exercise_left_out));
	jset(root, "filters", f);
	jset(root, "first_received",
	     R->total.calls && R->first_received != NONE
		 ? json_string(report_fmt_time(R->first_received, a, sizeof a))
		 : json_null());
	jset(root, "last_received",
	     R->total.calls && R->last_received != NONE
		 ? json_string(report_fmt_time(R->last_received, a, sizeof a))
		 : json_null());
	jset(root, "by", R->slice ? json_string(R->slice) : json_null());
	jset(root, "total", json_group(R, &R->total));
	for (i = 0; i < R->groups.n; i++)
		jpush(groups, json_group(R, R->groups.list[i]));
	jset(root, "groups", groups);
	if (R->extras)
		json_extras(R, root);
	rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
	json_decref(root);
	if (rc != 0 || fputc('\n', out) == EOF)
		return -1;
	return 0;
}

/* The analysis schema as views over a musterd database (a snapshot, or the file of a
 * stopped daemon): an incident is a call (a linked duplicate report is not), each order of a
 * unit that was not cancelled is a response, "ordered" is when the order was sent to the
 * unit's agent, and the ring is the unit's class ring as the order recorded it. Times the
 * daemon stores as 0 (not happened), and places it stores as '' (not known), are NULL here.
 * Temporary views: the file is not
 * changed, and it is opened read-only. */
static const char report_views[] =
    "CREATE TEMP VIEW calls AS SELECT CAST(id AS TEXT) AS id, type, tier,"
    " CAST(tier AS TEXT) AS priority, received_ms, received_ms AS entered_ms,"
    " NULLIF(street, '') AS street, NULLIF(community, '') AS community,"
    " NULLIF(grid, '') AS grid, CASE WHEN has_coords THEN lat END AS lat,"
    " CASE WHEN has_coords THEN lon END AS lon, exercise, 'musterd' AS source"
    " FROM main.incidents WHERE state != 3;"
    "CREATE TEMP VIEW responses AS SELECT CAST(incident_id AS TEXT) AS call_id,"
    " member_id AS unit, kind, department, NULLIF(sent_ms, 0) AS ordered_ms,"
    " NULLIF(received_ms, 0) AS received_ms, NULLIF(en_route_ms, 0) AS en_route_ms,"
    " NULLIF(on_scene_ms, 0) AS on_scene_ms, NULLIF(cleared_ms, 0) AS cleared_ms,"
    " CASE WHEN ring_deadline_ms > 0 THEN (ring_deadline_ms - ordered_ms) / 1000 END AS ring_s,"
    " NULLIF(delay_reason, 0) AS delay_reason"
    " FROM main.orders WHERE what = 1 AND status != 10;";

/* Presents a musterd database in the analysis schema (see report_views). */
static int
report_daemon_views(sqlite3 *db, const char *path, char **err)
{
	sqlite3_stmt *st;
	int ver = -1;
	char *msg = NULL;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			ver = sqlite3_column_int(st, 0);
		(void)sqlite3_finalize(st);
	}
	if (ver > STORE_SCHEMA_VERSION) {
		*err = xasprintf("%s: musterd schema version %d is newer than this muster reads "
				 "(%d); use a newer muster",
				 path, ver, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (ver < 2) {
		*err = xasprintf("%s: a musterd database from before orders (schema version %d): "
				 "nothing to report",
				 path, ver);
		return -1;
	}
	if (sqlite3_exec(db, report_views, NULL, NULL, &msg) != SQLITE_OK) {
		*err =
		    xasprintf("%s: cannot present the daemon's tables: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Checks that DB is an analysis database this muster reads. Returns 0, or -1 with *ERR. */
static int
report_check(sqlite3 *db, const char *path, char **err)
{
	sqlite3_stmt *st = NULL;
	const char *msg;
	char *end;
	long ver;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT value FROM analysis_meta WHERE key = 'version'", -1,
				&st, NULL);
	if (rc != SQLITE_OK) {
		msg = sqlite3_errmsg(db);
		if (rc == SQLITE_NOTADB)
			*err = xasprintf("%s: not a SQLite database", path);
		else if (strstr(msg, "no such table") == NULL)
			*err = xasprintf("%s: cannot read: %s", path, msg);
		else if (sqlite3_table_column_metadata(db, NULL, "timeline", "seq", NULL, NULL,
						       NULL, NULL, NULL) == SQLITE_OK)
			return report_daemon_views(db, path, err);
		else
			*err = xasprintf("%s: not an analysis database (no analysis_meta table); "
					 "make one with `muster import cad-csv`",
					 path);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		*err = rc == SQLITE_DONE
			   ? xasprintf("%s: analysis_meta has no 'version': not an analysis "
				       "database muster wrote",
				       path)
			   : xasprintf("%s: cannot read: %s", path, sqlite3_errmsg(db));
		(void)sqlite3_finalize(st);
		return -1;
	}
	msg = (const char *)sqlite3_column_text(st, 0);
	errno = 0;
	ver = msg ? strtol(msg, &end, 10) : 0;
	if (msg == NULL || errno || end == msg || *end != '\0' || ver < 1)
		*err = xasprintf("%s: unknown analysis schema version '%s'", path,
				 msg ? msg : "(null)");
	else if (ver > REPORT_SCHEMA_VERSION)
		*err = xasprintf("%s: analysis schema version %ld is newer than this muster reads "
				 "(%d); use a newer muster",
				 path, ver, REPORT_SCHEMA_VERSION);
	else
		*err = NULL;
	if (sqlite3_finalize(st) != SQLITE_OK && *err == NULL)
		*err = xasprintf("%s: cannot read: %s", path, sqlite3_errmsg(db));
	return *err ? -1 : 0;
}

/* Binds the exercise filter and the window to parameters 1..3 of ST, and "exercise only" to
 * 4 when ST has it. Returns an SQLite code. */
static int
bind_filters(const struct rep *R, sqlite3_stmt *st)
{
	int rc = sqlite3_bind_int(st, 1, R->o->include_exercise);

	if (rc == SQLITE_OK)
		rc = R->o->has_from ? sqlite3_bind_int64(st, 2, R->o->from_ms)
				    : sqlite3_bind_null(st, 2);
	if (rc == SQLITE_OK)
		rc = R->o->has_to ? sqlite3_bind_int64(st, 3, R->o->to_ms)
				  : sqlite3_bind_null(st, 3);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 4)
		rc = sqlite3_bind_int(st, 4, R->o->exercise_only);
	return rc;
}

/* Counts the exercise calls a live-only report leaves out (within the window). */
static int
report_count_exercise(struct rep *R, sqlite3 *db, const char *path, char **err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM calls WHERE exercise != 0"
			       " AND (?1 IS NULL OR received_ms >= ?1)"
			       " AND (?2 IS NULL OR received_ms < ?2)",
			       -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: not a valid analysis database: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	rc = R->o->has_from ? sqlite3_bind_int64(st, 1, R->o->from_ms) : sqlite3_bind_null(st, 1);
	if (rc == SQLITE_OK)
		rc = R->o->has_to ? sqlite3_bind_int64(st, 2, R->o->to_ms)
				  : sqlite3_bind_null(st, 2);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		R->exercise_left_out = (long)sqlite3_column_int64(st, 0);
	if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_ROW) {
		*err = xasprintf("%s: cannot read: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Reads every selected call with its responses, in call order, into R. Returns 0, or -1. */
static int
report_scan(struct rep *R, sqlite3 *db, const char *path, char **err)
{
	static const char sql[] =
	    "SELECT c.id, c.type, c.tier, c.priority, c.street, c.community, c.grid,"
	    " c.received_ms, c.entered_ms, r.call_id IS NOT NULL, r.kind, r.department,"
	    " r.ordered_ms, r.received_ms, r.en_route_ms, r.on_scene_ms, r.ring_s,"
	    " r.delay_reason"
	    " FROM calls c LEFT JOIN responses r ON r.call_id = c.id"
	    " WHERE (?1 OR c.exercise = 0) AND (?4 = 0 OR c.exercise != 0)"
	    " AND (?2 IS NULL OR c.received_ms >= ?2) AND (?3 IS NULL OR c.received_ms < ?3)"
	    " ORDER BY c.id";
	sqlite3_stmt *st;
	struct call c;
	int rc, i;

	memset(&c, 0, sizeof c);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: not a valid analysis database: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	rc = bind_filters(R, st);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(st, 0);

		if (id == NULL)
			id = (const unsigned char *)"";
		if (c.id == NULL || strcmp(c.id, (const char *)id) != 0) {
			if (c.id != NULL)
				call_finish(R, &c);
			call_clear(&c);
			c.id = xstrdup((const char *)id);
			for (i = 0; i < A_N; i++)
				c.attr[i] = col_text(st, 1 + i);
			c.received = col_int(st, 7);
			c.entered = col_int(st, 8);
		}
		if (sqlite3_column_int(st, 9)) {
			struct resp *r;

			if (c.n == c.cap) {
				c.cap = c.cap ? c.cap * 2 : 8;
				c.r = xrealloc(c.r, c.cap * sizeof *c.r);
			}
			r = &c.r[c.n++];
			r->kind = col_text(st, 10);
			r->dept = col_text(st, 11);
			r->ordered = col_int(st, 12);
			r->receipt = col_int(st, 13);
			r->en_route = col_int(st, 14);
			r->on_scene = col_int(st, 15);
			r->ring_s = col_int(st, 16);
			r->delay_reason = col_int(st, 17);
		}
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE && c.id != NULL)
		call_finish(R, &c);
	call_clear(&c);
	free(c.r);
	if (rc != SQLITE_DONE) {
		*err = xasprintf("%s: cannot read: %s", path, sqlite3_errmsg(db));
		(void)sqlite3_finalize(st);
		return -1;
	}
	if (sqlite3_finalize(st) != SQLITE_OK) {
		*err = xasprintf("%s: cannot read: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Runs SQL (its parameters 1..3 bound to the filters) and hands each row to ROW. WHAT names
 * the rows in an error. Returns 0, or -1 with *ERR. */
static int
read_rows(struct rep *R, sqlite3 *db, const char *sql, const char *what,
	  void (*row)(struct rep *, sqlite3_stmt *), char **err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: cannot read the %s: %s", R->path, what, sqlite3_errmsg(db));
		return -1;
	}
	rc = bind_filters(R, st);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row(R, st);
		rc = SQLITE_OK;
	}
	if (sqlite3_finalize(st) != SQLITE_OK || rc != SQLITE_DONE) {
		*err = xasprintf("%s: cannot read the %s: %s", R->path, what, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Takes one row of the whistles query. */
static void
whistle_row(struct rep *R, sqlite3_stmt *st)
{
	struct whistle_row *w;

	R->wh = xrealloc(R->wh, (R->n_wh + 1) * sizeof *R->wh);
	w = &R->wh[R->n_wh++];
	w->id = col_int(st, 0);
	w->place = col_text(st, 1);
	w->matter = col_text(st, 2);
	w->rank = col_text(st, 3);
	w->headcount = col_int(st, 4);
	w->blown = col_int(st, 5);
	w->deadline = col_int(st, 6);
	w->dept = col_text(st, 7);
	w->status = sqlite3_column_int(st, 8);
	w->arrived = col_int(st, 9);
	if (w->arrived == 0)
		w->arrived = NONE;
	w->got_rank = col_text(st, 10);
	w->got_headcount = col_int(st, 11);
	w->rank_met = sqlite3_column_int(st, 12);
	w->headcount_met = sqlite3_column_int(st, 13);
}

/* Takes one row of the diversions query. */
static void
diversion_row(struct rep *R, sqlite3_stmt *st)
{
	struct diversion *d;

	R->dv = xrealloc(R->dv, (R->n_dv + 1) * sizeof *R->dv);
	d = &R->dv[R->n_dv++];
	d->incident = col_int(st, 0);
	d->at = col_int(st, 1);
	d->lost_ms = col_int(st, 2);
	d->type = col_text(st, 3);
	d->from = col_text(st, 4);
	d->to = col_text(st, 5);
	d->reason = col_text(st, 6);
}

/* Reads the whistles blown in the window, with each called department's answer, and the
 * alert diversions of the incidents received in it (from the timeline). */
static int
report_daemon_extras(struct rep *R, sqlite3 *db, char **err)
{
	static const char whistles[] =
	    "SELECT w.id, w.place, w.matter, w.rank, w.headcount, w.blown_ms, w.deadline_ms,"
	    " d.department, d.status, d.arrived_ms, d.rank, d.headcount, d.rank_met,"
	    " d.headcount_met FROM main.whistles w"
	    " JOIN main.whistle_departments d ON d.whistle_id = w.id"
	    " WHERE (?1 OR w.exercise = 0) AND (?4 = 0 OR w.exercise != 0)"
	    " AND (?2 IS NULL OR w.blown_ms >= ?2) AND (?3 IS NULL OR w.blown_ms < ?3)"
	    " ORDER BY w.id, d.department";
	static const char diversions[] =
	    "SELECT t.incident_id, t.wall_ms, json_extract(t.body, '$.lost_ms'), i.type,"
	    " json_extract(t.body, '$.from'), json_extract(t.body, '$.to'),"
	    " json_extract(t.body, '$.reason') FROM main.timeline t"
	    " JOIN main.incidents i ON i.id = t.incident_id"
	    " WHERE t.kind = 'incident.diverted' AND (?1 OR i.exercise = 0)"
	    " AND (?4 = 0 OR i.exercise != 0)"
	    " AND (?2 IS NULL OR i.received_ms >= ?2) AND (?3 IS NULL OR i.received_ms < ?3)"
	    " ORDER BY t.seq";
	size_t i;

	if (read_rows(R, db, whistles, "whistles", whistle_row, err) != 0 ||
	    read_rows(R, db, diversions, "diversions", diversion_row, err) != 0)
		return -1;
	R->lost = xcalloc(R->n_dv ? R->n_dv : 1, sizeof *R->lost);
	for (i = 0; i < R->n_dv; i++)
		R->lost[i] = R->dv[i].lost_ms == NONE ? 0 : R->dv[i].lost_ms;
	if (R->n_dv > 1)
		qsort(R->lost, R->n_dv, sizeof *R->lost, cmp_i64);
	return 0;
}

/* Compares misses by receipt time, then call, for qsort. */
static int
miss_cmp(const void *a, const void *b)
{
	const struct miss *x = a, *y = b;
	int c;

	if (x->received != y->received)
		return x->received == NONE	   ? 1
		       : y->received == NONE	   ? -1
		       : x->received < y->received ? -1
						   : 1;
	c = strcmp(x->call, y->call);
	if (c == 0)
		c = strcmp(x->kind ? x->kind : "", y->kind ? y->kind : "");
	return c;
}

/* Compares ring lines by deadline, then class, for qsort. */
static int
ringline_cmp(const void *a, const void *b)
{
	const struct ringline *x = a, *y = b;

	if (x->ring_s != y->ring_s)
		return x->ring_s < y->ring_s ? -1 : 1;
	return strcmp(x->kind, y->kind);
}

/* Sums the ring statistics of G; see report_int.h. */
void
report_ring_sum(const struct group *g, long *met, long *judged, long *no_arrival)
{
	size_t i;

	*met = *judged = *no_arrival = 0;
	for (i = 0; i < g->n_rings; i++) {
		*met += g->rings[i].met;
		*judged += g->rings[i].pairs - g->rings[i].negative;
		*no_arrival += g->rings[i].no_arrival;
	}
}

/* Orders departments for the ranking: the larger share of ring deadlines met (a department
 * with none judged comes after those with some), then the shorter 90th percentile of its
 * first arrival after receipt (none last), then the name. */
static int
rank_cmp(const void *a, const void *b)
{
	const struct group *x = *(struct group *const *)a, *y = *(struct group *const *)b;
	long mx, jx, nx, my, jy, ny;
	int64_t px, py;

	report_ring_sum(x, &mx, &jx, &nx);
	report_ring_sum(y, &my, &jy, &ny);
	if ((jx > 0) != (jy > 0))
		return jx > 0 ? -1 : 1;
	if (jx > 0 && (double)mx * (double)jy != (double)my * (double)jx)
		return (double)mx * (double)jy > (double)my * (double)jx ? -1 : 1;
	px = x->seg[S_RESPONSE].n ? report_pct(&x->seg[S_RESPONSE], 90) : NONE;
	py = y->seg[S_RESPONSE].n ? report_pct(&y->seg[S_RESPONSE], 90) : NONE;
	if (px != py) {
		if (px == NONE || py == NONE)
			return px == NONE ? 1 : -1;
		return px < py ? -1 : 1;
	}
	return strcmp(x->key, y->key);
}

/* Returns the departments in ranking order; see report_int.h. */
struct group **
report_ranking(const struct rep *R)
{
	struct group **v = xcalloc(R->depts.n ? R->depts.n : 1, sizeof *v);

	if (R->depts.n)
		memcpy(v, R->depts.list, R->depts.n * sizeof *v);
	if (R->depts.n > 1)
		qsort(v, R->depts.n, sizeof *v, rank_cmp);
	return v;
}

/* Returns the colour of zone Z; see report_int.h. */
const char *
report_zone_status(const struct rep *R, const struct group *z)
{
	double share;
	long judged = z->responded + z->no_arrival;

	if (judged == 0)
		return "grey";
	/* The share of the zone's calls whose first unit arrived within the circle; a call
	 * nobody reached counts against it. */
	share = 100.0 * (double)z->within / (double)judged;
	if (share >= R->o->status_green)
		return "green";
	if (share >= R->o->status_yellow)
		return "yellow";
	if (share >= R->o->status_orange)
		return "orange";
	return "red";
}

/* Returns the name of delay reason CODE; see report_int.h. */
const char *
report_reason_name(int code, char *buf, size_t size)
{
	const ProtobufCEnumValue *v;
	size_t i;

	if (code == 0)
		return "none given";
	v = protobuf_c_enum_descriptor_get_value(&muster__delay_reason__descriptor, code);
	if (v == NULL || strncmp(v->name, "DELAY_", 6) != 0) {
		snprintf(buf, size, "code %d", code);
		return buf;
	}
	for (i = 0; v->name[6 + i] && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)v->name[6 + i]);
	buf[i] = '\0';
	return buf;
}

/* Frees the groups of T and T's storage. */
static void
gtab_free(struct gtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		group_free(t->list[i]);
		free(t->list[i]);
	}
	free(t->list);
	free(t->slot);
}

/* Frees the misses, ring lines, whistles and diversions of R. */
static void
extras_free(struct rep *R)
{
	size_t i;

	for (i = 0; i < R->n_misses; i++) {
		free(R->misses[i].call);
		free(R->misses[i].type);
		free(R->misses[i].place);
		free(R->misses[i].kind);
		free(R->misses[i].dept);
	}
	free(R->misses);
	for (i = 0; i < R->n_rl; i++)
		free(R->rl[i].kind);
	free(R->rl);
	for (i = 0; i < R->n_wh; i++) {
		free(R->wh[i].place);
		free(R->wh[i].matter);
		free(R->wh[i].rank);
		free(R->wh[i].dept);
		free(R->wh[i].got_rank);
	}
	free(R->wh);
	for (i = 0; i < R->n_dv; i++) {
		free(R->dv[i].type);
		free(R->dv[i].from);
		free(R->dv[i].to);
		free(R->dv[i].reason);
	}
	free(R->dv);
	free(R->lost);
}

/* Reads the analysis database and writes the report; see report.h. */
int
report_run(const char *path, const struct report_opts *o, FILE *out, char **err)
{
	struct rep R;
	struct report_opts oc = *o;
	sqlite3 *db = NULL;
	FILE *f;
	size_t i;
	int rc = -1;

	*err = NULL;
	memset(&R, 0, sizeof R);
	if (oc.status_green == 0 && oc.status_yellow == 0 && oc.status_orange == 0) {
		oc.status_green = 90;
		oc.status_yellow = 75;
		oc.status_orange = 50;
	}
	o = &oc;
	R.o = o;
	R.path = path;
	R.extras = o->format == REPORT_JSON || o->format == REPORT_HTML;
	R.zones.light = 1;
	R.zone_attr = -1;
	if (o->zone != NULL) {
		if (strcmp(o->zone, "grid") == 0)
			R.zone_attr = A_GRID;
		else if (strcmp(o->zone, "street") == 0)
			R.zone_attr = A_STREET;
		else if (strcmp(o->zone, "community") == 0)
			R.zone_attr = A_COMMUNITY;
		else if (strcmp(o->zone, "place") != 0) {
			*err = xasprintf("--zone '%s': one of place, grid, community, street",
					 o->zone);
			return -1;
		}
	}
	R.slice = o->by;
	R.slice_attr = -1;
	if (o->by != NULL) {
		if (!report_slice_known(o->by)) {
			*err =
			    xasprintf("--by '%s': one of type, tier, priority, street, community, "
				      "grid, hour, day, kind, department",
				      o->by);
			return -1;
		}
		for (i = 0; i < A_N; i++)
			if (strcmp(o->by, report_call_slices[i]) == 0)
				R.slice_attr = (int)i;
		R.by_kind = strcmp(o->by, "kind") == 0;
		R.by_dept = strcmp(o->by, "department") == 0;
		R.by_hour = strcmp(o->by, "hour") == 0;
		R.by_day = strcmp(o->by, "day") == 0;
	}
	R.total.key = xstrdup("all");
	/* SQLite would create an empty database for a missing file, even read-only: look first. */
	f = fopen(path, "rb");
	if (f == NULL) {
		*err = xasprintf("%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	(void)fclose(f); /* opened for reading only: nothing to lose */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: cannot open: %s", path,
				 db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	if (report_check(db, path, err) != 0 ||
	    (!o->include_exercise && report_count_exercise(&R, db, path, err) != 0) ||
	    report_scan(&R, db, path, err) != 0)
		goto out;
	R.daemon_db = sqlite3_table_column_metadata(db, "main", "timeline", "seq", NULL, NULL, NULL,
						    NULL, NULL) == SQLITE_OK;
	if (R.extras && R.daemon_db && report_daemon_extras(&R, db, err) != 0)
		goto out;
	group_sort(&R.total);
	for (i = 0; i < R.groups.n; i++)
		group_sort(R.groups.list[i]);
	if (R.groups.n > 1)
		qsort(R.groups.list, R.groups.n, sizeof *R.groups.list, group_cmp);
	for (i = 0; i < R.depts.n; i++)
		group_sort(R.depts.list[i]);
	if (R.zones.n > 1)
		qsort(R.zones.list, R.zones.n, sizeof *R.zones.list, group_cmp);
	if (R.n_misses > 1)
		qsort(R.misses, R.n_misses, sizeof *R.misses, miss_cmp);
	if (R.n_rl > 1)
		qsort(R.rl, R.n_rl, sizeof *R.rl, ringline_cmp);
	if (o->format == REPORT_JSON) {
		if (print_json(&R, path, out) != 0) {
			*err = xasprintf("cannot write the report: %s", strerror(errno));
			goto out;
		}
	} else if (o->format == REPORT_HTML) {
		if (report_print_html(&R, out) != 0) {
			*err = xasprintf("cannot write the report: %s", strerror(errno));
			goto out;
		}
	} else if (o->format == REPORT_CSV) {
		print_csv(&R, out);
	} else {
		print_table(&R, path, out);
	}
	rc = 0;
out:
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0) {
		*err = xasprintf("%s: cannot close", path);
		rc = -1;
	}
	group_free(&R.total);
	gtab_free(&R.groups);
	gtab_free(&R.zones);
	gtab_free(&R.depts);
	extras_free(&R);
	return rc;
}
