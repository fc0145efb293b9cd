/* rowops.c: see rowops.h.  The vector versions keep each output's (or
 * each lane's) operations and their order exactly as the plain loops have
 * them; they only do more outputs, or more dot products, at once. */
#include "cpu/fastgemm.h"
#include "cpu/rowops.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static void weighted_sum_plain(float *y, const float *x, size_t stride, const float *c, size_t step, int taps, int n)
{
    for (int i = 0; i < n; ++i) {
        float sum = c[0] * x[i];
        for (int t = 1; t < taps; ++t) sum += c[(size_t)t * step] * x[(size_t)t * stride + i];
        y[i] = sum;
    }
}

/* The eight lanes of a dot product, added as rows_dot() does, and the tail
 * from `from` on. */
static double finish_dot(const float lane[8], const float *a, const float *b, int from, int n)
{
    double sum = ((double)lane[0] + lane[1]) + ((double)lane[2] + lane[3])
               + (((double)lane[4] + lane[5]) + ((double)lane[6] + lane[7]));
    for (int i = from; i < n; ++i) sum += (double)a[i] * b[i];
    return sum;
}

static double dot_plain(const float *a, const float *b, int n)
{
    float lane[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int q = 0; q < 8; ++q) lane[q] += a[i + q] * b[i + q];
    return finish_dot(lane, a, b, i, n);
}

#ifdef HAVE_X86
/* 32 outputs in two registers across the taps. */
__attribute__((target("avx512f")))
static void weighted_sum_avx512(float *y, const float *x, size_t stride, const float *c, size_t step, int taps, int n)
{
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 c0 = _mm512_set1_ps(c[0]);
        __m512 s0 = _mm512_mul_ps(c0, _mm512_loadu_ps(x + i));
        __m512 s1 = _mm512_mul_ps(c0, _mm512_loadu_ps(x + i + 16));
        for (int t = 1; t < taps; ++t) {
            const float *xt = x + (size_t)t * stride + i;
            __m512 ct = _mm512_set1_ps(c[(size_t)t * step]);
            s0 = _mm512_add_ps(s0, _mm512_mul_ps(ct, _mm512_loadu_ps(xt)));
            s1 = _mm512_add_ps(s1, _mm512_mul_ps(ct, _mm512_loadu_ps(xt + 16)));
        }
        _mm512_storeu_ps(y + i, s0);
        _mm512_storeu_ps(y + i + 16, s1);
    }
    weighted_sum_plain(y + i, x + i, stride, c, step, taps, n - i);
}

/* 16 outputs in two registers across the taps. */
__attribute__((target("avx2")))
static void weighted_sum_avx2(float *y, const float *x, size_t stride, const float *c, size_t step, int taps, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 c0 = _mm256_set1_ps(c[0]);
        __m256 s0 = _mm256_mul_ps(c0, _mm256_loadu_ps(x + i));
        __m256 s1 = _mm256_mul_ps(c0, _mm256_loadu_ps(x + i + 8));
        for (int t = 1; t < taps; ++t) {
            const float *xt = x + (size_t)t * stride + i;
            __m256 ct = _mm256_set1_ps(c[(size_t)t * step]);
            s0 = _mm256_add_ps(s0, _mm256_mul_ps(ct, _mm256_loadu_ps(xt)));
            s1 = _mm256_add_ps(s1, _mm256_mul_ps(ct, _mm256_loadu_ps(xt + 8)));
        }
        _mm256_storeu_ps(y + i, s0);
        _mm256_storeu_ps(y + i + 8, s1);
    }
    weighted_sum_plain(y + i, x + i, stride, c, step, taps, n - i);
}

/* m (at most four) dot products against one row at a time: m independent
 * chains of additions instead of one.  Inlined with m constant, so that the
 * sums stay in registers. */
__attribute__((target("avx2"), always_inline))
static inline void dots_block_avx2(const float *a, const float *x, size_t stride, int m, int n, double *sums)
{
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 va = _mm256_loadu_ps(a + i);
        for (int u = 0; u < m; ++u) s[u] = _mm256_add_ps(s[u], _mm256_mul_ps(va, _mm256_loadu_ps(x + (size_t)u * stride + i)));
    }
    for (int u = 0; u < m; ++u) {
        float lane[8];
        _mm256_storeu_ps(lane, s[u]);
        sums[u] += finish_dot(lane, a, x + (size_t)u * stride, i, n);
    }
}

/* Blocks of four taps, then the last one to three together. */
__attribute__((target("avx2")))
static void dots_avx2(const float *a, const float *x, size_t stride, int taps, int n, double *sums)
{
    int t = 0;
    for (; t + 4 <= taps; t += 4) dots_block_avx2(a, x + (size_t)t * stride, stride, 4, n, sums + t);
    switch (taps - t) {
    case 3: dots_block_avx2(a, x + (size_t)t * stride, stride, 3, n, sums + t); break;
    case 2: dots_block_avx2(a, x + (size_t)t * stride, stride, 2, n, sums + t); break;
    case 1: dots_block_avx2(a, x + (size_t)t * stride, stride, 1, n, sums + t); break;
    }
}
#endif

void rows_weighted_sum(float *y, const float *x, size_t stride, const float *c, size_t step, int taps, int n)
{
#ifdef HAVE_X86
    switch (fastgemm_isa()) {
    case FASTGEMM_AVX512: weighted_sum_avx512(y, x, stride, c, step, taps, n); return;
    case FASTGEMM_AVX2: weighted_sum_avx2(y, x, stride, c, step, taps, n); return;
    }
#endif
    weighted_sum_plain(y, x, stride, c, step, taps, n);
}

/* Eight lanes are one 256-bit register, so the AVX-512 path takes AVX2's. */
void rows_dots(const float *a, const float *x, size_t stride, int taps, int n, double *sums)
{
#ifdef HAVE_X86
    if (fastgemm_isa() >= FASTGEMM_AVX2) { dots_avx2(a, x, stride, taps, n, sums); return; }
#endif
    for (int t = 0; t < taps; ++t) sums[t] += dot_plain(a, x + (size_t)t * stride, n);
}
