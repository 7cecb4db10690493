/* muster: "lightning muster" (闪电集结). A plan tier names groups of places; each place is a
 * slot with a stable key ("group|unit:kind|department|n"), so that a refill, a tier change or
 * a restart can tell which places are filled by looking at the incident's orders. Places are
 * filled in plan order (the commander first) with the nearest available unit by estimated
 * arrival time, or the first matching person or expert who has not refused. */
#include "muster.h"
#include "agents.h"
#include "daemon.h"
#include "geo.h"
#include "log.h"
#include "nearest.h"
#include "order.h"
#include "plan.h"
#include "store.h"
#include "util.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What the muster keeps of an open incident. */
struct mincident {
	uint64_t id;
	char *type;
	int tier;
	int exercise;
	double lat, lon;
	char *place, *street, *community, *grid;
	char *summary;
};

struct muster {
	struct mincident *v;
	size_t n;
	/* Per roster unit, 1 when it may not be asked now (held by an order or off shift). Kept
	 * up to date by muster_hold and recomputed when the hour or the roster changes, so a
	 * fill costs the places it fills, not the size of the roster. */
	uint8_t *unavailable;
	size_t n_unavailable;
	int hour; /* the local hour UNAVAILABLE was computed for; -1: stale */
	/* During a fill: the incident's orders, read once for all the orders it sends. */
	uint64_t group_incident;
	struct order **group;
	size_t n_group;
};

/* A temporary mark in the unavailable array, undone at the end of a fill. */
struct muster_mark {
	size_t unit;
	uint8_t was;
};

struct muster *
muster_new(void)
{
	struct muster *m = xcalloc(1, sizeof(struct muster));

	m->hour = -1;
	return m;
}

/* Returns the current local hour. */
static int
muster_hour_now(void)
{
	time_t t = time(NULL);
	struct tm tm;

	return localtime_r(&t, &tm) ? tm.tm_hour : 0;
}

/* Marks unit I unavailable for the rest of a fill, remembering how it was. */
static void
muster_mark(uint8_t *unavailable, struct muster_mark **marks, size_t *n, size_t i)
{
	*marks = xrealloc(*marks, (*n + 1) * sizeof **marks);
	(*marks)[*n].unit = i;
	(*marks)[*n].was = unavailable[i];
	(*n)++;
	unavailable[i] = 1;
}

/* Marks unit I available for the rest of a fill, remembering how it was. */
static void
muster_unhold_mark(uint8_t *unavailable, struct muster_mark **marks, size_t *n, size_t i)
{
	muster_mark(unavailable, marks, n, i);
	unavailable[i] = 0;
}

/* Undoes a fill's temporary marks, newest first. */
static void
muster_unmark(uint8_t *unavailable, struct muster_mark *marks, size_t *n)
{
	while (*n > 0) {
		(*n)--;
		unavailable[marks[*n].unit] = marks[*n].was;
	}
}

/* Returns the unavailable array, recomputed when stale (a new hour, a new roster). */
static uint8_t *
muster_unavailable(struct daemon *d)
{
	struct muster *m = d->muster;
	struct roster *r = d->cfg->roster;
	int hour = muster_hour_now();
	size_t i;

	if (m->unavailable && m->n_unavailable == r->n_units && m->hour == hour)
		return m->unavailable;
	free(m->unavailable);
	m->unavailable = xcalloc(r->n_units ? r->n_units : 1, 1);
	m->n_unavailable = r->n_units;
	m->hour = hour;
	for (i = 0; i < r->n_units; i++)
		m->unavailable[i] = r->units[i].held > 0 || !roster_on_shift(&r->units[i], hour);
	return m->unavailable;
}

/* Frees the strings of MI. */
static void
muster_clear_incident(struct mincident *mi)
{
	free(mi->type);
	free(mi->place);
	free(mi->street);
	free(mi->community);
	free(mi->grid);
	free(mi->summary);
}

void
muster_free(struct muster *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		muster_clear_incident(&m->v[i]);
	free(m->v);
	free(m->unavailable);
	free(m);
}

size_t
muster_open_count(const struct muster *m, size_t *exercise)
{
	size_t i, x = 0;

	for (i = 0; i < m->n; i++)
		x += m->v[i].exercise != 0;
	if (exercise)
		*exercise = x;
	return m->n;
}

/* Returns the open incident ID, or NULL. */
static struct mincident *
muster_find(struct muster *m, uint64_t id)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}

