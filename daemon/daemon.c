/* daemon: every message goes decode -> authorise -> handler (inside a savepoint) -> events
 * and queued replies; a low-priority event then commits the whole iteration's work in one
 * transaction and only after that releases the replies, orders and feed events. */
#include "daemon.h"
#include "agents.h"
#include "auth.h"
#include "blind.h"
#include "incident.h"
#include "log.h"
#include "muster.h"
#include "nearest.h"
#include "order.h"
#include "whistle.h"
#include "store.h"
#include "util.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <zmq.h>

/* A snapshot asked for in this loop iteration: taken after the commit, then answered. */
struct snapshot_req {
	char *path;
	enum bus_socket which;
	uint8_t rid[BUS_RID_MAX];
	size_t rid_len;
	uint64_t corr;
};

static int daemon_snapshot(struct request *r);

/* One row of the dispatch table. */
struct handler {
	int body;	      /* envelope body case */
	enum bus_socket sock; /* the socket it must arrive on */
	int roles;	      /* roles allowed to send it */
	int writes;	      /* 1: may change state, runs inside a savepoint */
	handler_fn fn;
};

#define STAFF (ROLE_OPERATOR | ROLE_COORDINATOR)
#define READERS (ROLE_OPERATOR | ROLE_COORDINATOR | ROLE_OBSERVER)

static int daemon_advance_clock(struct request *r);
static int daemon_status(struct request *r);
static void daemon_flush_cb(evutil_socket_t fd, short what, void *arg);

static const struct handler daemon_handlers[] = {
    {MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT, BUS_CONTROL, STAFF, 1, incident_submit},
    {MUSTER__ENVELOPE__BODY_UPDATE_INCIDENT, BUS_CONTROL, STAFF, 1, incident_update},
    {MUSTER__ENVELOPE__BODY_CLOSE_INCIDENT, BUS_CONTROL, STAFF, 1, incident_close},
    {MUSTER__ENVELOPE__BODY_GET_INCIDENT, BUS_CONTROL, READERS, 0, incident_get},
    {MUSTER__ENVELOPE__BODY_LIST_INCIDENTS, BUS_CONTROL, READERS, 0, incident_list},
    {MUSTER__ENVELOPE__BODY_SET_TIER, BUS_CONTROL, STAFF, 1, incident_set_tier},
    {MUSTER__ENVELOPE__BODY_UNLINK_INCIDENT, BUS_CONTROL, STAFF, 1, incident_unlink},
    {MUSTER__ENVELOPE__BODY_DIVERT_INCIDENT, BUS_CONTROL, STAFF, 1, incident_divert},
    {MUSTER__ENVELOPE__BODY_REGISTER, BUS_AGENTS, ROLE_AGENT, 1, agents_register},
    {MUSTER__ENVELOPE__BODY_HEARTBEAT, BUS_AGENTS, ROLE_AGENT, 1, agents_heartbeat},
    {MUSTER__ENVELOPE__BODY_RECEIPT, BUS_AGENTS, ROLE_AGENT, 1, agents_report},
    {MUSTER__ENVELOPE__BODY_STATUS, BUS_AGENTS, ROLE_AGENT, 1, agents_report},
    {MUSTER__ENVELOPE__BODY_WHISTLE_ARRIVAL, BUS_AGENTS, ROLE_AGENT, 1, agents_report},
    {MUSTER__ENVELOPE__BODY_BLOW_WHISTLE, BUS_CONTROL, STAFF, 1, whistle_blow},
    {MUSTER__ENVELOPE__BODY_GET_WHISTLE, BUS_CONTROL, READERS, 0, whistle_get},
    {MUSTER__ENVELOPE__BODY_SNAPSHOT, BUS_CONTROL, READERS, 0, daemon_snapshot},
    {MUSTER__ENVELOPE__BODY_ADVANCE_CLOCK, BUS_CONTROL, ROLE_COORDINATOR, 0, daemon_advance_clock},
    {MUSTER__ENVELOPE__BODY_ARM_DRILL, BUS_CONTROL, ROLE_COORDINATOR, 1, blind_arm},
    {MUSTER__ENVELOPE__BODY_GET_DRILL, BUS_CONTROL, ROLE_COORDINATOR, 0, blind_get},
    {MUSTER__ENVELOPE__BODY_ABORT_DRILL, BUS_CONTROL, ROLE_COORDINATOR, 1, blind_abort},
    {MUSTER__ENVELOPE__BODY_GET_STATUS, BUS_CONTROL, READERS, 0, daemon_status},
};

uint64_t
daemon_next_seq(struct daemon *d)
{
	return ++d->out_seq;
}

/* daemon_next_seq for bus_fail_batch. */
static uint64_t
daemon_next_seq_cb(void *arg)
{
	return daemon_next_seq(arg);
}

/* Storage failed under a unit of work: the in-memory orders and musters may hold what was
 * rolled back. They are derived state, so rebuild them from the store. */
void
daemon_resync(struct daemon *d)
{
	orders_free(d->orders);
	d->orders = orders_new();
	muster_free(d->muster);
	d->muster = muster_new();
	if (muster_load(d) != 0)
		log_warnx("daemon: cannot reload orders after a storage failure; they are "
			  "reloaded at the next start");
	agents_reload_state(d->agents, d);
	if (blind_load(d) != 0)
		log_warnx("daemon: cannot reload the drills after a storage failure");
}

/* The answer to a change refused because storage failed (store_fault says how), written to
 * BUF of SIZE when it needs formatting. */
