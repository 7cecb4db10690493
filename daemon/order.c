/* order: the lifecycle of one order. Every change is written to the orders table and the
 * timeline in the current unit of work; messages to agents leave after the commit (bus). */
#include "order.h"
#include "agents.h"
#include "daemon.h"
#include "log.h"
#include "muster.h"
#include "store.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ORDER_RESEND_MAX_MS 16000 /* re-sends back off 1, 2, 4, 8, 16, 16 ... s */

struct orders {
	struct order **v; /* by increasing id */
	size_t n, cap;
};

void
order_free(struct order *o)
{
	if (o == NULL)
		return;
	free(o->member_id);
	free(o->agent);
	free(o->slot);
	free(o->group);
	free(o->role);
	free(o->department);
	free(o->kind);
	free(o);
}

int
order_status_final(int status)
{
	return status == MUSTER__ORDER_STATUS__ORDER_DECLINED ||
	       status == MUSTER__ORDER_STATUS__ORDER_CLEARED ||
	       status == MUSTER__ORDER_STATUS__ORDER_REASSIGNED ||
	       status == MUSTER__ORDER_STATUS__ORDER_CANCELLED;
}

int
order_holds(const struct order *o)
{
	return !order_status_final(o->status);
}

const char *
order_status_name(int status)
{
	static const char *const names[] = {
	    "unspecified", "pending",  "sent",	  "received",	"accepted",  "declined",
	    "en_route",	   "on_scene", "cleared", "reassigned", "cancelled",
	};

	return status >= 0 && status <= 10 ? names[status] : "unknown";
}

int
order_transition_ok(int from, int to)
{
	enum {
		P = MUSTER__ORDER_STATUS__ORDER_PENDING,
		S = MUSTER__ORDER_STATUS__ORDER_SENT,
		R = MUSTER__ORDER_STATUS__ORDER_RECEIVED,
		A = MUSTER__ORDER_STATUS__ORDER_ACCEPTED,
		D = MUSTER__ORDER_STATUS__ORDER_DECLINED,
		E = MUSTER__ORDER_STATUS__ORDER_EN_ROUTE,
		O = MUSTER__ORDER_STATUS__ORDER_ON_SCENE,
		C = MUSTER__ORDER_STATUS__ORDER_CLEARED,
	};

	/* What an agent may report; the daemon's own moves (sent, reassigned, cancelled)
	 * do not pass through here. A pending order can be answered when an earlier send
	 * reached the agent before a restart. */
	switch (from) {
	case P:
	case S:
	case R:
		return to == R || to == A || to == D;
	case A:
		return to == E || to == O;
	case E:
		return to == O;
	case O:
		return to == C;
	default:
		return 0;
	}
}

struct orders *
orders_new(void)
{
	return xcalloc(1, sizeof(struct orders));
}

void
orders_free(struct orders *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		order_free(s->v[i]);
	free(s->v);
	free(s);
}

void
orders_add(struct orders *s, struct order *o)
{
	size_t i;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	/* Ids only grow, so this is an append but for orders loaded out of order. */
	for (i = s->n; i > 0 && s->v[i - 1]->id > o->id; i--)
		s->v[i] = s->v[i - 1];
	s->v[i] = o;
	s->n++;
}

