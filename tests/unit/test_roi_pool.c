/* Tests for RoIAlign and RoIPool (src/rcnn/roi_pool.c).
 *
 * The hand-computed cases use one 4 x 4 plane.  For align it is the linear
 * map f(y, x) = 4y + x + 1, which bilinear interpolation reproduces exactly,
 * so a bin's value is f at the mean of its four sample points, with the
 * clamping and the outside rule of roi_pool.h worked out by hand below.
 * For max it is a fixed permutation of 1..16 (max_plane).
 *
 * The gradient checks compare the backward pass with central differences of
 * L = sum(out * g) in double precision (helpers/central_difference.c):
 * align is linear in the features, so its differences are exact up to
 * float rounding (step 1e-2); max is piecewise linear and the features are
 * distinct multiples of 1/64, so a step of 1e-3 never changes an argmax.
 * No curvature terms, then; the rounding: only the outputs that read the
 * feature differ between the two evaluations, each at most 2 x 2 samples
 * of 4 bilinear terms with weights summing to 1, so within gamma(20)
 * max|f| of its value (max copies one value: exact); L's double sums add
 * gamma_53(n) sum |g out| each.  The backward pass sums, for one feature,
 * at most 16 taps of each bin that reads it, weights at most 1 a bin:
 * gamma(16 bins + 2) times the sum of |g| over the outputs that moved. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/central_difference.h"
#include "helpers/rounding.h"
#include "rcnn/roi_pool.h"
#include "cpu/parallel.h"
#include "rand/rng.h"


static const float max_plane[16] = {
    3, 9, 1, 14,
    7, 2, 16, 5,
    11, 4, 8, 13,
    6, 15, 10, 12,
};

static void linear_plane(float *p)
{
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) p[y * 4 + x] = 4.f * y + x + 1;
}

static roi_pool_shape shape(roi_pool_mode mode, int batch, int c, int h, int w,
                            float scale, int size)
{
    roi_pool_shape s = {batch, c, h, w, scale, size, mode};
    return s;
}

static roi_box roi_at(int image, float x1, float y1, float x2, float y2)
{
    roi_box b = {image, x1, y1, x2, y2};
    return b;
}

static void assert_floats(const float *got, const float *want, int n, float tol)
{
    for (int i = 0; i < n; ++i) {
        if (fabsf(got[i] - want[i]) > tol) {
            print_error("element %d: got %.9g, want %.9g\n", i, got[i], want[i]);
            fail();
        }
    }
}

/* Pools one ROI of the single 4 x 4 plane with S=2 and checks the bins. */
static void align_one(float scale, roi_box b, const float want[4])
{
    float plane[16], out[4];
    linear_plane(plane);
    roi_pool_shape s = shape(ROI_POOL_ALIGN, 1, 1, 4, 4, scale, 2);
    assert_int_equal(roi_pool_forward(&s, plane, &b, 1, out, NULL), 0);
    assert_floats(out, want, 4, 1e-6f);
}

static void align_hand_computed(void **state)
{
    /* Bins of one pixel: samples at .25 and .75 of each; f at (.5, .5) etc. */
    const float inside[4] = {3.5f, 4.5f, 7.5f, 8.5f};
    align_one(1.f, roi_at(0, 0, 0, 2, 2), inside);
    /* The same ROI given at stride 2: the corners are scaled, not rounded. */
    align_one(0.5f, roi_at(0, 0, 0, 4, 4), inside);
    /* Hot pixel (1, 1) only, ROI (1,1)-(3,3): bin (0,0) sums weights
     * (.75 + .25) x (.75 + .25) over its four samples, /4; the other bins do
     * not reach it. */
    float hot[16] = {0}, out[4];
    hot[5] = 8;
    roi_pool_shape s = shape(ROI_POOL_ALIGN, 1, 1, 4, 4, 0.5f, 2);
    roi_box b = roi_at(0, 2, 2, 6, 6);
    roi_pool_forward(&s, hot, &b, 1, out, NULL);
    const float want_hot[4] = {2, 0, 0, 0};
    assert_floats(out, want_hot, 4, 1e-6f);
}

