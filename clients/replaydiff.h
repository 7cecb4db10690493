/* replaydiff: `muster replay` — the inputs a daemon recorded are played again by a drill
 * daemon (musterd -V -Y) on the same or a changed configuration, and the decisions of the two
 * are compared (docs/drills.md, "Replay"). */
#ifndef MUSTER_REPLAYDIFF_H
#define MUSTER_REPLAYDIFF_H

#include <stdio.h>

struct replay_opts {
	const char *db;	     /* the recording: a snapshot, or a stopped daemon's database */
	const char *config;  /* the configuration directory to replay on */
	const char *workdir; /* NULL: a new directory, removed afterwards */
	int grid;	     /* also tick every 250 ms (for a changed configuration) */
};

/* What was compared. */
struct replay_result {
	long incidents, orders; /* decisions compared */
	long differences;
};

/* Replays O->db on O->config and prints the differences to OUT. Returns 0 (whatever the
 * differences), or -1 with *ERR a new message. */
int replay_compare(const struct replay_opts *o, FILE *out, struct replay_result *res, char **err);

#endif
