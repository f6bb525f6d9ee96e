/* rng.c - splitmix64 (Steele, Lea, Flood 2014), as in Java's SplittableRandom. */
#include "rng.h"

#include <math.h>

void rng_seed(struct rng *r, uint64_t seed)
{
    r->state = seed;
}

void rng_seed_stream(struct rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    /* Mix each part through the generator so nearby indices give unrelated streams. */
    struct rng mix = { seed ^ 0x5bd1e9955bd1e995ULL };
    uint64_t s = rng_next(&mix);
    mix.state ^= stream * 0x9e3779b97f4a7c15ULL;
    s ^= rng_next(&mix);
    mix.state ^= index * 0xc2b2ae3d27d4eb4fULL;
    s ^= rng_next(&mix);
    r->state = s;
}

uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double rng_unit(struct rng *r)
{
    /* The top 53 bits fill a double's mantissa exactly. */
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double rng_range(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

int rng_int(struct rng *r, int lo, int hi)
{
    uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo) + 1;
    return (int)((int64_t)lo + (int64_t)(rng_next(r) % span));
}

bool rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

double rng_gauss(struct rng *r)
{
    /* 1 - u keeps the logarithm's argument in (0, 1]. */
    double u = 1.0 - rng_unit(r);
    double v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

const char *rng_pick(struct rng *r, const char *const *items, int n)
{
    return items[rng_int(r, 0, n - 1)];
}
