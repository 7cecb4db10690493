/* store: SQLite access for the daemon. Every statement is prepared once at open; every result
 * is checked; the timeline is append-only (triggers refuse UPDATE and DELETE) and each row
 * carries a SHA-256 hash chained to the previous row. */
#include "store.h"
#include "log.h"
#include "util.h"

#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* The prepared statements, by purpose. */
enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_APPEND,
	ST_INC_INSERT,
	ST_INC_UPDATE,
	ST_INC_GET,
	ST_INC_LIST,
	ST_INC_LIST_ALL,
	ST_AGENT_SEQ_GET,
	ST_AGENT_SEQ_SET,
	ST_INPUT_PUT,
	ST_ORDER_BY_SLOT,
	ST_UNIT_PUT,
	ST_UNIT_GET,
	ST_ORDER_INSERT,
	ST_ORDER_UPDATE,
	ST_ORDERS_ACTIVE,
	ST_ORDERS_OF,
	ST_WHISTLE_INSERT,
	ST_WHISTLE_CLOSE,
	ST_WHISTLE_DEPT_PUT,
	ST_WHISTLE_GET,
	ST_WHISTLE_DEPTS,
	ST_WHISTLES_OPEN,
	ST_INC_NEARBY,
	ST_DRILL_INSERT,
	ST_DRILL_UPDATE,
	ST_DRILL_INJECT_INSERT,
	ST_DRILL_INJECT_PUT,
	ST_DRILL_GET,
	ST_DRILL_INJECTS,
	ST_DRILLS_ACTIVE,
	ST_PAGE_COUNT,
	ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT work",
    [ST_RELEASE] = "RELEASE work",
    [ST_ROLLBACK_TO] = "ROLLBACK TO work",
    [ST_APPEND] = "INSERT INTO timeline(seq, wall_ms, mono_ns, actor, kind, incident_id, "
		  "exercise, body, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_INC_INSERT] = "INSERT INTO incidents(type, state, tier, place, has_coords, lat, lon, "
		      "street, community, grid, key_place, description, casualties, "
		      "people_affected, hazmat, reporter, received_ms, updated_ms, closed_ms, "
		      "close_reason, exercise, opened_by, building, tier_reason, owner, "
		      "linked_to, level) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		      "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
		      "?24, ?25, ?26, ?27, ?28)",
    [ST_INC_UPDATE] = "UPDATE incidents SET type = ?2, state = ?3, tier = ?4, place = ?5, "
		      "has_coords = ?6, lat = ?7, lon = ?8, street = ?9, community = ?10, grid = "
		      "?11, key_place = ?12, description = ?13, casualties = ?14, "
		      "people_affected = ?15, hazmat = ?16, reporter = ?17, received_ms = ?18, "
		      "updated_ms = ?19, closed_ms = ?20, close_reason = ?21, exercise = ?22, "
		      "opened_by = ?23, building = ?24, tier_reason = ?25, owner = ?26, "
		      "linked_to = ?27, level = ?28 WHERE id = ?1",
    [ST_INC_GET] = "SELECT * FROM incidents WHERE id = ?1",
    [ST_INC_LIST] = "SELECT * FROM incidents WHERE id > ?1 AND state = 1 ORDER BY id LIMIT ?2",
    [ST_INC_LIST_ALL] = "SELECT * FROM incidents WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_AGENT_SEQ_GET] = "SELECT last_seq FROM agent_seq WHERE agent = ?1",
    [ST_ORDER_BY_SLOT] = "SELECT id, agent FROM orders WHERE incident_id = ?1 AND slot = ?2"
			 " ORDER BY id LIMIT 1 OFFSET ?3",
    [ST_INPUT_PUT] = "INSERT INTO inputs(wall_ms, socket, identity, body) VALUES (?1, ?2, ?3, ?4)",
    [ST_AGENT_SEQ_SET] = "INSERT INTO agent_seq(agent, last_seq) VALUES (?1, ?2) "
			 "ON CONFLICT(agent) DO UPDATE SET last_seq = excluded.last_seq",
    [ST_UNIT_PUT] = "INSERT INTO units(id, status, lat, lon, last_seen_ms) VALUES (?1, ?2, ?3, "
		    "?4, ?5) ON CONFLICT(id) DO UPDATE SET status = excluded.status, lat = "
		    "excluded.lat, lon = excluded.lon, last_seen_ms = excluded.last_seen_ms",
    [ST_UNIT_GET] = "SELECT status, lat, lon, last_seen_ms FROM units WHERE id = ?1",
    [ST_ORDER_INSERT] =
	"INSERT INTO orders(incident_id, what, member_id, agent, slot, grp, "
	"role, department, kind, status, attempt, tier, exercise, delay_reason, "
	"eta_s, ordered_ms, sent_ms, received_ms, accepted_ms, en_route_ms, "
	"on_scene_ms, cleared_ms, ended_ms, next_send_ms, receipt_deadline_ms, "
	"accept_deadline_ms, ring_deadline_ms, ring_reported) VALUES (?2, ?3, ?4, "
	"?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
	"?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
    [ST_ORDER_UPDATE] =
	"UPDATE orders SET incident_id = ?2, what = ?3, member_id = ?4, "
	"agent = ?5, slot = ?6, grp = ?7, role = ?8, department = ?9, kind = ?10, "
	"status = ?11, attempt = ?12, tier = ?13, exercise = ?14, delay_reason = "
	"?15, eta_s = ?16, ordered_ms = ?17, sent_ms = ?18, received_ms = ?19, "
	"accepted_ms = ?20, en_route_ms = ?21, on_scene_ms = ?22, cleared_ms = ?23, "
	"ended_ms = ?24, next_send_ms = ?25, receipt_deadline_ms = ?26, "
	"accept_deadline_ms = ?27, ring_deadline_ms = ?28, ring_reported = ?29 "
	"WHERE id = ?1",
    [ST_ORDERS_ACTIVE] = "SELECT * FROM orders WHERE status NOT IN (5, 8, 9, 10) ORDER BY id",
    [ST_ORDERS_OF] = "SELECT * FROM orders WHERE incident_id = ?1 ORDER BY id",
    [ST_WHISTLE_INSERT] = "INSERT INTO whistles(place, matter, rank, headcount, called_by, "
			  "blown_ms, deadline_ms, close_ms, incident_id, exercise, closed) VALUES "
			  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_WHISTLE_CLOSE] = "UPDATE whistles SET closed = 1 WHERE id = ?1",
    [ST_WHISTLE_DEPT_PUT] =
	"INSERT INTO whistle_departments(whistle_id, department, status, "
	"arrived_ms, rank, headcount, rank_met, headcount_met) VALUES (?1, "
	"?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(whistle_id, department) DO "
	"UPDATE SET status = excluded.status, arrived_ms = excluded.arrived_ms, "
	"rank = excluded.rank, headcount = excluded.headcount, rank_met = "
	"excluded.rank_met, headcount_met = excluded.headcount_met",
    [ST_WHISTLE_GET] = "SELECT id, place, matter, rank, headcount, called_by, blown_ms, "
		       "deadline_ms, close_ms, incident_id, exercise, closed FROM whistles WHERE "
		       "id = ?1",
    [ST_WHISTLE_DEPTS] = "SELECT department, status, arrived_ms, rank, headcount, rank_met, "
			 "headcount_met FROM whistle_departments WHERE whistle_id = ?1 ORDER BY "
			 "rowid",
    [ST_WHISTLES_OPEN] = "SELECT id FROM whistles WHERE closed = 0 ORDER BY id",
    [ST_INC_NEARBY] = "SELECT id, lat, lon FROM incidents WHERE type = ?1 AND state = 1 AND "
		      "has_coords = 1 AND received_ms >= ?2 AND lat BETWEEN ?3 AND ?4 AND lon "
		      "BETWEEN ?5 AND ?6 AND exercise = ?7 ORDER BY id",
    [ST_DRILL_INSERT] = "INSERT INTO drills(name, state, window_from_ms, window_to_ms, start_ms, "
			"duration_ms, armed_by, armed_ms, ended_ms, fired, failed, reason) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_DRILL_UPDATE] = "UPDATE drills SET state = ?2, ended_ms = ?3, fired = ?4, failed = ?5, "
			"reason = ?6 WHERE id = ?1",
    [ST_DRILL_INJECT_INSERT] = "INSERT INTO drill_injects(drill_id, idx, at_ms, incident, "
			       "incident_id, fired_ms, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_DRILL_INJECT_PUT] = "UPDATE drill_injects SET incident_id = ?3, fired_ms = ?4, error = ?5 "
			    "WHERE drill_id = ?1 AND idx = ?2",
    [ST_DRILL_GET] =
	"SELECT id, name, state, window_from_ms, window_to_ms, start_ms, duration_ms, "
	"armed_by, armed_ms, ended_ms, fired, failed, reason FROM drills WHERE id = ?1",
    [ST_DRILL_INJECTS] = "SELECT at_ms, incident, incident_id, fired_ms, error FROM drill_injects "
			 "WHERE drill_id = ?1 ORDER BY idx",
    [ST_DRILLS_ACTIVE] = "SELECT id FROM drills WHERE state IN (0, 1) ORDER BY id",
    [ST_PAGE_COUNT] = "PRAGMA page_count",
};

