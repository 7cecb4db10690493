/* muster-agent: a department's client agent. Connects with its key, registers its units on
 * every (re)connection, sends heartbeats with positions, shows orders as they arrive and
 * confirms their receipt. Reconnects by itself with back-off when the daemon restarts. */
#include "client.h"
#include "log.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define AGENT_VERSION "muster-agent 0.1"
#define AGENT_SEEN_MAX 4096 /* order ids remembered for de-duplication */

static volatile sig_atomic_t stopping;

/* The agent's state. */
struct agent {
	void *ctx, *sock, *mon;
	char **want; /* units asked for on the command line (none: all of ours) */
	size_t n_want;
	Muster__UnitState **units; /* accepted units and their live state */
	size_t n_units;
	int registered;
	int heartbeat_ms;
	int64_t next_heartbeat;
	uint64_t seen[AGENT_SEEN_MAX]; /* order ids already shown (ring) */
	size_t n_seen;
};

static void
usage(void)
{
	fprintf(stderr, "usage: muster-agent [-c CONF] -k KEYFILE [-u UNIT]... [-v]\n"
			"  -c CONF   musterd.conf or its directory (default: $MUSTER_CONF or .)\n"
			"  -k FILE   this agent's key pair (relative to CONF's directory)\n"
			"  -u UNIT   register only this unit (repeatable; default: all of ours)\n");
	exit(2);
}

/* Stops the loop at the next wake-up. */
static void
on_signal(int sig)
{
	stopping = 1;
}

/* Frees the accepted unit list. */
static void
agent_clear_units(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->n_units; i++) {
		free(a->units[i]->unit_id);
		free(a->units[i]->position);
		free(a->units[i]);
	}
	free(a->units);
	a->units = NULL;
	a->n_units = 0;
}

/* Sends our Register. */
static void
agent_register(struct agent *a)
{
	Envelope e;
	Muster__Register reg;

	muster__envelope__init(&e);
	muster__register__init(&reg);
	reg.agent_version = AGENT_VERSION;
	reg.unit_ids = a->want;
	reg.n_unit_ids = a->n_want;
	e.body_case = MUSTER__ENVELOPE__BODY_REGISTER;
	e.register_ = &reg;
	if (client_send(a->sock, &e) != 0)
		log_warn("agent: send register");
	a->registered = 0;
}

/* Sends a heartbeat with every unit's position and status. */
static void
agent_heartbeat(struct agent *a)
{
	Envelope e;
	Muster__Heartbeat hb;

	muster__envelope__init(&e);
	muster__heartbeat__init(&hb);
	hb.units = a->units;
	hb.n_units = a->n_units;
	e.body_case = MUSTER__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	if (client_send(a->sock, &e) != 0)
		log_warn("agent: send heartbeat");
}

/* Takes the daemon's answer to our registration. */
static void
agent_registered(struct agent *a, const Muster__Registered *r)
{
	size_t i;

	agent_clear_units(a);
	a->units = xcalloc(r->n_units ? r->n_units : 1, sizeof *a->units);
	for (i = 0; i < r->n_units; i++) {
		Muster__UnitState *u = xmalloc(sizeof *u);

		muster__unit_state__init(u);
		u->unit_id = xstrdup(r->units[i]->unit_id);
		u->position = xmalloc(sizeof *u->position);
		muster__coordinates__init(u->position);
		if (r->units[i]->position)
			*u->position = *r->units[i]->position;
		u->position->base.unknown_fields = NULL;
		u->position->base.n_unknown_fields = 0;
		/* A unit whose agent just came up is on duty unless told otherwise. */
		u->status = MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
		a->units[i] = u;
	}
	a->n_units = r->n_units;
	for (i = 0; i < r->n_rejected; i++)
		log_warnx("agent: unit %s refused: %s", r->rejected[i]->unit_id,
			  r->rejected[i]->message);
	a->registered = 1;
	a->heartbeat_ms = r->heartbeat_interval_ms ? (int)r->heartbeat_interval_ms : 5000;
	printf("registered %zu units\n", a->n_units);
	fflush(stdout);
	agent_heartbeat(a);
	a->next_heartbeat = util_wall_ms() + a->heartbeat_ms;
}

/* Returns 1 when ORDER_ID was seen before, remembering it otherwise. */
static int
agent_seen(struct agent *a, uint64_t order_id)
{
	size_t i, n = a->n_seen < AGENT_SEEN_MAX ? a->n_seen : AGENT_SEEN_MAX;

	for (i = 0; i < n; i++)
		if (a->seen[i] == order_id)
			return 1;
	a->seen[a->n_seen++ % AGENT_SEEN_MAX] = order_id;
	return 0;
}

/* Shows an order (once) and confirms its receipt (every time: the first receipt may have
 * been lost). */