static const char *
daemon_storage_text(struct daemon *d, char *buf, size_t size)
{
	const char *detail = NULL;

	switch (store_fault(d->store, &detail)) {
	case STORE_FAULT_FULL:
		return "the database is full: nothing was changed; changes are accepted again once "
		       "space is freed";
	case STORE_FAULT_NONE:
		return "storage is unavailable: nothing was changed; try again";
	default:
		snprintf(buf, size, "storage error (%s): nothing was changed; try again", detail);
		return buf;
	}
}

/* REFUSED changes were refused because storage failed: the first refusal of a fault is
 * logged as a warning, then a reminder once a minute while it lasts. */
static void
daemon_storage_failed(struct daemon *d, uint64_t refused)
{
	struct storage_fault *f = &d->fault;
	int64_t now = util_mono_ns();
	const char *detail = NULL;
	char what[160];

	if (store_fault(d->store, &detail) == STORE_FAULT_FULL)
		snprintf(what, sizeof what, "the database is full");
	else
		snprintf(what, sizeof what, "storage error (%s)", detail);
	f->refused += refused;
	if (!f->down) {
		f->down = 1;
		f->since_ns = f->told_ns = now;
		log_warnx("daemon: %s: changes are refused (UNAVAILABLE) until one commits "
			  "again; reads are served",
			  what);
	} else if (now - f->told_ns >= 60 * INT64_C(1000000000)) {
		f->told_ns = now;
		log_warnx("daemon: %s for %lld s: %llu requests refused so far", what,
			  (long long)((now - f->since_ns) / 1000000000),
			  (unsigned long long)f->refused);
	}
}

/* A change committed: a storage fault, if there was one, is over. */
static void
daemon_storage_ok(struct daemon *d)
{
	struct storage_fault *f = &d->fault;

	if (!f->down)
		return;
	log_info("daemon: storage works again after %.1f s; %llu requests were refused "
		 "meanwhile, none half-made",
		 (double)(util_mono_ns() - f->since_ns) / 1e9, (unsigned long long)f->refused);
	memset(f, 0, sizeof *f);
}

/* Makes sure the flush runs at the end of this loop iteration. */
static void
daemon_schedule_flush(struct daemon *d)
{
	if (!event_pending(d->flush_ev, EV_TIMEOUT, NULL))
		event_active(d->flush_ev, EV_TIMEOUT, 0);
}

