/* fastops.c: fast CPU versions of upstream's im2col, col2im, activations,
 * batch normalization and pooling.
 *
 * Each public function here has upstream's name and signature; the build
 * compiles upstream's definition under an upstream_ prefix (see the Makefile,
 * RENAME_*), and the reference path (parallel.h) calls it.  The fast versions
 * run on OpenMP threads over images and channels, in loops the compiler can
 * vectorise.
 *
 * im2col, col2im, the activations and the pooling layers give upstream's bits
 * exactly (every output element is computed with the same operations in the
 * same order).  Batch normalization sums in a different order and multiplies
 * by reciprocals, so it agrees with upstream to float rounding only. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "avgpool_layer.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "col2im.h"
#include "im2col.h"
#include "maxpool_layer.h"
#include "fastops.h"
#include "parallel.h"
#include "upstream_ref.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* Below this many elements a loop stays on one thread. */
#define PAR_MIN 65536

/* ---- im2col / col2im ------------------------------------------------------ */

/* The ksize*ksize rows of input channel c, whose plane is `plane`. */
static void im2col_channel(const float *plane, int height, int width, int ksize,
                           int stride, int pad, int c, float *col, int ldcol)
{
    int oh_n = (height + 2 * pad - ksize) / stride + 1;
    int ow_n = (width + 2 * pad - ksize) / stride + 1;
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

static void leaky(float *x, int n)
{
    static int avx = -1;
    if (avx < 0) {
#ifdef HAVE_X86
        __builtin_cpu_init();
        avx = __builtin_cpu_supports("avx");
#else
        avx = 0;
#endif
    }
    const int block = 16384;   /* a multiple of 8: whole vectors per block */
    const int nb = (n + block - 1) / block;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int b = 0; b < nb; ++b) {
        int len = n - b * block < block ? n - b * block : block;
#ifdef HAVE_X86
        if (avx) { leaky_avx(x + (size_t)b * block, len); continue; }
#endif
        leaky_portable(x + (size_t)b * block, len);
    }
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

/* ---- batch normalization --------------------------------------------------- */

/* Sums over one plane in four SSE vectors, then the lanes in a fixed
 * order: GCC keeps a plain float reduction scalar, one add per element
 * waiting on the one before. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float hsum16(v4f a, v4f b, v4f c, v4f d)
{
    v4f v = (a + b) + (c + d);
    return (v[0] + v[2]) + (v[1] + v[3]);
}

/* Sum of x, copying x to xs. */
static float sum_copy(const float *x, float *xs, int n)
{
    v4f a = {0}, b = {0}, c = {0}, d = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v4f u0 = load4(x + i), u1 = load4(x + i + 4), u2 = load4(x + i + 8), u3 = load4(x + i + 12);
        memcpy(xs + i, x + i, 16 * sizeof(float));
        a += u0;
        b += u1;
        c += u2;
        d += u3;
    }
    float s = hsum16(a, b, c, d);
    for (; i < n; ++i) { s += x[i]; xs[i] = x[i]; }
    return s;
}

/* Sum of (x - mean)^2. */
static float sum_sq_dev(const float *x, float mean, int n)
{
    v4f a = {0}, b = {0}, c = {0}, d = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v4f u0 = load4(x + i) - mean, u1 = load4(x + i + 4) - mean;
        v4f u2 = load4(x + i + 8) - mean, u3 = load4(x + i + 12) - mean;
        a += u0 * u0;
        b += u1 * u1;
        c += u2 * u2;
        d += u3 * u3;
    }
    float s = hsum16(a, b, c, d);
    for (; i < n; ++i) { float e = x[i] - mean; s += e * e; }
    return s;
}

/* Sums of d, d*xn and d*(x - mean). */
static void sums3(const float *d, const float *xn, const float *x, float mean, int n,
                  float *s0, float *s1, float *s2)
{
    v4f a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v4f d0 = load4(d + i), d1 = load4(d + i + 4);
        a0 += d0;
        b0 += d1;
        a1 += d0 * load4(xn + i);
        b1 += d1 * load4(xn + i + 4);
        a2 += d0 * (load4(x + i) - mean);
        b2 += d1 * (load4(x + i + 4) - mean);
    }
    v4f z = {0};
    float r0 = hsum16(a0, b0, z, z), r1 = hsum16(a1, b1, z, z), r2 = hsum16(a2, b2, z, z);
    for (; i < n; ++i) {
        r0 += d[i];
        r1 += d[i] * xn[i];
        r2 += d[i] * (x[i] - mean);
    }
    *s0 = r0;
    *s1 = r1;
    *s2 = r2;
}

/* Upstream's constants: eps 1e-6 added to the standard deviation in the
 * forward pass, 1e-5 added to the variance in the backward pass. */
