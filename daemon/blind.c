/* blind: double-blind drills. ArmDrill is checked whole (every inject as the incident code
 * would check it) before anything is written; the start is drawn with libsodium's generator
 * and stored with the drill, so that an armed drill survives a restart with the same start.
 * The start, the name and the injects stay in the store only until the drill has ended: no
 * reply or event carries them before (docs/drills.md, "Double-blind drills"). The tick keeps
 * the next due time in memory and touches the store only when something is due. */
#include "blind.h"
#include "bus.h"
#include "daemon.h"
#include "incident.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLIND_NAME_MAX 200
#define BLIND_TEXT_MAX 4000

/* Returns the name of drill state STATE. */
static const char *
blind_state_name(int state)
{
	static const char *const names[] = {"armed", "running", "done", "aborted"};

	return state >= 0 && state <= 3 ? names[state] : "unknown";
}

uint64_t
blind_uniform(uint64_t n)
{
	uint64_t x, r;

	if (n <= 1)
		return 0;
	if (n <= UINT32_MAX)
		return randombytes_uniform((uint32_t)n);
	/* 64-bit draws, rejecting the top 2^64 mod N values so that every residue is equally
	 * likely. */
	r = (UINT64_MAX % n + 1) % n;
	do
		randombytes_buf(&x, sizeof x);
	while (r != 0 && x >= (uint64_t)0 - r);
	return x % n;
}

void
blind_drill_free(struct blind_drill *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n_injects; i++) {
		free(b->injects[i].incident);
		free(b->injects[i].error);
	}
	free(b->injects);
	free(b->name);
	free(b->armed_by);
	free(b->reason);
	free(b);
}

/* Returns 1 when B's sealed record may be told: it has ended, and not before its start. */
static int
blind_revealed(const struct blind_drill *b)
{
	return (b->state == BLIND_DONE || b->state == BLIND_ABORTED) && b->ended_ms >= b->start_ms;
}

/* Returns when B next has something to do, or INT64_MAX when never. */
static int64_t
blind_due(const struct blind_drill *b)
{
	if (b->state == BLIND_ARMED)
		return b->start_ms;
	if (b->state != BLIND_RUNNING)
		return INT64_MAX;
	if (b->fired < b->n_injects)
		return b->start_ms + b->injects[b->fired].at_ms;
	return b->start_ms + b->duration_ms;
}

/* Returns the ids of the incidents B opened, as a JSON array. */
static json_t *
blind_incidents_json(const struct blind_drill *b)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < b->n_injects; i++)
		if (b->injects[i].incident_id)
			json_array_append_new(a,
					      json_integer((json_int_t)b->injects[i].incident_id));
	return a;
}

/* Returns B's record for the end or an abort: the sealed part only once revealed. */
static json_t *
blind_record_json(const struct blind_drill *b)
{
	json_t *o = json_object();

	json_object_set_new(o, "drill", json_integer((json_int_t)b->id));
	json_object_set_new(o, "state", json_string(blind_state_name(b->state)));
	json_object_set_new(o, "window_from_ms", json_integer(b->window_from_ms));
	json_object_set_new(o, "window_to_ms", json_integer(b->window_to_ms));
	json_object_set_new(o, "armed_by", json_string(b->armed_by));
	json_object_set_new(o, "armed_ms", json_integer(b->armed_ms));
	json_object_set_new(o, "injects", json_integer((json_int_t)b->n_injects));
	json_object_set_new(o, "fired", json_integer(b->fired));
	json_object_set_new(o, "failed", json_integer(b->failed));
	json_object_set_new(o, "incidents", blind_incidents_json(b));
	if (blind_revealed(b)) {
		json_object_set_new(o, "name", json_string(b->name));
		json_object_set_new(o, "started_at_ms", json_integer(b->start_ms));
		json_object_set_new(o, "duration_ms", json_integer(b->duration_ms));
	}
	return o;
}