struct order *
orders_get(struct orders *s, uint64_t id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid]->id == id)
			return s->v[mid];
		if (s->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
orders_prune(struct orders *s)
{
	size_t i, k = 0;

	for (i = 0; i < s->n; i++) {
		if (order_holds(s->v[i]))
			s->v[k++] = s->v[i];
		else
			order_free(s->v[i]);
	}
	s->n = k;
}

void
orders_each(struct orders *s, void (*fn)(struct order *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		fn(s->v[i], arg);
}

size_t
orders_count(const struct orders *s)
{
	return s->n;
}

struct order *
orders_at(struct orders *s, size_t i)
{
	return s->v[i];
}

/* Returns the JSON body shared by order events. */
static json_t *
order_event_body(const struct order *o)
{
	json_t *b = json_object();

	json_object_set_new(b, "order", json_integer((json_int_t)o->id));
	json_object_set_new(b, "member", json_string(o->member_id));
	json_object_set_new(b, "group", json_string(o->group));
	json_object_set_new(b, "kind", json_string(o->kind));
	json_object_set_new(b, "department", json_string(o->department));
	json_object_set_new(b, "status", json_string(order_status_name(o->status)));
	json_object_set_new(b, "attempt", json_integer(o->attempt));
	return b;
}

/* Puts O back as SAVED was (the unit of work failed), keeping its unit's hold count true. */
static void
order_restore(struct daemon *d, struct order *o, const struct order *saved)
{
	int held_now = order_holds(o);

	*o = *saved;
	if (!held_now && order_holds(o))
		muster_hold(d, o, +1);
	else if (held_now && !order_holds(o))
		muster_hold(d, o, -1);
}

int
order_set_status(struct daemon *d, struct order *o, int status, int64_t now, const char *actor,
		 const char *note)
{
	char kind[40];
	json_t *body;
	int was_holding = order_holds(o);

	o->status = status;
	if (was_holding && !order_holds(o))
		muster_hold(d, o, -1);
	switch (status) {
	case MUSTER__ORDER_STATUS__ORDER_RECEIVED:
		o->received_ms = now;
		o->next_send_ms = 0;
		break;
	case MUSTER__ORDER_STATUS__ORDER_ACCEPTED:
		if (o->received_ms == 0)
			o->received_ms = now;
		o->accepted_ms = now;
		o->next_send_ms = 0;
		break;
	case MUSTER__ORDER_STATUS__ORDER_EN_ROUTE:
		o->en_route_ms = now;
		break;
	case MUSTER__ORDER_STATUS__ORDER_ON_SCENE:
		o->on_scene_ms = now;
		break;
	case MUSTER__ORDER_STATUS__ORDER_CLEARED:
		o->cleared_ms = now;
		break;
	case MUSTER__ORDER_STATUS__ORDER_DECLINED:
	case MUSTER__ORDER_STATUS__ORDER_REASSIGNED:
	case MUSTER__ORDER_STATUS__ORDER_CANCELLED:
		if (o->received_ms == 0 && status == MUSTER__ORDER_STATUS__ORDER_DECLINED)
			o->received_ms = now;
		o->ended_ms = now;
		o->next_send_ms = 0;
		break;
	default:
		break;
	}
	body = order_event_body(o);
	if (note && note[0])
		json_object_set_new(body, "note", json_string(note));
	if (o->delay_reason)
		json_object_set_new(body, "delay_reason", json_integer(o->delay_reason));
	if (status == MUSTER__ORDER_STATUS__ORDER_ON_SCENE && o->ring_deadline_ms) {
		json_object_set_new(body, "ring_deadline_ms", json_integer(o->ring_deadline_ms));
		json_object_set_new(body, "ring_met", json_boolean(now <= o->ring_deadline_ms));
		json_object_set_new(
		    body, "late_ms",
		    json_integer(now > o->ring_deadline_ms ? now - o->ring_deadline_ms : 0));
	}
	snprintf(kind, sizeof kind, "order.%s", order_status_name(status));
	if (store_update_order(d->store, o) != 0 ||
	    daemon_emit(d, actor, kind, o->incident_id, o->exercise, body) != 0)
		return -1;
	return 0;
}

int
order_send(struct daemon *d, struct order *o)
{
	int64_t now = util_wall_ms(), backoff;
	const uint8_t *rid;
	size_t rid_len;

	if (agents_route(d->agents, o->agent, &rid, &rid_len) != 0) {
		/* No session: try again soon; the agent's registration also triggers a send.
		 * The retry time is memory only (a restart resets it), so nothing is written. */
		o->next_send_ms = now + 1000;
		return 0;
	}
	o->attempt++;
	backoff = 1000LL << (o->attempt < 5 ? o->attempt - 1 : 4);
	o->next_send_ms = now + (backoff < ORDER_RESEND_MAX_MS ? backoff : ORDER_RESEND_MAX_MS);
	if (muster_send_order(d, o) != 0)
		return -1;
	if (o->status == MUSTER__ORDER_STATUS__ORDER_PENDING) {
		o->sent_ms = now;
		return order_set_status(d, o, MUSTER__ORDER_STATUS__ORDER_SENT, now, "musterd",
					NULL);
	}
	return store_update_order(d->store, o);
}

int
order_report(struct request *r)
{
	int receipt = r->env->body_case == MUSTER__ENVELOPE__BODY_RECEIPT;
	uint64_t id = receipt ? r->env->receipt->order_id : r->env->status->order_id;
	int to = receipt ? MUSTER__ORDER_STATUS__ORDER_RECEIVED : (int)r->env->status->status;
	struct order *o = orders_get(r->d->orders, id), saved;
	int64_t now = util_wall_ms();
	uint64_t incident;

	if (o == NULL)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_FOUND, "order_id",
				    "no active order #%" PRIu64
				    " (unknown, or already declined, cleared, reassigned or "
				    "cancelled)",
				    id);
	if (strcmp(o->agent, r->client->id) != 0)
		return request_fail(r, MUSTER__ERROR_CODE__NOT_YOURS, "order_id",
				    "order #%" PRIu64 " is not yours", id);
	if (order_status_final(o->status))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "order_id",
				    "order #%" PRIu64 " is %s", id, order_status_name(o->status));
	saved = *o;
	if (!receipt && r->env->status->delay_reason) {
		if (r->env->status->delay_reason > MUSTER__DELAY_REASON__DELAY_OTHER)
			return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "delay_reason",
					    "unknown delay reason %d",
					    (int)r->env->status->delay_reason);
		o->delay_reason = (int)r->env->status->delay_reason;
	}
	if (to == o->status || (receipt && o->status > MUSTER__ORDER_STATUS__ORDER_RECEIVED)) {
		/* Nothing new (a repeated receipt, or a delay reason alone). */
		if (!receipt && r->env->status->delay_reason &&
		    order_set_status(r->d, o, o->status, now, r->client->id,
				     r->env->status->note) != 0) {
			order_restore(r->d, o, &saved);
			return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					    "could not record the report");
		}
		daemon_ack(r, MUSTER__ERROR_CODE__OK, "recorded");
		return 0;
	}
	if (!order_transition_ok(o->status, to))
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, "status",
				    "order #%" PRIu64 " cannot go from %s to %s", id,
				    order_status_name(o->status), order_status_name(to));
	incident = o->incident_id;
	if (order_set_status(r->d, o, to, now, r->client->id,
			     receipt ? NULL : r->env->status->note) != 0 ||
	    (to == MUSTER__ORDER_STATUS__ORDER_DECLINED &&
	     muster_fill(r->d, incident, "musterd") != 0)) {
		order_restore(r->d, o, &saved); /* the savepoint undoes the rows */
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the report");
	}
	daemon_ack(r, MUSTER__ERROR_CODE__OK, "recorded");
	return 0;
}