static void align_minimum_size(void **state)
{
    /* 0.2 x 0.2 pixels grows to 1 x 1: bin 0 samples at 1.125 and 1.375,
     * bin 1 at 1.625 and 1.875. */
    /* Bins of half a pixel: f at the means (1.25 or 1.75) of the samples. */
    const float want[4] = {7.25f, 7.75f, 9.25f, 9.75f};
    align_one(1.f, roi_at(0, 1, 1, 1.2f, 1.2f), want);
    /* Corners in the wrong order: the same, at x1 y1. */
    align_one(1.f, roi_at(0, 1, 1, 0.5f, 0.5f), want);
}

static void align_border(void **state)
{
    /* (2,2)-(6,6): bin (0,0) samples at 2.5 and 3.5, and 3.5 reads row
     * (column) 3: f(2.5,2.5) + f(2.5,3) + f(3,2.5) + f(3,3) = 59, /4.  The
     * other bins sample at 4.5 or 5.5, beyond h = 4: zero. */
    const float far_side[4] = {14.75f, 0, 0, 0};
    align_one(1.f, roi_at(0, 2, 2, 6, 6), far_side);
    /* (-1.5,-1.5)-(.5,.5): samples at -1.25 (outside, 0), -.75 and -.25
     * (read as 0) and .25.  Bin (0,0): only (-.75,-.75) counts: f(0,0)/4.
     * (0,1): f(0,0) + f(0,.25) = 2.25, /4.  (1,0): f(0,0) + f(.25,0) = 3,
     * /4.  (1,1): 1 + 1.25 + 2 + 2.25 = 6.5, /4. */
    const float near_side[4] = {0.25f, 0.5625f, 0.75f, 1.625f};
    align_one(1.f, roi_at(0, -1.5f, -1.5f, 0.5f, 0.5f), near_side);
    const float nothing[4] = {0, 0, 0, 0};
    align_one(1.f, roi_at(0, 10, 10, 20, 20), nothing);
    align_one(1.f, roi_at(0, -30, -30, -1.2f, -1.2f), nothing);
}

/* Pools one ROI of max_plane with S=2, checking values and argmax. */
static void max_one(float scale, roi_box b, const float want[4], const int want_at[4])
{
    float out[4];
    int at[4];
    roi_pool_shape s = shape(ROI_POOL_MAX, 1, 1, 4, 4, scale, 2);
    assert_int_equal(roi_pool_forward(&s, max_plane, &b, 1, out, at), 0);
    assert_floats(out, want, 4, 0);
    assert_memory_equal(at, want_at, sizeof(at));
}

static void max_hand_computed(void **state)
{
    /* (0,0)-(3,3): 4 pixels a side, bins [0,2) and [2,4). */
    const float quad[4] = {9, 16, 15, 13};
    const int quad_at[4] = {1, 6, 13, 11};
    max_one(1.f, roi_at(0, 0, 0, 3, 3), quad, quad_at);
    /* Scale .5: (1,1,4.9,3) -> (.5,.5,2.45,1.5) -> rounded, halves away
     * from zero, to (1,1)-(2,2): one pixel a bin. */
    const float ones[4] = {2, 16, 4, 8};
    const int ones_at[4] = {5, 6, 9, 10};
    max_one(0.5f, roi_at(0, 1, 1, 4.9f, 3), ones, ones_at);
    /* (0,0)-(2,2): 3 pixels a side, bins [0,2) and [1,3) overlap; pixel 6
     * (value 16) wins two bins. */
    const float overlap[4] = {9, 16, 11, 16};
    const int overlap_at[4] = {1, 6, 8, 6};
    max_one(1.f, roi_at(0, 0, 0, 2, 2), overlap, overlap_at);
}

static void max_border_and_outside(void **state)
{
    /* (2,2)-(5,5): bins [2,4) and [4,6) -> [4,4), empty. */
    const float edge[4] = {13, 0, 0, 0};
    const int edge_at[4] = {11, -1, -1, -1};
    max_one(1.f, roi_at(0, 2, 2, 5, 5), edge, edge_at);
    const float nothing[4] = {0, 0, 0, 0};
    const int none[4] = {-1, -1, -1, -1};
    max_one(1.f, roi_at(0, 10, 10, 20, 20), nothing, none);
    max_one(1.f, roi_at(0, -9, -9, -2, -2), nothing, none);
}

