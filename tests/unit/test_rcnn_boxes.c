/* Tests for the two-stage box mathematics (src/rcnn/rcnn_boxes.c) on cases
 * worked out by hand, sampling caps on large random cases, and central
 * difference checks of both loss gradients.
 *
 * Run as `test_rcnn_boxes --dump CASES RESULTS`, the binary instead reads
 * the random cases that tests/ref/rcnn_boxes_ref.py writes and writes the C
 * results for it to compare (tests/cli/test_rcnn_boxes_ref.sh). */
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
#include "rcnn/rcnn_boxes.h"

static rb_box B(float x1, float y1, float x2, float y2)
{
    rb_box b = {x1, y1, x2, y2};
    return b;
}

static void near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.9g, expected %.9g (tolerance %g)", what, got, want, tol);
}

static void near_box(rb_box got, rb_box want, double tol, const char *what)
{
    near(got.x1, want.x1, tol, what);
    near(got.y1, want.y1, tol, what);
    near(got.x2, want.x2, tol, what);
    near(got.y2, want.y2, tol, what);
}

/* A box with its corner in [0, at) and sides in [side_lo, side_hi), one
 * draw per statement so that the order of the draws is fixed. */
static rb_box random_box(rng *r, float at, float side_lo, float side_hi)
{
    rb_box b;
    b.x1 = rng_uniform_range(r, 0, at);
    b.y1 = rng_uniform_range(r, 0, at);
    b.x2 = b.x1 + rng_uniform_range(r, side_lo, side_hi);
    b.y2 = b.y1 + rng_uniform_range(r, side_lo, side_hi);
    return b;
}

static const rb_weights UNIT = {1, 1, 1, 1};
static const rb_weights SECOND = {10, 10, 5, 5};

/* ---- IoU ------------------------------------------------------------------ */

static void iou_matches_hand_values(void **state)
{
    rb_box a = B(0, 0, 10, 10);
    near(rb_iou(a, B(5, 0, 15, 10)), 1.0 / 3, 1e-7, "half shifted: 50/150");
    near(rb_iou(a, B(5, 5, 15, 15)), 1.0 / 7, 1e-7, "corner: 25/175");
    near(rb_iou(a, B(2, 2, 4, 4)), 0.04, 1e-7, "inside: 4/100");
    near(rb_iou(a, a), 1, 0, "itself");
    near(rb_iou(a, B(10, 0, 20, 10)), 0, 0, "touching edges");
    near(rb_iou(a, B(30, 30, 40, 40)), 0, 0, "apart");
    near(rb_iou(a, B(0, 0, 10, 5)), 0.5, 0, "half: exactly 0.5");
    /* widths are x2 - x1, no +1: a 1-pixel shift of a 2-wide box leaves 1/3 */
    near(rb_iou(B(0, 0, 2, 2), B(1, 0, 3, 2)), 1.0 / 3, 1e-7, "no +1 in widths");
}

static void iou_of_unusable_boxes_is_zero(void **state)
{
    rb_box a = B(0, 0, 10, 10);
    assert_true(rb_iou(a, B(5, 5, 5, 9)) == 0);               /* zero width */
    assert_true(rb_iou(a, B(8, 0, 2, 10)) == 0);              /* x2 < x1 */
    assert_true(rb_iou(a, B(NAN, 0, 10, 10)) == 0);
    assert_true(rb_iou(B(0, 0, INFINITY, 10), a) == 0);
    assert_false(rb_box_usable(B(0, 0, 0, 10)));
    assert_false(rb_box_usable(B(0, -INFINITY, 1, 1)));
    assert_true(rb_box_usable(a));
}

static void iou_matrix_is_rows_by_columns(void **state)
{
    rb_box a[2] = {B(0, 0, 10, 10), B(5, 5, 15, 15)};
    rb_box b[3] = {B(0, 0, 10, 10), B(5, 0, 15, 10), B(50, 50, 60, 60)};
    float m[6];
    rb_iou_matrix(a, 2, b, 3, m);
    near(m[0], 1, 0, "a0 b0");
    near(m[1], 1.0 / 3, 1e-7, "a0 b1");
    near(m[2], 0, 0, "a0 b2");
    near(m[3], 1.0 / 7, 1e-7, "a1 b0");
    near(m[4], 1.0 / 3, 1e-7, "a1 b1: 50/150");
    near(m[5], 0, 0, "a1 b2");
}

/* ---- anchors ---------------------------------------------------------------- */

