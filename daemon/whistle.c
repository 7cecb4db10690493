/* whistle: the whistle is blown by an operator for a street or community; each named
 * department's supervisor gets a WhistleCall; arrivals come back as WhistleArrival reports
 * from the department's agents. The deadline decides on time or late; after a grace period
 * as long again (at most an hour) the departments that never came are recorded absent and
 * the compliance of the whole call is published on the timeline (通报). */
#include "whistle.h"
#include "agents.h"
#include "daemon.h"
#include "geo.h"
#include "log.h"
#include "muster.h"
#include "store.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define WHISTLE_TEXT_MAX 4000
#define WHISTLE_GRACE_MAX_MS (3600 * 1000)

/* The leader ranks, lowest first: a department meets the call when the rank it reports is
 * at least the one asked for. */
static const char *const whistle_ranks[] = {
    "staff", "team leader", "section chief", "deputy director", "director", NULL,
};

int
whistle_rank_index(const char *rank)
{
	int i;

	for (i = 0; rank && whistle_ranks[i]; i++)
		if (strcmp(whistle_ranks[i], rank) == 0)
			return i;
	return -1;
}

/* Returns the name of a department's status. */
static const char *
whistle_status_name(int status)
{
	static const char *const names[] = {"called", "on_time", "late", "absent"};

	return status >= 0 && status <= 3 ? names[status] : "unknown";
}

void
whistle_free(struct whistle *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n_depts; i++) {
		free(w->depts[i].department);
		free(w->depts[i].rank);
	}
	free(w->depts);
	free(w->place);
	free(w->matter);
	free(w->rank);
	free(w->called_by);
	free(w);
}

/* Returns W as the JSON body of a whistle event. */
static json_t *
whistle_json(const struct whistle *w)
{
	json_t *o = json_object(), *ds = json_array();
	size_t i;

	json_object_set_new(o, "whistle", json_integer((json_int_t)w->id));
	json_object_set_new(o, "place", json_string(w->place));
	json_object_set_new(o, "matter", json_string(w->matter));
	json_object_set_new(o, "rank", json_string(w->rank));
	json_object_set_new(o, "headcount", json_integer(w->headcount));
	json_object_set_new(o, "deadline_ms", json_integer(w->deadline_ms));
	json_object_set_new(o, "called_by", json_string(w->called_by));
	for (i = 0; i < w->n_depts; i++) {
		const struct whistle_dept *wd = &w->depts[i];
		json_t *d = json_object();

		json_object_set_new(d, "department", json_string(wd->department));
		json_object_set_new(d, "status", json_string(whistle_status_name(wd->status)));
		if (wd->arrived_ms) {
			json_object_set_new(d, "arrived_ms", json_integer(wd->arrived_ms));
			json_object_set_new(d, "rank", json_string(wd->rank ? wd->rank : ""));
			json_object_set_new(d, "headcount", json_integer(wd->headcount));
			json_object_set_new(d, "rank_met", json_boolean(wd->rank_met));
			json_object_set_new(d, "headcount_met", json_boolean(wd->headcount_met));
		}
		json_array_append_new(ds, d);
	}
	json_object_set_new(o, "departments", ds);
	return o;
}

/* Queues W as a WhistleReply to R. */
static void
whistle_reply(struct request *r, const struct whistle *w)
{
	Envelope reply;
	Muster__WhistleReply wr;
	Muster__Whistle m;
	Muster__WhistleDepartment *dv, **dp;
	size_t i;

	muster__envelope__init(&reply);
	muster__whistle_reply__init(&wr);
	muster__whistle__init(&m);
	dv = xcalloc(w->n_depts + 1, sizeof *dv);
	dp = xcalloc(w->n_depts + 1, sizeof *dp);
	for (i = 0; i < w->n_depts; i++) {
		const struct whistle_dept *wd = &w->depts[i];

		muster__whistle_department__init(&dv[i]);
		dv[i].department = wd->department;
		dv[i].status = (char *)whistle_status_name(wd->status);
		dv[i].arrived_at_ms = wd->arrived_ms;
		dv[i].leader_rank = wd->rank ? wd->rank : "";
		dv[i].headcount = wd->headcount;
		dv[i].rank_met = wd->rank_met;
		dv[i].headcount_met = wd->headcount_met;
		dv[i].late_ms =
		    wd->arrived_ms > w->deadline_ms ? wd->arrived_ms - w->deadline_ms : 0;
		dp[i] = &dv[i];
	}
	m.id = w->id;
	m.place = w->place;
	m.matter = w->matter;
	m.blown_at_ms = w->blown_ms;
	m.deadline_ms = w->deadline_ms;
	m.leader_rank = w->rank;
	m.headcount = w->headcount;
	m.called_by = w->called_by;
	m.incident_id = w->incident_id;
	m.departments = dp;
	m.n_departments = w->n_depts;
	m.exercise = w->exercise;
	wr.whistle = &m;
	reply.body_case = MUSTER__ENVELOPE__BODY_WHISTLE_REPLY;
	reply.whistle_reply = &wr;
	daemon_reply(r, &reply);
	free(dv);
	free(dp);
}