/* ROIs that must give zeros and no gradient, in both modes. */
static void unusable_rois(void **state)
{
    const roi_box bad[] = {
        roi_at(0, NAN, 0, 2, 2), roi_at(0, 0, 0, INFINITY, 2), roi_at(0, 0, -INFINITY, 2, 2),
        roi_at(0, -1e30f, -1e30f, 1e30f, 1e30f), roi_at(1, 0, 0, 2, 2), roi_at(-1, 0, 0, 2, 2),
    };
    int n = sizeof(bad) / sizeof(bad[0]);
    float plane[16], out[6 * 4], g[6 * 4], delta[16];
    int at[6 * 4];
    linear_plane(plane);
    for (int i = 0; i < n * 4; ++i) g[i] = 1;
    for (int m = 0; m < 2; ++m) {
        roi_pool_shape s = shape(m ? ROI_POOL_ALIGN : ROI_POOL_MAX, 1, 1, 4, 4, 1.f, 2);
        for (int i = 0; i < n * 4; ++i) { out[i] = 7; at[i] = 7; }
        assert_int_equal(roi_pool_forward(&s, plane, bad, n, out, at), 0);
        for (int i = 0; i < n * 4; ++i) {
            assert_true(out[i] == 0);
            if (!m) assert_int_equal(at[i], -1);
        }
        memset(delta, 0, sizeof(delta));
        assert_int_equal(roi_pool_backward(&s, bad, n, at, g, delta), 0);
        for (int i = 0; i < 16; ++i) assert_true(delta[i] == 0);
    }
}

static void nonfinite_features(void **state)
{
    /* Align: a NaN outside every sample's taps stays out; max: a NaN in the
     * bin is the result. */
    float plane[16];
    linear_plane(plane);
    plane[15] = NAN;
    float out[4];
    int at[4];
    roi_pool_shape s = shape(ROI_POOL_ALIGN, 1, 1, 4, 4, 1.f, 2);
    roi_box b = roi_at(0, 0, 0, 2, 2);
    roi_pool_forward(&s, plane, &b, 1, out, NULL);
    const float inside[4] = {3.5f, 4.5f, 7.5f, 8.5f};
    assert_floats(out, inside, 4, 1e-6f);
    s.mode = ROI_POOL_MAX;
    b = roi_at(0, 2, 2, 3, 3);
    roi_pool_forward(&s, plane, &b, 1, out, at);
    assert_true(isnan(out[3]));
    assert_int_equal(at[3], 15);
    assert_true(out[0] == 11 && at[0] == 10);
}

static void rejects_bad_shapes(void **state)
{
    float f[16] = {0}, out[4];
    int at[4];
    roi_box b = roi_at(0, 0, 0, 2, 2);
    roi_pool_shape s = shape(ROI_POOL_ALIGN, 1, 1, 4, 4, 1.f, 0);
    assert_int_equal(roi_pool_forward(&s, f, &b, 1, out, at), -1);
    s.size = ROI_POOL_MAX_SIZE + 1;
    assert_int_equal(roi_pool_forward(&s, f, &b, 1, out, at), -1);
    s = shape(ROI_POOL_ALIGN, 1, 1, 4, 4, NAN, 2);
    assert_int_equal(roi_pool_check(&s), -1);
    s = shape(ROI_POOL_ALIGN, 1, 0, 4, 4, 1.f, 2);
    assert_int_equal(roi_pool_check(&s), -1);
    s = shape(ROI_POOL_ALIGN, 1, 1, 65536, 65536, 1.f, 2);
    assert_int_equal(roi_pool_check(&s), -1);
    s = shape(ROI_POOL_MAX, 1, 1, 4, 4, 1.f, 2);
    assert_int_equal(roi_pool_forward(&s, f, &b, 1, out, NULL), -1);
    assert_int_equal(roi_pool_backward(&s, &b, 1, NULL, out, f), -1);
    assert_int_equal(roi_pool_forward(&s, f, &b, 0, out, at), 0);
}

