/* Tests for the COCO-style evaluation (src/detect/coco_map.c) against values
 * worked out by hand.  Boxes are x1 y1 x2 y2; 101-point AP counts the recall
 * levels 0, .01, ..., 1 that each stretch of the precision envelope reaches.
 *
 * class 0, image 0: truths T1 [0 0 10 10], T2 [20 0 30 10], T3 [40 0 50 10]
 *   a .9 [0 0 10 10]   T1, IoU 1                 TP at every threshold
 *   b .8 [0 0 10 10]   T1 again                  FP (a duplicate)
 *   c .7 [20 0 30 8]   T2, IoU .8                TP up to .80, FP above
 *   IoU .50-.80 (7 thresholds): recall 1/3 1/3 2/3, precision 1 1/2 2/3;
 *     levels 0-.33 get 1 (34), .34-.66 get 2/3 (33), the rest 0: 56/101
 *   IoU .85-.95 (3): recall 1/3 throughout, precision 1 1/2 1/3: 34/101
 *   AP = (7*56 + 3*34)/1010 = 494/1010; AR100 = (7*2/3 + 3*1/3)/10 = 17/30;
 *   AR1 (only a kept) = 1/3.  Every box is small.
 *
 * class 1, image 1: crowd C [0 0 100 100], truth U [200 200 240 240] (area
 *   1600, medium), difficult D [300 300 340 340]
 *   r .95 [50 50 150 150]     a quarter inside C (.25 of its area)  FP
 *   p .9  [10 10 30 30]       inside C                     ignored
 *   t .85 [300 300 340 340]   D                            ignored
 *   u .84 [301 300 341 340]   D again: D takes any number  ignored
 *   q .8  [200 200 240 240]   U                            TP
 *   s .6  [20 20 40 40]       inside C                     ignored
 *   all: FP, TP -> precision 0 1/2, recall 0 1: AP 1/2 at every threshold.
 *   medium: C and D are ignored, r (area 10000) unmatched and outside the
 *   range is ignored too: only q, AP 1.  small, large: no truth, no value.
 *
 * class 2, image 2: truths A [0 0 40 40], B [20 0 60 40] (both medium)
 *   x .9 [20 0 40 40]   IoU .5 with both: the later, B, takes it at .50
 *   y .8 [0 0 30 40]    A, IoU .75 (B 1/6)
 *   .50: TP TP, AP 1;  .55-.75: FP TP, AP 51*.5/101;  .80-.95: AP 0
 *   AP = (1 + 5*25.5/101)/10 = 228.5/1010
 *   medium: above .50 x is unmatched and, at area 800, outside the range,
 *   so ignored: .55-.75 y alone, AP 51/101; AP_medium = 356/1010
 *
 * class 3, image 3: truth V [0 0 10 10]; 100 detections of class 4 (no
 *   truth, no value) at .9 fill the image's cap, so V's detection at .1 is
 *   dropped: AP 0.  Without the cap, or with one per class, it would count.
 *
 * mean AP over classes 0-3: (494/1010 + 1/2 + 228.5/1010 + 0)/4; class 4
 * has no value.  Small: classes 0 and 3; medium: 1 and 2; large: none. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect/coco_map.h"

#define EPS 1e-12

static vm_box B(float x1, float y1, float x2, float y2)
{
    vm_box b = {x1, y1, x2, y2};
    return b;
}

static void build(vm_set *s)
{
    vm_set_init(s);
    vm_set_add_truth(s, 0, 0, 0, B(0, 0, 10, 10));
    vm_set_add_truth(s, 0, 0, 0, B(20, 0, 30, 10));
    vm_set_add_truth(s, 0, 0, 0, B(40, 0, 50, 10));
    vm_set_add_det(s, 0, 0, .9f, B(0, 0, 10, 10));
    vm_set_add_det(s, 0, 0, .8f, B(0, 0, 10, 10));
    vm_set_add_det(s, 0, 0, .7f, B(20, 0, 30, 8));

    vm_set_add_crowd(s, 1, 1, B(0, 0, 100, 100));
    vm_set_add_truth(s, 1, 1, 0, B(200, 200, 240, 240));
    vm_set_add_truth(s, 1, 1, 1, B(300, 300, 340, 340));
    vm_set_add_det(s, 1, 1, .95f, B(50, 50, 150, 150));
    vm_set_add_det(s, 1, 1, .9f, B(10, 10, 30, 30));
    vm_set_add_det(s, 1, 1, .85f, B(300, 300, 340, 340));
    vm_set_add_det(s, 1, 1, .84f, B(301, 300, 341, 340));
    vm_set_add_det(s, 1, 1, .8f, B(200, 200, 240, 240));
    vm_set_add_det(s, 1, 1, .6f, B(20, 20, 40, 40));

    vm_set_add_truth(s, 2, 2, 0, B(0, 0, 40, 40));
    vm_set_add_truth(s, 2, 2, 0, B(20, 0, 60, 40));
    vm_set_add_det(s, 2, 2, .9f, B(20, 0, 40, 40));
    vm_set_add_det(s, 2, 2, .8f, B(0, 0, 30, 40));

    vm_set_add_truth(s, 3, 3, 0, B(0, 0, 10, 10));
    vm_set_add_det(s, 3, 3, .1f, B(0, 0, 10, 10));
    for (int i = 0; i < 100; ++i) vm_set_add_det(s, 3, 4, .9f, B(100, 100, 110, 110));
    vm_set_add_det(s, 0, 9, .99f, B(0, 0, 10, 10));   /* class out of range: left out */
}

