/* voc_map.h: average precision and mAP by the PASCAL VOC protocol.
 *
 * The evaluation works on plain arrays of detections and ground truths, so
 * any detector (the one-stage YOLO heads here, a two-stage detector later)
 * can be scored the same way.  Boxes are corners in pixels, continuous
 * coordinates: a VOC box with 1-based inclusive corners (xmin..xmax) is
 * [xmin-1, xmax] here, so that its width is xmax-xmin+1 as in the devkit.
 *
 * The protocol, as the VOC devkit's VOCevaldet implements it:
 *  - per class, detections are taken in order of falling score; equal scores
 *    keep the order in which they were added (a stable sort, as the devkit's);
 *  - a detection is matched to the ground truth of its class and image with
 *    the largest IoU (the first such one on equal IoU);
 *  - IoU >= iou_thresh and that truth is difficult: the detection is ignored,
 *    neither true nor false positive;
 *  - IoU >= iou_thresh and the truth is not yet taken: true positive, and the
 *    truth is taken; already taken: false positive (a duplicate), even if
 *    another free truth also overlaps it enough;
 *  - otherwise a false positive;
 *  - recall counts non-difficult truths only;
 *  - crowd regions (truths with crowd set, which only the COCO-style
 *    evaluation of coco_map.h uses) are left out: VOC has none.
 * AP is the VOC2007 11-point interpolated precision (points=11) or the area
 * under the interpolated precision-recall curve (points=0, VOC2010 and
 * later).  A class with no non-difficult truth has no AP and is left out of
 * the mean; a class with truths but no detections has AP 0. */
#ifndef VOC_MAP_H
#define VOC_MAP_H

#include <stdio.h>

typedef struct vm_box {
    float x1, y1, x2, y2;
} vm_box;

typedef struct vm_det {
    int image;             /* any id shared with the truths of that image */
    int cls;               /* 0 .. classes-1 */
    float score;
    vm_box box;
} vm_det;

typedef struct vm_truth {
    int image;
    int cls;
    int difficult;
    int crowd;             /* a region of many objects (COCO's iscrowd) */
    vm_box box;
} vm_truth;

/* A growing collection of detections and truths. */
typedef struct vm_set {
    vm_det *dets;
    int n_dets, cap_dets;
    vm_truth *truths;
    int n_truths, cap_truths;
} vm_set;

typedef struct vm_class {
    int n_truth;           /* non-difficult truths */
    int n_difficult;
    int n_det;             /* detections of the class */
    int tp, fp, ignored;   /* over all its detections */
    int has_ap;            /* 0 when n_truth == 0 */
    double ap;
    double recall;         /* tp / n_truth at the lowest score */
} vm_class;

typedef struct vm_result {
    int classes;
    float iou_thresh;
    int points;            /* 11 or 0 */
    vm_class *cls;
    int counted;           /* classes in the mean */
    double map;            /* mean AP over counted classes; 0 when none */
} vm_result;

void vm_set_init(vm_set *s);
void vm_set_free(vm_set *s);
void vm_set_add_det(vm_set *s, int image, int cls, float score, vm_box b);
void vm_set_add_truth(vm_set *s, int image, int cls, int difficult, vm_box b);
void vm_set_add_crowd(vm_set *s, int image, int cls, vm_box b);

/* Intersection over union of two corner boxes (0 when either is empty). */
double vm_iou(vm_box a, vm_box b);

/* AP of a precision-recall curve given point by point in score order.
 * points: 11 (VOC2007) or 0 (all points, VOC2010+). */
double vm_ap(const double *recall, const double *precision, int n, int points);

/* Scores dets against truths.  Detections or truths with a class outside
 * [0, classes), and crowd truths, are left out.  Returns 0, or -1 on a bad argument. */
int vm_evaluate(const vm_det *dets, int n_dets, const vm_truth *truths, int n_truths,
                int classes, float iou_thresh, int points, vm_result *out);
void vm_result_free(vm_result *r);

/* A table with one line per class and the mean; names may be NULL. */
void vm_print_table(FILE *fp, const vm_result *r, char **names);
/* The same as JSON; 0 on success. */
int vm_write_json(FILE *fp, const vm_result *r, char **names);
/* s as a JSON string, quoted and escaped ("" for NULL). */
void vm_json_string(FILE *fp, const char *s);

#endif