/* Schema version 1. The incident columns follow the Incident message in muster.proto. */
static const char store_schema_v1[] =
    "CREATE TABLE timeline ("
    " seq INTEGER PRIMARY KEY,"
    " wall_ms INTEGER NOT NULL,"
    " mono_ns INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " incident_id INTEGER NOT NULL DEFAULT 0,"
    " exercise INTEGER NOT NULL DEFAULT 0,"
    " body TEXT NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE INDEX timeline_incident ON timeline(incident_id);"
    "CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline"
    " BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;"
    "CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline"
    " BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;"
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " type TEXT NOT NULL, state INTEGER NOT NULL, tier INTEGER NOT NULL,"
    " place TEXT NOT NULL, has_coords INTEGER NOT NULL, lat REAL, lon REAL,"
    " street TEXT NOT NULL, community TEXT NOT NULL, grid TEXT NOT NULL,"
    " key_place TEXT NOT NULL, description TEXT NOT NULL, casualties INTEGER NOT NULL,"
    " people_affected INTEGER NOT NULL, hazmat INTEGER NOT NULL, reporter TEXT NOT NULL,"
    " received_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL,"
    " close_reason TEXT NOT NULL, exercise INTEGER NOT NULL, opened_by TEXT NOT NULL);"
    "CREATE TABLE agent_seq (agent TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);"
    "CREATE TABLE units (id TEXT PRIMARY KEY, status INTEGER NOT NULL, lat REAL NOT NULL,"
    " lon REAL NOT NULL, last_seen_ms INTEGER NOT NULL);"
    "PRAGMA user_version = 1;";

/* Version 2: incidents learn tiering and plans; orders (the outbox and their lifecycle). */
static const char store_schema_v2[] =
    "ALTER TABLE incidents ADD COLUMN building TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE incidents ADD COLUMN tier_reason TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE incidents ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE incidents ADD COLUMN linked_to INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE incidents ADD COLUMN level TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE orders ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " incident_id INTEGER NOT NULL, what INTEGER NOT NULL, member_id TEXT NOT NULL,"
    " agent TEXT NOT NULL, slot TEXT NOT NULL, grp TEXT NOT NULL, role TEXT NOT NULL,"
    " department TEXT NOT NULL, kind TEXT NOT NULL, status INTEGER NOT NULL,"
    " attempt INTEGER NOT NULL, tier INTEGER NOT NULL, exercise INTEGER NOT NULL,"
    " delay_reason INTEGER NOT NULL, eta_s REAL NOT NULL, ordered_ms INTEGER NOT NULL,"
    " sent_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, accepted_ms INTEGER NOT NULL,"
    " en_route_ms INTEGER NOT NULL, on_scene_ms INTEGER NOT NULL, cleared_ms INTEGER NOT NULL,"
    " ended_ms INTEGER NOT NULL, next_send_ms INTEGER NOT NULL,"
    " receipt_deadline_ms INTEGER NOT NULL, accept_deadline_ms INTEGER NOT NULL,"
    " ring_deadline_ms INTEGER NOT NULL, ring_reported INTEGER NOT NULL);"
    "CREATE INDEX orders_incident ON orders(incident_id);"
    "CREATE INDEX orders_status ON orders(status);"
    "PRAGMA user_version = 2;";

/* Version 3: whistle and report. */
static const char store_schema_v3[] =
    "CREATE TABLE whistles ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, place TEXT NOT NULL, matter TEXT NOT NULL,"
    " rank TEXT NOT NULL, headcount INTEGER NOT NULL, called_by TEXT NOT NULL,"
    " blown_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL, close_ms INTEGER NOT NULL,"
    " incident_id INTEGER NOT NULL, exercise INTEGER NOT NULL, closed INTEGER NOT NULL);"
    "CREATE TABLE whistle_departments ("
    " whistle_id INTEGER NOT NULL, department TEXT NOT NULL, status INTEGER NOT NULL,"
    " arrived_ms INTEGER NOT NULL, rank TEXT NOT NULL, headcount INTEGER NOT NULL,"
    " rank_met INTEGER NOT NULL, headcount_met INTEGER NOT NULL,"
    " PRIMARY KEY (whistle_id, department));"
    "PRAGMA user_version = 3;";

/* Version 4: duplicate-report look-ups by type and time use an index, not a scan. */
static const char store_schema_v4[] =
    "CREATE INDEX incidents_open_type ON incidents(type, state, received_ms);"
    "PRAGMA user_version = 4;";

/* Version 5: double-blind drills. start_ms is the sealed start (docs/drills.md); each inject
 * is its packed SubmitIncident, with the incident it opened (or why it was refused). */
static const char store_schema_v5[] =
    "CREATE TABLE drills ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, state INTEGER NOT NULL,"
    " window_from_ms INTEGER NOT NULL, window_to_ms INTEGER NOT NULL,"
    " start_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL, armed_by TEXT NOT NULL,"
    " armed_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL, fired INTEGER NOT NULL,"
    " failed INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX drills_state ON drills(state);"
    "CREATE TABLE drill_injects ("
    " drill_id INTEGER NOT NULL, idx INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
    " incident BLOB NOT NULL, incident_id INTEGER NOT NULL, fired_ms INTEGER NOT NULL,"
    " error TEXT NOT NULL, PRIMARY KEY (drill_id, idx));"
    "PRAGMA user_version = 5;";

/* Version 6: the inputs, for deterministic replay (docs/drills.md, "Replay"): every request
 * that changed something, as it arrived, and the times of the ticks that did. */
static const char store_schema_v6[] =
    "CREATE TABLE inputs (seq INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL,"
    " socket INTEGER NOT NULL, identity TEXT NOT NULL, body BLOB);"
    "PRAGMA user_version = 6;";

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	int in_batch;			   /* a BEGIN is open */
	int wal_pages;			   /* pages in the WAL after the last commit */
	int in_savepoint;		   /* a SAVEPOINT is open */
	uint64_t head_seq;		   /* last committed-or-pending timeline seq */
	uint8_t head_hash[STORE_HASH_LEN]; /* its hash */
	uint64_t save_seq;		   /* head at the open savepoint */
	uint8_t save_hash[STORE_HASH_LEN];
	uint64_t batch_seq; /* head at BEGIN, restored on a failed commit */
	uint8_t batch_hash[STORE_HASH_LEN];
	unsigned released; /* units of work kept in the open batch */
	/* Faults (docs/reliability.md, "Disk faults"). */
	int batch_lost;	    /* SQLite rolled the whole batch back itself (SQLITE_FULL, I/O) */
	int fault_rc;	    /* first SQLite error of the current unit of work, or of the commit */
	int batch_fault_rc; /* first SQLite error of the open batch */
	int quiet_rc;	    /* an I/O or full error already logged: again, only at debug level */
	int wal_suspect;    /* a COMMIT failed, perhaps after writing its frames: seal the WAL */
	int sync_lost;	    /* synchronous = FULL could not be restored: refuse every change */
	long long default_max_pages; /* SQLite's own max_page_count */
	long long max_pages;	     /* the limit in effect from max_db_pages; 0: none */
	int near_full;		     /* the 90% warning was given */
};