/* Remembers incident INC (replacing what was known of it). */
static struct mincident *
muster_remember(struct muster *m, const Muster__Incident *inc)
{
	struct mincident *mi = muster_find(m, inc->id);
	const Muster__Location *l = inc->location;
	static const char *const roman[] = {"?", "I", "II", "III"};

	if (mi == NULL) {
		m->v = xrealloc(m->v, (m->n + 1) * sizeof *m->v);
		mi = &m->v[m->n++];
	} else {
		muster_clear_incident(mi);
	}
	memset(mi, 0, sizeof *mi);
	mi->id = inc->id;
	mi->type = xstrdup(inc->type);
	mi->tier = (int)inc->tier;
	mi->exercise = inc->exercise;
	mi->lat = l && l->coords ? l->coords->lat : 0;
	mi->lon = l && l->coords ? l->coords->lon : 0;
	mi->place = xstrdup(l ? l->place : "");
	mi->street = xstrdup(l ? l->street : "");
	mi->community = xstrdup(l ? l->community : "");
	mi->grid = xstrdup(l ? l->grid : "");
	mi->summary = xasprintf("%s, tier %s: %s", inc->type, roman[inc->tier <= 3 ? inc->tier : 0],
				inc->description && inc->description[0] ? inc->description
									: "(no description)");
	return mi;
}

/* Forgets incident ID. */
static void
muster_forget(struct muster *m, uint64_t id)
{
	struct mincident *mi = muster_find(m, id);

	if (mi == NULL)
		return;
	muster_clear_incident(mi);
	*mi = m->v[--m->n];
}

/* Returns the plan tier of MI, or NULL when its type has none at its tier. */
static const struct plan_tier *
muster_plan_tier(struct daemon *d, const struct mincident *mi, const struct plan **plan)
{
	const struct plan *p = plan_find(d->cfg->plans, mi->type);

	if (plan)
		*plan = p;
	if (p == NULL || mi->tier < 1 || mi->tier > 3)
		return NULL;
	return p->tiers[mi->tier - 1];
}

/* Returns 1 when two plan lines ask for the same sort of member (same slot signature). */
static int
muster_same_sort(const struct plan_spec *a, const struct plan_spec *b)
{
	return a->what == b->what && a->department == b->department &&
	       strcmp(plan_spec_kind(a), plan_spec_kind(b)) == 0;
}

/* Returns a new slot key for the Nth place of SPEC in group G. Places of the same sort in
 * one group are numbered on across its lines, so two lines asking for fire engines give
 * places 0, 1, 2 ... and never the same key twice. */
static char *
muster_slot_key(struct daemon *d, const struct plan_group *g, const struct plan_spec *s, int n)
{
	const char *dept = s->department >= 0 ? d->cfg->roster->departments[s->department].id : "*";
	const struct plan_spec *e;

	for (e = g->specs; e < s; e++)
		if (muster_same_sort(e, s))
			n += e->count;
	return xasprintf("%s|%s:%s|%s|%d", g->name, plan_spec_what(s), plan_spec_kind(s), dept, n);
}

/* The orders of one incident as the store has them, and what they say. */
struct muster_seen {
	struct order **v;
	size_t n;
};

/* Returns 1 when some order of SEEN fills SLOT (not declined, reassigned or cancelled). */
static int
muster_slot_filled(const struct muster_seen *seen, const char *slot)
{
	size_t i;

	for (i = 0; i < seen->n; i++) {
		int st = seen->v[i]->status;

		if (strcmp(seen->v[i]->slot, slot) == 0 &&
		    st != MUSTER__ORDER_STATUS__ORDER_DECLINED &&
		    st != MUSTER__ORDER_STATUS__ORDER_REASSIGNED &&
		    st != MUSTER__ORDER_STATUS__ORDER_CANCELLED)
			return 1;
	}
	return 0;
}

/* Returns 1 when MEMBER is in the incident already, or has refused (declined, or was
 * reassigned for silence): neither is asked again for this incident. */
static int
muster_member_used(const struct muster_seen *seen, const char *member)
{
	size_t i;

	for (i = 0; i < seen->n; i++)
		if (strcmp(seen->v[i]->member_id, member) == 0 &&
		    seen->v[i]->status != MUSTER__ORDER_STATUS__ORDER_CANCELLED)
			return 1;
	return 0;
}

/* A chosen member for a slot. */
struct muster_pick {
	enum order_what what;
	const char *member_id;
	const char *agent;
	int department;
	const char *kind;
	double eta_s;
	int unit;	   /* roster index for units, else -1 */
	char *agent_owned; /* agent string built here, freed by the caller */
};

