/* order: one order for one member of a joint action group, its lifecycle (outbox, sent,
 * receipt, accepted or declined, en route, on scene, cleared), its deadlines, re-sends with
 * back-off, and escalation when nobody answers. */
#ifndef MUSTER_ORDER_H
#define MUSTER_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "muster.pb-c.h"

struct daemon;
struct request;

/* What an order is addressed to. */
enum order_what {
	ORDER_UNIT = 1,
	ORDER_PERSON = 2,
	ORDER_EXPERT = 3,
};

/* One order. Active orders live in memory (and in the orders table); final ones only in
 * the table. Strings are owned by the order. */
struct order {
	uint64_t id;
	uint64_t incident_id;
	enum order_what what;
	char *member_id;  /* unit, person or expert id */
	char *agent;	  /* identity its messages go to */
	char *slot;	  /* the plan slot it fills: "group|what|kind|department|n" */
	char *group;	  /* plan group name */
	char *role;	  /* the task in the group */
	char *department; /* department id */
	char *kind;	  /* responder class (units), role (people), field (experts) */
	int status;	  /* Muster__OrderStatus */
	uint32_t attempt; /* sends so far */
	int tier;
	int exercise;
	int delay_reason;
	double eta_s;
	int64_t ordered_ms, sent_ms, received_ms, accepted_ms, en_route_ms, on_scene_ms;
	int64_t cleared_ms, ended_ms; /* ended: declined, reassigned or cancelled */
	int64_t next_send_ms;	      /* when to (re)send while not receipted; 0: never */
	int64_t receipt_deadline_ms;  /* no receipt by then: reassigned */
	int64_t accept_deadline_ms;   /* not accepted by then: reassigned */
	int64_t ring_deadline_ms;     /* not on scene by then: the ring is missed */
	int ring_reported;	      /* the miss is on the timeline already */
};

/* Frees the strings of O and O itself; accepts NULL. */
void order_free(struct order *o);
/* Returns 1 when STATUS is final (declined, cleared, reassigned, cancelled). */
int order_status_final(int status);
/* Returns 1 when the order still holds its member (not final, not cleared). */
int order_holds(const struct order *o);
/* Returns the lower-case name of STATUS ("en_route", ...). */
const char *order_status_name(int status);
/* Returns 1 when an agent may move an order from FROM to TO (docs/protocol.md). */
int order_transition_ok(int from, int to);

/* The in-memory set of active orders. */
struct orders;
struct orders *orders_new(void);
void orders_free(struct orders *s);
/* Takes ownership of O. */
void orders_add(struct orders *s, struct order *o);
/* Returns the active order ID, or NULL. */
struct order *orders_get(struct orders *s, uint64_t id);
/* Removes and frees every final order. */
void orders_prune(struct orders *s);
/* Calls FN for each active order (in id order); FN may change it but not add or remove. */
void orders_each(struct orders *s, void (*fn)(struct order *, void *), void *arg);
/* Returns the number of active orders. */
size_t orders_count(const struct orders *s);
/* Returns the active order at index I (0 <= I < orders_count), for scans. */
struct order *orders_at(struct orders *s, size_t i);

/* Queues O to its agent now (if the agent has a session) and records the attempt. Called
 * inside a unit of work; the message leaves after commit. */
int order_send(struct daemon *d, struct order *o);
/* Changes O to STATUS at NOW with an event (body extra: delay reason, note); the daemon's
 * bookkeeping (unit availability, refills) is done by the caller. */
int order_set_status(struct daemon *d, struct order *o, int status, int64_t now, const char *actor,
		     const char *note);
/* Handles an agent's Receipt or StatusReport (the handler of agents_report). */
int order_report(struct request *r);
/* Does what time asks: re-sends, reassignments, ring misses. Called from a timer. */
void order_tick(struct daemon *d);
/* Returns the earliest time order_tick has anything to do (INT64_MAX: nothing). */
int64_t order_next_due(struct daemon *d);
/* Re-sends every unreceipted order of AGENT (it has just registered). */
void order_agent_back(struct daemon *d, const char *agent);

#endif
