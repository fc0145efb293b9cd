/* fastops.c: fast CPU versions of upstream's im2col, col2im, activations,
 * batch normalization and pooling.
 *
 * Each public function here has upstream's name and signature; the build
 * compiles upstream's definition under an upstream_ prefix (see the Makefile,
 * RENAME_*), and the reference path (parallel.h) calls it.  The exceptions
 * are the fused kernels of fastops.h (batch norm or bias with the
 * activation), which make upstream's separate calls on the reference path.
 * The fast versions run on OpenMP threads over images and channels, in loops
 * the compiler can vectorise.
 *
 * im2col, col2im, the activations, bias, the pooling and shortcut layers
 * and fill_cpu give
 * upstream's bits exactly (every output element is computed with the same
 * operations in the same order).  Batch normalization sums in a different
 * order and multiplies by reciprocals, so it agrees with upstream to float
 * rounding only. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "avgpool_layer.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "col2im.h"
#include "convolutional_layer.h"
#include "im2col.h"
#include "maxpool_layer.h"
#include "shortcut_layer.h"
#include "cpu/fastgemm.h"
#include "cpu/fastops.h"
#include "cpu/parallel.h"
#include "cpu/upstream_ref.h"

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

/* ---- im2col / col2im ------------------------------------------------------ */

/* dst[r*width + c] = src[(r+dy)*width + c+dx] where that lies inside the
 * plane, 0 elsewhere.  The rows that stay inside go in one copy of the
 * shifted block; then the |dx| columns of each row that crossed the edge
 * (they hold the neighbouring row's pixels) are zeroed. */
void shift_plane(const float *src, int height, int width, int dy, int dx, float *dst)
{
    int lo = dy < 0 ? -dy : 0, hi = dy > 0 ? height - dy : height;   /* rows inside */
    if (lo > height) lo = height;
    if (hi < lo) hi = lo;
    size_t n = (size_t)(hi - lo) * width;
    int shift = dx < 0 ? -dx : dx, edge = shift < width ? shift : width;
    float *inside = dst + (size_t)lo * width;
    const float *from = src + (size_t)(lo + dy) * width;
    memset(dst, 0, (size_t)lo * width * sizeof(float));
    memset(dst + (size_t)hi * width, 0, (size_t)(height - hi) * width * sizeof(float));
    if ((size_t)shift < n) {
        if (dx < 0) memcpy(inside + shift, from, (n - shift) * sizeof(float));
        else memcpy(inside, from + shift, (n - shift) * sizeof(float));
    }
    for (int r = 0; r < hi - lo; ++r) {
        float *d = inside + (size_t)r * width + (dx < 0 ? 0 : width - edge);
        for (int i = 0; i < edge; ++i) d[i] = 0;
    }
}

void add_reached(const float *src, int height, int width, int dy, int dx, float *dst)
{
    int y0 = dy > 0 ? dy : 0, y1 = dy < 0 ? height + dy : height;
    int x0 = dx > 0 ? dx : 0, x1 = dx < 0 ? width + dx : width;
    for (int y = y0; y < y1; ++y) {
        const float *s = src + (size_t)y * width;
        float *d = dst + (size_t)y * width;
        for (int x = x0; x < x1; ++x) d[x] += s[x];
    }
}

/* Stride 1 with the output as large as the input: the row of kernel pixel
 * (kh, kw) is the plane shifted by kh - pad rows and kw - pad columns.
 * Upstream's values, with one block copy a kernel pixel instead of one
 * copy an output row. */
static void im2col_same_size(const float *plane, int height, int width, int ksize, int pad, int c,
                             float *col, int ldcol)
{
    for (int kh = 0; kh < ksize; ++kh)
        for (int kw = 0; kw < ksize; ++kw)
            shift_plane(plane, height, width, kh - pad, kw - pad,
                        col + (size_t)((c * ksize + kh) * ksize + kw) * ldcol);
}

/* The ksize*ksize rows of input channel c, whose plane is `plane`. */
static void im2col_channel(const float *plane, int height, int width, int ksize,
                           int stride, int pad, int c, float *col, int ldcol)
{
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    if (stride == 1 && ow_n == width) {
        im2col_same_size(plane, height, width, ksize, pad, c, col, ldcol);
        return;
    }
    for (int kh = 0; kh < ksize; ++kh) {
        for (int kw = 0; kw < ksize; ++kw) {
            float *row = col + (size_t)((c * ksize + kh) * ksize + kw) * ldcol;
            /* Output columns whose input column lies inside the image. */
            int lo = pad - kw > 0 ? (pad - kw + stride - 1) / stride : 0;
            int hi = (width - 1 + pad - kw) / stride + 1;
            if (width - 1 + pad - kw < 0) hi = 0;
            if (hi > ow_n) hi = ow_n;
            if (lo > hi) lo = hi;
            for (int oh = 0; oh < oh_n; ++oh) {
                float *dst = row + oh * ow_n;
                int ih = oh * stride - pad + kh;
                if (ih < 0 || ih >= height) {
                    memset(dst, 0, ow_n * sizeof(float));
                    continue;
                }
                const float *src = plane + (size_t)ih * width - pad + kw;
                for (int ow = 0; ow < lo; ++ow) dst[ow] = 0;
                if (stride == 1) memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
                else for (int ow = lo; ow < hi; ++ow) dst[ow] = src[ow * stride];
                for (int ow = hi; ow < ow_n; ++ow) dst[ow] = 0;
            }
        }
    }
}

