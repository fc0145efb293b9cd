/* rng.c: xoshiro256** with splitmix64 seeding and Box-Muller normals. */
#include <math.h>

#include "rand/rng.h"

uint64_t rng_hash(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x)
{
    return rng_hash(*x += 0x9e3779b97f4a7c15ULL);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream id in through a second splitmix pass so that
     * (seed, stream) and (seed+1, stream-1) land far apart. */
    uint64_t x = seed;
    uint64_t mixed = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; ++i) r->s[i] = splitmix64(&mixed);
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rng_uniform(rng *r)
{
    /* top 24 bits: every value is exactly representable and below 1 */
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

float rng_uniform_range(rng *r, float lo, float hi)
{
    return lo + (hi - lo) * rng_uniform(r);
}

float rng_normal(rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* u1 in (0, 1] keeps log() finite; double precision keeps the tails. */
    double u1 = ((rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double u2 = (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * M_PI * u2;
    r->spare = (float)(radius * sin(angle));
    r->has_spare = 1;
    return (float)(radius * cos(angle));
}

uint32_t rng_below(rng *r, uint32_t n)
{
    /* Lemire's multiply-and-reject: no modulo bias. */
    uint64_t m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = -n % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