/* Chooses the member for the Nth place of SPEC, or returns -1 when there is none. */
static int
muster_pick(struct daemon *d, const struct mincident *mi, const struct plan_spec *s,
	    const struct muster_seen *seen, uint8_t *exclude, struct muster_pick *pk)
{
	struct roster *r = d->cfg->roster;
	size_t i;

	memset(pk, 0, sizeof *pk);
	pk->unit = -1;
	if (s->what == PLAN_UNIT) {
		const struct plan_class *c = plan_class(d->cfg->plans, s->kind);
		struct nearest_query q = {
		    .lat = mi->lat,
		    .lon = mi->lon,
		    .kind = s->kind,
		    .department = s->department,
		    .skills = (const char *const *)s->skills,
		    .n_skills = s->n_skills,
		    .speed_mps = c ? c->speed_mps : 10.0,
		    .road_factor = c ? c->road_factor : 1.3,
		    .now_ms = util_wall_ms(),
		    .stale_ms = d->cfg->unit_stale_ms,
		    .exclude = exclude,
		};
		struct nearest_hit hit;
		const struct unit *u;

		if (nearest_query(d->nearest, &q, 1, &hit) != 1)
			return -1;
		u = &r->units[hit.unit];
		pk->what = ORDER_UNIT;
		pk->member_id = u->id;
		pk->agent = u->agent;
		pk->department = u->department;
		pk->kind = u->kind;
		pk->eta_s = hit.eta_s;
		pk->unit = hit.unit;
		return 0;
	}
	if (s->what == PLAN_PERSON) {
		for (i = 0; i < r->n_people; i++) {
			const struct person *p = &r->people[i];

			if (strcmp(p->role, s->role) != 0 ||
			    (s->department >= 0 && p->department != s->department) ||
			    muster_member_used(seen, p->id))
				continue;
			pk->what = ORDER_PERSON;
			pk->member_id = p->id;
			pk->department = p->department;
			pk->kind = p->role;
			if (p->unit >= 0) {
				pk->agent = r->units[p->unit].agent;
			} else {
				pk->agent_owned =
				    xasprintf("agent:%s", r->departments[p->department].id);
				pk->agent = pk->agent_owned;
			}
			return 0;
		}
		return -1;
	}
	for (i = 0; i < r->n_experts; i++) {
		const struct expert *x = &r->experts[i];
		const struct place *street = geo_find(d->cfg->district, mi->street);
		int street_idx = street ? (int)(street - d->cfg->district->places) : -2;

		if (s->local ? x->street != street_idx
			     : (s->field && strcmp(s->field, "*") != 0 &&
				fnmatch(s->field, x->field, 0) != 0))
			continue;
		if ((s->department >= 0 && x->department != s->department) ||
		    muster_member_used(seen, x->id))
			continue;
		pk->what = ORDER_EXPERT;
		pk->member_id = x->id;
		pk->department = x->department;
		pk->kind = x->field;
		if (x->agent) {
			pk->agent = x->agent;
		} else {
			pk->agent_owned = xasprintf("agent:%s", r->departments[x->department].id);
			pk->agent = pk->agent_owned;
		}
		return 0;
	}
	return -1;
}

/* Describes a place that could not be filled. */
static json_t *
muster_missing(struct daemon *d, const struct plan_group *g, const struct plan_spec *s,
	       const char *slot)
{
	json_t *o = json_object();
	size_t i;

	json_object_set_new(o, "slot", json_string(slot));
	json_object_set_new(o, "group", json_string(g->name));
	json_object_set_new(o, "what", json_string(plan_spec_what(s)));
	json_object_set_new(o, "kind", json_string(plan_spec_kind(s)));
	json_object_set_new(
	    o, "department",
	    json_string(s->department >= 0 ? d->cfg->roster->departments[s->department].id : "*"));
	if (s->n_skills) {
		json_t *sk = json_array();

		for (i = 0; i < s->n_skills; i++)
			json_array_append_new(sk, json_string(s->skills[i]));
		json_object_set_new(o, "skills", sk);
	}
	return o;
}

/* Returns the slot key of MI's commander (the first place of the first group), or NULL. */
static char *
muster_commander_slot(struct daemon *d, const struct mincident *mi)
{
	const struct plan_tier *pt = muster_plan_tier(d, mi, NULL);

	if (pt == NULL || pt->n_groups == 0 || pt->groups[0].n_specs == 0)
		return NULL;
	return muster_slot_key(d, &pt->groups[0], &pt->groups[0].specs[0], 0);
}

static int muster_cancel(struct daemon *d, struct order *o, const char *actor, const char *reason);

/* A real incident MI takes unit U from the drills that hold it: their orders for U are
 * cancelled (their agents told, the timeline saying why) and the drill incidents are added
 * to *DRILLS, to be filled again once MI's own orders are made. */
