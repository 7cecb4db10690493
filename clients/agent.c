/* muster-agent: a department's client agent. Connects with its key, registers its units on
 * every (re)connection, sends heartbeats with positions, receipts every copy of an order and
 * hands each order over once: to a person at the terminal (interactive), to a program
 * (--exec, JSON lines), or to a behaviour model (--simulate). Receipts and status reports are
 * re-sent with back-off until the daemon answers them. With --state FILE, what it must not
 * forget across its own restarts (the orders handed over, the reports not yet answered, the
 * highest seq) is committed to an SQLite file before it acts on it. See docs/agent.md. */
#include "client.h"
#include "geo.h"
#include "log.h"
#include "model.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libconfig.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define AGENT_VERSION "muster-agent 0.2"
#define AGENT_SEEN_MAX 4096   /* order ids remembered for de-duplication */
#define AGENT_ORDERS_MAX 1024 /* orders kept in full; older final ones are forgotten */
#define AGENT_LINE_MAX 65536  /* longest input line (stdin or --exec output) */
#define BACKOFF_FIRST_MS 1000
#define AGENT_REREGISTER_MS 3000 /* ask again when not registered this long after asking */
#define BACKOFF_MAX_MS 30000
#define STATE_VERSION 1		  /* PRAGMA user_version of a --state file */
#define STATE_APP_ID 0x4d414753	  /* PRAGMA application_id: "MAGS", a muster-agent state */
#define STATE_KEEP AGENT_SEEN_MAX /* orders kept in the state file, besides unfinished ones */

enum mode {
	MODE_PLAIN,	  /* print and receipt orders only (stdin not a terminal) */
	MODE_INTERACTIVE, /* a person types commands */
	MODE_EXEC,	  /* a program reads orders and writes statuses, as JSON lines */
	MODE_SIMULATE,	  /* a behaviour model answers */
};

/* One order as the agent knows it. */
struct order {
	uint64_t id;
	Envelope *env; /* the first copy (owned); env->order is the order */
	int status;    /* Muster__OrderStatus as this agent last reported it */
	int delay;     /* last delay reason reported */
	int sim_step;  /* --simulate: the status to report at sim_due (0: none) */
	int64_t sim_due;
	int stored; /* --state: its row exists in the state file */
	struct order *next;
};

/* A receipt or status report waiting for the daemon's answer. */
struct report {
	uint64_t seq; /* also its correlation id; kept on every re-send */
	uint64_t order_id;
	int receipt;	  /* 1: Receipt, 0: StatusReport */
	int status, prev; /* reported status and the one before it */
	int delay;
	char *note;
	int exercise;
	int sent;	/* sent at least once since the last registration */
	int64_t due;	/* monotonic ms of the next (re-)send */
	int backoff_ms; /* the wait after the next send */
	int whistle;	/* 1: a WhistleArrival for whistle order_id, with rank and headcount */
	char *rank;
	int headcount;
	struct report *next;
};

/* An input line splitter (stdin, or the --exec program's output). */
struct linebuf {
	char *buf;
	size_t len;
	int skipping; /* an over-long line is being discarded */
};

/* A unit id and its kind, from the roster. */
struct kind {
	char *unit_id;
	char *kind;
};

/* The --state file: an SQLite database, WAL, synchronous=FULL, locked by this process. */
struct state {
	char *path;
	sqlite3 *db;
	sqlite3_stmt *order_add, *order_save, *order_trim, *report_add, *report_del, *seq_save;
	int in_tx; /* a transaction is open: changes not yet committed */
};

/* The agent's state. */
struct agent {
	enum mode mode;
	void *ctx, *sock, *mon;
	int64_t last_register; /* monotonic ms of the last Register sent */
	char **want;	       /* units asked for on the command line (none: all of ours) */
	size_t n_want;
	Muster__UnitState **units; /* accepted units and their live state */
	size_t n_units;
	int registered;
	int heartbeat_ms;
	int heartbeat_min_ms;	       /* the daemon's spacing of heartbeats (Registered); 0: any */
	int64_t last_heartbeat;	       /* monotonic ms of the last one sent */
	int64_t next_heartbeat;	       /* monotonic ms */
	uint64_t seen[AGENT_SEEN_MAX]; /* order ids already shown (ring) */
	size_t n_seen;
	struct order *orders; /* newest first */
	size_t n_orders;
	struct report *reports; /* oldest (lowest seq) first; only the head is in flight */
	struct linebuf in;	/* stdin (interactive) or the program's output (exec) */
	int stdin_open;
	/* --exec */
	pid_t child;
	int child_in, child_out; /* our ends: we write its stdin, read its stdout */
	char *out;		 /* bytes not yet written to the program */
	size_t out_len;
	/* --simulate */
	struct model *models;
	size_t n_models;
	struct kind *kinds;
	size_t n_kinds;
	uint64_t seed;
	double speed;	  /* divides every simulated delay */
	struct state *st; /* --state, or NULL */
	int restored;	  /* orders were loaded from it: set the units up at registration */
	int exit_code;
};

static volatile sig_atomic_t stopping;

static const char *status_names[] = {
    [MUSTER__ORDER_STATUS__ORDER_PENDING] = "pending",
    [MUSTER__ORDER_STATUS__ORDER_SENT] = "sent",
    [MUSTER__ORDER_STATUS__ORDER_RECEIVED] = "received",
    [MUSTER__ORDER_STATUS__ORDER_ACCEPTED] = "accepted",
    [MUSTER__ORDER_STATUS__ORDER_DECLINED] = "declined",
    [MUSTER__ORDER_STATUS__ORDER_EN_ROUTE] = "en_route",
    [MUSTER__ORDER_STATUS__ORDER_ON_SCENE] = "on_scene",
    [MUSTER__ORDER_STATUS__ORDER_CLEARED] = "cleared",
    [MUSTER__ORDER_STATUS__ORDER_REASSIGNED] = "reassigned",
    [MUSTER__ORDER_STATUS__ORDER_CANCELLED] = "cancelled",
};

static const struct {
	const char *name;
	int reason;
} delay_names[] = {
    {"road_blocked", MUSTER__DELAY_REASON__DELAY_ROAD_BLOCKED},
    {"no_vehicle", MUSTER__DELAY_REASON__DELAY_NO_VEHICLE},
    {"wrong_address", MUSTER__DELAY_REASON__DELAY_WRONG_ADDRESS},
    {"traffic", MUSTER__DELAY_REASON__DELAY_TRAFFIC},
    {"on_other_task", MUSTER__DELAY_REASON__DELAY_ON_OTHER_TASK},
    {"equipment", MUSTER__DELAY_REASON__DELAY_EQUIPMENT},
    {"other", MUSTER__DELAY_REASON__DELAY_OTHER},
};

/* Prints the usage and exits 2. */
static void
usage(void)
{
	fprintf(stderr,
		"usage: muster-agent [-c CONF] -k KEYFILE [-u UNIT]... [-v]\n"
		"                    [--state FILE]\n"
		"                    [--interactive | --exec CMD | --simulate [--model FILE]\n"
		"                     [--seed N] [--speed N]]\n"
		"  -c CONF          musterd.conf or its directory (default: $MUSTER_CONF or .)\n"
		"  -k FILE          this agent's key pair (relative to CONF's directory)\n"
		"  -u UNIT          register only this unit (repeatable; default: all of ours)\n"
		"  -v               debug messages\n"
		"  --state FILE     remember the orders handed over and the reports not yet\n"
		"                   answered across restarts of this agent (SQLite; made if new)\n"
		"  --interactive    a person answers orders with commands on stdin (default when\n"
		"                   stdin is a terminal; type help)\n"
		"  --exec CMD       run CMD (/bin/sh -c): orders to its stdin, statuses from its\n"
		"                   stdout, one JSON object a line (docs/agent.md)\n"
		"  --simulate       answer orders with a behaviour model per unit kind\n"
		"  --model FILE     the models (libconfig; default: built in)\n"
		"  --seed N         the simulation's random seed (default: from the clock)\n"
		"  --speed N        divide every simulated delay by N (default 1)\n");
	exit(2);
}

/* Stops the loop at the next wake-up. */
static void
on_signal(int sig)
{
	stopping = 1;
}

/* Monotonic milliseconds. */
static int64_t
now_ms(void)
{
	return util_mono_ns() / 1000000;
}

/* Prints to stdout (the agent's output proper) and flushes. */
static void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vprintf(fmt, ap);
	va_end(ap);
	if (rc < 0 || fflush(stdout) != 0)
		log_warn("agent: stdout");
}

/* Returns the name of order status S ("accepted", ...). */
static const char *
status_name(int s)
{
	if (s >= 0 && (size_t)s < sizeof status_names / sizeof *status_names && status_names[s])
		return status_names[s];
	return "unknown";
}

/* Returns the order status named NAME that an agent may report, or 0. */
static int
status_parse(const char *name)
{
	int s;

	for (s = MUSTER__ORDER_STATUS__ORDER_ACCEPTED; s <= MUSTER__ORDER_STATUS__ORDER_CLEARED;
	     s++)
		if (strcmp(name, status_names[s]) == 0)
			return s;
	return 0;
}

/* Returns the name of delay reason R, or "none". */
static const char *
delay_name(int r)
{
	size_t i;

	for (i = 0; i < sizeof delay_names / sizeof *delay_names; i++)
		if (delay_names[i].reason == r)
			return delay_names[i].name;
	return "none";
}

/* Returns the delay reason named NAME, or -1. */
static int
delay_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof delay_names / sizeof *delay_names; i++)
		if (strcmp(name, delay_names[i].name) == 0)
			return delay_names[i].reason;
	return -1;
}

/* Returns 1 when an agent may report TO (with DELAY) for an order in FROM (docs/protocol.md:
 * the order state machine; a repeat of the current state only to give a delay reason). */
static int
transition_ok(int from, int to, int delay)
{
	if (from == to)
		return delay != 0 && (from == MUSTER__ORDER_STATUS__ORDER_RECEIVED ||
				      from == MUSTER__ORDER_STATUS__ORDER_ACCEPTED ||
				      from == MUSTER__ORDER_STATUS__ORDER_EN_ROUTE);
	switch (from) {
	case MUSTER__ORDER_STATUS__ORDER_SENT:
	case MUSTER__ORDER_STATUS__ORDER_RECEIVED:
		return to == MUSTER__ORDER_STATUS__ORDER_ACCEPTED ||
		       to == MUSTER__ORDER_STATUS__ORDER_DECLINED;
	case MUSTER__ORDER_STATUS__ORDER_ACCEPTED:
		return to == MUSTER__ORDER_STATUS__ORDER_EN_ROUTE ||
		       to == MUSTER__ORDER_STATUS__ORDER_ON_SCENE;
	case MUSTER__ORDER_STATUS__ORDER_EN_ROUTE:
		return to == MUSTER__ORDER_STATUS__ORDER_ON_SCENE;
	case MUSTER__ORDER_STATUS__ORDER_ON_SCENE:
		return to == MUSTER__ORDER_STATUS__ORDER_CLEARED;
	default:
		return 0;
	}
}

/* Returns 1 when S is a state in which the unit is busy with the order. */
static int
status_active(int s)
{
	return s == MUSTER__ORDER_STATUS__ORDER_ACCEPTED ||
	       s == MUSTER__ORDER_STATUS__ORDER_EN_ROUTE ||
	       s == MUSTER__ORDER_STATUS__ORDER_ON_SCENE;
}

/* Returns 1 when S is final (nothing more can be reported). */
static int
status_final(int s)
{
	return s == MUSTER__ORDER_STATUS__ORDER_DECLINED ||
	       s == MUSTER__ORDER_STATUS__ORDER_CLEARED ||
	       s == MUSTER__ORDER_STATUS__ORDER_REASSIGNED ||
	       s == MUSTER__ORDER_STATUS__ORDER_CANCELLED;
}