void im2col_planes(const float *im, size_t plane_stride, int channels, int height, int width,
                   int ksize, int stride, int pad, float *col, int ldcol)
{
    long work = (long)channels * ksize * ksize * height * width;
    #pragma omp parallel for schedule(static) if (work >= PAR_MIN)
    for (int c = 0; c < channels; ++c)
        im2col_channel(im + c * plane_stride, height, width, ksize, stride, pad, c, col, ldcol);
}

void im2col_rows(const float *im, int channels, int height, int width,
                 int ksize, int stride, int pad, float *col, int ldcol)
{
    im2col_planes(im, (size_t)height * width, channels, height, width, ksize, stride, pad, col, ldcol);
}

void im2col_cpu(float *data_im, int channels, int height, int width,
                int ksize, int stride, int pad, float *data_col)
{
    if (dn_reference()) {
        upstream_im2col_cpu(data_im, channels, height, width, ksize, stride, pad, data_col);
        return;
    }
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    im2col_rows(data_im, channels, height, width, ksize, stride, pad, data_col, oh_n * ow_n);
}

/* Adds one channel's rows back into the image, in upstream's order: for each
 * pixel, kernel rows then kernel columns ascending. */
static void col2im_channel(const float *col, int ldcol, int height, int width,
                           int ksize, int stride, int pad, int c, float *plane)
{
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    for (int kh = 0; kh < ksize; ++kh) {
        for (int kw = 0; kw < ksize; ++kw) {
            const float *row = col + (size_t)((c * ksize + kh) * ksize + kw) * ldcol;
            int lo = pad - kw > 0 ? (pad - kw + stride - 1) / stride : 0;
            int hi = (width - 1 + pad - kw) / stride + 1;
            if (width - 1 + pad - kw < 0) hi = 0;
            if (hi > ow_n) hi = ow_n;
            if (lo > hi) lo = hi;
            for (int oh = 0; oh < oh_n; ++oh) {
                int ih = oh * stride - pad + kh;
                if (ih < 0 || ih >= height) continue;
                const float *src = row + oh * ow_n;
                float *dst = plane + (size_t)ih * width - pad + kw;
                if (stride == 1) for (int ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
                else for (int ow = lo; ow < hi; ++ow) dst[ow * stride] += src[ow];
            }
        }
    }
}

void col2im_planes(const float *col, int ldcol, int channels, int height, int width,
                   int ksize, int stride, int pad, float *im, size_t plane_stride)
{
    long work = (long)channels * ksize * ksize * height * width;
    #pragma omp parallel for schedule(static) if (work >= PAR_MIN)
    for (int c = 0; c < channels; ++c)
        col2im_channel(col, ldcol, height, width, ksize, stride, pad, c, im + c * plane_stride);
}

void col2im_rows(const float *col, int ldcol, int channels, int height, int width,
                 int ksize, int stride, int pad, float *im)
{
    col2im_planes(col, ldcol, channels, height, width, ksize, stride, pad, im, (size_t)height * width);
}

void col2im_cpu(float *data_col, int channels, int height, int width,
                int ksize, int stride, int pad, float *data_im)
{
    if (dn_reference()) {
        upstream_col2im_cpu(data_col, channels, height, width, ksize, stride, pad, data_im);
        return;
    }
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
    col2im_rows(data_col, oh_n * ow_n, channels, height, width, ksize, stride, pad, data_im);
}

/* ---- activations ------------------------------------------------------------ */

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

/* ---- batch normalization and activation ----------------------------------- */

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
static int fusable(ACTIVATION a)
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

/* Sum of one plane: four chains of four-float sums, in two v8f. */
static inline __attribute__((always_inline)) float sum_plane(const float *x, int n)
{
    v8f ab = {0}, cd = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        ab += load8(x + i);
        cd += load8(x + i + 8);
    }
    float s = hsum16(low4(ab), high4(ab), low4(cd), high4(cd));
    for (; i < n; ++i) s += x[i];
    return s;
}

/* Sums of x - c and of (x - c)^2. */
static inline __attribute__((always_inline)) void dev_sums(const float *x, float c, int n, float *t, float *q)
{
    v8f ab = {0}, ef = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i) - c;
        ab += u;
        ef += u * u;
    }
    v4f z = {0};
    float st = hsum16(low4(ab), high4(ab), z, z), sq = hsum16(low4(ef), high4(ef), z, z);
    for (; i < n; ++i) { float u = x[i] - c; st += u; sq += u * u; }
    *t = st;
    *q = sq;
}

/* Float sums run over at most this many values, then go on in double. */
#define SPAN 1024

/* Count, mean and sum of squared deviations of the values seen so far. */
typedef struct { double n, mu, m2; } moments;

