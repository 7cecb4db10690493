/* incident: an incident is opened by an operator's report, can be updated while open, and
 * closed with a reason; every step is a timeline event. Validation happens before any
 * change, so a refused request changes nothing. */
#include "incident.h"
#include "daemon.h"
#include "geo.h"
#include "log.h"
#include "muster.h"
#include "order.h"
#include "plan.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INCIDENT_TEXT_MAX 4000
#define INCIDENT_NAME_MAX 200
#define INCIDENT_COUNT_MAX 10000000
#define INCIDENT_LIST_DEFAULT 100
#define INCIDENT_LIST_MAX 1000

const char *
incident_state_name(int state)
{
	switch (state) {
	case MUSTER__INCIDENT_STATE__INCIDENT_OPEN:
		return "open";
	case MUSTER__INCIDENT_STATE__INCIDENT_CLOSED:
		return "closed";
	case MUSTER__INCIDENT_STATE__INCIDENT_LINKED:
		return "linked";
	default:
		return "unknown";
	}
}

json_t *
incident_to_json(const Muster__Incident *inc)
{
	json_t *o = json_object(), *loc = json_object();
	const Muster__Location *l = inc->location;

	json_object_set_new(o, "id", json_integer((json_int_t)inc->id));
	json_object_set_new(o, "type", json_string(inc->type ? inc->type : ""));
	json_object_set_new(o, "state", json_string(incident_state_name(inc->state)));
	json_object_set_new(o, "tier", json_integer(inc->tier));
	if (l) {
		json_object_set_new(loc, "place", json_string(l->place ? l->place : ""));
		if (l->coords) {
			json_object_set_new(loc, "lat", json_real(l->coords->lat));
			json_object_set_new(loc, "lon", json_real(l->coords->lon));
		}
		json_object_set_new(loc, "street", json_string(l->street ? l->street : ""));
		json_object_set_new(loc, "community",
				    json_string(l->community ? l->community : ""));
		json_object_set_new(loc, "grid", json_string(l->grid ? l->grid : ""));
		json_object_set_new(loc, "key_place",
				    json_string(l->key_place ? l->key_place : ""));
	}
	json_object_set_new(o, "location", loc);
	json_object_set_new(o, "description",
			    json_string(inc->description ? inc->description : ""));
	json_object_set_new(o, "casualties", json_integer(inc->casualties));
	json_object_set_new(o, "people_affected", json_integer(inc->people_affected));
	json_object_set_new(o, "hazmat", json_boolean(inc->hazmat));
	json_object_set_new(o, "reporter", json_string(inc->reporter ? inc->reporter : ""));
	json_object_set_new(o, "received_at_ms", json_integer(inc->received_at_ms));
	json_object_set_new(o, "updated_at_ms", json_integer(inc->updated_at_ms));
	json_object_set_new(o, "closed_at_ms", json_integer(inc->closed_at_ms));
	json_object_set_new(o, "close_reason",
			    json_string(inc->close_reason ? inc->close_reason : ""));
	json_object_set_new(o, "exercise", json_boolean(inc->exercise));
	json_object_set_new(o, "opened_by", json_string(inc->opened_by ? inc->opened_by : ""));
	json_object_set_new(o, "building", json_string(inc->building ? inc->building : ""));
	json_object_set_new(o, "tier_reason",
			    json_string(inc->tier_reason ? inc->tier_reason : ""));
	json_object_set_new(o, "owner", json_string(inc->owner ? inc->owner : ""));
	json_object_set_new(o, "level", json_string(inc->level ? inc->level : ""));
	if (inc->linked_to)
		json_object_set_new(o, "linked_to", json_integer((json_int_t)inc->linked_to));
	if (inc->n_members) {
		json_t *ms = json_array();
		size_t i;

		for (i = 0; i < inc->n_members; i++) {
			const Muster__Member *m = inc->members[i];
			json_t *x = json_object();

			json_object_set_new(x, "member", json_string(m->member_id));
			json_object_set_new(x, "what", json_string(m->what));
			json_object_set_new(x, "group", json_string(m->group));
			json_object_set_new(x, "role", json_string(m->role));
			json_object_set_new(x, "kind", json_string(m->kind));
			json_object_set_new(x, "department", json_string(m->department));
			json_object_set_new(x, "agent", json_string(m->agent));
			json_object_set_new(x, "order", json_integer((json_int_t)m->order_id));
			json_object_set_new(x, "status", json_string(order_status_name(m->status)));
			json_object_set_new(x, "attempt", json_integer(m->attempt));
			json_object_set_new(x, "eta_s", json_real(m->eta_s));
			json_object_set_new(x, "ordered_at_ms", json_integer(m->ordered_at_ms));
			json_object_set_new(x, "sent_at_ms", json_integer(m->sent_at_ms));
			json_object_set_new(x, "received_at_ms", json_integer(m->received_at_ms));
			json_object_set_new(x, "accepted_at_ms", json_integer(m->accepted_at_ms));
			json_object_set_new(x, "en_route_at_ms", json_integer(m->en_route_at_ms));
			json_object_set_new(x, "on_scene_at_ms", json_integer(m->on_scene_at_ms));
			json_object_set_new(x, "cleared_at_ms", json_integer(m->cleared_at_ms));
			json_object_set_new(x, "ring_deadline_ms",
					    json_integer(m->ring_deadline_ms));
			json_array_append_new(ms, x);
		}
		json_object_set_new(o, "members", ms);
	}
	return o;
}