static void anchors_are_centred_on_cells_in_documented_order(void **state)
{
    float sizes[2] = {64, 128}, ratios[3] = {0.5f, 1, 2};
    rb_box a[2 * 3 * 6];
    assert_int_equal(rb_make_anchors(sizes, 2, ratios, 3, 16, 2, 3, a), 36);
    /* cell (y 1, x 2): centre (40, 24), anchors 30..35 */
    const rb_box *cell = a + (1 * 3 + 2) * 6;
    for (int k = 0; k < 6; ++k) {
        near((cell[k].x1 + cell[k].x2) / 2, 40, 1e-5, "centre x");
        near((cell[k].y1 + cell[k].y2) / 2, 24, 1e-5, "centre y");
        double w = cell[k].x2 - cell[k].x1, h = cell[k].y2 - cell[k].y1;
        double size = sizes[k % 2], ratio = ratios[k / 2];
        near(w * h, size * size, 1e-2, "area size^2");
        near(h / w, ratio, 1e-5, "h / w = ratio");
    }
    /* anchor 0 of cell 0: ratio 0.5, size 64: w 64*sqrt(2), h 64/sqrt(2) */
    rb_box first = B(8 - 45.254834f, 8 - 22.627417f, 8 + 45.254834f, 8 + 22.627417f);
    near_box(a[0], first, 1e-4, "first");
    /* anchor 3 of cell 0: ratio 1, size 128 */
    near_box(a[3], B(-56, -56, 72, 72), 1e-5, "ratio 1 size 128");
    float bad = -1;
    assert_int_equal(rb_make_anchors(sizes, 2, ratios, 3, 0, 2, 3, a), -1);
    assert_int_equal(rb_make_anchors(&bad, 1, ratios, 3, 16, 2, 3, a), -1);
    assert_int_equal(rb_make_anchors(sizes, 0, ratios, 3, 16, 2, 3, a), -1);
    /* 6 * 100000^2 anchors would overflow the count: refused, nothing written */
    assert_int_equal(rb_make_anchors(sizes, 2, ratios, 3, 16, 100000, 100000, a), -1);
}

/* ---- encoding ---------------------------------------------------------------- */

static void encoding_matches_hand_values(void **state)
{
    /* ref centre (5, 10) size 10x20; target centre (8, 14) size 12x20 */
    float d[4];
    assert_int_equal(rb_encode(B(0, 0, 10, 20), B(2, 4, 14, 24), UNIT, d), 0);
    near(d[0], 0.3, 1e-7, "dx");
    near(d[1], 0.2, 1e-7, "dy");
    near(d[2], log(1.2), 1e-7, "dw");
    near(d[3], 0, 1e-7, "dh");
    assert_int_equal(rb_encode(B(0, 0, 10, 20), B(2, 4, 14, 24), SECOND, d), 0);
    near(d[0], 3, 1e-6, "10 dx");
    near(d[1], 2, 1e-6, "10 dy");
    near(d[2], 5 * log(1.2), 1e-6, "5 dw");
    assert_int_equal(rb_encode(B(0, 0, 0, 20), B(2, 4, 14, 24), UNIT, d), -1);
    assert_true(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0);
    assert_int_equal(rb_encode(B(0, 0, 10, 20), B(NAN, 4, 14, 24), UNIT, d), -1);
}

static void encode_then_decode_gives_the_box_back(void **state)
{
    rng r;
    rng_seed(&r, 7, 0);
    rb_weights ws[2] = {UNIT, SECOND};
    /* sizes within a factor 30 of each other, under the clamp's 62.5 */
    for (int i = 0; i < 500; ++i) {
        rb_box ref = random_box(&r, 500, 10, 300);
        rb_box t = random_box(&r, 500, 10, 300);
        float d[4];
        assert_int_equal(rb_encode(ref, t, ws[i % 2], d), 0);
        /* float coordinates up to 800: a few ulps of 800 */
        near_box(rb_decode(ref, d, ws[i % 2]), t, 5e-4, "round trip");
    }
}

static void decoding_clamps_the_size_and_survives_bad_deltas(void **state)
{
    rb_box ref = B(0, 0, 10, 20);
    float big[4] = {0, 0, 100, 100};
    rb_box b = rb_decode(ref, big, UNIT);
    /* exp(log(1000/16)) = 62.5 times the reference, around its centre */
    near(b.x2 - b.x1, 625, 1e-2, "clamped width");
    near(b.y2 - b.y1, 1250, 1e-2, "clamped height");
    near((b.x1 + b.x2) / 2, 5, 1e-3, "centre kept");
    /* the clamp applies after the weight: 5 * 4 = 20 is clamped too */
    b = rb_decode(ref, big, SECOND);
    near(b.x2 - b.x1, 625, 1e-2, "clamped width, weight 5");
    float small[4] = {0, 0, 20, 0};
    b = rb_decode(ref, small, SECOND);
    near(b.x2 - b.x1, 10 * exp(4), 1e-3, "below the clamp");
    float bad[4] = {NAN, INFINITY, -INFINITY, NAN};
    near_box(rb_decode(ref, bad, UNIT), ref, 0, "non-finite deltas count as 0");
    rb_box none = B(5, 5, 5, 5);
    float zero[4] = {1, 1, 1, 1};
    near_box(rb_decode(none, zero, UNIT), none, 0, "unusable reference given back");
}

static void clipping_keeps_boxes_in_the_image(void **state)
{
    near_box(rb_clip(B(-5, 3, 700, 900), 640, 480), B(0, 3, 640, 480), 0, "clip");
    near_box(rb_clip(B(NAN, 3, INFINITY, -INFINITY), 640, 480), B(0, 3, 640, 0), 0, "non-finite");
    rb_box out = rb_clip(B(700, 10, 800, 20), 640, 480);
    assert_true(out.x1 == 640 && out.x2 == 640);
    assert_false(rb_box_usable(out));
}

/* ---- selection ---------------------------------------------------------------- */