static cm_result run(void)
{
    vm_set s;
    build(&s);
    cm_result r;
    assert_int_equal(cm_evaluate(s.dets, s.n_dets, s.truths, s.n_truths, 5, &r), 0);
    vm_set_free(&s);
    return r;
}

static void near(double got, double want)
{
    if (fabs(got - want) > EPS) fail_msg("got %.15g, expected %.15g", got, want);
}

static void greedy_matching_ties_and_duplicates(void **state)
{
    cm_result r = run();
    const cm_class *c = &r.cls[0];
    for (int t = 0; t < CM_IOUS; ++t) near(c->ap[CM_ALL][t], t < 7 ? 56.0 / 101 : 34.0 / 101);
    near(cm_class_metric(c, CM_AP), 494.0 / 1010);
    near(cm_class_metric(c, CM_AP50), 56.0 / 101);
    near(cm_class_metric(c, CM_AP75), 56.0 / 101);
    near(cm_class_metric(c, CM_AR100), 17.0 / 30);
    near(cm_class_metric(c, CM_AR10), 17.0 / 30);
    near(cm_class_metric(c, CM_AR1), 1.0 / 3);
    near(cm_class_metric(c, CM_AP_SMALL), 494.0 / 1010);
    assert_true(cm_class_metric(c, CM_AP_MEDIUM) == -1);
    /* the later of two truths at equal IoU takes the detection */
    near(cm_class_metric(&r.cls[2], CM_AP50), 1);
    near(cm_class_metric(&r.cls[2], CM_AP75), 25.5 / 101);
    near(cm_class_metric(&r.cls[2], CM_AP), 228.5 / 1010);
    near(cm_class_metric(&r.cls[2], CM_AP_MEDIUM), 356.0 / 1010);
    cm_result_free(&r);
}

static void crowd_difficult_and_area_ranges(void **state)
{
    cm_result r = run();
    const cm_class *c = &r.cls[1];
    assert_int_equal(c->n_truth, 1);
    assert_int_equal(c->n_crowd, 1);
    assert_int_equal(c->n_difficult, 1);
    assert_int_equal(c->n_det, 6);
    near(cm_class_metric(c, CM_AP), .5);
    near(cm_class_metric(c, CM_AR100), 1);
    near(cm_class_metric(c, CM_AP_MEDIUM), 1);
    assert_true(cm_class_metric(c, CM_AP_SMALL) == -1);
    assert_true(cm_class_metric(c, CM_AP_LARGE) == -1);
    assert_int_equal(c->n_area[CM_MEDIUM], 1);
    assert_int_equal(c->n_area[CM_LARGE], 0);
    cm_result_free(&r);
}

static void at_most_100_detections_an_image_over_all_classes(void **state)
{
    cm_result r = run();
    assert_int_equal(r.n_dets, 112);
    assert_int_equal(r.n_kept, 111);
    assert_int_equal(r.cls[3].n_det, 0);
    assert_int_equal(r.cls[4].n_det, 100);
    near(cm_class_metric(&r.cls[3], CM_AP), 0);
    near(cm_class_metric(&r.cls[3], CM_AR100), 0);
    assert_true(cm_class_metric(&r.cls[4], CM_AP) == -1);
    cm_result_free(&r);
}

static void means_leave_out_classes_without_truths(void **state)
{
    cm_result r = run();
    assert_int_equal(r.counted[CM_AP], 4);
    near(r.value[CM_AP], (494.0 / 1010 + .5 + 228.5 / 1010 + 0) / 4);
    /* small: classes 0 and 3; medium: classes 1 and 2 */
    assert_int_equal(r.counted[CM_AP_SMALL], 2);
    near(r.value[CM_AP_SMALL], (494.0 / 1010 + 0) / 2);
    assert_int_equal(r.counted[CM_AP_MEDIUM], 2);
    near(r.value[CM_AP_MEDIUM], (1 + 356.0 / 1010) / 2);
    assert_int_equal(r.counted[CM_AP_LARGE], 0);
    assert_true(r.value[CM_AP_LARGE] == -1);
    cm_result_free(&r);
}