/* Returns the class of SQLite result code RC. */
static enum store_fault
store_classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return STORE_FAULT_NONE;
	case SQLITE_FULL:
		return STORE_FAULT_FULL;
	case SQLITE_IOERR:
		return STORE_FAULT_IO;
	default:
		return STORE_FAULT_OTHER;
	}
}

/* Remembers RC as the fault of the current unit of work and of the batch, unless one is
 * known already (the first error is the cause; what follows is its consequence). */
static void
store_note_fault(struct store *s, int rc)
{
	if (store_classify(rc) == STORE_FAULT_NONE)
		return;
	if (s->fault_rc == 0)
		s->fault_rc = rc;
	if (s->in_batch && s->batch_fault_rc == 0)
		s->batch_fault_rc = rc;
}

/* Logs the connection's last error with CONTEXT. A full disk or a failing one is logged once
 * (then at debug level) until a commit succeeds, so that a long fault does not flood the log;
 * the daemon logs its start, reminders and end. */
static void
store_log_error(struct store *s, const char *context)
{
	int rc = sqlite3_extended_errcode(s->db);
	enum store_fault f = store_classify(rc);

	store_note_fault(s, rc);
	if ((f == STORE_FAULT_FULL || f == STORE_FAULT_IO) && rc == s->quiet_rc) {
		log_debug("store: %s: %s (%d)", context, sqlite3_errmsg(s->db), rc);
		return;
	}
	if (f == STORE_FAULT_FULL || f == STORE_FAULT_IO)
		s->quiet_rc = rc;
	log_warnx("store: %s: %s (%d)", context, sqlite3_errmsg(s->db), rc);
}

/* SQLite rolls the whole transaction back by itself after some errors (SQLITE_FULL, I/O
 * errors). Then the batch is lost: the changes already kept in it are gone, so it must not
 * commit and nothing more may be written in it, or a later statement would run, and commit,
 * on its own. Notices that and marks the batch lost; returns 1 when it is. */
static int
store_check_lost(struct store *s)
{
	if (!s->in_batch)
		return 0;
	if (!s->batch_lost && sqlite3_get_autocommit(s->db)) {
		s->batch_lost = 1;
		s->in_savepoint = 0;
		s->head_seq = s->batch_seq;
		memcpy(s->head_hash, s->batch_hash, STORE_HASH_LEN);
		if (s->batch_fault_rc == 0)
			s->batch_fault_rc = SQLITE_ABORT;
		log_debug("store: SQLite rolled the batch back (%s); the rest of it is refused",
			  sqlite3_errstr(s->batch_fault_rc));
	}
	return s->batch_lost;
}