static int
muster_preempt(struct daemon *d, const struct mincident *mi, struct unit *u, const char *actor,
	       uint64_t **drills, size_t *n_drills)
{
	char reason[96];
	size_t i, k;

	snprintf(reason, sizeof reason, "pre-empted: real incident #%" PRIu64 " needs %s", mi->id,
		 u->id);
	for (i = 0; i < orders_count(d->orders); i++) {
		struct order *o = orders_at(d->orders, i);
		json_t *b;

		if (!o->exercise || o->what != ORDER_UNIT || !order_holds(o) ||
		    strcmp(o->member_id, u->id) != 0)
			continue;
		b = json_object();
		json_object_set_new(b, "order", json_integer((json_int_t)o->id));
		json_object_set_new(b, "unit", json_string(u->id));
		json_object_set_new(b, "slot", json_string(o->slot));
		json_object_set_new(b, "real_incident", json_integer((json_int_t)mi->id));
		if (muster_cancel(d, o, actor, reason) != 0 ||
		    daemon_emit(d, actor, "drill.preempted", o->incident_id, 1, b) != 0)
			return -1;
		log_info("muster: drill order #%" PRIu64 " (%s, incident #%" PRIu64
			 ") cancelled: real incident #%" PRIu64 " needs the unit",
			 o->id, u->id, o->incident_id, mi->id);
		for (k = 0; k < *n_drills && (*drills)[k] != o->incident_id; k++)
			;
		if (k == *n_drills) {
			*drills = xrealloc(*drills, (*n_drills + 1) * sizeof **drills);
			(*drills)[(*n_drills)++] = o->incident_id;
		}
	}
	return 0;
}

