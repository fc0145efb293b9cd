/* fast_lanes.h: what the fast element-wise kernels share (fast_activations.c,
 * fast_batchnorm.c, fast_bias.c, fast_pool.c, fast_shortcut.c and
 * fast_im2col.c): the block sizes of their parallel loops, and the four- and
 * eight-float vectors in which they reproduce upstream's arithmetic lane by
 * lane.  Internal to src/cpu/. */
#ifndef FAST_LANES_H
#define FAST_LANES_H

#include <string.h>

#include "darknet.h"
#include "cpu/fastgemm.h"
#include "cpu/parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define PAR_MIN DN_PAR_MIN

/* Elements per block of the element-wise passes split over threads: whole
 * vectors. */
#define ELEMENT_BLOCK 16384

/* The length of block b of `block` elements, of n in all. */
static inline int block_length(long n, int b, int block)
{
    long left = n - (long)b * block;
    return left < block ? (int)left : block;
}

/* The loops below run on explicit four-float vectors (SSE on x86-64): GCC
 * keeps a plain float reduction scalar, one add per element waiting on the
 * one before, and it cannot tell that an in-place loop (output read, then
 * written at the same index) is safe to vectorise.  Sums add the lanes in a
 * fixed order, so results do not depend on the thread count. */
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(float *p, v4f v)
{
    memcpy(p, &v, sizeof v);
}

/* Eight floats: on the AVX2 and AVX-512 paths one ymm register, elsewhere
 * two SSE ones.  The batch-norm loops hold their pairs of four-float sums in
 * one of these; each lane gets the same operations either way. */
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

/* Always inlined: no call passes a v8f across a function boundary, where
 * the ABI without AVX would differ (hence -Wno-psabi in the Makefile). */
#define V8_INLINE static inline __attribute__((always_inline))

V8_INLINE v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

V8_INLINE void store8(float *p, v8f v)
{
    memcpy(p, &v, sizeof v);
}

#define low4(v) ((v4f){(v)[0], (v)[1], (v)[2], (v)[3]})
#define high4(v) ((v4f){(v)[4], (v)[5], (v)[6], (v)[7]})

static inline float hsum16(v4f a, v4f b, v4f c, v4f d)
{
    v4f v = (a + b) + (c + d);
    return (v[0] + v[2]) + (v[1] + v[3]);
}

/* The activations applied in the same pass as the normalization: those
 * that look at one element only and that these loops reproduce to the bit. */
static inline int fusable(ACTIVATION a)
{
    return a == LINEAR || a == LEAKY || a == RELU;
}

/* Upstream's gradients, as a factor of delta: relu (x > 0), leaky 1 or .1f. */
static inline float grad1(float o, ACTIVATION a)
{
    if (a == RELU) return (float)(o > 0);
    if (a == LEAKY) return o > 0 ? 1.0f : .1f;
    return 1;
}

static inline v4f grad4(v4f o, ACTIVATION a)
{
    const v4f zero = {0}, one = {1, 1, 1, 1}, tenth = {.1f, .1f, .1f, .1f};
    v4i pos = o > zero;
    if (a == RELU) return (v4f)(pos & (v4i)one);
    if (a == LEAKY) return (v4f)((pos & (v4i)one) | (~pos & (v4i)tenth));
    return one;
}

/* Upstream's activations: relu x * (x > 0); leaky x > 0 ? x : .1 * x, the
 * product taken in double and rounded to float (see leaky_avx). */
static inline float act1(float v, ACTIVATION a)
{
    if (a == LEAKY) { float s = (float)(.1 * v); return v > 0 ? v : s; }
    if (a == RELU) return v * (float)(v > 0);
    return v;
}

static inline v4f act4(v4f v, ACTIVATION a)
{
    if (a == RELU) return v * grad4(v, RELU);
#ifdef HAVE_X86
    if (a == LEAKY) {
        const __m128d k = _mm_set1_pd(.1);
        __m128 lo = _mm_cvtpd_ps(_mm_mul_pd(_mm_cvtps_pd((__m128)v), k));
        __m128 hi = _mm_cvtpd_ps(_mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps((__m128)v, (__m128)v)), k));
        return (v4f)_mm_max_ps((__m128)v, _mm_movelh_ps(lo, hi));   /* as in leaky_avx */
    }
#else
    if (a == LEAKY) return (v4f){act1(v[0], a), act1(v[1], a), act1(v[2], a), act1(v[3], a)};
#endif
    return v;
}

V8_INLINE v8f grad8(v8f o, ACTIVATION a)
{
    const v8f zero = {0}, one = {1, 1, 1, 1, 1, 1, 1, 1};
    const v8f tenth = {.1f, .1f, .1f, .1f, .1f, .1f, .1f, .1f};
    v8i pos = o > zero;
    if (a == RELU) return (v8f)(pos & (v8i)one);
    if (a == LEAKY) return (v8f)((pos & (v8i)one) | (~pos & (v8i)tenth));
    return one;
}

V8_INLINE v8f act8(v8f v, ACTIVATION a)
{
    if (a == RELU) return v * grad8(v, RELU);
    if (a == LEAKY) {
        /* act1's operations on eight lanes: the product in double, rounded
         * to float, chosen where v is not above 0.  Written as vector
         * conversions, so that each target gets its own widest registers
         * (two ymm products on the AVX2 path) rather than lane shuffles. */
        const v8d tenth = {.1, .1, .1, .1, .1, .1, .1, .1};
        const v8f zero = {0};
        v8f s = __builtin_convertvector(__builtin_convertvector(v, v8d) * tenth, v8f);
        v8i pos = v > zero;
        return (v8f)((pos & (v8i)v) | (~pos & (v8i)s));
    }
    return v;
}

/* Whether the element-wise loops take ymm registers: on the AVX2 and
 * AVX-512 paths of the gemm (DARKNET_ISA included). */
static inline int ymm_path(void)
{
#ifdef HAVE_X86
    return fastgemm_isa() >= FASTGEMM_AVX2;
#else
    return 0;
#endif
}

#endif
