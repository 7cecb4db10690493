#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity and cpu_set_t */
/* drill: `muster drill run --virtual`; see drill.h and docs/drills.md.
 *
 * The lock-step: the runner keeps one queue of things to do at virtual times (injects,
 * simulated agents' reports, heartbeats), ordered by (time, class, key) where the key comes
 * from the scenario (an inject's index) or the daemon (an order id), never from the order in
 * which messages happened to arrive. It asks the daemon to advance its clock to the next
 * thing; the daemon stops early after a tick that sent anything to an agent, and says how
 * many messages it has sent to agents in all. The runner reads exactly that many before it
 * goes on, so every order is answered at the virtual time it was sent. */
#include "drill.h"
#include "client.h"
#include "cfg.h"
#include "geo.h"
#include "init.h"
#include "model.h"
#include "report.h"
#include "scenario.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define HEARTBEAT_MS (20 * 60 * 1000) /* the simulated agents' heartbeat, virtual */
#define NO_POSITION_TRAVEL_S 600.0    /* people and experts with no position */
#define ROAD_FACTOR 1.3		      /* the road against the straight line */

/* What a queued thing is. */
enum act_kind {
	ACT_INJECT = 0,	   /* an inject of the scenario (k1: its index, k2: surge item) */
	ACT_ONLINE = 1,	   /* an agent back from agent_offline (k1: department) */
	ACT_REPORT = 2,	   /* a simulated report on an order (k1: order id, k2: step) */
	ACT_WHISTLE = 3,   /* a department arriving at a whistle (k1: whistle id, k2: dept) */
	ACT_HEARTBEAT = 4, /* (k1: department) */
};

struct act {
	int64_t t;
	int kind;
	uint64_t k1, k2;
	int status; /* ACT_REPORT: 0 receipt, else an OrderStatus */
	int delay;  /* ACT_REPORT: a DelayReason */
	int dept;
	char *rank; /* ACT_WHISTLE */
	int headcount;
};

/* One simulated department agent. */
struct sim_agent {
	const char *dept; /* borrowed from the roster */
	void *sock;
	char **units;
	size_t n_units;
	Muster__UnitState *states, **state_ptrs;
	int64_t deaf_until; /* agent_offline: messages are ignored until then */
};

/* What the runner knows of an order. */
struct sim_order {
	int seen, cancelled;
};

/* A road block in force (road_blocked). */
struct block {
	char *area; /* street or community id; NULL: everywhere */
	int64_t from, until, delay_ms;
};

struct drill {
	const struct drill_opts *o;
	struct scenario *sc;
	uint64_t seed;
	char *dir;
	struct config *cfg;
	pid_t pid;
	void *zctx, *control;
	struct sim_agent *agents;
	size_t n_agents;
	struct act *heap;
	size_t n_heap, cap_heap;
	struct sim_order *orders; /* by order id */
	size_t n_orders;
	uint64_t *incident_of; /* by inject index: the daemon's incident id (0: none) */
	struct block *blocks;
	size_t n_blocks;
	int64_t now, end;
	uint64_t agent_msgs; /* received on agent sockets */
	long refused, injects_done, reports;
	struct strbuf notes; /* what went wrong, for the after-action report */
	/* --speed: real muster-agent processes, one per department, and the clock's anchor */
	pid_t *agent_pid;
	char **agent_model; /* each agent's model file */
	int64_t v0, r0;	    /* the daemon's wall time V0 stood at real monotonic ms R0 */
	/* --live: what this drill opened, for the report's scope */
	uint64_t *opened, *whistles;
	size_t n_opened, n_whistles;
	int64_t live_start;
};

/* ---- deterministic draws ---- */

/* Returns a number in [0, 1) fixed by the seed and A, B, C (BLAKE2b of them). */
static double
draw(const struct drill *D, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t in[4] = {D->seed, a, b, c}, out;

	if (crypto_generichash((unsigned char *)&out, sizeof out, (const unsigned char *)in,
			       sizeof in, NULL, 0) != 0)
		return 0;
	return (double)(out >> 11) / 9007199254740992.0;
}

/* Returns MIN + (MAX - MIN) * a draw, in ms. */
static int64_t
draw_ms(const struct drill *D, double min_s, double max_s, uint64_t a, uint64_t b, uint64_t c)
{
	return (int64_t)llround((min_s + (max_s - min_s) * draw(D, a, b, c)) * 1000.0);
}

/* ---- the queue ---- */

static int
act_before(const struct act *x, const struct act *y)
{
	if (x->t != y->t)
		return x->t < y->t;
	if (x->kind != y->kind)
		return x->kind < y->kind;
	if (x->k1 != y->k1)
		return x->k1 < y->k1;
	return x->k2 < y->k2;
}