/* Fills MI's vacant places; FIRST says this is the first assembly (one summary event). */
static int
muster_fill_incident(struct daemon *d, struct mincident *mi, const char *actor, int first)
{
	const struct plan *plan = NULL;
	const struct plan_tier *pt = muster_plan_tier(d, mi, &plan);
	struct roster *r = d->cfg->roster;
	struct muster_seen seen = {0};
	struct order **fresh = NULL;
	size_t n_fresh = 0, i, g, sp;
	uint8_t *exclude = muster_unavailable(d);
	struct muster_mark *marks = NULL;
	size_t n_marks = 0, n_drills = 0;
	uint64_t *drills = NULL; /* drill incidents that lost a unit to this one */
	json_t *missing = json_array(), *members = json_array();
	int64_t now = util_wall_ms();
	int rc = -1, n;

	if (store_load_orders(d->store, mi->id, &seen.v, &seen.n) != 0)
		goto out;
	/* A real incident takes precedence over drills: a unit held only by exercise orders
	 * (and on shift) may be picked; its drill orders are cancelled when it is. */
	if (!mi->exercise)
		for (i = 0; i < orders_count(d->orders); i++) {
			const struct order *o = orders_at(d->orders, i);
			struct unit *u;

			if (o->exercise && o->what == ORDER_UNIT && order_holds(o) &&
			    (u = roster_unit(r, o->member_id)) != NULL &&
			    u->held == u->held_drill && roster_on_shift(u, d->muster->hour))
				muster_unhold_mark(exclude, &marks, &n_marks,
						   (size_t)(u - r->units));
		}
	/* Held and off-shift units are marked already; add this incident's refusers. */
	for (i = 0; i < seen.n; i++) {
		struct unit *u;

		if (seen.v[i]->what == ORDER_UNIT &&
		    muster_member_used(&seen, seen.v[i]->member_id) &&
		    (u = roster_unit(r, seen.v[i]->member_id)) != NULL)
			muster_mark(exclude, &marks, &n_marks, (size_t)(u - r->units));
	}
	if (pt == NULL) {
		json_t *b = json_object();

		json_object_set_new(b, "reason",
				    json_string(plan ? "no plan for this tier" : "unknown type"));
		json_object_set_new(b, "type", json_string(mi->type));
		json_object_set_new(b, "tier", json_integer(mi->tier));
		json_decref(missing);
		json_decref(members);
		missing = members = NULL;
		rc = daemon_emit(d, actor, "muster.shortfall", mi->id, mi->exercise, b);
		goto out;
	}
	for (g = 0; g < pt->n_groups; g++) {
		const struct plan_group *grp = &pt->groups[g];

		for (sp = 0; sp < grp->n_specs; sp++) {
			const struct plan_spec *s = &grp->specs[sp];

			for (n = 0; n < s->count; n++) {
				char *slot = muster_slot_key(d, grp, s, n);
				struct muster_pick pk;
				struct order *o;
				json_t *b;

				if (muster_slot_filled(&seen, slot)) {
					free(slot);
					continue;
				}
				if (muster_pick(d, mi, s, &seen, exclude, &pk) != 0) {
					json_array_append_new(missing,
							      muster_missing(d, grp, s, slot));
					free(slot);
					continue;
				}
				if (pk.unit >= 0 && r->units[pk.unit].held_drill > 0 &&
				    muster_preempt(d, mi, &r->units[pk.unit], actor, &drills,
						   &n_drills) != 0) {
					free(slot);
					free(pk.agent_owned);
					goto out;
				}
				if (pk.unit >= 0)
					muster_mark(exclude, &marks, &n_marks, (size_t)pk.unit);
				o = xcalloc(1, sizeof *o);
				o->incident_id = mi->id;
				o->what = pk.what;
				o->member_id = xstrdup(pk.member_id);
				o->agent = xstrdup(pk.agent);
				o->slot = slot;
				o->group = xstrdup(grp->name);
				o->role = xstrdup(s->task ? s->task : pk.kind);
				o->department = xstrdup(r->departments[pk.department].id);
				o->kind = xstrdup(pk.kind);
				o->status = MUSTER__ORDER_STATUS__ORDER_PENDING;
				o->tier = mi->tier;
				o->exercise = mi->exercise;
				o->eta_s = pk.eta_s;
				o->ordered_ms = now;
				o->next_send_ms = now;
				o->receipt_deadline_ms = now + (int64_t)pt->receipt_s * 1000;
				o->accept_deadline_ms = now + (int64_t)pt->accept_s * 1000;
				if (pk.what == ORDER_UNIT) {
					const struct plan_class *c =
					    plan_class(d->cfg->plans, pk.kind);
					int ring = s->ring_s ? s->ring_s : c ? c->ring_s : 0;

					o->ring_deadline_ms = ring ? now + (int64_t)ring * 1000 : 0;
				}
				free(pk.agent_owned);
				if (store_insert_order(d->store, o) != 0) {
					order_free(o);
					goto out;
				}
				b = json_object();
				json_object_set_new(b, "order", json_integer((json_int_t)o->id));
				json_object_set_new(b, "member", json_string(o->member_id));
				json_object_set_new(b, "what",
						    json_string(o->what == ORDER_UNIT ? "unit"
								: o->what == ORDER_PERSON
								    ? "person"
								    : "expert"));
				json_object_set_new(b, "group", json_string(o->group));
				json_object_set_new(b, "role", json_string(o->role));
				json_object_set_new(b, "kind", json_string(o->kind));
				json_object_set_new(b, "department", json_string(o->department));
				json_object_set_new(b, "agent", json_string(o->agent));
				json_object_set_new(b, "slot", json_string(o->slot));
				if (s->what == PLAN_UNIT) {
					/* What was asked of the index: an audit can redo the
					 * choice. */
					json_t *q = muster_missing(d, grp, s, slot);

					json_object_del(q, "slot");
					json_object_del(q, "group");
					json_object_set_new(b, "query", q);
				}
				json_object_set_new(b, "eta_s", json_real(o->eta_s));
				json_object_set_new(b, "ring_deadline_ms",
						    json_integer(o->ring_deadline_ms));
				json_array_append(members, b);
				if (daemon_emit(d, actor, "order.created", mi->id, mi->exercise,
						b) != 0) {
					order_free(o);
					goto out;
				}
				fresh = xrealloc(fresh, (n_fresh + 1) * sizeof *fresh);
				fresh[n_fresh++] = o;
				/* The next places must not pick this member again. */
				seen.v = xrealloc(seen.v, (seen.n + 1) * sizeof *seen.v);
				seen.v[seen.n] = xcalloc(1, sizeof(struct order));
				seen.v[seen.n]->member_id = xstrdup(o->member_id);
				seen.v[seen.n]->slot = xstrdup(o->slot);
				seen.v[seen.n]->status = o->status;
				seen.n++;
			}
		}
	}
	if (json_array_size(missing) > 0) {
		json_t *b = json_object();

		json_object_set_new(b, "type", json_string(mi->type));
		json_object_set_new(b, "tier", json_integer(mi->tier));
		json_object_set_new(b, "missing", json_incref(missing));
		if (daemon_emit(d, actor, "muster.shortfall", mi->id, mi->exercise, b) != 0)
			goto out;
		log_warnx("muster: incident #%" PRIu64 ": %zu places could not be filled", mi->id,
			  json_array_size(missing));
	}
	if (first) {
		json_t *b = json_object();

		json_object_set_new(b, "type", json_string(mi->type));
		json_object_set_new(b, "plan", json_string(plan->name ? plan->name : plan->type));
		json_object_set_new(b, "tier", json_integer(mi->tier));
		json_object_set_new(b, "level", json_string(plan_level_name(pt->level)));
		json_object_set_new(b, "ordered", json_integer((json_int_t)n_fresh));
		json_object_set_new(b, "missing",
				    json_integer((json_int_t)json_array_size(missing)));
		if (daemon_emit(d, actor, "muster.assembled", mi->id, mi->exercise, b) != 0)
			goto out;
	}
	/* Everything is recorded: now the orders join the active set (holding their units) and
	 * go out. */
	muster_unmark(exclude, marks, &n_marks);
	for (i = 0; i < n_fresh; i++) {
		orders_add(d->orders, fresh[i]);
		muster_hold(d, fresh[i], +1);
	}
	if (n_fresh > 0 &&
	    store_load_orders(d->store, mi->id, &d->muster->group, &d->muster->n_group) == 0)
		d->muster->group_incident = mi->id;
	for (i = 0; i < n_fresh; i++) {
		if (order_send(d, fresh[i]) != 0) {
			/* The caller rolls the rows back; take the orders out of memory too. */
			size_t k;

			for (k = 0; k < n_fresh; k++) {
				fresh[k]->status = MUSTER__ORDER_STATUS__ORDER_CANCELLED;
				muster_hold(d, fresh[k], -1);
			}
			orders_prune(d->orders);
			n_fresh = 0;
			goto out;
		}
	}
	n_fresh = 0;
	log_info("muster: incident #%" PRIu64 " %s tier %d: %zu ordered, %zu missing", mi->id,
		 mi->type, mi->tier, json_array_size(members), json_array_size(missing));
	rc = 0;
out:
	for (i = 0; i < n_fresh; i++)
		order_free(fresh[i]);
	free(fresh);
	for (i = 0; i < seen.n; i++)
		order_free(seen.v[i]);
	free(seen.v);
	muster_unmark(exclude, marks, &n_marks);
	free(marks);
	if (d->muster->group_incident) {
		for (i = 0; i < d->muster->n_group; i++)
			order_free(d->muster->group[i]);
		free(d->muster->group);
		d->muster->group = NULL;
		d->muster->n_group = 0;
		d->muster->group_incident = 0;
	}
	/* The drills that gave up a unit fill its place with the next nearest (after this
	 * fill's group cache is gone: each fill makes its own). */
	for (i = 0; i < n_drills && rc == 0; i++)
		rc = muster_fill(d, drills[i], actor);
	free(drills);
	json_decref(missing);
	json_decref(members);
	return rc;
}

