/* Tests for the [gcmerge] layer (src/gcconv/gcmerge.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "darknet.h"

#include "gcconv/gcmerge.h"
#include "rand/rng.h"
#include "helpers/central_difference.h"
#include "helpers/rounding.h"
#include "helpers/scratch_dir.h"

typedef struct rig {
    layer l;
    network net;
} rig;

static rig make_rig(int batch, int h, int w, int c, int K, gc_merge_mode mode)
{
    rig r = {0};
    r.l = make_gcmerge_layer(batch, h, w, c, K, mode);
    r.net.input = calloc((size_t)batch * r.l.inputs, sizeof(float));
    r.net.delta = calloc((size_t)batch * r.l.inputs, sizeof(float));
    return r;
}

static void free_rig(rig *r)
{
    free_layer(r->l);
    free(r->net.input);
    free(r->net.delta);
}

/* One image, K=2 branches of N=2 planes of 2 pixels: channels are
 * (plane 0 branch 0), (plane 0 branch 1), (plane 1 branch 0), (plane 1 branch 1). */
static const float small_input[] = {1, -5, 3, -2, /* plane 0 */ 7, 0, -1, 0.5f /* plane 1 */};

static void max_forward_and_backward(void **state)
{
    rig r = make_rig(1, 1, 2, 4, 2, GC_MERGE_MAX);
    assert_int_equal(r.l.out_c, 2);
    assert_int_equal(r.l.outputs, 4);
    memcpy(r.net.input, small_input, sizeof(small_input));
    forward_gcmerge_layer(r.l, r.net);
    const float want[] = {3, -2, 7, 0.5f};
    assert_memory_equal(r.l.output, want, sizeof(want));

    const float delta[] = {10, 20, 30, 40};
    memcpy(r.l.delta, delta, sizeof(delta));
    r.net.delta[0] = 1;   /* backward adds to what is there */
    backward_gcmerge_layer(r.l, r.net);
    const float want_delta[] = {1, 0, 10, 20, 30, 0, 0, 40};
    assert_memory_equal(r.net.delta, want_delta, sizeof(want_delta));
    free_rig(&r);
}

static void mean_forward_and_backward(void **state)
{
    rig r = make_rig(1, 1, 2, 4, 2, GC_MERGE_MEAN);
    memcpy(r.net.input, small_input, sizeof(small_input));
    forward_gcmerge_layer(r.l, r.net);
    const float want[] = {2, -3.5f, 3, 0.25f};
    assert_memory_equal(r.l.output, want, sizeof(want));

    const float delta[] = {10, 20, 30, 40};
    memcpy(r.l.delta, delta, sizeof(delta));
    backward_gcmerge_layer(r.l, r.net);
    const float want_delta[] = {5, 10, 5, 10, 15, 20, 15, 20};
    assert_memory_equal(r.net.delta, want_delta, sizeof(want_delta));
    free_rig(&r);
}

static double loss(rig *r, const float *g)
{
    forward_gcmerge_layer(r->l, r->net);
    double sum = 0;
    for (int i = 0; i < r->l.batch * r->l.outputs; ++i) sum += (double)r->l.output[i] * g[i];
    return sum;
}

/* Output j of input i: channel c*K+m, plane p of image b feeds output
 * channel c, plane p; and the largest |x| of that output's K inputs, or
 * for max the smallest gap between input i and the others. */
static int output_of(layer l, int i, double *largest, double *gap, const float *x)
{
    int K = l.c / l.out_c, plane = l.h * l.w, b = i / l.inputs, ch = i % l.inputs / plane, p = i % plane;
    *largest = 0;
    *gap = INFINITY;
    for (int m = 0; m < K; ++m) {
        float v = x[(size_t)b * l.inputs + (ch / K * K + m) * plane + p];
        *largest = fmax(*largest, fabs(v));
        if (ch / K * K + m != ch) *gap = fmin(*gap, fabs(v - x[i]));
    }
    return b * l.outputs + ch / K * plane + p;
}

/* Every input entry, both modes, K = 1..4, batch 2.  L = sum g_j out_j is
 * linear in each input (mean), or locally linear while the step does not
 * change which input is the largest (max): entries within a step of a
 * tie are left out, and counted.  The bound: the one output that moves is
 * a sum of K inputs over K (mean: gamma(K + 1) times K |x|max / K) or
 * one of them (max: exact); L's double sums, (outs + 1) 2^-53 sum |g out|
 * each; all over the step; plus the gradient's own rounding (g / K, one rounding). */