int
request_fail(struct request *r, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(r->err_field, sizeof r->err_field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(r->err_msg, sizeof r->err_msg, fmt, ap);
	va_end(ap);
	return code;
}

/* Queues an error reply to the sender of M. */
static void
daemon_error(struct daemon *d, const struct bus_msg *m, uint64_t corr, int code, const char *field,
	     const char *msg)
{
	size_t len;
	uint8_t *buf = wire_error(daemon_next_seq(d), corr, code, field, msg, &len);

	/* An error holds whatever the batch's commit does: nothing was changed either way. */
	bus_queue_error(d->bus, m->which, m->rid, m->rid_len, buf, len);
	daemon_schedule_flush(d);
}

void
daemon_reply(struct request *r, Envelope *reply)
{
	size_t len;
	uint8_t *buf;

	reply->version = WIRE_VERSION;
	reply->seq = daemon_next_seq(r->d);
	reply->correlation_id = r->env->correlation_id;
	reply->sent_at_ms = util_wall_ms();
	reply->exercise = r->env->exercise;
	buf = wire_pack(reply, &len);
	/* A reply always has a correlation id for bus_fail_batch; 0 would mean "not a reply". */
	bus_queue(r->d->bus, r->msg->which, r->msg->rid, r->msg->rid_len, NULL, buf, len,
		  r->env->correlation_id ? r->env->correlation_id : UINT64_MAX);
}

/* Queues a ReportAck for R's report; see daemon.h. */
void
daemon_ack(struct request *r, int code, const char *msg)
{
	Envelope reply;
	Muster__ReportAck ack;

	muster__envelope__init(&reply);
	muster__report_ack__init(&ack);
	ack.acked_seq = r->env->seq;
	ack.code = (Muster__ErrorCode)code;
	ack.message = (char *)msg;
	reply.body_case = MUSTER__ENVELOPE__BODY_REPORT_ACK;
	reply.report_ack = &ack;
	daemon_reply(r, &reply);
}

void
daemon_send_agent(struct daemon *d, const uint8_t *rid, size_t rid_len, Envelope *e)
{
	size_t len;
	uint8_t *buf;

	e->version = WIRE_VERSION;
	e->seq = daemon_next_seq(d);
	e->sent_at_ms = util_wall_ms();
	buf = wire_pack(e, &len);
	bus_queue(d->bus, BUS_AGENTS, rid, rid_len, NULL, buf, len, 0);
}

int
daemon_emit(struct daemon *d, const char *actor, const char *kind, uint64_t incident_id,
	    int exercise, json_t *body)
{
	struct tl_event ev = {0};
	char *text = json_dumps(body, MUSTER_JSON_FLAGS);
	Envelope e;
	Muster__Event fe;
	uint8_t *buf;
	size_t len;
	int rc = -1;

	json_decref(body);
	if (text == NULL)
		return -1;
	ev.wall_ms = util_wall_ms();
	ev.mono_ns = util_mono_ns();
	ev.actor = actor;
	ev.kind = kind;
	ev.incident_id = incident_id;
	ev.exercise = exercise;
	ev.body = text;
	if (store_append(d->store, &ev) != 0)
		goto out;
	wire_init(&e, daemon_next_seq(d), 0, exercise);
	muster__event__init(&fe);
	fe.seq = ev.seq;
	fe.wall_ms = ev.wall_ms;
	fe.mono_ns = ev.mono_ns;
	fe.actor = (char *)actor;
	fe.kind = (char *)kind;
	fe.incident_id = incident_id;
	fe.exercise = exercise != 0;
	fe.body_json = text;
	fe.hash.data = ev.hash;
	fe.hash.len = sizeof ev.hash;
	e.body_case = MUSTER__ENVELOPE__BODY_EVENT;
	e.event = &fe;
	buf = wire_pack(&e, &len);
	bus_queue(d->bus, BUS_FEED, NULL, 0, kind, buf, len, 0);
	d->writes_since_checkpoint++;
	rc = 0;
out:
	free(text);
	return rc;
}

/* Returns the dispatch table row for BODY, or NULL. */
static const struct handler *
daemon_handler(int body)
{
	size_t i;

	for (i = 0; i < sizeof daemon_handlers / sizeof daemon_handlers[0]; i++)
		if (daemon_handlers[i].body == body)
			return &daemon_handlers[i];
	return NULL;
}

/* Every message from a ROUTER socket arrives here, already authenticated by CURVE + ZAP. */
static void
daemon_msg_cb(const struct bus_msg *m, void *arg)
{
	struct daemon *d = arg;
	struct request r;
	const struct handler *h;
	Envelope *env;
	const char *why = NULL;
	int code = 0;
	size_t mark;

	memset(&r, 0, sizeof r);
	r.d = d;
	r.msg = m;
	d->batch_messages++;
	env = wire_decode(m->data, m->len, &code, &why);
	if (env == NULL) {
		static struct log_limit bad = {.what = "bad frames"};

		log_warnx_limited(&bad, "daemon: %s: bad frame of %zu bytes: %s", m->user_id,
				  m->len, why);
		daemon_error(d, m, 0, code, NULL, why);
		goto out;
	}
	r.env = env;
	r.client = cfg_client_by_id(d->cfg, m->user_id);
	if (r.client == NULL) {
		/* Admitted under a key that a reload has since removed. */
		static struct log_limit gone = {.what = "messages under removed keys"};

		log_warnx_limited(&gone, "daemon: message from %s refused: key no longer enrolled",
				  m->user_id);
		daemon_error(d, m, env->correlation_id, MUSTER__ERROR_CODE__FORBIDDEN, NULL,
			     "your key is no longer enrolled");
		goto out;
	}
	h = daemon_handler(env->body_case);
	if (h == NULL || h->sock != m->which) {
		daemon_error(d, m, env->correlation_id, MUSTER__ERROR_CODE__BAD_REQUEST, NULL,
			     h ? "this message is not accepted on this socket"
			       : "unknown message type");
		goto out;
	}
	if (!(h->roles & (int)r.client->role)) {
		static struct log_limit role = {.what = "messages refused for their role"};

		log_warnx_limited(&role, "daemon: %s (%s) may not send %s", m->user_id,
				  cfg_role_name(r.client->role), wire_body_name(env->body_case));
		daemon_error(d, m, env->correlation_id, MUSTER__ERROR_CODE__FORBIDDEN, NULL,
			     "your role may not send this request");
		goto out;
	}
	mark = bus_mark(d->bus);
	if (h->writes && store_savepoint(d->store) != 0) {
		daemon_storage_failed(d, 1);
		daemon_error(d, m, env->correlation_id, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
			     daemon_storage_text(d, r.err_msg, sizeof r.err_msg));
		goto out;
	}
	code = h->fn(&r);
	/* A read before any change kept in this batch saw only committed data: its answer
	 * holds whatever the commit does, so reads are served while storage fails. */
	if (code == 0 && !h->writes && store_batch_kept(d->store) == 0)
		bus_keep_from(d->bus, mark);
	if (code == 0 && h->writes &&
	    store_put_input(d->store, util_wall_ms(), (int)m->which, m->user_id,
			    r.input_compact ? NULL : m->data, r.input_compact ? 0 : m->len) != 0)
		code = request_fail(&r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
				    "could not record the request");
	if (code != 0) {
		if (h->writes)
			store_rollback_to(d->store);
		if (h->writes && code == MUSTER__ERROR_CODE__UNAVAILABLE) {
			daemon_resync(d);
			/* Storage failed under it: say how, and that nothing was changed. */
			if (store_fault(d->store, NULL) != STORE_FAULT_NONE) {
				char text[sizeof r.err_msg];

				log_debug("daemon: %s: %s", wire_body_name(env->body_case),
					  r.err_msg);
				snprintf(r.err_msg, sizeof r.err_msg, "%s",
					 daemon_storage_text(d, text, sizeof text));
				daemon_storage_failed(d, 1);
			}
		}
		bus_discard_from(d->bus, mark);
		log_debug("daemon: %s %s refused: %s: %s", m->user_id,
			  wire_body_name(env->body_case), wire_code_name(code), r.err_msg);
		daemon_error(d, m, env->correlation_id, code, r.err_field, r.err_msg);
	} else if (h->writes && store_release(d->store) != 0) {
		bus_discard_from(d->bus, mark);
		daemon_storage_failed(d, 1);
		daemon_error(d, m, env->correlation_id, MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
			     daemon_storage_text(d, r.err_msg, sizeof r.err_msg));
	}
	daemon_schedule_flush(d);
out:
	wire_free(env);
	if (d->batch_messages >= DAEMON_BATCH_MAX)
		daemon_flush_cb(-1, 0, d); /* the scheduled flush finds nothing left to do */
}

/* Checks a snapshot request and records it; the copy is made after this iteration's commit,
 * so that it holds only committed work and never a half-made batch. */
static int
daemon_snapshot(struct request *r)
{
	const char *name = r->env->snapshot->name, *p;
	struct snapshot_req *q;
	struct stat st;
	char *path;

	if (name == NULL || name[0] == '\0' || name[0] == '.' || strlen(name) > 100)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "name",
				    "give a plain file name (1 to 100 of A-Z a-z 0-9 . _ -)");
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return request_fail(
			    r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "name",
			    "give a plain file name (1 to 100 of A-Z a-z 0-9 . _ -)");
	if (mkdir(r->d->cfg->snapshot_dir, 0750) != 0 && errno != EEXIST)
		return request_fail(r, MUSTER__ERROR_CODE__UNAVAILABLE, NULL, "%s: %s",
				    r->d->cfg->snapshot_dir, strerror(errno));
	path = xasprintf("%s/%s", r->d->cfg->snapshot_dir, name);
	if (stat(path, &st) == 0) {
		free(path);
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "name",
				    "%s exists; snapshots never overwrite", name);
	}
	r->d->snapshots = xrealloc(r->d->snapshots, (r->d->n_snapshots + 1) * sizeof *q);
	q = &r->d->snapshots[r->d->n_snapshots++];
	memset(q, 0, sizeof *q);
	q->path = path;
	q->which = r->msg->which;
	memcpy(q->rid, r->msg->rid, r->msg->rid_len);
	q->rid_len = r->msg->rid_len;
	q->corr = r->env->correlation_id ? r->env->correlation_id : UINT64_MAX;
	return 0;
}

