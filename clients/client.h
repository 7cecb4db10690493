/* client: what muster and muster-agent share: finding the daemon's endpoints and keys,
 * CURVE-secured sockets, and request/reply with correlation ids. */
#ifndef MUSTER_CLIENT_H
#define MUSTER_CLIENT_H

#include <stdint.h>

#include "wire.h"

/* Where the daemon is and who we are. */
struct client_conf {
	char *control; /* endpoints */
	char *agents;
	char *feed;
	char server_public[41]; /* the daemon's CURVE public key, Z85 */
	char public_key[41];	/* ours */
	char secret_key[41];
};

/* Fills C from the musterd.conf at CONF (a file, or a directory holding musterd.conf): the
 * endpoints, the daemon's public key (key_file with .key replaced by .pub) and our key pair
 * from KEY_FILE (relative to the configuration's directory when not absolute). Returns 0, or
 * -1 with *ERR a new message (caller frees). */
int client_conf_load(struct client_conf *c, const char *conf, const char *key_file, char **err);
/* Frees the strings of C. */
void client_conf_finish(struct client_conf *c);

/* As client_socket, but not yet connected: attach a socket monitor first, then connect with
 * client_socket_connect, or the monitor can miss the first handshake. */
void *client_socket_unconnected(void *ctx, int type, const struct client_conf *c, char **err);
/* Connects S to ENDPOINT. Returns 0, or -1 with *ERR a new message (S is then closed). */
int client_socket_connect(void *s, const char *endpoint, char **err);
/* Returns a new socket of TYPE in CTX, CURVE client, connected to ENDPOINT; NULL with *ERR. */
void *client_socket(void *ctx, int type, const char *endpoint, const struct client_conf *c,
		    char **err);
/* Sends E (header filled here with a fresh correlation id) on DEALER socket S and waits up to
 * TIMEOUT_MS for the reply with the same correlation id. Returns a new envelope (free with
 * wire_free), or NULL with *ERR a new message. An ErrorReply is returned as a reply. */
Envelope *client_call(void *s, Envelope *e, int timeout_ms, char **err);
/* Sends E (header filled here) on S without waiting. Returns 0 or -1 with errno. */
int client_send(void *s, Envelope *e);
/* Receives one envelope from S, waiting up to TIMEOUT_MS (-1: forever). Returns a new
 * envelope, or NULL on timeout (*ERR NULL) or error (*ERR a new message). */
Envelope *client_recv(void *s, int timeout_ms, char **err);

/* Makes every later sequence number larger than AFTER. An agent starts its numbers from the
 * wall clock, so that they keep increasing across its own restarts (the daemon remembers the
 * highest report seq of each agent). */
void client_seq_start(uint64_t after);
/* Returns a fresh sequence number, from the counter client_send uses. */
uint64_t client_next_seq(void);
/* Sends E on S like client_send, but keeps E->seq (from client_next_seq): a re-sent report
 * keeps its original seq. Returns 0 or -1 with errno. */
int client_send_seq(void *s, Envelope *e);
/* Returns the resolved path of file setting NAME ("roster", ...) of the musterd.conf at CONF
 * (a file or its directory), or of its default; NULL with *ERR a new message. */
char *client_conf_path(const char *conf, const char *name, char **err);

#endif