/* ---- backward by hand, batches ----------------------------------------------- */

static void backward_adds_by_hand(void **state)
{
    float plane[16], out[4], delta[16];
    int at[4];
    const float g[4] = {1, 2, 3, 4};
    /* Max, the overlapping bins: pixel 6 gets the gradients of two bins. */
    roi_pool_shape s = shape(ROI_POOL_MAX, 1, 1, 4, 4, 1.f, 2);
    roi_box b = roi_at(0, 0, 0, 2, 2);
    roi_pool_forward(&s, max_plane, &b, 1, out, at);
    for (int i = 0; i < 16; ++i) delta[i] = 0.5f;
    roi_pool_backward(&s, &b, 1, at, g, delta);
    float want[16];
    for (int i = 0; i < 16; ++i) want[i] = 0.5f;
    want[1] += 1;
    want[6] += 2 + 4;
    want[8] += 3;
    assert_floats(delta, want, 16, 0);

    /* Align, (0,0)-(2,2): bin (0,0) spreads 1/4 of its gradient on each of
     * pixels 0 1 4 5 (the weights of each sum to 1 over the samples), bin
     * (0,1) on pixels 1 2 5 6. */
    const float g2[4] = {1, 2, 0, 0};
    linear_plane(plane);
    s.mode = ROI_POOL_ALIGN;
    roi_pool_forward(&s, plane, &b, 1, out, NULL);
    for (int i = 0; i < 16; ++i) delta[i] = want[i] = 1;
    roi_pool_backward(&s, &b, 1, NULL, g2, delta);
    want[0] += 0.25f;
    want[1] += 0.75f;
    want[2] += 0.5f;
    want[4] += 0.25f;
    want[5] += 0.75f;
    want[6] += 0.5f;
    assert_floats(delta, want, 16, 1e-6f);
}

/* Two images of two channels: the ROI reads image 1 only, and its gradient
 * lands there only. */