/* Takes the snapshots asked for (the batch has committed, or FAILED says it did not) and
 * queues their answers. */
static void
daemon_take_snapshots(struct daemon *d, int failed)
{
	size_t i;

	for (i = 0; i < d->n_snapshots; i++) {
		struct snapshot_req *q = &d->snapshots[i];
		uint64_t events = 0;
		char *err = NULL;
		uint8_t *buf;
		size_t len;

		if (failed || store_snapshot(d->store, q->path, &events, &err) != 0) {
			log_warnx("daemon: snapshot %s: %s", q->path, err ? err : "batch failed");
			buf = wire_error(daemon_next_seq(d), q->corr,
					 MUSTER__ERROR_CODE__UNAVAILABLE, NULL,
					 err ? err : "the batch did not commit; try again", &len);
		} else {
			Envelope e;
			Muster__SnapshotReply sr;
			struct stat st;

			wire_init(&e, daemon_next_seq(d), q->corr, 0);
			muster__snapshot_reply__init(&sr);
			sr.path = q->path;
			sr.events = events;
			sr.bytes = stat(q->path, &st) == 0 ? (uint64_t)st.st_size : 0;
			e.body_case = MUSTER__ENVELOPE__BODY_SNAPSHOT_REPLY;
			e.snapshot_reply = &sr;
			buf = wire_pack(&e, &len);
			log_info("daemon: snapshot %s: %llu events", q->path,
				 (unsigned long long)events);
		}
		bus_queue(d->bus, q->which, q->rid, q->rid_len, NULL, buf, len, 0);
		free(err);
		free(q->path);
	}
	d->n_snapshots = 0;
}

/* Checks an AdvanceClock request and records it; the clock moves after this iteration's
 * commit (see daemon_advance). */
static int
daemon_advance_clock(struct request *r)
{
	struct clock_req *q = &r->d->advance;
	int64_t to = r->env->advance_clock->to_ms;

	if (!util_clock_is_virtual())
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, NULL,
				    "the clock is real: only a drill daemon (musterd -V) advances "
				    "it");
	if (q->pending)
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_STATE, NULL,
				    "an advance is under way; wait for its reply");
	if (to < util_wall_ms())
		return request_fail(r, MUSTER__ERROR_CODE__INVALID_ARGUMENT, "to_ms",
				    "the clock never goes back (it is at %lld)",
				    (long long)util_wall_ms());
	q->pending = 1;
	q->to_ms = to;
	q->which = r->msg->which;
	memcpy(q->rid, r->msg->rid, r->msg->rid_len);
	q->rid_len = r->msg->rid_len;
	q->corr = r->env->correlation_id ? r->env->correlation_id : UINT64_MAX;
	return 0;
}

/* Returns the earliest time a tick has anything to do: an order's deadline or re-send, a
 * whistle's close, a double-blind drill's next step (INT64_MAX: nothing). */
static int64_t
daemon_next_due(struct daemon *d)
{
	int64_t t = order_next_due(d), w = whistle_next_due(d);

	if (w < t)
		t = w;
	if (d->blind_next_ms < t)
		t = d->blind_next_ms;
	return t;
}

/* Moves the virtual clock tick by tick towards the pending advance's target, running each
 * tick's deadlines, and stops after a tick that queued anything for an agent; it does not
 * move while what was sent to agents since the last reply is unreported. Then queues the
 * ClockReply. Runs after a commit, so each tick's work is its own. */