/* Runs a prepared statement that returns no rows; resets it. */
static int
store_step_done(struct store *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc;

	/* In a lost batch every statement would run in autocommit mode: refuse them all. */
	if (which != ST_BEGIN && which != ST_ROLLBACK && store_check_lost(s)) {
		store_note_fault(s, s->batch_fault_rc);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, store_sql[which]);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		store_check_lost(s);
		return -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

/* Returns the single text result of SQL in a new string, or NULL. */
static char *
store_pragma_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* Reads the single integer result of SQL; -1 when there is none. */
static long long
store_pragma_int(sqlite3 *db, const char *sql)
{
	char *t = store_pragma_text(db, sql);
	long long v = t ? strtoll(t, NULL, 10) : -1;

	free(t);
	return v;
}

/* Loads the timeline head (last seq and hash) from the database. */
static int
store_load_head(struct store *s)
{
	sqlite3_stmt *st;
	int rc;

	s->head_seq = 0;
	memset(s->head_hash, 0, sizeof s->head_hash);
	if (sqlite3_prepare_v2(s->db, "SELECT seq, hash FROM timeline ORDER BY seq DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		store_log_error(s, "load head");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->head_seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == STORE_HASH_LEN)
			memcpy(s->head_hash, sqlite3_column_blob(st, 1), STORE_HASH_LEN);
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* SQLite's word after each commit: the write-ahead log now holds PAGES pages. */
static int
store_wal_cb(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	s->wal_pages = pages;
	return SQLITE_OK;
}

struct store *
store_open(const char *path, char **err)
{
	struct store *s = xcalloc(1, sizeof *s);
	char *mode = NULL, *ver = NULL;
	int version, i;

	s->path = xstrdup(path);
	if (sodium_init() < 0) {
		*err = xstrdup("libsodium failed to initialise");
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*err = xasprintf("%s: cannot open database: %s", path,
				 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Exclusive first, so that the WAL index lives in heap memory and no other process can
	 * open the file while the daemon runs (analysts use `muster snapshot`). */
	if (sqlite3_exec(s->db, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	mode = store_pragma_text(s->db, "PRAGMA journal_mode = WAL");
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		*err = xasprintf("%s: cannot switch to WAL journal mode (%s): %s", path,
				 mode ? mode : "no answer", sqlite3_errmsg(s->db));
		goto fail;
	}
	if (sqlite3_exec(s->db,
			 "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
			 "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 0;",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	/* After the PRAGMA, which sets SQLite's own hook (none, with 0): ours only counts. */
	sqlite3_wal_hook(s->db, store_wal_cb, s);
	ver = store_pragma_text(s->db, "PRAGMA user_version");
	if (ver == NULL)
		goto sqlfail;
	version = atoi(ver);
	if (version > STORE_SCHEMA_VERSION) {
		*err = xasprintf("%s: database schema version %d is newer than this musterd "
				 "understands (%d); use a newer musterd",
				 path, version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < STORE_SCHEMA_VERSION) {
		char *msg = NULL;

		/* Each step brings the schema one version up, all in one transaction. */
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			goto sqlfail;
		if ((version < 1 &&
		     sqlite3_exec(s->db, store_schema_v1, NULL, NULL, &msg) != SQLITE_OK) ||
		    (version < 2 &&
		     sqlite3_exec(s->db, store_schema_v2, NULL, NULL, &msg) != SQLITE_OK) ||
		    (version < 3 &&
		     sqlite3_exec(s->db, store_schema_v3, NULL, NULL, &msg) != SQLITE_OK) ||
		    (version < 4 &&
		     sqlite3_exec(s->db, store_schema_v4, NULL, NULL, &msg) != SQLITE_OK) ||
		    (version < 5 &&
		     sqlite3_exec(s->db, store_schema_v5, NULL, NULL, &msg) != SQLITE_OK) ||
		    (version < 6 &&
		     sqlite3_exec(s->db, store_schema_v6, NULL, NULL, &msg) != SQLITE_OK) ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			*err = xasprintf("%s: cannot create schema: %s", path,
					 msg ? msg : "unknown error");
			sqlite3_free(msg);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	} else {
		/* Take the exclusive lock now, so a second daemon fails at start. */
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
			goto sqlfail;
	}
	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->st[i], NULL) != SQLITE_OK) {
			*err = xasprintf("%s: cannot prepare \"%s\": %s", path, store_sql[i],
					 sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	if (store_load_head(s) != 0)
		goto sqlfail;
	/* After the schema, so that a small max_db_pages never stops it from being made. */
	s->default_max_pages = store_pragma_int(s->db, "PRAGMA max_page_count");
	if (s->default_max_pages <= 0)
		goto sqlfail;
	free(mode);
	free(ver);
	return s;
sqlfail:
	*err = xasprintf("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
fail:
	free(mode);
	free(ver);
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->in_batch)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store: close %s: %s", s->path, sqlite3_errmsg(s->db));
	free(s->path);
	free(s);
}

int
store_savepoint(struct store *s)
{
	if (!s->in_savepoint)
		s->fault_rc = 0;
	if (s->sync_lost) {
		s->fault_rc = SQLITE_IOERR;
		return -1;
	}
	if (store_check_lost(s)) {
		s->fault_rc = s->batch_fault_rc;
		return -1;
	}
	if (!s->in_batch) {
		s->batch_fault_rc = 0;
		s->released = 0;
		if (store_step_done(s, ST_BEGIN) != 0)
			return -1;
		s->in_batch = 1;
		s->batch_seq = s->head_seq;
		memcpy(s->batch_hash, s->head_hash, STORE_HASH_LEN);
	}
	if (s->in_savepoint)
		return 0;
	if (store_step_done(s, ST_SAVEPOINT) != 0)
		return -1;
	s->in_savepoint = 1;
	s->save_seq = s->head_seq;
	memcpy(s->save_hash, s->head_hash, STORE_HASH_LEN);
	return 0;
}

int
store_release(struct store *s)
{
	if (!s->in_savepoint)
		return 0;
	if (store_check_lost(s))
		return -1;
	s->in_savepoint = 0;
	if (store_step_done(s, ST_RELEASE) != 0) {
		store_rollback_to(s);
		return -1;
	}
	s->released++;
	return 0;
}

void
store_rollback_to(struct store *s)
{
	if (!s->in_batch)
		return;
	if (store_check_lost(s))
		return; /* nothing left to roll back to; the head is the batch's already */
	/* ROLLBACK TO keeps the savepoint open; RELEASE then removes it. */
	if (store_step_done(s, ST_ROLLBACK_TO) != 0 || store_step_done(s, ST_RELEASE) != 0)
		log_warnx("store: cannot roll back to savepoint; the batch will be rolled back");
	if (store_check_lost(s))
		return;
	s->in_savepoint = 0;
	s->head_seq = s->save_seq;
	memcpy(s->head_hash, s->save_hash, STORE_HASH_LEN);
}

/* A COMMIT that failed at its fsync has written its frames to the WAL, commit mark and all; the
 * file holds them though SQLite forgot them. A daemon killed now would find them at its next
 * start and bring back what every reply of the batch called not done. A committed write over
 * them breaks their checksum chain: here a rewrite of user_version, which holds nothing, made
 * without fsync (the disk is failing; against a crash of the process, the page cache is
 * enough). While even that fails (writes failing too), it is tried again at each tick. */
static void
store_seal(struct store *s)
{
	char sql[128];
	int ok;

	snprintf(sql, sizeof sql,
		 "PRAGMA synchronous = OFF; BEGIN IMMEDIATE; PRAGMA user_version = %d; COMMIT;",
		 STORE_SCHEMA_VERSION);
	ok = sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK;
	if (!ok && !sqlite3_get_autocommit(s->db) &&
	    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_debug("store: seal: rollback failed");
	/* Never go on without synchronous = FULL: refuse every change instead. */
	if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    store_pragma_int(s->db, "PRAGMA synchronous") != 2) {
		if (!s->sync_lost)
			log_warnx(
			    "store: cannot restore synchronous = FULL: every change is refused "
			    "from now on; restart the daemon");
		s->sync_lost = 1;
	}
	if (ok) {
		s->wal_suspect = 0;
		log_debug("store: WAL sealed after the failed commit");
	}
}

void
store_maintain(struct store *s)
{
	if (s->wal_suspect && !s->in_batch)
		store_seal(s);
}

/* After a commit: warns once when the database passes 90% of max_db_pages. */
long long
store_pages(struct store *s)
{
	sqlite3_stmt *st = s->st[ST_PAGE_COUNT];
	long long pages = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		pages = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return pages;
}

static void
store_watch_size(struct store *s)
{
	sqlite3_stmt *st = s->st[ST_PAGE_COUNT];
	long long pages = -1;

	if (s->max_pages <= 0)
		return;
	if (sqlite3_step(st) == SQLITE_ROW)
		pages = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (pages < 0)
		return;
	if (!s->near_full && pages * 10 >= s->max_pages * 9) {
		s->near_full = 1;
		log_warnx("store: the database has %lld of its %lld pages (max_db_pages); changes "
			  "are refused once it is full",
			  pages, s->max_pages);
	} else if (s->near_full && pages * 10 < s->max_pages * 8) {
		s->near_full = 0;
	}
}

int
store_commit(struct store *s)
{
	if (!s->in_batch)
		return 0;
	if (s->in_savepoint)
		store_release(s);
	s->fault_rc = 0;
	if (store_check_lost(s)) {
		s->fault_rc = s->batch_fault_rc;
		s->in_batch = 0;
		s->batch_lost = 0;
		return -1;
	}
	if (store_step_done(s, ST_COMMIT) != 0) {
		/* A failed COMMIT may leave the transaction open; end it for certain. */
		if (!sqlite3_get_autocommit(s->db) && store_step_done(s, ST_ROLLBACK) != 0)
			log_warnx("store: rollback after failed commit failed too");
		s->in_batch = 0;
		s->batch_lost = 0;
		s->in_savepoint = 0;
		s->head_seq = s->batch_seq;
		memcpy(s->head_hash, s->batch_hash, STORE_HASH_LEN);
		s->wal_suspect = 1;
		store_seal(s);
		return -1;
	}
	s->in_batch = 0;
	s->wal_suspect = 0; /* this commit's frames overwrote whatever a failed one left */
	s->quiet_rc = 0;
	store_watch_size(s);
	return 0;
}

unsigned
store_batch_kept(const struct store *s)
{
	return s->in_batch && !s->batch_lost ? s->released : 0;
}

enum store_fault
store_fault(const struct store *s, const char **detail)
{
	if (detail)
		*detail = s->fault_rc ? sqlite3_errstr(s->fault_rc) : "no error";
	return store_classify(s->fault_rc);
}

long long
store_set_max_pages(struct store *s, long long max, long long *pages)
{
	char sql[64];
	long long got;

	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
		 max > 0 ? max : s->default_max_pages);
	got = store_pragma_int(s->db, sql);
	*pages = store_pragma_int(s->db, "PRAGMA page_count");
	if (got < 0 || *pages < 0) {
		store_log_error(s, "max_page_count");
		return -1;
	}
	s->max_pages = max > 0 ? got : 0;
	s->near_full = 0;
	return got;
}

int
store_in_batch(const struct store *s)
{
	return s->in_batch;
}

void
store_hash_event(const uint8_t prev[STORE_HASH_LEN], const struct tl_event *ev,
		 uint8_t out[STORE_HASH_LEN])
{
	crypto_hash_sha256_state st;
	char head[512];
	int n;

	n = snprintf(head, sizeof head,
		     "%" PRIu64 "\n%" PRId64 "\n%" PRId64 "\n%s\n%s\n%" PRIu64 "\n%d\n", ev->seq,
		     ev->wall_ms, ev->mono_ns, ev->actor, ev->kind, ev->incident_id,
		     ev->exercise ? 1 : 0);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, prev, STORE_HASH_LEN);
	if (n > 0 && (size_t)n < sizeof head) {
		crypto_hash_sha256_update(&st, (const unsigned char *)head, (size_t)n);
	} else {
		/* Very long actor or kind: hash the pieces the same way without truncation. */
		char *big =
		    xasprintf("%" PRIu64 "\n%" PRId64 "\n%" PRId64 "\n%s\n%s\n%" PRIu64 "\n%d\n",
			      ev->seq, ev->wall_ms, ev->mono_ns, ev->actor, ev->kind,
			      ev->incident_id, ev->exercise ? 1 : 0);
		crypto_hash_sha256_update(&st, (const unsigned char *)big, strlen(big));
		free(big);
	}
	crypto_hash_sha256_update(&st, (const unsigned char *)ev->body, strlen(ev->body));
	crypto_hash_sha256_final(&st, out);
}

int
store_append(struct store *s, struct tl_event *ev)
{
	sqlite3_stmt *st = s->st[ST_APPEND];

	ev->seq = s->head_seq + 1;
	store_hash_event(s->head_hash, ev, ev->hash);
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->seq) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, ev->wall_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, ev->mono_ns) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, ev->actor, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, ev->kind, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, (sqlite3_int64)ev->incident_id) != SQLITE_OK ||
	    sqlite3_bind_int(st, 7, ev->exercise ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_text(st, 8, ev->body, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 9, ev->hash, STORE_HASH_LEN, SQLITE_STATIC) != SQLITE_OK) {
		store_log_error(s, "bind append");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_APPEND) != 0)
		return -1;
	s->head_seq = ev->seq;
	memcpy(s->head_hash, ev->hash, STORE_HASH_LEN);
	return 0;
}

int
store_verify_chain(struct store *s, uint64_t *count, char **err)
{
	sqlite3_stmt *st;
	uint8_t prev[STORE_HASH_LEN] = {0}, h[STORE_HASH_LEN];
	uint64_t expect = 1;
	int rc;

	*count = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT seq, wall_ms, mono_ns, actor, kind, incident_id, exercise, "
			       "body, hash FROM timeline ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("cannot read the timeline: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tl_event ev = {0};

		ev.seq = (uint64_t)sqlite3_column_int64(st, 0);
		ev.wall_ms = sqlite3_column_int64(st, 1);
		ev.mono_ns = sqlite3_column_int64(st, 2);
		ev.actor = (const char *)sqlite3_column_text(st, 3);
		ev.kind = (const char *)sqlite3_column_text(st, 4);
		ev.incident_id = (uint64_t)sqlite3_column_int64(st, 5);
		ev.exercise = sqlite3_column_int(st, 6);
		ev.body = (const char *)sqlite3_column_text(st, 7);
		if (ev.seq != expect) {
			*err =
			    xasprintf("timeline row %" PRIu64 ": expected sequence number %" PRIu64,
				      ev.seq, expect);
			sqlite3_finalize(st);
			return -1;
		}
		if (ev.actor == NULL || ev.kind == NULL || ev.body == NULL) {
			*err = xasprintf("timeline row %" PRIu64 ": a column is NULL", ev.seq);
			sqlite3_finalize(st);
			return -1;
		}
		store_hash_event(prev, &ev, h);
		if (sqlite3_column_bytes(st, 8) != STORE_HASH_LEN ||
		    memcmp(sqlite3_column_blob(st, 8), h, STORE_HASH_LEN) != 0) {
			*err = xasprintf("timeline row %" PRIu64 ": hash does not match the chain",
					 ev.seq);
			sqlite3_finalize(st);
			return -1;
		}
		memcpy(prev, h, STORE_HASH_LEN);
		expect++;
		(*count)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*err = xasprintf("cannot read the timeline: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/* Binds the incident fields to ST as ?1..?23 (the order of the columns). */
static int
store_bind_incident(sqlite3_stmt *st, const Muster__Incident *inc)
{
	const Muster__Location *l = inc->location;
	int ok = 1;

#define S(i, v) ok &= sqlite3_bind_text(st, i, (v) ? (v) : "", -1, SQLITE_STATIC) == SQLITE_OK
#define I(i, v) ok &= sqlite3_bind_int64(st, i, (sqlite3_int64)(v)) == SQLITE_OK
	I(1, inc->id);
	S(2, inc->type);
	I(3, inc->state);
	I(4, inc->tier);
	S(5, l ? l->place : "");
	I(6, l && l->coords);
	if (l && l->coords) {
		ok &= sqlite3_bind_double(st, 7, l->coords->lat) == SQLITE_OK;
		ok &= sqlite3_bind_double(st, 8, l->coords->lon) == SQLITE_OK;
	} else {
		ok &= sqlite3_bind_null(st, 7) == SQLITE_OK;
		ok &= sqlite3_bind_null(st, 8) == SQLITE_OK;
	}
	S(9, l ? l->street : "");
	S(10, l ? l->community : "");
	S(11, l ? l->grid : "");
	S(12, l ? l->key_place : "");
	S(13, inc->description);
	I(14, inc->casualties);
	I(15, inc->people_affected);
	I(16, inc->hazmat);
	S(17, inc->reporter);
	I(18, inc->received_at_ms);
	I(19, inc->updated_at_ms);
	I(20, inc->closed_at_ms);
	S(21, inc->close_reason);
	I(22, inc->exercise);
	S(23, inc->opened_by);
	S(24, inc->building);
	S(25, inc->tier_reason);
	S(26, inc->owner);
	I(27, inc->linked_to);
	S(28, inc->level);
#undef S
#undef I
	return ok ? 0 : -1;
}

int
store_insert_incident(struct store *s, Muster__Incident *inc)
{
	sqlite3_stmt *st = s->st[ST_INC_INSERT];

	/* ?1 is not used by the INSERT; binding it anyway keeps one binder for both. */
	if (store_bind_incident(st, inc) != 0) {
		store_log_error(s, "bind incident");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_INC_INSERT) != 0)
		return -1;
	inc->id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
store_update_incident(struct store *s, const Muster__Incident *inc)
{
	sqlite3_stmt *st = s->st[ST_INC_UPDATE];

	if (store_bind_incident(st, inc) != 0) {
		store_log_error(s, "bind incident");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_INC_UPDATE) != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : -1;
}

/* Returns a new copy of column I as text ("" for NULL). */
static char *
store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return xstrdup(t ? (const char *)t : "");
}

/* Builds a new incident from the current row of a SELECT * FROM incidents. */
static Muster__Incident *
store_row_incident(sqlite3_stmt *st)
{
	Muster__Incident *inc = xmalloc(sizeof *inc);
	Muster__Location *l = xmalloc(sizeof *l);

	muster__incident__init(inc);
	muster__location__init(l);
	inc->location = l;
	inc->id = (uint64_t)sqlite3_column_int64(st, 0);
	inc->type = store_col_text(st, 1);
	inc->state = (Muster__IncidentState)sqlite3_column_int(st, 2);
	inc->tier = (uint32_t)sqlite3_column_int(st, 3);
	l->place = store_col_text(st, 4);
	if (sqlite3_column_int(st, 5)) {
		l->coords = xmalloc(sizeof *l->coords);
		muster__coordinates__init(l->coords);
		l->coords->lat = sqlite3_column_double(st, 6);
		l->coords->lon = sqlite3_column_double(st, 7);
	}
	l->street = store_col_text(st, 8);
	l->community = store_col_text(st, 9);
	l->grid = store_col_text(st, 10);
	l->key_place = store_col_text(st, 11);
	inc->description = store_col_text(st, 12);
	inc->casualties = sqlite3_column_int(st, 13);
	inc->people_affected = sqlite3_column_int(st, 14);
	inc->hazmat = sqlite3_column_int(st, 15) != 0;
	inc->reporter = store_col_text(st, 16);
	inc->received_at_ms = sqlite3_column_int64(st, 17);
	inc->updated_at_ms = sqlite3_column_int64(st, 18);
	inc->closed_at_ms = sqlite3_column_int64(st, 19);
	inc->close_reason = store_col_text(st, 20);
	inc->exercise = sqlite3_column_int(st, 21) != 0;
	inc->opened_by = store_col_text(st, 22);
	inc->building = store_col_text(st, 23);
	inc->tier_reason = store_col_text(st, 24);
	inc->owner = store_col_text(st, 25);
	inc->linked_to = (uint64_t)sqlite3_column_int64(st, 26);
	inc->level = store_col_text(st, 27);
	return inc;
}

void
store_free_incident(Muster__Incident *inc)
{
	Muster__Location *l;

	if (inc == NULL)
		return;
	l = inc->location;
	if (l) {
		free(l->place);
		free(l->coords);
		free(l->street);
		free(l->community);
		free(l->grid);
		free(l->key_place);
		free(l);
	}
	free(inc->type);
	free(inc->description);
	free(inc->reporter);
	free(inc->close_reason);
	free(inc->opened_by);
	free(inc->building);
	free(inc->tier_reason);
	free(inc->owner);
	free(inc->level);
	free(inc);
}

void
store_free_incidents(Muster__Incident **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_free_incident(v[i]);
	free(v);
}

int
store_get_incident(struct store *s, uint64_t id, Muster__Incident **out)
{
	sqlite3_stmt *st = s->st[ST_INC_GET];
	int rc, found = 0;

	*out = NULL;
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)id) != SQLITE_OK) {
		store_log_error(s, "bind get incident");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = store_row_incident(st);
		found = 1;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		store_log_error(s, "get incident");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? found : -1;
}

int
store_list_incidents(struct store *s, int include_closed, uint64_t after, unsigned limit,
		     Muster__Incident ***out, size_t *n, int *more)
{
	sqlite3_stmt *st = s->st[include_closed ? ST_INC_LIST_ALL : ST_INC_LIST];
	Muster__Incident **v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	*more = 0;
	/* One row more than asked tells whether there are more. */
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)after) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit + 1) != SQLITE_OK) {
		store_log_error(s, "bind list incidents");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == limit) {
			*more = 1;
			continue;
		}
		v = xrealloc(v, (k + 1) * sizeof *v);
		v[k++] = store_row_incident(st);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "list incidents");
		store_free_incidents(v, k);
		return -1;
	}
	*out = v;
	*n = k;
	return 0;
}

