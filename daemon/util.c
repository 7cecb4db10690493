/* util: allocation wrappers and clocks shared by the daemon and the clients. */
#include "util.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatalx("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	if (p == NULL)
		fatalx("out of memory (strdup)");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s, probe[1];

	va_start(ap, fmt);
	n = vsnprintf(probe, sizeof probe, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("xasprintf: bad format");
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* The virtual clock of drills (util_clock_virtual): its wall time, and where it started. */
static int util_virtual;
static int64_t util_vwall_ms, util_vstart_ms;
/* The fast clock of accelerated drills (util_clock_scaled): SPEED times real time from the
 * real monotonic instant BASE_NS, which stood at wall time START_MS. */
static double util_speed;
static int64_t util_sbase_ns, util_sstart_ms;

/* The real monotonic clock. */
static int64_t
util_real_mono_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
util_clock_scaled(int64_t wall_ms, double speed)
{
	util_speed = speed;
	util_sbase_ns = util_real_mono_ns();
	util_sstart_ms = wall_ms;
}

double
util_clock_speed(void)
{
	return util_speed > 0 ? util_speed : 1.0;
}

void
util_clock_virtual(int64_t wall_ms)
{
	util_virtual = 1;
	util_vwall_ms = util_vstart_ms = wall_ms;
}

int
util_clock_is_virtual(void)
{
	return util_virtual;
}

void
util_clock_set(int64_t wall_ms)
{
	if (util_virtual && wall_ms > util_vwall_ms)
		util_vwall_ms = wall_ms;
}

int64_t
util_wall_ms(void)
{
	struct timespec ts;

	if (util_virtual)
		return util_vwall_ms;
	if (util_speed > 0)
		return util_sstart_ms +
		       (int64_t)((double)(util_real_mono_ns() - util_sbase_ns) * util_speed / 1e6);
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ns(void)
{
	if (util_virtual) /* one second after "boot" at the virtual start */
		return (util_vwall_ms - util_vstart_ms) * 1000000 + 1000000000;
	if (util_speed > 0)
		return util_sbase_ns +
		       (int64_t)((double)(util_real_mono_ns() - util_sbase_ns) * util_speed);
	return util_real_mono_ns();
}

void
strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char probe[1];

	va_start(ap, fmt);
	n = vsnprintf(probe, sizeof probe, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
strbuf_finish(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}