/* The NMS case (scores in brackets):
 *   0 [0 0 10 10] (.9)    1 [1 0 11 10] (.8)     2 [20 20 30 30] (.7)
 *   3 [0 0 10 10] (.9)    4 [5 0 15 10] (.95)    5 [20 20 30 30] (NaN)
 *   6 [21 20 31 30] (.6)  7 [5 5 5 9] (1, empty)
 * Score order: 7 (never kept), 4, 0, 3 (tie with 0: index order), 1, 2, 6.
 * IoUs: 4-0 1/3, 4-1 60/140, 0-3 1, 0-1 90/110, 2-6 90/110. */
static const float NMS_SCORES[8] = {.9f, .8f, .7f, .9f, .95f, NAN, .6f, 1};

static void nms_boxes(rb_box *b)
{
    b[0] = B(0, 0, 10, 10);
    b[1] = B(1, 0, 11, 10);
    b[2] = B(20, 20, 30, 30);
    b[3] = B(0, 0, 10, 10);
    b[4] = B(5, 0, 15, 10);
    b[5] = B(20, 20, 30, 30);
    b[6] = B(21, 20, 31, 30);
    b[7] = B(5, 5, 5, 9);
}

static void nms_matches_hand_case(void **state)
{
    rb_box b[8];
    int keep[8];
    nms_boxes(b);
    assert_int_equal(rb_nms(b, NMS_SCORES, 8, 0.5f, 0, keep), 3);
    assert_int_equal(keep[0], 4);
    assert_int_equal(keep[1], 0);   /* ties with 3; the lower index wins */
    assert_int_equal(keep[2], 2);
    assert_int_equal(rb_nms(b, NMS_SCORES, 8, 0.5f, 2, keep), 2);
    assert_int_equal(keep[1], 0);
    /* at 0.3 the 1/3 overlap of 0 with 4 suppresses it too */
    assert_int_equal(rb_nms(b, NMS_SCORES, 8, 0.3f, 0, keep), 2);
    assert_int_equal(keep[0], 4);
    assert_int_equal(keep[1], 2);
    /* an IoU equal to the threshold does not suppress */
    rb_box pair[2] = {B(0, 0, 10, 10), B(0, 0, 10, 5)};
    float s[2] = {1, 1};
    assert_int_equal(rb_nms(pair, s, 2, 0.5f, 0, keep), 2);
    assert_int_equal(rb_nms(pair, s, 2, 0.49f, 0, keep), 1);
    assert_int_equal(rb_nms(pair, s, 0, 0.5f, 0, keep), 0);
}

static void top_n_orders_by_score_then_index(void **state)
{
    int idx[8];
    assert_int_equal(rb_top_n(NMS_SCORES, 8, 4, idx), 4);
    assert_int_equal(idx[0], 7);
    assert_int_equal(idx[1], 4);
    assert_int_equal(idx[2], 0);
    assert_int_equal(idx[3], 3);
    /* NaN is never chosen: 7 of the 8 at most */
    assert_int_equal(rb_top_n(NMS_SCORES, 8, 100, idx), 7);
    assert_int_equal(idx[6], 6);
    assert_int_equal(rb_top_n(NMS_SCORES, 8, 0, idx), 0);
}

/* ---- RPN anchor labels ------------------------------------------------------ */

/* Image 100x100.  Truths: t0 [0 0 20 20], t1 [50 50 62 60], t2 [5 5 5 5]
 * (zero area, skipped), t3 [75 70 95 90] (overlaps no inside anchor),
 * t4 [0 30 40 40].
 *   a0  [0 0 10 10]     t0 .25                      negative
 *   a1  [0 0 20 20]     t0 1                        positive, t0
 *   a2  [50 50 60 60]   t1 100/120                  positive, t1
 *   a3  [90 90 110 110] crosses the border          ignored, -1
 *   a4  [40 40 60 60]   t1 100/420                  negative, t1
 *   a5  NaN                                         ignored, -1
 *   a6  [80 0 100 20]   nothing (best: t0 at 0)     negative, t0
 *   a7  [0 30 10 40]    t4 .25, tied best of t4     positive, t4
 *   a8  [30 30 40 40]   t4 .25, tied best of t4     positive, t4
 *   a9  [0 0 20 14]     t0 280/400 = .7 exactly     positive, t0
 *   a10 [0 0 20 10]     t0 .5                       ignored, t0 */
static void rpn_assignment_matches_hand_case(void **state)
{
    rb_box anchors[11] = {B(0, 0, 10, 10), B(0, 0, 20, 20), B(50, 50, 60, 60),
                          B(90, 90, 110, 110), B(40, 40, 60, 60), B(NAN, 0, 10, 10),
                          B(80, 0, 100, 20), B(0, 30, 10, 40), B(30, 30, 40, 40),
                          B(0, 0, 20, 14), B(0, 0, 20, 10)};
    rb_box truths[5] = {B(0, 0, 20, 20), B(50, 50, 62, 60), B(5, 5, 5, 5), B(75, 70, 95, 90),
                        B(0, 30, 40, 40)};
    int want_label[11] = {0, 1, 1, -1, 0, -1, 0, 1, 1, 1, -1};
    int want_match[11] = {0, 0, 1, -1, 1, -1, 0, 4, 4, 0, 0};
    int labels[11], matched[11];
    rb_rpn_params p = rb_rpn_defaults();
    assert_int_equal(rb_rpn_assign(anchors, 11, truths, 5, 100, 100, &p, labels, matched), 5);
    for (int i = 0; i < 11; ++i) {
        if (labels[i] != want_label[i] || matched[i] != want_match[i])
            fail_msg("anchor %d: label %d matched %d, expected %d and %d", i, labels[i],
                     matched[i], want_label[i], want_match[i]);
    }
    /* allowing 10 pixels outside takes a3 in: it is the best for no truth,
     * and overlaps nothing, so it becomes negative */
    p.border = 10;
    assert_int_equal(rb_rpn_assign(anchors, 11, truths, 5, 100, 100, &p, labels, NULL), 5);
    assert_int_equal(labels[3], RB_NEGATIVE);
}