static void batch_offsets(void **state)
{
    float f[2 * 2 * 16], out[2 * 4], delta[2 * 2 * 16] = {0};
    int at[2 * 4];
    for (int i = 0; i < 64; ++i) f[i] = -100;
    linear_plane(f + 2 * 16);
    memcpy(f + 3 * 16, max_plane, sizeof(max_plane));
    roi_box b = roi_at(1, 0, 0, 3, 3);
    roi_pool_shape s = shape(ROI_POOL_MAX, 2, 2, 4, 4, 1.f, 2);
    roi_pool_forward(&s, f, &b, 1, out, at);
    const float quad[4] = {9, 16, 15, 13};
    assert_floats(out + 4, quad, 4, 0);
    const float g[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    roi_pool_backward(&s, &b, 1, at, g, delta);
    for (int i = 0; i < 64; ++i) {
        int hit = i == 48 + 1 || i == 48 + 6 || i == 48 + 13 || i == 48 + 11;
        assert_true(delta[i] == (hit ? 1.f : 0.f));
    }
    s.mode = ROI_POOL_ALIGN;
    b = roi_at(1, 0, 0, 2, 2);
    roi_pool_forward(&s, f, &b, 1, out, NULL);
    const float inside[4] = {3.5f, 4.5f, 7.5f, 8.5f};
    assert_floats(out, inside, 4, 1e-6f);
}

/* ---- random rigs: gradients, adjoints, threads ---------------------------------- */

typedef struct rig {
    roi_pool_shape s;
    int n;
    float *f, *g, *out, *delta;
    int *at;
    roi_box *rois;
} rig;

/* Random ROIs over (and past) an image of the map's size at this scale,
 * some with their corners in the wrong order. */
static rig make_rig(roi_pool_mode mode, int batch, int c, int h, int w, int size, int n, uint64_t seed)
{
    rig r = {0};
    r.s = shape(mode, batch, c, h, w, 0.25f, size);
    r.n = n;
    size_t feats = (size_t)batch * c * h * w, outs = roi_pool_outputs(&r.s, n);
    r.f = malloc(feats * sizeof(float));
    r.delta = calloc(feats, sizeof(float));
    r.g = malloc(outs * sizeof(float));
    r.out = malloc(outs * sizeof(float));
    r.at = malloc(outs * sizeof(int));
    r.rois = malloc(n * sizeof(roi_box));
    rng g;
    rng_seed(&g, seed, 0);
    float iw = w / r.s.spatial_scale, ih = h / r.s.spatial_scale;
    for (int i = 0; i < n; ++i) {
        float x1 = rng_uniform_range(&g, -0.2f * iw, iw), y1 = rng_uniform_range(&g, -0.2f * ih, ih);
        float x2 = x1 + rng_uniform_range(&g, -2, iw), y2 = y1 + rng_uniform_range(&g, -2, ih);
        r.rois[i] = roi_at((int)rng_below(&g, batch), x1, y1, x2, y2);
    }
    /* Distinct multiples of 1/64 in a random order: no ties for max. */
    for (size_t i = 0; i < feats; ++i) r.f[i] = (float)i / 64 - 2;
    for (size_t i = feats - 1; i > 0; --i) {
        size_t j = rng_below(&g, (uint32_t)i + 1);
        float t = r.f[i]; r.f[i] = r.f[j]; r.f[j] = t;
    }
    for (size_t i = 0; i < outs; ++i) r.g[i] = rng_normal(&g);
    return r;
}

static void free_rig(rig *r)
{
    free(r->f); free(r->g); free(r->out); free(r->delta); free(r->at); free(r->rois);
}

static double rig_loss(rig *r)
{
    assert_int_equal(roi_pool_forward(&r->s, r->f, r->rois, r->n, r->out, r->at), 0);
    double sum = 0;
    size_t outs = roi_pool_outputs(&r->s, r->n);
    for (size_t i = 0; i < outs; ++i) sum += (double)r->out[i] * r->g[i];
    return sum;
}

static void rig_backward(rig *r)
{
    rig_loss(r);
    memset(r->delta, 0, (size_t)r->s.batch * r->s.c * r->s.h * r->s.w * sizeof(float));
    assert_int_equal(roi_pool_backward(&r->s, r->rois, r->n, r->at, r->g, r->delta), 0);
}

static void gradient_check(roi_pool_mode mode, float step)
{
    rig r = make_rig(mode, 2, 3, 7, 9, 3, 12, mode == ROI_POOL_MAX ? 11 : 12);
    rig_backward(&r);
    int feats = 2 * 3 * 7 * 9, nonzero = 0;
    size_t outs = roi_pool_outputs(&r.s, r.n);
    float *out_up = malloc(outs * sizeof(float));
    double largest = 0;
    for (int i = 0; i < feats; ++i) largest = fmax(largest, fabs(r.f[i]) + step);
    for (int i = 0; i < feats; ++i) {
        float keep = r.f[i], up = keep + step, down = keep - step;
        r.f[i] = up;
        double lp = rig_loss(&r);
        memcpy(out_up, r.out, outs * sizeof(float));
        r.f[i] = down;
        double lm = rig_loss(&r);
        r.f[i] = keep;
        double moved = 0, gout = 0;
        int bins = 0;
        for (size_t j = 0; j < outs; ++j) {
            if (out_up[j] != r.out[j]) moved += fabs(r.g[j]), ++bins;
            gout += fabs(r.g[j] * r.out[j]) + fabs(r.g[j] * out_up[j]);
        }
        fd_terms t = {pooled_sum_rounding(mode != ROI_POOL_MAX, largest, moved, outs, gout), 0, 0, 0,
                      rounding_gamma(16 * bins + 2) * moved};
        fd_check(mode == ROI_POOL_MAX ? "max: dL/dfeature" : "align: dL/dfeature", i, lp, lm, keep, up, down,
                 r.delta[i], t);
        nonzero += r.delta[i] != 0;
    }
    free(out_up);
    /* The ROIs must reach a fair part of the map for the check to mean
     * much: max sends gradient to one pixel a bin only. */
    if (nonzero <= feats / (mode == ROI_POOL_MAX ? 8 : 3)) {
        print_error("only %d of %d features get a gradient\n", nonzero, feats);
        fail();
    }
    free_rig(&r);
}

static void align_matches_finite_differences(void **state)
{
    gradient_check(ROI_POOL_ALIGN, 1e-2f);
}

static void max_matches_finite_differences(void **state)
{
    gradient_check(ROI_POOL_MAX, 1e-3f);
}

/* Both modes are linear in the features for fixed ROIs (max for a fixed
 * argmax), so sum(out * g) = sum(features * delta).  S=64 makes align's
 * backward build its tables in several chunks of ROIs. */
static void adjoint_identity(void **state)
{
    for (int m = 0; m < 2; ++m) {
        rig r = make_rig(m ? ROI_POOL_ALIGN : ROI_POOL_MAX, 2, 2, 10, 8, ROI_POOL_MAX_SIZE, 20, 5);
        rig_backward(&r);
        double lhs = rig_loss(&r), rhs = 0;
        for (int i = 0; i < 2 * 2 * 10 * 8; ++i) rhs += (double)r.f[i] * r.delta[i];
        assert_true(fabs(lhs - rhs) <= 1e-4 * (1 + fabs(lhs)));
        assert_true(fabs(lhs) > 1);
        free_rig(&r);
    }
}

/* Running backward again adds the same gradient once more. */
static void backward_accumulates(void **state)
{
    for (int m = 0; m < 2; ++m) {
        rig r = make_rig(m ? ROI_POOL_ALIGN : ROI_POOL_MAX, 2, 3, 7, 9, 3, 12, 8);
        rig_backward(&r);
        int feats = 2 * 3 * 7 * 9;
        float *once = malloc(feats * sizeof(float));
        memcpy(once, r.delta, feats * sizeof(float));
        roi_pool_backward(&r.s, r.rois, r.n, r.at, r.g, r.delta);
        /* Term by term, so equal to twice the first pass up to rounding. */
        for (int i = 0; i < feats; ++i)
            assert_true(fabsf(r.delta[i] - 2 * once[i]) <= 1e-5f * (1 + fabsf(once[i])));
        free(once);
        free_rig(&r);
    }
}

/* Forward and backward give the same bits on one thread and on several. */
static void same_bits_any_thread_count(void **state)
{
    int threads = dn_threads();
    for (int m = 0; m < 2; ++m) {
        rig r = make_rig(m ? ROI_POOL_ALIGN : ROI_POOL_MAX, 2, 8, 12, 12, 7, 64, 9);
        size_t outs = roi_pool_outputs(&r.s, r.n), feats = 2 * 8 * 12 * 12;
        dn_set_threads(1);
        rig_backward(&r);
        float *out1 = malloc(outs * sizeof(float)), *delta1 = malloc(feats * sizeof(float));
        memcpy(out1, r.out, outs * sizeof(float));
        memcpy(delta1, r.delta, feats * sizeof(float));
        dn_set_threads(3);
        rig_backward(&r);
        assert_memory_equal(out1, r.out, outs * sizeof(float));
        assert_memory_equal(delta1, r.delta, feats * sizeof(float));
        free(out1);
        free(delta1);
        free_rig(&r);
    }
    dn_set_threads(threads);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(align_hand_computed),
        cmocka_unit_test(align_minimum_size),
        cmocka_unit_test(align_border),
        cmocka_unit_test(max_hand_computed),
        cmocka_unit_test(max_border_and_outside),
        cmocka_unit_test(unusable_rois),
        cmocka_unit_test(nonfinite_features),
        cmocka_unit_test(rejects_bad_shapes),
        cmocka_unit_test(backward_adds_by_hand),
        cmocka_unit_test(batch_offsets),
        cmocka_unit_test(align_matches_finite_differences),
        cmocka_unit_test(max_matches_finite_differences),
        cmocka_unit_test(adjoint_identity),
        cmocka_unit_test(backward_accumulates),
        cmocka_unit_test(same_bits_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