int
store_get_agent_seq(struct store *s, const char *agent, uint64_t *last)
{
	sqlite3_stmt *st = s->st[ST_AGENT_SEQ_GET];
	int rc;

	*last = 0;
	if (sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*last = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		store_log_error(s, "get agent seq");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_set_agent_seq(struct store *s, const char *agent, uint64_t seq)
{
	sqlite3_stmt *st = s->st[ST_AGENT_SEQ_SET];

	if (sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq) != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return -1;
	}
	return store_step_done(s, ST_AGENT_SEQ_SET);
}

int
store_put_input(struct store *s, int64_t wall_ms, int socket, const char *identity,
		const void *body, size_t len)
{
	sqlite3_stmt *st = s->st[ST_INPUT_PUT];

	if (sqlite3_bind_int64(st, 1, wall_ms) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, socket) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, identity, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (body ? sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC)
		  : sqlite3_bind_null(st, 4)) != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return -1;
	}
	return store_step_done(s, ST_INPUT_PUT);
}

int
store_order_by_slot(struct store *s, uint64_t incident, const char *slot, int k, uint64_t *id,
		    char **agent)
{
	sqlite3_stmt *st = s->st[ST_ORDER_BY_SLOT];
	int rc;

	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)incident) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, slot, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, k - 1) != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(st, 0);
		*agent = xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_put_unit(struct store *s, const struct unit *u)
{
	sqlite3_stmt *st = s->st[ST_UNIT_PUT];

	if (sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, (int)u->status) != SQLITE_OK ||
	    sqlite3_bind_double(st, 3, u->lat) != SQLITE_OK ||
	    sqlite3_bind_double(st, 4, u->lon) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, u->last_seen_ms) != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return -1;
	}
	return store_step_done(s, ST_UNIT_PUT);
}