void
muster_hold(struct daemon *d, const struct order *o, int delta)
{
	struct muster *m = d->muster;
	struct roster *r = d->cfg->roster;
	struct unit *u;

	if (o->what != ORDER_UNIT || (u = roster_unit(r, o->member_id)) == NULL)
		return;
	u->held += delta;
	if (o->exercise)
		u->held_drill += delta;
	if (m->unavailable && m->n_unavailable == r->n_units)
		m->unavailable[u - r->units] = u->held > 0 || !roster_on_shift(u, m->hour);
}

int
muster_start(struct daemon *d, const Muster__Incident *inc, const char *actor)
{
	struct mincident *mi = muster_remember(d->muster, inc);

	if (muster_fill_incident(d, mi, actor, 1) != 0) {
		muster_forget(d->muster, inc->id);
		return -1;
	}
	return 0;
}

int
muster_fill(struct daemon *d, uint64_t id, const char *actor)
{
	struct mincident *mi = muster_find(d->muster, id);

	return mi ? muster_fill_incident(d, mi, actor, 0) : 0;
}

/* Cancels order O (its place is gone) and tells its agent. */
static int
muster_cancel(struct daemon *d, struct order *o, const char *actor, const char *reason)
{
	const uint8_t *rid;
	size_t rid_len;

	if (order_set_status(d, o, MUSTER__ORDER_STATUS__ORDER_CANCELLED, util_wall_ms(), actor,
			     reason) != 0)
		return -1;
	if (agents_route(d->agents, o->agent, &rid, &rid_len) == 0) {
		Envelope e;
		Muster__Cancel c;

		muster__envelope__init(&e);
		muster__cancel__init(&c);
		c.order_id = o->id;
		c.reason = (char *)reason;
		e.body_case = MUSTER__ENVELOPE__BODY_CANCEL;
		e.cancel = &c;
		e.exercise = o->exercise;
		daemon_send_agent(d, rid, rid_len, &e);
	}
	return 0;
}

int
muster_retier(struct daemon *d, uint64_t id, int tier, const char *actor)
{
	struct mincident *mi = muster_find(d->muster, id);
	const struct plan_tier *pt;
	size_t i, g, sp;
	int n;

	if (mi == NULL)
		return 0;
	mi->tier = tier;
	pt = muster_plan_tier(d, mi, NULL);
	for (i = 0; i < orders_count(d->orders); i++) {
		struct order *o = orders_at(d->orders, i);
		int keep = 0;

		if (o->incident_id != id || !order_holds(o))
			continue;
		for (g = 0; pt && !keep && g < pt->n_groups; g++)
			for (sp = 0; !keep && sp < pt->groups[g].n_specs; sp++)
				for (n = 0; !keep && n < pt->groups[g].specs[sp].count; n++) {
					char *k = muster_slot_key(d, &pt->groups[g],
								  &pt->groups[g].specs[sp], n);

					keep = strcmp(k, o->slot) == 0;
					free(k);
				}
		if (!keep && muster_cancel(d, o, actor, "released: the tier was lowered") != 0)
			return -1;
	}
	return muster_fill_incident(d, mi, actor, 0);
}