/* Adds n values to m.  Their sums t of x - c and q of (x - c)^2 give their
 * mean c + t/n and squared deviations q - t^2/n to the rounding of the
 * deviations, whatever the offset, when c is near their mean: c is the mean
 * so far, or for the first values their own mean (one more pass over them,
 * while they are in cache).  The parts are merged in double as Chan et al.
 * merge partial variances. */
static inline __attribute__((always_inline)) void add_values(moments *m, const float *p, int n)
{
    float c = m->n > 0 ? (float)m->mu : sum_plane(p, n) / n, t, q;
    dev_sums(p, c, n, &t, &q);
    const double total = m->n + n, inv_n = 1. / n, inv_total = 1. / total;
    const double e = (c - m->mu) * n + t;   /* n times (their mean - mean so far) */
    m->mu += e * inv_total;
    m->m2 += (q - (double)t * t * inv_n) + e * e * inv_n * m->n * inv_total;
    m->n = total;
}

static inline __attribute__((always_inline)) void add_plane(moments *m, const float *p, int S)
{
    for (int i = 0; i < S; i += SPAN) add_values(m, p + i, S - i < SPAN ? S - i : SPAN);
}

/* One plane: y = act((x - mean) * a + bias), and x kept in xs when copy.
 * x may be y, or (without copy) xs. */
static inline __attribute__((always_inline))
void norm_values(const float *x, float *xs, float *y, int n, float mean, float a, float bias,
                 ACTIVATION act, int copy)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i);
        if (copy) store8(xs + i, u);
        store8(y + i, act8((u - mean) * a + bias, act));
    }
    for (; i < n; ++i) {
        float v = x[i];
        if (copy) xs[i] = v;
        y[i] = act1((v - mean) * a + bias, act);
    }
}

static inline __attribute__((always_inline))
void norm_plane(const float *x, float *xs, float *y, int n, float mean, float a, float bias,
                ACTIVATION act)
{
    if (x == xs) norm_values(x, xs, y, n, mean, a, bias, act, 0);
    else norm_values(x, xs, y, n, mean, a, bias, act, 1);
}

/* The backward pass takes the activation's gradient from y = (x - mean) *
 * a + bias, recomputed from x with the forward's mean, a and bias (the same
 * operations on the same floats, so the same bits: scales and biases change
 * only in the update after the backward pass), rather than from the
 * activated output: y > 0 exactly when act(y) > 0 for linear, leaky and
 * relu, so the factor is the one upstream's gradient_array takes from
 * l.output, and the pass reads two arrays instead of three.  (A [dropout]
 * after the layer zeroes outputs in place, but it zeroes their deltas too,
 * and it scales the others by a positive factor.) */
static float norm_factor(float scale, float var)
{
    return (float)(scale / (sqrt(var) + .000001f));
}

/* Sums over one plane of g = delta * act'(y) and of g * (x - mean). */
static inline __attribute__((always_inline))
void grad_sums(const float *d, const float *x, float mean, float a, float bias, int n, ACTIVATION act,
               float *s0, float *s1)
{
    v8f sg = {0}, sgu = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i) - mean;
        v8f g = load8(d + i) * grad8(u * a + bias, act);
        sg += g;
        sgu += g * u;
    }
    v4f z = {0};
    float r0 = hsum16(low4(sg), high4(sg), z, z), r1 = hsum16(low4(sgu), high4(sgu), z, z);
    for (; i < n; ++i) {
        float u = x[i] - mean, g = d[i] * grad1(u * a + bias, act);
        r0 += g;
        r1 += g * u;
    }
    *s0 = r0;
    *s1 = r1;
}

/* delta = g * ad + k * (x - mean) + m, g = delta * act'(y). */
static inline __attribute__((always_inline))
void grad_plane(float *d, const float *x, float mean, float a, float bias, int n, ACTIVATION act,
                float ad, float k, float m)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i) - mean;
        v8f g = load8(d + i) * grad8(u * a + bias, act);
        store8(d + i, g * ad + k * u + m);
    }
    for (; i < n; ++i) {
        float u = x[i] - mean, g = d[i] * grad1(u * a + bias, act);
        d[i] = g * ad + k * u + m;
    }
}

/* The passes below go through the batch image by image, each thread over
 * a block of channels, so that memory is read in order even when planes are
 * small; each channel still takes its planes in image order, so the results
 * do not depend on the blocks or the thread count. */
static int channel_blocks(const layer *l)
{
    long work = (long)l->batch * l->out_c * l->out_h * l->out_w;
    int nb = work < PAR_MIN ? 1 : 4 * dn_threads();
    return nb < l->out_c ? nb : l->out_c;
}

/* Batch mean and variance (divided by m - 1, as upstream) of channels
 * [c0, c1), and the rolling averages. */
static inline __attribute__((always_inline)) void batch_stats(const layer *l, const float *in, int c0, int c1)
{
    const int S = l->out_h * l->out_w;
    const long CS = (long)l->out_c * S;
    moments *m = calloc(c1 - c0, sizeof *m);
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) add_plane(m + f - c0, in + b * CS + (long)f * S, S);
    for (int f = c0; f < c1; ++f) {
        const moments *mf = m + f - c0;
        /* rounding can leave m2 just below 0 */
        float mean = (float)mf->mu, var = (float)((mf->m2 > 0 ? mf->m2 : 0) / (mf->n - 1));
        l->mean[f] = mean;
        l->variance[f] = var;
        l->rolling_mean[f] = .99f * l->rolling_mean[f] + .01f * mean;
        l->rolling_variance[f] = .99f * l->rolling_variance[f] + .01f * var;
    }
    free(m);
}