int
store_load_units(struct store *s, struct roster *r)
{
	sqlite3_stmt *st = s->st[ST_UNIT_GET];
	size_t i;
	int rc;

	for (i = 0; i < r->n_units; i++) {
		struct unit *u = &r->units[i];

		if (sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC) != SQLITE_OK)
			return -1;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			u->status = (enum unit_status)sqlite3_column_int(st, 0);
			u->lat = sqlite3_column_double(st, 1);
			u->lon = sqlite3_column_double(st, 2);
			u->last_seen_ms = sqlite3_column_int64(st, 3);
			rc = SQLITE_DONE;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE) {
			store_log_error(s, "load units");
			return -1;
		}
	}
	return 0;
}

int
store_checkpoint(struct store *s)
{
	int log_frames = 0, done = 0;

	if (s->in_batch)
		return 0;
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
				      &done) != SQLITE_OK) {
		store_log_error(s, "checkpoint");
		return -1;
	}
	s->wal_pages = 0;
	return 0;
}

int
store_wal_pages(const struct store *s)
{
	return s->wal_pages;
}

/* Binds O to ST as ?1..?29 (the order of the orders table's columns). */
static int
store_bind_order(sqlite3_stmt *st, const struct order *o)
{
	int ok = 1;

#define S(i, v) ok &= sqlite3_bind_text(st, i, (v) ? (v) : "", -1, SQLITE_STATIC) == SQLITE_OK
#define I(i, v) ok &= sqlite3_bind_int64(st, i, (sqlite3_int64)(v)) == SQLITE_OK
	I(1, o->id);
	I(2, o->incident_id);
	I(3, o->what);
	S(4, o->member_id);
	S(5, o->agent);
	S(6, o->slot);
	S(7, o->group);
	S(8, o->role);
	S(9, o->department);
	S(10, o->kind);
	I(11, o->status);
	I(12, o->attempt);
	I(13, o->tier);
	I(14, o->exercise);
	I(15, o->delay_reason);
	ok &= sqlite3_bind_double(st, 16, o->eta_s) == SQLITE_OK;
	I(17, o->ordered_ms);
	I(18, o->sent_ms);
	I(19, o->received_ms);
	I(20, o->accepted_ms);
	I(21, o->en_route_ms);
	I(22, o->on_scene_ms);
	I(23, o->cleared_ms);
	I(24, o->ended_ms);
	I(25, o->next_send_ms);
	I(26, o->receipt_deadline_ms);
	I(27, o->accept_deadline_ms);
	I(28, o->ring_deadline_ms);
	I(29, o->ring_reported);
#undef S
#undef I
	return ok ? 0 : -1;
}

int
store_insert_order(struct store *s, struct order *o)
{
	sqlite3_stmt *st = s->st[ST_ORDER_INSERT];

	if (store_bind_order(st, o) != 0) {
		store_log_error(s, "bind order");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_ORDER_INSERT) != 0)
		return -1;
	o->id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
store_update_order(struct store *s, const struct order *o)
{
	sqlite3_stmt *st = s->st[ST_ORDER_UPDATE];

	if (store_bind_order(st, o) != 0) {
		store_log_error(s, "bind order");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_ORDER_UPDATE) != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : -1;
}