/* Sends the call of W to DEPARTMENT's supervisor (or agent:DEPARTMENT) if connected. */
static void
whistle_call(struct daemon *d, const struct whistle *w, const char *department)
{
	struct roster *ros = d->cfg->roster;
	int k = roster_department(ros, department);
	char *fallback = xasprintf("agent:%s", department);
	const char *to =
	    k >= 0 && ros->departments[k].supervisor ? ros->departments[k].supervisor : fallback;
	const uint8_t *rid;
	size_t rid_len;

	if (agents_route(d->agents, to, &rid, &rid_len) == 0 ||
	    agents_route(d->agents, fallback, &rid, &rid_len) == 0) {
		Envelope e;
		Muster__WhistleCall c;

		muster__envelope__init(&e);
		muster__whistle_call__init(&c);
		c.whistle_id = w->id;
		c.place = w->place;
		c.matter = w->matter;
		c.deadline_ms = w->deadline_ms;
		c.leader_rank = w->rank;
		c.headcount = w->headcount;
		c.called_by = w->called_by;
		e.body_case = MUSTER__ENVELOPE__BODY_WHISTLE_CALL;
		e.whistle_call = &c;
		e.exercise = w->exercise;
		daemon_send_agent(d, rid, rid_len, &e);
	}
	free(fallback);
}

int
whistle_blow(struct request *r)
{
	const Muster__BlowWhistle *b = r->env->blow_whistle;
	const struct place *p;
	struct whistle *w;
	int64_t now = util_wall_ms(), grace;
	size_t i, k;
	int code = 0;

	p = b->place ? geo_find(r->d->cfg->district, b->place) : NULL;
	if (p == NULL || (p->kind != PLACE_STREET && p->kind != PLACE_COMMUNITY))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "place",
				    "the whistle is blown by a street or a community; '%.64s' is "
				    "neither",
				    b->place ? b->place : "");
	if (b->matter == NULL || b->matter[0] == '\0' || strlen(b->matter) > WHISTLE_TEXT_MAX)
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "matter",
				    "the matter is required (at most %d bytes)", WHISTLE_TEXT_MAX);
	if (b->n_departments == 0)
		return request_fail(r, MUSTER__ERROR_CODE__BAD_REQUEST, "departments",
				    "name at least one department");
	for (i = 0; i < b->n_departments; i++) {
		if (roster_department(r->d->cfg->roster, b->departments[i]) < 0)
			return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "departments",
					    "unknown department '%.64s'", b->departments[i]);
		for (k = 0; k < i; k++)
			if (strcmp(b->departments[k], b->departments[i]) == 0)
				return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT,
						    "departments", "department '%.64s' named twice",
						    b->departments[i]);
	}
	if (b->deadline_s < 10 || b->deadline_s > 86400)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "deadline_s",
				    "the deadline must be 10 s to 24 h away");
	if (whistle_rank_index(b->leader_rank) < 0)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "leader_rank",
				    "unknown rank '%.64s' (staff, team leader, section chief, "
				    "deputy director, director)",
				    b->leader_rank ? b->leader_rank : "");
	if (b->headcount < 1 || b->headcount > 1000)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "headcount",
				    "the headcount must be 1 to 1000");
	w = xcalloc(1, sizeof *w);
	w->place = xstrdup(p->id);
	w->matter = xstrdup(b->matter);
	w->rank = xstrdup(b->leader_rank);
	w->called_by = xstrdup(r->client->id);
	w->headcount = b->headcount;
	w->blown_ms = now;
	w->deadline_ms = now + (int64_t)b->deadline_s * 1000;
	grace = (int64_t)b->deadline_s * 1000;
	w->close_ms =
	    w->deadline_ms + (grace < WHISTLE_GRACE_MAX_MS ? grace : WHISTLE_GRACE_MAX_MS);
	w->incident_id = b->incident_id;
	w->exercise = r->env->exercise;
	w->depts = xcalloc(b->n_departments, sizeof *w->depts);
	w->n_depts = b->n_departments;
	for (i = 0; i < b->n_departments; i++)
		w->depts[i].department = xstrdup(b->departments[i]);
	if (store_insert_whistle(r->d->store, w) != 0 ||
	    daemon_emit(r->d, r->client->id, "whistle.blown", w->incident_id, w->exercise,
			whistle_json(w)) != 0) {
		code = request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the whistle; nothing was changed");
		goto out;
	}
	for (i = 0; i < w->n_depts; i++)
		whistle_call(r->d, w, w->depts[i].department);
	log_info("whistle: #%" PRIu64 " blown at %s by %s, %zu departments", w->id, w->place,
		 r->client->id, w->n_depts);
	whistle_reply(r, w);