static void rpn_assignment_without_truths_is_all_negative(void **state)
{
    rb_box anchors[3] = {B(0, 0, 10, 10), B(90, 90, 110, 110), B(20, 20, 30, 30)};
    rb_box bad[2] = {B(1, 1, 1, 5), B(NAN, NAN, NAN, NAN)};
    int labels[3], matched[3];
    rb_rpn_params p = rb_rpn_defaults();
    assert_int_equal(rb_rpn_assign(anchors, 3, bad, 2, 100, 100, &p, labels, matched), 0);
    assert_int_equal(labels[0], RB_NEGATIVE);
    assert_int_equal(labels[1], RB_IGNORE);
    assert_int_equal(labels[2], RB_NEGATIVE);
    assert_int_equal(matched[0], -1);
    assert_int_equal(rb_rpn_assign(anchors, 3, NULL, 0, 100, 100, &p, labels, matched), 0);
    assert_int_equal(labels[2], RB_NEGATIVE);
}

static int count_label(const int *labels, int n, int label)
{
    int c = 0;
    for (int i = 0; i < n; ++i) c += labels[i] == label;
    return c;
}

/* Labels with n_pos positives and n_neg negatives spread among ignored ones. */
static void spread_labels(int *labels, int n, int n_pos, int n_neg)
{
    for (int i = 0; i < n; ++i) labels[i] = RB_IGNORE;
    for (int i = 0; i < n_pos; ++i) labels[(i * 7) % n] = RB_POSITIVE;
    for (int i = 0, k = 0; k < n_neg; ++i) {
        if (labels[i] == RB_IGNORE) {
            labels[i] = RB_NEGATIVE;
            k++;
        }
    }
}

static void rpn_sampling_keeps_256_at_most_half_positive(void **state)
{
    enum { N = 6000 };
    static int labels[N], before[N], again[N];
    rb_rpn_params p = rb_rpn_defaults();
    int pos_counts[3] = {1000, 20, 0}, neg_counts[3] = {4000, 4000, 100};
    int want_pos[3] = {128, 20, 0}, want_neg[3] = {128, 236, 100};
    for (int c = 0; c < 3; ++c) {
        spread_labels(labels, N, pos_counts[c], neg_counts[c]);
        memcpy(before, labels, sizeof(labels));
        rng r;
        rng_seed(&r, 11, c);
        int n_pos, n_neg;
        rb_rpn_sample(labels, N, &p, &r, &n_pos, &n_neg);
        assert_int_equal(n_pos, want_pos[c]);
        assert_int_equal(n_neg, want_neg[c]);
        assert_int_equal(count_label(labels, N, RB_POSITIVE), n_pos);
        assert_int_equal(count_label(labels, N, RB_NEGATIVE), n_neg);
        assert_true(n_pos + n_neg <= 256 && n_pos <= 128);
        for (int i = 0; i < N; ++i) {
            if (labels[i] != RB_IGNORE) assert_int_equal(labels[i], before[i]);
        }
        /* the same seed draws the same anchors */
        memcpy(again, before, sizeof(labels));
        rng_seed(&r, 11, c);
        rb_rpn_sample(again, N, &p, &r, NULL, NULL);
        assert_memory_equal(again, labels, sizeof(labels));
    }
    /* another seed draws other ones */
    spread_labels(labels, N, 1000, 4000);
    memcpy(again, labels, sizeof(labels));
    rng r;
    rng_seed(&r, 1, 0);
    rb_rpn_sample(labels, N, &p, &r, NULL, NULL);
    rng_seed(&r, 2, 0);
    rb_rpn_sample(again, N, &p, &r, NULL, NULL);
    assert_memory_not_equal(again, labels, sizeof(labels));
}

