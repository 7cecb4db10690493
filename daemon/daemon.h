/* daemon: the one struct that owns the daemon's state, the dispatch of authenticated
 * messages to handlers, and the commit-then-send cycle that ends every loop iteration. */
#ifndef MUSTER_DAEMON_H
#define MUSTER_DAEMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "cfg.h"
#include "gauge.h"
#include "wire.h"

struct event_base;
struct store;
struct auth;
struct agents;
struct orders;
struct muster;
struct nearest;

/* The loop's priority levels: I/O, timers and signals run at the default (middle) level;
 * the flush runs at the lowest, so only after every ready socket has been drained. */
#define DAEMON_PRIORITIES 3
#define DAEMON_PRIORITY_FLUSH 2
#define DAEMON_TICK_MS 250 /* how often deadlines and re-sends are looked at */
/* At most this many messages are handled before a commit: the loop gives the flush its turn
 * only when no I/O is ready, which a flood never allows, so a batch, and the replies it holds
 * back, would grow without end (found by tests/integration/test_flood.py). */
#define DAEMON_BATCH_MAX 1024

struct daemon {
	struct event_base *base; /* borrowed from main */
	void *zctx;		 /* ZeroMQ context */
	struct config *cfg;	 /* current configuration (replaced whole on reload) */
	struct store *store;
	struct auth *auth;
	struct bus *bus;
	struct agents *agents;	 /* agent sessions */
	struct orders *orders;	 /* active orders (the rest are only in the store) */
	struct muster *muster;	 /* open incidents being mustered */
	struct nearest *nearest; /* spatial index over the roster's units */
	struct event *tick_ev;	 /* re-sends, deadlines, rings */
	struct event *flush_ev;	 /* low priority: runs after all I/O of an iteration */
	struct event *idle_ev;	 /* WAL checkpoint when idle */
	uint64_t out_seq;	 /* sequence number of our outgoing envelopes */
	int writes_since_checkpoint;
	uint64_t batches, batch_failures;  /* commits and failed commits since start */
	struct storage_fault {		   /* changes refused because storage failed */
		int down;		   /* since the first refusal, until a change commits */
		int64_t since_ns, told_ns; /* when it began; when the log last said so */
		uint64_t refused;	   /* changes refused meanwhile */
	} fault;
	struct snapshot_req *snapshots; /* asked for in this iteration, taken after commit */
	size_t n_snapshots;
	struct clock_req { /* an AdvanceClock under way (virtual clock only) */
		int pending;
		int64_t to_ms;
		int which;
		uint8_t rid[BUS_RID_MAX];
		size_t rid_len;
		uint64_t corr;
	} advance;
	uint64_t agent_msgs_reported; /* bus_count of the agents socket in the last ClockReply */
	int64_t blind_next_ms;	   /* when a double-blind drill next has something due (blind.c) */
	int64_t started_at_ms;	   /* wall clock at start */
	struct gauges gauges;	   /* what the daemon holds, and its high-water marks */
	uint64_t batch_messages;   /* messages handled in this loop iteration so far */
	uint64_t refused_at_limit; /* incidents refused at max_open_incidents since start */
	uint64_t limit_told;	   /* of those, how many a resource.limit event has told */
	int64_t limit_told_ns;	   /* when it last did; 0: never */
	uint64_t heartbeats_refused; /* heartbeats refused at heartbeat_min_ms since start */
	uint64_t hb_told;	     /* of those, how many a resource.limit event has told */
	int64_t hb_told_ns;	     /* when it last did; 0: never */
	uint64_t queue_full_told;    /* bus_queue_full when a resource.queue_full last told */
	int64_t queue_full_told_ns;  /* when it last did; 0: never */
};

/* The context a handler gets: who asked, on which socket, what. All borrowed. */
struct request {
	struct daemon *d;
	const struct client *client; /* authenticated sender (current config) */
	const struct bus_msg *msg;
	const Envelope *env;
	char err_field[64]; /* set by request_fail */
	char err_msg[512];
	int input_compact; /* set by a handler: record the input without its body (a heartbeat
			      that changed nothing but last-seen times) */
};

/* A handler returns 0 when done, or an error code (from request_fail). */
typedef int (*handler_fn)(struct request *r);

/* Creates the daemon on BASE with CFG (takes ownership): opens the store, binds the ZAP
 * handler and then the sockets. Returns NULL with *ERR a new message (caller frees). */
struct daemon *daemon_new(struct event_base *base, struct config *cfg, char **err);
/* Commits and sends what is pending, then frees everything; accepts NULL. */
void daemon_free(struct daemon *d);
/* Hands the daemon one message as if it had arrived on socket WHICH from IDENTITY (its
 * routing id too): for replay. */
void daemon_feed(struct daemon *d, int which, const char *identity, const void *data, size_t len);
/* Runs every tick's work at the current time (order, whistle, drill), recording the tick as an
 * input when it changed something. */
void daemon_tick_now(struct daemon *d);
/* Commits what is pending and sends (or, muted, drops) the messages: the end of a loop
 * iteration, for replay, which has no loop. */
void daemon_flush_now(struct daemon *d);
/* Replaces the configuration with NEW_CFG (takes ownership) as one step. Settings that
 * need a restart (endpoints, database, daemon key) are kept and a warning says so. A key
 * that is no longer enrolled loses its session. */
void daemon_reload(struct daemon *d, struct config *new_cfg);

/* Queues a ReportAck{acked_seq = R's seq, CODE, MSG} for R's report. */
void daemon_ack(struct request *r, int code, const char *msg);
/* Records an error for the reply and returns CODE. */
int request_fail(struct request *r, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Queues REPLY (its header is filled here) as the answer to R. */
void daemon_reply(struct request *r, Envelope *reply);
/* Queues an envelope to the agent at routing id RID. */
void daemon_send_agent(struct daemon *d, const uint8_t *rid, size_t rid_len, Envelope *e);
/* Appends an event to the timeline in the current unit of work and queues it for the feed
 * (published only after commit). Takes ownership of BODY (a JSON object). */
int daemon_emit(struct daemon *d, const char *actor, const char *kind, uint64_t incident_id,
		int exercise, json_t *body);
/* Storage failed under a unit of work: rebuilds the in-memory orders, musters and drill
 * times from the store, so that memory never holds what was rolled back. */
void daemon_resync(struct daemon *d);
/* Returns the next outgoing envelope sequence number. */
uint64_t daemon_next_seq(struct daemon *d);

#endif
