/* Tests for the batched GPU convolution's layout (src/gpu/batched_layout.h),
 * run on the CPU: the element functions that the CUDA kernels of
 * batched_kernels.cu apply, driven the way batched_conv.c drives them (the
 * images in groups, one product a pass through a plain gemm), against a
 * convolution written out in double from its definition.
 *
 * Bounds: every compared value is a float sum of products whose exact value
 * the double reference gives (its own rounding, 2^-53 relative, is far
 * below).  By rounding.h's sum_bound, two evaluations of a sum whose terms
 * meet at most n roundings and whose absolute values add up to m differ by
 * at most 2 gamma(n) m; the float side is one such evaluation and the
 * reference is the exact sum, so the same bound holds.  n is the number of
 * terms in the longest chain plus one (the product) plus one (the add onto
 * the destination): K + 2 for outputs, nb*n + 2 per group plus one per
 * group for weight gradients, M + size*size + 2 for input deltas.
 *
 * Faults these checks catch (each tried): kx and ky swapped in
 * batched_column, and out_step left out of batched_product_place (ratios
 * of 10^4 to 10^7 to the bound). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/upstream_ref.h"
#include "gpu/batched_layout.h"
#include "helpers/rounding.h"

/* ---- the driver of batched_conv.c, on the CPU --------------------------------- */

static int columns_per_image(const gpu_conv_shape *g)
{
    return g->c * g->size * g->size;
}

static void forward_group(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *in, int nb,
                          float *out)
{
    int K = columns_per_image(g), ld = nb * g->out_h * g->out_w;
    float *cols = calloc((size_t)K * ld, sizeof(float)), *prod = calloc((size_t)M * ld, sizeof(float));
    for (size_t i = 0; i < (size_t)K * ld; ++i) cols[i] = batched_column(g, in, nb, i);
    upstream_gemm_cpu(0, 0, M, ld, K, 1, (float *)W, ldw, cols, ld, 0, prod, ld);
    for (size_t i = 0; i < (size_t)M * ld; ++i) out[batched_product_place(g, nb, i)] += prod[i];
    free(cols);
    free(prod);
}

static void backward_group(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *in,
                           const float *delta, int nb, float *dW, float *dx)
{
    int K = columns_per_image(g), ld = nb * g->out_h * g->out_w;
    float *cols = calloc((size_t)K * ld, sizeof(float)), *dprod = calloc((size_t)M * ld, sizeof(float));
    for (size_t i = 0; i < (size_t)K * ld; ++i) cols[i] = batched_column(g, in, nb, i);
    for (size_t i = 0; i < (size_t)M * ld; ++i) dprod[i] = delta[batched_product_place(g, nb, i)];
    upstream_gemm_cpu(0, 1, M, K, ld, 1, dprod, ld, cols, ld, 1, dW, ldw);
    upstream_gemm_cpu(1, 0, K, ld, M, 1, (float *)W, ldw, dprod, ld, 0, cols, ld);
    if (g->direct) {
        for (size_t i = 0; i < (size_t)K * ld; ++i) {
            float *d = dx + batched_direct_delta(g, nb, i);
            *d = g->add_direct ? *d + cols[i] : cols[i];
        }
    } else {
        for (size_t i = 0; i < (size_t)nb * g->c * g->h * g->w; ++i) {
            float sum;
            size_t at = batched_pixel_delta(g, cols, nb, i, &sum);
            dx[at] += sum;
        }
    }
    free(cols);
    free(dprod);
}

/* Images in groups of `group`, as batched_conv.c takes them. */
static void batched(const gpu_conv_shape *g, int group, int M, const float *W, int ldw, const float *in,
                    const float *delta, float *out, float *dW, float *dx)
{
    for (int b0 = 0; b0 < g->batch; b0 += group) {
        int nb = g->batch - b0 < group ? g->batch - b0 : group;
        const float *x = in + (size_t)b0 * g->in_image;
        if (out) forward_group(g, M, W, ldw, x, nb, out + (size_t)b0 * g->out_image);
        else backward_group(g, M, W, ldw, x, delta + (size_t)b0 * g->out_image, nb, dW, dx + (size_t)b0 * g->in_image);
    }
}

/* ---- the convolution from its definition, in double ------------------------------ */

/* Input value read by column row r at output pixel j of image b (0 outside),
 * and its index (-1 outside). */
