/* Tests for the fold of [gcconv] into [convolutional] (src/deploy/). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "darknet.h"
#include "convolutional_layer.h"

#include "cpu/parallel.h"
#include "deploy/gcfold.h"
#include "ext.h"
#include "gclayer.h"
#include "helpers/rounding.h"
#include "optim/optimizer.h"
#include "rand/rng.h"

/* ---- fixtures ----------------------------------------------------------- */

typedef struct shape {
    int K, N, size, stride, padding;
    gc_mixing mixing;
    int expand, bn;
    int c, h, w;
} shape;

/* A [gcconv] layer with random parameters (R random, rolling statistics
 * far from their start), and the input and network state it runs on. */
typedef struct rig {
    network *owner;
    layer gc;
    network net;
    rng *g;
} rig;

static rig make_rig(shape sh, uint64_t seed)
{
    rig r = {0};
    r.owner = calloc(1, sizeof(network));
    net_ext_of(r.owner);
    for (int i = 0; i < RNG_STREAMS; ++i) rng_seed(net_rng(r.owner, (rng_stream)i), seed, i);
    gcconv_options o = {.branches = sh.K, .filters = sh.N, .size = sh.size, .stride = sh.stride,
                        .padding = sh.padding, .mixing = sh.mixing, .expand = sh.expand,
                        .r_init = GC_R_RANDOM, .calib_rate = 1, .batch_normalize = sh.bn,
                        .activation = LEAKY};
    r.gc = make_gcconv_layer(o, 2, sh.h, sh.w, sh.c, r.owner);
    r.g = net_rng(r.owner, RNG_NOISE);
    for (int i = 0; i < r.gc.n; ++i) {
        r.gc.biases[i] = rng_normal(r.g);
        if (!sh.bn) continue;
        r.gc.scales[i] = 0.5f + rng_uniform(r.g);
        r.gc.rolling_mean[i] = rng_normal(r.g);
        r.gc.rolling_variance[i] = 0.2f + rng_uniform(r.g);
    }
    r.net.input = calloc((size_t)r.gc.batch * r.gc.inputs, sizeof(float));
    for (int i = 0; i < r.gc.batch * r.gc.inputs; ++i) r.net.input[i] = rng_uniform(r.g);
    r.net.train = 0;
    return r;
}

/* The [convolutional] that gcfold writes for the rig's layer, with `kernel`
 * as its weights (groups > 1 only for the deliberately wrong fold). */
static layer folded_conv(const rig *r, const float *kernel, int groups)
{
    layer gc = r->gc;
    gcfold_geometry g = gcfold_geometry_of(gc);
    layer conv = make_convolutional_layer(gc.batch, gc.h, gc.w, gc.c, gc.n, groups, g.size, gc.stride,
                                          g.padding, gc.activation, gc.batch_normalize, 0, 0, 0);
    memcpy(conv.weights, kernel, conv.nweights * sizeof(float));
    memcpy(conv.biases, gc.biases, gc.n * sizeof(float));
    if (gc.batch_normalize) {
        memcpy(conv.scales, gc.scales, gc.n * sizeof(float));
        memcpy(conv.rolling_mean, gc.rolling_mean, gc.n * sizeof(float));
        memcpy(conv.rolling_variance, gc.rolling_variance, gc.n * sizeof(float));
    }
    return conv;
}

static float *workspace_for(layer a, layer b)
{
    size_t bytes = a.workspace_size > b.workspace_size ? a.workspace_size : b.workspace_size;
    return calloc(bytes / sizeof(float) + 1, sizeof(float));
}

/* max |conv - gcconv| over the outputs of both layers on the rig's input,
 * divided by the rounding bound derived for the layer
 * (tests/unit/helpers/rounding.c): at most 1 when the fold computes what
 * the layer computes. */
static double fold_error(rig *r, const float *kernel, int groups)
{
    layer conv = folded_conv(r, kernel, groups);
    assert_int_equal(conv.outputs, r->gc.outputs);
    r->net.workspace = workspace_for(conv, r->gc);
    forward_gcconv_layer(r->gc, r->net);
    forward_convolutional_layer(conv, r->net);
    size_t n = (size_t)conv.batch * conv.outputs;
    double diff = 0;
    for (size_t i = 0; i < n; ++i) diff = fmax(diff, fabs((double)conv.output[i] - r->gc.output[i]));
    double bound = weighted_layer_bound(r->gc, r->net.input, (size_t)r->gc.batch * r->gc.inputs, r->gc.output, n);
    free(r->net.workspace);
    r->net.workspace = NULL;
    free_layer(conv);
    assert_true(bound > 0);
    return diff / bound;
}

static float *fold(layer gc)
{
    float *kernel = malloc(gcfold_kernel_floats(gc) * sizeof(float));
    gcfold_kernel(gc, kernel);
    return kernel;
}

static void free_rig(rig *r)
{
    free_layer(r->gc);
    free(r->net.input);
    ext_free_network(r->owner);
    free(r->owner);
}

