/* blind: the double-blind drill commands of muster (docs/drills.md, "Double-blind drills"):
 * `drill arm SCENARIO --window FROM..TO`, `drill show ID` and `drill abort ID --reason R`. The
 * daemon side is daemon/blind.c. */
#ifndef MUSTER_CLIENTS_BLIND_H
#define MUSTER_CLIENTS_BLIND_H

/* Runs `muster drill arm|show|abort ...`: ARGV[0] is the subcommand. CONF is the daemon's
 * configuration (file or directory), KEY our key file, TIMEOUT_MS the reply timeout. Returns
 * the exit status: 0 done, 1 refused or failed, 2 bad usage. */
int blind_main(int argc, char **argv, const char *conf, const char *key, int timeout_ms);

#endif
