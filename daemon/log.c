/* log: stderr in the foreground, syslog otherwise; nothing else in muster writes to stderr. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_name = "muster";
static int log_foreground = 1;
static int log_verbose = 0;

void
log_init(const char *progname, int foreground, int verbose)
{
	log_name = progname;
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Writes one line at PRI, with ": strerror(ERR)" when ERR is not 0. */
static void
log_vwrite(int pri, int err, const char *fmt, va_list ap)
{
	char buf[2048];

	vsnprintf(buf, sizeof buf, fmt, ap);
	if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char when[32] = "";

		if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && localtime_r(&ts.tv_sec, &tm))
			strftime(when, sizeof when, "%H:%M:%S", &tm);
		if (err)
			fprintf(stderr, "%s.%03ld %s: %s: %s\n", when, ts.tv_nsec / 1000000,
				log_name, buf, strerror(err));
		else
			fprintf(stderr, "%s.%03ld %s: %s\n", when, ts.tv_nsec / 1000000, log_name,
				buf);
		fflush(stderr);
	} else if (err) {
		syslog(pri, "%s: %s", buf, strerror(err));
	} else {
		syslog(pri, "%s", buf);
	}
}

void
log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, err ? err : EIO, fmt, ap);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

static struct log_limit *log_limits; /* every limit used so far */

/* Returns the monotonic clock in ns (the real one, even on a drill's virtual clock). */
static long long
log_mono_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Ends L's window when it is over (or at once when FORCE), telling what it held back. */
static void
log_limit_roll(struct log_limit *l, long long now, int force)
{
	if (!force && l->window_start_ns != 0 &&
	    now - l->window_start_ns < (long long)LOG_LIMIT_WINDOW_S * 1000000000LL)
		return;
	if (l->held > 0)
		log_warnx("%llu more %s in %d s were not logged one by one", l->held, l->what,
			  LOG_LIMIT_WINDOW_S);
	l->window_start_ns = now;
	l->in_window = 0;
	l->held = 0;
}

void
log_warnx_limited(struct log_limit *l, const char *fmt, ...)
{
	va_list ap;

	if (!l->registered) {
		l->registered = 1;
		l->next = log_limits;
		log_limits = l;
	}
	log_limit_roll(l, log_mono_ns(), 0);
	if (l->in_window >= LOG_LIMIT_BURST) {
		l->held++;
		return;
	}
	l->in_window++;
	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_limits_flush(int all)
{
	struct log_limit *l;
	long long now = log_mono_ns();

	for (l = log_limits; l; l = l->next)
		if (l->held > 0)
			log_limit_roll(l, now, all);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose <= 0)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, err ? err : EIO, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