static long input_index(const gpu_conv_shape *g, int b, int r, int j)
{
    int n = g->out_h * g->out_w;
    size_t base = (size_t)b * g->in_image;
    if (g->direct) return (long)(base + (size_t)r * n + j);
    int kx = r % g->size, ky = r / g->size % g->size, ch = r / g->size / g->size;
    int x = (j % g->out_w) * g->stride - g->pad + kx, y = (j / g->out_w) * g->stride - g->pad + ky;
    if (x < 0 || x >= g->w || y < 0 || y >= g->h) return -1;
    return (long)(base + ((size_t)ch * g->h + y) * g->w + x);
}

static size_t output_index(const gpu_conv_shape *g, int b, int o, int j)
{
    return (size_t)b * g->out_image + ((size_t)g->out_first + (size_t)o * g->out_step) * g->out_h * g->out_w + j;
}

typedef struct exact {
    double *out, *out_mag, *dW, *dW_mag, *dx, *dx_mag;
} exact;

/* The exact results and the magnitudes (sums of |terms|) of each. */
static exact reference(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *in, const float *delta,
                       size_t n_out, size_t n_in, const float *out0, const float *dW0, const float *dx0)
{
    int K = columns_per_image(g), n = g->out_h * g->out_w;
    size_t nw = (size_t)M * ldw;
    exact e = {calloc(n_out, 8), calloc(n_out, 8), calloc(nw, 8), calloc(nw, 8), calloc(n_in, 8), calloc(n_in, 8)};
    for (size_t i = 0; i < n_out; ++i) e.out[i] = out0[i], e.out_mag[i] = fabs(out0[i]);
    for (size_t i = 0; i < nw; ++i) e.dW[i] = dW0[i], e.dW_mag[i] = fabs(dW0[i]);
    for (size_t i = 0; i < n_in; ++i) e.dx[i] = dx0[i], e.dx_mag[i] = fabs(dx0[i]);
    if (g->direct && !g->add_direct) {   /* written, not added */
        for (int b = 0; b < g->batch; ++b)
            for (int r = 0; r < K; ++r)
                for (int j = 0; j < n; ++j) e.dx[input_index(g, b, r, j)] = e.dx_mag[input_index(g, b, r, j)] = 0;
    }
    for (int b = 0; b < g->batch; ++b)
        for (int o = 0; o < M; ++o)
            for (int j = 0; j < n; ++j)
                for (int r = 0; r < K; ++r) {
                    long at = input_index(g, b, r, j);
                    if (at < 0) continue;
                    double w = W[(size_t)o * ldw + r], x = in[at], d = delta[output_index(g, b, o, j)];
                    size_t y = output_index(g, b, o, j);
                    e.out[y] += w * x, e.out_mag[y] += fabs(w * x);
                    e.dW[(size_t)o * ldw + r] += d * x, e.dW_mag[(size_t)o * ldw + r] += fabs(d * x);
                    e.dx[at] += w * d, e.dx_mag[at] += fabs(w * d);
                }
    return e;
}

static void free_exact(exact *e)
{
    free(e->out), free(e->out_mag), free(e->dW), free(e->dW_mag), free(e->dx), free(e->dx_mag);
}

static void fill(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) / 16777216.0 * 2 - 1);
    }
}

/* Worst ratio of |float - exact| to its bound over n values. */
static double worst(const float *got, const double *want, const double *mag, size_t n, double chain)
{
    double w = 0;
    for (size_t i = 0; i < n; ++i) {
        double bound = sum_bound(chain, mag[i]);
        double diff = fabs(got[i] - want[i]);
        double ratio = bound > 0 ? diff / bound : (diff > 0 ? INFINITY : 0);
        if (ratio > w) w = ratio;
    }
    return w;
}

/* One shape: forward and backward in groups of `group` images against the
 * definition, with the destinations holding values beforehand (outputs and
 * weight gradients accumulate; input deltas accumulate or, direct kernels
 * without add_direct, are written). */