/* Assignment then sampling on a real anchor grid with random truths. */
static void rpn_assign_and_sample_on_a_grid(void **state)
{
    enum { H = 38, W = 50, A = 9 };
    float sizes[3] = {128, 256, 512}, ratios[3] = {0.5f, 1, 2};
    static rb_box anchors[H * W * A];
    static int labels[H * W * A], matched[H * W * A];
    assert_int_equal(rb_make_anchors(sizes, 3, ratios, 3, 16, H, W, anchors), H * W * A);
    rng r;
    rng_seed(&r, 3, 0);
    for (int trial = 0; trial < 5; ++trial) {
        rb_box truths[6];
        for (int k = 0; k < 6; ++k) truths[k] = random_box(&r, 400, 30, 200);
        rb_rpn_params p = rb_rpn_defaults();
        int pos = rb_rpn_assign(anchors, H * W * A, truths, 6, W * 16, H * 16, &p, labels, matched);
        assert_true(pos >= 1);   /* a truth overlapping an inside anchor has a best one */
        int n_pos, n_neg;
        rb_rpn_sample(labels, H * W * A, &p, &r, &n_pos, &n_neg);
        assert_true(n_pos <= 128 && n_pos + n_neg == 256);
        assert_int_equal(count_label(labels, H * W * A, RB_POSITIVE), n_pos);
        for (int i = 0; i < H * W * A; ++i) {
            if (labels[i] == RB_POSITIVE) assert_in_range(matched[i], 0, 5);
        }
    }
}

/* ---- second stage: RoI sampling -------------------------------------------- */

/* Truths t0 [0 0 10 10] class 3, t1 [50 50 60 60] class 7, and one with
 * class -1 (skipped).  Proposals: p0 [0 0 10 8] (IoU .8 with t0), p1
 * [100 100 110 110] (nothing), p2 [0 0 10 4] (.4, background), p3 NaN.
 * Candidates: p0 p1 p2 t0 t1; foreground p0 t0 t1, background p1 p2. */
static void roi_sampling_matches_hand_case(void **state)
{
    rb_box props[4] = {B(0, 0, 10, 8), B(100, 100, 110, 110), B(0, 0, 10, 4), B(NAN, 0, 1, 1)};
    rb_box truths[3] = {B(0, 0, 10, 10), B(50, 50, 60, 60), B(20, 20, 30, 30)};
    int classes[3] = {3, 7, -1};
    rb_box rois[128], targets[128];
    int labels[128], matched[128];
    rb_roi_params p = rb_roi_defaults();
    rng r;
    rng_seed(&r, 5, 0);
    int n = rb_sample_rois(props, 4, truths, classes, 3, &p, &r, rois, labels, targets, matched);
    assert_int_equal(n, 5);
    int want_label[5] = {4, 4, 8, 0, 0}, want_match[5] = {0, 0, 1, 0, 0};
    rb_box want_roi[5] = {props[0], truths[0], truths[1], props[1], props[2]};
    for (int k = 0; k < 5; ++k) {
        assert_int_equal(labels[k], want_label[k]);
        assert_int_equal(matched[k], want_match[k]);
        near_box(rois[k], want_roi[k], 0, "roi");
    }
    near_box(targets[0], truths[0], 0, "target of p0");
    near_box(targets[2], truths[1], 0, "target of t1");
    /* without any truth every usable proposal is background */
    n = rb_sample_rois(props, 4, NULL, NULL, 0, &p, &r, rois, labels, targets, matched);
    assert_int_equal(n, 3);
    assert_int_equal(count_label(labels, n, 0), 3);
    assert_int_equal(matched[0], -1);
    near_box(targets[1], props[1], 0, "no truth: the RoI itself");
}

static void roi_sampling_keeps_128_at_most_a_quarter_foreground(void **state)
{
    enum { NP = 2000 };
    static rb_box props[NP], rois[128], targets[128];
    static int labels[128], matched[128];
    rb_box truths[2] = {B(100, 100, 200, 200), B(300, 100, 400, 260)};
    int classes[2] = {0, 1};
    rng r;
    rng_seed(&r, 9, 0);
    for (int i = 0; i < NP; ++i) {
        rb_box t = truths[i % 2];
        float jitter = i < NP / 2 ? 5 : 80;   /* half near a truth, half far */
        float dx = rng_uniform_range(&r, -jitter, jitter);
        float dy = rng_uniform_range(&r, -jitter, jitter);
        props[i] = B(t.x1 + dx, t.y1 + dy, t.x2 + dx, t.y2 + dy);
    }
    rb_roi_params p = rb_roi_defaults();
    int n = rb_sample_rois(props, NP, truths, classes, 2, &p, &r, rois, labels, targets, matched);
    assert_int_equal(n, 128);
    int fg = n - count_label(labels, n, 0);
    assert_int_equal(fg, 32);
    for (int k = 0; k < n; ++k) {
        float o = rb_iou(rois[k], targets[k]);
        if (k < fg) {
            assert_true(o >= 0.5f);
            assert_int_equal(labels[k], classes[matched[k]] + 1);
        } else {
            assert_true(o < 0.5f);
            assert_int_equal(labels[k], 0);
        }
    }
    /* few foreground candidates: all of them, and background fills the rest */
    n = rb_sample_rois(props + NP / 2, NP / 2, truths, classes, 2, &p, &r, rois, labels, targets,
                       matched);
    fg = n - count_label(labels, n, 0);
    assert_true(fg >= 2 && fg <= 32);
    assert_true(n <= 128);
}

/* ---- losses ---------------------------------------------------------------- */