out:
	whistle_free(w);
	return code;
}

int
whistle_get(struct request *r)
{
	struct whistle *w = NULL;
	int rc = store_get_whistle(r->d->store, r->env->get_whistle->id, &w);

	if (rc < 0)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not read the whistle");
	if (rc == 0)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "id", "no whistle #%llu",
				    (unsigned long long)r->env->get_whistle->id);
	whistle_reply(r, w);
	whistle_free(w);
	return 0;
}

/* Publishes W's compliance and closes it. */
static int
whistle_publish(struct daemon *d, struct whistle *w)
{
	json_t *b = whistle_json(w);
	size_t i;
	int on_time = 0, late = 0, absent = 0, met = 0;

	for (i = 0; i < w->n_depts; i++) {
		on_time += w->depts[i].status == WHISTLE_ON_TIME;
		late += w->depts[i].status == WHISTLE_LATE;
		absent += w->depts[i].status == WHISTLE_ABSENT;
		met += w->depts[i].status == WHISTLE_ON_TIME && w->depts[i].rank_met &&
		       w->depts[i].headcount_met;
	}
	json_object_set_new(b, "on_time", json_integer(on_time));
	json_object_set_new(b, "late", json_integer(late));
	json_object_set_new(b, "absent", json_integer(absent));
	json_object_set_new(b, "fully_met", json_integer(met));
	w->closed = 1;
	return store_close_whistle(d->store, w->id) == 0 &&
		       daemon_emit(d, "musterd", "whistle.compliance", w->incident_id, w->exercise,
				   b) == 0
		   ? 0
		   : -1;
}

