/* agents: an agent is identified by its key's identity, never by its routing id: the
 * routing id is only where its latest message came from, and where we answer. */
#include "agents.h"
#include "bus.h"
#include "daemon.h"
#include "log.h"
#include "muster.h"
#include "order.h"
#include "whistle.h"
#include "store.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct session {
	char *identity;		  /* "agent:fire" */
	uint8_t rid[BUS_RID_MAX]; /* where its last message came from */
	size_t rid_len;
	int registered; /* a Register was accepted on this daemon run */
	int64_t last_seen_ms;
	int seq_known;	   /* last_seq is loaded from the store */
	uint64_t last_seq; /* highest report seq recorded */
	int hb_started;	   /* the heartbeat allowance below has been set */
	int64_t hb_credit; /* heartbeats allowed now, in ms of heartbeat_min_ms each */
	int64_t hb_at;	   /* when hb_credit was last brought up to date, monotonic ms */
};

struct agents {
	struct session *v;
	size_t n;
};

struct agents *
agents_new(void)
{
	return xcalloc(1, sizeof(struct agents));
}

void
agents_free(struct agents *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		free(a->v[i].identity);
	free(a->v);
	free(a);
}

/* Returns the session of IDENTITY, or NULL. */
static struct session *
agents_find(struct agents *a, const char *identity)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].identity, identity) == 0)
			return &a->v[i];
	return NULL;
}

/* Returns the session of the request's sender, created when new, with its routing id
 * brought up to date (it changes when the agent reconnects). */
static struct session *
agents_touch(struct agents *a, const struct request *r)
{
	struct session *s = agents_find(a, r->client->id);

	if (s == NULL) {
		a->v = xrealloc(a->v, (a->n + 1) * sizeof *a->v);
		s = &a->v[a->n++];
		memset(s, 0, sizeof *s);
		s->identity = xstrdup(r->client->id);
	}
	memcpy(s->rid, r->msg->rid, r->msg->rid_len);
	s->rid_len = r->msg->rid_len;
	s->last_seen_ms = util_wall_ms();
	return s;
}

void
agents_drop(struct agents *a, const char *identity)
{
	struct session *s = agents_find(a, identity);

	if (s == NULL)
		return;
	free(s->identity);
	*s = a->v[--a->n];
}

void
agents_reload_state(struct agents *a, struct daemon *d)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		a->v[i].seq_known = 0;
	/* Sessions of agents whose keys vanished were dropped by daemon_reload. */
	(void)d;
}

int
agents_route(struct agents *a, const char *identity, const uint8_t **rid, size_t *rid_len)
{
	struct session *s = agents_find(a, identity);

	if (s == NULL || !s->registered)
		return -1;
	*rid = s->rid;
	*rid_len = s->rid_len;
	return 0;
}

size_t
agents_count(const struct agents *a)
{
	return a->n;
}

/* Returns 1 when the agent of R may speak for unit U. */
static int
agents_owns(const struct request *r, const struct unit *u)
{
	return u->agent && strcmp(u->agent, r->client->id) == 0;
}

/* Adds U to the reply's unit list. */
static Muster__UnitState *
agents_unit_state(const struct unit *u)
{
	Muster__UnitState *us = xmalloc(sizeof *us);
	Muster__Coordinates *c = xmalloc(sizeof *c);

	muster__unit_state__init(us);
	muster__coordinates__init(c);
	us->unit_id = u->id;
	c->lat = u->lat;
	c->lon = u->lon;
	us->position = c;
	us->status = (Muster__UnitStatus)u->status;
	return us;
}