/* Returns 1 when S is a valid incident type: 1..64 of [a-z0-9._-]. */
static int
incident_valid_type(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++, n++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '.' ||
		      *s == '_' || *s == '-'))
			return 0;
	return n <= 64;
}

/* Returns 1 when the coordinates are finite and on the globe. */
static int
incident_valid_coords(double lat, double lon)
{
	return isfinite(lat) && isfinite(lon) && lat >= -90 && lat <= 90 && lon >= -180 &&
	       lon <= 180;
}

/* Returns the local hour (0..23) of wall-clock time MS, for time-of-day tier rules. */
static int
incident_local_hour(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	return localtime_r(&t, &tm) ? tm.tm_hour : 0;
}

/* Fills the street, community, grid and key place of L (strings borrowed from the district)
 * from place P. */
static void
incident_fill_places(const struct district *dist, const struct place *p, Muster__Location *l)
{
	const struct place *street = NULL, *community = NULL, *grid = NULL;

	geo_enclosing(dist, p, &street, &community, &grid);
	l->street = street ? street->id : "";
	l->community = community ? community->id : "";
	l->grid = grid ? grid->id : "";
	l->key_place = p->kind == PLACE_KEY ? p->id : "";
}

/* Records that INC was linked by ACTOR to the open incident it duplicates, DIST_M away. */
static int
incident_emit_link(struct request *r, const Muster__Incident *inc, const char *actor, double dist_m)
{
	json_t *b = json_object();

	json_object_set_new(b, "id", json_integer((json_int_t)inc->id));
	json_object_set_new(b, "to", json_integer((json_int_t)inc->linked_to));
	json_object_set_new(b, "distance_m", json_real(dist_m));
	log_info("incident: #%llu linked to #%llu (%.0f m away)", (unsigned long long)inc->id,
		 (unsigned long long)inc->linked_to, dist_m);
	return daemon_emit(r->d, actor, "incident.linked", inc->id, inc->exercise, b);
}

/* Where a duplicate search stands. */
struct incident_dup {
	double lat, lon, radius_m;
	uint64_t best;
	double best_m;
};

/* Keeps the nearest candidate within the radius. */
static void
incident_dup_cb(uint64_t id, double lat, double lon, void *arg)
{
	struct incident_dup *q = arg;
	double m = geo_distance_m(q->lat, q->lon, lat, lon);

	if (m <= q->radius_m && (q->best == 0 || m < q->best_m)) {
		q->best = id;
		q->best_m = m;
	}
}