void forward_batchnorm_layer(layer l, network net)
{
    if (dn_reference()) { upstream_forward_batchnorm_layer(l, net); return; }
    const int B = l.batch, C = l.out_c, S = l.out_h * l.out_w;
    const long CS = (long)C * S;
    if (l.type == BATCHNORM) memcpy(l.output, net.input, (size_t)l.outputs * B * sizeof(float));
    const int train = net.train;
    const float inv_n = 1. / ((long)B * S);
    const float inv_n1 = 1. / ((long)B * S - 1);
    #pragma omp parallel for schedule(dynamic, 1) if ((long)B * CS >= PAR_MIN)
    for (int f = 0; f < C; ++f) {
        float mean, var;
        if (train) {
            double sum = 0;
            for (int b = 0; b < B; ++b) {
                const float *x = l.output + b * CS + (long)f * S;
                float *xs = l.x + b * CS + (long)f * S;
                sum += sum_copy(x, xs, S);
            }
            mean = (float)sum * inv_n;
            double sq = 0;
            for (int b = 0; b < B; ++b) {
                const float *x = l.x + b * CS + (long)f * S;
                sq += sum_sq_dev(x, mean, S);
            }
            var = (float)sq * inv_n1;
            l.mean[f] = mean;
            l.variance[f] = var;
            l.rolling_mean[f] = .99f * l.rolling_mean[f] + .01f * mean;
            l.rolling_variance[f] = .99f * l.rolling_variance[f] + .01f * var;
        } else {
            for (int b = 0; b < B; ++b)
                memcpy(l.x + b * CS + (long)f * S, l.output + b * CS + (long)f * S, S * sizeof(float));
            mean = l.rolling_mean[f];
            var = l.rolling_variance[f];
        }
        const float inv = 1. / (sqrt(var) + .000001f);
        const float scale = l.scales[f], bias = l.biases[f];
        for (int b = 0; b < B; ++b) {
            const float *x = l.x + b * CS + (long)f * S;
            float *y = l.output + b * CS + (long)f * S;
            if (train) {
                float *xn = l.x_norm + b * CS + (long)f * S;
                for (int i = 0; i < S; ++i) {
                    float v = (x[i] - mean) * inv;
                    xn[i] = v;
                    y[i] = v * scale + bias;
                }
            } else {
                for (int i = 0; i < S; ++i) y[i] = (x[i] - mean) * inv * scale + bias;
            }
        }
    }
}

void backward_batchnorm_layer(layer l, network net)
{
    if (dn_reference()) { upstream_backward_batchnorm_layer(l, net); return; }
    if (!net.train) {
        l.mean = l.rolling_mean;
        l.variance = l.rolling_variance;
    }
    const int B = l.batch, C = l.out_c, S = l.out_h * l.out_w;
    const long CS = (long)C * S;
    const float n = (float)((long)S * B);
    #pragma omp parallel for schedule(dynamic, 1) if ((long)B * CS >= PAR_MIN)
    for (int f = 0; f < C; ++f) {
        const float mean = l.mean[f], var = l.variance[f], scale = l.scales[f];
        double sd = 0, sdxn = 0, sdx = 0;
        for (int b = 0; b < B; ++b) {
            const float *d = l.delta + b * CS + (long)f * S;
            const float *xn = l.x_norm + b * CS + (long)f * S;
            const float *x = l.x + b * CS + (long)f * S;
            float s0, s1, s2;
            sums3(d, xn, x, mean, S, &s0, &s1, &s2);
            sd += s0;
            sdxn += s1;
            sdx += s2;
        }
        l.bias_updates[f] += (float)sd;
        l.scale_updates[f] += (float)sdxn;
        /* After scaling delta by the layer's scale: */
        const float mean_delta = (float)(scale * sd) * (float)(-1. / sqrt(var + .00001f));
        const float variance_delta = (float)(scale * sdx) * (float)(-.5 * pow(var + .00001f, -1.5));
        l.mean_delta[f] = mean_delta;
        l.variance_delta[f] = variance_delta;
        const float a = scale * (float)(1. / sqrt(var + .00001f));
        const float k = variance_delta * 2 / n, m = mean_delta / n;
        for (int b = 0; b < B; ++b) {
            float *d = l.delta + b * CS + (long)f * S;
            const float *x = l.x + b * CS + (long)f * S;
            for (int i = 0; i < S; ++i) d[i] = d[i] * a + k * (x[i] - mean) + m;
        }
    }
    if (l.type == BATCHNORM) memcpy(net.delta, l.delta, (size_t)l.outputs * B * sizeof(float));
}

/* ---- pooling ------------------------------------------------------------------ */

void forward_maxpool_layer(const maxpool_layer l, network net)
{
    if (dn_reference()) { upstream_forward_maxpool_layer(l, net); return; }
    const int oh_n = l.out_h, ow_n = l.out_w, off = -l.pad / 2;
    const int planes = l.batch * l.c;
    if (l.size == 2 && l.stride == 2 && off == 0 && l.h == 2 * oh_n && l.w == 2 * ow_n) {
        /* 2x2, stride 2, every window inside: the same comparisons, in
         * upstream's order (first maximum wins), without bounds checks. */
        #pragma omp parallel for schedule(static) if ((long)planes * l.h * l.w >= PAR_MIN)
        for (int q = 0; q < planes; ++q) {
            const int base = q * l.h * l.w;
            for (int i = 0; i < oh_n; ++i) {
                const int r0 = base + 2 * i * l.w, r1 = r0 + l.w;
                for (int j = 0; j < ow_n; ++j) {
                    int idx[4] = {r0 + 2 * j, r0 + 2 * j + 1, r1 + 2 * j, r1 + 2 * j + 1};
                    float max = -FLT_MAX;
                    int max_i = -1;
                    for (int t = 0; t < 4; ++t) {
                        float v = net.input[idx[t]];
                        if (v > max) { max = v; max_i = idx[t]; }
                    }
                    int out = (q * oh_n + i) * ow_n + j;
                    l.output[out] = max;
                    l.indexes[out] = max_i;
                }
            }
        }
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
