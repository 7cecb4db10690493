/* replaydiff: see replaydiff.h. A decision is an incident's tier, state, owner and link, and
 * each order: which member filled the k-th order of a slot of an incident's group. The
 * replay's database is compared with the recording's by those keys, in SQL, with the
 * recording attached read-only. */
#include "replaydiff.h"
#include "drill.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Slots of a group that one side has and the other has not: 1 only in the replay, 0 only
 * in the recording; with the slot's first member and how many orders it took. */
static const char rd_slots[] =
    "SELECT 1, b.incident_id, b.slot, (SELECT member_id FROM main.orders f WHERE"
    " f.incident_id = b.incident_id AND f.slot = b.slot ORDER BY f.id LIMIT 1), count(*)"
    " FROM main.orders b WHERE NOT EXISTS (SELECT 1 FROM orig.orders a WHERE"
    " a.incident_id = b.incident_id AND a.slot = b.slot) GROUP BY b.incident_id, b.slot"
    " UNION ALL SELECT 0, a.incident_id, a.slot, (SELECT member_id FROM orig.orders f WHERE"
    " f.incident_id = a.incident_id AND f.slot = a.slot ORDER BY f.id LIMIT 1), count(*)"
    " FROM orig.orders a WHERE NOT EXISTS (SELECT 1 FROM main.orders b WHERE"
    " b.incident_id = a.incident_id AND b.slot = a.slot) GROUP BY a.incident_id, a.slot"
    " ORDER BY 2, 3";

/* Orders keyed by (incident, slot, k-th in the slot), of the slots both sides have, where
 * the member differs or one side has no k-th order. */
static const char rd_orders[] =
    "WITH a AS (SELECT incident_id, slot, member_id, row_number() OVER (PARTITION BY"
    " incident_id, slot ORDER BY id) AS k FROM orig.orders),"
    " b AS (SELECT incident_id, slot, member_id, row_number() OVER (PARTITION BY"
    " incident_id, slot ORDER BY id) AS k FROM main.orders),"
    " both_ AS (SELECT DISTINCT a.incident_id, a.slot FROM a JOIN b"
    " ON b.incident_id = a.incident_id AND b.slot = a.slot)"
    " SELECT a.incident_id, a.slot, a.k, a.member_id, b.member_id FROM a JOIN both_ USING"
    " (incident_id, slot) LEFT JOIN b ON b.incident_id = a.incident_id AND b.slot = a.slot"
    " AND b.k = a.k WHERE b.member_id IS NOT a.member_id"
    " UNION ALL SELECT b.incident_id, b.slot, b.k, NULL, b.member_id FROM b JOIN both_ USING"
    " (incident_id, slot) LEFT JOIN a ON b.incident_id = a.incident_id AND b.slot = a.slot"
    " AND b.k = a.k WHERE a.incident_id IS NULL ORDER BY 1, 2, 3";

/* Incidents whose tier, state, owner or link differ, or that one side lacks. */
static const char rd_incidents[] =
    "SELECT a.id, a.tier, b.tier, a.state, b.state, a.owner, b.owner, a.linked_to,"
    " b.linked_to, b.id IS NULL FROM orig.incidents a LEFT JOIN main.incidents b"
    " ON b.id = a.id WHERE b.id IS NULL OR a.tier != b.tier OR a.state != b.state"
    " OR a.owner != b.owner OR a.linked_to != b.linked_to"
    " UNION ALL SELECT b.id, NULL, b.tier, NULL, b.state, NULL, b.owner, NULL, b.linked_to, 2"
    " FROM main.incidents b LEFT JOIN orig.incidents a ON a.id = b.id WHERE a.id IS NULL"
    " ORDER BY 1";

static const char *const rd_states[] = {"?", "open", "closed", "linked"};

/* Returns the name of incident state S. */
static const char *
rd_state(int s)
{
	return s >= 0 && s <= 3 ? rd_states[s] : "?";
}