/* Forward of channels [c0, c1).  The activation is a constant in each
 * caller, so each gets its own copy of the loops. */
static inline __attribute__((always_inline))
void bn_forward_block(const layer *l, const float *in, int train, int c0, int c1, ACTIVATION act)
{
    const int S = l->out_h * l->out_w;
    const long CS = (long)l->out_c * S;
    if (train) batch_stats(l, in, c0, c1);
    const float *mean = train ? l->mean : l->rolling_mean, *var = train ? l->variance : l->rolling_variance;
    float *a = malloc((c1 - c0) * sizeof(float));
    for (int f = c0; f < c1; ++f) a[f - c0] = norm_factor(l->scales[f], var[f]);
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) {
            long o = b * CS + (long)f * S;
            norm_plane(in + o, l->x + o, l->output + o, S, mean[f], a[f - c0], l->biases[f], act);
        }
    free(a);
}

/* One copy of the loops per activation, compiled for the target at hand. */
#define BN_FORWARD_BY_ACTIVATION                                                   \
    if (act == LEAKY) bn_forward_block(l, in, train, c0, c1, LEAKY);               \
    else if (act == RELU) bn_forward_block(l, in, train, c0, c1, RELU);            \
    else bn_forward_block(l, in, train, c0, c1, LINEAR);
#define BN_BACKWARD_BY_ACTIVATION                                                  \
    if (act == LEAKY) bn_backward_block(l, mean, var, c0, c1, LEAKY);              \
    else if (act == RELU) bn_backward_block(l, mean, var, c0, c1, RELU);           \
    else bn_backward_block(l, mean, var, c0, c1, LINEAR);

static void bn_forward_sse(const layer *l, const float *in, int train, int c0, int c1, ACTIVATION act)
{
    BN_FORWARD_BY_ACTIVATION
}

/* The same loops in ymm registers (x86-64's baseline has SSE only); the
 * same lanes, so the same bits, and the AVX-512 path takes them too. */
#ifdef HAVE_X86
__attribute__((target("avx2")))
static void bn_forward_avx2(const layer *l, const float *in, int train, int c0, int c1, ACTIVATION act)
{
    BN_FORWARD_BY_ACTIVATION
}
#endif

static int ymm_path(void)
{
#ifdef HAVE_X86
    return fastgemm_isa() >= FASTGEMM_AVX2;
#else
    return 0;
#endif
}

static void bn_forward(const layer *l, const float *in, int train, ACTIVATION act)
{
    const int C = l->out_c, nb = channel_blocks(l), wide = ymm_path();
    #pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int k = 0; k < nb; ++k) {
        int c0 = (int)((long)C * k / nb), c1 = (int)((long)C * (k + 1) / nb);
#ifdef HAVE_X86
        if (wide) { bn_forward_avx2(l, in, train, c0, c1, act); continue; }
#endif
        bn_forward_sse(l, in, train, c0, c1, act);
    }
}

/* The coefficients of one channel's backward pass. */
typedef struct { float mean, a, bias, ad, k, m; double sd, sdx; } bn_grad;

/* From the sums of g and g * (x - mean): the bias and scale updates,
 * mean_delta and variance_delta as upstream's backward computes them, and
 * the coefficients of the delta pass. */
static void finish_channel(const layer *l, int f, float var, bn_grad *c)
{
    const float scale = l->scales[f];
    const double sd = c->sd, sdx = c->sdx;
    /* x_norm = (x - mean) / (sqrt(var) + eps) in the forward pass. */
    l->bias_updates[f] += (float)sd;
    l->scale_updates[f] += (float)(sdx / (sqrt(var) + .000001f));
    /* After scaling delta by the layer's scale: */
    const float mean_delta = (float)(scale * sd) * (float)(-1. / sqrt(var + .00001f));
    const float variance_delta = (float)(scale * sdx) * (float)(-.5 * pow(var + .00001f, -1.5));
    l->mean_delta[f] = mean_delta;
    l->variance_delta[f] = variance_delta;
    const float n = (float)((long)l->out_h * l->out_w * l->batch);
    c->ad = scale * (float)(1. / sqrt(var + .00001f));
    c->k = variance_delta * 2 / n;
    c->m = mean_delta / n;
}

/* Backward of channels [c0, c1), with the statistics the forward pass
 * normalised with: the batch's (training) or the rolling ones. */
