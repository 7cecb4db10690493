/* bench: what the benchmarks share: a deterministic random number generator. Benchmarks
 * print figures and never fail a build. */
#ifndef MUSTER_BENCH_H
#define MUSTER_BENCH_H

#include <math.h>
#include <stdint.h>

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

#endif