/* Runs the musterd replay: -V FIRST -Y DB [-G], logging to DIR/musterd.log. */
static int
rd_run(const struct replay_opts *o, const char *dir, const char *conf, int64_t first, char **err)
{
	char *musterd = drill_program(NULL, "MUSTERD", "daemon", "musterd");
	char *log = xasprintf("%s/musterd.log", dir), start[32];
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0640), status, rc = -1;
	pid_t pid;

	snprintf(start, sizeof start, "%" PRId64, first);
	if (logfd < 0) {
		*err = xasprintf("%s: %s", log, strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		*err = xasprintf("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execlp(musterd, musterd, "-d", "-c", conf, "-V", start, "-Y", o->db,
		       o->grid ? "-G" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			*err = xasprintf("waitpid: %s", strerror(errno));
			goto out;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*err = xasprintf("the replay failed (%s exited with %d; see %s)", musterd,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1, log);
		goto out;
	}
	rc = 0;
out:
	if (logfd >= 0)
		(void)close(logfd);
	free(musterd);
	free(log);
	return rc;
}

/* Compares the replay DB with the recording and prints the differences. */
static int
rd_compare(const struct replay_opts *o, const char *db, FILE *out, struct replay_result *res,
	   char **err)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	char *uri = NULL;
	int s, rc = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
		goto sqlfail;
	uri = sqlite3_mprintf("file:%s?mode=ro", o->db);
	if (uri == NULL || sqlite3_prepare_v2(h, "ATTACH ?1 AS orig", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto sqlfail;
	(void)sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(h,
			       "SELECT (SELECT count(*) FROM orig.incidents),"
			       " (SELECT count(*) FROM orig.orders)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto sqlfail;
	res->incidents = (long)sqlite3_column_int64(st, 0);
	res->orders = (long)sqlite3_column_int64(st, 1);
	(void)sqlite3_finalize(st);
	if (sqlite3_prepare_v2(h, rd_incidents, -1, &st, NULL) != SQLITE_OK)
		goto sqlfail;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		int side = sqlite3_column_int(st, 9);

		res->differences++;
		if (side == 1) {
			fprintf(out, "  incident #%" PRId64 ": not opened in the replay\n", id);
			continue;
		}
		if (side == 2) {
			fprintf(out, "  incident #%" PRId64 ": opened only in the replay\n", id);
			continue;
		}
		fprintf(out, "  incident #%" PRId64 ":", id);
		if (sqlite3_column_int(st, 1) != sqlite3_column_int(st, 2))
			fprintf(out, " tier %d, would be %d;", sqlite3_column_int(st, 1),
				sqlite3_column_int(st, 2));
		if (sqlite3_column_int(st, 3) != sqlite3_column_int(st, 4))
			fprintf(out, " %s, would be %s;", rd_state(sqlite3_column_int(st, 3)),
				rd_state(sqlite3_column_int(st, 4)));
		if (strcmp((const char *)sqlite3_column_text(st, 5),
			   (const char *)sqlite3_column_text(st, 6)) != 0)
			fprintf(out, " owned by %s, would be %s;", sqlite3_column_text(st, 5),
				sqlite3_column_text(st, 6));
		if (sqlite3_column_int64(st, 7) != sqlite3_column_int64(st, 8))
			fprintf(out, " linked to #%lld, would be #%lld;",
				(long long)sqlite3_column_int64(st, 7),
				(long long)sqlite3_column_int64(st, 8));
		fputc('\n', out);
	}
	if (s != SQLITE_DONE)
		goto sqlfail;
	(void)sqlite3_finalize(st);
	if (sqlite3_prepare_v2(h, rd_slots, -1, &st, NULL) != SQLITE_OK)
		goto sqlfail;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_int(st, 4);

		res->differences++;
		fprintf(out, "  incident #%lld: the replay %s %s (%s %s",
			(long long)sqlite3_column_int64(st, 1),
			sqlite3_column_int(st, 0) ? "adds" : "has no", sqlite3_column_text(st, 2),
			sqlite3_column_int(st, 0) ? "would order" : "was",
			sqlite3_column_text(st, 3));
		if (n > 1)
			fprintf(
			    out, ", then %d more order%s%s", n - 1, n > 2 ? "s" : "",
			    sqlite3_column_int(st, 0)
				? ": nothing recorded answers a place the recording never had, so "
				  "its orders go unanswered and are handed on"
				: "");
		fputs(")\n", out);
	}
	if (s != SQLITE_DONE)
		goto sqlfail;
	(void)sqlite3_finalize(st);
	if (sqlite3_prepare_v2(h, rd_orders, -1, &st, NULL) != SQLITE_OK)
		goto sqlfail;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *was = (const char *)sqlite3_column_text(st, 3);
		const char *now = (const char *)sqlite3_column_text(st, 4);

		res->differences++;
		fprintf(out,
			"  incident #%lld %s, order %d: ", (long long)sqlite3_column_int64(st, 0),
			sqlite3_column_text(st, 1), sqlite3_column_int(st, 2));
		if (was && now)
			fprintf(out, "%s, would be %s\n", was, now);
		else if (was)
			fprintf(out, "%s, not ordered in the replay\n", was);
		else
			fprintf(out, "the replay would also order %s\n", now);
	}
	if (s != SQLITE_DONE)
		goto sqlfail;
	rc = 0;
	goto out;
sqlfail:
	*err = xasprintf("%s: cannot compare: %s", db, h ? sqlite3_errmsg(h) : "out of memory");
out:
	(void)sqlite3_finalize(st);
	sqlite3_free(uri);
	if (h != NULL && sqlite3_close(h) != SQLITE_OK && rc == 0) {
		*err = xasprintf("%s: cannot close", db);
		rc = -1;
	}
	return rc;
}

