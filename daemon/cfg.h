/* cfg: reads and validates the whole configuration (musterd.conf and the files it names) as
 * one unit: either everything is valid and a new config is returned, or nothing is. */
#ifndef MUSTER_CFG_H
#define MUSTER_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "geo.h"
#include "roster.h"

/* Roles a client key may hold; a bit set so that permissions can be masks. */
enum role {
	ROLE_AGENT = 1,	      /* a department's client agent: units, receipts, statuses */
	ROLE_OPERATOR = 2,    /* dispatch-centre operator: incidents */
	ROLE_COORDINATOR = 4, /* drill coordinator: drills, plus what an operator may do */
	ROLE_OBSERVER = 8,    /* read-only: get, list, watch */
};

/* One enrolled client key. */
struct client {
	char *id; /* identity, "agent:fire", "operator:alice"; the ZAP User-Id */
	enum role role;
	int department;	  /* ROLE_AGENT: index into roster.departments; else -1 */
	uint8_t key[32];  /* CURVE public key */
	char key_z85[41]; /* the same, Z85-encoded */
	int line;
};

struct config {
	char *path;		/* musterd.conf as given */
	char *dir;		/* its directory; relative paths in it resolve against this */
	char *database;		/* resolved path of the SQLite file */
	char *control_endpoint; /* ZeroMQ endpoints the daemon binds */
	char *agents_endpoint;
	char *feed_endpoint;
	char *key_file;	    /* resolved path of the daemon's key pair file */
	char *clients_file; /* resolved paths of the other files */
	char *district_file;
	char *roster_file;
	char *plans_file;   /* may be NULL until plans exist */
	char *snapshot_dir; /* where online backups for analysts are written */
	int max_frame;	    /* bytes; larger frames disconnect the peer */
	int heartbeat_interval_ms;
	int heartbeat_min_ms;	/* an agent's heartbeats, over time, at most one per this; 0: any */
	int unit_stale_ms;	/* a unit not heard from for this long is not available */
	int checkpoint_idle_ms; /* WAL checkpoint after this long without writes */
	int io_budget;		/* messages read per socket per wake-up */
	int send_hwm;		/* ZeroMQ send high-water mark per peer */
	int recv_hwm;		/* ZeroMQ receive high-water mark per peer */
	int max_open_incidents; /* 0: no limit (reloadable) */
	int wal_max_pages;	/* checkpoint when the WAL is this long (reloadable) */
	int max_db_pages;	/* PRAGMA max_page_count; 0: no limit (reloadable) */
	char public_key[41];	/* the daemon's CURVE key pair, Z85 */
	char secret_key[41];
	struct district *district;
	struct roster *roster;
	struct client *clients;
	size_t n_clients;
	struct plans *plans; /* tier rules and response plans (never NULL once loaded) */
};

/* Loads PATH and every file it names. Returns a new config (caller frees with cfg_free),
 * or NULL with *ERRORS set to a new string (caller frees) holding one line per problem,
 * each "file:line: what is wrong". */
struct config *cfg_load(const char *path, char **errors);
/* Frees C and everything in it; accepts NULL. */
void cfg_free(struct config *c);
/* Prints every musterd.conf setting with its type, bounds, default and help. */
void cfg_print_help(FILE *out);
/* Returns the default of string setting NAME of musterd.conf ("control", "key_file", ...) as
 * written in the table (paths unresolved), or NULL when NAME is not a string setting.
 * Borrowed (static). */
const char *cfg_default_string(const char *name);

/* Returns the enrolled client with this public key, or NULL. Borrowed. */
const struct client *cfg_client_by_key(const struct config *c, const uint8_t key[32]);
/* Returns the enrolled client with this identity, or NULL. Borrowed. */
const struct client *cfg_client_by_id(const struct config *c, const char *id);
/* Returns "agent", "operator", "coordinator" or "observer". */
const char *cfg_role_name(enum role r);

/* Reads a CURVE key file (see docs/configuration.md) into Z85 PUBLIC and, when SECRET is not
 * NULL, SECRET (each 41 bytes). Returns 0, or -1 with a "file:line: what" message in ERR. */
int cfg_read_key_file(const char *path, char public_key[41], char secret_key[41], char *err,
		      size_t errlen);
/* Writes a new key pair to PATH (mode 0600) and its public half to PATH with ".key" replaced
 * by ".pub" when PUB_PATH is not NULL. Returns 0, or -1 with errno set. */
int cfg_write_key_pair(const char *path, const char *pub_path, const char public_key[41],
		       const char secret_key[41]);

#endif