/* Queues B as a DrillReply to R; the start only once revealed. */
static void
blind_reply(struct request *r, const struct blind_drill *b)
{
	Envelope reply;
	Muster__DrillReply dr;
	Muster__Drill m;
	uint64_t *ids = xcalloc(b->n_injects + 1, sizeof *ids);
	size_t i, n = 0;

	muster__envelope__init(&reply);
	muster__drill_reply__init(&dr);
	muster__drill__init(&m);
	for (i = 0; i < b->n_injects; i++)
		if (b->injects[i].incident_id)
			ids[n++] = b->injects[i].incident_id;
	m.id = b->id;
	m.name = b->name;
	m.state = (char *)blind_state_name(b->state);
	m.window_from_ms = b->window_from_ms;
	m.window_to_ms = b->window_to_ms;
	m.started_at_ms = blind_revealed(b) ? b->start_ms : 0;
	m.injects = (uint32_t)b->n_injects;
	m.fired = b->fired;
	m.failed = b->failed;
	m.armed_by = b->armed_by;
	m.duration_ms = b->duration_ms;
	m.armed_at_ms = b->armed_ms;
	m.ended_at_ms = b->ended_ms;
	m.abort_reason = b->reason;
	m.incident_ids = ids;
	m.n_incident_ids = n;
	dr.drill = &m;
	reply.body_case = MUSTER__ENVELOPE__BODY_DRILL_REPLY;
	reply.drill_reply = &dr;
	daemon_reply(r, &reply);
	free(ids);
}

/* Checks inject I of an ArmDrill of DURATION_MS; on a refusal R's error names the inject. */
static int
blind_check_inject(struct request *r, const Muster__DrillInject *in, size_t i, int64_t duration_ms)
{
	char field[64], msg[sizeof r->err_msg], where[40];
	int code;

	snprintf(where, sizeof where, "injects[%zu]", i);
	if (in->incident == NULL)
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, where,
				    "inject #%zu: only incident injects can be armed, and this has "
				    "none",
				    i + 1);
	if (in->at_ms < 0 || in->at_ms > duration_ms)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, where,
				    "inject #%zu: at %lld ms is outside the drill (0 to %lld ms)",
				    i + 1, (long long)in->at_ms, (long long)duration_ms);
	code = incident_check(r, in->incident);
	if (code == 0)
		return 0;
	/* The error names the inject; the field keeps the incident's field after its index. */
	snprintf(field, sizeof field, "%s", r->err_field);
	snprintf(msg, sizeof msg, "%s", r->err_msg);
	snprintf(r->err_field, sizeof r->err_field, "injects[%zu]%s%.40s", i, field[0] ? "." : "",
		 field);
	snprintf(r->err_msg, sizeof r->err_msg, "inject #%zu: %.480s", i + 1, msg);
	return code;
}

