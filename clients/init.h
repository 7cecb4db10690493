/* init: writes a complete working configuration into a directory, for `muster init`. */
#ifndef MUSTER_INIT_H
#define MUSTER_INIT_H

/* Writes into DIR (created when missing) the sample configuration (musterd.conf,
 * district.conf, roster.conf, plans.conf), a CURVE key pair for the daemon and for each
 * client (keys/musterd.key, keys/agent-<department>.key, keys/operator.key,
 * keys/coordinator.key, keys/observer.key, each with its .pub), and clients.conf enrolling
 * the clients. Refuses to overwrite any existing file unless FORCE; then nothing is written.
 * Returns 0, or -1 with *ERR a new string saying what failed (caller frees). */
int init_write(const char *dir, int force, char **err);

#endif