/* Takes O away from a silent member: reassigned, the supervisor told. */
static int
order_reassign(struct daemon *d, struct order *o, const char *why, const char *text)
{
	if (order_set_status(d, o, MUSTER__ORDER_STATUS__ORDER_REASSIGNED, util_wall_ms(),
			     "musterd", why) != 0)
		return -1;
	return muster_notify(d, o, why, text);
}

/* What the clock asks of one order; returns 1 when its place fell vacant, -1 on error. */
static int
order_due(struct daemon *d, struct order *o, int64_t now)
{
	char text[256];

	if (!order_holds(o))
		return 0;
	if ((o->status == MUSTER__ORDER_STATUS__ORDER_PENDING ||
	     o->status == MUSTER__ORDER_STATUS__ORDER_SENT) &&
	    o->receipt_deadline_ms && now >= o->receipt_deadline_ms) {
		snprintf(text, sizeof text, "%s did not confirm order #%" PRIu64 " in time",
			 o->member_id, o->id);
		return order_reassign(d, o, "no_receipt", text) == 0 ? 1 : -1;
	}
	if (o->status == MUSTER__ORDER_STATUS__ORDER_RECEIVED && o->accept_deadline_ms &&
	    now >= o->accept_deadline_ms) {
		snprintf(text, sizeof text, "%s did not accept order #%" PRIu64 " in time",
			 o->member_id, o->id);
		return order_reassign(d, o, "not_accepted", text) == 0 ? 1 : -1;
	}
	if (o->ring_deadline_ms && !o->ring_reported && o->on_scene_ms == 0 &&
	    now > o->ring_deadline_ms) {
		json_t *b = order_event_body(o);

		o->ring_reported = 1;
		json_object_set_new(b, "ring_deadline_ms", json_integer(o->ring_deadline_ms));
		json_object_set_new(b, "late_ms", json_integer(now - o->ring_deadline_ms));
		snprintf(text, sizeof text, "%s (%s) not on scene within its ring", o->member_id,
			 o->kind);
		if (store_update_order(d->store, o) != 0 ||
		    daemon_emit(d, "musterd", "ring.missed", o->incident_id, o->exercise, b) != 0 ||
		    muster_notify(d, o, "ring_missed", text) != 0)
			return -1;
	}
	if ((o->status == MUSTER__ORDER_STATUS__ORDER_PENDING ||
	     o->status == MUSTER__ORDER_STATUS__ORDER_SENT) &&
	    o->next_send_ms && now >= o->next_send_ms && order_send(d, o) != 0)
		return -1;
	return 0;
}