static void area_bounds_belong_to_both_ranges(void **state)
{
    /* 32 x 32 is small and medium; 96 x 96 medium and large */
    vm_set s;
    vm_set_init(&s);
    vm_set_add_truth(&s, 0, 0, 0, B(0, 0, 32, 32));
    vm_set_add_truth(&s, 0, 0, 0, B(100, 0, 196, 96));
    cm_result r;
    assert_int_equal(cm_evaluate(s.dets, s.n_dets, s.truths, s.n_truths, 1, &r), 0);
    assert_int_equal(r.cls[0].n_area[CM_SMALL], 1);
    assert_int_equal(r.cls[0].n_area[CM_MEDIUM], 2);
    assert_int_equal(r.cls[0].n_area[CM_LARGE], 1);
    near(r.value[CM_AP], 0);   /* truths, no detections */
    cm_result_free(&r);
    vm_set_free(&s);
}

static void empty_input_and_bad_arguments(void **state)
{
    cm_result r;
    assert_int_equal(cm_evaluate(NULL, 0, NULL, 0, 3, &r), 0);
    for (int m = 0; m < CM_METRICS; ++m) {
        assert_int_equal(r.counted[m], 0);
        assert_true(r.value[m] == -1);
    }
    cm_result_free(&r);
    vm_det d = {0, 0, NAN, {0, 0, 1, 1}};
    assert_int_equal(cm_evaluate(&d, 1, NULL, 0, 1, &r), 0);   /* a NaN score is harmless */
    assert_int_equal(r.n_kept, 1);
    cm_result_free(&r);
    assert_int_equal(cm_evaluate(&d, 1, NULL, 0, 0, &r), -1);
    assert_int_equal(cm_evaluate(&d, -1, NULL, 0, 1, &r), -1);
    assert_int_equal(cm_evaluate(NULL, 1, NULL, 0, 1, &r), -1);
    assert_true(cm_class_metric(&(cm_class){0}, CM_METRICS) == -1);
    assert_string_equal(cm_metric_name(CM_AR_LARGE), "AR_large");
    assert_int_equal(cm_metric_iou(CM_AP75), 5);
    assert_int_equal(cm_metric_max_dets(CM_AR10), 10);
    assert_int_equal(cm_metric_area(CM_AP_SMALL), CM_SMALL);
}

static void voc_leaves_crowd_regions_out(void **state)
{
    vm_set s;
    vm_set_init(&s);
    vm_set_add_crowd(&s, 0, 0, B(0, 0, 100, 100));
    vm_set_add_det(&s, 0, 0, .9f, B(0, 0, 100, 100));
    vm_result r;
    assert_int_equal(vm_evaluate(s.dets, s.n_dets, s.truths, s.n_truths, 1, .5f, 0, &r), 0);
    assert_int_equal(r.cls[0].n_truth, 0);
    assert_int_equal(r.cls[0].fp, 1);
    assert_int_equal(r.counted, 0);
    vm_result_free(&r);
    vm_set_free(&s);
}

static void table_and_json(void **state)
{
    cm_result r = run();
    char *names[] = {"person", "bike", "car", "dog", "kite"};
    static char buf[16384];
    FILE *fp = fmemopen(buf, sizeof(buf), "w");
    cm_print_table(fp, &r, names);
    fclose(fp);
    assert_non_null(strstr(buf, "(111 of 112 kept)"));
    /* class 0: AP 494/1010, AP50 and AP75 56/101, small as all, no medium or large */
    assert_non_null(strstr(buf, "  0  person                 3      0      0      3"
                                "   48.91   55.45   55.45   48.91       -       -\n"));
    assert_non_null(strstr(buf, "AP_large   0.50:0.95  large       100         -        0\n"));
    assert_non_null(strstr(buf, "mAP@[.50:.95] (COCO-style) = 30.38 % over 4 classes"));
    fp = fmemopen(buf, sizeof(buf), "w");
    assert_int_equal(cm_write_json(fp, &r, names), 0);
    fclose(fp);
    assert_non_null(strstr(buf, "\"map\": 0.303837"));
    assert_non_null(strstr(buf, "\"AP_large\": null"));
    assert_non_null(strstr(buf, "\"name\": \"kite\", \"truths\": 0, \"crowd\": 0, \"difficult\": 0, "
                                "\"detections\": 100, \"AP\": null"));
    cm_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_matching_ties_and_duplicates),
        cmocka_unit_test(crowd_difficult_and_area_ranges),
        cmocka_unit_test(at_most_100_detections_an_image_over_all_classes),
        cmocka_unit_test(means_leave_out_classes_without_truths),
        cmocka_unit_test(area_bounds_belong_to_both_ranges),
        cmocka_unit_test(empty_input_and_bad_arguments),
        cmocka_unit_test(voc_leaves_crowd_regions_out),
        cmocka_unit_test(table_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