/* Returns the id of the open incident of TYPE nearest to (LAT, LON) within the plans'
 * duplicate radius and received within their window, or 0; *DIST_M its distance. Only an
 * incident of the same kind (exercise or real) counts: a real report is never linked to a
 * drill's incident, nor the other way round. The store narrows by type, time and a box
 * around the point; the exact distance decides. */
static uint64_t
incident_find_duplicate(struct request *r, const char *type, double lat, double lon, int64_t now,
			int exercise, double *dist_m)
{
	const struct plans *p = r->d->cfg->plans;
	struct incident_dup q = {lat, lon, p->dedup_radius_m, 0, 0};
	double dlat, dlon, c;

	*dist_m = 0;
	if (p->dedup_radius_m <= 0 || p->dedup_window_s <= 0)
		return 0;
	/* A box that surely holds the circle: 1 degree of latitude is at least 110.5 km. */
	dlat = p->dedup_radius_m / 110500.0;
	c = cos(lat * M_PI / 180.0);
	dlon = c > 0.01 ? dlat / c : 360.0;
	if (store_nearby_incidents(r->d->store, type, now - (int64_t)p->dedup_window_s * 1000,
				   exercise, lat - dlat, lat + dlat, lon - dlon, lon + dlon,
				   incident_dup_cb, &q) != 0)
		return 0;
	*dist_m = q.best_m;
	return q.best;
}

/* Checks report S before any change: type and plan, tier, texts, counts, and the place or
 * coordinates. Sets *PLAN and *PLACE (the place named, else the grid or community nearest to
 * the coordinates; NULL when there is none). Returns 0, or an error code (request_fail). */
static int
incident_validate(struct request *r, const Muster__SubmitIncident *s, const struct plan **plan,
		  const struct place **place)
{
	const struct district *dist = r->d->cfg->district;
	const struct place *p = NULL;

	*plan = NULL;
	*place = NULL;
	if (!incident_valid_type(s->type))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "type",
				    "incident type must be 1 to 64 of a-z 0-9 . _ - (e.g. "
				    "\"fire.ebike\")");
	*plan = plan_find(r->d->cfg->plans, s->type);
	if (*plan == NULL)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "type",
				    "unknown incident type '%.64s' (no response plan for it)",
				    s->type);
	if (s->tier > 3)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "tier",
				    "tier must be 1 (I), 2 (II) or 3 (III)");
	if (s->tier && (s->tier_reason == NULL || s->tier_reason[0] == '\0'))
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "tier_reason",
				    "overriding the tier needs a reason");
	if (s->building && strlen(s->building) > INCIDENT_NAME_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "building",
				    "building longer than %d bytes", INCIDENT_NAME_MAX);
	if (s->location == NULL || ((s->location->place == NULL || s->location->place[0] == '\0') &&
				    s->location->coords == NULL))
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "location",
				    "a place or coordinates are required");
	if (s->casualties < 0 || s->casualties > INCIDENT_COUNT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "casualties",
				    "casualties must be between 0 and %d", INCIDENT_COUNT_MAX);
	if (s->people_affected < 0 || s->people_affected > INCIDENT_COUNT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "people_affected",
				    "people affected must be between 0 and %d", INCIDENT_COUNT_MAX);
	if (s->description && strlen(s->description) > INCIDENT_TEXT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "description",
				    "description longer than %d bytes", INCIDENT_TEXT_MAX);
	if (s->reporter && strlen(s->reporter) > INCIDENT_NAME_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "reporter",
				    "reporter longer than %d bytes", INCIDENT_NAME_MAX);
	if (s->location->place && s->location->place[0]) {
		p = geo_find(dist, s->location->place);
		if (p == NULL)
			return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT,
					    "location.place", "unknown place '%.100s'",
					    s->location->place);
	}
	if (s->location->coords) {
		double lat = s->location->coords->lat, lon = s->location->coords->lon;

		if (!incident_valid_coords(lat, lon))
			return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT,
					    "location.coords",
					    "coordinates must be latitude -90..90 and longitude "
					    "-180..180");
		if (!geo_in_district(dist, lat, lon))
			return request_fail(
			    r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "location.coords",
			    "coordinates (%.6f, %.6f) are outside the district", lat, lon);
		if (p == NULL) {
			p = geo_nearest(dist, lat, lon, PLACE_GRID);
			if (p == NULL)
				p = geo_nearest(dist, lat, lon, PLACE_COMMUNITY);
		}
	}
	*place = p;
	return 0;
}