int
blind_arm(struct request *r)
{
	const Muster__ArmDrill *a = r->env->arm_drill;
	int64_t now = util_wall_ms(), from = a->window_from_ms, to = a->window_to_ms;
	int64_t dur = a->duration_ms;
	struct blind_drill *b;
	json_t *ev;
	char where[40];
	size_t i;
	int code = 0;

	if (a->name == NULL || a->name[0] == '\0' || strlen(a->name) > BLIND_NAME_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "name",
				    "the drill needs a name (at most %d bytes)", BLIND_NAME_MAX);
	if (dur <= 0 || dur > BLIND_SPAN_MAX_MS)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "duration_ms",
				    "the duration must be more than 0 and at most 366 days");
	if (from <= now)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "window_from_ms",
				    "the window must open in the future (it opens %lld s ago)",
				    (long long)((now - from) / 1000));
	if (to <= from)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "window_to_ms",
				    "the window must close after it opens");
	if (to - now > BLIND_SPAN_MAX_MS)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "window_to_ms",
				    "the window must close within 366 days");
	if (dur > to - from)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "window_to_ms",
				    "the drill (%lld s) does not fit in the window (%lld s)",
				    (long long)(dur / 1000), (long long)((to - from) / 1000));
	if (a->n_injects == 0 || a->n_injects > BLIND_INJECTS_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "injects",
				    "a drill has 1 to %d injects, not %zu", BLIND_INJECTS_MAX,
				    a->n_injects);
	for (i = 0; i < a->n_injects; i++) {
		if ((code = blind_check_inject(r, a->injects[i], i, dur)) != 0)
			return code;
		if (i > 0 && a->injects[i]->at_ms < a->injects[i - 1]->at_ms) {
			snprintf(where, sizeof where, "injects[%zu]", i);
			return request_fail(
			    r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, where,
			    "inject #%zu: injects are played in the order given, "
			    "which must be the order of time (at %lld ms after %lld "
			    "ms)",
			    i + 1, (long long)a->injects[i]->at_ms,
			    (long long)a->injects[i - 1]->at_ms);
		}
	}

	b = xcalloc(1, sizeof *b);
	b->name = xstrdup(a->name);
	b->armed_by = xstrdup(r->client->id);
	b->reason = xstrdup("");
	b->state = BLIND_ARMED;
	b->window_from_ms = from;
	b->window_to_ms = to;
	b->duration_ms = dur;
	b->armed_ms = now;
	/* The seal: uniform over every ms at which the whole drill fits in the window. */
	b->start_ms = from + (int64_t)blind_uniform((uint64_t)(to - dur - from) + 1);
	b->injects = xcalloc(a->n_injects, sizeof *b->injects);
	b->n_injects = a->n_injects;
	for (i = 0; i < a->n_injects; i++) {
		struct blind_inject *in = &b->injects[i];

		in->at_ms = a->injects[i]->at_ms;
		in->incident_len =
		    muster__submit_incident__get_packed_size(a->injects[i]->incident);
		in->incident = xmalloc(in->incident_len + 1);
		in->incident_len =
		    muster__submit_incident__pack(a->injects[i]->incident, in->incident);
		in->error = xstrdup("");
	}
	/* The event tells that a drill is armed, by whom and for which window: not its name,
	 * its start or what it injects. */
	ev = json_object();
	if (store_insert_drill(r->d->store, b) == 0) {
		json_object_set_new(ev, "drill", json_integer((json_int_t)b->id));
		json_object_set_new(ev, "window_from_ms", json_integer(from));
		json_object_set_new(ev, "window_to_ms", json_integer(to));
		json_object_set_new(ev, "injects", json_integer((json_int_t)b->n_injects));
		json_object_set_new(ev, "armed_by", json_string(b->armed_by));
		if (daemon_emit(r->d, r->client->id, "drill.armed", 0, 1, ev) == 0) {
			ev = NULL;
			if (b->start_ms < r->d->blind_next_ms)
				r->d->blind_next_ms = b->start_ms;
			log_info("blind: drill #%" PRIu64 " armed by %s: %zu injects, window of "
				 "%lld s",
				 b->id, b->armed_by, b->n_injects, (long long)((to - from) / 1000));
			blind_reply(r, b);
			goto out;
		}
		ev = NULL; /* daemon_emit took it */
	}
	json_decref(ev);
	code = request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
			    "could not record the drill; nothing was changed");
out:
	blind_drill_free(b);
	return code;
}

int
blind_get(struct request *r)
{
	struct blind_drill *b = NULL;
	int rc = store_get_drill(r->d->store, r->env->get_drill->id, &b);

	if (rc < 0)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not read the drill");
	if (rc == 0)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "id", "no drill #%llu",
				    (unsigned long long)r->env->get_drill->id);
	blind_reply(r, b);
	blind_drill_free(b);
	return 0;
}

/* Aborts B by ACTOR with REASON at NOW: closes the open incidents it opened, writes it and
 * its event drill.aborted. Returns 0, or -1 when storage failed. */
static int
blind_end_aborted(struct daemon *d, struct blind_drill *b, const char *actor, const char *reason,
		  int64_t now)
{
	char *why = xasprintf("drill aborted: %s", reason);
	json_t *closed = json_array(), *ev;
	size_t i;
	int rc = 0;

	b->state = BLIND_ABORTED;
	b->ended_ms = now;
	free(b->reason);
	b->reason = xstrdup(reason);
	for (i = 0; i < b->n_injects && rc == 0; i++) {
		if (b->injects[i].incident_id == 0)
			continue;
		rc = incident_close_as(d, b->injects[i].incident_id, actor, why);
		if (rc == 0)
			json_array_append_new(closed,
					      json_integer((json_int_t)b->injects[i].incident_id));
		rc = rc < 0 ? -1 : 0;
	}
	free(why);
	if (rc != 0 || store_update_drill(d->store, b) != 0) {
		json_decref(closed);
		return -1;
	}
	ev = blind_record_json(b);
	json_object_set_new(ev, "reason", json_string(reason));
	json_object_set_new(ev, "closed", closed);
	return daemon_emit(d, actor, "drill.aborted", 0, 1, ev);
}