static void
daemon_advance(struct daemon *d)
{
	struct clock_req *q = &d->advance;
	int64_t now = util_wall_ms();
	Muster__ClockReply cr;
	Envelope e;
	uint8_t *buf;
	size_t len;

	q->pending = 0;
	if (bus_count(d->bus, BUS_AGENTS) == d->agent_msgs_reported) {
		int64_t due = daemon_next_due(d);

		while (now < q->to_ms) {
			int writes = d->writes_since_checkpoint;

			/* Ticks before the next due time find nothing to do: skip them, keeping
			 * the ticks' times (and so the timeline) as if each had run. */
			if (due > now + DAEMON_TICK_MS) {
				int64_t k =
				    ((due < q->to_ms ? due : q->to_ms) - now) / DAEMON_TICK_MS;

				if (k > 1)
					now += (k - 1) * DAEMON_TICK_MS;
			}
			now = q->to_ms - now > DAEMON_TICK_MS ? now + DAEMON_TICK_MS : q->to_ms;
			util_clock_set(now);
			daemon_tick_now(d);
			if (bus_count(d->bus, BUS_AGENTS) != d->agent_msgs_reported)
				break;
			/* Again when the tick changed something, and when the time looked at has
			 * passed: a tick can move it without a write (the start of a drill that
			 * was aborted before it), and a stale one made the rest of the advance go
			 * tick by tick (years ahead: 10^9 ticks; found by fuzz/fuzz_envelope). */
			if (d->writes_since_checkpoint != writes || due <= now)
				due = daemon_next_due(d);
		}
	}
	d->agent_msgs_reported = bus_count(d->bus, BUS_AGENTS);
	wire_init(&e, daemon_next_seq(d), q->corr, 0);
	muster__clock_reply__init(&cr);
	cr.now_ms = now;
	cr.agent_messages = d->agent_msgs_reported;
	e.body_case = MUSTER__ENVELOPE__BODY_CLOCK_REPLY;
	e.clock_reply = &cr;
	buf = wire_pack(&e, &len);
	bus_queue(d->bus, (enum bus_socket)q->which, q->rid, q->rid_len, NULL, buf, len, q->corr);
	daemon_schedule_flush(d);
}

/* End of the loop iteration: one commit for everything, then the sends. */
static void
daemon_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval idle = {0, 0};

	gauge_set(&d->gauges, GAUGE_BATCH_MESSAGES, (int64_t)d->batch_messages);
	gauge_set(&d->gauges, GAUGE_BATCH_SENDS, (int64_t)bus_queued(d->bus));
	d->batch_messages = 0;
	if (store_in_batch(d->store)) {
		unsigned kept = store_batch_kept(d->store);
		char text[512];
		const char *why;

		d->batches++;
		if (store_commit(d->store) != 0) {
			d->batch_failures++;
			why = daemon_storage_text(d, text, sizeof text);
			if (d->fault.down)
				log_debug(
				    "daemon: commit failed; the batch's replies become errors");
			else
				log_warnx(
				    "daemon: commit failed; the batch's replies become errors");
			daemon_take_snapshots(d, 1);
			daemon_storage_failed(d,
					      bus_fail_batch(d->bus, daemon_next_seq_cb, d, why));
			daemon_resync(d);
			return;
		}
		if (kept > 0)
			daemon_storage_ok(d);
	}
	daemon_take_snapshots(d, 0);
	bus_release(d->bus);
	if (d->advance.pending)
		daemon_advance(d);
	gauge_set(&d->gauges, GAUGE_WAL_PAGES, store_wal_pages(d->store));
	/* Not only when idle: under steady load there is no idle moment, and the WAL would grow
	 * without end (tests/integration/test_flood.py). */
	if (store_wal_pages(d->store) >= d->cfg->wal_max_pages && store_checkpoint(d->store) == 0)
		d->writes_since_checkpoint = 0;
	if (d->writes_since_checkpoint > 0 || store_wal_pages(d->store) > 0) {
		idle.tv_sec = d->cfg->checkpoint_idle_ms / 1000;
		idle.tv_usec = (d->cfg->checkpoint_idle_ms % 1000) * 1000;
		if (event_add(d->idle_ev, &idle) != 0)
			log_warnx("daemon: cannot arm the checkpoint timer");
	}
}

/* Nothing was written for checkpoint_idle_ms: move the WAL into the database file. */
static void
daemon_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	if (store_checkpoint(d->store) == 0)
		d->writes_since_checkpoint = 0;
}

void
daemon_tick_now(struct daemon *d)
{
	int writes = d->writes_since_checkpoint;

	order_tick(d);
	whistle_tick(d);
	blind_tick(d);
	if (d->writes_since_checkpoint == writes)
		return; /* nothing happened: nothing to replay */
	if (store_savepoint(d->store) != 0 ||
	    store_put_input(d->store, util_wall_ms(), -1, "", NULL, 0) != 0 ||
	    store_release(d->store) != 0) {
		store_rollback_to(d->store);
		log_warnx("daemon: could not record a tick for replay");
	}
}

void
daemon_feed(struct daemon *d, int which, const char *identity, const void *data, size_t len)
{
	struct bus_msg m;

	memset(&m, 0, sizeof m);
	m.which = (enum bus_socket)which;
	m.rid = (const uint8_t *)identity;
	m.rid_len = strlen(identity);
	m.user_id = identity;
	m.data = data;
	m.len = len;
	daemon_msg_cb(&m, d);
}

void
daemon_flush_now(struct daemon *d)
{
	daemon_flush_cb(-1, 0, d);
}

