/* replay: see replay.h. One input at a time: the clock is set to its recorded time, the
 * input is handed to the daemon's own message handling (or the ticks are run), and the
 * result is committed, as a loop iteration of the live daemon would. */
#include "replay.h"
#include "bus.h"
#include "daemon.h"
#include "store.h"
#include "log.h"
#include "util.h"
#include "wire.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The last heartbeat body of each agent: a heartbeat recorded without its body (it changed
 * nothing but the units' last-seen time) is that one again. */
struct beat {
	char *identity;
	void *body;
	size_t len;
};

/* Remembers BODY as IDENTITY's last full heartbeat. */
static void
beat_keep(struct beat **v, size_t *n, const char *identity, const void *body, size_t len)
{
	size_t i;

	for (i = 0; i < *n && strcmp((*v)[i].identity, identity) != 0; i++)
		;
	if (i == *n) {
		*v = xrealloc(*v, (*n + 1) * sizeof **v);
		(*v)[i].identity = xstrdup(identity);
		(*v)[i].body = NULL;
		(*n)++;
	}
	free((*v)[i].body);
	(*v)[i].body = xmalloc(len ? len : 1);
	memcpy((*v)[i].body, body, len);
	(*v)[i].len = len;
}

/* Returns IDENTITY's last full heartbeat, or NULL. */
static const struct beat *
beat_find(const struct beat *v, size_t n, const char *identity)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].identity, identity) == 0)
			return &v[i];
	return NULL;
}

/* The last report seq the replay gave each agent. */
struct seq {
	char *identity;
	uint64_t last;
};

/* Returns the next report seq for IDENTITY: at least WANT, and above what it last had. */
static uint64_t
seq_next(struct seq **v, size_t *n, const char *identity, uint64_t want)
{
	size_t i;

	for (i = 0; i < *n && strcmp((*v)[i].identity, identity) != 0; i++)
		;
	if (i == *n) {
		*v = xrealloc(*v, (*n + 1) * sizeof **v);
		(*v)[i].identity = xstrdup(identity);
		(*v)[i].last = 0;
		(*n)++;
	}
	if (want <= (*v)[i].last)
		want = (*v)[i].last + 1;
	(*v)[i].last = want;
	return want;
}

/* Hands an agent's recorded message to D. A receipt or status report names an order of the
 * recording: it goes to the order that holds the same place in the replay (the same slot of
 * the same incident, the same turn in it), from that order's agent. With the same
 * configuration that is the same order; with another, the unit that filled the place answers
 * as the recorded one did. A report for a place the replay never filled is dropped. */
static void
replay_report(struct daemon *d, sqlite3_stmt *orig, struct seq **seqs, size_t *n_seqs,
	      const char *who, const void *body, size_t len)
{
	int code;
	const char *why;
	Envelope *e = wire_decode(body, len, &code, &why);
	uint64_t *oid = NULL, id = 0;
	char *agent = NULL;
	uint8_t *buf;
	size_t blen;

	if (e != NULL && e->body_case == MUSTER__ENVELOPE__BODY_RECEIPT)
		oid = &e->receipt->order_id;
	else if (e != NULL && e->body_case == MUSTER__ENVELOPE__BODY_STATUS)
		oid = &e->status->order_id;
	if (oid == NULL) {
		if (e != NULL)
			e->seq = seq_next(seqs, n_seqs, who, e->seq);
		buf = e ? wire_pack(e, &blen) : NULL;
		daemon_feed(d, BUS_AGENTS, who, buf ? buf : body, buf ? blen : len);
		free(buf);
		wire_free(e);
		return;
	}
	if (sqlite3_bind_int64(orig, 1, (sqlite3_int64)*oid) == SQLITE_OK &&
	    sqlite3_step(orig) == SQLITE_ROW &&
	    store_order_by_slot(d->store, (uint64_t)sqlite3_column_int64(orig, 0),
				(const char *)sqlite3_column_text(orig, 1),
				sqlite3_column_int(orig, 2), &id, &agent) == 1) {
		*oid = id;
		e->seq = seq_next(seqs, n_seqs, agent, e->seq);
		e->correlation_id = e->seq;
		buf = wire_pack(e, &blen);
		daemon_feed(d, BUS_AGENTS, agent, buf, blen);
		free(buf);
	} else {
		log_debug("replay: a report from %s on order #%llu has no place in the replay", who,
			  (unsigned long long)*oid);
	}
	sqlite3_reset(orig);
	free(agent);
	wire_free(e);
}