int
whistle_arrival(struct request *r)
{
	const Muster__WhistleArrival *a = r->env->whistle_arrival;
	struct whistle *w = NULL;
	struct whistle_dept *wd = NULL;
	const char *dept;
	int64_t now = util_wall_ms();
	size_t i;
	int rc, all = 1, code = 0;
	json_t *b;

	if (r->client->department < 0)
		return request_fail(r, MUSTER__ERROR_CODE__FORBIDDEN, NULL,
				    "only a department's agent reports arrival");
	dept = r->d->cfg->roster->departments[r->client->department].id;
	rc = store_get_whistle(r->d->store, a->whistle_id, &w);
	if (rc <= 0)
		return rc < 0 ? request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					     "could not read the whistle")
			      : request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "whistle_id",
					     "no whistle #%llu", (unsigned long long)a->whistle_id);
	for (i = 0; i < w->n_depts; i++)
		if (strcmp(w->depts[i].department, dept) == 0)
			wd = &w->depts[i];
	if (wd == NULL) {
		code = request_fail(r, MUSTER__ERROR_CODE__NOT_YOURS, "whistle_id",
				    "whistle #%llu did not call %s",
				    (unsigned long long)a->whistle_id, dept);
		goto out;
	}
	if (w->closed || wd->status != WHISTLE_CALLED) {
		code = request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "whistle_id",
				    "%s is already recorded %s for whistle #%llu", dept,
				    whistle_status_name(wd->status),
				    (unsigned long long)a->whistle_id);
		goto out;
	}
	if (a->headcount < 0 || a->headcount > 100000) {
		code = request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "headcount",
				    "headcount out of range");
		goto out;
	}
	wd->status = now <= w->deadline_ms ? WHISTLE_ON_TIME : WHISTLE_LATE;
	wd->arrived_ms = now;
	free(wd->rank);
	wd->rank = xstrdup(a->leader_rank ? a->leader_rank : "");
	wd->headcount = a->headcount;
	wd->rank_met = whistle_rank_index(wd->rank) >= whistle_rank_index(w->rank);
	wd->headcount_met = a->headcount >= w->headcount;
	b = json_object();
	json_object_set_new(b, "whistle", json_integer((json_int_t)w->id));
	json_object_set_new(b, "department", json_string(dept));
	json_object_set_new(b, "status", json_string(whistle_status_name(wd->status)));
	json_object_set_new(b, "late_ms",
			    json_integer(now > w->deadline_ms ? now - w->deadline_ms : 0));
	json_object_set_new(b, "rank", json_string(wd->rank));
	json_object_set_new(b, "rank_met", json_boolean(wd->rank_met));
	json_object_set_new(b, "headcount", json_integer(wd->headcount));
	json_object_set_new(b, "headcount_met", json_boolean(wd->headcount_met));
	for (i = 0; i < w->n_depts; i++)
		all &= w->depts[i].status != WHISTLE_CALLED;
	if (store_put_whistle_dept(r->d->store, w->id, wd) != 0 ||
	    daemon_emit(r->d, r->client->id, "whistle.reported", w->incident_id, w->exercise, b) !=
		0 ||
	    (all && whistle_publish(r->d, w) != 0)) {
		code = request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the arrival");
		goto out;
	}
	daemon_ack(r, MUSTER__ERROR_CODE__OK, whistle_status_name(wd->status));
out:
	whistle_free(w);
	return code;
}

int64_t
whistle_next_due(struct daemon *d)
{
	uint64_t *ids = NULL;
	size_t n = 0, i;
	int64_t t = INT64_MAX;

	if (store_open_whistles(d->store, &ids, &n) != 0)
		return util_wall_ms(); /* cannot tell: due now */
	for (i = 0; i < n; i++) {
		struct whistle *w = NULL;

		if (store_get_whistle(d->store, ids[i], &w) <= 0) {
			t = util_wall_ms();
		} else if (w->close_ms < t) {
			t = w->close_ms;
		}
		whistle_free(w);
	}
	free(ids);
	return t;
}

void
whistle_tick(struct daemon *d)
{
	uint64_t *ids = NULL;
	size_t n = 0, i, k;
	int64_t now = util_wall_ms();

	if (store_open_whistles(d->store, &ids, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		struct whistle *w = NULL;
		int failed = 0;

		if (store_get_whistle(d->store, ids[i], &w) <= 0 || now < w->close_ms) {
			whistle_free(w);
			continue;
		}
		if (store_savepoint(d->store) != 0) {
			whistle_free(w);
			break;
		}
		for (k = 0; k < w->n_depts && !failed; k++) {
			struct whistle_dept *wd = &w->depts[k];
			char text[256];
			json_t *b;

			if (wd->status != WHISTLE_CALLED)
				continue;
			wd->status = WHISTLE_ABSENT;
			b = json_object();
			json_object_set_new(b, "whistle", json_integer((json_int_t)w->id));
			json_object_set_new(b, "department", json_string(wd->department));
			snprintf(text, sizeof text,
				 "%s did not report to the whistle #%" PRIu64 " at %s: %s",
				 wd->department, w->id, w->place, w->matter);
			failed =
			    store_put_whistle_dept(d->store, w->id, wd) != 0 ||
			    daemon_emit(d, "musterd", "whistle.absent", w->incident_id, w->exercise,
					b) != 0 ||
			    muster_notify_department(d, wd->department, w->incident_id, w->exercise,
						     "whistle_absent", 0, NULL, text) != 0;
		}
		if (failed || whistle_publish(d, w) != 0)
			store_rollback_to(d->store);
		else
			store_release(d->store);
		whistle_free(w);
	}
	free(ids);
}
