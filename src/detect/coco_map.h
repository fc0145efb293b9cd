/* coco_map.h: COCO-style average precision, on the arrays of voc_map.h.
 *
 * The rules are those of the COCO detection evaluation (as pycocotools'
 * COCOeval applies them to boxes), with the choices below where ours differ
 * or where the rules leave something open:
 *
 *  - Detections: at most 100 an image, over all classes together: those of
 *    highest score, equal scores in the order they were added, so that a
 *    detector gets 100 guesses an image however many classes it has.
 *    (pycocotools keeps 100 an image for each class; the two agree
 *    whenever no image has more than 100 detections.)  AR1 and AR10 keep 1
 *    and 10 an image the same way.
 *  - Order: per class, by falling score; equal scores by image, then in the
 *    order added (stable sorts, as pycocotools').
 *  - Matching, at each IoU threshold 0.50, 0.55, ..., 0.95 (those decimals)
 *    and in that order, each detection takes, among the truths of its class
 *    and image with IoU >= the threshold, the one of highest IoU that
 *    counts and is still free; only when there is none, the ignored truth
 *    of highest IoU.  On equal IoU the later truth wins (pycocotools' loop
 *    does the same).
 *  - Ignored truths: crowd regions, difficult objects, and truths whose
 *    area is outside the area range.  A detection matched to one is ignored,
 *    neither true nor false positive.  Crowd regions and difficult objects
 *    take any number of detections; an out-of-range truth takes one.
 *  - A crowd region's overlap is intersection / the detection's area (a
 *    detection inside the region overlaps it fully); other truths use IoU.
 *  - Area ranges, on width x height in pixels of the image: all [0, 1e10],
 *    small [0, 32^2], medium [32^2, 96^2], large [96^2, 1e10], bounds
 *    included, so an area of exactly 32^2 is both small and medium (as in
 *    pycocotools).  An unmatched detection outside the range is ignored.
 *  - AP: precision made non-increasing from the far end, read at recall
 *    0, 0.01, ..., 1 (the first point reaching each level, 0 past the last
 *    one), averaged over the 101 points.  Recall is the last point's.
 *  - A class with no truth that counts (in the area range) has no value for
 *    that range and is left out of the means; a class with such truths and
 *    no detections has AP 0. */
#ifndef COCO_MAP_H
#define COCO_MAP_H

#include <stdio.h>

#include "detect/voc_map.h"

#define CM_IOUS 10        /* IoU thresholds 0.50, 0.55, ..., 0.95 */
#define CM_POINTS 101     /* recall levels 0, 0.01, ..., 1 */
#define CM_MAX_DETS 100   /* detections kept an image */

typedef enum cm_area { CM_ALL, CM_SMALL, CM_MEDIUM, CM_LARGE, CM_AREAS } cm_area;

/* The twelve numbers of the COCO summary, in its order. */
typedef enum cm_metric {
    CM_AP, CM_AP50, CM_AP75, CM_AP_SMALL, CM_AP_MEDIUM, CM_AP_LARGE,
    CM_AR1, CM_AR10, CM_AR100, CM_AR_SMALL, CM_AR_MEDIUM, CM_AR_LARGE, CM_METRICS
} cm_metric;

typedef struct cm_class {
    int n_truth;                       /* neither crowd nor difficult, any area */
    int n_crowd, n_difficult;
    int n_det;                         /* detections kept (within the cap) */
    int n_area[CM_AREAS];              /* truths that count in each range */
    double ap[CM_AREAS][CM_IOUS];      /* meaningful where n_area > 0 */
    double recall[CM_AREAS][CM_IOUS];  /* with 100 detections an image */
    double recall1[CM_IOUS];           /* area all, 1 detection an image */
    double recall10[CM_IOUS];          /* area all, 10 detections an image */
} cm_class;

typedef struct cm_result {
    int classes;
    int n_dets;                        /* detections with a class in range */
    int n_kept;                        /* of those, within the cap */
    cm_class *cls;
    double value[CM_METRICS];          /* mean over classes; -1 when none counts */
    int counted[CM_METRICS];           /* classes in each mean */
} cm_result;

/* The metric's name ("AP", "AP50", ..., "AR_large"), IoU index (-1: the
 * mean over all ten), area range and detections an image. */
const char *cm_metric_name(cm_metric m);
int cm_metric_iou(cm_metric m);
cm_area cm_metric_area(cm_metric m);
int cm_metric_max_dets(cm_metric m);

/* One class's value of a metric, or -1 where the class has none. */
double cm_class_metric(const cm_class *c, cm_metric m);

/* Scores dets against truths.  Detections or truths with a class outside
 * [0, classes) are left out.  Returns 0, or -1 on a bad argument. */
int cm_evaluate(const vm_det *dets, int n_dets, const vm_truth *truths, int n_truths,
                int classes, cm_result *out);
void cm_result_free(cm_result *r);

/* One line per class, then the summary; names may be NULL. */
void cm_print_table(FILE *fp, const cm_result *r, char **names);
/* The same as JSON; 0 on success. */
int cm_write_json(FILE *fp, const cm_result *r, char **names);

#endif
