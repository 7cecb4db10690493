/* test_store: the SQLite store on a real file in a temporary directory: pragmas, the hash
 * chain and its rule, savepoints, reopening, tamper detection, the append-only triggers,
 * schema and lock refusals, incidents, agent sequence numbers and unit state. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "test.h"

#include "log.h"
#include "roster.h"
#include "blind.h"
#include "store.h"
#include "util.h"

#include <ftw.h>
#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void);

/* The temporary directory holding every database of this run. */
static char test_dir[] = "/tmp/muster-test-store-XXXXXX";

/* The connection store_open made last, caught by the auto-extension hook (or NULL). */
static sqlite3 *caught_db;

/* Auto-extension entry point: remembers each new connection so its pragmas can be read. */
static int
catch_db_cb(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
	caught_db = db;
	return SQLITE_OK;
}

/* Removes one entry of a tree walk (depth first). */
static int
rm_entry_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Returns a new path NAME inside the temporary directory; caller frees. */
static char *
db_path(const char *name)
{
	return xasprintf("%s/%s", test_dir, name);
}

/* Opens PATH with the store, reporting the error when that fails. */
static struct store *
open_store(const char *path)
{
	char *err = NULL;
	struct store *s = store_open(path, &err);

	if (s == NULL)
		log_warnx("store_open %s: %s", path, err ? err : "(no message)");
	CHECK(s != NULL);
	CHECK(err == NULL);
	free(err);
	return s;
}

/* Opens PATH with plain SQLite (no store), read-write. */
static sqlite3 *
open_plain(const char *path)
{
	sqlite3 *db = NULL;

	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	return db;
}

/* Returns the integer result of SQL on DB, or -12345 when there is none. */
static int64_t
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -12345;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Returns a new copy of the text result of SQL on DB, or NULL. */
static char *
query_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* Computes the documented chain rule by hand: SHA-256 over prev || header lines || body. */
static void
reference_hash(const uint8_t prev[32], uint64_t seq, int64_t wall_ms, int64_t mono_ns,
	       const char *actor, const char *kind, uint64_t incident_id, int exercise,
	       const char *body, uint8_t out[32])
{
	struct strbuf b = {0};
	size_t plen = 32;
	unsigned char *buf;

	strbuf_addf(&b, "%" PRIu64 "\n%" PRId64 "\n%" PRId64 "\n", seq, wall_ms, mono_ns);
	strbuf_addf(&b, "%s\n%s\n", actor, kind);
	strbuf_addf(&b, "%" PRIu64 "\n%d\n", incident_id, exercise ? 1 : 0);
	strbuf_addf(&b, "%s", body);
	buf = xmalloc(plen + b.len);
	memcpy(buf, prev, plen);
	memcpy(buf + plen, b.s, b.len);
	crypto_hash_sha256(out, buf, plen + b.len);
	free(buf);
	free(b.s);
}

/* Appends one event in its own savepoint; returns its seq (0 on failure). */
static uint64_t
append_one(struct store *s, const char *actor, const char *kind, uint64_t incident_id,
	   const char *body, uint8_t hash_out[32])
{
	struct tl_event ev = {0};

	ev.wall_ms = 1700000000000 + 17;
	ev.mono_ns = 123456789;
	ev.actor = actor;
	ev.kind = kind;
	ev.incident_id = incident_id;
	ev.exercise = (incident_id % 2) == 1;
	ev.body = body;
	CHECK(store_savepoint(s) == 0);
	CHECK(store_in_batch(s) == 1);
	if (store_append(s, &ev) != 0) {
		CHECK(0);
		store_rollback_to(s);
		return 0;
	}
	CHECK(store_release(s) == 0);
	if (hash_out != NULL)
		memcpy(hash_out, ev.hash, 32);
	return ev.seq;
}

/* Checks the chain of S verifies with exactly N rows. */
static void
expect_chain(struct store *s, uint64_t n)
{
	uint64_t count = 999;
	char *err = NULL;

	CHECK(store_verify_chain(s, &count, &err) == 0);
	if (err != NULL)
		log_warnx("verify: %s", err);
	CHECK(err == NULL);
	CHECK(count == n);
	free(err);
}