int
incident_check(struct request *r, const Muster__SubmitIncident *s)
{
	const struct plan *plan;
	const struct place *p;

	return incident_validate(r, s, &plan, &p);
}

/* A new incident (an EXERCISE one when set) would be mustered: returns RESOURCE_EXHAUSTED when
 * max_open_incidents forbids it. Drill incidents count against the limit with the real ones;
 * a real incident is refused only when real incidents alone reach it, so that drills never
 * crowd out the real work (docs/operations.md, "Resources"). */
static int
incident_limit(struct request *r, int exercise)
{
	struct daemon *d = r->d;
	size_t drills, open = muster_open_count(d->muster, &drills);
	size_t limit = (size_t)d->cfg->max_open_incidents;

	if (limit == 0 || (exercise ? open : open - drills) < limit)
		return 0;
	d->refused_at_limit++;
	if (exercise)
		return request_fail(r, MUSTER__ERROR_CODE__RESOURCE_EXHAUSTED, NULL,
				    "%zu incidents are open (%zu of them drills) and "
				    "max_open_incidents is %zu: the drill incident was not opened; "
				    "nothing was changed",
				    open, drills, limit);
	return request_fail(
	    r, MUSTER__ERROR_CODE__RESOURCE_EXHAUSTED, NULL,
	    "%zu real incidents are open and max_open_incidents is %zu: nothing was "
	    "changed; close finished incidents or raise the limit (SIGHUP)",
	    open - drills, limit);
}

/* Opens an incident from report S by ACTOR (an exercise one when EXERCISE) in the current unit
 * of work; replies with it when REPLY. Returns 0 with *ID, or an error code. */