static void losses_match_hand_values(void **state)
{
    float x[2] = {0, 0}, t[2] = {1, 0};
    near(rb_sigmoid_ce(x, t, NULL, 2, 2, NULL), log(2), 1e-7, "ce at 0: log 2");
    /* large logits: the stable form neither overflows nor loses the value */
    float big[4] = {100, -100, 1e4f, -1e4f}, bt[4] = {0, 1, 1, 0}, g[4];
    near(rb_sigmoid_ce(big, bt, NULL, 4, 1, g), 200, 1e-4, "ce at +-100, +-1e4");
    near(g[0], 1, 1e-7, "grad, confidently wrong");
    near(g[1], -1, 1e-7, "grad, confidently wrong");
    near(g[2], 0, 1e-7, "grad, confidently right");
    float w[2] = {0, 1}, bad[2] = {NAN, 2}, tb[2] = {1, 1};
    near(rb_sigmoid_ce(bad, tb, w, 2, NAN, g), log1p(exp(-2.0)), 1e-7, "weight 0 and NaN left out");
    assert_true(g[0] == 0);
    float d[4] = {0.5f, 2, 0.05f, 1}, zero[4] = {0};
    near(rb_smooth_l1(d, zero, NULL, 2, 1, 1, NULL), 0.125 + 1.5, 1e-7, "smooth l1, beta 1");
    near(rb_smooth_l1(d + 2, zero, NULL, 2, 1.0f / 9, 1, g), 0.05 * 0.05 * 4.5 + 1 - 1.0 / 18, 1e-6,
         "smooth l1, beta 1/9");
    near(g[0], 0.45, 1e-6, "quadratic side: d / beta");
    near(g[1], 1, 0, "linear side: sign");
    near(rb_smooth_l1(d, zero, NULL, 2, 0, 1, NULL), 2.5, 1e-7, "beta 0: plain L1");
}

/* Central differences in double precision on one entry at a time
 * (helpers/central_difference.c): with x a float below 8 in magnitude and
 * h = 2^-7, x +- h is exact, so the steps are even.  Each loss is summed in
 * double and rounded once to float: rounding u (|L(up)| + |L(down)|), plus
 * a spare u for the double arithmetic before it.  Curvature in x, for an
 * entry of weight w over the normalizer z: the cross-entropy's third
 * derivative is w/z times the sigmoid's second, at most 1 / (6 sqrt 3)
 * < 0.0963; smooth L1 is quadratic (third derivative 0) or linear on each
 * side, and the steps stay clear of its junctions.  The gradient is
 * computed in double and rounded once: u |g|. */
#define FD_STEP (1.0 / 128)

typedef float (*loss_fn)(float x, float t, float w, float z, float beta, float *g);

static float ce_one(float x, float t, float w, float z, float beta, float *g)
{
    return rb_sigmoid_ce(&x, &t, &w, 1, z, g);
}

static float sl1_one(float x, float t, float w, float z, float beta, float *g)
{
    return rb_smooth_l1(&x, &t, &w, 1, beta, z, g);
}

static void check_gradient(loss_fn f, float x, float t, float w, float z, float beta, float g)
{
    double up = f((float)(x + FD_STEP), t, w, z, beta, NULL);
    double down = f((float)(x - FD_STEP), t, w, z, beta, NULL);
    double third = f == ce_one ? 0.0963 * w / z : 0;
    fd_terms terms = {2 * FLOAT_UNIT_ROUNDOFF * (fabs(up) + fabs(down)), third, 0, 0,
                      FLOAT_UNIT_ROUNDOFF * fabs(g)};
    char what[64];
    snprintf(what, sizeof(what), "x %g t %g", x, t);
    fd_check(what, 0, up, down, x, (double)x + FD_STEP, (double)x - FD_STEP, g, terms);
}

static void sigmoid_ce_gradient_matches_central_differences(void **state)
{
    enum { N = 200 };
    float x[N], t[N], w[N], g[N];
    rng r;
    rng_seed(&r, 21, 0);
    for (int i = 0; i < N; ++i) {
        x[i] = rng_uniform_range(&r, -7, 7);
        t[i] = i % 3 == 2 ? rng_uniform(&r) : (float)(i % 2);   /* also soft targets */
        w[i] = i % 5 == 0 ? 0 : rng_uniform_range(&r, 0.5f, 2);
    }
    float z = 37;
    rb_sigmoid_ce(x, t, w, N, z, g);
    for (int i = 0; i < N; ++i) {
        float gi;
        ce_one(x[i], t[i], w[i], z, 0, &gi);
        assert_true(gi == g[i]);
        check_gradient(ce_one, x[i], t[i], w[i], z, 0, g[i]);
    }
}

static void smooth_l1_gradient_matches_central_differences(void **state)
{
    enum { N = 300 };
    float p[N], t[N], w[N], g[N];
    float betas[3] = {1.0f / 9, 1, 0};
    rng r;
    rng_seed(&r, 22, 0);
    for (int c = 0; c < 3; ++c) {
        float beta = betas[c];
        for (int i = 0; i < N; ++i) {
            t[i] = rng_uniform_range(&r, -2, 2);
            float d;
            do {   /* keep away from the kinks at 0 (beta 0) and +-beta */
                d = rng_uniform_range(&r, -3 * (beta + 0.2f), 3 * (beta + 0.2f));
            } while (fabsf(fabsf(d) - beta) < 3 * FD_STEP || fabsf(d) < 3 * FD_STEP);
            p[i] = t[i] + d;
            w[i] = i % 7 == 0 ? 0 : rng_uniform_range(&r, 0.5f, 2);
        }
        rb_smooth_l1(p, t, w, N, beta, 64, g);
        for (int i = 0; i < N; ++i) check_gradient(sl1_one, p[i], t[i], w[i], 64, beta, g[i]);
    }
}