static void check_shape(const char *name, gpu_conv_shape g, int M, int ldw, size_t n_in, size_t n_out, int group)
{
    int K = columns_per_image(&g), n = g.out_h * g.out_w;
    size_t nw = (size_t)M * ldw;
    float *W = malloc(nw * 4), *in = malloc(n_in * 4), *delta = malloc(n_out * 4);
    float *out = malloc(n_out * 4), *dW = malloc(nw * 4), *dx = malloc(n_in * 4);
    float *out0 = malloc(n_out * 4), *dW0 = malloc(nw * 4), *dx0 = malloc(n_in * 4);
    fill(W, nw, 1), fill(in, n_in, 2), fill(delta, n_out, 3);
    fill(out0, n_out, 4), fill(dW0, nw, 5), fill(dx0, n_in, 6);
    memcpy(out, out0, n_out * 4), memcpy(dW, dW0, nw * 4), memcpy(dx, dx0, n_in * 4);
    batched(&g, group, M, W, ldw, in, NULL, out, NULL, NULL);
    batched(&g, group, M, W, ldw, in, delta, NULL, dW, dx);
    exact e = reference(&g, M, W, ldw, in, delta, n_out, n_in, out0, dW0, dx0);
    int groups = (g.batch + group - 1) / group;
    double r_out = worst(out, e.out, e.out_mag, n_out, K + 2);
    double r_dW = worst(dW, e.dW, e.dW_mag, nw, (double)group * n + 2 + groups);
    double r_dx = worst(dx, e.dx, e.dx_mag, n_in, M + g.size * g.size + 2);
    printf("%s: worst ratio to bound: outputs %.3g, weight gradients %.3g, input deltas %.3g\n", name, r_out, r_dW,
           r_dx);
    assert_true(r_out <= 1);
    assert_true(r_dW <= 1);
    assert_true(r_dx <= 1);
    free_exact(&e);
    free(W), free(in), free(delta), free(out), free(dW), free(dx), free(out0), free(dW0), free(dx0);
}

/* A plain convolution: c planes of h x w per image, M filters. */
static gpu_conv_shape plain(int batch, int c, int h, int w, int M, int size, int stride, int pad)
{
    int out_h = (h + 2 * pad - size) / stride + 1, out_w = (w + 2 * pad - size) / stride + 1;
    gpu_conv_shape g = {batch, c, h, w, size, stride, pad, out_h, out_w, 0, 0,
                        (size_t)c * h * w, (size_t)M * out_h * out_w, 0, 1};
    return g;
}

static void check_plain(const char *name, gpu_conv_shape g, int M, int group)
{
    check_shape(name, g, M, columns_per_image(&g), (size_t)g.batch * g.in_image, (size_t)g.batch * g.out_image,
                group);
}

static void three_by_three(void **state)
{
    (void)state;
    check_plain("3x3 pad 1", plain(3, 3, 7, 6, 4, 3, 1, 1), 4, 2);
    check_plain("3x3 stride 2", plain(3, 2, 9, 8, 5, 3, 2, 1), 5, 3);
    check_plain("5x5 pad 1, one image a group", plain(2, 2, 6, 7, 3, 5, 1, 1), 3, 1);
}

static void one_by_one(void **state)
{
    (void)state;
    gpu_conv_shape g = plain(3, 4, 5, 5, 3, 1, 1, 0);
    g.direct = 1;
    check_plain("1x1 written", g, 3, 2);
    g.add_direct = 1;
    check_plain("1x1 added", g, 3, 2);
    /* a strided or padded 1x1 goes through im2col */
    check_plain("1x1 stride 2", plain(3, 4, 6, 6, 2, 1, 2, 0), 2, 2);
    check_plain("1x1 pad 1", plain(3, 2, 4, 5, 3, 1, 1, 1), 3, 2);
}

/* [convolutional] groups=2: group j reads planes j*c/2.. and writes
 * channels j*M/2..; the whole layer's images are the strides. */
static void groups(void **state)
{
    (void)state;
    int batch = 3, c = 4, h = 5, w = 5, M = 6;
    gpu_conv_shape g = plain(batch, c / 2, h, w, M / 2, 3, 1, 1);
    g.in_image = (size_t)c * h * w;
    g.out_image = (size_t)M * g.out_h * g.out_w;
    g.out_first = M / 2;
    check_shape("groups=2, second group", g, M / 2, columns_per_image(&g), batch * g.in_image, batch * g.out_image, 2);
}

/* [gcconv] mixing=branch, K=2 gathered: branch 1 reads C planes of each
 * image's K*C, with rows of H K*C*ss apart, and writes channels o*K+1. */
static void branches(void **state)
{
    (void)state;
    int batch = 3, C = 2, K = 2, N = 3, h = 6, w = 5;
    gpu_conv_shape g = plain(batch, C, h, w, N, 3, 2, 1);
    g.in_image = (size_t)K * C * h * w;
    g.out_image = (size_t)N * K * g.out_h * g.out_w;
    g.out_first = 1;
    g.out_step = K;
    check_shape("branch 1 of 2", g, N, K * columns_per_image(&g), batch * g.in_image, batch * g.out_image, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_by_three),
        cmocka_unit_test(one_by_one),
        cmocka_unit_test(groups),
        cmocka_unit_test(branches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