/* ---- units ---- */

/* Frees one unit state. */
static void
unit_free(Muster__UnitState *u)
{
	free(u->unit_id);
	free(u->position);
	free(u);
}

/* Frees the accepted unit list. */
static void
agent_clear_units(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->n_units; i++)
		unit_free(a->units[i]);
	free(a->units);
	a->units = NULL;
	a->n_units = 0;
}

/* Returns our unit ID, or NULL. */
static Muster__UnitState *
agent_unit(const struct agent *a, const char *id)
{
	size_t i;

	for (i = 0; i < a->n_units; i++)
		if (strcmp(a->units[i]->unit_id, id) == 0)
			return a->units[i];
	return NULL;
}

/* Brings the next heartbeat forward, to now or, when the last was sent less than the daemon's
 * heartbeat_min_ms ago, to then: changes in quick succession go out together and the daemon
 * never has to refuse one. */
static void
agent_heartbeat_soon(struct agent *a)
{
	int64_t at = a->last_heartbeat + a->heartbeat_min_ms, now = now_ms();

	if (at < now)
		at = now;
	if (at < a->next_heartbeat)
		a->next_heartbeat = at;
}

/* Sets unit ID busy while one of its orders is active, else available; a change goes out
 * with the next heartbeat, which is brought forward. */
static void
agent_unit_refresh(struct agent *a, const char *id)
{
	Muster__UnitState *u = agent_unit(a, id);
	const struct order *o;
	int busy = 0, st;

	if (u == NULL)
		return;
	for (o = a->orders; o; o = o->next)
		if (strcmp(o->env->order->unit_id, id) == 0 && status_active(o->status))
			busy = 1;
	st = busy ? MUSTER__UNIT_STATUS__UNIT_BUSY : MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
	if ((int)u->status != st) {
		u->status = st;
		agent_heartbeat_soon(a);
	}
}

/* Moves unit ID to the order's location, when it has coordinates. */
static void
agent_unit_arrive(struct agent *a, const struct order *o)
{
	Muster__UnitState *u = agent_unit(a, o->env->order->unit_id);
	const Muster__Location *l = o->env->order->location;

	if (u == NULL || l == NULL || l->coords == NULL)
		return;
	u->position->lat = l->coords->lat;
	u->position->lon = l->coords->lon;
	agent_heartbeat_soon(a);
}

/* ---- the state file (--state) ---- */

/* Version 1 of the state file. Orders: each one handed over, with the envelope as it came and
 * the status last reported, and the simulation's next step (its due time in wall-clock ms, so
 * that it survives a restart). Reports: each one not yet answered by the daemon, in seq order.
 * Agent: the identity the file belongs to, and the highest seq used. */
static const char state_schema[] =
    "CREATE TABLE agent (id INTEGER PRIMARY KEY CHECK (id = 1), public_key TEXT NOT NULL,"
    " last_seq INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, envelope BLOB NOT NULL,"
    " status INTEGER NOT NULL, delay INTEGER NOT NULL, sim_step INTEGER NOT NULL,"
    " sim_due_ms INTEGER NOT NULL, handed_ms INTEGER NOT NULL);"
    "CREATE TABLE reports (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " order_id INTEGER NOT NULL, status INTEGER NOT NULL, prev INTEGER NOT NULL,"
    " delay INTEGER NOT NULL, note TEXT, exercise INTEGER NOT NULL, rank TEXT,"
    " headcount INTEGER NOT NULL);";

/* A report's kind in the state file. */
enum { STATE_STATUS = 0, STATE_RECEIPT = 1, STATE_WHISTLE = 2 };

/* Stops the agent: the state file could not be written or read while running. Going on
 * without a durable record could hand an order over twice after a restart, or lose a report
 * the person or program was told is on its way: better to stop (and be restarted). */
static void __attribute__((noreturn)) state_fatal(const struct state *s, const char *what)
{
	fatalx("%s: cannot %s (%s): stopping rather than risk acting on an order twice", s->path,
	       what, sqlite3_errmsg(s->db));
}

/* Opens a transaction unless one is open: changes gather until state_commit. */
static void
state_begin(struct agent *a)
{
	struct state *s = a->st;

	if (s == NULL || s->in_tx)
		return;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		state_fatal(s, "begin a transaction");
	s->in_tx = 1;
}

/* Commits what was changed (synchronous = FULL: on disk when this returns). Called before
 * anything that reflects a change leaves the agent: a report on the wire, an order handed over,
 * a "sent" told to a person or a program. */
static void
state_commit(struct agent *a)
{
	struct state *s = a->st;

	if (s == NULL || !s->in_tx)
		return;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		char *why = xstrdup(sqlite3_errmsg(s->db)), sql[128];

		/* A COMMIT that failed at its fsync has written its frames to the WAL, commit mark
		 * and all. Found at the next start, they would make an order that was never handed
		 * over count as handed over. A committed write of nothing over them (user_version
		 * again, without fsync: a crash of this process does not lose the page cache)
		 * breaks their checksum chain, as the daemon's store does. If that fails too, the
		 * next start may find them: at most once, still. */
		if (!sqlite3_get_autocommit(s->db) &&
		    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
			log_warnx("agent: %s: rollback: %s", s->path, sqlite3_errmsg(s->db));
		snprintf(sql, sizeof sql,
			 "PRAGMA synchronous = OFF; BEGIN IMMEDIATE; PRAGMA user_version = %d; "
			 "COMMIT;",
			 STATE_VERSION);
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			log_warnx("agent: %s: cannot seal the failed commit: %s", s->path,
				  sqlite3_errmsg(s->db));
		fatalx("%s: cannot commit (%s): stopping rather than risk acting on an order twice",
		       s->path, why);
	}
	s->in_tx = 0;
}

/* Binds V to parameter I of ST. */
static void
state_bind(const struct state *s, sqlite3_stmt *st, int i, int64_t v)
{
	if (sqlite3_bind_int64(st, i, v) != SQLITE_OK)
		state_fatal(s, "bind a value");
}

/* Binds text V (NULL as NULL) to parameter I of ST. */
static void
state_bind_text(const struct state *s, sqlite3_stmt *st, int i, const char *v)
{
	if ((v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i)) !=
	    SQLITE_OK)
		state_fatal(s, "bind a value");
}

/* Runs the bound statement ST to its end and resets it for the next use. */
static void
state_run(const struct state *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (sqlite3_reset(st) != SQLITE_OK || rc != SQLITE_DONE)
		state_fatal(s, what);
	if (sqlite3_clear_bindings(st) != SQLITE_OK)
		state_fatal(s, what);
}

/* The wall-clock ms at which O's next simulated step is due (0: none). */
static int64_t
state_sim_due(const struct order *o)
{
	return o->sim_step ? util_wall_ms() + (o->sim_due - now_ms()) : 0;
}

/* Records order O as handed over, with its envelope and status, and forgets the oldest ended
 * orders beyond the newest STATE_KEEP (an order still going on, or with a report unanswered,
 * is kept: the daemon may still send a copy of it). Part of the open transaction. */
static void
state_order_add(struct agent *a, struct order *o)
{
	struct state *s = a->st;
	uint8_t *buf;
	size_t len;

	if (s == NULL)
		return;
	state_begin(a);
	buf = wire_pack(o->env, &len);
	state_bind(s, s->order_add, 1, (int64_t)o->id);
	if (sqlite3_bind_blob(s->order_add, 2, buf, (int)len, SQLITE_TRANSIENT) != SQLITE_OK)
		state_fatal(s, "bind a value");
	free(buf);
	state_bind(s, s->order_add, 3, o->status);
	state_bind(s, s->order_add, 4, o->delay);
	state_bind(s, s->order_add, 5, o->sim_step);
	state_bind(s, s->order_add, 6, state_sim_due(o));
	state_bind(s, s->order_add, 7, util_wall_ms());
	state_run(s, s->order_add, "record an order");
	state_run(s, s->order_trim, "forget old orders");
	o->stored = 1;
}

/* Records O's status, delay reason and next simulated step. Part of the open transaction. */
static void
state_order_save(struct agent *a, const struct order *o)
{
	struct state *s = a->st;

	if (s == NULL || !o->stored)
		return;
	state_begin(a);
	state_bind(s, s->order_save, 1, o->status);
	state_bind(s, s->order_save, 2, o->delay);
	state_bind(s, s->order_save, 3, o->sim_step);
	state_bind(s, s->order_save, 4, state_sim_due(o));
	state_bind(s, s->order_save, 5, (int64_t)o->id);
	state_run(s, s->order_save, "record an order's status");
}

/* Records report R as waiting for its answer, and its seq as the highest used. Part of the
 * open transaction. */
static void
state_report_add(struct agent *a, const struct report *r)
{
	struct state *s = a->st;

	if (s == NULL)
		return;
	state_begin(a);
	state_bind(s, s->report_add, 1, (int64_t)r->seq);
	state_bind(s, s->report_add, 2,
		   r->whistle	? STATE_WHISTLE
		   : r->receipt ? STATE_RECEIPT
				: STATE_STATUS);
	state_bind(s, s->report_add, 3, (int64_t)r->order_id);
	state_bind(s, s->report_add, 4, r->status);
	state_bind(s, s->report_add, 5, r->prev);
	state_bind(s, s->report_add, 6, r->delay);
	state_bind_text(s, s->report_add, 7, r->note);
	state_bind(s, s->report_add, 8, r->exercise);
	state_bind_text(s, s->report_add, 9, r->rank);
	state_bind(s, s->report_add, 10, r->headcount);
	state_run(s, s->report_add, "record a report");
	state_bind(s, s->seq_save, 1, (int64_t)r->seq);
	state_run(s, s->seq_save, "record the seq");
}

/* Forgets report R: the daemon answered it. Committed with the next change; lost in a crash,
 * it is sent again with its seq and answered DUPLICATE. */
static void
state_report_del(struct agent *a, const struct report *r)
{
	struct state *s = a->st;

	if (s == NULL)
		return;
	state_begin(a);
	state_bind(s, s->report_del, 1, (int64_t)r->seq);
	state_run(s, s->report_del, "forget an answered report");
}

/* Returns why SQLite result RC (on S's file) is a problem, for "FILE: why"; new string. */
static char *
state_why(const struct state *s, int rc)
{
	int e = s->db ? sqlite3_system_errno(s->db) : 0;

	switch (rc & 0xff) {
	case SQLITE_NOTADB:
		return xstrdup("not a muster-agent state file (not an SQLite database)");
	case SQLITE_CORRUPT:
		return xasprintf("damaged (%s)", sqlite3_errmsg(s->db));
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return xstrdup("in use by another process (is another muster-agent running with "
			       "this state file?)");
	case SQLITE_CANTOPEN:
		return xasprintf("cannot open%s%s", e ? ": " : "", e ? strerror(e) : "");
	case SQLITE_READONLY:
		return xstrdup("cannot be written (read-only)");
	case SQLITE_IOERR:
		return xasprintf("cannot read or write%s%s", e ? ": " : "", e ? strerror(e) : "");
	default:
		return xstrdup(s->db ? sqlite3_errmsg(s->db) : "out of memory");
	}
}

/* Runs SQL (one statement) and sets *OUT to a new copy of the first column of its first row
 * (NULL when it has none). Returns an SQLite result code. */