/* ---- --dump: the C side of the comparison with tests/ref/rcnn_boxes_ref.py -- */

/* The cases file is whitespace-separated words, a keyword before each
 * block (rcnn_boxes_ref.py's write_cases gives the layout). */
typedef struct reader {
    FILE *fp;
    int bad;
} reader;

static void expect_word(reader *rd, const char *word)
{
    char got[32];
    if (fscanf(rd->fp, "%31s", got) != 1 || strcmp(got, word) != 0) rd->bad = 1;
}

static float read_float(reader *rd)
{
    char word[64], *end;
    if (fscanf(rd->fp, "%63s", word) != 1) {
        rd->bad = 1;
        return 0;
    }
    float v = strtof(word, &end);   /* also reads nan and inf */
    if (*end) rd->bad = 1;
    return v;
}

static int read_count(reader *rd, int most)
{
    int n;
    if (fscanf(rd->fp, "%d", &n) != 1 || n < 0 || n > most) {
        rd->bad = 1;
        return 0;
    }
    return n;
}

static rb_box read_box(reader *rd)
{
    rb_box b;
    b.x1 = read_float(rd);
    b.y1 = read_float(rd);
    b.x2 = read_float(rd);
    b.y2 = read_float(rd);
    return b;
}

static void write_box(FILE *out, rb_box b)
{
    fprintf(out, "%.9g %.9g %.9g %.9g\n", b.x1, b.y1, b.x2, b.y2);
}

/* Anchors, their IoUs with the truths, and their labels; returns -1 on a
 * malformed case. */
/* The anchor sample of the labels and the RoI sample with the anchors as
 * proposals (truth k of class k % 3): counts and what was kept, for the
 * reference to check against its own labels. */
static void dump_sampling_part(FILE *out, const rb_box *anchors, int na, const rb_box *truths, int nt,
                               const int *labels, int seed)
{
    int *kept = malloc(sizeof(int) * (na + 1)), n_pos, n_neg;
    memcpy(kept, labels, sizeof(int) * na);
    rb_rpn_params p = rb_rpn_defaults();
    rng r;
    rng_seed(&r, 17, seed);
    rb_rpn_sample(kept, na, &p, &r, &n_pos, &n_neg);
    fprintf(out, "sampled %d %d %d\n", na, n_pos, n_neg);
    for (int i = 0; i < na; ++i) fprintf(out, "%d\n", kept[i]);
    free(kept);
    rb_roi_params rp = rb_roi_defaults();
    int classes[100];
    for (int k = 0; k < nt; ++k) classes[k] = k % 3;
    rb_box *rois = malloc(sizeof(rb_box) * rp.batch), *targets = malloc(sizeof(rb_box) * rp.batch);
    int *roi_labels = malloc(sizeof(int) * rp.batch);
    int n = rb_sample_rois(anchors, na, truths, classes, nt, &rp, &r, rois, roi_labels, targets, NULL);
    fprintf(out, "rois %d\n", n);
    for (int i = 0; i < n; ++i)
        fprintf(out, "%d %.9g %.9g %.9g %.9g\n", roi_labels[i], rois[i].x1, rois[i].y1, rois[i].x2, rois[i].y2);
    free(rois);
    free(targets);
    free(roi_labels);
}

static int dump_anchor_part(reader *rd, FILE *out, float img[2])
{
    float sizes[16], ratios[16];
    expect_word(rd, "anchors");
    int ns = read_count(rd, 16);
    for (int i = 0; i < ns; ++i) sizes[i] = read_float(rd);
    int nr = read_count(rd, 16);
    for (int i = 0; i < nr; ++i) ratios[i] = read_float(rd);
    float stride = read_float(rd);
    int h = read_count(rd, 200), w = read_count(rd, 200);
    expect_word(rd, "image");
    img[0] = read_float(rd);
    img[1] = read_float(rd);
    expect_word(rd, "truths");
    int nt = read_count(rd, 100);
    rb_box truths[100];
    for (int k = 0; k < nt; ++k) truths[k] = read_box(rd);
    if (rd->bad) return -1;
    int na = h * w * ns * nr;
    rb_box *anchors = malloc(sizeof(rb_box) * (na + 1));
    float *iou = malloc(sizeof(float) * ((size_t)na * nt + 1));
    int *labels = malloc(sizeof(int) * (na + 1)), *matched = malloc(sizeof(int) * (na + 1));
    rb_rpn_params p = rb_rpn_defaults();
    fprintf(out, "anchors %d\n", rb_make_anchors(sizes, ns, ratios, nr, stride, h, w, anchors));
    for (int i = 0; i < na; ++i) write_box(out, anchors[i]);
    rb_iou_matrix(anchors, na, truths, nt, iou);
    fprintf(out, "iou %d\n", na * nt);
    for (int i = 0; i < na * nt; ++i) fprintf(out, "%.9g\n", iou[i]);
    rb_rpn_assign(anchors, na, truths, nt, img[0], img[1], &p, labels, matched);
    fprintf(out, "labels %d\n", na);
    for (int i = 0; i < na; ++i) fprintf(out, "%d %d\n", labels[i], matched[i]);
    dump_sampling_part(out, anchors, na, truths, nt, labels, na);
    free(anchors);
    free(iou);
    free(labels);
    free(matched);
    return 0;
}

