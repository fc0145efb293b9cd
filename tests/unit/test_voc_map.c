/* Tests for the PASCAL VOC evaluation (src/detect/voc_map.c) against AP values
 * worked out by hand on a fixed set of detections and truths.
 *
 * The set (boxes are x1 y1 x2 y2):
 *
 * class 0: truths  T1 img0 [0 0 10 10], T2 img0 [20 20 30 30],
 *                  T3 img1 [0 0 10 10], T4 img1 [50 50 60 60] difficult
 *          dets    a .9 img0 [0 0 10 10]      IoU 1 with T1        TP
 *                  b .8 img0 [1 0 11 10]      T1 again (.818)      FP, duplicate
 *                  c .8 img1 [50 50 60 60]    difficult T4         ignored
 *                  d .7 img1 [0 0 10 5]       IoU exactly .5, T3   TP
 *                  e .6 img0 [100 100 110 110]                     FP
 *                  f .5 img0 [20 20 30 30]    T2                   TP
 *          b and c tie; c is ignored.  Without c:
 *          recall    1/3 1/3 2/3 2/3 1
 *          precision 1   1/2 2/3 1/2 3/5
 *          all points: 1/3*1 + 1/3*2/3 + 1/3*3/5 = 34/45
 *          11 points:  4*1 + 3*2/3 + 4*3/5 = 8.4, /11
 *
 * class 1: truths  U1 img2 [0 0 10 10], U2 img2 [2 0 12 10], U3 img3 [0 0 20 20]
 *          dets    g .9 img2 [0 0 10 10]      U1                    TP
 *                  h .9 img2 [.5 0 10.5 10]   best U1 (.905), taken FP; U2 (.739)
 *                                             is free but not the best match
 *                  i .9 img3 [0 0 20 20]      U3                    TP
 *                  j .3 img3 [30 30 40 40]                          FP
 *          g, h, i tie: input order.  recall 1/3 1/3 2/3 2/3,
 *          precision 1 1/2 2/3 1/2
 *          all points: 1/3 + 1/3*2/3 = 5/9;  11 points: (4 + 3*2/3)/11 = 6/11
 *          In the order g, i, h instead: precision 1 1 2/3 1/2,
 *          all points 2/3, 11 points 7/11.
 *
 * class 2: two truths, no detections: AP 0, counted in the mean.
 * class 3: no truths, one detection: no AP, left out of the mean.
 * A detection of class 7 (out of range) is left out.
 *
 * mAP all points: (34/45 + 5/9 + 0)/3 = 59/135;  11 points: 14.4/33. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect/voc_map.h"

#define EPS 1e-9

static vm_box B(float x1, float y1, float x2, float y2)
{
    vm_box b = {x1, y1, x2, y2};
    return b;
}

static void build(vm_set *s, int swap_tie)
{
    vm_set_init(s);
    vm_set_add_truth(s, 0, 0, 0, B(0, 0, 10, 10));
    vm_set_add_truth(s, 0, 0, 0, B(20, 20, 30, 30));
    vm_set_add_truth(s, 1, 0, 0, B(0, 0, 10, 10));
    vm_set_add_truth(s, 1, 0, 1, B(50, 50, 60, 60));
    vm_set_add_truth(s, 2, 1, 0, B(0, 0, 10, 10));
    vm_set_add_truth(s, 2, 1, 0, B(2, 0, 12, 10));
    vm_set_add_truth(s, 3, 1, 0, B(0, 0, 20, 20));
    vm_set_add_truth(s, 0, 2, 0, B(40, 40, 50, 50));
    vm_set_add_truth(s, 4, 2, 0, B(0, 0, 5, 5));

    vm_set_add_det(s, 0, 0, .9f, B(0, 0, 10, 10));
    vm_set_add_det(s, 0, 0, .8f, B(1, 0, 11, 10));
    vm_set_add_det(s, 1, 0, .8f, B(50, 50, 60, 60));
    vm_set_add_det(s, 1, 0, .7f, B(0, 0, 10, 5));
    vm_set_add_det(s, 0, 0, .6f, B(100, 100, 110, 110));
    vm_set_add_det(s, 0, 0, .5f, B(20, 20, 30, 30));
    vm_set_add_det(s, 2, 1, .9f, B(0, 0, 10, 10));
    if (!swap_tie) vm_set_add_det(s, 2, 1, .9f, B(.5f, 0, 10.5f, 10));
    vm_set_add_det(s, 3, 1, .9f, B(0, 0, 20, 20));
    if (swap_tie) vm_set_add_det(s, 2, 1, .9f, B(.5f, 0, 10.5f, 10));
    vm_set_add_det(s, 3, 1, .3f, B(30, 30, 40, 40));
    vm_set_add_det(s, 4, 3, .4f, B(0, 0, 5, 5));
    vm_set_add_det(s, 4, 7, .99f, B(0, 0, 5, 5));
}

static vm_result run(int swap_tie, float iou, int points)
{
    vm_set s;
    build(&s, swap_tie);
    vm_result r;
    assert_int_equal(vm_evaluate(s.dets, s.n_dets, s.truths, s.n_truths, 4, iou, points, &r), 0);
    vm_set_free(&s);
    return r;
}

static void all_point_ap_matches_hand_values(void **state)
{
    vm_result r = run(0, .5f, 0);
    assert_true(fabs(r.cls[0].ap - 34.0 / 45) < EPS);
    assert_true(fabs(r.cls[1].ap - 5.0 / 9) < EPS);
    assert_true(r.cls[2].has_ap && r.cls[2].ap == 0);
    assert_false(r.cls[3].has_ap);
    assert_int_equal(r.counted, 3);
    assert_true(fabs(r.map - 59.0 / 135) < EPS);
    vm_result_free(&r);
}

static void eleven_point_ap_matches_hand_values(void **state)
{
    vm_result r = run(0, .5f, 11);
    assert_true(fabs(r.cls[0].ap - 8.4 / 11) < EPS);
    assert_true(fabs(r.cls[1].ap - 6.0 / 11) < EPS);
    assert_true(r.cls[2].ap == 0);
    assert_true(fabs(r.map - 14.4 / 33) < EPS);
    vm_result_free(&r);
}

static void counts_difficult_duplicates_and_empty_classes(void **state)
{
    vm_result r = run(0, .5f, 0);
    vm_class *c0 = &r.cls[0], *c1 = &r.cls[1], *c2 = &r.cls[2], *c3 = &r.cls[3];
    assert_int_equal(c0->n_truth, 3);
    assert_int_equal(c0->n_difficult, 1);
    assert_int_equal(c0->n_det, 6);
    assert_int_equal(c0->tp, 3);
    assert_int_equal(c0->fp, 2);
    assert_int_equal(c0->ignored, 1);
    assert_true(fabs(c0->recall - 1) < EPS);
    assert_int_equal(c1->tp, 2);
    assert_int_equal(c1->fp, 2);
    assert_int_equal(c1->ignored, 0);
    assert_int_equal(c2->n_truth, 2);
    assert_int_equal(c2->n_det, 0);
    assert_int_equal(c3->n_truth, 0);
    assert_int_equal(c3->fp, 1);
    vm_result_free(&r);
}

static void ties_keep_input_order(void **state)
{
    vm_result r = run(1, .5f, 0);
    assert_true(fabs(r.cls[1].ap - 2.0 / 3) < EPS);
    vm_result_free(&r);
    r = run(1, .5f, 11);
    assert_true(fabs(r.cls[1].ap - 7.0 / 11) < EPS);
    vm_result_free(&r);
}

static void stricter_iou_turns_boundary_match_into_false_positive(void **state)
{
    /* at .75: d (IoU .5) misses T3; b (.818) still hits T1 as duplicate.
     * class 0 sequence a TP, b FP, d FP, e FP, f TP:
     * recall 1/3 1/3 1/3 1/3 2/3, precision 1 1/2 1/3 1/4 2/5
     * all points: 1/3 + 1/3*2/5 = 7/15 */
    vm_result r = run(0, .75f, 0);
    assert_true(fabs(r.cls[0].ap - 7.0 / 15) < EPS);
    assert_int_equal(r.cls[0].tp, 2);
    vm_result_free(&r);
}