static int
incident_open_as(struct request *r, const Muster__SubmitIncident *s, int exercise,
		 const char *actor, int reply, uint64_t *id)
{
	const struct district *dist = r->d->cfg->district;
	const struct place *p = NULL;
	Muster__Incident inc;
	Muster__Location loc;
	Muster__Coordinates coords;
	Envelope env;
	Muster__IncidentReply ir;
	int64_t now = util_wall_ms();
	const struct plan *plan;
	const struct plan_rule *rule = NULL;
	char *why = NULL;
	int code;

	if ((code = incident_validate(r, s, &plan, &p)) != 0)
		return code;
	muster__incident__init(&inc);
	muster__location__init(&loc);
	muster__coordinates__init(&coords);
	if (s->location->coords) {
		coords.lat = s->location->coords->lat;
		coords.lon = s->location->coords->lon;
	} else {
		coords.lat = p->lat;
		coords.lon = p->lon;
	}
	loc.coords = &coords;
	loc.place = p ? p->id : "";
	if (p)
		incident_fill_places(dist, p, &loc);
	else
		loc.street = loc.community = loc.grid = loc.key_place = "";

	inc.type = s->type;
	inc.state = MUSTER__INCIDENT_STATE__INCIDENT_OPEN;
	inc.location = &loc;
	inc.description = s->description ? s->description : "";
	inc.casualties = s->casualties;
	inc.people_affected = s->people_affected;
	inc.hazmat = s->hazmat;
	inc.reporter = s->reporter ? s->reporter : "";
	inc.received_at_ms = now;
	inc.updated_at_ms = now;
	inc.close_reason = "";
	inc.exercise = exercise != 0;
	inc.opened_by = (char *)actor;
	inc.building = s->building ? s->building : "";
	inc.owner = r->d->cfg->roster->departments[plan->owner].id;
	if (s->tier) {
		inc.tier = s->tier;
		why = xasprintf("operator: %s", s->tier_reason);
	} else {
		struct plan_facts f = {
		    .type = s->type,
		    .casualties = s->casualties,
		    .people_affected = s->people_affected,
		    .hazmat = s->hazmat,
		    .key_place = loc.key_place && loc.key_place[0],
		    .building = s->building,
		    .hour = incident_local_hour(now),
		};

		inc.tier = (uint32_t)plan_decide_tier(r->d->cfg->plans, &f, &rule);
		why = xstrdup(rule ? (rule->why ? rule->why : "tier rule")
				   : "no rule matched: general (III)");
	}
	inc.tier_reason = why;
	inc.level = plan->tiers[inc.tier - 1]
			? (char *)plan_level_name(plan->tiers[inc.tier - 1]->level)
			: "";
	/* The same thing reported again nearby: link it instead of mustering a second group. */
	{
		double dup_m = 0;

		inc.linked_to = incident_find_duplicate(r, inc.type, coords.lat, coords.lon, now,
							inc.exercise, &dup_m);
		if (inc.linked_to)
			inc.state = MUSTER__INCIDENT_STATE__INCIDENT_LINKED;
		else if ((code = incident_limit(r, inc.exercise)) != 0) {
			free(why);
			return code;
		}
		if (store_insert_incident(r->d->store, &inc) != 0 ||
		    daemon_emit(r->d, actor, "incident.opened", inc.id, inc.exercise,
				incident_to_json(&inc)) != 0 ||
		    (inc.linked_to ? incident_emit_link(r, &inc, actor, dup_m)
				   : muster_start(r->d, &inc, actor)) != 0) {
			free(why);
			return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					    "could not record the incident; nothing was changed");
		}
	}
	log_info("incident: #%llu %s at %s opened by %s", (unsigned long long)inc.id, inc.type,
		 loc.place, actor);
	if (reply) {
		muster__envelope__init(&env);
		muster__incident_reply__init(&ir);
		ir.incident = &inc;
		env.body_case = MUSTER__ENVELOPE__BODY_INCIDENT_REPLY;
		env.incident_reply = &ir;
		daemon_reply(r, &env);
	}
	*id = inc.id;
	free(why);
	return 0;
}

int
incident_submit(struct request *r)
{
	uint64_t id;

	return incident_open_as(r, r->env->submit_incident, r->env->exercise, r->client->id, 1,
				&id);
}

int
incident_open(struct request *r, const Muster__SubmitIncident *s, int exercise, const char *actor,
	      uint64_t *id)
{
	return incident_open_as(r, s, exercise, actor, 0, id);
}

/* Loads incident ID for a change: it must exist and be open. */
static int
incident_load_open(struct request *r, uint64_t id, Muster__Incident **out)
{
	int rc = store_get_incident(r->d->store, id, out);

	if (rc < 0)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not read the incident");
	if (rc == 0)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "id", "no incident #%llu",
				    (unsigned long long)id);
	if ((*out)->state != MUSTER__INCIDENT_STATE__INCIDENT_OPEN) {
		int state = (*out)->state;

		store_free_incident(*out);
		*out = NULL;
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "id",
				    "incident #%llu is %s%s", (unsigned long long)id,
				    incident_state_name(state),
				    state == MUSTER__INCIDENT_STATE__INCIDENT_LINKED
					? " (a duplicate report: unlink it first)"
					: "");
	}
	return 0;
}

/* Queues an IncidentReply carrying INC. */
static void
incident_reply(struct request *r, Muster__Incident *inc)
{
	Envelope reply;
	Muster__IncidentReply ir;

	muster__envelope__init(&reply);
	muster__incident_reply__init(&ir);
	ir.incident = inc;
	reply.body_case = MUSTER__ENVELOPE__BODY_INCIDENT_REPLY;
	reply.incident_reply = &ir;
	daemon_reply(r, &reply);
}