/* Every kind of [gcconv]: mixing, expand, K = 1, 1x1, stride, padding. */
static const shape shapes[] = {
    {2, 3, 3, 1, 1, GC_MIX_FULL, 0, 1, 4, 7, 6},
    {3, 2, 3, 2, 1, GC_MIX_FULL, 1, 1, 2, 9, 8},
    {2, 3, 3, 1, 1, GC_MIX_BRANCH, 0, 1, 6, 7, 7},
    {4, 2, 3, 1, 2, GC_MIX_BRANCH, 1, 0, 3, 6, 6},
    {3, 4, 1, 1, 0, GC_MIX_FULL, 0, 0, 6, 5, 5},
    {2, 2, 1, 2, 0, GC_MIX_BRANCH, 0, 1, 4, 6, 6},
    {2, 3, 1, 2, 0, GC_MIX_FULL, 1, 1, 3, 7, 7},
    {2, 2, 1, 1, 1, GC_MIX_FULL, 0, 0, 4, 5, 5},
    {1, 5, 3, 1, 1, GC_MIX_FULL, 0, 1, 3, 6, 5},
    {1, 2, 5, 1, 2, GC_MIX_BRANCH, 1, 0, 2, 8, 8},
};
#define SHAPES (int)(sizeof(shapes) / sizeof(shapes[0]))

/* ---- tests -------------------------------------------------------------- */

/* A 1x1 kernel with a stride or a padding is written 3x3 (upstream's 1x1
 * [convolutional] ignores both); every other layer keeps its geometry. */
static void test_geometry(void **state)
{
    (void)state;
    for (int i = 0; i < SHAPES; ++i) {
        rig r = make_rig(shapes[i], 41 + i);
        gcfold_geometry g = gcfold_geometry_of(r.gc);
        int widen = shapes[i].size == 1 && (shapes[i].stride > 1 || shapes[i].padding > 0);
        assert_int_equal(g.size, widen ? 3 : shapes[i].size);
        assert_int_equal(g.padding, shapes[i].padding + (widen ? 1 : 0));
        free_rig(&r);
    }
}

/* The folded [convolutional] computes what the [gcconv] does, on the fast
 * kernels and on upstream's, for every shape. */
static void test_fold_matches_gcconv(void **state)
{
    (void)state;
    for (int reference = 0; reference <= 1; ++reference) {
        dn_set_reference(reference);
        for (int i = 0; i < SHAPES; ++i) {
            rig r = make_rig(shapes[i], 11 + i);
            float *kernel = fold(r.gc);
            double ratio = fold_error(&r, kernel, 1);
            if (ratio > 1) fprintf(stderr, "shape %d (reference %d): difference %g times its bound\n", i, reference, ratio);
            assert_true(ratio <= 1);
            free(kernel);
            free_rig(&r);
        }
    }
    dn_set_reference(0);
}

/* K = 1: R = 1 and the kernel is w itself, bit for bit. */
static void test_k1_kernel_is_w(void **state)
{
    (void)state;
    rig r = make_rig(shapes[8], 5);
    float *kernel = fold(r.gc);
    assert_int_equal(gcfold_kernel_floats(r.gc), (size_t)r.gc.nweights);
    assert_memory_equal(kernel, r.gc.weights, r.gc.nweights * sizeof(float));
    free(kernel);
    free_rig(&r);
}

/* Full mixing without expand: H = R*w, the product the layer itself forms. */
static void test_full_kernel_values(void **state)
{
    (void)state;
    rig r = make_rig(shapes[0], 6);
    gcconv_state *s = gcconv_state_of(r.gc);
    float *kernel = fold(r.gc);
    int K = s->K, ss = s->ss, C = s->C;
    for (int o = 0; o < s->N; ++o)
        for (int k = 0; k < K; ++k)
            for (int j = 0; j < C * K; ++j)
                for (int p = 0; p < ss; ++p) {
                    float want = s->R[k * ss + p] * r.gc.weights[(o * C * K + j) * ss + p];
                    assert_true(kernel[((o * K + k) * C * K + j) * ss + p] == want);
                }
    free(kernel);
    free_rig(&r);
}

/* A wrong fold must fail the comparison: R with its kernel pixels
 * transposed (the map of pixel (y,x) used at (x,y)). */
static void test_transposed_r_fails(void **state)
{
    (void)state;
    for (int i = 0; i < 4; ++i) {
        rig r = make_rig(shapes[i], 21 + i);
        gcconv_state *s = gcconv_state_of(r.gc);
        int n = r.gc.size;
        float *R = malloc(s->K * s->ss * sizeof(float));
        memcpy(R, s->R, s->K * s->ss * sizeof(float));
        for (int k = 0; k < s->K; ++k)
            for (int y = 0; y < n; ++y)
                for (int x = 0; x < n; ++x) s->R[k * s->ss + y * n + x] = R[k * s->ss + x * n + y];
        float *wrong = fold(r.gc);
        memcpy(s->R, R, s->K * s->ss * sizeof(float));
        assert_true(fold_error(&r, wrong, 1) > 1);
        free(R);
        free(wrong);
        free_rig(&r);
    }
}

/* Branch mixing is not upstream's groups=K: groups read contiguous
 * channels and write contiguous filters, the branches interleaved ones. */
static void test_branch_is_not_groups(void **state)
{
    (void)state;
    rig r = make_rig(shapes[2], 31);
    gcconv_state *s = gcconv_state_of(r.gc);
    int K = s->K, N = s->N, C = s->C, ss = s->ss;
    float *grouped = malloc((size_t)K * N * C * ss * sizeof(float));
    for (int k = 0; k < K; ++k)
        for (int o = 0; o < N; ++o)
            for (int c = 0; c < C; ++c)
                for (int p = 0; p < ss; ++p)
                    grouped[((k * N + o) * C + c) * ss + p] = s->R[k * ss + p] * r.gc.weights[(o * C + c) * ss + p];
    assert_true(fold_error(&r, grouped, K) > 1);
    free(grouped);
    free_rig(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_fold_matches_gcconv),
        cmocka_unit_test(test_k1_kernel_is_w),
        cmocka_unit_test(test_full_kernel_values),
        cmocka_unit_test(test_transposed_r_fails),
        cmocka_unit_test(test_branch_is_not_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