static inline __attribute__((always_inline))
void bn_backward_block(const layer *l, const float *mean, const float *var, int c0, int c1, ACTIVATION act)
{
    const int S = l->out_h * l->out_w;
    const long CS = (long)l->out_c * S;
    bn_grad *cs = calloc(c1 - c0, sizeof *cs);
    for (int f = c0; f < c1; ++f) {
        bn_grad *c = cs + f - c0;
        c->mean = mean[f];
        c->a = norm_factor(l->scales[f], var[f]);
        c->bias = l->biases[f];
    }
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) {
            bn_grad *c = cs + f - c0;
            long o = b * CS + (long)f * S;
            for (int i = 0; i < S; i += SPAN) {
                float s0, s1;
                grad_sums(l->delta + o + i, l->x + o + i, c->mean, c->a, c->bias, S - i < SPAN ? S - i : SPAN,
                          act, &s0, &s1);
                c->sd += s0;
                c->sdx += s1;
            }
        }
    for (int f = c0; f < c1; ++f) finish_channel(l, f, var[f], cs + f - c0);
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) {
            const bn_grad *c = cs + f - c0;
            long o = b * CS + (long)f * S;
            grad_plane(l->delta + o, l->x + o, c->mean, c->a, c->bias, S, act, c->ad, c->k, c->m);
        }
    free(cs);
}

static void bn_backward_sse(const layer *l, const float *mean, const float *var, int c0, int c1, ACTIVATION act)
{
    BN_BACKWARD_BY_ACTIVATION
}

#ifdef HAVE_X86
__attribute__((target("avx2")))
static void bn_backward_avx2(const layer *l, const float *mean, const float *var, int c0, int c1, ACTIVATION act)
{
    BN_BACKWARD_BY_ACTIVATION
}
#endif

static void bn_backward(const layer *l, int train, ACTIVATION act)
{
    const float *mean = train ? l->mean : l->rolling_mean;
    const float *var = train ? l->variance : l->rolling_variance;
    const int C = l->out_c, nb = channel_blocks(l), wide = ymm_path();
    #pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int k = 0; k < nb; ++k) {
        int c0 = (int)((long)C * k / nb), c1 = (int)((long)C * (k + 1) / nb);
#ifdef HAVE_X86
        if (wide) { bn_backward_avx2(l, mean, var, c0, c1, act); continue; }
#endif
        bn_backward_sse(l, mean, var, c0, c1, act);
    }
}

/* Upstream's constants: eps 1e-6 added to the standard deviation in the
 * forward pass, 1e-5 added to the variance in the backward pass.  The fast
 * path does not write l.x_norm: the backward pass takes the scale gradient
 * from x, mean and variance instead.  (Upstream's backward outside training
 * reads an x_norm left by the last training pass; here the scale gradient
 * then uses the rolling statistics the forward pass normalised with.) */
void forward_batchnorm_layer(layer l, network net)
{
    if (dn_reference()) { upstream_forward_batchnorm_layer(l, net); return; }
    bn_forward(&l, l.type == BATCHNORM ? net.input : l.output, net.train, LINEAR);
}

void backward_batchnorm_layer(layer l, network net)
{
    if (dn_reference()) { upstream_backward_batchnorm_layer(l, net); return; }
    bn_backward(&l, net.train, LINEAR);
    if (l.type == BATCHNORM) memcpy(net.delta, l.delta, (size_t)l.outputs * l.batch * sizeof(float));
}

/* The fused pass keeps the products in l.x for the backward pass.  Written
 * there by the convolution, they need no copy: the pass reads them and
 * writes the output only, one store stream fewer than in place. */
float *fast_bn_products(layer l)
{
    return l.batch_normalize && l.x && !dn_reference() && fusable(l.activation) ? l.x : l.output;
}

void fast_bn_activate_forward(layer l, network net)
{
    if (dn_reference() || !fusable(l.activation)) {
        forward_batchnorm_layer(l, net);
        activate_array(l.output, l.outputs * l.batch, l.activation);
        return;
    }
    bn_forward(&l, fast_bn_products(l), net.train, l.activation);
}

void fast_bn_activate_backward(layer l, network net)
{
    if (dn_reference() || !fusable(l.activation)) {
        gradient_array(l.output, l.outputs * l.batch, l.activation, l.delta);
        backward_batchnorm_layer(l, net);
        return;
    }
    bn_backward(&l, net.train, l.activation);
}

/* ---- bias and activation ---------------------------------------------------- */

/* The bits of upstream's add_bias then activate_array. */
static inline __attribute__((always_inline))
void bias_plane(float *y, int n, float bias, ACTIVATION act)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) store4(y + i, act4(load4(y + i) + bias, act));
    for (; i < n; ++i) y[i] = act1(y[i] + bias, act);
}

void fast_bias_activate_forward(layer l)
{
    const int B = l.batch, C = l.n, S = l.out_h * l.out_w;
    const ACTIVATION act = l.activation;
    if (dn_reference() || !fusable(act)) {
        add_bias(l.output, l.biases, B, C, S);
        activate_array(l.output, l.outputs * B, act);
        return;
    }
    #pragma omp parallel for schedule(static) if ((long)B * C * S >= PAR_MIN)
    for (int q = 0; q < B * C; ++q) {
        float *y = l.output + (long)q * S;
        const float bias = l.biases[q % C];
        if (act == LEAKY) bias_plane(y, S, bias, LEAKY);
        else if (act == RELU) bias_plane(y, S, bias, RELU);
        else bias_plane(y, S, bias, LINEAR);
    }
}

