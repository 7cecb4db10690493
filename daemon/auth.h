/* auth: the ZAP handler inside the daemon. It admits only enrolled CURVE keys, labels each
 * connection with the key's identity (the User-Id every message then carries), and fails
 * closed: it is bound before any server socket, and anything it cannot parse is refused. */
#ifndef MUSTER_AUTH_H
#define MUSTER_AUTH_H

#include <stdint.h>

struct event_base;
struct auth;

/* Decides whether KEY may connect to the socket whose ZAP domain is DOMAIN. Returns the
 * identity to label the connection with (borrowed), or NULL to refuse. */
typedef const char *(*auth_policy_cb)(const char *domain, const uint8_t key[32], void *arg);

/* Binds the ZAP endpoint in CTX and answers requests from BASE's loop with POLICY.
 * Returns a new handler (caller frees with auth_free), or NULL when it cannot bind, in which
 * case the daemon must not start. */
struct auth *auth_new(void *ctx, struct event_base *base, auth_policy_cb policy, void *arg);
/* Closes the handler; accepts NULL. Call only after the server sockets are closed. */
void auth_free(struct auth *a);
/* Counts of admitted and refused handshakes since start. */
void auth_counts(const struct auth *a, uint64_t *admitted, uint64_t *refused);

#endif
