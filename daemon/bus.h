/* bus: the daemon's ZeroMQ sockets (control, agents, feed) and the queue of outgoing
 * messages that is released only after the batch they reflect has committed. */
#ifndef MUSTER_BUS_H
#define MUSTER_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

struct event_base;
struct bus;

enum bus_socket {
	BUS_CONTROL = 0, /* ROUTER: operators' requests and replies */
	BUS_AGENTS = 1,	 /* ROUTER: agents' registrations, reports; orders down */
	BUS_FEED = 2,	 /* PUB: committed timeline events */
	BUS_N = 3,
};

#define BUS_RID_MAX 256 /* ZeroMQ routing ids are at most 255 bytes */

/* One incoming message, authenticated: USER_ID is what the ZAP handler said for the
 * connection (never the routing id, which the peer chooses). Everything is borrowed. */
struct bus_msg {
	enum bus_socket which;
	const uint8_t *rid;
	size_t rid_len;
	const char *user_id;
	const void *data;
	size_t len;
};

typedef void (*bus_msg_cb)(const struct bus_msg *m, void *arg);

/* A peer that has gone without closing its connection (a cable cut, a machine off) is found
 * by TCP, not by ZeroMQ's own heartbeats: after BUS_KEEPALIVE_IDLE_S of silence, probes every
 * BUS_KEEPALIVE_INTVL_S, BUS_KEEPALIVE_CNT unanswered ones close the connection; data not
 * acknowledged for BUS_MAXRT_MS (TCP_USER_TIMEOUT) does too. About 15 s either way.
 * ZMQ_HEARTBEAT_IVL is not used: in libzmq 4.3.4 (Debian 12) its timer aborts the process
 * ("Assertion failed: !_io_error (src/stream_engine_base.cpp:331)") when a peer whose input
 * was stopped at recv_hwm resets its connection before the daemon has read what it queued. */
#define BUS_KEEPALIVE_IDLE_S 5
#define BUS_KEEPALIVE_INTVL_S 2
#define BUS_KEEPALIVE_CNT 5
#define BUS_MAXRT_MS 15000

/* Sets CFG's limits (max_frame, send_hwm, recv_hwm), the linger and the dead-peer detection
 * above on server socket S. Returns 0, or -1 with errno set and a warning logged. */
int bus_tune(void *s, const struct config *cfg);

/* Creates and binds the three sockets in CTX on BASE with CFG's keys and limits, calling CB
 * for every incoming message. The ZAP handler must already be bound in CTX. Returns a new
 * bus (caller frees with bus_free), or NULL with *ERR a new message (caller frees). */
struct bus *bus_new(void *ctx, struct event_base *base, const struct config *cfg, bus_msg_cb cb,
		    void *arg, char **err);
/* Closes the sockets and drops anything still queued; accepts NULL. */
void bus_free(struct bus *b);

/* Queues BUF (takes ownership) for WHICH: to routing id RID on a ROUTER, under TOPIC on the
 * feed. A REPLY_CORR other than 0 marks a reply to an operator or agent request: when the
 * batch fails to commit it is replaced by an UNAVAILABLE error for that correlation id. */
void bus_queue(struct bus *b, enum bus_socket which, const uint8_t *rid, size_t rid_len,
	       const char *topic, uint8_t *buf, size_t len, uint64_t reply_corr);
/* Queues error reply BUF (takes ownership) to RID on WHICH: it is sent as it is even when the
 * batch fails to commit, since an error reports that nothing was changed. */
void bus_queue_error(struct bus *b, enum bus_socket which, const uint8_t *rid, size_t rid_len,
		     uint8_t *buf, size_t len);
/* Returns a mark for bus_discard_from. */
size_t bus_mark(const struct bus *b);
/* Drops everything queued since MARK (a request that failed). */
void bus_discard_from(struct bus *b, size_t mark);
/* Sends everything queued, in order (the batch committed). */
void bus_release(struct bus *b);
/* Marks what was queued since MARK to be sent as it is even when the batch fails to commit:
 * answers that hold nothing of the batch's changes. */
void bus_keep_from(struct bus *b, size_t mark);
/* The batch did not commit: replies become UNAVAILABLE errors saying WHY, error replies and
 * what bus_keep_from marked stay as they are, the rest is dropped. SEQ gives the envelope sequence
 * numbers to use. Then sends the errors. Returns how many replies became errors. */
size_t bus_fail_batch(struct bus *b, uint64_t (*next_seq)(void *), void *arg, const char *why);
/* Returns 1 when something is queued. */
int bus_pending(const struct bus *b);
/* Closes and re-binds the feed socket so that every subscriber re-authenticates (used when a
 * key is revoked). Returns 0 or -1. */
int bus_rebind_feed(struct bus *b);
/* Points the bus at a reloaded configuration (endpoints and keys must be unchanged). */
void bus_set_config(struct bus *b, const struct config *cfg);
/* From now on every message is dropped instead of sent (a replay has no peers). */
void bus_mute(struct bus *b);
/* Returns how many messages were sent on WHICH since start, plus how many are queued for it. */
uint64_t bus_count(const struct bus *b, enum bus_socket which);
/* Returns how many messages could not be delivered since start (unreachable or full). */
uint64_t bus_undelivered(const struct bus *b);
/* Returns how many of those were refused because the peer's queue was full (send_hwm). */
uint64_t bus_queue_full(const struct bus *b);
/* Returns how many messages are queued, waiting for the batch's commit. */
size_t bus_queued(const struct bus *b);

#endif
