/* replay: musterd -V START -Y INPUTS.db plays the inputs another daemon recorded (its
 * requests, and the times of its ticks that changed something) on a fresh database, on the
 * virtual clock, with every message to a peer dropped; `muster replay` then compares the
 * decisions (docs/drills.md, "Replay"). */
#ifndef MUSTER_REPLAY_H
#define MUSTER_REPLAY_H

struct daemon;

/* Plays the inputs of the database PATH into D, each at its recorded time; with GRID, the
 * ticks also run every 250 ms between them (for a changed configuration, whose deadlines the
 * recorded ticks do not cover). Returns 0, or -1 with *ERR a new message. */
int replay_run(struct daemon *d, const char *path, int grid, char **err);

#endif