/* Builds a new order from the current row of a SELECT * FROM orders. */
static struct order *
store_row_order(sqlite3_stmt *st)
{
	struct order *o = xcalloc(1, sizeof *o);

	o->id = (uint64_t)sqlite3_column_int64(st, 0);
	o->incident_id = (uint64_t)sqlite3_column_int64(st, 1);
	o->what = (enum order_what)sqlite3_column_int(st, 2);
	o->member_id = store_col_text(st, 3);
	o->agent = store_col_text(st, 4);
	o->slot = store_col_text(st, 5);
	o->group = store_col_text(st, 6);
	o->role = store_col_text(st, 7);
	o->department = store_col_text(st, 8);
	o->kind = store_col_text(st, 9);
	o->status = sqlite3_column_int(st, 10);
	o->attempt = (uint32_t)sqlite3_column_int(st, 11);
	o->tier = sqlite3_column_int(st, 12);
	o->exercise = sqlite3_column_int(st, 13);
	o->delay_reason = sqlite3_column_int(st, 14);
	o->eta_s = sqlite3_column_double(st, 15);
	o->ordered_ms = sqlite3_column_int64(st, 16);
	o->sent_ms = sqlite3_column_int64(st, 17);
	o->received_ms = sqlite3_column_int64(st, 18);
	o->accepted_ms = sqlite3_column_int64(st, 19);
	o->en_route_ms = sqlite3_column_int64(st, 20);
	o->on_scene_ms = sqlite3_column_int64(st, 21);
	o->cleared_ms = sqlite3_column_int64(st, 22);
	o->ended_ms = sqlite3_column_int64(st, 23);
	o->next_send_ms = sqlite3_column_int64(st, 24);
	o->receipt_deadline_ms = sqlite3_column_int64(st, 25);
	o->accept_deadline_ms = sqlite3_column_int64(st, 26);
	o->ring_deadline_ms = sqlite3_column_int64(st, 27);
	o->ring_reported = sqlite3_column_int(st, 28);
	return o;
}

int
store_load_orders(struct store *s, uint64_t incident_id, struct order ***out, size_t *n)
{
	sqlite3_stmt *st = s->st[incident_id ? ST_ORDERS_OF : ST_ORDERS_ACTIVE];
	struct order **v = NULL;
	size_t k = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if (incident_id && sqlite3_bind_int64(st, 1, (sqlite3_int64)incident_id) != SQLITE_OK) {
		store_log_error(s, "bind orders");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 1) * sizeof *v);
		v[k++] = store_row_order(st);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "load orders");
		for (i = 0; i < k; i++)
			order_free(v[i]);
		free(v);
		return -1;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Binds and runs the upsert of one whistle department row. */
int
store_put_whistle_dept(struct store *s, uint64_t whistle_id, const struct whistle_dept *wd)
{
	sqlite3_stmt *st = s->st[ST_WHISTLE_DEPT_PUT];

	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)whistle_id) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, wd->department, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, wd->status) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, wd->arrived_ms) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, wd->rank ? wd->rank : "", -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 6, wd->headcount) != SQLITE_OK ||
	    sqlite3_bind_int(st, 7, wd->rank_met) != SQLITE_OK ||
	    sqlite3_bind_int(st, 8, wd->headcount_met) != SQLITE_OK) {
		store_log_error(s, "bind whistle department");
		sqlite3_clear_bindings(st);
		return -1;
	}
	return store_step_done(s, ST_WHISTLE_DEPT_PUT);
}

int
store_insert_whistle(struct store *s, struct whistle *w)
{
	sqlite3_stmt *st = s->st[ST_WHISTLE_INSERT];
	size_t i;

	if (sqlite3_bind_text(st, 1, w->place, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, w->matter, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, w->rank, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 4, w->headcount) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, w->called_by, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, w->blown_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, w->deadline_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, w->close_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 9, (sqlite3_int64)w->incident_id) != SQLITE_OK ||
	    sqlite3_bind_int(st, 10, w->exercise) != SQLITE_OK ||
	    sqlite3_bind_int(st, 11, w->closed) != SQLITE_OK) {
		store_log_error(s, "bind whistle");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_WHISTLE_INSERT) != 0)
		return -1;
	w->id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	for (i = 0; i < w->n_depts; i++)
		if (store_put_whistle_dept(s, w->id, &w->depts[i]) != 0)
			return -1;
	return 0;
}

int
store_close_whistle(struct store *s, uint64_t id)
{
	if (sqlite3_bind_int64(s->st[ST_WHISTLE_CLOSE], 1, (sqlite3_int64)id) != SQLITE_OK)
		return -1;
	return store_step_done(s, ST_WHISTLE_CLOSE);
}

int
store_get_whistle(struct store *s, uint64_t id, struct whistle **out)
{
	sqlite3_stmt *st = s->st[ST_WHISTLE_GET], *dt = s->st[ST_WHISTLE_DEPTS];
	struct whistle *w = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)id) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		w = xcalloc(1, sizeof *w);
		w->id = (uint64_t)sqlite3_column_int64(st, 0);
		w->place = store_col_text(st, 1);
		w->matter = store_col_text(st, 2);
		w->rank = store_col_text(st, 3);
		w->headcount = sqlite3_column_int(st, 4);
		w->called_by = store_col_text(st, 5);
		w->blown_ms = sqlite3_column_int64(st, 6);
		w->deadline_ms = sqlite3_column_int64(st, 7);
		w->close_ms = sqlite3_column_int64(st, 8);
		w->incident_id = (uint64_t)sqlite3_column_int64(st, 9);
		w->exercise = sqlite3_column_int(st, 10);
		w->closed = sqlite3_column_int(st, 11);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "get whistle");
		return -1;
	}
	if (w == NULL)
		return 0;
	if (sqlite3_bind_int64(dt, 1, (sqlite3_int64)id) != SQLITE_OK) {
		whistle_free(w);
		return -1;
	}
	while ((rc = sqlite3_step(dt)) == SQLITE_ROW) {
		struct whistle_dept *wd;

		w->depts = xrealloc(w->depts, (w->n_depts + 1) * sizeof *w->depts);
		wd = &w->depts[w->n_depts++];
		wd->department = store_col_text(dt, 0);
		wd->status = sqlite3_column_int(dt, 1);
		wd->arrived_ms = sqlite3_column_int64(dt, 2);
		wd->rank = store_col_text(dt, 3);
		wd->headcount = sqlite3_column_int(dt, 4);
		wd->rank_met = sqlite3_column_int(dt, 5);
		wd->headcount_met = sqlite3_column_int(dt, 6);
	}
	sqlite3_reset(dt);
	sqlite3_clear_bindings(dt);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "get whistle departments");
		whistle_free(w);
		return -1;
	}
	*out = w;
	return 1;
}

int
store_open_whistles(struct store *s, uint64_t **ids, size_t *n)
{
	sqlite3_stmt *st = s->st[ST_WHISTLES_OPEN];
	int rc;

	*ids = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (*n + 1) * sizeof **ids);
		(*ids)[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "open whistles");
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* In snapshot DST, a drill still sealed (armed or running) loses its start, its name and its
 * unplayed injects; the copy is then vacuumed, so that not even free space in it tells when
 * the drill starts or what comes (docs/drills.md). Nothing to do without such a drill. */
