/* util: allocation that never returns NULL, clocks, and small string helpers. */
#ifndef MUSTER_UTIL_H
#define MUSTER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Out of memory is fatal here and nowhere else. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Returns a new copy of S (NULL stays NULL); caller frees. */
char *xstrdup(const char *s);
/* Returns a new formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock time in milliseconds since the epoch (the virtual clock's, when there is one). */
int64_t util_wall_ms(void);
/* Monotonic time in nanoseconds (CLOCK_MONOTONIC; on the virtual clock, its time since the
 * start plus one second). */
int64_t util_mono_ns(void);
/* From now on the clock is virtual (drills, musterd -V): it stands at WALL_MS and moves only
 * by util_clock_set. */
void util_clock_virtual(int64_t wall_ms);
/* Returns 1 when the clock is virtual. */
int util_clock_is_virtual(void);
/* Moves the virtual clock forward to WALL_MS (never back; nothing when not virtual). */
void util_clock_set(int64_t wall_ms);
/* From now on the clock runs SPEED times as fast as real time from wall time WALL_MS
 * (accelerated drills, musterd -S); both clocks, wall and monotonic, are scaled. */
void util_clock_scaled(int64_t wall_ms, double speed);
/* Returns how much faster than real time the clock runs (1 unless scaled). */
double util_clock_speed(void);

/* A growable string; zero-initialise, then append. */
struct strbuf {
	char *s;    /* NUL-terminated, NULL while empty */
	size_t len; /* bytes used, without the NUL */
	size_t cap;
};
void strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_finish(struct strbuf *b);

#endif
