/* bench: what the benchmarks share: a deterministic random number generator, percentiles and
 * small helpers.
 * Benchmarks print figures and never fail a build. */
#ifndef MUSTER_BENCH_H
#define MUSTER_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A deterministic random number generator (splitmix64). */
static inline uint64_t
bench_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Returns a uniform double in [0, 1). */
static inline double
bench_rng_unit(uint64_t *s)
{
	return (double)(bench_rng_next(s) >> 11) / 9007199254740992.0;
}

/* Returns a standard normal deviate (Box-Muller). */
static inline double
bench_rng_normal(uint64_t *s)
{
	double u = bench_rng_unit(s), v = bench_rng_unit(s);

	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

/* Orders int64 values ascending. */
static inline int
bench_cmp_i64_cb(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts the N timings in V (ns) and returns the percentile P (0..100) in microseconds: the
 * value at index floor(P/100 * N), the last for P = 100. */
static inline double
bench_percentile_us(int64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, bench_cmp_i64_cb);
	i = (size_t)(p / 100.0 * (double)n);
	if (i >= n)
		i = n - 1;
	return (double)v[i] / 1e3;
}

/* Returns a uniform integer in [lo, hi]. */
static inline int64_t
bench_uniform(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(bench_rng_next(s) % (uint64_t)(hi - lo + 1));
}

/* Compares doubles for qsort. */
static inline int
bench_cmp_double_cb(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Returns the value of environment variable NAME, or DEF when unset or empty. */
static inline const char *
bench_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

/* Returns the seconds between two monotonic readings. */
static inline double
bench_s(int64_t from_ns, int64_t to_ns)
{
	return (double)(to_ns - from_ns) / 1e9;
}

/* Runs ARGV[0] with ARGV as a child, stdin from /dev/null and stdout to OUT_PATH, and waits
 * for it: its wait status in *ST, its rusage (with its reaped children) in *RU and the wall
 * time in *NS. Returns 0, or -1 after saying why (NAME is the benchmark's). */
static inline int
bench_run_child(const char *name, char *const argv[], const char *out_path, int *st,
		struct rusage *ru, int64_t *ns)
{
	struct timespec a, b;
	pid_t pid, got;

	fflush(stdout);
	fflush(stderr);
	if (clock_gettime(CLOCK_MONOTONIC, &a) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", name, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY),
		    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0)
			_exit(126);
		execv(argv[0], argv);
		fprintf(stderr, "%s: %s: %s\n", name, argv[0], strerror(errno));
		_exit(127);
	}
	memset(ru, 0, sizeof *ru);
	do
		got = wait4(pid, st, 0, ru);
	while (got < 0 && errno == EINTR);
	if (clock_gettime(CLOCK_MONOTONIC, &b) != 0)
		return -1;
	*ns = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
	if (got != pid) {
		fprintf(stderr, "%s: wait4: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

#endif
