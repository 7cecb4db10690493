/* log: the daemon's and clients' one way to say something to a person (stderr or syslog). */
#ifndef MUSTER_LOG_H
#define MUSTER_LOG_H

#include <stdarg.h>

/* Starts logging as PROGNAME; to stderr when FOREGROUND, else to syslog. VERBOSE > 0 shows
 * debug messages. May be called again (e.g. after daemonising). */
void log_init(const char *progname, int foreground, int verbose);
/* Message with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Message as given. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs with strerror and exits 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Logs and exits 1. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