int
muster_stop(struct daemon *d, uint64_t id, const char *actor)
{
	size_t i;

	for (i = 0; i < orders_count(d->orders); i++) {
		struct order *o = orders_at(d->orders, i);

		if (o->incident_id == id && order_holds(o) &&
		    muster_cancel(d, o, actor, "the incident is closed") != 0)
			return -1;
	}
	muster_forget(d->muster, id);
	return 0;
}

int
muster_send_order(struct daemon *d, struct order *o)
{
	struct mincident *mi = muster_find(d->muster, o->incident_id);
	const struct plan_tier *pt = mi ? muster_plan_tier(d, mi, NULL) : NULL;
	char *cslot = mi ? muster_commander_slot(d, mi) : NULL;
	const char *commander = "";
	const uint8_t *rid;
	size_t rid_len, i, k = 0, n = 0;
	struct order **v = NULL;
	Envelope e;
	Muster__Order msg;
	Muster__Location loc;
	Muster__Coordinates co;
	Muster__GroupMember *gm, **gmv;
	int rc = 0;

	if (mi == NULL || agents_route(d->agents, o->agent, &rid, &rid_len) != 0) {
		free(cslot);
		return 0;
	}
	/* The group and the commander from the incident's own orders (an indexed read, or the
	 * one a fill made for all its sends), so a send costs the same however many other
	 * incidents are open. */
	if (d->muster->group_incident == o->incident_id) {
		v = d->muster->group;
		n = d->muster->n_group;
	} else if (store_load_orders(d->store, o->incident_id, &v, &n) != 0) {
		free(cslot);
		return -1;
	}
	gm = xcalloc(n + 1, sizeof *gm);
	gmv = xcalloc(n + 1, sizeof *gmv);
	for (i = 0; i < n; i++) {
		struct order *x = v[i];

		if (!order_holds(x))
			continue;
		if (cslot && strcmp(x->slot, cslot) == 0)
			commander = x->member_id;
		if (strcmp(x->group, o->group) != 0)
			continue;
		muster__group_member__init(&gm[k]);
		gm[k].unit_id = x->member_id;
		gm[k].role = x->role;
		gm[k].group = x->group;
		gm[k].department = x->department;
		gmv[k] = &gm[k];
		k++;
	}
	muster__envelope__init(&e);
	muster__order__init(&msg);
	muster__location__init(&loc);
	muster__coordinates__init(&co);
	co.lat = mi->lat;
	co.lon = mi->lon;
	loc.place = mi->place;
	loc.coords = &co;
	loc.street = mi->street;
	loc.community = mi->community;
	loc.grid = mi->grid;
	msg.order_id = o->id;
	msg.incident_id = o->incident_id;
	msg.unit_id = o->member_id;
	msg.role = o->role;
	msg.group = o->group;
	msg.commander = (char *)commander;
	msg.summary = mi->summary;
	msg.location = &loc;
	msg.receipt_deadline_ms = o->receipt_deadline_ms;
	msg.ring_deadline_ms = o->ring_deadline_ms;
	msg.notes = pt ? pt->notes : NULL;
	msg.n_notes = pt ? pt->n_notes : 0;
	msg.members = gmv;
	msg.n_members = k;
	msg.attempt = o->attempt;
	msg.tier = (uint32_t)o->tier;
	e.body_case = MUSTER__ENVELOPE__BODY_ORDER;
	e.order = &msg;
	e.exercise = o->exercise;
	daemon_send_agent(d, rid, rid_len, &e);
	free(gm);
	free(gmv);
	if (v != d->muster->group) {
		for (i = 0; i < n; i++)
			order_free(v[i]);
		free(v);
	}
	free(cslot);
	return rc;
}

int
muster_notify_department(struct daemon *d, const char *department, uint64_t incident_id,
			 int exercise, const char *kind, uint64_t order_id, const char *member,
			 const char *text)
{
	struct roster *r = d->cfg->roster;
	int dept = roster_department(r, department);
	const char *sup =
	    dept >= 0 && r->departments[dept].supervisor ? r->departments[dept].supervisor : "";
	const uint8_t *rid;
	size_t rid_len;
	json_t *b = json_object();

	json_object_set_new(b, "to", json_string(sup));
	json_object_set_new(b, "kind", json_string(kind));
	if (order_id)
		json_object_set_new(b, "order", json_integer((json_int_t)order_id));
	if (member)
		json_object_set_new(b, "member", json_string(member));
	json_object_set_new(b, "department", json_string(department));
	json_object_set_new(b, "text", json_string(text));
	if (daemon_emit(d, "musterd", "supervisor.notice", incident_id, exercise, b) != 0)
		return -1;
	if (sup[0] && agents_route(d->agents, sup, &rid, &rid_len) == 0) {
		Envelope e;
		Muster__Notice nt;

		muster__envelope__init(&e);
		muster__notice__init(&nt);
		nt.kind = (char *)kind;
		nt.incident_id = incident_id;
		nt.order_id = order_id;
		nt.member_id = (char *)(member ? member : "");
		nt.text = (char *)text;
		e.body_case = MUSTER__ENVELOPE__BODY_NOTICE;
		e.notice = &nt;
		e.exercise = exercise;
		daemon_send_agent(d, rid, rid_len, &e);
	}
	return 0;
}