int
agents_register(struct request *r)
{
	const Muster__Register *reg = r->env->register_;
	struct roster *ros = r->d->cfg->roster;
	struct session *s;
	Envelope reply;
	Muster__Registered rd;
	json_t *body = json_object(), *acc = json_array(), *rej = json_array();
	size_t i, n_acc = 0, n_rej = 0, want = reg->n_unit_ids;

	muster__envelope__init(&reply);
	muster__registered__init(&rd);
	/* An empty list means "every unit the roster gives me". */
	if (want == 0) {
		for (i = 0; i < ros->n_units; i++)
			want += agents_owns(r, &ros->units[i]);
	}
	rd.accepted = xcalloc(want ? want : 1, sizeof *rd.accepted);
	rd.units = xcalloc(want ? want : 1, sizeof *rd.units);
	rd.rejected = xcalloc(reg->n_unit_ids ? reg->n_unit_ids : 1, sizeof *rd.rejected);
	if (reg->n_unit_ids == 0) {
		for (i = 0; i < ros->n_units; i++) {
			if (!agents_owns(r, &ros->units[i]))
				continue;
			rd.accepted[n_acc] = ros->units[i].id;
			rd.units[n_acc++] = agents_unit_state(&ros->units[i]);
		}
	}
	for (i = 0; i < reg->n_unit_ids; i++) {
		struct unit *u = roster_unit(ros, reg->unit_ids[i]);
		Muster__RejectedUnit *ru;

		if (u != NULL && agents_owns(r, u)) {
			rd.accepted[n_acc] = u->id;
			rd.units[n_acc++] = agents_unit_state(u);
			continue;
		}
		ru = xmalloc(sizeof *ru);
		muster__rejected_unit__init(ru);
		ru->unit_id = reg->unit_ids[i];
		ru->code = u ? MUSTER__ERROR_CODE__NOT_YOURS : MUSTER__ERROR_CODE__NOT_FOUND;
		ru->message =
		    u ? "this unit belongs to another agent" : "no such unit in the roster";
		rd.rejected[n_rej++] = ru;
		json_array_append_new(rej, json_string(reg->unit_ids[i]));
	}
	for (i = 0; i < n_acc; i++)
		json_array_append_new(acc, json_string(rd.accepted[i]));
	rd.n_accepted = rd.n_units = n_acc;
	rd.n_rejected = n_rej;
	rd.heartbeat_interval_ms = (uint32_t)r->d->cfg->heartbeat_interval_ms;
	rd.heartbeat_min_ms = (uint32_t)r->d->cfg->heartbeat_min_ms;
	json_object_set_new(body, "agent", json_string(r->client->id));
	json_object_set_new(body, "version",
			    json_string(reg->agent_version ? reg->agent_version : ""));
	json_object_set_new(body, "units", acc);
	json_object_set_new(body, "rejected", rej);
	if (daemon_emit(r->d, r->client->id, "agent.registered", 0, 0, body) != 0) {
		for (i = 0; i < n_acc; i++) {
			free(rd.units[i]->position);
			free(rd.units[i]);
		}
		for (i = 0; i < n_rej; i++)
			free(rd.rejected[i]);
		free(rd.accepted);
		free(rd.units);
		free(rd.rejected);
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the registration");
	}
	s = agents_touch(r->d->agents, r);
	s->registered = 1;
	/* Whatever it has not confirmed goes out again now that it is back. */
	order_agent_back(r->d, r->client->id);
	log_info("agents: %s registered %zu units (%zu refused)", r->client->id, n_acc, n_rej);
	reply.body_case = MUSTER__ENVELOPE__BODY_REGISTERED;
	reply.registered = &rd;
	daemon_reply(r, &reply);
	for (i = 0; i < n_acc; i++) {
		free(rd.units[i]->position);
		free(rd.units[i]);
	}
	for (i = 0; i < n_rej; i++)
		free(rd.rejected[i]);
	free(rd.accepted);
	free(rd.units);
	free(rd.rejected);
	return 0;
}

/* Debits one heartbeat from session S's allowance, which grows by one per heartbeat_min_ms up
 * to AGENTS_HEARTBEAT_BURST. Returns 0 when it is allowed, else the milliseconds until one
 * is. Not on a virtual clock: a drill's time stands still between advances while its agents'
 * does not, and a replay feeds only what was allowed. */
static int64_t
agents_allowance(const struct config *cfg, struct session *s)
{
	int64_t min = cfg->heartbeat_min_ms, cap = min * AGENTS_HEARTBEAT_BURST;
	int64_t now = util_mono_ns() / 1000000;

	if (min == 0 || util_clock_is_virtual())
		return 0;
	if (!s->hb_started) {
		s->hb_started = 1;
		s->hb_credit = cap;
	} else if (now > s->hb_at) {
		s->hb_credit += now - s->hb_at;
	}
	if (s->hb_credit > cap) /* also after heartbeat_min_ms was lowered */
		s->hb_credit = cap;
	s->hb_at = now;
	if (s->hb_credit < min)
		return min - s->hb_credit;
	s->hb_credit -= min;
	return 0;
}