/* Returns 1 when the clock has something for O now (cheap: no SQL). */
static int
order_is_due(const struct order *o, int64_t now)
{
	int unconfirmed = o->status == MUSTER__ORDER_STATUS__ORDER_PENDING ||
			  o->status == MUSTER__ORDER_STATUS__ORDER_SENT;

	if (!order_holds(o))
		return 0;
	return (unconfirmed && ((o->receipt_deadline_ms && now >= o->receipt_deadline_ms) ||
				(o->next_send_ms && now >= o->next_send_ms))) ||
	       (o->status == MUSTER__ORDER_STATUS__ORDER_RECEIVED && o->accept_deadline_ms &&
		now >= o->accept_deadline_ms) ||
	       (o->ring_deadline_ms && !o->ring_reported && o->on_scene_ms == 0 &&
		now > o->ring_deadline_ms);
}

/* Returns the earliest time the clock has something for O (INT64_MAX: nothing); the
 * counterpart of order_is_due. */
static int64_t
order_due_at(const struct order *o)
{
	int64_t t = INT64_MAX;

	if (!order_holds(o))
		return t;
	if (o->status == MUSTER__ORDER_STATUS__ORDER_PENDING ||
	    o->status == MUSTER__ORDER_STATUS__ORDER_SENT) {
		if (o->receipt_deadline_ms && o->receipt_deadline_ms < t)
			t = o->receipt_deadline_ms;
		if (o->next_send_ms && o->next_send_ms < t)
			t = o->next_send_ms;
	}
	if (o->status == MUSTER__ORDER_STATUS__ORDER_RECEIVED && o->accept_deadline_ms &&
	    o->accept_deadline_ms < t)
		t = o->accept_deadline_ms;
	if (o->ring_deadline_ms && !o->ring_reported && o->on_scene_ms == 0 &&
	    o->ring_deadline_ms + 1 < t)
		t = o->ring_deadline_ms + 1; /* due when the clock is past it */
	return t;
}

int64_t
order_next_due(struct daemon *d)
{
	int64_t t = INT64_MAX;
	size_t i;

	for (i = 0; i < orders_count(d->orders); i++) {
		int64_t u = order_due_at(orders_at(d->orders, i));

		if (u < t)
			t = u;
	}
	return t;
}

void
order_tick(struct daemon *d)
{
	int64_t now = util_wall_ms();
	uint64_t *vacated = NULL;
	size_t i, n = 0, k;

	for (i = 0; i < orders_count(d->orders); i++) {
		struct order *o = orders_at(d->orders, i), saved = *o;
		int rc;

		if (!order_is_due(o, now))
			continue; /* most orders, most ticks: no savepoint, no SQL */
		if (store_savepoint(d->store) != 0)
			break;
		rc = order_due(d, o, now);
		if (rc < 0) {
			store_rollback_to(d->store);
			order_restore(d, o, &saved);
			log_warnx("order: #%" PRIu64 ": could not record what time asked", o->id);
			continue;
		}
		if (store_release(d->store) != 0)
			continue;
		if (rc == 1) {
			vacated = xrealloc(vacated, (n + 1) * sizeof *vacated);
			vacated[n++] = o->incident_id;
		}
	}
	orders_prune(d->orders);
	for (i = 0; i < n; i++) {
		for (k = 0; k < i && vacated[k] != vacated[i]; k++)
			;
		if (k < i)
			continue; /* this incident was refilled already */
		if (store_savepoint(d->store) != 0)
			break;
		if (muster_fill(d, vacated[i], "musterd") != 0)
			store_rollback_to(d->store);
		else
			store_release(d->store);
	}
	free(vacated);
}

void
order_agent_back(struct daemon *d, const char *agent)
{
	size_t i;

	for (i = 0; i < orders_count(d->orders); i++) {
		struct order *o = orders_at(d->orders, i);

		if ((o->status == MUSTER__ORDER_STATUS__ORDER_PENDING ||
		     o->status == MUSTER__ORDER_STATUS__ORDER_SENT) &&
		    strcmp(o->agent, agent) == 0 && order_send(d, o) != 0)
			log_warnx("order: #%" PRIu64 ": re-send to %s failed", o->id, agent);
	}
}