/* Reads the gauges that are not measured as they change. */
static void
daemon_gauges_read(struct daemon *d)
{
	struct gauges *g = &d->gauges;

	gauge_set(g, GAUGE_RSS, gauge_rss_kib());
	gauge_set(g, GAUGE_OPEN_INCIDENTS, (int64_t)muster_open_count(d->muster, NULL));
	gauge_set(g, GAUGE_ACTIVE_ORDERS, (int64_t)orders_count(d->orders));
	gauge_set(g, GAUGE_AGENT_SESSIONS, (int64_t)agents_count(d->agents));
	gauge_set(g, GAUGE_DB_PAGES, store_pages(d->store));
	g->limit[GAUGE_OPEN_INCIDENTS] = d->cfg->max_open_incidents;
	g->limit[GAUGE_DB_PAGES] = d->cfg->max_db_pages;
}

/* Records one resource event in a unit of work of its own. Returns 0 or -1. */
static int
daemon_emit_resource(struct daemon *d, const char *kind, json_t *body)
{
	if (store_savepoint(d->store) != 0) {
		json_decref(body);
		return -1;
	}
	if (daemon_emit(d, "musterd", kind, 0, 0, body) != 0) {
		store_rollback_to(d->store);
		return -1;
	}
	return store_release(d->store);
}

/* Once a minute at most: what a counter of refusals has to tell since it last did. */
static int
daemon_resource_due(uint64_t now_count, uint64_t told, int64_t told_ns, int64_t now_ns)
{
	return now_count > told && (told_ns == 0 || now_ns - told_ns >= 60 * INT64_C(1000000000));
}

/* Tells COUNT refusals at SETTING (LIMIT, after a burst of BURST when not 0) as a
 * resource.limit event for GAUGE and in the log, those since the last time (*TOLD at
 * *TOLD_NS), once a minute at most; NOW is the monotonic clock of this pass. */
static void
daemon_tell_refusals(struct daemon *d, int64_t now, const char *gauge, const char *setting,
		     int limit, int burst, const char *what, uint64_t count, uint64_t *told,
		     int64_t *told_ns)
{
	uint64_t n = count - *told;
	json_t *body;

	if (!daemon_resource_due(count, *told, *told_ns, now))
		return;
	body = json_pack("{s:s, s:I, s:I, s:I}", "gauge", gauge, "limit", (json_int_t)limit,
			 "refused", (json_int_t)n, "refused_total", (json_int_t)count);
	if (body && burst > 0 && json_object_set_new(body, "burst", json_integer(burst)) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body && daemon_emit_resource(d, "resource.limit", body) == 0) {
		log_warnx("daemon: %s (%d) reached: %llu %s refused (RESOURCE_EXHAUSTED) since "
			  "the last report",
			  setting, limit, (unsigned long long)n, what);
		*told = count;
		*told_ns = now;
	}
}

/* Makes growth visible: a gauge whose high-water mark rose by a quarter since it was last told
 * is told as a resource.high_water event; refusals at a limit and sends refused by a full peer
 * queue are told as resource.limit and resource.queue_full, once a minute at most. Not on a
 * virtual clock, whose timelines must come out the same on every run. */
static void
daemon_resources(struct daemon *d)
{
	int64_t now = util_mono_ns(), prev;
	uint64_t full = bus_queue_full(d->bus);
	int g;

	daemon_gauges_read(d);
	if (util_clock_is_virtual())
		return;
	for (g = 0; g < GAUGE_N; g++) {
		struct gauges *s = &d->gauges;
		json_t *body;

		if (!gauge_report_due(s, (enum gauge_id)g, &prev))
			continue;
		body = json_pack("{s:s, s:I, s:I, s:s}", "gauge", gauge_name((enum gauge_id)g),
				 "value", (json_int_t)s->high[g], "previous", (json_int_t)prev,
				 "unit", gauge_unit((enum gauge_id)g));
		if (body && s->limit[g] > 0)
			json_object_set_new(body, "limit", json_integer(s->limit[g]));
		if (body == NULL || daemon_emit_resource(d, "resource.high_water", body) != 0) {
			s->told[g] = prev; /* told again at the next tick */
			continue;
		}
		log_info("daemon: high-water mark: %s %lld %s (was %lld)%s",
			 gauge_name((enum gauge_id)g), (long long)s->high[g],
			 gauge_unit((enum gauge_id)g), (long long)prev,
			 s->limit[g] > 0 ? "; it has a limit" : "");
	}
	daemon_tell_refusals(d, now, "open_incidents", "max_open_incidents",
			     d->cfg->max_open_incidents, 0, "incidents", d->refused_at_limit,
			     &d->limit_told, &d->limit_told_ns);
	daemon_tell_refusals(d, now, "heartbeats", "heartbeat_min_ms", d->cfg->heartbeat_min_ms,
			     AGENTS_HEARTBEAT_BURST, "heartbeats", d->heartbeats_refused,
			     &d->hb_told, &d->hb_told_ns);
	if (daemon_resource_due(full, d->queue_full_told, d->queue_full_told_ns, now)) {
		uint64_t n = full - d->queue_full_told;
		json_t *body =
		    json_pack("{s:I, s:I, s:I}", "refused", (json_int_t)n, "refused_total",
			      (json_int_t)full, "send_hwm", (json_int_t)d->cfg->send_hwm);

		if (body && daemon_emit_resource(d, "resource.queue_full", body) == 0) {
			log_warnx("daemon: %llu messages not sent because a peer's queue was full "
				  "(send_hwm %d); orders are sent again, other replies are lost",
				  (unsigned long long)n, d->cfg->send_hwm);
			d->queue_full_told = full;
			d->queue_full_told_ns = now;
		}
	}
}