int
agents_heartbeat(struct request *r)
{
	const Muster__Heartbeat *hb = r->env->heartbeat;
	struct roster *ros = r->d->cfg->roster;
	struct session *s = agents_find(r->d->agents, r->client->id);
	int64_t now = util_wall_ms(), wait;
	size_t i;
	int changed = 0;

	if (s == NULL || !s->registered)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "register",
				    "no session: register first");
	/* Check everything before changing anything. */
	for (i = 0; i < hb->n_units; i++) {
		const Muster__UnitState *us = hb->units[i];
		struct unit *u = roster_unit(ros, us->unit_id);

		if (u == NULL)
			return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "units.unit_id",
					    "no unit '%.64s' in the roster", us->unit_id);
		if (!agents_owns(r, u))
			return request_fail(r, MUSTER__ERROR_CODE__NOT_YOURS, "units.unit_id",
					    "unit '%.64s' belongs to another agent", us->unit_id);
		if (us->position &&
		    !(isfinite(us->position->lat) && isfinite(us->position->lon) &&
		      fabs(us->position->lat) <= 90 && fabs(us->position->lon) <= 180))
			return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT,
					    "units.position",
					    "unit '%.64s': coordinates out of range", us->unit_id);
		if (us->status > MUSTER__UNIT_STATUS__UNIT_OUT_OF_SERVICE)
			return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "units.status",
					    "unit '%.64s': unknown status %d", us->unit_id,
					    (int)us->status);
	}
	/* An agent that sends faster than it may is not heard out: each heartbeat it sends is
	 * recorded (for replay), and the database would grow at its send rate. */
	wait = agents_allowance(r->d->cfg, s);
	if (wait > 0) {
		static struct log_limit fast = {.what = "heartbeats refused as too frequent"};

		r->d->heartbeats_refused++;
		log_warnx_limited(&fast,
				  "daemon: %s: heartbeat refused: more than one per %d ms "
				  "(heartbeat_min_ms) after a burst of %d",
				  r->client->id, r->d->cfg->heartbeat_min_ms,
				  AGENTS_HEARTBEAT_BURST);
		return request_fail(r, MUSTER__ERROR_CODE__RESOURCE_EXHAUSTED, "heartbeat",
				    "heartbeats too frequent: at most one per %d ms after a burst "
				    "of %d; this one was not applied, send the next in %lld ms",
				    r->d->cfg->heartbeat_min_ms, AGENTS_HEARTBEAT_BURST,
				    (long long)wait);
	}
	/* Record the status changes first; memory changes only once all are durable-to-be. */
	for (i = 0; i < hb->n_units; i++) {
		const Muster__UnitState *us = hb->units[i];
		struct unit u = *roster_unit(ros, us->unit_id);
		json_t *body;

		if (us->status == MUSTER__UNIT_STATUS__UNIT_STATUS_UNSPECIFIED ||
		    (int)us->status == (int)u.status)
			continue;
		changed = 1;
		body = json_object();
		json_object_set_new(body, "unit", json_string(u.id));
		json_object_set_new(body, "from", json_string(roster_status_name(u.status)));
		json_object_set_new(body, "to",
				    json_string(roster_status_name((enum unit_status)us->status)));
		if (us->position) {
			u.lat = us->position->lat;
			u.lon = us->position->lon;
		}
		json_object_set_new(body, "lat", json_real(u.lat));
		json_object_set_new(body, "lon", json_real(u.lon));
		u.status = (enum unit_status)us->status;
		u.last_seen_ms = now;
		if (store_put_unit(r->d->store, &u) != 0 ||
		    daemon_emit(r->d, r->client->id, "unit.status", 0, 0, body) != 0)
			return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					    "could not record the unit status");
	}
	agents_touch(r->d->agents, r);
	for (i = 0; i < hb->n_units; i++) {
		const Muster__UnitState *us = hb->units[i];
		struct unit *u = roster_unit(ros, us->unit_id);

		if (us->position && (u->lat != us->position->lat || u->lon != us->position->lon)) {
			u->lat = us->position->lat;
			u->lon = us->position->lon;
			muster_unit_moved(r->d, (int)(u - ros->units));
			changed = 1;
		}
		u->last_seen_ms = now;
		if (us->status != MUSTER__UNIT_STATUS__UNIT_STATUS_UNSPECIFIED)
			u->status = (enum unit_status)us->status;
	}
	r->input_compact = !changed;	 /* replay needs only the time it was seen */
	if (r->env->correlation_id != 0) /* asked for (a drill runner keeping step) */
		daemon_ack(r, MUSTER__ERROR_CODE__OK, NULL);
	return 0;
}

int
agents_report(struct request *r)
{
	struct session *s = agents_touch(r->d->agents, r);
	int code;

	if (!s->seq_known) {
		if (store_get_agent_seq(r->d->store, s->identity, &s->last_seq) != 0)
			return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					    "could not read the report log");
		s->seq_known = 1;
	}
	if (r->env->seq <= s->last_seq) {
		/* Already recorded: acknowledge again, apply nothing. */
		daemon_ack(r, MUSTER__ERROR_CODE__DUPLICATE, "already recorded");
		return 0;
	}
	code = r->env->body_case == MUSTER__ENVELOPE__BODY_WHISTLE_ARRIVAL ? whistle_arrival(r)
									   : order_report(r);
	if (code != 0)
		return code;
	/* Recorded with the report, so a re-sent copy is known after a restart too. */
	if (store_set_agent_seq(r->d->store, s->identity, r->env->seq) != 0)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the report");
	s->last_seq = r->env->seq;
	return 0;
}