/* Writes INC and its event KIND with BODY; replies with INC. Frees INC. */
static int
incident_commit_change(struct request *r, Muster__Incident *inc, const char *kind, json_t *body)
{
	int code = 0;

	inc->updated_at_ms = util_wall_ms();
	if (store_update_incident(r->d->store, inc) != 0 ||
	    daemon_emit(r->d, r->client->id, kind, inc->id, inc->exercise, body) != 0)
		code = request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the change; nothing was changed");
	else
		incident_reply(r, inc);
	store_free_incident(inc);
	return code;
}

int
incident_update(struct request *r)
{
	const Muster__UpdateIncident *u = r->env->update_incident;
	Muster__Incident *inc = NULL;
	json_t *body;
	int code;

	if (u->has_casualties && (u->casualties < 0 || u->casualties > INCIDENT_COUNT_MAX))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "casualties",
				    "casualties must be between 0 and %d", INCIDENT_COUNT_MAX);
	if (u->has_people_affected &&
	    (u->people_affected < 0 || u->people_affected > INCIDENT_COUNT_MAX))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "people_affected",
				    "people affected must be between 0 and %d", INCIDENT_COUNT_MAX);
	if ((u->description && strlen(u->description) > INCIDENT_TEXT_MAX) ||
	    (u->note && strlen(u->note) > INCIDENT_TEXT_MAX))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "description",
				    "text longer than %d bytes", INCIDENT_TEXT_MAX);
	if (!(u->description && u->description[0]) && !u->has_casualties &&
	    !u->has_people_affected && !(u->note && u->note[0]))
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, NULL, "nothing to update");
	if ((code = incident_load_open(r, u->id, &inc)) != 0)
		return code;
	body = json_object();
	json_object_set_new(body, "id", json_integer((json_int_t)inc->id));
	if (u->description && u->description[0]) {
		free(inc->description);
		inc->description = xstrdup(u->description);
		json_object_set_new(body, "description", json_string(u->description));
	}
	if (u->has_casualties) {
		inc->casualties = u->casualties;
		json_object_set_new(body, "casualties", json_integer(u->casualties));
	}
	if (u->has_people_affected) {
		inc->people_affected = u->people_affected;
		json_object_set_new(body, "people_affected", json_integer(u->people_affected));
	}
	if (u->note && u->note[0])
		json_object_set_new(body, "note", json_string(u->note));
	return incident_commit_change(r, inc, "incident.updated", body);
}

/* Closes INC (open, loaded) by ACTOR with REASON: releases its group, then writes it and its
 * event. Returns 0, or -1 when storage failed. */
static int
incident_end(struct daemon *d, Muster__Incident *inc, const char *actor, const char *reason)
{
	json_t *body;

	inc->state = MUSTER__INCIDENT_STATE__INCIDENT_CLOSED;
	inc->closed_at_ms = util_wall_ms();
	inc->updated_at_ms = inc->closed_at_ms;
	free(inc->close_reason);
	inc->close_reason = xstrdup(reason);
	if (muster_stop(d, inc->id, actor) != 0 || store_update_incident(d->store, inc) != 0)
		return -1;
	body = json_object();
	json_object_set_new(body, "id", json_integer((json_int_t)inc->id));
	json_object_set_new(body, "reason", json_string(reason));
	return daemon_emit(d, actor, "incident.closed", inc->id, inc->exercise, body);
}

int
incident_close(struct request *r)
{
	const Muster__CloseIncident *c = r->env->close_incident;
	Muster__Incident *inc = NULL;
	int code;

	if (c->reason == NULL || c->reason[0] == '\0')
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "reason",
				    "closing an incident needs a reason");
	if (strlen(c->reason) > INCIDENT_TEXT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "reason",
				    "reason longer than %d bytes", INCIDENT_TEXT_MAX);
	if ((code = incident_load_open(r, c->id, &inc)) != 0)
		return code;
	if (incident_end(r->d, inc, r->client->id, c->reason) != 0)
		code = request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not close the incident; nothing was changed");
	else
		incident_reply(r, inc);
	store_free_incident(inc);
	return code;
}