/* GetStatus: the gauges as they are now, their high-water marks and limits, and the
 * counters. */
static int
daemon_status(struct request *r)
{
	struct daemon *d = r->d;
	Muster__Gauge gv[GAUGE_N], *gp[GAUGE_N];
	Muster__StatusReply sr;
	Envelope e;
	int g;

	daemon_gauges_read(d);
	gauge_set(&d->gauges, GAUGE_BATCH_MESSAGES, (int64_t)d->batch_messages);
	muster__status_reply__init(&sr);
	for (g = 0; g < GAUGE_N; g++) {
		muster__gauge__init(&gv[g]);
		gv[g].name = (char *)gauge_name((enum gauge_id)g);
		gv[g].unit = (char *)gauge_unit((enum gauge_id)g);
		gv[g].value = d->gauges.value[g];
		gv[g].high_water = d->gauges.high[g];
		gv[g].limit = d->gauges.limit[g];
		gp[g] = &gv[g];
	}
	sr.version = MUSTER_VERSION;
	sr.started_at_ms = d->started_at_ms;
	sr.virtual_clock = util_clock_is_virtual() != 0;
	sr.n_gauges = GAUGE_N;
	sr.gauges = gp;
	sr.batches = d->batches;
	sr.batch_failures = d->batch_failures;
	sr.undelivered = bus_undelivered(d->bus);
	sr.send_queue_full = bus_queue_full(d->bus);
	sr.refused_at_limit = d->refused_at_limit;
	sr.heartbeats_refused = d->heartbeats_refused;
	muster__envelope__init(&e);
	e.body_case = MUSTER__ENVELOPE__BODY_STATUS_REPLY;
	e.status_reply = &sr;
	daemon_reply(r, &e);
	return 0;
}

/* The clock: re-sends, receipt and acceptance deadlines, rings. */
static void
daemon_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	store_maintain(d->store);
	daemon_tick_now(d);
	daemon_resources(d);
	log_limits_flush(0);
	if (store_in_batch(d->store) || bus_pending(d->bus))
		daemon_schedule_flush(d);
}

/* The ZAP policy: which enrolled keys may connect to which socket. */
static const char *
daemon_policy_cb(const char *domain, const uint8_t key[32], void *arg)
{
	struct daemon *d = arg;
	const struct client *c = cfg_client_by_key(d->cfg, key);

	if (c == NULL)
		return NULL;
	if (strcmp(domain, "agents") == 0)
		return c->role == ROLE_AGENT ? c->id : NULL;
	if (strcmp(domain, "control") == 0)
		return c->id; /* every role may ask; each request is authorised by role */
	if (strcmp(domain, "feed") == 0)
		return c->role != ROLE_AGENT ? c->id : NULL;
	return NULL;
}

/* Applies max_db_pages = MAX (0: no limit) and says what is in effect. */
static void
daemon_apply_max_pages(struct daemon *d, int max)
{
	long long pages = 0, got = store_set_max_pages(d->store, max, &pages);

	if (got < 0)
		log_warnx("daemon: max_db_pages %d could not be applied", max);
	else if (max == 0)
		log_info("daemon: max_db_pages: no limit; the database has %lld pages", pages);
	else if (got > max)
		log_warnx("daemon: max_db_pages %d is below the database's %lld pages: it is full; "
			  "changes are refused until the limit is raised",
			  max, pages);
	else
		log_info("daemon: max_db_pages %d: the database has %lld pages", max, pages);
}

struct daemon *
daemon_new(struct event_base *base, struct config *cfg, char **err)
{
	struct daemon *d = xcalloc(1, sizeof *d);
	uint64_t rows = 0;
	char *verr = NULL;

	d->base = base;
	d->cfg = cfg;
	d->started_at_ms = util_wall_ms();
	d->store = store_open(cfg->database, err);
	if (d->store == NULL)
		goto fail;
	if (store_verify_chain(d->store, &rows, &verr) != 0) {
		*err = xasprintf("%s: the timeline is damaged: %s", cfg->database, verr);
		free(verr);
		goto fail;
	}
	log_info("daemon: %s: timeline of %llu events, hash chain intact", cfg->database,
		 (unsigned long long)rows);
	if (cfg->max_db_pages > 0)
		daemon_apply_max_pages(d, cfg->max_db_pages);
	if (store_load_units(d->store, cfg->roster) != 0) {
		*err = xasprintf("%s: cannot load unit states", cfg->database);
		goto fail;
	}
	d->agents = agents_new();
	d->orders = orders_new();
	d->muster = muster_new();
	d->nearest = nearest_new(cfg->roster);
	if (muster_load(d) != 0) {
		*err = xasprintf("%s: cannot load open incidents and orders", cfg->database);
		goto fail;
	}
	if (blind_load(d) != 0) {
		*err = xasprintf("%s: cannot load the armed drills", cfg->database);
		goto fail;
	}
	if (event_base_get_npriorities(base) != DAEMON_PRIORITIES) {
		*err = xasprintf("the event base needs %d priorities", DAEMON_PRIORITIES);
		goto fail;
	}
	d->flush_ev = event_new(base, -1, 0, daemon_flush_cb, d);
	d->idle_ev = evtimer_new(base, daemon_idle_cb, d);
	d->tick_ev = event_new(base, -1, EV_PERSIST, daemon_tick_cb, d);
	/* On a virtual clock, time moves only by AdvanceClock, which runs the ticks itself. */
	if (d->flush_ev == NULL || d->idle_ev == NULL || d->tick_ev == NULL ||
	    (!util_clock_is_virtual() &&
	     event_add(d->tick_ev, &(struct timeval){0, (long)(DAEMON_TICK_MS * 1000 /
							       util_clock_speed())}) != 0) ||
	    event_priority_set(d->flush_ev, DAEMON_PRIORITY_FLUSH) != 0) {
		*err = xstrdup("cannot create loop events");
		goto fail;
	}
	d->zctx = zmq_ctx_new();
	if (d->zctx == NULL) {
		*err = xstrdup("cannot create a ZeroMQ context");
		goto fail;
	}
	if (!zmq_has("curve")) {
		*err = xstrdup("this libzmq has no CURVE support; refusing to run unauthenticated");
		goto fail;
	}
	/* The ZAP handler first: a CURVE socket bound without one would admit anybody. */
	d->auth = auth_new(d->zctx, base, daemon_policy_cb, d);
	if (d->auth == NULL) {
		*err = xstrdup("cannot start the ZAP authentication handler");
		goto fail;
	}
	d->bus = bus_new(d->zctx, base, cfg, daemon_msg_cb, d, err);
	if (d->bus == NULL)
		goto fail;
	return d;
fail:
	daemon_free(d);
	return NULL;
}

