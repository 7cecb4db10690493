/* drill: `muster drill run` — a scenario against a drill daemon of its own. In virtual mode
 * the daemon runs on a virtual clock (musterd -V) and the runner plays every department's
 * agent in lock-step with it: the clock moves only when the runner asks, each step's
 * messages are answered at the virtual time they were sent, and every random draw is keyed
 * by the scenario's seed and what it decides (an order id, an inject), so that the same
 * scenario and seed give the same timeline, byte for byte. See docs/drills.md. */
#ifndef MUSTER_DRILL_H
#define MUSTER_DRILL_H

#include <stdint.h>
#include <stdio.h>

struct drill_opts {
	const char *workdir; /* where the drill's configuration and database go (created; must
				not exist); NULL: a new directory under $TMPDIR */
	const char *html;    /* write the after-action report as HTML here, or NULL */
	const char *musterd; /* the daemon to run; NULL: $MUSTERD, beside muster, or PATH */
	int has_seed;	     /* override the scenario's seed */
	uint64_t seed;
	int keep;	   /* keep the work directory (always kept when WORKDIR is given) */
	int timeout_ms;	   /* the longest wait for the daemon (default 20000) */
	int show_progress; /* a line on stderr every virtual hour */
	double speed;	   /* 0: virtual (lock-step); else accelerated real time with real
			      muster-agent --simulate processes, this many times as fast */
	int live;	   /* on the running daemon (CONF, KEY) with its real agents, in real
			      time: the injects as exercise requests, then a snapshot */
	const char *conf, *key;
};

/* Writes a drill daemon's configuration into DIR/conf: `muster init`'s sample, with the
 * district, roster and plans (and clients and keys, when it has them) of CONFIG_DIR unless it
 * is NULL; its endpoints are ipc sockets in DIR and its database DIR/DB. Returns the path of
 * its musterd.conf (new string), or NULL with *ERR a new message. */
char *drill_write_config(const char *dir, const char *config_dir, const char *db, char **err);

/* Returns the program NAME to run (new string): GIVEN, else $ENV, else from the build tree
 * (SUBDIR/NAME beside muster's directory), else beside muster, else NAME on the PATH. */
char *drill_program(const char *given, const char *env, const char *subdir, const char *name);

/* What a run found, for the caller and the tests. */
struct drill_result {
	long expectations, met;
	long incidents, orders, events;
	char head_hash[65]; /* the timeline's last hash, hex: the run's fingerprint */
	double virtual_s, real_s;
};

/* Runs the scenario at PATH (virtual mode, or accelerated with O->speed) and writes the
 * after-action report to OUT.
 * Returns 0 when the drill ran (whatever its expectations), or -1 with *ERR a new message
 * (caller frees): a bad scenario (every "file:line: what"), a daemon that would not start or
 * stopped answering. */
int drill_run(const char *path, const struct drill_opts *o, FILE *out, struct drill_result *res,
	      char **err);

#endif
