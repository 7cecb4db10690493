/* store: the only module that speaks SQL. The timeline (append-only, hash-chained) and the
 * current-state tables derived from it live in one SQLite file owned by the daemon. */
#ifndef MUSTER_STORE_H
#define MUSTER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "muster.pb-c.h"
#include "order.h"
#include "roster.h"
#include "blind.h"
#include "whistle.h"

#define STORE_SCHEMA_VERSION 6
#define STORE_HASH_LEN 32

/* One timeline row. The caller fills the inputs; store_append fills seq and hash. */
struct tl_event {
	uint64_t seq;	   /* out: gap-free sequence number, from 1 */
	int64_t wall_ms;   /* wall clock, ms since the epoch */
	int64_t mono_ns;   /* monotonic clock, ns */
	const char *actor; /* authenticated identity, or "musterd"; borrowed */
	const char *kind;  /* "incident.opened", ...; borrowed */
	uint64_t incident_id;
	int exercise;
	const char *body;	      /* JSON text, hashed as stored; borrowed */
	uint8_t hash[STORE_HASH_LEN]; /* out */
};

struct store;

/* Opens (creating when absent) the database at PATH with WAL, synchronous=FULL and an
 * exclusive lock, creating or checking the schema. Returns a new store (caller frees with
 * store_close), or NULL with *ERR a new message (caller frees). */
struct store *store_open(const char *path, char **err);
/* Closes S, rolling back anything uncommitted; accepts NULL. */
void store_close(struct store *s);

/* Starts a unit of work: begins the batch transaction when none is open, then a savepoint,
 * so that one failing request is undone without undoing the others of the batch. */
int store_savepoint(struct store *s);
/* Keeps the work since the last savepoint in the batch. */
int store_release(struct store *s);
/* Undoes the work since the last savepoint (timeline head included). */
void store_rollback_to(struct store *s);
/* Commits the batch transaction, if one is open. Returns 0, or -1 after rolling the whole
 * batch back (the caller must then treat every change of the batch as not made). */
int store_commit(struct store *s);
/* Returns 1 while a batch transaction is open. */
int store_in_batch(const struct store *s);
/* Returns how many units of work the open batch keeps (released savepoints), 0 when none or
 * when the batch is lost. */
unsigned store_batch_kept(const struct store *s);

/* Storage faults (docs/reliability.md, "Disk faults"). */
enum store_fault {
	STORE_FAULT_NONE,  /* no SQLite error */
	STORE_FAULT_FULL,  /* SQLITE_FULL: the disk, or max_db_pages */
	STORE_FAULT_IO,	   /* an I/O error: a write, an fsync */
	STORE_FAULT_OTHER, /* anything else */
};
/* What failed the current unit of work (since its savepoint) or the last commit; *DETAIL (when
 * not NULL) is SQLite's description, a static string. */
enum store_fault store_fault(const struct store *s, const char **detail);
/* Between batches: finishes what a failed commit left to do (see store.c, store_seal). */
void store_maintain(struct store *s);
/* Limits the database to MAX pages (PRAGMA max_page_count); 0 lifts the limit. Returns the
 * limit in effect, which SQLite never sets below the current size, or -1; *PAGES is the
 * current size in pages. */
long long store_set_max_pages(struct store *s, long long max, long long *pages);
/* Returns how many pages the write-ahead log held after the last commit (0 after a
 * checkpoint). */
int store_wal_pages(const struct store *s);
/* Returns the database's size in pages, or -1 when it cannot be read. */
long long store_pages(struct store *s);

/* Appends EV to the timeline inside the open savepoint; fills ev->seq and ev->hash. */
int store_append(struct store *s, struct tl_event *ev);
/* Computes the chained hash of EV after PREV (the rule in docs/protocol.md). */
void store_hash_event(const uint8_t prev[STORE_HASH_LEN], const struct tl_event *ev,
		      uint8_t out[STORE_HASH_LEN]);
/* Walks the whole timeline checking sequence and hash chain. Returns 0 with *COUNT rows,
 * or -1 with *ERR a new message naming the first bad row (caller frees). */
int store_verify_chain(struct store *s, uint64_t *count, char **err);

/* Inserts INC (its id is assigned and written back). */
int store_insert_incident(struct store *s, Muster__Incident *inc);
/* Writes every field of INC over the row with its id. */
int store_update_incident(struct store *s, const Muster__Incident *inc);
/* Reads incident ID into a new *OUT (free with store_free_incident). Returns 1 when found,
 * 0 when not, -1 on error. */
int store_get_incident(struct store *s, uint64_t id, Muster__Incident **out);
/* Lists up to LIMIT incidents with id > AFTER (open ones only unless INCLUDE_CLOSED) into a
 * new array *OUT of *N (free with store_free_incidents); *MORE says whether more follow. */