/* Reads the span and count of the recorded inputs. */
static int
rd_inputs(const char *path, int64_t *first, int64_t *last, long *n, char **err)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int rc = -1;

	if (stat(path, &sb) != 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT min(wall_ms), max(wall_ms), count(*) FROM inputs", -1,
			       &st, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: no recorded inputs to replay (%s): a musterd database of "
				 "schema version 6 or later, or its snapshot, is needed",
				 path, h ? sqlite3_errmsg(h) : "out of memory");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 2) == 0) {
		*err = xasprintf("%s: no recorded inputs to replay", path);
		goto out;
	}
	*first = sqlite3_column_int64(st, 0);
	*last = sqlite3_column_int64(st, 1);
	*n = (long)sqlite3_column_int64(st, 2);
	rc = 0;
out:
	(void)sqlite3_finalize(st);
	(void)sqlite3_close(h);
	return rc;
}

int
replay_compare(const struct replay_opts *o, FILE *out, struct replay_result *res, char **err)
{
	char *dir = NULL, *conf = NULL, *db = NULL;
	int64_t first = 0, last = 0;
	long n = 0;
	int rc = -1;

	*err = NULL;
	memset(res, 0, sizeof *res);
	if (rd_inputs(o->db, &first, &last, &n, err) != 0)
		return -1;
	if (o->workdir) {
		if (mkdir(o->workdir, 0750) != 0) {
			*err = xasprintf("%s: %s (the work directory must be new)", o->workdir,
					 strerror(errno));
			return -1;
		}
		dir = xstrdup(o->workdir);
	} else {
		const char *t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

		dir = xasprintf("%s/muster-replay-XXXXXX", t && *t ? t : "/tmp");
		if (mkdtemp(dir) == NULL) {
			*err = xasprintf("%s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	if ((conf = drill_write_config(dir, o->config, "replay.db", err)) == NULL ||
	    rd_run(o, dir, conf, first - 1000, err) != 0)
		goto out;
	db = xasprintf("%s/replay.db", dir);
	fprintf(out, "replay of %s (%ld inputs over %.1f min) on %s%s\n", o->db, n,
		(double)(last - first) / 60000.0, o->config,
		o->grid ? ", ticking every 250 ms" : "");
	if (rd_compare(o, db, out, res, err) != 0)
		goto out;
	if (res->differences == 0)
		fprintf(out, "the same decisions: %ld incidents, %ld orders\n", res->incidents,
			res->orders);
	else
		fprintf(out, "%ld differences (of %ld incidents and %ld orders recorded)\n",
			res->differences, res->incidents, res->orders);
	rc = 0;
out:
	if (o->workdir == NULL && dir != NULL && (rc == 0)) {
		char *cmd = xasprintf("rm -rf -- '%s'", dir);

		if (system(cmd) != 0)
			fprintf(stderr, "muster: could not remove %s\n", dir);
		free(cmd);
	} else if (dir != NULL && rc != 0) {
		fprintf(stderr, "muster: the replay's files are in %s\n", dir);
	}
	free(dir);
	free(conf);
	free(db);
	return rc;
}