static void matches_finite_differences(void **state)
{
    rng g;
    rng_seed(&g, 3, 0);
    int near_ties = 0;
    for (int mode = 0; mode < 2; ++mode)
        for (int K = 1; K <= 4; ++K) {
            rig r = make_rig(2, 3, 2, 3 * K, K, (gc_merge_mode)mode);
            int ins = 2 * r.l.inputs, outs = 2 * r.l.outputs;
            float *weights = malloc(outs * sizeof(float));
            for (int i = 0; i < ins; ++i) r.net.input[i] = rng_normal(&g);
            for (int i = 0; i < outs; ++i) weights[i] = rng_normal(&g);
            forward_gcmerge_layer(r.l, r.net);
            for (int i = 0; i < outs; ++i) r.l.delta[i] = -weights[i];
            backward_gcmerge_layer(r.l, r.net);
            double sum_gout = 0;   /* L's double sums: gamma_53(outs) sum |g out| each */
            for (int i = 0; i < outs; ++i) sum_gout += fabs(weights[i] * r.l.output[i]);
            for (int i = 0; i < ins; ++i) {
                double largest, gap;
                int j = output_of(r.l, i, &largest, &gap, r.net.input);
                float keep = r.net.input[i], eps = 1e-3f;
                r.net.input[i] = keep + eps;
                float hi = r.net.input[i];
                double up = loss(&r, weights);
                r.net.input[i] = keep - eps;
                float lo = r.net.input[i];
                double down = loss(&r, weights);
                r.net.input[i] = keep;
                if (mode == GC_MERGE_MAX && gap <= (double)hi - lo) { ++near_ties; continue; }
                double out = mode == GC_MERGE_MEAN ? sum_bound(K + 1, largest + eps) : 0;
                double sums = 2 * (outs + 1) * 0x1p-53 * (sum_gout + fabs(weights[j]) * eps);
                /* L is linear in the input here: no curvature terms */
                fd_terms t = {fabs(weights[j]) * out + sums, 0, 0, 0, FLOAT_UNIT_ROUNDOFF * fabs(weights[j])};
                char what[64];
                snprintf(what, sizeof(what), "mode %d K=%d: dL/dinput", mode, K);
                fd_check(what, i, up, down, keep, hi, lo, -r.net.delta[i], t);
            }
            free(weights);
            free_rig(&r);
        }
    assert_true(near_ties < 4);   /* the check still covers the layer */
}

static network *parse_text(const char *text)
{
    char *path = (char *)scratch_path("net.cfg");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return parse_network_cfg(path);
}

/* branches= defaults to the K of the [gcconv] before; the merged network
 * runs forward and backward, and resizes. */
static void parsed_in_a_network(void **state)
{
    network *net = parse_text(
        "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=2\nseed=1\n"
        "[gcconv]\nfilters=3\nsize=3\npad=1\nbranches=3\nactivation=leaky\n"
        "[maxpool]\nsize=2\nstride=2\n"
        "[gcmerge]\nmode=max\n"
        "[gcmerge]\nbranches=1\nmode=mean\n"
        "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
        "[avgpool]\n[softmax]\n");
    layer m = net->layers[2];
    assert_int_equal(m.c, 9);
    assert_int_equal(m.out_c, 3);
    assert_int_equal(m.out_w, 4);
    assert_int_equal(net->layers[3].out_c, 3);

    rng g;
    rng_seed(&g, 2, 0);
    for (int i = 0; i < net->batch * net->inputs; ++i) net->input[i] = rng_normal(&g);
    net->truth[0] = net->truth[3] = 1;
    net->train = 1;
    forward_network(net);
    backward_network(net);
    /* the max routes each delta to one of K branches: 1/K of the pool's
     * delta entries are non-zero, never more */
    layer pool = net->layers[1];
    int nonzero = 0;
    for (int i = 0; i < net->batch * pool.outputs; ++i) nonzero += pool.delta[i] != 0;
    assert_true(nonzero > 0 && nonzero <= net->batch * pool.outputs / 3);

    resize_network(net, 12, 12);
    assert_int_equal(net->layers[2].out_w, 6);
    assert_int_equal(net->layers[2].outputs, 6 * 6 * 3);
    forward_network(net);
    backward_network(net);
    free_network(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(max_forward_and_backward),
        cmocka_unit_test(mean_forward_and_backward),
        cmocka_unit_test(matches_finite_differences),
        cmocka_unit_test(parsed_in_a_network),
    };
    return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