/* delta *= act'(o) over n values. */
static inline __attribute__((always_inline))
void grad_values(float *d, const float *o, int n, ACTIVATION act)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) store4(d + i, load4(d + i) * grad4(load4(o + i), act));
    for (; i < n; ++i) d[i] = d[i] * grad1(o[i], act);
}

#define SUM_CHAINS 8

/* The sums of count <= SUM_CHAINS consecutive planes of n floats, each one
 * float chain in index order, as sum_array adds.  The chains run side by
 * side, so that their additions' latencies overlap. */
static void plane_sums(const float *x, int count, int n, float *sums)
{
    float s[SUM_CHAINS] = {0};
    if (count == SUM_CHAINS) {
        for (int i = 0; i < n; ++i)
            for (int k = 0; k < SUM_CHAINS; ++k) s[k] += x[(size_t)k * n + i];
    } else {
        for (int k = 0; k < count; ++k)
            for (int i = 0; i < n; ++i) s[k] += x[(size_t)k * n + i];
    }
    for (int k = 0; k < count; ++k) sums[k] = s[k];
}

void fast_bias_activate_backward(layer l)
{
    const int B = l.batch, C = l.n, S = l.out_h * l.out_w;
    const ACTIVATION act = l.activation;
    if (dn_reference() || !fusable(act)) {
        gradient_array(l.output, l.outputs * B, act, l.delta);
        backward_bias(l.bias_updates, l.delta, B, C, S);
        return;
    }
    /* Blocks of SUM_CHAINS channels; each channel's images in order, as
     * backward_bias adds them. */
    #pragma omp parallel for schedule(static) if ((long)B * C * S >= PAR_MIN)
    for (int f0 = 0; f0 < C; f0 += SUM_CHAINS) {
        int nf = C - f0 < SUM_CHAINS ? C - f0 : SUM_CHAINS;
        for (int b = 0; b < B; ++b) {
            size_t q = ((size_t)b * C + f0) * S;
            float sums[SUM_CHAINS];
            if (act == LEAKY) grad_values(l.delta + q, l.output + q, nf * S, LEAKY);
            else if (act == RELU) grad_values(l.delta + q, l.output + q, nf * S, RELU);
            else grad_values(l.delta + q, l.output + q, nf * S, LINEAR);
            plane_sums(l.delta + q, nf, S, sums);
            for (int k = 0; k < nf; ++k) l.bias_updates[f0 + k] += sums[k];
        }
    }
}

/* ---- pooling ------------------------------------------------------------------ */

/* Upstream's window loop keeps the first of equal maxima and passes over
 * NaN (no comparison with it is true); these lanes take the four values in
 * its order with the same comparisons, as selections of value and index
 * rather than one branch per value, which goes either way as the data
 * fall.  LANES outputs of one output row: r0 and r1 are the two window
 * rows from the first window's left column, at index i0 of the input. */
#define POOL_LIST(...) __VA_ARGS__
#define POOL_LANES(vf, vi, LANES, load, store, EVEN, ODD)                                \
    {                                                                                    \
        const vi even = {POOL_LIST EVEN};                                                \
        vf a = load(r0), b = load(r0 + LANES), c = load(r1), d = load(r1 + LANES);       \
        vf v[4] = {__builtin_shufflevector(a, b, POOL_LIST EVEN),                        \
                   __builtin_shufflevector(a, b, POOL_LIST ODD),                         \
                   __builtin_shufflevector(c, d, POOL_LIST EVEN),                        \
                   __builtin_shufflevector(c, d, POOL_LIST ODD)};                        \
        const vi at0 = i0 + even;                                                        \
        const vi at[4] = {at0, at0 + 1, at0 + width, at0 + width + 1};                   \
        vf m = (vf){0} - FLT_MAX;                                                        \
        vi mi = (vi){0} - 1;                                                             \
        for (int t = 0; t < 4; ++t) {                                                    \
            vi gt = v[t] > m;                                                            \
            m = (vf)((gt & (vi)v[t]) | (~gt & (vi)m));                                   \
            mi = (gt & at[t]) | (~gt & mi);                                              \
        }                                                                                \
        store(out, m);                                                                   \
        memcpy(idx, &mi, sizeof mi);                                                     \
    }

V8_INLINE void pool8(const float *r0, const float *r1, int i0, int width, float *out, int *idx)
POOL_LANES(v8f, v8i, 8, load8, store8, (0, 2, 4, 6, 8, 10, 12, 14), (1, 3, 5, 7, 9, 11, 13, 15))

static inline void pool4(const float *r0, const float *r1, int i0, int width, float *out, int *idx)
POOL_LANES(v4f, v4i, 4, load4, store4, (0, 2, 4, 6), (1, 3, 5, 7))
#undef POOL_LANES
#undef POOL_LIST

/* One output row of 2x2 windows, stride 2, all inside: eight (or four)
 * outputs at a time; the last group overlaps the one before instead of
 * leaving a scalar tail (an output is the same whichever group computes it). */
V8_INLINE void pool_row(const float *in, int r0, int width, int ow_n, float *out, int *idx)
{
    const int lanes = ow_n >= 8 ? 8 : 4;
    for (int j = 0; j < ow_n; j += lanes) {
        if (j + lanes > ow_n) j = ow_n - lanes;
        const int i0 = r0 + 2 * j;
        if (lanes == 8) pool8(in + i0, in + i0 + width, i0, width, out + j, idx + j);
        else pool4(in + i0, in + i0 + width, i0, width, out + j, idx + j);
    }
}