int
incident_close_as(struct daemon *d, uint64_t id, const char *actor, const char *reason)
{
	Muster__Incident *inc = NULL;
	int rc = store_get_incident(d->store, id, &inc);

	if (rc < 0)
		return -1;
	if (rc == 0 || inc->state != MUSTER__INCIDENT_STATE__INCIDENT_OPEN) {
		store_free_incident(inc);
		return 1;
	}
	rc = incident_end(d, inc, actor, reason);
	store_free_incident(inc);
	return rc;
}

int
incident_get(struct request *r)
{
	Muster__Incident *inc = NULL;
	int rc = store_get_incident(r->d->store, r->env->get_incident->id, &inc);

	if (rc < 0)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not read the incident");
	if (rc == 0)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "id", "no incident #%llu",
				    (unsigned long long)r->env->get_incident->id);
	if (muster_members(r->d, inc->id, &inc->members, &inc->n_members) != 0) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not read the group");
	}
	incident_reply(r, inc);
	muster_free_members(inc->members, inc->n_members);
	inc->members = NULL;
	inc->n_members = 0;
	store_free_incident(inc);
	return 0;
}

int
incident_list(struct request *r)
{
	const Muster__ListIncidents *l = r->env->list_incidents;
	unsigned limit = l->limit ? l->limit : INCIDENT_LIST_DEFAULT;
	Muster__Incident **v = NULL;
	size_t n = 0;
	int more = 0;
	Envelope reply;
	Muster__IncidentList il;

	if (limit > INCIDENT_LIST_MAX)
		limit = INCIDENT_LIST_MAX;
	if (store_list_incidents(r->d->store, l->include_closed, l->after_id, limit, &v, &n,
				 &more) != 0)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not read the incidents");
	muster__envelope__init(&reply);
	muster__incident_list__init(&il);
	il.incidents = v;
	il.n_incidents = n;
	il.more = more;
	reply.body_case = MUSTER__ENVELOPE__BODY_INCIDENT_LIST;
	reply.incident_list = &il;
	daemon_reply(r, &reply);
	store_free_incidents(v, n);
	return 0;
}

int
incident_set_tier(struct request *r)
{
	const Muster__SetTier *t = r->env->set_tier;
	Muster__Incident *inc = NULL;
	const struct plan *plan;
	json_t *body;
	uint32_t from;
	int code;

	if (t->tier < 1 || t->tier > 3)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "tier",
				    "tier must be 1 (I), 2 (II) or 3 (III)");
	if (t->reason == NULL || t->reason[0] == '\0')
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "reason",
				    "changing the tier needs a reason");
	if (strlen(t->reason) > INCIDENT_TEXT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "reason",
				    "reason longer than %d bytes", INCIDENT_TEXT_MAX);
	if ((code = incident_load_open(r, t->id, &inc)) != 0)
		return code;
	if (inc->tier == t->tier) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "tier",
				    "incident #%llu is already tier %u", (unsigned long long)t->id,
				    t->tier);
	}
	plan = plan_find(r->d->cfg->plans, inc->type);
	from = inc->tier;
	inc->tier = t->tier;
	free(inc->tier_reason);
	inc->tier_reason = xasprintf("operator: %s", t->reason);
	free(inc->level);
	inc->level = xstrdup(plan && plan->tiers[t->tier - 1]
				 ? plan_level_name(plan->tiers[t->tier - 1]->level)
				 : "");
	body = json_object();
	json_object_set_new(body, "id", json_integer((json_int_t)inc->id));
	json_object_set_new(body, "from", json_integer(from));
	json_object_set_new(body, "to", json_integer(t->tier));
	json_object_set_new(body, "reason", json_string(t->reason));
	inc->updated_at_ms = util_wall_ms();
	if (store_update_incident(r->d->store, inc) != 0 ||
	    daemon_emit(r->d, r->client->id, "incident.tier", inc->id, inc->exercise, body) != 0 ||
	    muster_retier(r->d, inc->id, (int)t->tier, r->client->id) != 0) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not change the tier; nothing was changed");
	}
	incident_reply(r, inc);
	store_free_incident(inc);
	return 0;
}

