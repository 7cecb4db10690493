/* zev: drives a ZeroMQ socket from a libevent loop; the only code that reads ZMQ_FD. */
#ifndef MUSTER_ZEV_H
#define MUSTER_ZEV_H

struct event_base;
struct zev;

/* Called once for each message waiting on the socket; it must read the whole message (all
 * its parts) with ZMQ_DONTWAIT. */
typedef void (*zev_read_cb)(void *sock, void *arg);

/* Watches SOCK (borrowed) on BASE and calls CB for each incoming message, at most BUDGET per
 * wake-up; the rest are read from a zero-timeout timer so that other sockets get their turn.
 * Returns a new watcher; caller frees with zev_free (before closing the socket). */
struct zev *zev_new(struct event_base *base, void *sock, int budget, zev_read_cb cb, void *arg);
/* Stops watching and frees Z; accepts NULL. */
void zev_free(struct zev *z);
/* Must be called after every send on the socket: a send can consume the edge that announced
 * new input, which would then never wake the loop. */
void zev_recheck(struct zev *z);

#endif
