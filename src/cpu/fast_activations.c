/* fast_activations.c: upstream's activate_array and gradient_array, with
 * linear, leaky and relu vectorised (the others call upstream's); bit for
 * bit with upstream. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "cpu/fast_lanes.h"
#include "cpu/fastops.h"
#include "cpu/upstream_ref.h"

/* Upstream's leaky ReLU: x*.1 is a double product, rounded to float. */
/* Leaky ReLU as upstream computes it: x > 0 ? x : (float)(.1 * (double)x).
 * The build targets plain x86-64, where GCC leaves this loop scalar and
 * branchy; with AVX the double product is taken four lanes at a time. */
static void leaky_portable(float *x, int n)
{
    for (int i = 0; i < n; ++i) {
        float v = x[i], s = (float)(.1 * v);
        x[i] = v > 0 ? v : s;
    }
}

#ifdef HAVE_X86
__attribute__((target("avx")))
static void leaky_avx(float *x, int n)
{
    const __m256d k = _mm256_set1_pd(.1);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), k));
        __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), k));
        __m256 s = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
        /* maxps(v, s) is v > s ? v : s, which is v > 0 ? v : s: s has v's
         * sign and no larger magnitude, and a NaN or zero v gives s. */
        _mm256_storeu_ps(x + i, _mm256_max_ps(v, s));
    }
    leaky_portable(x + i, n - i);
}
#endif

/* The build targets plain x86-64; AVX is chosen at run time. */
static int have_avx;

__attribute__((constructor))
static void detect_cpu(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx");
#endif
}

static void leaky_block(float *x, int n)
{
#ifdef HAVE_X86
    if (have_avx) { leaky_avx(x, n); return; }
#endif
    leaky_portable(x, n);
}

static void leaky(float *x, int n)
{
    const int nb = (n + ELEMENT_BLOCK - 1) / ELEMENT_BLOCK;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int b = 0; b < nb; ++b)
        leaky_block(x + (size_t)b * ELEMENT_BLOCK, block_length(n, b, ELEMENT_BLOCK));
}

void activate_array(float *x, const int n, const ACTIVATION a)
{
    if (dn_reference()) { upstream_activate_array(x, n, a); return; }
    switch (a) {
    case LINEAR:
        return;
    case LEAKY:
        leaky(x, n);
        return;
    case RELU:
        #pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int i = 0; i < n; ++i) x[i] = x[i] * (float)(x[i] > 0);
        return;
    default:
        upstream_activate_array(x, n, a);
    }
}

/* Upstream's gradients return float, so leaky's slope is 0.1f. */
void gradient_array(const float *x, const int n, const ACTIVATION a, float *delta)
{
    if (dn_reference()) { upstream_gradient_array(x, n, a, delta); return; }
    switch (a) {
    case LINEAR:
        return;
    case LEAKY:
        #pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int i = 0; i < n; ++i) {
            float g = x[i] > 0 ? 1.0f : .1f;
            delta[i] = delta[i] * g;
        }
        return;
    case RELU:
        #pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int i = 0; i < n; ++i) delta[i] *= (float)(x[i] > 0);
        return;
    default:
        upstream_gradient_array(x, n, a, delta);
    }
}
