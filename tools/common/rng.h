/* rng.h - a small seeded random number generator for test data.
 *
 * splitmix64: tiny, fast, and with a well-known output sequence, so the same
 * seed makes the same frames on every machine and C library (rand() does
 * not). The state lives in a struct the caller passes around: no globals.
 */
#ifndef CCCD_TOOLS_RNG_H
#define CCCD_TOOLS_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct rng {
    uint64_t state;
};

void rng_seed(struct rng *r, uint64_t seed);
/* A generator for item `index` of stream `stream` under `seed`: items do not
 * shift when another stream or the number of items changes. */
void rng_seed_stream(struct rng *r, uint64_t seed, uint64_t stream, uint64_t index);

uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_unit(struct rng *r);
/* Uniform in [lo, hi). */
double rng_range(struct rng *r, double lo, double hi);
/* Uniform integer in [lo, hi], both included; needs lo <= hi. */
int rng_int(struct rng *r, int lo, int hi);
/* True with probability p. */
bool rng_chance(struct rng *r, double p);
/* Standard normal deviate (Box-Muller). */
double rng_gauss(struct rng *r);
/* One of n strings, uniformly. */
const char *rng_pick(struct rng *r, const char *const *items, int n);

#endif