/* A new database gets WAL, synchronous FULL, an exclusive lock and schema version 1. */
static void
test_open_pragmas(void)
{
	char *path = db_path("pragmas.db"), *mode;
	struct store *s;
	sqlite3 *db;

	caught_db = NULL;
	CHECK(sqlite3_auto_extension((void (*)(void))catch_db_cb) == SQLITE_OK);
	s = open_store(path);
	sqlite3_cancel_auto_extension((void (*)(void))catch_db_cb);
	CHECK(caught_db != NULL);
	if (s != NULL && caught_db != NULL) {
		/* synchronous and locking_mode belong to the connection: read them on the
		 * store's own connection while it is open. */
		CHECK(query_int(caught_db, "PRAGMA synchronous") == 2);
		mode = query_text(caught_db, "PRAGMA journal_mode");
		CHECK_STR(mode, "wal");
		free(mode);
		mode = query_text(caught_db, "PRAGMA locking_mode");
		CHECK_STR(mode, "exclusive");
		free(mode);
		CHECK(query_int(caught_db, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	}
	store_close(s);
	caught_db = NULL;
	/* The persistent settings, seen from an independent connection after close. */
	db = open_plain(path);
	mode = query_text(db, "PRAGMA journal_mode");
	CHECK_STR(mode, "wal");
	free(mode);
	CHECK(query_int(db, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'") == 2);
	CHECK(query_int(db, "SELECT count(*) FROM timeline") == 0);
	sqlite3_close(db);
	free(path);
}

/* Appends get 1..n, each hash follows the documented rule, and the chain verifies. */
static void
test_chain(void)
{
	static const char *const bodies[] = {"{\"a\":1}", "{}", "{\"note\":\"\xe6\xb6\x88\"}", "",
					     "{\"z\":[1,2,3]}"};
	char *path = db_path("chain.db");
	struct store *s = open_store(path);
	uint8_t prev[32] = {0}, got[32], want[32];
	uint64_t i, n = sizeof bodies / sizeof bodies[0];
	sqlite3 *db;
	sqlite3_stmt *st = NULL;

	if (s == NULL) {
		free(path);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t seq = append_one(s, "operator:test", "incident.opened", i, bodies[i], got);

		CHECK(seq == i + 1);
		reference_hash(prev, i + 1, 1700000000000 + 17, 123456789, "operator:test",
			       "incident.opened", i, (i % 2) == 1, bodies[i], want);
		CHECK(memcmp(got, want, 32) == 0);
		memcpy(prev, want, 32);
	}
	CHECK(store_commit(s) == 0);
	CHECK(store_in_batch(s) == 0);
	expect_chain(s, n);
	store_close(s);
	/* The stored rows carry the same hashes and the columns as given. */
	db = open_plain(path);
	CHECK(query_int(db, "SELECT count(*) FROM timeline") == (int64_t)n);
	CHECK(query_int(db, "SELECT exercise FROM timeline WHERE seq = 2") == 1);
	CHECK(query_int(db, "SELECT incident_id FROM timeline WHERE seq = 5") == 4);
	CHECK(sqlite3_prepare_v2(db, "SELECT hash FROM timeline WHERE seq = ?1", -1, &st, NULL) ==
	      SQLITE_OK);
	memset(prev, 0, sizeof prev);
	for (i = 0; st != NULL && i < n; i++) {
		reference_hash(prev, i + 1, 1700000000000 + 17, 123456789, "operator:test",
			       "incident.opened", i, (i % 2) == 1, bodies[i], want);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(i + 1));
		CHECK(sqlite3_step(st) == SQLITE_ROW);
		CHECK(sqlite3_column_bytes(st, 0) == 32);
		CHECK(sqlite3_column_bytes(st, 0) == 32 &&
		      memcmp(sqlite3_column_blob(st, 0), want, 32) == 0);
		sqlite3_reset(st);
		memcpy(prev, want, 32);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
}

/* store_hash_event itself follows the rule, for a short and for a very long header. */
static void
test_hash_rule(void)
{
	uint8_t prev[32], got[32], want[32];
	struct tl_event ev = {0};
	char *long_actor = xmalloc(2001);
	size_t i;

	for (i = 0; i < 32; i++)
		prev[i] = (uint8_t)(i * 7 + 1);
	ev.seq = 42;
	ev.wall_ms = -5;
	ev.mono_ns = INT64_MAX;
	ev.actor = "musterd";
	ev.kind = "order.sent";
	ev.incident_id = UINT64_MAX;
	ev.exercise = 7; /* any non-zero is hashed as 1 */
	ev.body = "{\"x\":true}";
	store_hash_event(prev, &ev, got);
	reference_hash(prev, 42, -5, INT64_MAX, "musterd", "order.sent", UINT64_MAX, 1,
		       "{\"x\":true}", want);
	CHECK(memcmp(got, want, 32) == 0);
	/* A different previous hash gives a different result. */
	prev[0] ^= 1;
	store_hash_event(prev, &ev, got);
	CHECK(memcmp(got, want, 32) != 0);
	/* Long enough that the header does not fit the fixed buffer. */
	memset(long_actor, 'a', 2000);
	long_actor[2000] = '\0';
	ev.actor = long_actor;
	ev.exercise = 0;
	store_hash_event(prev, &ev, got);
	reference_hash(prev, 42, -5, INT64_MAX, long_actor, "order.sent", UINT64_MAX, 0,
		       "{\"x\":true}", want);
	CHECK(memcmp(got, want, 32) == 0);
	free(long_actor);
}

/* A rolled-back append is gone: the next one reuses its seq, and the chain verifies. */
static void
test_rollback(void)
{
	char *path = db_path("rollback.db");
	struct store *s = open_store(path);
	struct tl_event ev = {0};
	char *body;
	sqlite3 *db;

	if (s == NULL) {
		free(path);
		return;
	}
	CHECK(append_one(s, "a", "k", 0, "{\"n\":1}", NULL) == 1);
	CHECK(append_one(s, "a", "k", 0, "{\"n\":2}", NULL) == 2);
	/* A failing request in the same batch. */
	ev.actor = "a";
	ev.kind = "k";
	ev.body = "{\"n\":\"undone\"}";
	CHECK(store_savepoint(s) == 0);
	CHECK(store_append(s, &ev) == 0);
	CHECK(ev.seq == 3);
	store_rollback_to(s);
	CHECK(store_in_batch(s) == 1);
	/* The earlier work of the batch survives; the next append takes 3 again. */
	CHECK(append_one(s, "a", "k", 0, "{\"n\":3}", NULL) == 3);
	CHECK(store_commit(s) == 0);
	expect_chain(s, 3);
	/* A rollback of a whole savepoint with two appends, then commit of nothing new. */
	CHECK(store_savepoint(s) == 0);
	CHECK(store_append(s, &ev) == 0 && ev.seq == 4);
	CHECK(store_append(s, &ev) == 0 && ev.seq == 5);
	store_rollback_to(s);
	CHECK(store_commit(s) == 0);
	expect_chain(s, 3);
	CHECK(append_one(s, "a", "k", 0, "{\"n\":4}", NULL) == 4);
	CHECK(store_commit(s) == 0);
	expect_chain(s, 4);
	store_close(s);
	db = open_plain(path);
	body = query_text(
	    db, "SELECT group_concat(body, '|') FROM (SELECT body FROM timeline ORDER BY seq)");
	CHECK_STR(body, "{\"n\":1}|{\"n\":2}|{\"n\":3}|{\"n\":4}");
	free(body);
	sqlite3_close(db);
	free(path);
}

/* Uncommitted work is rolled back by store_close; committed work and the head survive. */
static void
test_reopen(void)
{
	char *path = db_path("reopen.db");
	struct store *s = open_store(path);
	uint8_t h2[32], h3[32], want[32];

	if (s == NULL) {
		free(path);
		return;
	}
	CHECK(append_one(s, "a", "k", 0, "{\"n\":1}", NULL) == 1);
	CHECK(append_one(s, "a", "k", 0, "{\"n\":2}", h2) == 2);
	CHECK(store_commit(s) == 0);
	/* Left uncommitted: lost on close. */
	CHECK(append_one(s, "a", "k", 0, "{\"lost\":1}", NULL) == 3);
	store_close(s);
	s = open_store(path);
	if (s == NULL) {
		free(path);
		return;
	}
	expect_chain(s, 2);
	/* The head (seq and hash) continues from the last committed row. */
	CHECK(append_one(s, "b", "k2", 9, "{\"n\":3}", h3) == 3);
	reference_hash(h2, 3, 1700000000000 + 17, 123456789, "b", "k2", 9, 1, "{\"n\":3}", want);
	CHECK(memcmp(h3, want, 32) == 0);
	CHECK(store_commit(s) == 0);
	expect_chain(s, 3);
	store_close(s);
	free(path);
}

/* UPDATE and DELETE on the timeline are refused; a changed body is found by seq. */
static void
test_tamper(void)
{
	char *path = db_path("tamper.db"), *err = NULL, *msg = NULL;
	struct store *s = open_store(path);
	uint64_t i, count = 0;
	sqlite3 *db;

	if (s == NULL) {
		free(path);
		return;
	}
	for (i = 1; i <= 5; i++)
		CHECK(append_one(s, "a", "k", i, "{\"ok\":true}", NULL) == i);
	CHECK(store_commit(s) == 0);
	store_close(s);

	db = open_plain(path);
	CHECK(sqlite3_exec(db, "UPDATE timeline SET body = 'x' WHERE seq = 3", NULL, NULL, &msg) ==
	      SQLITE_CONSTRAINT);
	CHECK(msg != NULL && strstr(msg, "append-only") != NULL);
	sqlite3_free(msg);
	msg = NULL;
	CHECK(sqlite3_exec(db, "DELETE FROM timeline WHERE seq = 5", NULL, NULL, &msg) ==
	      SQLITE_CONSTRAINT);
	CHECK(msg != NULL && strstr(msg, "append-only") != NULL);
	sqlite3_free(msg);
	msg = NULL;
	CHECK(query_int(db, "SELECT count(*) FROM timeline") == 5);
	CHECK(query_int(db, "SELECT count(*) FROM timeline WHERE body = 'x'") == 0);
	/* Someone with write access to the file drops the trigger and edits row 3. */
	CHECK(sqlite3_exec(db, "DROP TRIGGER timeline_no_update", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE timeline SET body = '{\"ok\":false}' WHERE seq = 3", NULL,
			   NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_changes(db) == 1);
	sqlite3_close(db);

	s = open_store(path);
	if (s != NULL) {
		CHECK(store_verify_chain(s, &count, &err) == -1);
		CHECK(err != NULL && strstr(err, "row 3:") != NULL);
		CHECK(err != NULL && strstr(err, "hash") != NULL);
		CHECK(count == 2);
		free(err);
		store_close(s);
	}
	free(path);

	/* A deleted row leaves a gap, named at the row after it. */
	path = db_path("gap.db");
	s = open_store(path);
	if (s == NULL) {
		free(path);
		return;
	}
	for (i = 1; i <= 3; i++)
		CHECK(append_one(s, "a", "k", i, "{}", NULL) == i);
	CHECK(store_commit(s) == 0);
	store_close(s);
	db = open_plain(path);
	CHECK(sqlite3_exec(db,
			   "DROP TRIGGER timeline_no_delete; DELETE FROM timeline WHERE seq = 2",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	s = open_store(path);
	if (s != NULL) {
		err = NULL;
		CHECK(store_verify_chain(s, &count, &err) == -1);
		CHECK(err != NULL && strstr(err, "row 3:") != NULL);
		CHECK(err != NULL && strstr(err, "sequence number 2") != NULL);
		CHECK(count == 1);
		free(err);
		store_close(s);
	}
	free(path);
}

/* A database from a newer musterd is refused, and so is a second opener of one file. */
static void
test_refusals(void)
{
	char *path = db_path("future.db"), *err = NULL;
	struct store *s, *s2;
	sqlite3 *db = NULL;

	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ==
	      SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE future(x); PRAGMA user_version = 99;", NULL, NULL,
			   NULL) == SQLITE_OK);
	sqlite3_close(db);
	s = store_open(path, &err);
	CHECK(s == NULL);
	CHECK(err != NULL && strstr(err, "newer") != NULL);
	CHECK(err != NULL && strstr(err, "version 99") != NULL);
	free(err);
	err = NULL;
	store_close(s);
	/* The file was not touched beyond that. */
	db = open_plain(path);
	CHECK(query_int(db, "PRAGMA user_version") == 99);
	CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'timeline'") == 0);
	sqlite3_close(db);
	free(path);

	/* Exclusive lock: a fresh database, then the same file after reopening. */
	path = db_path("locked.db");
	s = open_store(path);
	s2 = store_open(path, &err);
	CHECK(s2 == NULL);
	CHECK(err != NULL);
	free(err);
	err = NULL;
	store_close(s2);
	store_close(s);
	s = open_store(path);
	s2 = store_open(path, &err);
	CHECK(s2 == NULL);
	CHECK(err != NULL);
	free(err);
	err = NULL;
	store_close(s2);
	/* The first store still works. */
	if (s != NULL) {
		CHECK(append_one(s, "a", "k", 0, "{}", NULL) == 1);
		CHECK(store_commit(s) == 0);
		expect_chain(s, 1);
	}
	store_close(s);
	/* Once closed, the file opens again. */
	s = open_store(path);
	if (s != NULL)
		expect_chain(s, 1);
	store_close(s);
	free(path);
}

/* Fills INC with test values; COORDS says whether the location has coordinates. */
static void
fill_incident(Muster__Incident *inc, Muster__Location *l, Muster__Coordinates *c, const char *type,
	      int coords)
{
	muster__incident__init(inc);
	muster__location__init(l);
	muster__coordinates__init(c);
	c->lat = 30.0812345;
	c->lon = 120.0456789;
	l->place = "s01-c01";
	l->coords = coords ? c : NULL;
	l->street = "North Street";
	l->community = "Lakeside";
	l->grid = "s01-c01-g1";
	l->key_place = "";
	inc->location = l;
	inc->type = (char *)type;
	inc->state = MUSTER__INCIDENT_STATE__INCIDENT_OPEN;
	inc->tier = 3;
	inc->description = "charging shed fire";
	inc->casualties = 1;
	inc->people_affected = 12;
	inc->hazmat = 1;
	inc->reporter = "grid-worker-7";
	inc->received_at_ms = 1700000000123;
	inc->updated_at_ms = 1700000000456;
	inc->closed_at_ms = 0;
	inc->close_reason = "";
	inc->exercise = 1;
	inc->opened_by = "operator:test";
}

/* Checks that GOT has every field of WANT. */
static void
expect_incident(const Muster__Incident *got, const Muster__Incident *want)
{
	const Muster__Location *gl, *wl = want->location;

	CHECK(got->id == want->id);
	CHECK_STR(got->type, want->type);
	CHECK(got->state == want->state);
	CHECK(got->tier == want->tier);
	CHECK_STR(got->description, want->description);
	CHECK(got->casualties == want->casualties);
	CHECK(got->people_affected == want->people_affected);
	CHECK(got->hazmat == want->hazmat);
	CHECK_STR(got->reporter, want->reporter);
	CHECK(got->received_at_ms == want->received_at_ms);
	CHECK(got->updated_at_ms == want->updated_at_ms);
	CHECK(got->closed_at_ms == want->closed_at_ms);
	CHECK_STR(got->close_reason, want->close_reason);
	CHECK(got->exercise == want->exercise);
	CHECK_STR(got->opened_by, want->opened_by);
	gl = got->location;
	CHECK(gl != NULL);
	if (gl == NULL)
		return;
	CHECK_STR(gl->place, wl->place);
	CHECK_STR(gl->street, wl->street);
	CHECK_STR(gl->community, wl->community);
	CHECK_STR(gl->grid, wl->grid);
	CHECK_STR(gl->key_place, wl->key_place);
	CHECK((gl->coords != NULL) == (wl->coords != NULL));
	if (gl->coords != NULL && wl->coords != NULL) {
		CHECK(gl->coords->lat == wl->coords->lat);
		CHECK(gl->coords->lon == wl->coords->lon);
	}
}

/* Incidents: insert assigns ids, get round-trips, update, list with paging, missing ids. */
static void
test_incidents(void)
{
	char *path = db_path("incidents.db");
	struct store *s = open_store(path);
	Muster__Incident a, b, c, *got = NULL, **v = NULL;
	Muster__Location la, lb, lc;
	Muster__Coordinates ca, cb, cc;
	size_t n = 0;
	int more = -1;

	if (s == NULL) {
		free(path);
		return;
	}
	fill_incident(&a, &la, &ca, "fire.ebike", 1);
	fill_incident(&b, &lb, &cb, "attack.knife", 0);
	b.hazmat = 0;
	b.exercise = 0;
	b.casualties = 0;
	fill_incident(&c, &lc, &cc, "slope.collapse", 1);
	cc.lat = -0.5;
	cc.lon = -179.25;
	CHECK(store_insert_incident(s, &a) == 0);
	CHECK(store_insert_incident(s, &b) == 0);
	CHECK(store_insert_incident(s, &c) == 0);
	CHECK(a.id == 1 && b.id == 2 && c.id == 3);

	CHECK(store_get_incident(s, 1, &got) == 1);
	if (got != NULL)
		expect_incident(got, &a);
	store_free_incident(got);
	CHECK(store_get_incident(s, 2, &got) == 1);
	if (got != NULL) {
		expect_incident(got, &b);
		CHECK(got->location != NULL && got->location->coords == NULL);
	}
	store_free_incident(got);
	CHECK(store_get_incident(s, 3, &got) == 1);
	if (got != NULL)
		expect_incident(got, &c);
	store_free_incident(got);
	got = (Muster__Incident *)&a; /* must be reset to NULL */
	CHECK(store_get_incident(s, 99, &got) == 0);
	CHECK(got == NULL);

	/* Close b, change a's coordinates to none and its text. */
	b.state = MUSTER__INCIDENT_STATE__INCIDENT_CLOSED;
	b.closed_at_ms = 1700000009999;
	b.close_reason = "resolved on scene";
	CHECK(store_update_incident(s, &b) == 0);
	la.coords = NULL;
	a.description = "fire out, shed damaged";
	a.casualties = 2;
	CHECK(store_update_incident(s, &a) == 0);
	CHECK(store_get_incident(s, 1, &got) == 1);
	if (got != NULL)
		expect_incident(got, &a);
	store_free_incident(got);
	CHECK(store_get_incident(s, 2, &got) == 1);
	if (got != NULL)
		expect_incident(got, &b);
	store_free_incident(got);
	/* Updating a missing id is an error. */
	c.id = 77;
	CHECK(store_update_incident(s, &c) == -1);
	c.id = 3;

	/* Open only: 1 and 3. */
	CHECK(store_list_incidents(s, 0, 0, 10, &v, &n, &more) == 0);
	CHECK(n == 2 && more == 0);
	if (n == 2)
		CHECK(v[0]->id == 1 && v[1]->id == 3);
	store_free_incidents(v, n);
	/* All: 1, 2, 3. */
	CHECK(store_list_incidents(s, 1, 0, 10, &v, &n, &more) == 0);
	CHECK(n == 3 && more == 0);
	if (n == 3) {
		CHECK(v[0]->id == 1 && v[1]->id == 2 && v[2]->id == 3);
		expect_incident(v[1], &b);
	}
	store_free_incidents(v, n);
	/* Paging: two at a time, then after 2. */
	CHECK(store_list_incidents(s, 1, 0, 2, &v, &n, &more) == 0);
	CHECK(n == 2 && more == 1);
	if (n == 2)
		CHECK(v[0]->id == 1 && v[1]->id == 2);
	store_free_incidents(v, n);
	CHECK(store_list_incidents(s, 1, 2, 2, &v, &n, &more) == 0);
	CHECK(n == 1 && more == 0);
	if (n == 1)
		CHECK(v[0]->id == 3);
	store_free_incidents(v, n);
	/* Exactly the limit: no more. */
	CHECK(store_list_incidents(s, 0, 0, 2, &v, &n, &more) == 0);
	CHECK(n == 2 && more == 0);
	store_free_incidents(v, n);
	CHECK(store_list_incidents(s, 0, 1, 1, &v, &n, &more) == 0);
	CHECK(n == 1 && more == 0);
	if (n == 1)
		CHECK(v[0]->id == 3);
	store_free_incidents(v, n);
	CHECK(store_list_incidents(s, 1, 3, 10, &v, &n, &more) == 0);
	CHECK(n == 0 && more == 0 && v == NULL);
	store_free_incidents(v, n);

	/* Inserted in a savepoint that is rolled back: gone. */
	CHECK(store_savepoint(s) == 0);
	CHECK(store_insert_incident(s, &c) == 0);
	CHECK(c.id == 4);
	store_rollback_to(s);
	CHECK(store_commit(s) == 0);
	CHECK(store_get_incident(s, 4, &got) == 0);
	store_free_incident(got);
	store_close(s);

	/* Everything survives a reopen. */
	s = open_store(path);
	if (s != NULL) {
		c.id = 3;
		CHECK(store_get_incident(s, 3, &got) == 1);
		if (got != NULL)
			expect_incident(got, &c);
		store_free_incident(got);
		CHECK(store_list_incidents(s, 1, 0, 100, &v, &n, &more) == 0);
		CHECK(n == 3 && more == 0);
		store_free_incidents(v, n);
	}
	store_close(s);
	free(path);
}

/* Agent report sequence numbers: 0 when unknown, then the last one set, per agent. */
static void
test_agent_seq(void)
{
	char *path = db_path("agents.db");
	struct store *s = open_store(path);
	uint64_t last = 99;

	if (s == NULL) {
		free(path);
		return;
	}
	CHECK(store_get_agent_seq(s, "agent:fire", &last) == 0);
	CHECK(last == 0);
	CHECK(store_set_agent_seq(s, "agent:fire", 5) == 0);
	CHECK(store_set_agent_seq(s, "agent:police", 11) == 0);
	CHECK(store_get_agent_seq(s, "agent:fire", &last) == 0);
	CHECK(last == 5);
	CHECK(store_set_agent_seq(s, "agent:fire", 6) == 0);
	CHECK(store_get_agent_seq(s, "agent:fire", &last) == 0);
	CHECK(last == 6);
	CHECK(store_get_agent_seq(s, "agent:police", &last) == 0);
	CHECK(last == 11);
	/* In a batch that is committed, then reopened. */
	CHECK(store_savepoint(s) == 0);
	CHECK(store_set_agent_seq(s, "agent:fire", UINT64_C(1) << 40) == 0);
	CHECK(store_release(s) == 0);
	CHECK(store_commit(s) == 0);
	store_close(s);
	s = open_store(path);
	if (s != NULL) {
		CHECK(store_get_agent_seq(s, "agent:fire", &last) == 0);
		CHECK(last == UINT64_C(1) << 40);
		CHECK(store_get_agent_seq(s, "agent:nobody", &last) == 0);
		CHECK(last == 0);
	}
	store_close(s);
	free(path);
}

/* Returns a hand-built roster of N units named u0, u1, ... with no live state. */
static struct roster *
test_roster(size_t n)
{
	struct roster *r = xcalloc(1, sizeof *r);
	size_t i;

	r->units = xcalloc(n, sizeof *r->units);
	r->n_units = n;
	for (i = 0; i < n; i++) {
		r->units[i].id = xasprintf("u%zu", i);
		r->units[i].name = xasprintf("Unit %zu", i);
		r->units[i].kind = xstrdup("patrol");
		r->units[i].agent = xstrdup("agent:police");
		r->units[i].station = -1;
	}
	return r;
}

/* Unit live state is saved, updated, and restored by id; unknown units are left alone. */
static void
test_units(void)
{
	char *path = db_path("units.db");
	struct store *s = open_store(path);
	struct roster *r = test_roster(3), *r2 = test_roster(3);

	if (s == NULL)
		goto out;
	r->units[0].status = UNIT_STATUS_BUSY;
	r->units[0].lat = 30.01;
	r->units[0].lon = 120.02;
	r->units[0].last_seen_ms = 1700000000001;
	r->units[2].status = UNIT_STATUS_OUT_OF_SERVICE;
	r->units[2].lat = -33.5;
	r->units[2].lon = 151.25;
	r->units[2].last_seen_ms = 1700000000002;
	CHECK(store_put_unit(s, &r->units[0]) == 0);
	CHECK(store_put_unit(s, &r->units[2]) == 0);
	/* An update of u0 replaces its row. */
	r->units[0].status = UNIT_STATUS_AVAILABLE;
	r->units[0].lat = 30.5;
	r->units[0].last_seen_ms = 1700000000003;
	CHECK(store_put_unit(s, &r->units[0]) == 0);
	store_close(s);
	s = open_store(path);
	if (s == NULL)
		goto out;
	r2->units[1].status = UNIT_STATUS_OFF_DUTY;
	r2->units[1].lat = 1.0;
	CHECK(store_load_units(s, r2) == 0);
	CHECK(r2->units[0].status == UNIT_STATUS_AVAILABLE);
	CHECK(r2->units[0].lat == 30.5);
	CHECK(r2->units[0].lon == 120.02);
	CHECK(r2->units[0].last_seen_ms == 1700000000003);
	CHECK(r2->units[1].status == UNIT_STATUS_OFF_DUTY);
	CHECK(r2->units[1].lat == 1.0);
	CHECK(r2->units[1].last_seen_ms == 0);
	CHECK(r2->units[2].status == UNIT_STATUS_OUT_OF_SERVICE);
	CHECK(r2->units[2].lat == -33.5);
	CHECK(r2->units[2].lon == 151.25);
	CHECK(r2->units[2].last_seen_ms == 1700000000002);
	CHECK_STR(r2->units[2].id, "u2");
out:
	store_close(s);
	roster_free(r);
	roster_free(r2);
	free(path);
}

/* Double-blind drills (schema 5): a drill with its injects written and read back, its state
 * and injects changed, the list of drills armed or running, a snapshot that blanks a sealed
 * drill (start, name, unplayed injects), and blind_uniform's range beyond 32 bits. */
static void
test_drills(void)
{
	char *path = db_path("drills.db"), *snap = db_path("drills-snapshot.db"), *err = NULL;
	struct store *s = open_store(path);
	struct blind_drill b, *got = NULL;
	struct blind_inject in[2];
	uint8_t blob[3] = {1, 2, 3};
	uint64_t *ids = NULL, events = 0, big = (uint64_t)3 << 32, hi = 0;
	size_t n = 0;
	sqlite3 *db;
	int i;

	if (s == NULL)
		goto out;
	memset(&b, 0, sizeof b);
	memset(in, 0, sizeof in);
	b.name = (char *)"sealed";
	b.armed_by = (char *)"coordinator:drill";
	b.reason = (char *)"";
	b.state = BLIND_ARMED;
	b.window_from_ms = 1700000000000;
	b.window_to_ms = 1700000600000;
	b.start_ms = 1700000123456;
	b.duration_ms = 60000;
	b.armed_ms = 1699999999000;
	for (i = 0; i < 2; i++) {
		in[i].at_ms = 500 * i;
		in[i].incident = blob;
		in[i].incident_len = sizeof blob;
		in[i].error = (char *)"";
	}
	b.injects = in;
	b.n_injects = 2;
	CHECK(store_savepoint(s) == 0);
	CHECK(store_insert_drill(s, &b) == 0);
	CHECK(b.id == 1);
	CHECK(store_release(s) == 0);
	CHECK(store_commit(s) == 0);
	CHECK(store_get_drill(s, b.id, &got) == 1);
	if (got) {
		CHECK_STR(got->name, "sealed");
		CHECK_STR(got->armed_by, "coordinator:drill");
		CHECK(got->state == BLIND_ARMED && got->start_ms == b.start_ms);
		CHECK(got->window_from_ms == b.window_from_ms &&
		      got->window_to_ms == b.window_to_ms);
		CHECK(got->duration_ms == 60000 && got->armed_ms == b.armed_ms);
		CHECK(got->n_injects == 2 && got->injects[1].at_ms == 500);
		CHECK(got->injects[0].incident_len == 3 &&
		      memcmp(got->injects[0].incident, blob, 3) == 0);
		blind_drill_free(got);
	}
	got = NULL;
	CHECK(store_get_drill(s, 99, &got) == 0 && got == NULL);
	CHECK(store_active_drills(s, &ids, &n) == 0 && n == 1 && ids && ids[0] == b.id);
	free(ids);

	/* A snapshot while the drill is sealed: no start, no name, no unplayed inject. */
	CHECK(store_snapshot(s, snap, &events, &err) == 0);
	free(err);
	db = open_plain(snap);
	CHECK(query_int(db, "SELECT start_ms FROM drills") == 0);
	CHECK(query_int(db, "SELECT length(name) FROM drills") == 0);
	CHECK(query_int(db, "SELECT sum(length(incident)) FROM drill_injects") == 0);
	CHECK(query_int(db, "SELECT window_to_ms FROM drills") == b.window_to_ms);
	sqlite3_close(db);

	/* Played, then done: the live store keeps everything, and nothing is active. */
	in[0].incident_id = 7;
	in[0].fired_ms = b.start_ms;
	b.state = BLIND_RUNNING;
	b.fired = 1;
	CHECK(store_savepoint(s) == 0);
	CHECK(store_put_drill_inject(s, b.id, 0, &in[0]) == 0);
	CHECK(store_update_drill(s, &b) == 0);
	in[1].error = (char *)"INVALID_ARGUMENT: unknown place";
	in[1].fired_ms = b.start_ms + 500;
	b.state = BLIND_DONE;
	b.fired = 2;
	b.failed = 1;
	b.ended_ms = b.start_ms + 60000;
	CHECK(store_put_drill_inject(s, b.id, 1, &in[1]) == 0);
	CHECK(store_update_drill(s, &b) == 0);
	CHECK(store_put_drill_inject(s, b.id, 5, &in[1]) != 0); /* no such inject */
	CHECK(store_release(s) == 0);
	CHECK(store_commit(s) == 0);
	CHECK(store_get_drill(s, b.id, &got) == 1);
	if (got) {
		CHECK(got->state == BLIND_DONE && got->fired == 2 && got->failed == 1);
		CHECK(got->ended_ms == b.ended_ms && got->start_ms == b.start_ms);
		CHECK(got->injects[0].incident_id == 7 && got->injects[0].fired_ms == b.start_ms);
		CHECK_STR(got->injects[1].error, "INVALID_ARGUMENT: unknown place");
		blind_drill_free(got);
	}
	CHECK(store_active_drills(s, &ids, &n) == 0 && n == 0);
	free(ids);

	/* The draw: always below N, and beyond 32 bits it reaches the top third too. */
	CHECK(blind_uniform(0) == 0 && blind_uniform(1) == 0);
	for (i = 0; i < 1000; i++) {
		uint64_t v = blind_uniform(big);

		CHECK(v < big);
		hi += v >= ((uint64_t)2 << 32);
		CHECK(blind_uniform(7) < 7);
		CHECK(blind_uniform(UINT64_MAX) < UINT64_MAX);
	}
	CHECK(hi > 200 && hi < 470);
	store_close(s);
out:
	free(path);
	free(snap);
}

/* Runs the store tests in a temporary directory, removed at the end. */
/* A full database (max_page_count): SQLite rolls the whole batch back by itself, so the unit
 * kept before the failure is gone too; nothing more may be written in that batch (it would
 * commit on its own), its commit fails, and the chain stays whole. Raising the limit lets
 * the next batch commit, without reopening. */
static void
test_full_batch(void)
{
	char *path = db_path("full.db");
	struct store *s = open_store(path);
	long long pages = 0, limit;
	const char *detail = NULL;
	char big[3001];
	uint64_t seq;
	int i, failed = 0;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (i = 0; i < 3; i++)
		CHECK(append_one(s, "test", "before", 0, "{}", NULL) == (uint64_t)i + 1);
	CHECK(store_commit(s) == 0);
	limit = store_set_max_pages(s, 1, &pages);
	CHECK(pages > 1 && limit == pages); /* never below the present size */
	CHECK(store_set_max_pages(s, pages + 2, &pages) == pages + 2);
	/* Unit A fits; unit B fills the two pages left and fails. */
	CHECK(append_one(s, "test", "kept-then-lost", 0, "{}", NULL) == 4);
	CHECK(store_batch_kept(s) == 1);
	CHECK(store_savepoint(s) == 0);
	for (i = 0; i < 100 && !failed; i++) {
		struct tl_event ev = {.actor = "test", .kind = "big", .body = big};

		failed = store_append(s, &ev) != 0;
	}
	CHECK(failed);
	CHECK(store_fault(s, &detail) == STORE_FAULT_FULL);
	store_rollback_to(s);
	CHECK(store_batch_kept(s) == 0); /* A went with it */
	CHECK(store_savepoint(s) == -1); /* nothing more in this batch */
	CHECK(store_fault(s, NULL) == STORE_FAULT_FULL);
	CHECK(store_in_batch(s) == 1);
	CHECK(store_commit(s) == -1);
	CHECK(store_fault(s, NULL) == STORE_FAULT_FULL);
	CHECK(store_in_batch(s) == 0);
	expect_chain(s, 3);
	/* Space returns: no limit; the next batch commits and chains on seq 3. */
	CHECK(store_set_max_pages(s, 0, &pages) > pages);
	seq = append_one(s, "test", "after", 0, "{}", NULL);
	CHECK(seq == 4);
	CHECK(store_commit(s) == 0);
	CHECK(store_fault(s, NULL) == STORE_FAULT_NONE);
	expect_chain(s, 4);
	store_close(s);
	s = open_store(path);
	expect_chain(s, 4);
	store_close(s);
	free(path);
}

int
main(void)
{
	CHECK(sodium_init() >= 0);
	CHECK(mkdtemp(test_dir) != NULL);
	if (test_failures)
		TEST_DONE();
	RUN(test_open_pragmas);
	RUN(test_chain);
	RUN(test_hash_rule);
	RUN(test_rollback);
	RUN(test_reopen);
	RUN(test_tamper);
	RUN(test_refusals);
	RUN(test_incidents);
	RUN(test_agent_seq);
	RUN(test_units);
	RUN(test_drills);
	RUN(test_full_batch);
	CHECK(nftw(test_dir, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
	TEST_DONE();
}