int
blind_abort(struct request *r)
{
	const Muster__AbortDrill *a = r->env->abort_drill;
	struct blind_drill *b = NULL;
	int rc, code = 0;

	if (a->reason == NULL || a->reason[0] == '\0' || strlen(a->reason) > BLIND_TEXT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "reason",
				    "aborting a drill needs a reason (at most %d bytes)",
				    BLIND_TEXT_MAX);
	rc = store_get_drill(r->d->store, a->id, &b);
	if (rc <= 0)
		return rc < 0 ? request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					     "could not read the drill")
			      : request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "id",
					     "no drill #%llu", (unsigned long long)a->id);
	if (b->state != BLIND_ARMED && b->state != BLIND_RUNNING) {
		code = request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "id",
				    "drill #%llu is %s already", (unsigned long long)a->id,
				    blind_state_name(b->state));
	} else if (blind_end_aborted(r->d, b, r->client->id, a->reason, util_wall_ms()) != 0) {
		code = request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not abort the drill; nothing was changed");
	} else {
		log_info("blind: drill #%" PRIu64 " aborted by %s: %s", b->id, r->client->id,
			 a->reason);
		blind_reply(r, b);
	}
	blind_drill_free(b);
	return code;
}

int
blind_load(struct daemon *d)
{
	uint64_t *ids = NULL;
	size_t n = 0, i;
	int64_t next = INT64_MAX;
	int rc = 0;

	if (store_active_drills(d->store, &ids, &n) != 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		struct blind_drill *b = NULL;

		if (store_get_drill(d->store, ids[i], &b) <= 0) {
			rc = -1;
			break;
		}
		if (blind_due(b) < next)
			next = blind_due(b);
		blind_drill_free(b);
	}
	free(ids);
	/* On a failure, look again at the next tick. */
	d->blind_next_ms = rc == 0 ? next : util_wall_ms();
	return rc;
}

/* Opens a unit of work for the tick: a savepoint, and a mark of the send queue. */
static int
blind_begin(struct daemon *d, size_t *mark)
{
	*mark = bus_mark(d->bus);
	return store_savepoint(d->store);
}

/* Ends the unit of work opened at MARK: kept when OK, else undone with what it queued.
 * Returns 0 when kept. */
static int
blind_finish(struct daemon *d, size_t mark, int ok)
{
	if (ok && store_release(d->store) == 0)
		return 0;
	if (ok)
		log_warnx("blind: cannot release a savepoint");
	else
		store_rollback_to(d->store);
	bus_discard_from(d->bus, mark);
	return -1;
}

/* Plays B's next inject at NOW as an exercise incident opened by "drill:<id>". A refusal by the
 * incident code is recorded (drill.inject_failed) and the drill goes on. Returns 0, or -1 when
 * storage failed (nothing changed; tried again at the next tick). */
static int
blind_fire(struct daemon *d, struct blind_drill *b, int64_t now)
{
	size_t idx = b->fired, mark;
	struct blind_inject *in = &b->injects[idx];
	Muster__SubmitIncident *s;
	struct request r;
	char actor[40];
	uint64_t id = 0;
	json_t *ev;
	int code, ok;

	memset(&r, 0, sizeof r);
	r.d = d;
	snprintf(actor, sizeof actor, "drill:%" PRIu64, b->id);
	s = muster__submit_incident__unpack(NULL, in->incident_len, in->incident);
	if (blind_begin(d, &mark) != 0) {
		muster__submit_incident__free_unpacked(s, NULL);
		return -1;
	}
	code = s ? incident_open(&r, s, 1, actor, &id)
		 : request_fail(&r, MUSTER__ERROR_CODE__INTERNAL, NULL, "the inject is unreadable");
	muster__submit_incident__free_unpacked(s, NULL);
	if (code == 0) {
		in->incident_id = id;
		in->fired_ms = now;
		b->fired++;
		return blind_finish(d, mark,
				    store_put_drill_inject(d->store, b->id, idx, in) == 0 &&
					store_update_drill(d->store, b) == 0);
	}
	blind_finish(d, mark, 0);
	if (code == MUSTER__ERROR_CODE__UNAVAILABLE)
		return -1;
	/* Refused by the incident code (the configuration changed since the drill was armed):
	 * recorded, and the drill goes on. */
	log_warnx("blind: drill #%" PRIu64 " inject #%zu refused: %s", b->id, idx + 1, r.err_msg);
	if (blind_begin(d, &mark) != 0)
		return -1;
	in->fired_ms = now;
	free(in->error);
	in->error = xasprintf("%s: %s", wire_code_name(code), r.err_msg);
	b->fired++;
	b->failed++;
	ev = json_object();
	json_object_set_new(ev, "drill", json_integer((json_int_t)b->id));
	json_object_set_new(ev, "inject", json_integer((json_int_t)idx + 1));
	json_object_set_new(ev, "code", json_string(wire_code_name(code)));
	json_object_set_new(ev, "field", json_string(r.err_field));
	json_object_set_new(ev, "error", json_string(r.err_msg));
	ok = store_put_drill_inject(d->store, b->id, idx, in) == 0 &&
	     store_update_drill(d->store, b) == 0;
	if (ok)
		ok = daemon_emit(d, actor, "drill.inject_failed", 0, 1, ev) == 0;
	else
		json_decref(ev);
	return blind_finish(d, mark, ok);
}

