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
/* A warning that a peer can cause once per message (a bad frame, a refused key) is limited,
 * so that a flood cannot fill the disk with the log: LOG_LIMIT_BURST lines per
 * LOG_LIMIT_WINDOW_S seconds for each call site, then one line saying how many were held back.
 * Declare one per call site: static struct log_limit name = {.what = "what it is"}; */
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_WINDOW_S 10
struct log_limit {
	const char *what;	   /* e.g. "bad frames"; for the line of held-back messages */
	long long window_start_ns; /* monotonic; 0: no window yet */
	unsigned in_window;	   /* lines written in this window */
	unsigned long long held;   /* lines held back in this window */
	struct log_limit *next;	   /* the registry, for log_limits_flush */
	int registered;
};
void log_warnx_limited(struct log_limit *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Says how many lines each limit held back in a window that has ended (call it now and then,
 * so that the end of a flood is told), or in any window when ALL (at exit). */
void log_limits_flush(int all);
/* Logs with strerror and exits 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Logs and exits 1. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
