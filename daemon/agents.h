/* agents: the live sessions of department agents: who is connected under which routing id,
 * their unit registrations and heartbeats, and the de-duplication of their reports. */
#ifndef MUSTER_AGENTS_H
#define MUSTER_AGENTS_H

#include <stddef.h>
#include <stdint.h>

struct agents;
struct daemon;
struct request;

/* Heartbeats an agent may send at once before heartbeat_min_ms spaces them. */
#define AGENTS_HEARTBEAT_BURST 10

/* Returns a new, empty session table; caller frees with agents_free. */
struct agents *agents_new(void);
/* Frees A; accepts NULL. */
void agents_free(struct agents *a);
/* Forgets the session of IDENTITY (its key was revoked): nothing more is sent to it. */
void agents_drop(struct agents *a, const char *identity);
/* Forgets cached state that may be ahead of the database (after a failed commit or a
 * reload); it is read again when needed. */
void agents_reload_state(struct agents *a, struct daemon *d);
/* Returns the routing id of IDENTITY's live session in *RID (borrowed), or -1 when the agent
 * has no session. */
int agents_route(struct agents *a, const char *identity, const uint8_t **rid, size_t *rid_len);
/* Returns how many agents have a session. */
size_t agents_count(const struct agents *a);

/* Handlers (see the dispatch table in daemon.c). */
int agents_register(struct request *r);
int agents_heartbeat(struct request *r);
int agents_report(struct request *r);

#endif
