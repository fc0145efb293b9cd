/* rng.h: the network's seeded random generator.
 *
 * xoshiro256** (Blackman and Vigna, 2018): 256 bits of state, period 2^256-1,
 * passes BigCrush, a few cycles a draw.  Each stream is seeded through
 * splitmix64 from (seed, stream id), so streams never share state and a
 * stream's draws do not depend on how many draws another stream made.
 * Normals use the Box-Muller transform, caching the second value. */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
    int has_spare;
    float spare;
} rng;

void rng_seed(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(rng *r);
float rng_uniform(rng *r);                       /* [0, 1) */
float rng_uniform_range(rng *r, float lo, float hi);
float rng_normal(rng *r);                        /* N(0, 1) */
uint32_t rng_below(rng *r, uint32_t n);          /* [0, n), unbiased */
/* A bijective 64-bit mix (splitmix64's finaliser), for building stream ids
 * from several numbers: rng_hash(rng_hash(a) ^ b). */
uint64_t rng_hash(uint64_t x);

/* Separate streams, so that e.g. changing the augmentation does not change
 * the initial weights.  RNG_UPSTREAM feeds upstream's own rand calls made
 * outside the data loader (weight init of upstream layers, dropout, crop);
 * the loader threads get streams derived from RNG_DATA per batch (see
 * upstream_rand.h).  New streams go before RNG_STREAMS, so that the ids of
 * the existing ones, and so their draws, stay the same. */
typedef enum {
    RNG_INIT, RNG_NOISE, RNG_DATA, RNG_AUGMENT, RNG_UPSTREAM, RNG_STREAMS
} rng_stream;

#endif
