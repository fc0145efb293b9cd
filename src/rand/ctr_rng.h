/* ctr_rng.h: counter-based random numbers, the same on the host and the GPU.
 *
 * Philox4x32 with 10 rounds (Salmon, Moraes, Dror and Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011): a keyed bijection of a 128-bit
 * counter.  Value i of a sequence depends only on (key, counter), so a GPU
 * thread per element draws without any shared state, and the draws do not
 * depend on launch geometry or on how many draws came before.
 *
 * The functions are header-only so that the CUDA kernels (the .cu files) and the
 * C code and tests compile the very same formula.  Integer results are
 * bit-identical everywhere; ctr_normal() goes through logf/sqrtf/cosf,
 * whose host and device versions may differ in the last bits. */
#ifndef CTR_RNG_H
#define CTR_RNG_H

#include <stdint.h>

#ifdef __CUDACC__
#define CTR_RNG_FN static __host__ __device__ __forceinline__
#else
#define CTR_RNG_FN static inline
#endif

#include <math.h>

/* One Philox round: two 32x32->64 multiplications, and the key mixed into
 * the high halves. */
CTR_RNG_FN void ctr_philox_round(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k0;
    uint32_t n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

/* Philox4x32-10: out = bijection_key(ctr).  c is updated in place. */
CTR_RNG_FN void ctr_philox(uint32_t c[4], uint64_t key)
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; ++r) {
        ctr_philox_round(c, k0, k1);
        k0 += 0x9E3779B9u;   /* the Weyl increments of the key schedule */
        k1 += 0xBB67AE85u;
    }
}

/* A standard normal number for element i of the sequence (key, a, b, c):
 * Box-Muller on the first two words of the block, u1 in (0, 1], u2 in [0, 1). */
CTR_RNG_FN float ctr_normal(uint64_t key, uint32_t i, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t ctr[4] = {i, a, b, c};
    ctr_philox(ctr, key);
    float u1 = (float)((ctr[0] >> 8) + 1) * (1.0f / 16777216.0f);
    float u2 = (float)(ctr[1] >> 8) * (1.0f / 16777216.0f);
    float radius = sqrtf(-2.0f * logf(u1));
    return radius * cosf(6.28318530717958647692f * u2);
}

#endif