int
muster_notify(struct daemon *d, const struct order *o, const char *kind, const char *text)
{
	return muster_notify_department(d, o->department, o->incident_id, o->exercise, kind, o->id,
					o->member_id, text);
}

int
muster_load(struct daemon *d)
{
	Muster__Incident **v = NULL;
	struct order **ov = NULL;
	size_t n = 0, i;
	uint64_t after = 0;
	int more = 1;

	while (more) {
		if (store_list_incidents(d->store, 0, after, 1000, &v, &n, &more) != 0)
			return -1;
		for (i = 0; i < n; i++) {
			muster_remember(d->muster, v[i]);
			after = v[i]->id;
		}
		store_free_incidents(v, n);
	}
	if (store_load_orders(d->store, 0, &ov, &n) != 0)
		return -1;
	for (i = 0; i < d->cfg->roster->n_units; i++)
		d->cfg->roster->units[i].held = d->cfg->roster->units[i].held_drill = 0;
	d->muster->hour = -1;
	for (i = 0; i < n; i++) {
		muster_hold(d, ov[i], +1);
		/* After a restart every unconfirmed order goes out again as soon as its agent
		 * registers (order_agent_back) or the next tick finds it due. */
		if (ov[i]->status == MUSTER__ORDER_STATUS__ORDER_PENDING ||
		    ov[i]->status == MUSTER__ORDER_STATUS__ORDER_SENT)
			ov[i]->next_send_ms = util_wall_ms();
		orders_add(d->orders, ov[i]);
	}
	free(ov);
	/* Said at start; a resync after a storage failure (the bus is up by then) only says it at
	 * debug level, since the daemon logs the fault itself. */
	if (d->bus == NULL)
		log_info("muster: %zu open incidents, %zu active orders", d->muster->n, n);
	else
		log_debug("muster: %zu open incidents, %zu active orders", d->muster->n, n);
	return 0;
}

void
muster_roster_changed(struct daemon *d)
{
	d->muster->hour = -1; /* the unavailable array is rebuilt on the next fill */
	nearest_free(d->nearest);
	d->nearest = nearest_new(d->cfg->roster);
}

void
muster_unit_moved(struct daemon *d, int unit)
{
	nearest_moved(d->nearest, unit);
}

int
muster_members(struct daemon *d, uint64_t id, Muster__Member ***out, size_t *n)
{
	struct order **v = NULL;
	size_t k = 0, i;
	Muster__Member **m;

	*out = NULL;
	*n = 0;
	if (store_load_orders(d->store, id, &v, &k) != 0)
		return -1;
	m = xcalloc(k ? k : 1, sizeof *m);
	for (i = 0; i < k; i++) {
		struct order *o = v[i];
		Muster__Member *x = xmalloc(sizeof *x);

		muster__member__init(x);
		x->member_id = xstrdup(o->member_id);
		x->what = xstrdup(o->what == ORDER_UNIT	    ? "unit"
				  : o->what == ORDER_PERSON ? "person"
							    : "expert");
		x->group = xstrdup(o->group);
		x->role = xstrdup(o->role);
		x->department = xstrdup(o->department);
		x->agent = xstrdup(o->agent);
		x->kind = xstrdup(o->kind);
		x->order_id = o->id;
		x->status = (Muster__OrderStatus)o->status;
		x->attempt = o->attempt;
		x->ordered_at_ms = o->ordered_ms;
		x->sent_at_ms = o->sent_ms;
		x->received_at_ms = o->received_ms;
		x->accepted_at_ms = o->accepted_ms;
		x->en_route_at_ms = o->en_route_ms;
		x->on_scene_at_ms = o->on_scene_ms;
		x->cleared_at_ms = o->cleared_ms;
		x->ring_deadline_ms = o->ring_deadline_ms;
		x->eta_s = o->eta_s;
		x->delay_reason = (Muster__DelayReason)o->delay_reason;
		m[i] = x;
		order_free(o);
	}
	free(v);
	*out = m;
	*n = k;
	return 0;
}

void
muster_free_members(Muster__Member **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i]->member_id);
		free(v[i]->what);
		free(v[i]->group);
		free(v[i]->role);
		free(v[i]->department);
		free(v[i]->agent);
		free(v[i]->kind);
		free(v[i]);
	}
	free(v);
}