int
replay_run(struct daemon *d, const char *path, int grid, char **err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3_stmt *orig = NULL;
	struct beat *beats = NULL;
	struct seq *seqs = NULL;
	size_t n_beats = 0, n_seqs = 0, i;
	int64_t last_tick = 0;
	long inputs = 0, ticks = 0;
	int rc = -1, s;

	*err = NULL;
	bus_mute(d->bus);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT wall_ms, socket, identity, body FROM inputs ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: cannot read the recorded inputs: %s", path,
				 db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	/* where each recorded order was: its incident, slot and turn in the slot */
	if (sqlite3_prepare_v2(
		db,
		"SELECT o.incident_id, o.slot, (SELECT count(*) FROM orders p WHERE"
		" p.incident_id = o.incident_id AND p.slot = o.slot AND p.id <= o.id)"
		" FROM orders o WHERE o.id = ?1",
		-1, &orig, NULL) != SQLITE_OK) {
		*err =
		    xasprintf("%s: cannot read the recorded orders: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t at = sqlite3_column_int64(st, 0);
		int which = sqlite3_column_int(st, 1);
		const char *who = (const char *)sqlite3_column_text(st, 2);
		const void *body = sqlite3_column_blob(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);

		if (who == NULL)
			who = "";
		if (grid && last_tick == 0)
			last_tick = at;
		while (grid && last_tick + DAEMON_TICK_MS <= at) {
			last_tick += DAEMON_TICK_MS;
			util_clock_set(last_tick);
			daemon_tick_now(d);
			daemon_flush_now(d);
		}
		util_clock_set(at);
		if (which < 0) {
			daemon_tick_now(d);
			ticks++;
			if (grid)
				last_tick = at;
		} else {
			if (body == NULL) {
				const struct beat *b = beat_find(beats, n_beats, who);

				if (b == NULL) {
					log_warnx("replay: %s: a heartbeat without a body and none "
						  "before it; skipped",
						  who);
					continue;
				}
				body = b->body;
				len = b->len;
			} else if (which == BUS_AGENTS) {
				int code;
				const char *why;
				Envelope *e = wire_decode(body, len, &code, &why);

				if (e && e->body_case == MUSTER__ENVELOPE__BODY_HEARTBEAT)
					beat_keep(&beats, &n_beats, who, body, len);
				wire_free(e);
			}
			if (which == BUS_AGENTS && orig != NULL) {
				replay_report(d, orig, &seqs, &n_seqs, who, body, len);
			} else {
				daemon_feed(d, which, who, body, len);
			}
		}
		daemon_flush_now(d);
		inputs++;
	}
	if (s != SQLITE_DONE) {
		*err = xasprintf("%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	log_info("replay: %s: %ld inputs, %ld of them ticks", path, inputs, ticks);
	rc = 0;
out:
	(void)sqlite3_finalize(st);
	(void)sqlite3_finalize(orig);
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0) {
		*err = xasprintf("%s: cannot close", path);
		rc = -1;
	}
	for (i = 0; i < n_beats; i++) {
		free(beats[i].identity);
		free(beats[i].body);
	}
	free(beats);
	for (i = 0; i < n_seqs; i++)
		free(seqs[i].identity);
	free(seqs);
	return rc;
}