static void
queue_push(struct drill *D, const struct act *a)
{
	size_t i;

	if (D->n_heap == D->cap_heap) {
		D->cap_heap = D->cap_heap ? D->cap_heap * 2 : 256;
		D->heap = xrealloc(D->heap, D->cap_heap * sizeof *D->heap);
	}
	i = D->n_heap++;
	D->heap[i] = *a;
	while (i > 0 && act_before(&D->heap[i], &D->heap[(i - 1) / 2])) {
		struct act t = D->heap[i];

		D->heap[i] = D->heap[(i - 1) / 2];
		D->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct act
queue_pop(struct drill *D)
{
	struct act top = D->heap[0];
	size_t i = 0;

	D->heap[0] = D->heap[--D->n_heap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < D->n_heap && act_before(&D->heap[l], &D->heap[m]))
			m = l;
		if (r < D->n_heap && act_before(&D->heap[r], &D->heap[m]))
			m = r;
		if (m == i)
			break;
		struct act t = D->heap[i];
		D->heap[i] = D->heap[m];
		D->heap[m] = t;
		i = m;
	}
	return top;
}

/* ---- talking to the daemon ---- */

/* Notes a problem for the after-action report. */
static void note(struct drill *D, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note(struct drill *D, const char *fmt, ...)
{
	char buf[512], at[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	strbuf_addf(&D->notes, "  T+%s: %s\n",
		    scenario_format_offset(D->now - D->sc->start_ms, at, sizeof at), buf);
}

/* Sends E on the control socket as an exercise request and returns the reply, or NULL with
 * *ERR. */
static Envelope *
control_call(struct drill *D, Envelope *e, char **err)
{
	e->exercise = 1;
	return client_call(D->control, e, D->o->timeout_ms, err);
}

static void agent_take(struct drill *D, struct sim_agent *a, Envelope *e);

/* Reads agent messages until DONE of them have arrived in all (or the timeout). */
static int
agents_drain(struct drill *D, uint64_t done, char **err)
{
	zmq_pollitem_t *pi = xcalloc(D->n_agents, sizeof *pi);
	int64_t deadline = util_wall_ms() + D->o->timeout_ms;
	size_t i;
	int rc = 0;

	for (i = 0; i < D->n_agents; i++) {
		pi[i].socket = D->agents[i].sock;
		pi[i].events = ZMQ_POLLIN;
	}
	while (D->agent_msgs < done) {
		int64_t left = deadline - util_wall_ms();
		int n;

		if (left <= 0) {
			*err = xasprintf("the daemon sent %" PRIu64 " messages to agents, %" PRIu64
					 " arrived within %d ms",
					 done, D->agent_msgs, D->o->timeout_ms);
			rc = -1;
			break;
		}
		n = zmq_poll(pi, (int)D->n_agents, (long)left);
		if (n < 0 && errno != EINTR) {
			*err = xasprintf("poll: %s", zmq_strerror(errno));
			rc = -1;
			break;
		}
		for (i = 0; n > 0 && i < D->n_agents; i++)
			if (pi[i].revents & ZMQ_POLLIN) {
				char *e2 = NULL;
				Envelope *e = client_recv(D->agents[i].sock, 0, &e2);

				if (e == NULL) {
					free(e2);
					continue;
				}
				D->agent_msgs++;
				agent_take(D, &D->agents[i], e);
				wire_free(e);
			}
	}
	free(pi);
	return rc;
}

/* Asks the daemon to move its clock towards TO, then reads what it sent to agents. Sets
 * D->now to where the clock stands. */
static int
advance(struct drill *D, int64_t to, char **err)
{
	Envelope e, *r;
	Muster__AdvanceClock ac;
	int rc;

	muster__envelope__init(&e);
	muster__advance_clock__init(&ac);
	ac.to_ms = to;
	e.body_case = MUSTER__ENVELOPE__BODY_ADVANCE_CLOCK;
	e.advance_clock = &ac;
	r = control_call(D, &e, err);
	if (r == NULL)
		return -1;
	if (r->body_case != MUSTER__ENVELOPE__BODY_CLOCK_REPLY) {
		*err = xasprintf("the daemon refused to advance its clock: %s",
				 r->body_case == MUSTER__ENVELOPE__BODY_ERROR && r->error->message
				     ? r->error->message
				     : "unexpected reply");
		wire_free(r);
		return -1;
	}
	D->now = r->clock_reply->now_ms;
	rc = agents_drain(D, r->clock_reply->agent_messages, err);
	wire_free(r);
	return rc;
}

/* Sends E as agent A's report and waits for its ReportAck, taking whatever else arrives on
 * A's socket meanwhile. */
static int
agent_report(struct drill *D, struct sim_agent *a, Envelope *e, char **err)
{
	uint64_t seq;
	int64_t deadline = util_wall_ms() + D->o->timeout_ms;

	e->exercise = 1;
	/* The correlation id is the seq: an ErrorReply is matched by it, a ReportAck by seq. */
	e->seq = seq = client_next_seq();
	e->correlation_id = seq;
	if (client_send_seq(a->sock, e) != 0) {
		*err = xasprintf("%s: send: %s", a->dept, zmq_strerror(errno));
		return -1;
	}
	for (;;) {
		int64_t left = deadline - util_wall_ms();
		char *e2 = NULL;
		Envelope *r;
		int done;

		if (left <= 0) {
			*err = xasprintf("%s: no answer to a report within %d ms", a->dept,
					 D->o->timeout_ms);
			return -1;
		}
		r = client_recv(a->sock, (int)left, &e2);
		if (r == NULL) {
			if (e2) {
				*err = e2;
				return -1;
			}
			continue;
		}
		D->agent_msgs++;
		done = (r->body_case == MUSTER__ENVELOPE__BODY_REPORT_ACK &&
			r->report_ack->acked_seq == seq) ||
		       (r->body_case == MUSTER__ENVELOPE__BODY_ERROR && r->correlation_id == seq) ||
		       (r->body_case == MUSTER__ENVELOPE__BODY_REGISTERED &&
			e->body_case == MUSTER__ENVELOPE__BODY_REGISTER);
		if (done && r->body_case == MUSTER__ENVELOPE__BODY_ERROR) {
			D->refused++;
			note(D, "%s: report refused: %s", a->dept,
			     r->error->message ? r->error->message : "?");
		} else if (done && r->body_case == MUSTER__ENVELOPE__BODY_REPORT_ACK &&
			   r->report_ack->code != MUSTER__ERROR_CODE__OK) {
			D->refused++;
		} else if (!done) {
			agent_take(D, a, r);
		}
		wire_free(r);
		if (done)
			return 0;
	}
}

/* Sends agent A's Register and waits for Registered. */
static int
agent_register(struct drill *D, struct sim_agent *a, char **err)
{
	Envelope e;
	Muster__Register reg;

	muster__envelope__init(&e);
	muster__register__init(&reg);
	reg.agent_version = "muster-drill";
	reg.unit_ids = a->units;
	reg.n_unit_ids = a->n_units;
	e.body_case = MUSTER__ENVELOPE__BODY_REGISTER;
	e.register_ = &reg;
	return agent_report(D, a, &e, err);
}

/* Sends agent A's heartbeat: every unit at home, available. */
static int
agent_heartbeat(struct drill *D, struct sim_agent *a, char **err)
{
	Envelope e;
	Muster__Heartbeat hb;

	muster__envelope__init(&e);
	muster__heartbeat__init(&hb);
	hb.units = a->state_ptrs;
	hb.n_units = a->n_units;
	e.body_case = MUSTER__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	/* agent_report gives it a correlation id: the daemon acknowledges it, to keep step */
	return agent_report(D, a, &e, err);
}

/* ---- the simulated responders ---- */

/* Returns the kind and position of member ID (a unit, or a person attached to one). */
static const char *
member_kind(struct drill *D, const char *id, double *lat, double *lon)
{
	struct roster *ros = D->cfg->roster;
	struct unit *u = roster_unit(ros, id);
	size_t i;

	if (u) {
		*lat = u->home_lat;
		*lon = u->home_lon;
		return u->kind;
	}
	for (i = 0; i < ros->n_people; i++)
		if (strcmp(ros->people[i].id, id) == 0 && ros->people[i].unit >= 0) {
			u = &ros->units[ros->people[i].unit];
			*lat = u->home_lat;
			*lon = u->home_lon;
			return ros->people[i].role;
		}
	*lat = *lon = NAN;
	return NULL;
}

/* Returns the extra delay of a block on the way to LOC at time T (0: none). */
static int64_t
block_delay(const struct drill *D, const Muster__Location *loc, int64_t t)
{
	int64_t worst = 0;
	size_t i;

	for (i = 0; i < D->n_blocks; i++) {
		const struct block *b = &D->blocks[i];

		if (t < b->from || t >= b->until)
			continue;
		if (b->area && !(loc && ((loc->street && strcmp(loc->street, b->area) == 0) ||
					 (loc->community && strcmp(loc->community, b->area) == 0))))
			continue;
		if (b->delay_ms > worst)
			worst = b->delay_ms;
	}
	return worst;
}

/* Plans what the unit of a new order O does, from its model and the draws of its id. */
static void
order_plan(struct drill *D, struct sim_agent *a, const Muster__Order *o)
{
	uint64_t id = o->order_id;
	double lat, lon, dist = -1;
	const char *kind = member_kind(D, o->unit_id, &lat, &lon);
	const struct model *m = model_find(D->sc->models, D->sc->n_models, a->dept, kind);
	struct act x;
	int64_t t;

	if (id >= D->n_orders) {
		size_t n = D->n_orders ? D->n_orders : 1024;

		while (n <= id)
			n *= 2;
		D->orders = xrealloc(D->orders, n * sizeof *D->orders);
		memset(D->orders + D->n_orders, 0, (n - D->n_orders) * sizeof *D->orders);
		D->n_orders = n;
	}
	if (D->orders[id].seen)
		return; /* a re-send: already planned */
	D->orders[id].seen = 1;
	if (m == NULL)
		return;
	memset(&x, 0, sizeof x);
	x.kind = ACT_REPORT;
	x.k1 = id;
	x.dept = (int)(a - D->agents);
	t = D->now + draw_ms(D, m->receipt_min,
			     m->receipt_max > m->receipt_min ? m->receipt_max : m->receipt_min + 2,
			     id, 1, 0);
	x.t = t;
	x.k2 = 0;
	x.status = 0;
	queue_push(D, &x);
	if (draw(D, id, 2, 0) < m->decline) {
		x.t = t + 2000;
		x.k2 = 1;
		x.status = MUSTER__ORDER_STATUS__ORDER_DECLINED;
		queue_push(D, &x);
		return;
	}
	if (draw(D, id, 3, 0) < m->no_show)
		return; /* receipted, then silence */
	x.t = t += 1000;
	x.k2 = 1;
	x.status = MUSTER__ORDER_STATUS__ORDER_ACCEPTED;
	queue_push(D, &x);
	x.t = t += draw_ms(D, m->turnout_min, m->turnout_max, id, 4, 0);
	x.k2 = 2;
	x.status = MUSTER__ORDER_STATUS__ORDER_EN_ROUTE;
	queue_push(D, &x);
	if (o->location && o->location->coords && !isnan(lat))
		dist = geo_distance_m(lat, lon, o->location->coords->lat, o->location->coords->lon);
	x.delay = 0;
	{
		int64_t extra = block_delay(D, o->location, t);

		t += dist < 0 || m->speed_kmh <= 0
			 ? (int64_t)(NO_POSITION_TRAVEL_S * 1000)
			 : (int64_t)llround(dist * ROAD_FACTOR / (m->speed_kmh / 3.6) * 1000.0);
		if (extra > 0) {
			t += extra;
			x.delay = MUSTER__DELAY_REASON__DELAY_ROAD_BLOCKED;
		}
	}
	x.t = t;
	x.k2 = 3;
	x.status = MUSTER__ORDER_STATUS__ORDER_ON_SCENE;
	queue_push(D, &x);
	if (m->clear_s > 0) {
		x.t = t + (int64_t)llround(m->clear_s * 1000.0);
		x.k2 = 4;
		x.delay = 0;
		x.status = MUSTER__ORDER_STATUS__ORDER_CLEARED;
		queue_push(D, &x);
	}
}

/* Takes one message the daemon sent to agent A. */
static void
agent_take(struct drill *D, struct sim_agent *a, Envelope *e)
{
	if (D->now < a->deaf_until)
		return; /* offline: nothing arrives */
	switch (e->body_case) {
	case MUSTER__ENVELOPE__BODY_ORDER:
		order_plan(D, a, e->order);
		break;
	case MUSTER__ENVELOPE__BODY_CANCEL:
		if (e->cancel->order_id < D->n_orders)
			D->orders[e->cancel->order_id].cancelled = 1;
		break;
	case MUSTER__ENVELOPE__BODY_WHISTLE_CALL: {
		const Muster__WhistleCall *w = e->whistle_call;
		const struct model *m = model_find(D->sc->models, D->sc->n_models, a->dept, NULL);
		struct act x;

		memset(&x, 0, sizeof x);
		x.kind = ACT_WHISTLE;
		x.k1 = w->whistle_id;
		x.k2 = (uint64_t)(a - D->agents);
		x.dept = (int)x.k2;
		/* turnout, then up to half an hour on the way */
		x.t = D->now +
		      draw_ms(D, m ? m->turnout_min : 60, m ? m->turnout_max : 300, w->whistle_id,
			      100 + x.k2, 0) +
		      draw_ms(D, 60, 1800, w->whistle_id, 200 + x.k2, 0);
		x.rank = xstrdup(w->leader_rank ? w->leader_rank : "");
		x.headcount = w->headcount;
		queue_push(D, &x);
		break;
	}
	default:
		break; /* notices, acks of earlier reports, registrations */
	}
}

/* Sends a simulated report X. */
static int
act_report(struct drill *D, const struct act *x, char **err)
{
	struct sim_agent *a = &D->agents[x->dept];
	Envelope e;
	Muster__Receipt rc;
	Muster__StatusReport st;

	if (x->k1 < D->n_orders && D->orders[x->k1].cancelled)
		return 0;
	if (D->now < a->deaf_until)
		return 0; /* offline: the report is never made */
	muster__envelope__init(&e);
	if (x->status == 0) {
		muster__receipt__init(&rc);
		rc.order_id = x->k1;
		e.body_case = MUSTER__ENVELOPE__BODY_RECEIPT;
		e.receipt = &rc;
	} else {
		muster__status_report__init(&st);
		st.order_id = x->k1;
		st.status = (Muster__OrderStatus)x->status;
		st.delay_reason = (Muster__DelayReason)x->delay;
		e.body_case = MUSTER__ENVELOPE__BODY_STATUS;
		e.status = &st;
	}
	D->reports++;
	return agent_report(D, a, &e, err);
}

/* ---- injects ---- */

static int speed_offline(struct drill *D, const struct inject *in);

/* Notes what the daemon said to a refused inject. */
static void
inject_refused(struct drill *D, const struct inject *in, const Envelope *r)
{
	D->refused++;
	note(D, "%s (line %u) refused: %s", scenario_inject_name(in->kind), in->line,
	     r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR && r->error->message
		 ? r->error->message
		 : "unexpected reply");
}

/* Sends control request E for inject IN; returns the reply (NULL with *ERR when the daemon
 * did not answer). A refusal is noted, not an error: the drill goes on. */
static Envelope *
inject_call(struct drill *D, const struct inject *in, Envelope *e, int want, char **err)
{
	Envelope *r = control_call(D, e, err);

	if (r != NULL && (int)r->body_case != want) {
		inject_refused(D, in, r);
		wire_free(r);
		return NULL;
	}
	return r;
}

/* Submits an incident: inject IN, or item I of a surge. */
static int
inject_incident(struct drill *D, const struct inject *in, uint64_t item, char **err)
{
	Envelope e, *r;
	Muster__SubmitIncident si;
	Muster__Location loc;
	char desc[160];

	muster__envelope__init(&e);
	muster__submit_incident__init(&si);
	muster__location__init(&loc);
	si.location = &loc;
	si.reporter = "drill";
	if (in->kind == INJECT_INCIDENT) {
		const struct inject_incident *x = &in->u.incident;

		si.type = x->type;
		loc.place = x->place;
		si.description = x->description ? x->description : "";
		si.building = x->building ? x->building : "";
		si.casualties = x->casualties;
		si.people_affected = x->people_affected;
		si.hazmat = x->hazmat != 0;
		si.tier = (uint32_t)x->tier;
		si.tier_reason = x->tier_reason ? x->tier_reason : "";
	} else {
		const struct inject_surge *s = &in->u.surge;
		const struct district *dist = D->cfg->district;
		size_t k, n = 0;

		si.type = s->types[(size_t)(draw(D, in->index, item, 1) * (double)s->n_types)];
		if (s->n_places) {
			loc.place =
			    s->places[(size_t)(draw(D, in->index, item, 2) * (double)s->n_places)];
		} else {
			for (k = 0; k < dist->n_places; k++)
				n += dist->places[k].kind == PLACE_COMMUNITY;
			n = (size_t)(draw(D, in->index, item, 2) * (double)n);
			for (k = 0; k < dist->n_places; k++)
				if (dist->places[k].kind == PLACE_COMMUNITY && n-- == 0)
					break;
			loc.place = dist->places[k < dist->n_places ? k : 0].id;
		}
		snprintf(desc, sizeof desc, "surge item %" PRIu64 " of %d", item + 1, s->count);
		si.description = desc;
	}
	e.body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e.submit_incident = &si;
	r = inject_call(D, in, &e, MUSTER__ENVELOPE__BODY_INCIDENT_REPLY, err);
	if (r == NULL)
		return *err ? -1 : 0;
	if (in->kind == INJECT_INCIDENT)
		D->incident_of[in - D->sc->injects] = r->incident_reply->incident->id;
	D->opened = xrealloc(D->opened, (D->n_opened + 1) * sizeof *D->opened);
	D->opened[D->n_opened++] = r->incident_reply->incident->id;
	wire_free(r);
	return 0;
}

/* Runs inject IN (item ITEM of a surge) at D->now. */
static int
inject_run(struct drill *D, const struct inject *in, uint64_t item, char **err)
{
	Envelope e, *r = NULL;
	uint64_t id = in->incident >= 0 ? D->incident_of[in->incident] : 0;
	size_t i;

	D->injects_done++;
	muster__envelope__init(&e);
	if (in->incident >= 0 && id == 0 && in->kind != INJECT_WHISTLE) {
		D->refused++;
		note(D, "%s (line %u): incident '%s' was never opened",
		     scenario_inject_name(in->kind), in->line, in->ref ? in->ref : "?");
		return 0;
	}
	switch (in->kind) {
	case INJECT_INCIDENT:
	case INJECT_SURGE:
		return inject_incident(D, in, item, err);
	case INJECT_UPDATE: {
		Muster__UpdateIncident u;

		muster__update_incident__init(&u);
		u.id = id;
		u.description = in->u.update.description ? in->u.update.description : "";
		u.note = in->u.update.note ? in->u.update.note : "";
		u.has_casualties = in->u.update.casualties >= 0;
		u.casualties = in->u.update.casualties >= 0 ? in->u.update.casualties : 0;
		u.has_people_affected = in->u.update.people_affected >= 0;
		u.people_affected =
		    in->u.update.people_affected >= 0 ? in->u.update.people_affected : 0;
		e.body_case = MUSTER__ENVELOPE__BODY_UPDATE_INCIDENT;
		e.update_incident = &u;
		r = inject_call(D, in, &e, MUSTER__ENVELOPE__BODY_INCIDENT_REPLY, err);
		break;
	}
	case INJECT_TIER: {
		Muster__SetTier t;

		muster__set_tier__init(&t);
		t.id = id;
		t.tier = (uint32_t)in->u.tier;
		t.reason = in->reason ? in->reason : "drill";
		e.body_case = MUSTER__ENVELOPE__BODY_SET_TIER;
		e.set_tier = &t;
		r = inject_call(D, in, &e, MUSTER__ENVELOPE__BODY_INCIDENT_REPLY, err);
		break;
	}
	case INJECT_CLOSE: {
		Muster__CloseIncident c;

		muster__close_incident__init(&c);
		c.id = id;
		c.reason = in->reason ? in->reason : "drill";
		e.body_case = MUSTER__ENVELOPE__BODY_CLOSE_INCIDENT;
		e.close_incident = &c;
		r = inject_call(D, in, &e, MUSTER__ENVELOPE__BODY_INCIDENT_REPLY, err);
		break;
	}
	case INJECT_DIVERT: {
		Muster__DivertIncident dv;

		muster__divert_incident__init(&dv);
		dv.id = id;
		dv.to = in->u.to;
		dv.reason = in->reason ? in->reason : "drill";
		e.body_case = MUSTER__ENVELOPE__BODY_DIVERT_INCIDENT;
		e.divert_incident = &dv;
		r = inject_call(D, in, &e, MUSTER__ENVELOPE__BODY_INCIDENT_REPLY, err);
		break;
	}
	case INJECT_WHISTLE: {
		Muster__BlowWhistle w;

		muster__blow_whistle__init(&w);
		w.place = in->u.whistle.place;
		w.matter = in->u.whistle.matter;
		w.departments = in->u.whistle.departments;
		w.n_departments = in->u.whistle.n_departments;
		w.deadline_s = (int32_t)(in->u.whistle.deadline_ms / 1000);
		w.leader_rank = in->u.whistle.rank ? in->u.whistle.rank : "";
		w.headcount = in->u.whistle.headcount;
		w.incident_id = id;
		e.body_case = MUSTER__ENVELOPE__BODY_BLOW_WHISTLE;
		e.blow_whistle = &w;
		r = inject_call(D, in, &e, MUSTER__ENVELOPE__BODY_WHISTLE_REPLY, err);
		if (r != NULL) {
			D->whistles =
			    xrealloc(D->whistles, (D->n_whistles + 1) * sizeof *D->whistles);
			D->whistles[D->n_whistles++] = r->whistle_reply->whistle->id;
		}
		break;
	}
	case INJECT_AGENT_OFFLINE:
		if (D->o->live) {
			note(D,
			     "agent_offline (line %u) is not played in --live: the agents are real",
			     in->line);
			return 0;
		}
		if (D->o->speed > 0)
			return speed_offline(D, in);
		for (i = 0; i < D->n_agents; i++)
			if (strcmp(D->agents[i].dept, in->u.offline.department) == 0) {
				struct act x;

				memset(&x, 0, sizeof x);
				D->agents[i].deaf_until = D->now + in->u.offline.for_ms;
				x.t = D->agents[i].deaf_until;
				x.kind = ACT_ONLINE;
				x.k1 = i;
				x.dept = (int)i;
				queue_push(D, &x);
			}
		return 0;
	case INJECT_ROAD_BLOCKED: {
		struct block *b;

		if (D->o->speed > 0 || D->o->live) {
			note(D,
			     "road_blocked (line %u) is not simulated with --speed or --live: the "
			     "agents decide their own travel",
			     in->line);
			return 0;
		}
		D->blocks = xrealloc(D->blocks, (D->n_blocks + 1) * sizeof *D->blocks);
		b = &D->blocks[D->n_blocks++];
		b->area = in->u.road.street	 ? xstrdup(in->u.road.street)
			  : in->u.road.community ? xstrdup(in->u.road.community)
						 : NULL;
		b->from = D->now;
		b->until = D->now + in->u.road.for_ms;
		b->delay_ms = in->u.road.delay_ms;
		return 0;
	}
	}
	if (r == NULL)
		return *err ? -1 : 0;
	wire_free(r);
	return 0;
}

static int agent_spawn(struct drill *D, size_t i, char **err);

/* Does X, due now. */
static int
act_run(struct drill *D, struct act *x, char **err)
{
	struct sim_agent *a = &D->agents[x->dept];
	int rc = 0;

	switch (x->kind) {
	case ACT_INJECT:
		rc = inject_run(D, &D->sc->injects[x->k1], x->k2, err);
		break;
	case ACT_ONLINE:
		if (D->o->speed > 0) {
			rc = agent_spawn(D, (size_t)x->dept, err);
			break;
		}
		a->deaf_until = 0;
		rc = agent_register(D, a, err);
		if (rc == 0)
			rc = agent_heartbeat(D, a, err);
		break;
	case ACT_REPORT:
		rc = act_report(D, x, err);
		break;
	case ACT_WHISTLE:
		if (D->now >= a->deaf_until) {
			Envelope e;
			Muster__WhistleArrival wa;

			muster__envelope__init(&e);
			muster__whistle_arrival__init(&wa);
			wa.whistle_id = x->k1;
			wa.leader_rank = x->rank;
			wa.headcount = x->headcount;
			e.body_case = MUSTER__ENVELOPE__BODY_WHISTLE_ARRIVAL;
			e.whistle_arrival = &wa;
			rc = agent_report(D, a, &e, err);
		}
		break;
	case ACT_HEARTBEAT:
		if (D->now >= a->deaf_until)
			rc = agent_heartbeat(D, a, err);
		if (rc == 0 && x->t + HEARTBEAT_MS < D->end) {
			struct act n = *x;

			n.t = x->t + HEARTBEAT_MS;
			queue_push(D, &n);
		}
		break;
	}
	free(x->rank);
	return rc;
}

/* ---- the drill daemon ---- */

/* Replaces (or adds) top-level setting KEY of the libconfig text *TEXT with VALUE (written
 * as given: quote strings yourself). */
static void
conf_set(char **text, const char *key, const char *value)
{
	size_t klen = strlen(key);
	char *p = *text, *line = NULL, *out;

	while (p && *p) {
		char *q = p;

		while (*q == ' ' || *q == '\t' || *q == '#')
			q++;
		if (strncmp(q, key, klen) == 0 && (q[klen] == ' ' || q[klen] == '=')) {
			line = p;
			break;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (line == NULL) {
		out = xasprintf("%s\n%s = %s;\n", *text, key, value);
	} else {
		char *eol = strchr(line, '\n');

		out = xasprintf("%.*s%s = %s;%s", (int)(line - *text), *text, key, value,
				eol ? eol : "");
	}
	free(*text);
	*text = out;
}

/* Reads the whole file PATH into a new string, or NULL. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct strbuf b = {0};
	char buf[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_addf(&b, "%.*s", (int)n, buf);
	if (ferror(f)) {
		(void)fclose(f);
		free(b.s);
		return NULL;
	}
	(void)fclose(f);
	return b.s ? b.s : xstrdup("");
}

/* Writes TEXT to PATH. Returns 0 or -1 with errno. */
static int
spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	size_t n = strlen(text);

	if (f == NULL)
		return -1;
	if (fwrite(text, 1, n, f) != n) {
		(void)fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Returns the program to run; see drill.h. */
char *
drill_program(const char *given, const char *env, const char *subdir, const char *name)
{
	char self[PATH_MAX], *slash, *p;
	ssize_t n;

	if (given)
		return xstrdup(given);
	if ((p = getenv(env)) != NULL && *p)
		return xstrdup(p);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			p = xasprintf("%s/../%s/%s", self, subdir, name); /* the build tree */
			if (access(p, X_OK) == 0)
				return p;
			free(p);
			p = xasprintf("%s/%s", self, name); /* installed side by side */
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup(name);
}

/* Copies the file FROM to TO. Returns 0, or -1 with *ERR. */
static int
copy_file(const char *from, const char *to, char **err)
{
	char *text = slurp(from);

	if (text == NULL) {
		*err = xasprintf("%s: %s", from, strerror(errno));
		return -1;
	}
	if (spit(to, text) != 0) {
		*err = xasprintf("%s: %s", to, strerror(errno));
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* A scenario on a configuration directory (config = "DIR"): its district, roster and plans
 * (the files its musterd.conf names) replace the sample's in CONF_DIR; its clients.conf and
 * keys too when it has them (a `muster init` directory), else the sample's keys stay, which
 * fit any roster with the sample's departments. */
static int
overlay_config(const char *config_dir, const char *conf_dir, char **err)
{
	static const char *const files[] = {"district", "roster", "plans"};
	char *src = xasprintf("%s/musterd.conf", config_dir), *from, *to;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < sizeof files / sizeof files[0]; i++) {
		from = client_conf_path(src, files[i], err);
		if (from == NULL) {
			rc = -1;
			break;
		}
		to = xasprintf("%s/%s.conf", conf_dir, files[i]);
		rc = copy_file(from, to, err);
		free(from);
		free(to);
	}
	from = xasprintf("%s/keys/musterd.key", config_dir);
	if (rc == 0 && access(from, R_OK) == 0) {
		char *cl = client_conf_path(src, "clients", err);

		free(from);
		from = NULL;
		if (cl == NULL)
			rc = -1;
		to = xasprintf("%s/clients.conf", conf_dir);
		if (rc == 0)
			rc = copy_file(cl, to, err);
		free(cl);
		free(to);
		if (rc == 0) {
			/* the key pairs the runner uses: the daemon's, the coordinator's, the
			 * agents' */
			struct roster *ros = NULL;
			const char *fixed[] = {"musterd", "coordinator"};
			char *cfile = xasprintf("%s/musterd.conf", conf_dir);
			struct config *c = cfg_load(cfile, err);
			size_t k;

			free(cfile);
			if (c == NULL)
				rc = -1;
			else
				ros = c->roster;
			for (k = 0; rc == 0 && ros && k < 2 + ros->n_departments; k++)
				for (int pub = 0; rc == 0 && pub < 2; pub++) {
					char *name = k < 2 ? xasprintf("%s.%s", fixed[k],
								       pub ? "pub" : "key")
							   : xasprintf("agent-%s.%s",
								       ros->departments[k - 2].id,
								       pub ? "pub" : "key");
					char *a = xasprintf("%s/keys/%s", config_dir, name);
					char *b = xasprintf("%s/keys/%s", conf_dir, name);

					if (access(a, R_OK) == 0)
						rc = copy_file(a, b, err);
					free(name);
					free(a);
					free(b);
				}
			if (c)
				cfg_free(c);
		}
	}
	free(from);
	free(src);
	return rc;
}

/* Writes a drill daemon's configuration; see drill.h. */
char *
drill_write_config(const char *dir, const char *config_dir, const char *db, char **err)
{
	char *conf_dir = xasprintf("%s/conf", dir), *conf = NULL, *text = NULL, *v;

	if (init_write(conf_dir, 0, err) != 0 ||
	    (config_dir != NULL && overlay_config(config_dir, conf_dir, err) != 0))
		goto fail;
	conf = xasprintf("%s/musterd.conf", conf_dir);
	if ((text = slurp(conf)) == NULL) {
		*err = xasprintf("%s: %s", conf, strerror(errno));
		goto fail;
	}
	v = xasprintf("\"ipc://%s/control.sock\"", dir);
	conf_set(&text, "control", v);
	free(v);
	v = xasprintf("\"ipc://%s/agents.sock\"", dir);
	conf_set(&text, "agents", v);
	free(v);
	v = xasprintf("\"ipc://%s/feed.sock\"", dir);
	conf_set(&text, "feed", v);
	free(v);
	v = xasprintf("\"%s/%s\"", dir, db);
	conf_set(&text, "database", v);
	free(v);
	conf_set(&text, "unit_stale_ms", "3600000"); /* the runner heartbeats every 20 min */
	conf_set(&text, "max_frame", "16777216");    /* a full-size roster in one Register */
	if (spit(conf, text) != 0) {
		*err = xasprintf("%s: %s", conf, strerror(errno));
		goto fail;
	}
	free(conf_dir);
	free(text);
	return conf;
fail:
	free(conf_dir);
	free(conf);
	free(text);
	return NULL;
}

/* Writes the drill's configuration into D->dir/conf and starts musterd on it: -V (virtual
 * clock) or, with --speed, -S (a clock SPEED times as fast as real time). */
static int
daemon_start(struct drill *D, char **err)
{
	char *conf = NULL;
	char *musterd = drill_program(D->o->musterd, "MUSTERD", "daemon", "musterd"),
	     *log = xasprintf("%s/musterd.log", D->dir);
	char start[64], ready[16];
	int pfd[2] = {-1, -1}, logfd = -1, rc = -1;
	size_t got = 0;
	int64_t deadline;

	if ((conf = drill_write_config(D->dir, D->sc->config_dir, "drill.db", err)) == NULL ||
	    (D->cfg = cfg_load(conf, err)) == NULL)
		goto out;
	if (D->o->speed > 0)
		snprintf(start, sizeof start, "%" PRId64 ",%g", D->sc->start_ms, D->o->speed);
	else
		snprintf(start, sizeof start, "%" PRId64, D->sc->start_ms);
	if (pipe(pfd) != 0 || (logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0640)) < 0) {
		*err = xasprintf("%s: %s", log, strerror(errno));
		goto out;
	}
	D->pid = fork();
	if (D->pid < 0) {
		*err = xasprintf("fork: %s", strerror(errno));
		goto out;
	}
	if (D->pid == 0) {
		char fd[16];

		snprintf(fd, sizeof fd, "%d", pfd[1]);
		(void)close(pfd[0]);
		if (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execlp(musterd, musterd, "-d", "-c", conf, "-R", fd, D->o->speed > 0 ? "-S" : "-V",
		       start, (char *)NULL);
		_exit(127);
	}
	(void)close(pfd[1]);
	pfd[1] = -1;
	deadline = util_wall_ms() + D->o->timeout_ms;
	while (got < 6 && util_wall_ms() < deadline) {
		ssize_t n = read(pfd[0], ready + got, sizeof ready - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ready[got] = '\0';
	if (strcmp(ready, "READY\n") != 0) {
		*err = xasprintf("%s did not start (see %s)", musterd, log);
		goto out;
	}
	rc = 0;
out:
	if (pfd[0] >= 0)
		(void)close(pfd[0]);
	if (pfd[1] >= 0)
		(void)close(pfd[1]);
	if (logfd >= 0)
		(void)close(logfd);
	free(conf);
	free(musterd);
	free(log);
	return rc;
}

/* Connects the runner's coordinator to the drill daemon's control socket. */
static int
connect_control(struct drill *D, char **err)
{
	struct client_conf c;
	char *conf = xasprintf("%s/conf", D->dir);
	int rc;

	memset(&c, 0, sizeof c);
	rc = client_conf_load(&c, conf, "keys/coordinator.key", err);
	free(conf);
	if (rc != 0)
		return -1;
	D->control = client_socket(D->zctx, ZMQ_DEALER, c.control, &c, err);
	client_conf_finish(&c);
	return D->control ? 0 : -1;
}

/* Connects the coordinator and every department's agent; registers the agents in roster
 * order, each with its units and a first heartbeat. */
static int
connect_all(struct drill *D, char **err)
{
	struct roster *ros = D->cfg->roster;
	struct client_conf c;
	char *conf = xasprintf("%s/conf", D->dir), *key;
	size_t i, k;

	if (connect_control(D, err) != 0)
		goto fail;
	D->n_agents = ros->n_departments;
	D->agents = xcalloc(D->n_agents, sizeof *D->agents);
	for (i = 0; i < D->n_agents; i++) {
		struct sim_agent *a = &D->agents[i];

		a->dept = ros->departments[i].id;
		for (k = 0; k < ros->n_units; k++)
			if (ros->units[k].department == (int)i)
				a->n_units++;
		a->units = xcalloc(a->n_units ? a->n_units : 1, sizeof *a->units);
		a->states = xcalloc(a->n_units ? a->n_units : 1, sizeof *a->states);
		a->state_ptrs = xcalloc(a->n_units ? a->n_units : 1, sizeof *a->state_ptrs);
		a->n_units = 0;
		for (k = 0; k < ros->n_units; k++) {
			struct unit *u = &ros->units[k];
			Muster__UnitState *s = &a->states[a->n_units];

			if (u->department != (int)i)
				continue;
			muster__unit_state__init(s);
			s->unit_id = u->id;
			s->status = MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
			s->position = xcalloc(1, sizeof *s->position);
			muster__coordinates__init(s->position);
			s->position->lat = u->home_lat;
			s->position->lon = u->home_lon;
			a->state_ptrs[a->n_units] = s;
			a->units[a->n_units++] = u->id;
		}
		key = xasprintf("keys/agent-%s.key", a->dept);
		memset(&c, 0, sizeof c);
		if (client_conf_load(&c, conf, key, err) != 0) {
			free(key);
			goto fail;
		}
		free(key);
		a->sock = client_socket(D->zctx, ZMQ_DEALER, c.agents, &c, err);
		client_conf_finish(&c);
		if (a->sock == NULL)
			goto fail;
	}
	for (i = 0; i < D->n_agents; i++) {
		struct act x;

		if (agent_register(D, &D->agents[i], err) != 0 ||
		    agent_heartbeat(D, &D->agents[i], err) != 0)
			goto fail;
		memset(&x, 0, sizeof x);
		x.t = D->now + HEARTBEAT_MS;
		x.kind = ACT_HEARTBEAT;
		x.k1 = i;
		x.dept = (int)i;
		queue_push(D, &x);
	}
	free(conf);
	return 0;
fail:
	free(conf);
	return -1;
}

/* Stops the drill daemon (SIGTERM: it commits and closes) and waits for it. */
static void
daemon_stop(struct drill *D)
{
	int status;

	if (D->pid <= 0)
		return;
	if (kill(D->pid, SIGTERM) == 0)
		while (waitpid(D->pid, &status, 0) < 0 && errno == EINTR)
			;
	D->pid = 0;
}

/* ---- the run ---- */

/* Queues every inject (a surge's incidents spread evenly over its `over`). */
static void
queue_injects(struct drill *D)
{
	size_t i;

	for (i = 0; i < D->sc->n_injects; i++) {
		const struct inject *in = &D->sc->injects[i];
		struct act x;
		int k, n = in->kind == INJECT_SURGE ? in->u.surge.count : 1;

		for (k = 0; k < n; k++) {
			memset(&x, 0, sizeof x);
			x.kind = ACT_INJECT;
			x.k1 = i;
			x.k2 = (uint64_t)k;
			x.t = D->sc->start_ms + in->at_ms +
			      (in->kind == INJECT_SURGE ? in->u.surge.over_ms * k / n : 0);
			queue_push(D, &x);
		}
	}
}

/* Plays the queue to the end of the drill, in lock-step with the virtual clock. */
static int
play(struct drill *D, char **err)
{
	int64_t next_hour = D->sc->start_ms + 3600000;

	queue_injects(D);
	for (;;) {
		int64_t to = D->n_heap && D->heap[0].t < D->end ? D->heap[0].t : D->end;

		if (to < D->now)
			to = D->now;
		if (advance(D, to, err) != 0)
			return -1;
		if (D->o->show_progress && D->now >= next_hour) {
			fprintf(stderr, "muster: drill at T+%" PRId64 " h\n",
				(D->now - D->sc->start_ms) / 3600000);
			next_hour += 3600000;
		}
		if (D->now < to)
			continue; /* the daemon sent something on the way: answered, go on */
		while (D->n_heap && D->heap[0].t <= D->now && D->heap[0].t < D->end) {
			struct act x = queue_pop(D);

			if (act_run(D, &x, err) != 0)
				return -1;
		}
		if (D->now >= D->end)
			break;
	}
	while (D->n_heap) { /* beyond the end: never happens */
		struct act x = queue_pop(D);

		free(x.rank);
	}
	return 0;
}

/* ---- accelerated mode (--speed): real agents, real time made faster ---- */

/* Returns the real monotonic time in ms. */
static int64_t
real_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The drill daemon's clock now, from its anchor. */
static int64_t
speed_now(const struct drill *D)
{
	return D->v0 + (int64_t)((double)(real_ms() - D->r0) * D->o->speed);
}

/* Writes the models of department I as a muster-agent --model file: every entry complete,
 * chosen as the runner would (model_find), so the agent needs no inheritance. */
static int
agent_models(struct drill *D, size_t i, char **err)
{
	const char *dept = D->cfg->roster->departments[i].id;
	struct strbuf b = {0};
	size_t k, j;

	strbuf_addf(&b, "# written by muster drill run for department %s\nmodels = (\n", dept);
	for (k = 0; k <= D->sc->n_models; k++) {
		const char *kind = k == 0 ? NULL : D->sc->models[k - 1].kind;
		const struct model *m;

		if (kind != NULL && strcmp(kind, "*") == 0)
			continue;
		for (j = 1; j < k && kind; j++) /* each kind once */
			if (strcmp(D->sc->models[j - 1].kind, kind) == 0)
				break;
		if (kind && j < k)
			continue;
		m = model_find(D->sc->models, D->sc->n_models, dept, kind);
		strbuf_addf(&b,
			    "%s\t{ kind = \"%s\"; turnout_s = [%g, %g]; speed_kmh = %g; decline = "
			    "%g; no_show = %g; clear_s = %g; }",
			    k ? ",\n" : "", kind ? kind : "*", m->turnout_min, m->turnout_max,
			    m->speed_kmh, m->decline, m->no_show, m->clear_s);
	}
	strbuf_addf(&b, "\n);\n");
	D->agent_model[i] = xasprintf("%s/models-%s.conf", D->dir, dept);
	if (spit(D->agent_model[i], b.s) != 0) {
		*err = xasprintf("%s: %s", D->agent_model[i], strerror(errno));
		free(b.s);
		return -1;
	}
	free(b.s);
	return 0;
}

/* Starts department I's muster-agent --simulate at the drill's speed. */
static int
agent_spawn(struct drill *D, size_t i, char **err)
{
	const char *dept = D->cfg->roster->departments[i].id;
	char *agent = drill_program(NULL, "MUSTER_AGENT", "clients", "muster-agent");
	char *conf = xasprintf("%s/conf", D->dir), *key = xasprintf("keys/agent-%s.key", dept);
	char *log = xasprintf("%s/agent-%s.log", D->dir, dept), seed[32], speed[32];
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0640);
	int rc = -1;

	snprintf(seed, sizeof seed, "%" PRIu64, D->seed + i + 1);
	snprintf(speed, sizeof speed, "%g", D->o->speed);
	if (logfd < 0) {
		*err = xasprintf("%s: %s", log, strerror(errno));
		goto out;
	}
	D->agent_pid[i] = fork();
	if (D->agent_pid[i] < 0) {
		*err = xasprintf("fork: %s", strerror(errno));
		D->agent_pid[i] = 0;
		goto out;
	}
	if (D->agent_pid[i] == 0) {
		if (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execlp(agent, agent, "-c", conf, "-k", key, "--simulate", "--model",
		       D->agent_model[i], "--seed", seed, "--speed", speed, (char *)NULL);
		_exit(127);
	}
	rc = 0;
out:
	if (logfd >= 0)
		(void)close(logfd);
	free(agent);
	free(conf);
	free(key);
	free(log);
	return rc;
}

/* Stops department I's agent (SIGKILL when KILL, else SIGTERM) and waits for it. */
static void
agent_stop(struct drill *D, size_t i, int hard)
{
	int status;

	if (D->agent_pid == NULL || D->agent_pid[i] <= 0)
		return;
	if (kill(D->agent_pid[i], hard ? SIGKILL : SIGTERM) == 0)
		while (waitpid(D->agent_pid[i], &status, 0) < 0 && errno == EINTR)
			;
	D->agent_pid[i] = 0;
}

/* agent_offline with --speed: the department's agent process is killed, and started again
 * (it registers, and the daemon re-sends what it has not confirmed) after `for`. */
static int
speed_offline(struct drill *D, const struct inject *in)
{
	size_t i;

	for (i = 0; i < D->n_agents; i++)
		if (strcmp(D->cfg->roster->departments[i].id, in->u.offline.department) == 0) {
			struct act x;

			agent_stop(D, i, 1);
			memset(&x, 0, sizeof x);
			x.t = D->now + in->u.offline.for_ms;
			x.kind = ACT_ONLINE;
			x.k1 = i;
			x.dept = (int)i;
			queue_push(D, &x);
		}
	return 0;
}

/* Counts the lines of musterd.log that say an agent registered. */
static size_t
registrations(const struct drill *D)
{
	char *log = xasprintf("%s/musterd.log", D->dir), *text = slurp(log), *p;
	size_t n = 0;

	for (p = text; p && (p = strstr(p, " registered ")) != NULL; p++)
		n++;
	free(log);
	free(text);
	return n;
}

/* Sleeps until the drill daemon's clock reaches T (or at once when it has). */
static void
speed_wait(struct drill *D, int64_t t)
{
	for (;;) {
		int64_t left = t - speed_now(D);
		struct timespec ts;
		double real = (double)left / D->o->speed;

		if (left <= 0)
			return;
		if (real > 200)
			real = 200;
		ts.tv_sec = (time_t)(real / 1000);
		ts.tv_nsec = (long)((real - (double)ts.tv_sec * 1000) * 1e6);
		(void)nanosleep(&ts, NULL);
	}
}

/* Plays the scenario in accelerated real time: real muster-agent --simulate processes answer
 * the orders; the runner sends each inject when the daemon's clock reaches it. T+0 is when
 * every agent has registered. */
static int
play_speed(struct drill *D, char **err)
{
	Envelope e, *r;
	Muster__ListIncidents li;
	int64_t deadline;
	size_t i;

	D->n_agents = D->cfg->roster->n_departments;
	D->agents = xcalloc(D->n_agents, sizeof *D->agents);
	D->agent_pid = xcalloc(D->n_agents, sizeof *D->agent_pid);
	D->agent_model = xcalloc(D->n_agents, sizeof *D->agent_model);
	for (i = 0; i < D->n_agents; i++) {
		D->agents[i].dept = D->cfg->roster->departments[i].id;
		if (agent_models(D, i, err) != 0 || agent_spawn(D, i, err) != 0)
			return -1;
	}
	deadline = real_ms() + D->o->timeout_ms;
	while (registrations(D) < D->n_agents) {
		if (real_ms() > deadline) {
			*err = xasprintf("the agents did not all register within %d ms (see "
					 "%s/agent-*.log)",
					 D->o->timeout_ms, D->dir);
			return -1;
		}
		(void)usleep(20000);
	}
	/* Anchor: the daemon's clock, as its reply says, against ours. */
	muster__envelope__init(&e);
	muster__list_incidents__init(&li);
	li.limit = 1;
	e.body_case = MUSTER__ENVELOPE__BODY_LIST_INCIDENTS;
	e.list_incidents = &li;
	D->r0 = real_ms();
	r = control_call(D, &e, err);
	if (r == NULL)
		return -1;
	D->v0 = r->sent_at_ms;
	wire_free(r);
	queue_injects(D);
	while (D->n_heap) {
		struct act x = queue_pop(D);
		int64_t t = D->v0 + (x.t - D->sc->start_ms);

		if (x.t >= D->end) {
			free(x.rank);
			continue;
		}
		speed_wait(D, t);
		D->now = D->sc->start_ms + (speed_now(D) - D->v0);
		if (act_run(D, &x, err) != 0)
			return -1;
		if (D->o->show_progress)
			fprintf(stderr, "muster: drill at T+%" PRId64 " s\n",
				(D->now - D->sc->start_ms) / 1000);
	}
	speed_wait(D, D->v0 + D->sc->duration_ms);
	D->now = D->end;
	for (i = 0; i < D->n_agents; i++)
		agent_stop(D, i, 0);
	return 0;
}

/* ---- live mode (--live): the running daemon, its real agents, real time ---- */

/* Plays the injects at their real times from now, as exercise requests to the running daemon,
 * waits for the end, and asks for a snapshot: its path is the report's database (*DB). */
static int
play_live(struct drill *D, char **db, char **err)
{
	struct client_conf c;
	Envelope e, *r;
	Muster__Snapshot sn;
	char name[64];

	memset(&c, 0, sizeof c);
	if (client_conf_load(&c, D->o->conf, D->o->key, err) != 0)
		return -1;
	D->control = client_socket(D->zctx, ZMQ_DEALER, c.control, &c, err);
	client_conf_finish(&c);
	if (D->control == NULL)
		return -1;
	D->live_start = util_wall_ms();
	D->r0 = real_ms();
	queue_injects(D);
	while (D->n_heap) {
		struct act x = queue_pop(D);
		int64_t due = D->r0 + (x.t - D->sc->start_ms), left;

		while ((left = due - real_ms()) > 0)
			(void)usleep((useconds_t)(left > 200 ? 200000 : left * 1000));
		D->now = D->sc->start_ms + (real_ms() - D->r0);
		if (x.kind == ACT_INJECT) {
			if (act_run(D, &x, err) != 0)
				return -1;
		} else {
			free(x.rank);
		}
		if (D->o->show_progress)
			fprintf(stderr, "muster: drill at T+%" PRId64 " s\n",
				(D->now - D->sc->start_ms) / 1000);
	}
	while (real_ms() < D->r0 + D->sc->duration_ms)
		(void)usleep(200000);
	D->now = D->end;
	muster__envelope__init(&e);
	muster__snapshot__init(&sn);
	snprintf(name, sizeof name, "drill-%" PRId64 ".db", D->live_start);
	sn.name = name;
	e.body_case = MUSTER__ENVELOPE__BODY_SNAPSHOT;
	e.snapshot = &sn;
	r = client_call(D->control, &e, D->o->timeout_ms, err);
	if (r == NULL)
		return -1;
	if (r->body_case != MUSTER__ENVELOPE__BODY_SNAPSHOT_REPLY) {
		*err = xasprintf("the daemon made no snapshot: %s",
				 r->body_case == MUSTER__ENVELOPE__BODY_ERROR && r->error->message
				     ? r->error->message
				     : "unexpected reply");
		wire_free(r);
		return -1;
	}
	*db = xstrdup(r->snapshot_reply->path);
	wire_free(r);
	return 0;
}

/* Appends "N,N,..." of V to B ("0" when empty, which matches nothing). */
static void
id_list(struct strbuf *b, const uint64_t *v, size_t n)
{
	size_t i;

	if (n == 0)
		strbuf_addf(b, "0");
	for (i = 0; i < n; i++)
		strbuf_addf(b, "%s%" PRIu64, i ? "," : "", v[i]);
}

/* --live: the live database holds others' incidents too; temporary views with the names of
 * the tables narrow every expectation to what this drill opened. */
static int
live_scope(struct drill *D, sqlite3 *db)
{
	struct strbuf q = {0};
	int rc;

	strbuf_addf(&q, "CREATE TEMP VIEW incidents AS SELECT * FROM main.incidents WHERE id IN (");
	id_list(&q, D->opened, D->n_opened);
	strbuf_addf(&q,
		    "); CREATE TEMP VIEW orders AS SELECT * FROM main.orders WHERE "
		    "incident_id IN (SELECT id FROM temp.incidents);"
		    " CREATE TEMP VIEW timeline AS SELECT * FROM main.timeline WHERE incident_id "
		    "IN (SELECT id FROM temp.incidents);"
		    " CREATE TEMP VIEW whistles AS SELECT * FROM main.whistles WHERE id IN (");
	id_list(&q, D->whistles, D->n_whistles);
	strbuf_addf(&q, ");");
	rc = sqlite3_exec(db, q.s, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	free(q.s);
	return rc;
}

/* Runs the single-row, single-column integer query SQL on DB (with ?1 = A when A >= 0). */
static long
q_long(sqlite3 *db, const char *sql, long a)
{
	sqlite3_stmt *st;
	long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (a >= 0 && sqlite3_bind_int64(st, 1, a) != SQLITE_OK) {
		(void)sqlite3_finalize(st);
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(st, 0);
	if (sqlite3_finalize(st) != SQLITE_OK)
		return -1;
	return v;
}

/* Judges expectation X over the drill's database: sets *MET and writes the evidence. */
static void
expect_judge(sqlite3 *db, const struct expect *x, int *met, char *ev, size_t evlen)
{
	sqlite3_stmt *st = NULL;
	long n = 0, ok = 0, worst_id = 0, never_id = 0;
	int64_t worst = -1;
	const char *sql = NULL;

	*met = 0;
	switch (x->what) {
	case EXPECT_GROUP_COMPLETE:
		/* per incident: each slot of the group is complete at the first receipt of an
		 * order to it that was not declined (a later cancellation does not undo it),
		 * counted from the slot's first order (a slot a higher tier adds starts then); the
		 * group takes its slowest slot's time. A slot that only declines leaves the group
		 * incomplete; a slot dropped (cancelled, by a lower tier or the close) before any
		 * receipt is not judged. */
		sql = "SELECT i.id, CASE WHEN count(s.slot) = 0 OR sum(s.f IS NULL) > 0 THEN -1 "
		      "ELSE max(s.f - s.opened) END FROM incidents i LEFT JOIN (SELECT "
		      "o.incident_id AS iid, o.slot, min(o.ordered_ms) AS opened, min(CASE WHEN "
		      "o.received_ms > 0 AND o.status != 5 THEN o.received_ms END) AS f, "
		      "max(o.status NOT IN (5, 10)) AS active, max(o.status = 10) AS dropped FROM "
		      "orders o GROUP BY o.incident_id, o.slot) s ON s.iid = i.id AND NOT (s.f IS "
		      "NULL AND s.active = 0 AND s.dropped = 1) WHERE i.exercise = 1 AND i.state "
		      "!= 3 GROUP BY i.id ORDER BY i.id";
		break;
	case EXPECT_RING_MET:
		sql = "SELECT i.id, CASE WHEN min(CASE WHEN o.on_scene_ms > 0 THEN o.on_scene_ms "
		      "END) - i.received_ms <= min(o.ring_deadline_ms - o.ordered_ms) THEN "
		      "min(CASE WHEN o.on_scene_ms > 0 THEN o.on_scene_ms END) - i.received_ms "
		      "ELSE -1 END FROM incidents i JOIN orders "
		      "o ON o.incident_id = i.id WHERE i.exercise = 1 AND i.state != 3 AND o.kind "
		      "= ?1 AND o.status != 10 AND o.ring_deadline_ms > 0 GROUP BY i.id ORDER BY "
		      "i.id";
		break;
	case EXPECT_CIRCLE:
		sql = "SELECT i.id, coalesce((SELECT min(o.on_scene_ms) FROM orders o WHERE "
		      "o.incident_id = i.id AND o.what = 1 AND o.status != 10 AND o.on_scene_ms > "
		      "0) - i.received_ms, -1) FROM incidents i WHERE i.exercise = 1 AND i.state "
		      "!= 3 ORDER BY i.id";
		break;
	case EXPECT_WHISTLE_ON_TIME:
		sql = "SELECT w.id, CASE WHEN d.status = 1 THEN 0 ELSE -1 END FROM whistles w "
		      "JOIN whistle_departments d ON d.whistle_id = w.id WHERE w.exercise = 1 "
		      "ORDER BY w.id, d.department";
		break;
	case EXPECT_NO_SHORTFALL:
		n = q_long(db,
			   "SELECT count(*) FROM timeline WHERE kind = 'muster.shortfall' AND "
			   "exercise = 1",
			   -1);
		*met = n == 0;
		snprintf(ev, evlen, "%ld shortfall events", n);
		return;
	case EXPECT_MAX_MISSES:
		n = q_long(
		    db,
		    "SELECT count(*) FROM (SELECT i.id, o.kind, min(o.ring_deadline_ms - "
		    "o.ordered_ms) AS ring, min(CASE WHEN o.on_scene_ms > 0 THEN "
		    "o.on_scene_ms END) - i.received_ms AS first FROM incidents i JOIN orders "
		    "o ON o.incident_id = i.id WHERE i.exercise = 1 AND i.state != 3 AND "
		    "o.status != 10 AND o.ring_deadline_ms > 0 GROUP BY i.id, o.kind) WHERE "
		    "first IS NULL OR first > ring",
		    -1);
		*met = n >= 0 && n <= x->count;
		snprintf(ev, evlen, "%ld rings missed (at most %d expected)", n, x->count);
		return;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    (x->what == EXPECT_RING_MET &&
	     sqlite3_bind_text(st, 1, x->kind, -1, SQLITE_STATIC) != SQLITE_OK)) {
		snprintf(ev, evlen, "cannot judge: %s", sqlite3_errmsg(db));
		(void)sqlite3_finalize(st);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		long id = (long)sqlite3_column_int64(st, 0);
		int64_t v =
		    sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
		int good = v >= 0 && (x->what == EXPECT_RING_MET ||
				      x->what == EXPECT_WHISTLE_ON_TIME || v <= x->within_ms);

		n++;
		ok += good;
		if (v < 0 && never_id == 0)
			never_id = id;
		else if (v > worst) {
			worst = v;
			worst_id = id;
		}
	}
	(void)sqlite3_finalize(st);
	if (n == 0) {
		snprintf(ev, evlen, "nothing to judge (no %s in this drill)",
			 x->what == EXPECT_WHISTLE_ON_TIME ? "whistle"
			 : x->what == EXPECT_RING_MET	   ? x->kind
							   : "incident");
		return;
	}
	if (x->what == EXPECT_GROUP_COMPLETE || x->what == EXPECT_WHISTLE_ON_TIME) {
		*met = ok == n;
		if (x->what == EXPECT_WHISTLE_ON_TIME)
			snprintf(ev, evlen, "%ld of %ld called departments on time", ok, n);
		else if (never_id)
			snprintf(ev, evlen,
				 "%ld of %ld groups complete in time; incident #%ld never "
				 "complete",
				 ok, n, never_id);
		else
			snprintf(ev, evlen,
				 "%ld of %ld groups complete in time; slowest #%ld in %.1f s", ok,
				 n, worst_id, (double)worst / 1000.0);
		return;
	}
	*met = 100.0 * (double)ok >= x->share * (double)n;
	snprintf(ev, evlen, "%ld of %ld incidents (%.1f %%; %.1f %% expected)", ok, n,
		 100.0 * (double)ok / (double)n, x->share);
}

/* Writes wall time MS (UTC) as "YYYY-MM-DD hh:mm:ss" into BUF. */
static const char *
fmt_wall(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "?");
	return buf;
}

/* Prints the after-action report: the run, the expectations, the response circles. */
static int
aar(struct drill *D, const char *db_path, FILE *out, struct drill_result *res, char **err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct strbuf html = {0};
	struct report_opts ro;
	char a[32], b[32];
	size_t i;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: cannot open: %s", db_path, db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return -1;
	}
	if (D->o->live && live_scope(D, db) != 0) {
		*err = xasprintf("%s: cannot narrow the report to this drill: %s", db_path,
				 sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	res->events = q_long(db, "SELECT count(*) FROM timeline", -1);
	res->incidents = q_long(db, "SELECT count(*) FROM incidents WHERE exercise = 1", -1);
	res->orders = q_long(db, "SELECT count(*) FROM orders WHERE exercise = 1", -1);
	if (sqlite3_prepare_v2(db, "SELECT hex(hash) FROM timeline ORDER BY seq DESC LIMIT 1", -1,
			       &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(res->head_hash, sizeof res->head_hash, "%s",
			 (const char *)sqlite3_column_text(st, 0));
	(void)sqlite3_finalize(st);
	for (char *p = res->head_hash; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	fprintf(out, "After-action report: %s\n  scenario %s, seed %" PRIu64 "\n", D->sc->name,
		D->sc->path, D->seed);
	fprintf(out, "  virtual time %s .. T+%s; ran in %.2f s (%.0fx real time)\n",
		fmt_wall(D->sc->start_ms, a, sizeof a),
		scenario_format_offset(D->end - D->sc->start_ms, b, sizeof b), res->real_s,
		res->real_s > 0 ? res->virtual_s / res->real_s : 0);
	fprintf(out,
		"  %ld incidents, %ld orders; %ld injects run, %ld simulated reports, %ld "
		"refused\n",
		res->incidents, res->orders, D->injects_done, D->reports, D->refused);
	fprintf(out, "  timeline: %ld events, head hash %s\n", res->events, res->head_hash);
	strbuf_addf(&html,
		    "<h2>After-action: %s</h2>\n<table id=\"expectations\">\n<tr><th>"
		    "line</th><th>expectation</th><th>result</th><th>evidence</th></tr>\n",
		    "expectations");
	fprintf(out, "\nExpectations:\n");
	for (i = 0; i < D->sc->n_expects; i++) {
		const struct expect *x = &D->sc->expects[i];
		char ev[256];
		int met;

		expect_judge(db, x, &met, ev, sizeof ev);
		res->expectations++;
		res->met += met;
		fprintf(out, "  [%s] %s:%u: %s: %s\n", met ? "MET" : "MISSED", D->sc->path, x->line,
			x->text, ev);
		strbuf_addf(&html, "<tr><td>%u</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			    x->line, scenario_expect_name(x->what), met ? "met" : "missed", ev);
	}
	fprintf(out, "  %ld of %ld met\n", res->met, res->expectations);
	strbuf_addf(&html, "</table>\n");
	if (D->notes.s)
		fprintf(out, "\nNotes:\n%s", D->notes.s);
	if (sqlite3_close(db) != SQLITE_OK) {
		*err = xasprintf("%s: cannot close", db_path);
		free(html.s);
		return -1;
	}
	fprintf(out, "\nResponse circles of the drill (muster report --include-exercise):\n");
	memset(&ro, 0, sizeof ro);
	ro.include_exercise = 1;
	ro.circle_ms = 300000;
	if (D->o->live) { /* the drill's own: exercise calls received while it ran */
		ro.exercise_only = 1;
		ro.has_from = ro.has_to = 1;
		ro.from_ms = D->live_start;
		ro.to_ms = D->live_start + D->sc->duration_ms + 1;
	}
	if (report_run(db_path, &ro, out, err) != 0) {
		free(html.s);
		return -1;
	}
	if (D->o->html) {
		FILE *f = fopen(D->o->html, "w");

		ro.format = REPORT_HTML;
		ro.preamble_html = html.s;
		if (f == NULL) {
			*err = xasprintf("%s: %s", D->o->html, strerror(errno));
			free(html.s);
			return -1;
		}
		if (report_run(db_path, &ro, f, err) != 0) {
			(void)fclose(f);
			free(html.s);
			return -1;
		}
		if (fclose(f) != 0) {
			*err = xasprintf("%s: %s", D->o->html, strerror(errno));
			free(html.s);
			return -1;
		}
	}
	free(html.s);
	return 0;
}

/* Frees what D holds (not the scenario or options). */
static void
drill_free(struct drill *D)
{
	size_t i, k;

	for (i = 0; i < D->n_agents; i++) {
		struct sim_agent *a = &D->agents[i];

		if (a->sock)
			(void)zmq_close(a->sock);
		for (k = 0; k < a->n_units; k++)
			free(a->states[k].position);
		free(a->units);
		free(a->states);
		free(a->state_ptrs);
	}
	free(D->agents);
	for (i = 0; D->agent_model && i < D->n_agents; i++)
		free(D->agent_model[i]);
	free(D->agent_model);
	free(D->agent_pid);
	if (D->control)
		(void)zmq_close(D->control);
	if (D->zctx)
		(void)zmq_ctx_term(D->zctx);
	while (D->n_heap) {
		struct act x = queue_pop(D);

		free(x.rank);
	}
	free(D->heap);
	free(D->opened);
	free(D->whistles);
	free(D->orders);
	free(D->incident_of);
	for (i = 0; i < D->n_blocks; i++)
		free(D->blocks[i].area);
	free(D->blocks);
	free(D->notes.s);
	if (D->cfg)
		cfg_free(D->cfg);
	free(D->dir);
}

/* In lock-step the runner and its daemon take turns and never run at once: on one CPU
 * (musterd inherits the mask) each hand-over is a switch on that CPU instead of a wake-up
 * across CPUs (docs/performance.md, "Drills on a virtual clock": with the tick skipping, a
 * day of 1,000 incidents went from 18.4 s to 11.1 s). Best effort: nothing changes when it
 * cannot be done. */
static void
pin_one_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		return; /* a restricted container: run unpinned */
}

int
drill_run(const char *path, const struct drill_opts *o, FILE *out, struct drill_result *res,
	  char **err)
{
	struct drill D;
	struct strbuf errors = {0};
	struct drill_opts oc = *o;
	char *db = NULL;
	int64_t t0;
	int rc = -1;

	*err = NULL;
	memset(&D, 0, sizeof D);
	memset(res, 0, sizeof *res);
	if (oc.timeout_ms <= 0)
		oc.timeout_ms = 20000;
	D.o = &oc;
	if (sodium_init() < 0) {
		*err = xstrdup("libsodium would not initialise");
		return -1;
	}
	if (scenario_load(path, &D.sc, &errors) != 0) {
		*err = errors.s ? errors.s : xasprintf("%s: cannot load", path);
		return -1;
	}
	free(errors.s);
	D.seed = oc.has_seed ? oc.seed : D.sc->seed;
	D.now = D.sc->start_ms;
	D.end = D.sc->start_ms + D.sc->duration_ms;
	D.incident_of = xcalloc(D.sc->n_injects ? D.sc->n_injects : 1, sizeof *D.incident_of);
	if (oc.live) {
		if ((D.zctx = zmq_ctx_new()) == NULL) {
			*err = xasprintf("zmq_ctx_new: %s", zmq_strerror(errno));
			goto out;
		}
		t0 = util_wall_ms();
		if (play_live(&D, &db, err) != 0)
			goto out;
		res->real_s = (double)(util_wall_ms() - t0) / 1000.0;
		res->virtual_s = (double)D.sc->duration_ms / 1000.0;
		if (aar(&D, db, out, res, err) != 0)
			goto out;
		fprintf(out, "\nsnapshot of the live database: %s\n", db);
		rc = 0;
		goto out;
	}
	if (oc.workdir) {
		if (mkdir(oc.workdir, 0750) != 0) {
			*err = xasprintf("%s: %s (the work directory must be new)", oc.workdir,
					 strerror(errno));
			goto out;
		}
		D.dir = realpath(oc.workdir, NULL);
		if (D.dir == NULL) {
			*err = xasprintf("%s: %s", oc.workdir, strerror(errno));
			goto out;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		struct stat st;

		/* A simulation needs no durability: on tmpfs its commits cost nothing. */
		if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
		    access("/dev/shm", W_OK) == 0)
			tmp = "/dev/shm";
		D.dir = xasprintf("%s/muster-drill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(D.dir) == NULL) {
			*err = xasprintf("%s: %s", D.dir, strerror(errno));
			goto out;
		}
	}
	if ((D.zctx = zmq_ctx_new()) == NULL) {
		*err = xasprintf("zmq_ctx_new: %s", zmq_strerror(errno));
		goto out;
	}
	t0 = util_wall_ms();
	if (oc.speed == 0)
		pin_one_cpu();
	if (daemon_start(&D, err) != 0 ||
	    (oc.speed > 0 ? connect_control(&D, err) != 0 || play_speed(&D, err) != 0
			  : connect_all(&D, err) != 0 || play(&D, err) != 0))
		goto out;
	res->real_s = (double)(util_wall_ms() - t0) / 1000.0;
	res->virtual_s = (double)(D.end - D.sc->start_ms) / 1000.0;
	daemon_stop(&D);
	db = xasprintf("%s/drill.db", D.dir);
	if (aar(&D, db, out, res, err) != 0)
		goto out;
	if (oc.workdir == NULL && !oc.keep)
		fprintf(out, "\n(work directory %s removed)\n", D.dir);
	else
		fprintf(out, "\nwork directory: %s (database drill.db, log musterd.log)\n", D.dir);
	rc = 0;
out:
	for (size_t i = 0; D.agent_pid && i < D.n_agents; i++)
		agent_stop(&D, i, 1);
	daemon_stop(&D);
	if (rc == 0 && oc.workdir == NULL && !oc.keep && D.dir) {
		char *cmd = xasprintf("rm -rf -- '%s'", D.dir);

		if (system(cmd) != 0)
			fprintf(stderr, "muster: could not remove %s\n", D.dir);
		free(cmd);
	}
	free(db);
	drill_free(&D);
	scenario_free(D.sc);
	return rc;
}