/* The output rows of one plane, whose input starts at `base`. */
V8_INLINE void pool_plane(const float *in, int base, int width, int oh_n, int ow_n, float *out, int *idx)
{
    for (int i = 0; i < oh_n; ++i)
        pool_row(in, base + 2 * i * width, width, ow_n, out + i * ow_n, idx + i * ow_n);
}

static void pool_plane_plain(const float *in, int base, int width, int oh_n, int ow_n, float *out, int *idx)
{
    pool_plane(in, base, width, oh_n, ow_n, out, idx);
}

#ifdef HAVE_X86
__attribute__((target("avx2")))
static void pool_plane_avx2(const float *in, int base, int width, int oh_n, int ow_n, float *out, int *idx)
{
    pool_plane(in, base, width, oh_n, ow_n, out, idx);
}
#endif

/* 2x2, stride 2, every window inside and at least four windows a row. */
static void maxpool_2x2_planes(const maxpool_layer *l, const float *in)
{
    const int oh_n = l->out_h, ow_n = l->out_w, planes = l->batch * l->c;
    const int avx2 = ymm_path();
    #pragma omp parallel for schedule(static) if ((long)planes * l->h * l->w >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        const int base = q * l->h * l->w, out = q * oh_n * ow_n;
#ifdef HAVE_X86
        if (avx2) { pool_plane_avx2(in, base, l->w, oh_n, ow_n, l->output + out, l->indexes + out); continue; }
#endif
        pool_plane_plain(in, base, l->w, oh_n, ow_n, l->output + out, l->indexes + out);
    }
}

void forward_maxpool_layer(const maxpool_layer l, network net)
{
    if (dn_reference()) { upstream_forward_maxpool_layer(l, net); return; }
    const int oh_n = l.out_h, ow_n = l.out_w, off = -l.pad / 2;
    const int planes = l.batch * l.c;
    if (l.size == 2 && l.stride == 2 && off == 0 && l.h == 2 * oh_n && l.w == 2 * ow_n && ow_n >= 4) {
        maxpool_2x2_planes(&l, net.input);
        return;
    }
    #pragma omp parallel for schedule(static) if ((long)planes * l.h * l.w >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        const int base = q * l.h * l.w;
        for (int i = 0; i < oh_n; ++i) {
            for (int j = 0; j < ow_n; ++j) {
                int out = (q * oh_n + i) * ow_n + j;
                float max = -FLT_MAX;
                int max_i = -1;
                for (int n = 0; n < l.size; ++n) {
                    int h = off + i * l.stride + n;
                    for (int m = 0; m < l.size; ++m) {
                        int w = off + j * l.stride + m;
                        int index = base + w + l.w * h;
                        float val = (h >= 0 && h < l.h && w >= 0 && w < l.w) ? net.input[index] : -FLT_MAX;
                        if (val > max) { max = val; max_i = index; }
                    }
                }
                l.output[out] = max;
                l.indexes[out] = max_i;
            }
        }
    }
}

void backward_maxpool_layer(const maxpool_layer l, network net)
{
    if (dn_reference()) { upstream_backward_maxpool_layer(l, net); return; }
    const int per = l.out_h * l.out_w;
    const int planes = l.batch * l.c;
    /* A plane's indexes all point into its own input plane. */
    #pragma omp parallel for schedule(static) if ((long)planes * per >= PAR_MIN)
    for (int q = 0; q < planes; ++q)
        for (int i = q * per; i < (q + 1) * per; ++i) {
            int index = l.indexes[i];
            if (index >= 0) net.delta[index] += l.delta[i];
        }
}

maxpool_layer make_maxpool_layer(int batch, int h, int w, int c, int size, int stride, int padding)
{
    maxpool_layer l = upstream_make_maxpool_layer(batch, h, w, c, size, stride, padding);
    l.forward = forward_maxpool_layer;
    l.backward = backward_maxpool_layer;
    return l;
}

void forward_avgpool_layer(const avgpool_layer l, network net)
{
    if (dn_reference()) { upstream_forward_avgpool_layer(l, net); return; }
    const int planes = l.batch * l.c, S = l.h * l.w;
    #pragma omp parallel for schedule(static) if ((long)planes * S >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        const float *x = net.input + (long)q * S;
        float s = 0;
        for (int i = 0; i < S; ++i) s += x[i];
        l.output[q] = s / S;
    }
}

void backward_avgpool_layer(const avgpool_layer l, network net)
{
    if (dn_reference()) { upstream_backward_avgpool_layer(l, net); return; }
    const int planes = l.batch * l.c, S = l.h * l.w;
    #pragma omp parallel for schedule(static) if ((long)planes * S >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        float *d = net.delta + (long)q * S;
        const float g = l.delta[q] / S;
        for (int i = 0; i < S; ++i) d[i] += g;
    }
}