/* Moves B along at NOW: starts it, plays what is due, ends it. Returns 0, or -1 when storage
 * failed (B no longer matches the store; the caller drops it). */
static int
blind_step(struct daemon *d, struct blind_drill *b, int64_t now)
{
	size_t mark;
	json_t *ev;
	int ok;

	if (b->state == BLIND_ARMED && now >= b->start_ms) {
		if (blind_begin(d, &mark) != 0)
			return -1;
		if (now > b->window_to_ms) {
			/* musterd was not running at the start, and the window has passed. */
			ok = blind_end_aborted(d, b, "musterd",
					       "the window passed while musterd was not running",
					       now) == 0;
			if (ok)
				log_warnx("blind: drill #%" PRIu64 " aborted: its window passed "
					  "while musterd was not running",
					  b->id);
			return blind_finish(d, mark, ok);
		}
		b->state = BLIND_RUNNING;
		ev = json_object();
		json_object_set_new(ev, "drill", json_integer((json_int_t)b->id));
		json_object_set_new(ev, "injects", json_integer((json_int_t)b->n_injects));
		json_object_set_new(ev, "late_ms", json_integer(now - b->start_ms));
		ok = store_update_drill(d->store, b) == 0;
		if (ok)
			ok = daemon_emit(d, "musterd", "drill.started", 0, 1, ev) == 0;
		else
			json_decref(ev);
		if (blind_finish(d, mark, ok) != 0)
			return -1;
		log_info("blind: drill #%" PRIu64 " started", b->id);
	}
	while (b->state == BLIND_RUNNING && b->fired < b->n_injects &&
	       b->start_ms + b->injects[b->fired].at_ms <= now)
		if (blind_fire(d, b, now) != 0)
			return -1;
	if (b->state == BLIND_RUNNING && b->fired == b->n_injects &&
	    now >= b->start_ms + b->duration_ms) {
		if (blind_begin(d, &mark) != 0)
			return -1;
		b->state = BLIND_DONE;
		b->ended_ms = now;
		ok = store_update_drill(d->store, b) == 0;
		if (ok)
			ok = daemon_emit(d, "musterd", "drill.ended", 0, 1, blind_record_json(b)) ==
			     0;
		if (blind_finish(d, mark, ok) != 0)
			return -1;
		log_info("blind: drill #%" PRIu64 " (%s) ended: %u injects, %u refused", b->id,
			 b->name, b->fired, b->failed);
	}
	return 0;
}

void
blind_tick(struct daemon *d)
{
	uint64_t *ids = NULL;
	size_t n = 0, i;
	int64_t now = util_wall_ms(), next = INT64_MAX;

	if (now < d->blind_next_ms)
		return; /* nearly every tick: no SQL at all */
	if (store_active_drills(d->store, &ids, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		struct blind_drill *b = NULL;

		if (store_get_drill(d->store, ids[i], &b) <= 0 || blind_step(d, b, now) != 0) {
			/* Storage failed: memory may hold what was undone; look again next tick. */
			blind_drill_free(b);
			free(ids);
			daemon_resync(d);
			d->blind_next_ms = now;
			return;
		}
		if (blind_due(b) < next)
			next = blind_due(b);
		blind_drill_free(b);
	}
	free(ids);
	d->blind_next_ms = next;
}