void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	log_limits_flush(1);
	if (d->store && d->bus) {
		char text[512];

		if (store_commit(d->store) == 0)
			bus_release(d->bus);
		else
			bus_fail_batch(d->bus, daemon_next_seq_cb, d,
				       daemon_storage_text(d, text, sizeof text));
	}
	bus_free(d->bus);
	auth_free(d->auth);
	if (d->zctx && zmq_ctx_term(d->zctx) != 0)
		log_warn("daemon: zmq_ctx_term");
	if (d->flush_ev)
		event_free(d->flush_ev);
	if (d->idle_ev)
		event_free(d->idle_ev);
	if (d->tick_ev)
		event_free(d->tick_ev);
	/* The bus is gone: pending snapshots are dropped unanswered, like any late request. */
	for (size_t i = 0; i < d->n_snapshots; i++)
		free(d->snapshots[i].path);
	free(d->snapshots);
	agents_free(d->agents);
	orders_free(d->orders);
	muster_free(d->muster);
	nearest_free(d->nearest);
	if (d->store && store_checkpoint(d->store) != 0)
		log_warnx("daemon: final checkpoint failed");
	store_close(d->store);
	cfg_free(d->cfg);
	free(d);
}

/* Returns 1 when the two strings differ. */
static int
daemon_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

void
daemon_reload(struct daemon *d, struct config *nc)
{
	struct config *old = d->cfg;
	size_t i;
	int revoked = 0;

	if (daemon_differs(old->database, nc->database) ||
	    daemon_differs(old->control_endpoint, nc->control_endpoint) ||
	    daemon_differs(old->agents_endpoint, nc->agents_endpoint) ||
	    daemon_differs(old->feed_endpoint, nc->feed_endpoint) ||
	    daemon_differs(old->secret_key, nc->secret_key) || old->max_frame != nc->max_frame ||
	    old->send_hwm != nc->send_hwm || old->recv_hwm != nc->recv_hwm)
		log_warnx(
		    "daemon: reload: database, endpoints, daemon key, max_frame, send_hwm and "
		    "recv_hwm change only on restart; the running values are kept");
	/* The bus holds pointers into the old config's strings: keep those settings. */
	free(nc->database);
	nc->database = xstrdup(old->database);
	free(nc->control_endpoint);
	nc->control_endpoint = xstrdup(old->control_endpoint);
	free(nc->agents_endpoint);
	nc->agents_endpoint = xstrdup(old->agents_endpoint);
	free(nc->feed_endpoint);
	nc->feed_endpoint = xstrdup(old->feed_endpoint);
	memcpy(nc->public_key, old->public_key, sizeof nc->public_key);
	memcpy(nc->secret_key, old->secret_key, sizeof nc->secret_key);
	nc->max_frame = old->max_frame;
	nc->send_hwm = old->send_hwm;
	nc->recv_hwm = old->recv_hwm;
	for (i = 0; i < old->n_clients; i++) {
		const struct client *c = &old->clients[i];
		const struct client *n = cfg_client_by_key(nc, c->key);

		if (n == NULL || strcmp(n->id, c->id) != 0 || n->role != c->role) {
			log_info("daemon: reload: %s (%s) revoked", c->id, cfg_role_name(c->role));
			agents_drop(d->agents, c->id);
			revoked++;
		}
	}
	roster_carry_live(nc->roster, old->roster);
	if (nc->max_db_pages != old->max_db_pages)
		daemon_apply_max_pages(d, nc->max_db_pages);
	d->cfg = nc;
	muster_roster_changed(d);
	bus_set_config(d->bus, nc);
	agents_reload_state(d->agents, d);
	cfg_free(old);
	if (revoked > 0 && bus_rebind_feed(d->bus) != 0)
		log_warnx("daemon: reload: feed not re-bound");
	log_info("daemon: configuration reloaded: %zu places, %zu units, %zu clients%s",
		 nc->district->n_places, nc->roster->n_units, nc->n_clients,
		 revoked ? "; revoked keys lost their sessions" : "");
}