static void iou_and_ap_helpers(void **state)
{
    assert_true(fabs(vm_iou(B(0, 0, 10, 10), B(0, 0, 10, 5)) - .5) < EPS);
    assert_true(vm_iou(B(0, 0, 10, 10), B(10, 0, 20, 10)) == 0);    /* touching */
    assert_true(vm_iou(B(0, 0, 0, 0), B(0, 0, 0, 0)) == 0);         /* empty */
    double rec[] = {.5, 1}, prec[] = {1, .5};
    assert_true(fabs(vm_ap(rec, prec, 2, 0) - .75) < EPS);
    /* 11 points: levels 0..0.5 -> 1 (6), 0.6..1 -> .5 (5) */
    assert_true(fabs(vm_ap(rec, prec, 2, 11) - 8.5 / 11) < EPS);
    assert_true(vm_ap(rec, prec, 0, 0) == 0);
}

static void no_truths_at_all_gives_zero_map(void **state)
{
    vm_det d = {0, 0, .5f, {0, 0, 1, 1}};
    vm_result r;
    assert_int_equal(vm_evaluate(&d, 1, NULL, 0, 2, .5f, 0, &r), 0);
    assert_int_equal(r.counted, 0);
    assert_true(r.map == 0);
    vm_result_free(&r);
    assert_int_equal(vm_evaluate(&d, 1, NULL, 0, 0, .5f, 0, &r), -1);
    assert_int_equal(vm_evaluate(&d, 1, NULL, 0, 2, .5f, 1, &r), -1);
}

static void table_and_json_name_every_class(void **state)
{
    vm_result r = run(0, .5f, 11);
    char *names[] = {"alpha", "beta", "gamma", "delta"};
    char buf[8192];
    FILE *fp = fmemopen(buf, sizeof(buf), "w");
    vm_print_table(fp, &r, names);
    fclose(fp);
    assert_non_null(strstr(buf, "alpha"));
    assert_non_null(strstr(buf, "76.36"));     /* 8.4/11 */
    assert_non_null(strstr(buf, "mAP@0.50 (11-point, VOC2007) = 43.64 %"));
    fp = fmemopen(buf, sizeof(buf), "w");
    assert_int_equal(vm_write_json(fp, &r, names), 0);
    fclose(fp);
    assert_non_null(strstr(buf, "\"map\": 0.436364"));
    assert_non_null(strstr(buf, "\"name\": \"delta\""));
    assert_non_null(strstr(buf, "\"ap\": null"));
    vm_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_point_ap_matches_hand_values),
        cmocka_unit_test(eleven_point_ap_matches_hand_values),
        cmocka_unit_test(counts_difficult_duplicates_and_empty_classes),
        cmocka_unit_test(ties_keep_input_order),
        cmocka_unit_test(stricter_iou_turns_boundary_match_into_false_positive),
        cmocka_unit_test(iou_and_ap_helpers),
        cmocka_unit_test(no_truths_at_all_gives_zero_map),
        cmocka_unit_test(table_and_json_name_every_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