int
incident_unlink(struct request *r)
{
	const Muster__UnlinkIncident *u = r->env->unlink_incident;
	Muster__Incident *inc = NULL;
	json_t *body;
	int rc;

	if (u->reason == NULL || u->reason[0] == '\0')
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "reason",
				    "unlinking needs a reason");
	rc = store_get_incident(r->d->store, u->id, &inc);
	if (rc <= 0)
		return rc < 0 ? request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					     "could not read the incident")
			      : request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "id",
					     "no incident #%llu", (unsigned long long)u->id);
	if (inc->state != MUSTER__INCIDENT_STATE__INCIDENT_LINKED) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "id",
				    "incident #%llu is not a linked report",
				    (unsigned long long)u->id);
	}
	body = json_object();
	json_object_set_new(body, "id", json_integer((json_int_t)inc->id));
	json_object_set_new(body, "from", json_integer((json_int_t)inc->linked_to));
	json_object_set_new(body, "reason", json_string(u->reason));
	inc->state = MUSTER__INCIDENT_STATE__INCIDENT_OPEN;
	inc->linked_to = 0;
	inc->updated_at_ms = util_wall_ms();
	if (store_update_incident(r->d->store, inc) != 0 ||
	    daemon_emit(r->d, r->client->id, "incident.unlinked", inc->id, inc->exercise, body) !=
		0 ||
	    muster_start(r->d, inc, r->client->id) != 0) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not unlink; nothing was changed");
	}
	incident_reply(r, inc);
	store_free_incident(inc);
	return 0;
}

int
incident_divert(struct request *r)
{
	const Muster__DivertIncident *dv = r->env->divert_incident;
	Muster__Incident *inc = NULL;
	json_t *body;
	char text[512];
	int64_t now = util_wall_ms();
	int code;

	if (dv->reason == NULL || dv->reason[0] == '\0')
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "reason",
				    "diverting needs a reason");
	if (dv->to == NULL || roster_department(r->d->cfg->roster, dv->to) < 0)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "to",
				    "unknown department '%.64s'", dv->to ? dv->to : "");
	if ((code = incident_load_open(r, dv->id, &inc)) != 0)
		return code;
	if (strcmp(inc->owner, dv->to) == 0) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "to",
				    "incident #%llu is owned by %s already",
				    (unsigned long long)dv->id, dv->to);
	}
	body = json_object();
	json_object_set_new(body, "id", json_integer((json_int_t)inc->id));
	json_object_set_new(body, "from", json_string(inc->owner));
	json_object_set_new(body, "to", json_string(dv->to));
	json_object_set_new(body, "reason", json_string(dv->reason));
	/* The time lost: from the report to the moment it reached its owner. */
	json_object_set_new(body, "lost_ms", json_integer(now - inc->received_at_ms));
	free(inc->owner);
	inc->owner = xstrdup(dv->to);
	inc->updated_at_ms = now;
	snprintf(text, sizeof text, "incident #%llu (%s) diverted to you: %s",
		 (unsigned long long)inc->id, inc->type, dv->reason);
	if (store_update_incident(r->d->store, inc) != 0 ||
	    daemon_emit(r->d, r->client->id, "incident.diverted", inc->id, inc->exercise, body) !=
		0 ||
	    muster_notify_department(r->d, dv->to, inc->id, inc->exercise, "diverted", 0, NULL,
				     text) != 0) {
		store_free_incident(inc);
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not divert; nothing was changed");
	}
	incident_reply(r, inc);
	store_free_incident(inc);
	return 0;
}