static int
state_query(const struct state *s, const char *sql, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		*out = xstrdup(t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	if (sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_OK)
		rc = sqlite3_errcode(s->db);
	return rc;
}

/* Prepares SQL into *ST; returns an SQLite result code. */
static int
state_prepare(struct state *s, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

/* Closes the state file (its WAL is checkpointed and removed). */
static void
state_close(struct state *s)
{
	if (s == NULL)
		return;
	sqlite3_finalize(s->order_add);
	sqlite3_finalize(s->order_save);
	sqlite3_finalize(s->order_trim);
	sqlite3_finalize(s->report_add);
	sqlite3_finalize(s->report_del);
	sqlite3_finalize(s->seq_save);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("agent: %s: close: %s", s->path, sqlite3_errmsg(s->db));
	free(s->path);
	free(s);
}

/* Opens the state file PATH of the agent with PUBLIC_KEY, creating it (and its schema) when
 * it is new or empty. Returns it, or NULL with *ERR a new "PATH: what is wrong": cannot be
 * opened, not a state file, damaged, newer than this agent, another agent's, in use. */
static struct state *
state_open(const char *path, const char *public_key, char **err)
{
	struct state *s = xcalloc(1, sizeof *s);
	char *v = NULL, *why = NULL, *trim = NULL, sql[160];
	int rc, app, version, tables;
	sqlite3_stmt *st = NULL;

	s->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if (sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK)
		goto sqlfail;
	/* Exclusive, so that a second agent given the same file fails at start instead of both
	 * handing over its orders (and the WAL index lives in heap memory: no -shm file). */
	if ((rc = state_query(s, "PRAGMA locking_mode = EXCLUSIVE", &v)) != SQLITE_OK)
		goto fail;
	free(v);
	v = NULL;
	/* What the file is, before anything is written to it: someone else's file is left as it
	 * was. */
	if ((rc = state_query(s, "PRAGMA application_id", &v)) != SQLITE_OK)
		goto fail;
	app = v ? atoi(v) : 0;
	free(v);
	v = NULL;
	if ((rc = state_query(s, "PRAGMA user_version", &v)) != SQLITE_OK)
		goto fail;
	version = v ? atoi(v) : 0;
	free(v);
	v = NULL;
	if ((rc = state_query(s, "SELECT count(*) FROM sqlite_master", &v)) != SQLITE_OK)
		goto fail;
	tables = v ? atoi(v) : 0;
	free(v);
	v = NULL;
	if ((app != 0 || version != 0 || tables != 0) && app != STATE_APP_ID) {
		why =
		    xstrdup("not a muster-agent state file (an SQLite database of something else)");
		goto fail;
	}
	if (app == STATE_APP_ID && version != STATE_VERSION) {
		why = version > STATE_VERSION
			  ? xasprintf("state file version %d is newer than this muster-agent "
				      "understands (%d)",
				      version, STATE_VERSION)
			  : xasprintf("unknown state file version %d", version);
		goto fail;
	}
	if ((rc = state_query(s, "PRAGMA journal_mode = WAL", &v)) != SQLITE_OK)
		goto fail;
	if (v == NULL || strcmp(v, "wal") != 0) {
		why = xasprintf("cannot switch to WAL journal mode (%s)", v ? v : "no answer");
		goto fail;
	}
	free(v);
	v = NULL;
	if ((rc = state_query(s, "PRAGMA synchronous = FULL", &v)) != SQLITE_OK)
		goto fail;
	free(v);
	v = NULL;
	if ((rc = state_query(s, "PRAGMA synchronous", &v)) != SQLITE_OK)
		goto fail;
	if (v == NULL || strcmp(v, "2") != 0) {
		why = xstrdup("cannot set synchronous = FULL");
		goto fail;
	}
	free(v);
	v = NULL;
	/* Taken now, so that a second agent fails here, before it does anything. */
	if ((rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = state_query(s, "PRAGMA quick_check", &v)) != SQLITE_OK)
		goto fail;
	if (v == NULL || strcmp(v, "ok") != 0) {
		char *c;

		/* One line, however many problems the check lists. */
		for (c = v; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		why = xasprintf("damaged (%.200s)", v ? v : "no answer from the check");
		goto fail;
	}
	free(v);
	v = NULL;
	if (app == 0 && version == 0 && tables == 0) {
		/* New (or empty): the schema and this agent's identity, in one transaction. */
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
			 STATE_APP_ID, STATE_VERSION);
		if ((rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
			goto fail;
		if ((rc = sqlite3_exec(s->db, state_schema, NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_prepare_v2(s->db,
					     "INSERT INTO agent (id, public_key, last_seq, "
					     "created_ms) VALUES (1, ?, 0, ?)",
					     -1, &st, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 1, public_key, -1, SQLITE_TRANSIENT)) !=
			SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 2, util_wall_ms())) != SQLITE_OK ||
		    (rc = sqlite3_step(st)) != SQLITE_DONE ||
		    (rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
			why = state_why(s, rc);
			sqlite3_finalize(st);
			st = NULL;
			if (!sqlite3_get_autocommit(s->db) &&
			    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
				log_warnx("agent: %s: rollback: %s", path, sqlite3_errmsg(s->db));
			goto fail;
		}
		if ((rc = sqlite3_finalize(st)) != SQLITE_OK)
			goto fail;
		st = NULL;
		log_info("agent: %s: a new state file", path);
	}
	if ((rc = state_query(s, "SELECT public_key FROM agent WHERE id = 1", &v)) != SQLITE_OK)
		goto fail;
	if (v == NULL) {
		why = xstrdup("damaged (no agent record)");
		goto fail;
	}
	if (strcmp(v, public_key) != 0) {
		why = xasprintf("belongs to another agent (public key %.10s...), not to this key "
				"(%.10s...); give each agent its own state file",
				v, public_key);
		goto fail;
	}
	free(v);
	v = NULL;
	/* The newest STATE_KEEP orders stay, and any older one not yet ended or with a report
	 * unanswered (the daemon re-sends only orders it has no receipt for). */
	trim =
	    xasprintf("DELETE FROM orders WHERE id < (SELECT id FROM orders ORDER BY id DESC "
		      "LIMIT 1 OFFSET %d) AND status IN (%d, %d, %d, %d) AND id NOT IN "
		      "(SELECT order_id FROM reports WHERE kind != %d)",
		      STATE_KEEP - 1, MUSTER__ORDER_STATUS__ORDER_DECLINED,
		      MUSTER__ORDER_STATUS__ORDER_CLEARED, MUSTER__ORDER_STATUS__ORDER_REASSIGNED,
		      MUSTER__ORDER_STATUS__ORDER_CANCELLED, STATE_WHISTLE);
	if ((rc = state_prepare(
		 s,
		 "INSERT OR IGNORE INTO orders (id, envelope, status, delay, sim_step,"
		 " sim_due_ms, handed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
		 &s->order_add)) != SQLITE_OK ||
	    (rc = state_prepare(s,
				"UPDATE orders SET status = ?, delay = ?, sim_step = ?, "
				"sim_due_ms = ? WHERE id = ?",
				&s->order_save)) != SQLITE_OK ||
	    (rc = state_prepare(s, trim, &s->order_trim)) != SQLITE_OK ||
	    (rc = state_prepare(
		 s,
		 "INSERT INTO reports (seq, kind, order_id, status, prev, delay, note,"
		 " exercise, rank, headcount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 &s->report_add)) != SQLITE_OK ||
	    (rc = state_prepare(s, "DELETE FROM reports WHERE seq = ?", &s->report_del)) !=
		SQLITE_OK ||
	    (rc = state_prepare(s, "UPDATE agent SET last_seq = max(last_seq, ?) WHERE id = 1",
				&s->seq_save)) != SQLITE_OK)
		goto fail;
	free(trim);
	return s;
sqlfail:
	rc = sqlite3_errcode(s->db);
fail:
	if (why == NULL)
		why = state_why(s, rc);
	*err = xasprintf("%s: %s", path, why);
	free(why);
	free(v);
	free(trim);
	state_close(s);
	return NULL;
}

/* ---- sending ---- */

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
	a->last_register = now_ms();
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
	a->last_heartbeat = now_ms();
	a->next_heartbeat = a->last_heartbeat + a->heartbeat_ms;
}

/* Returns the order ID, or NULL. */
static struct order *
agent_order_find(struct agent *a, uint64_t id)
{
	struct order *o;

	for (o = a->orders; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

/* Sends (or re-sends, with its original seq) report R, and schedules the next try. */
static void
report_send(struct agent *a, struct report *r)
{
	Envelope e;
	Muster__Receipt rc;
	Muster__StatusReport st;
	Muster__WhistleArrival wa;
	struct order *o = r->whistle ? NULL : agent_order_find(a, r->order_id);
	Muster__UnitState *u = o ? agent_unit(a, o->env->order->unit_id) : NULL;

	/* Nothing goes on the wire before it is in the state file (--state). */
	state_commit(a);
	muster__envelope__init(&e);
	e.seq = r->seq;
	e.correlation_id = r->seq;
	e.exercise = r->exercise;
	if (r->whistle) {
		muster__whistle_arrival__init(&wa);
		wa.whistle_id = r->order_id;
		wa.leader_rank = r->rank;
		wa.headcount = r->headcount;
		e.body_case = MUSTER__ENVELOPE__BODY_WHISTLE_ARRIVAL;
		e.whistle_arrival = &wa;
	} else if (r->receipt) {
		muster__receipt__init(&rc);
		rc.order_id = r->order_id;
		e.body_case = MUSTER__ENVELOPE__BODY_RECEIPT;
		e.receipt = &rc;
	} else {
		muster__status_report__init(&st);
		st.order_id = r->order_id;
		st.status = r->status;
		st.delay_reason = r->delay;
		st.note = r->note ? r->note : "";
		st.position = u ? u->position : NULL;
		e.body_case = MUSTER__ENVELOPE__BODY_STATUS;
		e.status = &st;
	}
	if (client_send_seq(a->sock, &e) != 0)
		log_warn("agent: send report %" PRIu64, r->seq);
	else
		log_debug("agent: %s report seq %" PRIu64 " (%s #%" PRIu64 ")",
			  r->sent ? "re-sent" : "sent", r->seq, r->receipt ? "receipt" : "status",
			  r->order_id);
	r->sent = 1;
	r->due = now_ms() + r->backoff_ms;
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* Sends the head report when it is due. Reports go one at a time, in seq order: the daemon
 * treats any seq at or below the highest it recorded as a duplicate, so a later report must
 * not overtake an earlier unanswered one. */
static void
agent_pump(struct agent *a)
{
	if (a->registered && a->reports && now_ms() >= a->reports->due)
		report_send(a, a->reports);
}

/* Queues a new report (a fresh seq) behind the others (and in the state file's open
 * transaction), and sends it if it is the head. */
static struct report *
agent_report_add(struct agent *a, const struct order *o, int receipt, int status, int prev,
		 int delay, const char *note)
{
	struct report *r = xcalloc(1, sizeof *r), **p;

	r->seq = client_next_seq();
	r->order_id = o->id;
	r->receipt = receipt;
	r->status = status;
	r->prev = prev;
	r->delay = delay;
	r->note = note && note[0] ? xstrdup(note) : NULL;
	r->exercise = o->env->exercise;
	r->backoff_ms = BACKOFF_FIRST_MS;
	for (p = &a->reports; *p; p = &(*p)->next)
		;
	*p = r;
	state_report_add(a, r);
	agent_pump(a);
	return r;
}

/* Returns 1 when a status report for order ID is still unanswered. */
static int
agent_report_pending(const struct agent *a, uint64_t id)
{
	const struct report *r;

	for (r = a->reports; r; r = r->next)
		if (r->order_id == id && !r->receipt)
			return 1;
	return 0;
}

/* Unlinks and frees report R. */
static void
agent_report_remove(struct agent *a, struct report *r)
{
	struct report **p;

	for (p = &a->reports; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	free(r->note);
	free(r->rank);
	free(r);
}

/* Queues the arrival of this agent's department at whistle ID. */
static void
agent_whistle_report(struct agent *a, uint64_t id, const char *rank, int headcount, int exercise)
{
	struct report *r = xcalloc(1, sizeof *r), **p;

	r->seq = client_next_seq();
	r->order_id = id;
	r->whistle = 1;
	r->rank = xstrdup(rank);
	r->headcount = headcount;
	r->exercise = exercise;
	r->backoff_ms = BACKOFF_FIRST_MS;
	for (p = &a->reports; *p; p = &(*p)->next)
		;
	*p = r;
	state_report_add(a, r);
	agent_pump(a);
	state_commit(a); /* before the caller says it was sent */
}

/* ---- --exec: the program ---- */

/* Writes as much of the buffered output to the program as it takes now. */
static void
exec_flush(struct agent *a)
{
	while (a->out_len > 0 && a->child_in >= 0) {
		ssize_t n = write(a->child_in, a->out, a->out_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_warn("agent: writing to the program");
			if (close(a->child_in) != 0)
				log_warn("agent: close");
			a->child_in = -1;
			a->out_len = 0;
			return;
		}
		memmove(a->out, a->out + n, a->out_len - (size_t)n);
		a->out_len -= (size_t)n;
	}
}

/* Writes JSON object J (consumed) to the program as one line. */
static void
exec_write(struct agent *a, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	size_t n;

	json_decref(j);
	if (s == NULL) {
		log_warnx("agent: cannot encode a line for the program");
		return;
	}
	if (a->child_in < 0) {
		free(s);
		return;
	}
	n = strlen(s);
	a->out = xrealloc(a->out, a->out_len + n + 1);
	memcpy(a->out + a->out_len, s, n);
	a->out[a->out_len + n] = '\n';
	a->out_len += n + 1;
	free(s);
	exec_flush(a);
}

/* Returns a new JSON string of S (NULL as ""). */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");

	return j ? j : json_string("");
}

/* Hands order O to the program as one JSON line. */
static void
exec_order(struct agent *a, const struct order *o)
{
	const Muster__Order *m = o->env->order;
	json_t *j = json_object(), *loc = json_object(), *notes = json_array(),
	       *members = json_array();
	size_t i;

	if (j == NULL || loc == NULL || notes == NULL || members == NULL)
		fatalx("out of memory");
	if (m->location) {
		json_object_set_new(loc, "place", jstr(m->location->place));
		json_object_set_new(loc, "street", jstr(m->location->street));
		json_object_set_new(loc, "community", jstr(m->location->community));
		json_object_set_new(loc, "grid", jstr(m->location->grid));
		json_object_set_new(loc, "key_place", jstr(m->location->key_place));
		if (m->location->coords) {
			json_object_set_new(loc, "lat", json_real(m->location->coords->lat));
			json_object_set_new(loc, "lon", json_real(m->location->coords->lon));
		}
	}
	for (i = 0; i < m->n_notes; i++)
		json_array_append_new(notes, jstr(m->notes[i]));
	for (i = 0; i < m->n_members; i++) {
		json_t *g = json_object();

		if (g == NULL)
			fatalx("out of memory");
		json_object_set_new(g, "unit_id", jstr(m->members[i]->unit_id));
		json_object_set_new(g, "role", jstr(m->members[i]->role));
		json_object_set_new(g, "group", jstr(m->members[i]->group));
		json_object_set_new(g, "department", jstr(m->members[i]->department));
		json_array_append_new(members, g);
	}
	json_object_set_new(j, "type", json_string("order"));
	json_object_set_new(j, "order_id", json_integer((json_int_t)m->order_id));
	json_object_set_new(j, "incident_id", json_integer((json_int_t)m->incident_id));
	json_object_set_new(j, "unit_id", jstr(m->unit_id));
	json_object_set_new(j, "role", jstr(m->role));
	json_object_set_new(j, "group", jstr(m->group));
	json_object_set_new(j, "commander", jstr(m->commander));
	json_object_set_new(j, "summary", jstr(m->summary));
	json_object_set_new(j, "location", loc);
	json_object_set_new(j, "receipt_deadline_ms", json_integer(m->receipt_deadline_ms));
	json_object_set_new(j, "ring_deadline_ms", json_integer(m->ring_deadline_ms));
	json_object_set_new(j, "notes", notes);
	json_object_set_new(j, "members", members);
	json_object_set_new(j, "attempt", json_integer(m->attempt));
	json_object_set_new(j, "tier", json_integer(m->tier));
	json_object_set_new(j, "exercise", json_boolean(o->env->exercise));
	exec_write(a, j);
}

/* Tells the program that its report R was recorded (OK) or refused (CODE, MESSAGE). */
static void
exec_answer(struct agent *a, const struct report *r, int ok, const char *code, const char *message)
{
	json_t *j = json_object();

	if (j == NULL)
		fatalx("out of memory");
	json_object_set_new(j, "type", json_string(ok ? "ack" : "refused"));
	json_object_set_new(j, "order_id", json_integer((json_int_t)r->order_id));
	json_object_set_new(j, "status", json_string(status_name(r->status)));
	if (r->delay)
		json_object_set_new(j, "delay_reason", json_string(delay_name(r->delay)));
	if (ok) {
		json_object_set_new(j, "ok", json_true());
	} else {
		json_object_set_new(j, "code", jstr(code));
		json_object_set_new(j, "message", jstr(message));
	}
	exec_write(a, j);
}

/* Tells the program that the daemon cancelled an order. */
static void
exec_cancel(struct agent *a, const Muster__Cancel *c)
{
	json_t *j = json_object();

	if (j == NULL)
		fatalx("out of memory");
	json_object_set_new(j, "type", json_string("cancel"));
	json_object_set_new(j, "order_id", json_integer((json_int_t)c->order_id));
	json_object_set_new(j, "reason", jstr(c->reason));
	exec_write(a, j);
}

/* Passes a supervisor's notice to the program. */
static void
exec_notice(struct agent *a, const Muster__Notice *n)
{
	json_t *j = json_object();

	if (j == NULL)
		fatalx("out of memory");
	json_object_set_new(j, "type", json_string("notice"));
	json_object_set_new(j, "kind", jstr(n->kind));
	json_object_set_new(j, "incident_id", json_integer((json_int_t)n->incident_id));
	json_object_set_new(j, "order_id", json_integer((json_int_t)n->order_id));
	json_object_set_new(j, "member_id", jstr(n->member_id));
	json_object_set_new(j, "text", jstr(n->text));
	exec_write(a, j);
}

/* Starts CMD with /bin/sh -c, its stdin and stdout piped to us. */
static void
exec_start(struct agent *a, const char *cmd)
{
	int to[2], from[2];

	if (pipe(to) != 0 || pipe(from) != 0)
		fatal("pipe");
	a->child = fork();
	if (a->child < 0)
		fatal("fork");
	if (a->child == 0) {
		if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0)
			_exit(127);
		if (close(to[0]) != 0 || close(to[1]) != 0 || close(from[0]) != 0 ||
		    close(from[1]) != 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (close(to[0]) != 0 || close(from[1]) != 0)
		fatal("close");
	a->child_in = to[1];
	a->child_out = from[0];
	if (fcntl(a->child_in, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(a->child_out, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(a->child_in, F_SETFL, O_NONBLOCK) != 0)
		fatal("fcntl");
	log_info("agent: started `%s` (pid %ld)", cmd, (long)a->child);
}

/* Waits for the program (terminating it first if it still runs), logs how it ended, and
 * stops the agent with a failure status unless it is stopping anyway. */
static void
exec_reap(struct agent *a, int terminate)
{
	int st = 0;
	pid_t p;

	if (a->child <= 0)
		return;
	if (a->child_in >= 0 && close(a->child_in) != 0)
		log_warn("agent: close");
	a->child_in = -1;
	p = waitpid(a->child, &st, WNOHANG);
	if (p == 0 && terminate && kill(a->child, SIGTERM) != 0)
		log_warn("agent: kill %ld", (long)a->child);
	if (p == 0) {
		do
			p = waitpid(a->child, &st, 0);
		while (p < 0 && errno == EINTR);
	}
	if (p < 0)
		log_warn("agent: waitpid");
	else if (WIFEXITED(st) && stopping)
		log_info("agent: the program exited with status %d", WEXITSTATUS(st));
	else if (WIFEXITED(st))
		log_warnx("agent: the program exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		log_warnx("agent: the program was killed by signal %d", WTERMSIG(st));
	a->child = 0;
	if (!stopping) {
		log_warnx("agent: without its program the agent stops (exit 1)");
		a->exit_code = 1;
		stopping = 1;
	}
}

/* ---- simulation ---- */

/* splitmix64: the next 64 random bits of state *S. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from state *S. */
static double
rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Returns the kind of unit ID from the roster, or "*". */
static const char *
sim_kind(const struct agent *a, const char *id)
{
	size_t i;

	for (i = 0; i < a->n_kinds; i++)
		if (strcmp(a->kinds[i].unit_id, id) == 0)
			return a->kinds[i].kind;
	return "*";
}

/* Returns the model for KIND: its own, else the "*" one (always present). */
static const struct model *
sim_model(const struct agent *a, const char *kind)
{
	const struct model *m = model_find(a->models, a->n_models, NULL, kind);

	if (m == NULL)
		fatalx("no default model");
	return m;
}

/* Returns a simulated delay of S seconds as monotonic ms from now, scaled by --speed. */
static int64_t
sim_after(const struct agent *a, double s)
{
	return now_ms() + (int64_t)(s * 1000.0 / a->speed);
}

/* Seconds unit U needs to reach order O: road distance (1.3 times the straight line) at the
 * model's speed; 0 when either position is unknown. */
static double
sim_travel_s(const struct agent *a, const struct order *o, const struct model *m)
{
	const Muster__UnitState *u = agent_unit(a, o->env->order->unit_id);
	const Muster__Location *l = o->env->order->location;
	double d;

	if (u == NULL || u->position == NULL || l == NULL || l->coords == NULL)
		return 0;
	d = geo_distance_m(u->position->lat, u->position->lon, l->coords->lat, l->coords->lon);
	return d * 1.3 / (m->speed_kmh / 3.6);
}

static int agent_status(struct agent *a, struct order *o, int status, int delay, const char *note,
			char *err, size_t errlen);

/* Decides, once per order, what the simulated unit does: nothing (no-show), decline, or
 * accept and then go, arrive and clear on timers. Deterministic for (seed, order id). */
static void
sim_order(struct agent *a, struct order *o)
{
	const char *kind = sim_kind(a, o->env->order->unit_id);
	const struct model *m = sim_model(a, kind);
	uint64_t s = a->seed ^ (o->id * 0xd1b54a32d192ed03ULL);
	double no_show = rng_unit(&s), decline = rng_unit(&s), turnout = rng_unit(&s);
	char err[256];

	if (no_show < m->no_show) {
		out("sim: #%" PRIu64 " %s (%s): no show\n", o->id, o->env->order->unit_id, kind);
		return;
	}
	if (decline < m->decline) {
		if (agent_status(a, o, MUSTER__ORDER_STATUS__ORDER_DECLINED, 0, "simulated decline",
				 err, sizeof err) != 0)
			log_warnx("agent: sim: %s", err);
		return;
	}
	/* The next step is set first, so that it is committed with the report (--state). */
	o->sim_step = MUSTER__ORDER_STATUS__ORDER_EN_ROUTE;
	o->sim_due = sim_after(a, m->turnout_min + turnout * (m->turnout_max - m->turnout_min));
	if (agent_status(a, o, MUSTER__ORDER_STATUS__ORDER_ACCEPTED, 0, NULL, err, sizeof err) !=
	    0) {
		o->sim_step = 0;
		log_warnx("agent: sim: %s", err);
	}
}

/* Takes the simulation's next step for every order that is due. */
static void
sim_run(struct agent *a)
{
	struct order *o;
	int64_t now = now_ms();
	char err[256];

	for (o = a->orders; o; o = o->next) {
		const struct model *m;
		int step = o->sim_step;

		if (step == 0 || now < o->sim_due)
			continue;
		/* The step after this one is set first, so that it is committed with this
		 * step's report (--state); reporting changes nothing it depends on. */
		o->sim_step = 0;
		m = sim_model(a, sim_kind(a, o->env->order->unit_id));
		if (step == MUSTER__ORDER_STATUS__ORDER_EN_ROUTE) {
			o->sim_step = MUSTER__ORDER_STATUS__ORDER_ON_SCENE;
			o->sim_due = sim_after(a, sim_travel_s(a, o, m));
		} else if (step == MUSTER__ORDER_STATUS__ORDER_ON_SCENE && m->clear_s > 0) {
			o->sim_step = MUSTER__ORDER_STATUS__ORDER_CLEARED;
			o->sim_due = sim_after(a, m->clear_s);
		}
		if (agent_status(a, o, step, 0, NULL, err, sizeof err) != 0) {
			o->sim_step = 0;
			log_warnx("agent: sim: %s", err);
		}
	}
}

/* Loads the models (model.h): the built-in "*" (turnout 30-120 s, 30 km/h, decline 5 %,
 * no-show 2 %, clear after 600 s), then FILE's "*" over it, then FILE's kinds, each starting
 * from "*". Exits naming every problem in FILE. */
static void
sim_load_models(struct agent *a, const char *file)
{
	struct strbuf errors = {0};

	if (file == NULL) {
		model_defaults(&a->models, &a->n_models);
		return;
	}
	if (model_load_file(file, &a->models, &a->n_models, &errors) != 0) {
		if (errors.len > 0 && errors.s[errors.len - 1] == '\n')
			errors.s[--errors.len] = '\0';
		fatalx("%s", errors.s ? errors.s : "bad model file");
	}
	strbuf_finish(&errors);
}

/* Reads the unit kinds from the roster named by the configuration at CONF, so that each
 * unit gets its kind's model; without a readable roster every unit uses "*". */
static void
sim_load_kinds(struct agent *a, const char *conf)
{
	char *err = NULL, *path = client_conf_path(conf, "roster", &err);
	config_t cf;
	const config_setting_t *units;
	int i, n;

	if (path == NULL) {
		log_warnx("agent: sim: %s; every unit uses model \"*\"", err);
		free(err);
		return;
	}
	config_init(&cf);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		log_warnx("agent: sim: %s:%d: %s; every unit uses model \"*\"", path,
			  config_error_line(&cf), config_error_text(&cf));
		goto out;
	}
	units = config_lookup(&cf, "units");
	n = units ? config_setting_length(units) : 0;
	a->kinds = xcalloc(n > 0 ? (size_t)n : 1, sizeof *a->kinds);
	for (i = 0; i < n; i++) {
		const config_setting_t *u = config_setting_get_elem(units, (unsigned)i);
		const char *id = NULL, *kind = NULL;

		if (u && config_setting_lookup_string(u, "id", &id) == CONFIG_TRUE &&
		    config_setting_lookup_string(u, "kind", &kind) == CONFIG_TRUE) {
			a->kinds[a->n_kinds].unit_id = xstrdup(id);
			a->kinds[a->n_kinds].kind = xstrdup(kind);
			a->n_kinds++;
		}
	}
out:
	config_destroy(&cf);
	free(path);
}

/* ---- reports and answers ---- */

/* Reports order O's new STATUS (with DELAY and NOTE) when the state machine allows it from
 * the state we last reported; returns 0, or -1 with a one-line reason in ERR and nothing
 * changed. With --state the order's new status and the report are committed before the
 * report is sent and before this returns (the caller may say it was sent). */
static int
agent_status(struct agent *a, struct order *o, int status, int delay, const char *note, char *err,
	     size_t errlen)
{
	int prev = o->status;

	if (!transition_ok(prev, status, delay)) {
		if (prev == status)
			snprintf(err, errlen,
				 "order #%" PRIu64 " is already %s (a repeat needs a delay reason "
				 "before on_scene)",
				 o->id, status_name(prev));
		else
			snprintf(err, errlen, "order #%" PRIu64 " is %s: cannot go to %s", o->id,
				 status_name(prev), status_name(status));
		return -1;
	}
	o->status = status;
	if (delay)
		o->delay = delay;
	if (status == MUSTER__ORDER_STATUS__ORDER_ON_SCENE)
		agent_unit_arrive(a, o); /* the report carries the new position */
	state_order_save(a, o);
	agent_report_add(a, o, 0, status, prev, delay, note);
	state_commit(a);
	agent_unit_refresh(a, o->env->order->unit_id);
	if (a->mode == MODE_SIMULATE)
		out("sim: #%" PRIu64 " %s %s\n", o->id, o->env->order->unit_id,
		    status_name(status));
	return 0;
}

/* Report R was recorded by the daemon. */
static void
agent_recorded(struct agent *a, struct report *r, int code)
{
	log_debug("agent: report seq %" PRIu64 " recorded (%s)", r->seq, wire_code_name(code));
	state_report_del(a, r);
	if (r->whistle) {
		out("whistle #%" PRIu64 ": arrival recorded\n", r->order_id);
		agent_report_remove(a, r);
		return;
	}
	if (!r->receipt) {
		if (a->mode == MODE_EXEC)
			exec_answer(a, r, 1, NULL, NULL);
		else if (a->mode == MODE_INTERACTIVE)
			out("#%" PRIu64 " %s%s%s: recorded\n", r->order_id, status_name(r->status),
			    r->delay ? " delay " : "", r->delay ? delay_name(r->delay) : "");
	}
	agent_report_remove(a, r);
}

/* Report R was refused by the daemon with CODE and MESSAGE: it is not sent again, and the
 * order goes back to the state before it when nothing was reported after it. */
static void
agent_refused(struct agent *a, struct report *r, int code, const char *message)
{
	struct order *o = r->whistle ? NULL : agent_order_find(a, r->order_id);

	state_report_del(a, r);
	if (r->whistle) {
		out("whistle #%" PRIu64 ": arrival REFUSED by the daemon: %s: %s\n", r->order_id,
		    wire_code_name(code), message);
		agent_report_remove(a, r);
		return;
	}
	log_warnx("agent: REFUSED by the daemon: %s for order #%" PRIu64 " (seq %" PRIu64
		  "): %s: %s; not sent again",
		  r->receipt ? "receipt" : status_name(r->status), r->order_id, r->seq,
		  wire_code_name(code), message);
	if (!r->receipt) {
		if (a->mode == MODE_EXEC)
			exec_answer(a, r, 0, wire_code_name(code), message);
		else if (a->mode == MODE_INTERACTIVE)
			out("#%" PRIu64 " %s: REFUSED by the daemon: %s: %s\n", r->order_id,
			    status_name(r->status), wire_code_name(code), message);
	}
	if (o) {
		if (!r->receipt && o->status == r->status && r->status != r->prev)
			o->status = r->prev;
		o->sim_step = 0; /* the daemon disagrees: the simulated unit stops */
		state_order_save(a, o);
		agent_unit_refresh(a, o->env->order->unit_id);
	}
	agent_report_remove(a, r);
}

/* Returns the pending report with SEQ, or NULL. */
static struct report *
agent_report_find(struct agent *a, uint64_t seq)
{
	struct report *r;

	for (r = a->reports; r && seq; r = r->next)
		if (r->seq == seq)
			return r;
	return NULL;
}

/* Handles a ReportAck. */
static void
agent_ack(struct agent *a, const Muster__ReportAck *ack)
{
	struct report *r = agent_report_find(a, ack->acked_seq);

	if (r == NULL) {
		log_debug("agent: late answer for report seq %" PRIu64, ack->acked_seq);
		return;
	}
	switch (ack->code) {
	case MUSTER__ERROR_CODE__OK:
	case MUSTER__ERROR_CODE__DUPLICATE:
		agent_recorded(a, r, ack->code);
		break;
	case MUSTER__ERROR_CODE__UNAVAILABLE:
		log_warnx("agent: report seq %" PRIu64 " not recorded yet (%s); trying again",
			  r->seq, ack->message);
		break;
	default:
		agent_refused(a, r, ack->code, ack->message);
	}
	agent_pump(a);
}

/* Handles an ErrorReply: a refused report, or a lost session. */
static void
agent_error(struct agent *a, const Envelope *e)
{
	const Muster__ErrorReply *er = e->error;
	struct report *r = agent_report_find(a, e->correlation_id);
	int lost = strcmp(er->field, "register") == 0;

	if (r && !lost && er->code != MUSTER__ERROR_CODE__UNAVAILABLE) {
		agent_refused(a, r, er->code, er->message);
		agent_pump(a);
		return;
	}
	log_warnx("agent: daemon says %s: %s", wire_code_name(er->code), er->message);
	/* The daemon restarted or forgot us: register again (pending reports wait). */
	if (lost)
		agent_register(a);
	/* A heartbeat came too soon and was not applied: send the state again shortly. */
	if (er->code == MUSTER__ERROR_CODE__RESOURCE_EXHAUSTED &&
	    strcmp(er->field, "heartbeat") == 0)
		a->next_heartbeat =
		    now_ms() + (a->heartbeat_min_ms > 100 ? a->heartbeat_min_ms : 100);
}

/* ---- orders ---- */

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

/* Frees order O. */
static void
order_free(struct order *o)
{
	wire_free(o->env);
	free(o);
}

/* Forgets the oldest final order without pending reports once there are too many. */
static void
agent_orders_trim(struct agent *a)
{
	struct order **p, **victim = NULL;

	if (a->n_orders <= AGENT_ORDERS_MAX)
		return;
	for (p = &a->orders; *p; p = &(*p)->next)
		if (status_final((*p)->status) && !agent_report_pending(a, (*p)->id))
			victim = p;
	if (victim) {
		struct order *o = *victim;

		*victim = o->next;
		order_free(o);
		a->n_orders--;
	}
}

/* Formats wall-clock MS as local HH:MM:SS into BUF, or "-" when 0. */
static const char *
fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL || strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* Prints order O for a person, as a block. */
static void
order_print_block(const struct order *o)
{
	const Muster__Order *m = o->env->order;
	const Muster__Location *l = m->location;
	char t1[32], t2[32];
	size_t i;

	out("\n=== ORDER #%" PRIu64 "%s ===\n", m->order_id,
	    o->env->exercise ? "  *** EXERCISE ***" : "");
	out("  incident   #%" PRIu64 "  tier %u  attempt %u\n", m->incident_id, m->tier,
	    m->attempt);
	out("  unit       %s\n", m->unit_id);
	out("  role       %s\n", m->role);
	out("  group      %s\n", m->group);
	out("  commander  %s\n", m->commander[0] ? m->commander : "-");
	out("  summary    %s\n", m->summary);
	if (l) {
		out("  place      %s", l->place[0] ? l->place : "-");
		if (l->street[0] || l->community[0] || l->grid[0])
			out(" (%s / %s / %s)", l->street, l->community, l->grid);
		if (l->key_place[0])
			out(" key place %s", l->key_place);
		if (l->coords)
			out(" at %.5f, %.5f", l->coords->lat, l->coords->lon);
		out("\n");
	}
	out("  deadlines  receipt by %s, on scene by %s\n",
	    fmt_time(m->receipt_deadline_ms, t1, sizeof t1),
	    fmt_time(m->ring_deadline_ms, t2, sizeof t2));
	for (i = 0; i < m->n_notes; i++)
		out("  note       %s\n", m->notes[i]);
	for (i = 0; i < m->n_members; i++)
		out("  member     %s  %s  %s  %s\n", m->members[i]->unit_id, m->members[i]->role,
		    m->members[i]->group, m->members[i]->department);
	out("  answer     accept %" PRIu64 " | decline %" PRIu64 " [reason] | help\n\n",
	    m->order_id, m->order_id);
}

/* Hands a new order over, once: printed, written to the program, or simulated. */
static void
agent_handover(struct agent *a, struct order *o)
{
	const Muster__Order *m = o->env->order;

	/* The order and its receipt are in the state file first (--state): after a crash from
	 * here on, it is not handed over again (at most once). */
	state_commit(a);
	if (a->mode == MODE_INTERACTIVE) {
		order_print_block(o);
	} else {
		if (a->mode == MODE_EXEC)
			exec_order(a, o);
		out("ORDER #%" PRIu64 " incident #%" PRIu64 " unit %s role %s group %s: %s%s\n",
		    m->order_id, m->incident_id, m->unit_id, m->role, m->group, m->summary,
		    o->env->exercise ? " [EXERCISE]" : "");
	}
	if (a->mode == MODE_SIMULATE)
		sim_order(a, o);
}

/* Receipts an order (every copy: the first receipt may have been lost) and hands it over
 * the first time. With --state, an order found there (handed over before a restart) counts
 * as seen, and the order with its receipt is committed before either goes out. Takes E. */
static void
agent_order(struct agent *a, Envelope *e)
{
	const Muster__Order *m = e->order;
	struct order *o = agent_order_find(a, m->order_id);
	struct report *r;
	int fresh = 0, created = 0, prev;

	if (o == NULL) {
		o = xcalloc(1, sizeof *o);
		o->id = m->order_id;
		o->env = e;
		o->status = MUSTER__ORDER_STATUS__ORDER_SENT;
		o->next = a->orders;
		a->orders = o;
		a->n_orders++;
		fresh = !agent_seen(a, m->order_id);
		created = 1;
		e = NULL;
	}
	wire_free(e);
	prev = o->status;
	if (o->status == MUSTER__ORDER_STATUS__ORDER_SENT)
		o->status = MUSTER__ORDER_STATUS__ORDER_RECEIVED;
	if (created)
		state_order_add(a, o);
	/* A receipt still waiting for its answer is re-sent (same seq) if it is in flight;
	 * otherwise a new receipt goes out. */
	for (r = a->reports; r; r = r->next)
		if (r->receipt && r->order_id == o->id)
			break;
	if (r == NULL)
		agent_report_add(a, o, 1, MUSTER__ORDER_STATUS__ORDER_RECEIVED, prev, 0, NULL);
	else if (r == a->reports && r->sent && a->registered)
		report_send(a, r);
	state_commit(a);
	if (fresh)
		agent_handover(a, o);
	agent_orders_trim(a);
}

/* Takes the daemon's answer to our registration: new units with the roster's home position,
 * known ones keep their live state. Pending reports go out again at once. */
static void
agent_registered(struct agent *a, const Muster__Registered *r)
{
	Muster__UnitState **units = xcalloc(r->n_units ? r->n_units : 1, sizeof *units);
	size_t i;

	for (i = 0; i < r->n_units; i++) {
		Muster__UnitState *old = agent_unit(a, r->units[i]->unit_id);
		Muster__UnitState *u = xmalloc(sizeof *u);

		muster__unit_state__init(u);
		u->unit_id = xstrdup(r->units[i]->unit_id);
		u->position = xmalloc(sizeof *u->position);
		muster__coordinates__init(u->position);
		/* A unit whose agent just came up is on duty unless told otherwise. */
		u->status = MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
		if (old) {
			u->position->lat = old->position->lat;
			u->position->lon = old->position->lon;
			u->status = old->status;
		} else if (r->units[i]->position) {
			u->position->lat = r->units[i]->position->lat;
			u->position->lon = r->units[i]->position->lon;
		}
		units[i] = u;
	}
	agent_clear_units(a);
	a->units = units;
	a->n_units = r->n_units;
	for (i = 0; i < r->n_rejected; i++)
		log_warnx("agent: unit %s refused: %s", r->rejected[i]->unit_id,
			  r->rejected[i]->message);
	a->registered = 1;
	a->heartbeat_ms = r->heartbeat_interval_ms ? (int)r->heartbeat_interval_ms : 5000;
	a->heartbeat_min_ms = (int)r->heartbeat_min_ms;
	if (a->restored) {
		/* The first registration after a restart with orders from the state file: a unit
		 * with an order in progress is busy, and on scene where that order is. */
		const struct order *o;

		for (o = a->orders; o; o = o->next)
			if (o->status == MUSTER__ORDER_STATUS__ORDER_ON_SCENE)
				agent_unit_arrive(a, o);
		for (i = 0; i < a->n_units; i++)
			agent_unit_refresh(a, a->units[i]->unit_id);
		a->restored = 0;
	}
	out("registered %zu units\n", a->n_units);
	agent_heartbeat(a);
	if (a->reports) {
		a->reports->due = 0;
		a->reports->backoff_ms = BACKOFF_FIRST_MS;
		agent_pump(a);
	}
}

/* The daemon took order C back (incident closed, tier lowered): the unit stands down. */
static void
agent_cancel(struct agent *a, const Muster__Cancel *c)
{
	struct order *o = agent_order_find(a, c->order_id);

	if (o == NULL || o->status == MUSTER__ORDER_STATUS__ORDER_CANCELLED)
		return;
	o->status = MUSTER__ORDER_STATUS__ORDER_CANCELLED;
	o->sim_step = 0;
	state_order_save(a, o);
	state_commit(a); /* a restarted agent must not go on with it */
	agent_unit_refresh(a, o->env->order->unit_id);
	if (a->mode == MODE_EXEC)
		exec_cancel(a, c);
	else
		out("CANCELLED #%" PRIu64 " (unit %s): %s\n", c->order_id, o->env->order->unit_id,
		    c->reason);
}

/* A supervisor's notice (督办): a task of this department was not handled in time. */
static void
agent_notice(struct agent *a, const Muster__Notice *n)
{
	if (a->mode == MODE_EXEC)
		exec_notice(a, n);
	else
		out("NOTICE (%s) incident #%" PRIu64 " order #%" PRIu64 " %s: %s\n", n->kind,
		    n->incident_id, n->order_id, n->member_id, n->text);
}

/* A street or community blew the whistle for this department (吹哨报到). */
static void
agent_whistle_call(struct agent *a, const Envelope *e)
{
	const Muster__WhistleCall *c = e->whistle_call;
	time_t t = (time_t)(c->deadline_ms / 1000);
	struct tm tm;
	char when[16] = "?";

	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%H:%M:%S", &tm);
	if (a->mode == MODE_EXEC) {
		json_t *j = json_object();

		if (j == NULL)
			fatalx("out of memory");
		json_object_set_new(j, "type", json_string("whistle"));
		json_object_set_new(j, "whistle_id", json_integer((json_int_t)c->whistle_id));
		json_object_set_new(j, "place", jstr(c->place));
		json_object_set_new(j, "matter", jstr(c->matter));
		json_object_set_new(j, "deadline_ms", json_integer(c->deadline_ms));
		json_object_set_new(j, "leader_rank", jstr(c->leader_rank));
		json_object_set_new(j, "headcount", json_integer(c->headcount));
		json_object_set_new(j, "exercise", json_boolean(e->exercise));
		exec_write(a, j);
		return;
	}
	out("WHISTLE #%" PRIu64
	    "%s at %s by %s: %s (a %s or above, %d people; type: arrive %" PRIu64
	    " HEADCOUNT RANK)\n",
	    c->whistle_id, e->exercise ? " [EXERCISE]" : "", c->place, when, c->matter,
	    c->leader_rank, c->headcount, c->whistle_id);
	/* A simulated department answers the call as asked. */
	if (a->mode == MODE_SIMULATE)
		agent_whistle_report(a, c->whistle_id, c->leader_rank, c->headcount, e->exercise);
}

/* Handles one message from the daemon. Takes E. */
static void
agent_input(struct agent *a, Envelope *e)
{
	switch (e->body_case) {
	case MUSTER__ENVELOPE__BODY_REGISTERED:
		agent_registered(a, e->registered);
		break;
	case MUSTER__ENVELOPE__BODY_ORDER:
		agent_order(a, e);
		return;
	case MUSTER__ENVELOPE__BODY_REPORT_ACK:
		agent_ack(a, e->report_ack);
		break;
	case MUSTER__ENVELOPE__BODY_ERROR:
		agent_error(a, e);
		break;
	case MUSTER__ENVELOPE__BODY_CANCEL:
		agent_cancel(a, e->cancel);
		break;
	case MUSTER__ENVELOPE__BODY_NOTICE:
		agent_notice(a, e->notice);
		break;
	case MUSTER__ENVELOPE__BODY_WHISTLE_CALL:
		agent_whistle_call(a, e);
		break;
	default:
		log_warnx("agent: unexpected %s ignored", wire_body_name(e->body_case));
	}
	wire_free(e);
}

/* Handles a socket monitor event: register again after every successful handshake. */
static void
agent_monitor(struct agent *a)
{
	zmq_msg_t ev, addr;
	uint16_t id = 0;

	if (zmq_msg_init(&ev) != 0 || zmq_msg_init(&addr) != 0)
		fatalx("zmq_msg_init");
	if (zmq_msg_recv(&ev, a->mon, 0) >= 0 && zmq_msg_size(&ev) >= 2 &&
	    zmq_msg_recv(&addr, a->mon, 0) >= 0)
		memcpy(&id, zmq_msg_data(&ev), sizeof id);
	if (zmq_msg_close(&ev) != 0 || zmq_msg_close(&addr) != 0)
		log_warnx("agent: zmq_msg_close: %s", zmq_strerror(errno));
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

/* ---- input lines: commands (interactive) and statuses (exec) ---- */

/* Parses an order id ("12" or "#12"); returns it, or 0. */
static uint64_t
parse_id(const char *s)
{
	char *end;
	unsigned long long v;

	if (s[0] == '#')
		s++;
	if (s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return (uint64_t)v;
}

/* Prints the commands. */
static void
cmd_help(void)
{
	out("commands:\n"
	    "  accept ID                 take the order\n"
	    "  decline ID [reason words] refuse it (the daemon asks the next unit)\n"
	    "  enroute ID                on the way\n"
	    "  onscene ID                arrived\n"
	    "  clear ID                  done, the unit is free again\n"
	    "  delay ID REASON           late: road_blocked, no_vehicle, wrong_address, traffic,\n"
	    "                            on_other_task, equipment, other\n"
	    "  arrive W HEADCOUNT RANK   report arrival at whistle W (吹哨报到)\n"
	    "  list                      the orders and their states\n"
	    "  help                      this text\n");
}

/* Lists the orders, oldest first. */
static void
cmd_list(const struct agent *a)
{
	const struct order **v;
	const struct order *o;
	size_t n = 0, i;

	if (a->n_orders == 0) {
		out("no orders\n");
		return;
	}
	v = xcalloc(a->n_orders, sizeof *v);
	for (o = a->orders; o && n < a->n_orders; o = o->next)
		v[n++] = o;
	for (i = n; i-- > 0;) {
		o = v[i];
		out("#%" PRIu64 "  incident #%" PRIu64 "  %s  %s%s%s%s%s  %s\n", o->id,
		    o->env->order->incident_id, o->env->order->unit_id, status_name(o->status),
		    o->delay ? " (delay " : "", o->delay ? delay_name(o->delay) : "",
		    o->delay ? ")" : "",
		    agent_report_pending(a, o->id) ? " [not yet recorded]" : "",
		    o->env->order->summary);
	}
	free(v);
}

/* Runs one command line typed by a person; a bad one gets a one-line error and changes
 * nothing. */
static void
cmd_line(struct agent *a, char *line)
{
	static const struct {
		const char *cmd;
		int status;
	} verbs[] = {
	    {"accept", MUSTER__ORDER_STATUS__ORDER_ACCEPTED},
	    {"decline", MUSTER__ORDER_STATUS__ORDER_DECLINED},
	    {"enroute", MUSTER__ORDER_STATUS__ORDER_EN_ROUTE},
	    {"onscene", MUSTER__ORDER_STATUS__ORDER_ON_SCENE},
	    {"clear", MUSTER__ORDER_STATUS__ORDER_CLEARED},
	    {"delay", 0},
	};
	char *w[3] = {NULL, NULL, NULL}, *rest = NULL, *p = line, err[256];
	struct order *o;
	size_t i, n = 0;
	int status = -1, delay = 0;
	uint64_t id;

	/* Up to three words; for decline the rest of the line is the reason. */
	while (n < 3) {
		p += strspn(p, " \t\r");
		if (*p == '\0')
			break;
		if (n == 2) {
			rest = p;
			break;
		}
		w[n++] = p;
		p += strcspn(p, " \t\r");
		if (*p != '\0')
			*p++ = '\0';
	}
	if (rest) {
		size_t len = strlen(rest);

		while (len > 0 &&
		       (rest[len - 1] == ' ' || rest[len - 1] == '\t' || rest[len - 1] == '\r'))
			rest[--len] = '\0';
		w[n++] = rest;
	}
	if (n == 0)
		return;
	if (strcmp(w[0], "help") == 0 && n == 1) {
		cmd_help();
		return;
	}
	if (strcmp(w[0], "list") == 0 && n == 1) {
		cmd_list(a);
		return;
	}
	if (strcmp(w[0], "arrive") == 0) {
		char *end;
		long heads;

		if (n != 3 || (id = parse_id(w[1])) == 0 ||
		    ((void)(errno = 0), heads = strtol(w[2], &end, 10), errno) || end == w[2] ||
		    heads < 0 || *end != ' ' || end[strspn(end, " ")] == '\0') {
			out("error: arrive WHISTLE_ID HEADCOUNT RANK\n");
			return;
		}
		agent_whistle_report(a, id, end + strspn(end, " "), (int)heads, 0);
		out("whistle #%" PRIu64 ": arrival sent\n", id);
		return;
	}
	for (i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(w[0], verbs[i].cmd) == 0)
			status = verbs[i].status;
	if (status < 0) {
		out("error: unknown command '%s' (type help)\n", w[0]);
		return;
	}
	if (n < 2 || (id = parse_id(w[1])) == 0) {
		out("error: %s needs an order id (type help)\n", w[0]);
		return;
	}
	if (status == 0) {
		if (n != 3 || strchr(w[2], ' ') || (delay = delay_parse(w[2])) < 0) {
			out("error: delay ID REASON, with REASON one of road_blocked, no_vehicle, "
			    "wrong_address, traffic, on_other_task, equipment, other\n");
			return;
		}
	} else if (n == 3 && status != MUSTER__ORDER_STATUS__ORDER_DECLINED) {
		out("error: %s takes only an order id\n", w[0]);
		return;
	}
	o = agent_order_find(a, id);
	if (o == NULL) {
		out("error: no order #%" PRIu64 " (type list)\n", id);
		return;
	}
	if (status == 0)
		status = o->status;
	if (agent_status(a, o, status, delay, n == 3 && delay == 0 ? w[2] : NULL, err,
			 sizeof err) != 0) {
		out("error: %s\n", err);
		return;
	}
	out("#%" PRIu64 " %s%s%s: sent\n", id, status_name(status), delay ? " delay " : "",
	    delay ? delay_name(delay) : "");
}

/* Handles one JSON line from the --exec program; a bad one is logged and skipped. */
static void
exec_line(struct agent *a, const char *line)
{
	json_error_t je;
	json_t *j, *jid, *jst, *jdelay, *jnote;
	struct order *o;
	char err[256];
	int status, delay = 0;
	struct report tmp;

	if (line[strspn(line, " \t\r")] == '\0')
		return;
	j = json_loads(line, 0, &je);
	if (j == NULL) {
		log_warnx("agent: program line skipped: bad JSON at column %d: %s", je.column,
			  je.text);
		return;
	}
	if (json_is_object(j) && json_object_get(j, "whistle_id")) {
		json_t *w = json_object_get(j, "whistle_id"),
		       *rk = json_object_get(j, "leader_rank"),
		       *hc = json_object_get(j, "headcount");

		if (!json_is_integer(w) || json_integer_value(w) <= 0 || !json_is_string(rk) ||
		    !json_is_integer(hc) || json_integer_value(hc) < 0)
			log_warnx("agent: program line skipped: needs {\"whistle_id\": N, "
				  "\"leader_rank\": \"...\", \"headcount\": N}");
		else
			agent_whistle_report(a, (uint64_t)json_integer_value(w),
					     json_string_value(rk), (int)json_integer_value(hc), 0);
		goto out;
	}
	jid = json_object_get(j, "order_id");
	jst = json_object_get(j, "status");
	jdelay = json_object_get(j, "delay_reason");
	jnote = json_object_get(j, "note");
	if (!json_is_object(j) || !json_is_integer(jid) || json_integer_value(jid) <= 0 ||
	    !json_is_string(jst) || (jdelay && !json_is_string(jdelay) && !json_is_null(jdelay)) ||
	    (jnote && !json_is_string(jnote) && !json_is_null(jnote))) {
		log_warnx("agent: program line skipped: needs {\"order_id\": N, \"status\": "
			  "\"...\"} with optional string delay_reason and note");
		goto out;
	}
	status = status_parse(json_string_value(jst));
	if (status == 0) {
		log_warnx("agent: program line skipped: status %s is not one of accepted, "
			  "declined, en_route, on_scene, cleared",
			  json_string_value(jst));
		goto out;
	}
	if (json_is_string(jdelay) && (delay = delay_parse(json_string_value(jdelay))) < 0) {
		log_warnx("agent: program line skipped: unknown delay_reason %s",
			  json_string_value(jdelay));
		goto out;
	}
	memset(&tmp, 0, sizeof tmp);
	tmp.order_id = (uint64_t)json_integer_value(jid);
	tmp.status = status;
	tmp.delay = delay;
	o = agent_order_find(a, tmp.order_id);
	if (o == NULL) {
		log_warnx("agent: program line skipped: no order #%" PRIu64, tmp.order_id);
		exec_answer(a, &tmp, 0, "NOT_FOUND", "no such order at this agent");
		goto out;
	}
	if (agent_status(a, o, status, delay,
			 json_is_string(jnote) ? json_string_value(jnote) : NULL, err,
			 sizeof err) != 0) {
		log_warnx("agent: program report refused here: %s", err);
		exec_answer(a, &tmp, 0, "INVALID_STATE", err);
	}
out:
	json_decref(j);
}

/* Reads what FD has into L and handles each complete line; returns 0, or -1 at end of file
 * or on an error. */
static int
agent_read_lines(struct agent *a, int fd, struct linebuf *l)
{
	char chunk[4096];
	ssize_t n;
	size_t start = 0, i;

	do
		n = read(fd, chunk, sizeof chunk);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		log_warn("agent: read");
		return -1;
	}
	if (n == 0)
		return -1;
	l->buf = xrealloc(l->buf, l->len + (size_t)n + 1);
	memcpy(l->buf + l->len, chunk, (size_t)n);
	l->len += (size_t)n;
	for (i = 0; i < l->len; i++) {
		if (l->buf[i] != '\n')
			continue;
		l->buf[i] = '\0';
		if (l->skipping)
			l->skipping = 0;
		else if (a->mode == MODE_EXEC)
			exec_line(a, l->buf + start);
		else
			cmd_line(a, l->buf + start);
		start = i + 1;
	}
	memmove(l->buf, l->buf + start, l->len - start);
	l->len -= start;
	if (l->len > AGENT_LINE_MAX) {
		log_warnx("agent: input line longer than %d bytes skipped", AGENT_LINE_MAX);
		l->len = 0;
		l->skipping = 1;
	}
	return 0;
}

/* ---- the loop ---- */

/* Returns the poll timeout in ms: until the next heartbeat, report re-send or simulated
 * step (at most 1 s while unregistered). */
static long
agent_timeout(const struct agent *a)
{
	int64_t now = now_ms(), next = now + (a->registered ? 60000 : 1000);
	const struct order *o;

	if (a->registered) {
		if (a->next_heartbeat < next)
			next = a->next_heartbeat;
		if (a->reports && a->reports->due < next)
			next = a->reports->due;
	}
	for (o = a->orders; o; o = o->next)
		if (o->sim_step && o->sim_due < next)
			next = o->sim_due;
	return next > now ? (long)(next - now) : 0;
}

/* Frees everything the agent holds. */
static void
agent_free(struct agent *a)
{
	size_t i;

	while (a->reports)
		agent_report_remove(a, a->reports);
	while (a->orders) {
		struct order *o = a->orders;

		a->orders = o->next;
		order_free(o);
	}
	agent_clear_units(a);
	model_free(a->models, a->n_models);
	for (i = 0; i < a->n_kinds; i++) {
		free(a->kinds[i].unit_id);
		free(a->kinds[i].kind);
	}
	free(a->kinds);
	free(a->in.buf);
	free(a->out);
	free(a->want);
}

/* Exits with "FILE: WHAT": the state file cannot be loaded as it is. */
static void __attribute__((noreturn, format(printf, 2, 3)))
state_damaged(const struct state *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fatalx("%s: %s", s->path, buf);
}

/* Loads the --state file into the agent: every order handed over before (each counts as seen:
 * a copy the daemon sends again is receipted but not handed over again), with its status and
 * the simulation's next step; the reports not yet answered, queued again in seq order with
 * their own seq (sent once registered); and the highest seq, above which numbering goes on.
 * Exits naming the file when a row makes no sense. */
static void
state_load(struct agent *a)
{
	struct state *s = a->st;
	struct report **tail = &a->reports;
	sqlite3_stmt *q = NULL;
	uint64_t last = 0;
	size_t n_orders = 0, active = 0, n_reports = 0, n;
	int64_t wall = util_wall_ms();
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT last_seq FROM agent WHERE id = 1", -1, &q, NULL) !=
	    SQLITE_OK)
		state_damaged(s, "cannot read (%s)", sqlite3_errmsg(s->db));
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		last = (uint64_t)sqlite3_column_int64(q, 0);
	if (sqlite3_finalize(q) != SQLITE_OK || rc != SQLITE_ROW)
		state_damaged(s, "cannot read the agent record (%s)", sqlite3_errmsg(s->db));
	if (sqlite3_prepare_v2(
		s->db,
		"SELECT id, envelope, status, delay, sim_step, sim_due_ms FROM orders"
		" ORDER BY id",
		-1, &q, NULL) != SQLITE_OK)
		state_damaged(s, "cannot read (%s)", sqlite3_errmsg(s->db));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(q, 0);
		const void *blob = sqlite3_column_blob(q, 1);
		int len = sqlite3_column_bytes(q, 1), status = sqlite3_column_int(q, 2),
		    step = sqlite3_column_int(q, 4), code;
		const char *why = "an empty envelope";
		Envelope *e = blob && len > 0 ? wire_decode(blob, (size_t)len, &code, &why) : NULL;
		struct order *o;

		if (e && (e->body_case != MUSTER__ENVELOPE__BODY_ORDER || e->order->order_id != id))
			why = "the envelope is not this order";
		else if (e && (status < MUSTER__ORDER_STATUS__ORDER_SENT ||
			       status > MUSTER__ORDER_STATUS__ORDER_CANCELLED))
			why = "an unknown status";
		else if (e && step != 0 && step != MUSTER__ORDER_STATUS__ORDER_EN_ROUTE &&
			 step != MUSTER__ORDER_STATUS__ORDER_ON_SCENE &&
			 step != MUSTER__ORDER_STATUS__ORDER_CLEARED)
			why = "an unknown simulation step";
		else if (e)
			why = NULL;
		if (why) {
			wire_free(e);
			if (sqlite3_finalize(q) != SQLITE_OK)
				log_debug("agent: finalize after a bad row");
			state_damaged(s, "damaged (order %" PRIu64 ": %s)", id, why);
		}
		o = xcalloc(1, sizeof *o);
		o->id = id;
		o->env = e;
		o->status = status;
		o->delay = sqlite3_column_int(q, 3);
		o->stored = 1;
		/* The simulation goes on where it was: the step due then, or at once if overdue.
		 * Another mode has no simulation to go on with. */
		if (step && a->mode == MODE_SIMULATE) {
			int64_t due = sqlite3_column_int64(q, 5);

			o->sim_step = step;
			o->sim_due = now_ms() + (due > wall ? due - wall : 0);
		}
		o->next = a->orders; /* the list is newest first */
		a->orders = o;
		a->n_orders++;
		(void)agent_seen(a, id);
		n_orders++;
		active += !status_final(status);
	}
	if (sqlite3_finalize(q) != SQLITE_OK || rc != SQLITE_DONE)
		state_damaged(s, "cannot read the orders (%s)", sqlite3_errmsg(s->db));
	if (sqlite3_prepare_v2(
		s->db,
		"SELECT seq, kind, order_id, status, prev, delay, note, exercise, rank,"
		" headcount FROM reports ORDER BY seq",
		-1, &q, NULL) != SQLITE_OK)
		state_damaged(s, "cannot read (%s)", sqlite3_errmsg(s->db));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		int kind = sqlite3_column_int(q, 1);
		const unsigned char *note = sqlite3_column_text(q, 6), *rank;
		struct report *r;

		if (seq <= 0 || kind < STATE_STATUS || kind > STATE_WHISTLE) {
			if (sqlite3_finalize(q) != SQLITE_OK)
				log_debug("agent: finalize after a bad row");
			state_damaged(s, "damaged (report seq %" PRId64 ": unknown kind %d)", seq,
				      kind);
		}
		r = xcalloc(1, sizeof *r);
		r->note = note ? xstrdup((const char *)note) : NULL;
		rank = sqlite3_column_text(q, 8);
		r->rank = xstrdup(rank ? (const char *)rank : "");
		r->seq = (uint64_t)seq;
		r->receipt = kind == STATE_RECEIPT;
		r->whistle = kind == STATE_WHISTLE;
		r->order_id = (uint64_t)sqlite3_column_int64(q, 2);
		r->status = sqlite3_column_int(q, 3);
		r->prev = sqlite3_column_int(q, 4);
		r->delay = sqlite3_column_int(q, 5);
		r->exercise = sqlite3_column_int(q, 7);
		r->headcount = sqlite3_column_int(q, 9);
		r->backoff_ms = BACKOFF_FIRST_MS; /* due at once, when registered */
		*tail = r;
		tail = &r->next;
		if (r->seq > last)
			last = r->seq;
		n_reports++;
	}
	if (sqlite3_finalize(q) != SQLITE_OK || rc != SQLITE_DONE)
		state_damaged(s, "cannot read the reports (%s)", sqlite3_errmsg(s->db));
	client_seq_start(last);
	/* Memory keeps as many orders as an agent that never stopped would. */
	do {
		n = a->n_orders;
		agent_orders_trim(a);
	} while (a->n_orders < n);
	a->restored = n_orders > 0;
	log_info("agent: %s: %zu orders handed over before (%zu in progress), %zu reports to "
		 "send again; seq goes on above %" PRIu64,
		 s->path, n_orders, active, n_reports, last);
}

/* Parses a number option; exits with usage on a bad one. */
static double
opt_number(const char *name, const char *s, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min)) {
		fprintf(stderr, "muster-agent: %s needs a number of at least %g, not '%s'\n", name,
			min, s);
		exit(2);
	}
	return v;
}

/* Parses the options, starts the chosen mode and runs the loop until SIGINT or SIGTERM. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"interactive", no_argument, NULL, 'I'},
	    {"exec", required_argument, NULL, 'E'},
	    {"simulate", no_argument, NULL, 'S'},
	    {"model", required_argument, NULL, 'M'},
	    {"seed", required_argument, NULL, 'D'},
	    {"speed", required_argument, NULL, 'P'},
	    {"state", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = getenv("MUSTER_CONF"), *key = NULL, *cmd = NULL, *model = NULL,
		   *state = NULL;
	struct client_conf cc;
	struct agent a;
	struct sigaction sa;
	char *err = NULL, *end;
	int ch, verbose = 0, modes = 0, have_seed = 0;

	memset(&a, 0, sizeof a);
	a.child_in = a.child_out = -1;
	a.speed = 1;
	a.stdin_open = 1;
	if (conf == NULL || conf[0] == '\0')
		conf = ".";
	while ((ch = getopt_long(argc, argv, "c:k:u:vh", longopts, NULL)) != -1) {
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
		case 'I':
			a.mode = MODE_INTERACTIVE;
			modes++;
			break;
		case 'E':
			a.mode = MODE_EXEC;
			cmd = optarg;
			modes++;
			break;
		case 'S':
			a.mode = MODE_SIMULATE;
			modes++;
			break;
		case 'M':
			model = optarg;
			break;
		case 'D':
			errno = 0;
			a.seed = strtoull(optarg, &end, 0);
			if (errno != 0 || end == optarg || *end != '\0') {
				fprintf(stderr, "muster-agent: --seed needs a number\n");
				exit(2);
			}
			have_seed = 1;
			break;
		case 'P':
			a.speed = opt_number("--speed", optarg, 0.001);
			break;
		case 'T':
			state = optarg;
			break;
		default:
			usage();
		}
	}
	if (key == NULL || optind != argc || modes > 1)
		usage();
	if (a.mode != MODE_SIMULATE && (model || have_seed || a.speed != 1)) {
		fprintf(stderr, "muster-agent: --model, --seed and --speed go with --simulate\n");
		exit(2);
	}
	if (modes == 0 && isatty(0))
		a.mode = MODE_INTERACTIVE;
	log_init("muster-agent", 1, verbose);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		fatal("sigaction");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		fatal("sigaction");
	if (client_conf_load(&cc, conf, key, &err) != 0)
		fatalx("%s", err);
	/* Before the program starts or anything is sent: a state file that cannot be used stops
	 * the agent here, rather than letting it start empty and act on its orders again. */
	if (state) {
		a.st = state_open(state, cc.public_key, &err);
		if (a.st == NULL)
			fatalx("%s", err);
		state_load(&a);
	}
	if (a.mode == MODE_SIMULATE) {
		if (!have_seed)
			a.seed = (uint64_t)util_wall_ms();
		sim_load_models(&a, model);
		sim_load_kinds(&a, conf);
		log_info("agent: simulating with seed %" PRIu64 ", speed x%g, %zu models", a.seed,
			 a.speed, a.n_models);
	}
	/* Sequence numbers keep increasing across restarts of the agent: from the wall clock, and
	 * with --state above the highest one used (state_load), should the clock have gone
	 * back. */
	client_seq_start((uint64_t)util_wall_ms() * 1000);
	if (a.mode == MODE_EXEC)
		exec_start(&a, cmd); /* before ZeroMQ starts its threads */
	a.ctx = zmq_ctx_new();
	if (a.ctx == NULL)
		fatalx("cannot create a ZeroMQ context");
	a.sock = client_socket_unconnected(a.ctx, ZMQ_DEALER, &cc, &err);
	if (a.sock == NULL)
		fatalx("%s", err);
	/* The monitor before the connection, so that the first handshake is seen. */
	if (zmq_socket_monitor(a.sock, "inproc://agent-monitor",
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
				   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
		fatalx("monitor: %s", zmq_strerror(errno));
	a.mon = zmq_socket(a.ctx, ZMQ_PAIR);
	if (a.mon == NULL || zmq_connect(a.mon, "inproc://agent-monitor") != 0)
		fatalx("monitor: %s", zmq_strerror(errno));
	if (client_socket_connect(a.sock, cc.agents, &err) != 0)
		fatalx("%s", err);
	log_info("agent: connecting to %s", cc.agents);
	if (a.mode == MODE_INTERACTIVE)
		out("muster-agent: orders appear here; type help for the commands\n");
	while (!stopping) {
		zmq_pollitem_t pi[4] = {{.socket = a.sock, .events = ZMQ_POLLIN},
					{.socket = a.mon, .events = ZMQ_POLLIN},
					{.fd = -1},
					{.fd = -1}};
		int n, np = 2, in_ix = -1, out_ix = -1;

		if (a.mode == MODE_INTERACTIVE && a.stdin_open) {
			pi[np].fd = 0;
			pi[np].events = ZMQ_POLLIN;
			in_ix = np++;
		} else if (a.mode == MODE_EXEC && a.child_out >= 0) {
			pi[np].fd = a.child_out;
			pi[np].events = ZMQ_POLLIN;
			in_ix = np++;
		}
		if (a.mode == MODE_EXEC && a.child_in >= 0 && a.out_len > 0) {
			pi[np].fd = a.child_in;
			pi[np].events = ZMQ_POLLOUT;
			out_ix = np++;
		}
		n = zmq_poll(pi, np, agent_timeout(&a));
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
			} else if (err) {
				log_warnx("agent: %s", err);
				free(err);
				err = NULL;
			}
		}
		if (in_ix >= 0 && (pi[in_ix].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
			if (a.mode == MODE_INTERACTIVE) {
				if (agent_read_lines(&a, 0, &a.in) != 0) {
					log_info("agent: stdin closed; orders are still receipted");
					a.stdin_open = 0;
				}
			} else if (agent_read_lines(&a, a.child_out, &a.in) != 0) {
				log_warnx("agent: the program closed its output");
				if (close(a.child_out) != 0)
					log_warn("agent: close");
				a.child_out = -1;
				exec_reap(&a, 1);
			}
		}
		if (out_ix >= 0 && (pi[out_ix].revents & (ZMQ_POLLOUT | ZMQ_POLLERR)))
			exec_flush(&a);
		if (a.mode == MODE_EXEC && a.child > 0 && a.child_in < 0 && a.child_out >= 0) {
			/* It stopped reading: treat as gone. */
			if (close(a.child_out) != 0)
				log_warn("agent: close");
			a.child_out = -1;
			exec_reap(&a, 1);
		}
		sim_run(&a);
		agent_pump(&a);
		if (a.registered && now_ms() >= a.next_heartbeat)
			agent_heartbeat(&a);
		/* Not registered a while after asking (a lost answer, a missed handshake event):
		 * ask again. Registering is idempotent. */
		if (!a.registered && now_ms() - a.last_register >= AGENT_REREGISTER_MS)
			agent_register(&a);
		state_commit(&a); /* what is left (answered reports forgotten) */
	}
	log_info("agent: stopping");
	if (a.reports)
		log_warnx("agent: stopping with reports not yet recorded by the daemon");
	if (a.child_out >= 0 && close(a.child_out) != 0)
		log_warn("agent: close");
	exec_reap(&a, 1);
	state_commit(&a);
	state_close(a.st);
	if (zmq_socket_monitor(a.sock, NULL, 0) != 0)
		log_warnx("agent: monitor: %s", zmq_strerror(errno));
	if (zmq_close(a.mon) != 0 || zmq_close(a.sock) != 0)
		log_warnx("agent: close: %s", zmq_strerror(errno));
	if (zmq_ctx_term(a.ctx) != 0)
		log_warnx("agent: context: %s", zmq_strerror(errno));
	agent_free(&a);
	client_conf_finish(&cc);
	return a.exit_code;
}