avgpool_layer make_avgpool_layer(int batch, int w, int h, int c)
{
    avgpool_layer l = upstream_make_avgpool_layer(batch, w, h, c);
    l.forward = forward_avgpool_layer;
    l.backward = backward_avgpool_layer;
    return l;
}

/* ---- shortcut layers and fills ------------------------------------------------ */

/* out = act(alpha*in + beta*add): upstream's copy, shortcut_cpu and
 * activate_array in one pass, each element rounded as there. */
static void shortcut_forward_block(const float *in, const float *add, float alpha, float beta,
                                   float *out, int n, ACTIVATION act)
{
    const v4f a4 = {alpha, alpha, alpha, alpha}, b4 = {beta, beta, beta, beta};
    int i = 0;
    for (; i + 4 <= n; i += 4) store4(out + i, act4(a4 * load4(in + i) + b4 * load4(add + i), act));
    for (; i < n; ++i) out[i] = act1(alpha * in[i] + beta * add[i], act);
}

/* delta *= act'(out); prev += alpha*delta; from = 1*from + beta*delta:
 * upstream's gradient_array, axpy_cpu and shortcut_cpu, element by element
 * in that order, so that prev and from may be the same array (from=-1). */
static void shortcut_backward_block(float *delta, const float *out, float alpha, float beta,
                                    float *prev, float *from, int n, ACTIVATION act)
{
    const v4f a4 = {alpha, alpha, alpha, alpha}, b4 = {beta, beta, beta, beta};
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f d = load4(delta + i) * grad4(load4(out + i), act);
        store4(delta + i, d);
        store4(prev + i, load4(prev + i) + a4 * d);
        store4(from + i, load4(from + i) + b4 * d);
    }
    for (; i < n; ++i) {
        float d = delta[i] * grad1(out[i], act);
        delta[i] = d;
        prev[i] += alpha * d;
        from[i] = from[i] + beta * d;
    }
}

/* The fused passes take a shortcut between layers of one shape. */
static int shortcut_fusable(const layer *l)
{
    return !dn_reference() && fusable(l->activation) && l->w == l->out_w && l->h == l->out_h
        && l->c == l->out_c;
}

void forward_shortcut_layer(const layer l, network net)
{
    if (!shortcut_fusable(&l)) { upstream_forward_shortcut_layer(l, net); return; }
    const int n = l.outputs * l.batch, nb = (n + ELEMENT_BLOCK - 1) / ELEMENT_BLOCK;
    const float *add = net.layers[l.index].output;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int b = 0; b < nb; ++b) {
        size_t at = (size_t)b * ELEMENT_BLOCK;
        int len = block_length(n, b, ELEMENT_BLOCK);
        if (l.activation == RELU) shortcut_forward_block(net.input + at, add + at, l.alpha, l.beta, l.output + at, len, RELU);
        else if (l.activation == LEAKY) shortcut_forward_block(net.input + at, add + at, l.alpha, l.beta, l.output + at, len, LEAKY);
        else shortcut_forward_block(net.input + at, add + at, l.alpha, l.beta, l.output + at, len, LINEAR);
    }
}

void backward_shortcut_layer(const layer l, network net)
{
    if (!net.delta || !shortcut_fusable(&l)) { upstream_backward_shortcut_layer(l, net); return; }
    const int n = l.outputs * l.batch, nb = (n + ELEMENT_BLOCK - 1) / ELEMENT_BLOCK;
    float *from = net.layers[l.index].delta;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int b = 0; b < nb; ++b) {
        size_t at = (size_t)b * ELEMENT_BLOCK;
        int len = block_length(n, b, ELEMENT_BLOCK);
        float *d = l.delta + at, *prev = net.delta + at, *f = from + at;
        if (l.activation == RELU) shortcut_backward_block(d, l.output + at, l.alpha, l.beta, prev, f, len, RELU);
        else if (l.activation == LEAKY) shortcut_backward_block(d, l.output + at, l.alpha, l.beta, prev, f, len, LEAKY);
        else shortcut_backward_block(d, l.output + at, l.alpha, l.beta, prev, f, len, LINEAR);
    }
}

layer make_shortcut_layer(int batch, int index, int w, int h, int c, int w2, int h2, int c2)
{
    layer l = upstream_make_shortcut_layer(batch, index, w, h, c, w2, h2, c2);
    l.forward = forward_shortcut_layer;
    l.backward = backward_shortcut_layer;
    return l;
}

/* Zeros (+0, whose bits are all clear) are memsets, on every thread for
 * large arrays; upstream stores them one float at a time, in the serial loop
 * before every layer's pass. */
#define FILL_BLOCK 65536

void fill_cpu(int N, float ALPHA, float *X, int INCX)
{
    if (dn_reference() || INCX != 1 || ALPHA != 0 || signbit(ALPHA) || N <= 0) {
        upstream_fill_cpu(N, ALPHA, X, INCX);
        return;
    }
    const int nb = (N + FILL_BLOCK - 1) / FILL_BLOCK;
    #pragma omp parallel for schedule(static) if (nb >= 4)
    for (int b = 0; b < nb; ++b) {
        memset(X + (size_t)b * FILL_BLOCK, 0, block_length(N, b, FILL_BLOCK) * sizeof(float));
    }
}