static int
store_snapshot_seal(sqlite3 *dst)
{
	sqlite3_stmt *st;
	int sealed = 0, rc;

	if (sqlite3_prepare_v2(dst, "SELECT count(*) FROM drills WHERE state IN (0, 1)", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		sealed = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -1;
	if (sealed == 0)
		return 0;
	return sqlite3_exec(dst,
			    "PRAGMA secure_delete = ON;"
			    "UPDATE drill_injects SET incident = x'' WHERE fired_ms = 0 AND "
			    "drill_id IN (SELECT id FROM drills WHERE state IN (0, 1));"
			    "UPDATE drills SET start_ms = 0, name = '' WHERE state IN (0, 1);"
			    "VACUUM;",
			    NULL, NULL, NULL) == SQLITE_OK
		   ? 0
		   : -1;
}

int
store_snapshot(struct store *s, const char *path, uint64_t *events, char **err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	sqlite3_stmt *st;
	int fd, rc;

	*events = 0;
	if (s->in_batch) {
		*err = xstrdup("a batch is open; snapshots are taken between commits");
		return -1;
	}
	/* Created here, exclusively: a snapshot never overwrites anything. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
	if (fd < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (close(fd) != 0 ||
	    sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: cannot open: %s", path, dst ? sqlite3_errmsg(dst) : "?");
		goto fail;
	}
	b = sqlite3_backup_init(dst, "main", s->db, "main");
	if (b == NULL) {
		*err = xasprintf("%s: backup: %s", path, sqlite3_errmsg(dst));
		goto fail;
	}
	rc = sqlite3_backup_step(b, -1);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		*err = xasprintf("%s: backup: %s", path, sqlite3_errmsg(dst));
		goto fail;
	}
	/* One self-contained file for analysts: no WAL beside it, and no sealed drill. */
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK ||
	    store_snapshot_seal(dst) != 0 ||
	    sqlite3_prepare_v2(dst, "SELECT count(*) FROM timeline", -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: %s", path, sqlite3_errmsg(dst));
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		*events = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_close(dst) != SQLITE_OK) {
		*err = xasprintf("%s: close failed", path);
		dst = NULL;
		goto fail;
	}
	return 0;
fail:
	if (dst)
		sqlite3_close(dst);
	if (unlink(path) != 0)
		log_warn("store: remove failed snapshot %s", path);
	return -1;
}

int
store_nearby_incidents(struct store *s, const char *type, int64_t since_ms, int exercise,
		       double lat_min, double lat_max, double lon_min, double lon_max,
		       void (*fn)(uint64_t id, double lat, double lon, void *arg), void *arg)
{
	sqlite3_stmt *st = s->st[ST_INC_NEARBY];
	int rc;

	if (sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, since_ms) != SQLITE_OK ||
	    sqlite3_bind_int(st, 7, exercise ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_double(st, 3, lat_min) != SQLITE_OK ||
	    sqlite3_bind_double(st, 4, lat_max) != SQLITE_OK ||
	    sqlite3_bind_double(st, 5, lon_min) != SQLITE_OK ||
	    sqlite3_bind_double(st, 6, lon_max) != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((uint64_t)sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
		   sqlite3_column_double(st, 2), arg);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "nearby incidents");
		return -1;
	}
	return 0;
}

int
store_put_drill_inject(struct store *s, uint64_t drill_id, size_t idx,
		       const struct blind_inject *in)
{
	sqlite3_stmt *st = s->st[ST_DRILL_INJECT_PUT];

	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)drill_id) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)idx) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)in->incident_id) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, in->fired_ms) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, in->error ? in->error : "", -1, SQLITE_STATIC) != SQLITE_OK) {
		store_log_error(s, "bind drill inject");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_DRILL_INJECT_PUT) != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : -1;
}

int
store_insert_drill(struct store *s, struct blind_drill *b)
{
	sqlite3_stmt *st = s->st[ST_DRILL_INSERT], *it = s->st[ST_DRILL_INJECT_INSERT];
	size_t i;

	if (sqlite3_bind_text(st, 1, b->name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, b->state) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, b->window_from_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, b->window_to_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, b->start_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, b->duration_ms) != SQLITE_OK ||
	    sqlite3_bind_text(st, 7, b->armed_by, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, b->armed_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 9, b->ended_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 10, b->fired) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 11, b->failed) != SQLITE_OK ||
	    sqlite3_bind_text(st, 12, b->reason ? b->reason : "", -1, SQLITE_STATIC) != SQLITE_OK) {
		store_log_error(s, "bind drill");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_DRILL_INSERT) != 0)
		return -1;
	b->id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	for (i = 0; i < b->n_injects; i++) {
		const struct blind_inject *in = &b->injects[i];

		/* A zero-length blob needs a non-NULL pointer, or it is bound as NULL. */
		if (sqlite3_bind_int64(it, 1, (sqlite3_int64)b->id) != SQLITE_OK ||
		    sqlite3_bind_int64(it, 2, (sqlite3_int64)i) != SQLITE_OK ||
		    sqlite3_bind_int64(it, 3, in->at_ms) != SQLITE_OK ||
		    sqlite3_bind_blob(it, 4, in->incident ? (const void *)in->incident : "",
				      (int)in->incident_len, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(it, 5, (sqlite3_int64)in->incident_id) != SQLITE_OK ||
		    sqlite3_bind_int64(it, 6, in->fired_ms) != SQLITE_OK ||
		    sqlite3_bind_text(it, 7, in->error ? in->error : "", -1, SQLITE_STATIC) !=
			SQLITE_OK) {
			store_log_error(s, "bind drill inject");
			sqlite3_clear_bindings(it);
			return -1;
		}
		if (store_step_done(s, ST_DRILL_INJECT_INSERT) != 0)
			return -1;
	}
	return 0;
}

int
store_update_drill(struct store *s, const struct blind_drill *b)
{
	sqlite3_stmt *st = s->st[ST_DRILL_UPDATE];

	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)b->id) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, b->state) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, b->ended_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, b->fired) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, b->failed) != SQLITE_OK ||
	    sqlite3_bind_text(st, 6, b->reason ? b->reason : "", -1, SQLITE_STATIC) != SQLITE_OK) {
		store_log_error(s, "bind drill");
		sqlite3_clear_bindings(st);
		return -1;
	}
	if (store_step_done(s, ST_DRILL_UPDATE) != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : -1;
}

/* Reads the injects of drill B (already read) into it. */
static int
store_get_drill_injects(struct store *s, struct blind_drill *b)
{
	sqlite3_stmt *st = s->st[ST_DRILL_INJECTS];
	int rc;

	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)b->id) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct blind_inject *in;
		int len = sqlite3_column_bytes(st, 1);

		b->injects = xrealloc(b->injects, (b->n_injects + 1) * sizeof *b->injects);
		in = &b->injects[b->n_injects++];
		memset(in, 0, sizeof *in);
		in->at_ms = sqlite3_column_int64(st, 0);
		in->incident_len = len > 0 ? (size_t)len : 0;
		in->incident = xmalloc(in->incident_len + 1);
		if (len > 0)
			memcpy(in->incident, sqlite3_column_blob(st, 1), in->incident_len);
		in->incident_id = (uint64_t)sqlite3_column_int64(st, 2);
		in->fired_ms = sqlite3_column_int64(st, 3);
		in->error = store_col_text(st, 4);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "get drill injects");
		return -1;
	}
	return 0;
}

int
store_get_drill(struct store *s, uint64_t id, struct blind_drill **out)
{
	sqlite3_stmt *st = s->st[ST_DRILL_GET];
	struct blind_drill *b = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)id) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		b = xcalloc(1, sizeof *b);
		b->id = (uint64_t)sqlite3_column_int64(st, 0);
		b->name = store_col_text(st, 1);
		b->state = sqlite3_column_int(st, 2);
		b->window_from_ms = sqlite3_column_int64(st, 3);
		b->window_to_ms = sqlite3_column_int64(st, 4);
		b->start_ms = sqlite3_column_int64(st, 5);
		b->duration_ms = sqlite3_column_int64(st, 6);
		b->armed_by = store_col_text(st, 7);
		b->armed_ms = sqlite3_column_int64(st, 8);
		b->ended_ms = sqlite3_column_int64(st, 9);
		b->fired = (uint32_t)sqlite3_column_int64(st, 10);
		b->failed = (uint32_t)sqlite3_column_int64(st, 11);
		b->reason = store_col_text(st, 12);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "get drill");
		blind_drill_free(b);
		return -1;
	}
	if (b == NULL)
		return 0;
	if (store_get_drill_injects(s, b) != 0) {
		blind_drill_free(b);
		return -1;
	}
	*out = b;
	return 1;
}

int
store_active_drills(struct store *s, uint64_t **ids, size_t *n)
{
	sqlite3_stmt *st = s->st[ST_DRILLS_ACTIVE];
	int rc;

	*ids = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (*n + 1) * sizeof **ids);
		(*ids)[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, "active drills");
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