static rb_weights read_weights(reader *rd)
{
    rb_weights w;
    w.wx = read_float(rd);
    w.wy = read_float(rd);
    w.ww = read_float(rd);
    w.wh = read_float(rd);
    return w;
}

/* Encoding of pairs, decoding and clipping of deltas. */
static void dump_coding_part(reader *rd, FILE *out, float img_w, float img_h)
{
    expect_word(rd, "encode");
    rb_weights wt = read_weights(rd);
    int n = read_count(rd, 100000);
    fprintf(out, "encode %d\n", n);
    for (int i = 0; i < n && !rd->bad; ++i) {
        rb_box ref = read_box(rd), target = read_box(rd);
        float d[4];
        int status = rb_encode(ref, target, wt, d);
        fprintf(out, "%d %.9g %.9g %.9g %.9g\n", status, d[0], d[1], d[2], d[3]);
    }
    expect_word(rd, "decode");
    wt = read_weights(rd);
    n = read_count(rd, 100000);
    fprintf(out, "decode %d\n", n);
    for (int i = 0; i < n && !rd->bad; ++i) {
        rb_box ref = read_box(rd);
        float d[4];
        for (int k = 0; k < 4; ++k) d[k] = read_float(rd);   /* in order: one call per statement */
        rb_box b = rb_decode(ref, d, wt);
        write_box(out, b);
        write_box(out, rb_clip(b, img_w, img_h));
    }
}

static void dump_selection_part(reader *rd, FILE *out)
{
    expect_word(rd, "nms");
    int n = read_count(rd, 100000);
    float thresh = read_float(rd);
    int max_keep = read_count(rd, 100000), top = read_count(rd, 100000);
    if (rd->bad) return;
    rb_box *boxes = malloc(sizeof(rb_box) * (n + 1));
    float *scores = malloc(sizeof(float) * (n + 1));
    int *idx = malloc(sizeof(int) * (n + 1));
    for (int i = 0; i < n; ++i) {
        boxes[i] = read_box(rd);
        scores[i] = read_float(rd);
    }
    int kept = rb_nms(boxes, scores, n, thresh, max_keep, idx);
    fprintf(out, "nms %d\n", kept);
    for (int i = 0; i < kept; ++i) fprintf(out, "%d\n", idx[i]);
    kept = rb_top_n(scores, n, top, idx);
    fprintf(out, "top %d\n", kept);
    for (int i = 0; i < kept; ++i) fprintf(out, "%d\n", idx[i]);
    free(boxes);
    free(scores);
    free(idx);
}

static int dump_results(const char *cases_path, const char *results_path)
{
    reader rd = {fopen(cases_path, "r"), 0};
    FILE *out = fopen(results_path, "w");
    if (!rd.fp || !out) {
        fprintf(stderr, "test_rcnn_boxes: cannot open %s or %s\n", cases_path, results_path);
        return 1;
    }
    expect_word(&rd, "cases");
    int n = read_count(&rd, 1000);
    for (int c = 0; c < n && !rd.bad; ++c) {
        fprintf(out, "case %d\n", c);
        float img[2];
        if (dump_anchor_part(&rd, out, img) != 0) break;
        dump_coding_part(&rd, out, img[0], img[1]);
        dump_selection_part(&rd, out);
    }
    fclose(rd.fp);
    fclose(out);
    if (rd.bad) fprintf(stderr, "test_rcnn_boxes: malformed cases file %s\n", cases_path);
    return rd.bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--dump") == 0) return dump_results(argv[2], argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iou_matches_hand_values),
        cmocka_unit_test(iou_of_unusable_boxes_is_zero),
        cmocka_unit_test(iou_matrix_is_rows_by_columns),
        cmocka_unit_test(anchors_are_centred_on_cells_in_documented_order),
        cmocka_unit_test(encoding_matches_hand_values),
        cmocka_unit_test(encode_then_decode_gives_the_box_back),
        cmocka_unit_test(decoding_clamps_the_size_and_survives_bad_deltas),
        cmocka_unit_test(clipping_keeps_boxes_in_the_image),
        cmocka_unit_test(nms_matches_hand_case),
        cmocka_unit_test(top_n_orders_by_score_then_index),
        cmocka_unit_test(rpn_assignment_matches_hand_case),
        cmocka_unit_test(rpn_assignment_without_truths_is_all_negative),
        cmocka_unit_test(rpn_sampling_keeps_256_at_most_half_positive),
        cmocka_unit_test(rpn_assign_and_sample_on_a_grid),
        cmocka_unit_test(roi_sampling_matches_hand_case),
        cmocka_unit_test(roi_sampling_keeps_128_at_most_a_quarter_foreground),
        cmocka_unit_test(losses_match_hand_values),
        cmocka_unit_test(sigmoid_ce_gradient_matches_central_differences),
        cmocka_unit_test(smooth_l1_gradient_matches_central_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