static void
agent_order(struct agent *a, const Muster__Order *o)
{
	Envelope e;
	Muster__Receipt rc;

	if (!agent_seen(a, o->order_id)) {
		printf("ORDER #%" PRIu64 " incident #%" PRIu64 " unit %s role %s group %s: %s\n",
		       o->order_id, o->incident_id, o->unit_id, o->role, o->group, o->summary);
		fflush(stdout);
	}
	muster__envelope__init(&e);
	muster__receipt__init(&rc);
	rc.order_id = o->order_id;
	e.body_case = MUSTER__ENVELOPE__BODY_RECEIPT;
	e.receipt = &rc;
	if (client_send(a->sock, &e) != 0)
		log_warn("agent: send receipt");
}

/* Handles one message from the daemon. */
static void
agent_input(struct agent *a, Envelope *e)
{
	switch (e->body_case) {
	case MUSTER__ENVELOPE__BODY_REGISTERED:
		agent_registered(a, e->registered);
		break;
	case MUSTER__ENVELOPE__BODY_ORDER:
		agent_order(a, e->order);
		break;
	case MUSTER__ENVELOPE__BODY_REPORT_ACK:
		log_debug("agent: report %" PRIu64 " acknowledged", e->report_ack->acked_seq);
		break;
	case MUSTER__ENVELOPE__BODY_ERROR:
		log_warnx("agent: daemon says %s: %s", wire_code_name(e->error->code),
			  e->error->message);
		/* The daemon restarted or forgot us: register again. */
		if (strcmp(e->error->field, "register") == 0)
			agent_register(a);
		break;
	default:
		log_warnx("agent: unexpected %s ignored", wire_body_name(e->body_case));
	}
}

/* Handles a socket monitor event: register again after every successful handshake. */
static void
agent_monitor(struct agent *a)
{
	zmq_msg_t ev, addr;
	uint16_t id = 0;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&ev, a->mon, 0) >= 0 && zmq_msg_size(&ev) >= 2 &&
	    zmq_msg_recv(&addr, a->mon, 0) >= 0)
		memcpy(&id, zmq_msg_data(&ev), sizeof id);
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
	switch (id) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		log_info("agent: connected");
		agent_register(a);
		break;
	case ZMQ_EVENT_DISCONNECTED:
		log_warnx("agent: disconnected; reconnecting with back-off");
		a->registered = 0;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		log_warnx("agent: the daemon refused this key");
		break;
	default:
		break;
	}
}

int
main(int argc, char **argv)
{
	const char *conf = getenv("MUSTER_CONF"), *key = NULL;
	struct client_conf cc;
	struct agent a;
	struct sigaction sa;
	char *err = NULL;
	int ch, verbose = 0;

	memset(&a, 0, sizeof a);
	if (conf == NULL || conf[0] == '\0')
		conf = ".";
	while ((ch = getopt(argc, argv, "c:k:u:v")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'u':
			a.want = xrealloc(a.want, (a.n_want + 1) * sizeof *a.want);
			a.want[a.n_want++] = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (key == NULL || optind != argc)
		usage();
	log_init("muster-agent", 1, verbose);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		fatal("sigaction");
	if (client_conf_load(&cc, conf, key, &err) != 0)
		fatalx("%s", err);
	a.ctx = zmq_ctx_new();
	if (a.ctx == NULL)
		fatalx("cannot create a ZeroMQ context");
	a.sock = client_socket(a.ctx, ZMQ_DEALER, cc.agents, &cc, &err);
	if (a.sock == NULL)
		fatalx("%s", err);
	if (zmq_socket_monitor(a.sock, "inproc://agent-monitor",
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
				   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
		fatalx("monitor: %s", zmq_strerror(errno));
	a.mon = zmq_socket(a.ctx, ZMQ_PAIR);
	if (a.mon == NULL || zmq_connect(a.mon, "inproc://agent-monitor") != 0)
		fatalx("monitor: %s", zmq_strerror(errno));
	log_info("agent: connecting to %s", cc.agents);
	while (!stopping) {
		zmq_pollitem_t pi[2] = {{.socket = a.sock, .events = ZMQ_POLLIN},
					{.socket = a.mon, .events = ZMQ_POLLIN}};
		int64_t now = util_wall_ms();
		long wait = a.registered ? (long)(a.next_heartbeat - now) : 1000;
		int n;

		if (wait < 0)
			wait = 0;
		n = zmq_poll(pi, 2, wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatalx("poll: %s", zmq_strerror(errno));
		}
		if (pi[1].revents & ZMQ_POLLIN)
			agent_monitor(&a);
		if (pi[0].revents & ZMQ_POLLIN) {
			Envelope *e = client_recv(a.sock, 0, &err);

			if (e) {
				agent_input(&a, e);
				wire_free(e);
			} else if (err) {
				log_warnx("agent: %s", err);
				free(err);
				err = NULL;
			}
		}
		if (a.registered && util_wall_ms() >= a.next_heartbeat) {
			agent_heartbeat(&a);
			a.next_heartbeat = util_wall_ms() + a.heartbeat_ms;
		}
	}
	log_info("agent: stopping");
	zmq_socket_monitor(a.sock, NULL, 0);
	zmq_close(a.mon);
	zmq_close(a.sock);
	zmq_ctx_term(a.ctx);
	agent_clear_units(&a);
	free(a.want);
	client_conf_finish(&cc);
	return 0;
}