int store_list_incidents(struct store *s, int include_closed, uint64_t after, unsigned limit,
			 Muster__Incident ***out, size_t *n, int *more);
/* Frees an incident from store_get_incident; accepts NULL. */
void store_free_incident(Muster__Incident *inc);
/* Frees an array from store_list_incidents. */
void store_free_incidents(Muster__Incident **v, size_t n);

/* Returns the last report sequence number recorded for AGENT (0 when none) in *LAST. */
int store_get_agent_seq(struct store *s, const char *agent, uint64_t *last);
/* Records SEQ as AGENT's last report sequence number. */
int store_set_agent_seq(struct store *s, const char *agent, uint64_t seq);
/* Records an input for replay: a request from IDENTITY on SOCKET (its envelope BODY of LEN
 * bytes; NULL for a heartbeat that changed nothing but the units' last-seen time), or, with
 * SOCKET -1, a tick that changed something. Returns 0 or -1. */
int store_put_input(struct store *s, int64_t wall_ms, int socket, const char *identity,
		    const void *body, size_t len);
/* Finds the K-th order (from 1, by id) of SLOT of INCIDENT: 1 with its *ID and *AGENT (a new
 * string), 0 when there is none, -1 on error. */
int store_order_by_slot(struct store *s, uint64_t incident, const char *slot, int k, uint64_t *id,
			char **agent);
/* Saves U's live state (status, position, last seen). */
int store_put_unit(struct store *s, const struct unit *u);
/* Restores the live state saved for the units of R. */
int store_load_units(struct store *s, struct roster *r);

/* Inserts O (its id is assigned and written back). */
int store_insert_order(struct store *s, struct order *o);
/* Writes every field of O over the row with its id. */
int store_update_order(struct store *s, const struct order *o);
/* Reads the orders of INCIDENT_ID (all of them), or with 0 every active order (not final),
 * into a new array *OUT of *N new orders (caller frees each with order_free, then *OUT). */
int store_load_orders(struct store *s, uint64_t incident_id, struct order ***out, size_t *n);

/* Inserts W and its departments (its id is assigned and written back). */
int store_insert_whistle(struct store *s, struct whistle *w);
/* Writes one department's answer to whistle WHISTLE_ID. */
int store_put_whistle_dept(struct store *s, uint64_t whistle_id, const struct whistle_dept *wd);
/* Marks whistle ID closed (compliance published). */
int store_close_whistle(struct store *s, uint64_t id);
/* Reads whistle ID into a new *OUT (free with whistle_free): 1 found, 0 not, -1 error. */
int store_get_whistle(struct store *s, uint64_t id, struct whistle **out);
/* Returns the ids of the whistles not yet closed in a new array *IDS of *N (caller frees). */
int store_open_whistles(struct store *s, uint64_t **ids, size_t *n);

/* Writes a consistent copy of the database to PATH (which must not exist) with SQLite's
 * online-backup API, between batches. Returns 0 with *EVENTS timeline rows in the copy, or
 * -1 with *ERR a new message (caller frees) and no file left behind. */
int store_snapshot(struct store *s, const char *path, uint64_t *events, char **err);

/* Calls FN for every open incident of TYPE received at or after SINCE_MS, an exercise one or
 * not as EXERCISE says, whose coordinates lie in the box, in id order (an indexed look-up,
 * for duplicate reports). */
int store_nearby_incidents(struct store *s, const char *type, int64_t since_ms, int exercise,
			   double lat_min, double lat_max, double lon_min, double lon_max,
			   void (*fn)(uint64_t id, double lat, double lon, void *arg), void *arg);

/* Inserts drill B and its injects (its id is assigned and written back). */
int store_insert_drill(struct store *s, struct blind_drill *b);
/* Writes B's state, end, counts and reason over its row. */
int store_update_drill(struct store *s, const struct blind_drill *b);
/* Writes what became of inject IDX of drill DRILL_ID (incident, time fired, error). */
int store_put_drill_inject(struct store *s, uint64_t drill_id, size_t idx,
			   const struct blind_inject *in);
/* Reads drill ID with its injects into a new *OUT (free with blind_drill_free): 1 found,
 * 0 not, -1 error. */
int store_get_drill(struct store *s, uint64_t id, struct blind_drill **out);
/* Returns the ids of the drills armed or running in a new array *IDS of *N (caller frees). */
int store_active_drills(struct store *s, uint64_t **ids, size_t *n);

/* Checkpoints the WAL into the database file (TRUNCATE) when no batch is open. */
int store_checkpoint(struct store *s);

#endif
