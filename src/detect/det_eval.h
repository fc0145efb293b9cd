/* det_eval.h: scoring detectors on a list of images with the VOC protocol
 * or COCO-style.
 *
 * Ground truth comes from darknet label files (see det_data.h): the labels
 * folder holds the ordinary objects, the difficult folder the difficult
 * ones, the crowd folder crowd regions (COCO's iscrowd; each folder but
 * labels is optional, image by image).  Detections come from a network or from a file of lines
 *     IMAGE_PATH CLASS_ID SCORE X1 Y1 X2 Y2
 * in pixels of the original image (continuous corners), which is also what
 * `-save_dets` writes, so any detector can be scored the same way. */
#ifndef DET_EVAL_H
#define DET_EVAL_H

#include <stdio.h>

#include "darknet.h"
#include "detect/voc_map.h"

typedef struct det_eval_opts {
    float thresh;          /* lowest score kept (.005) */
    float nms;             /* NMS IoU (.45); 0 turns NMS off */
    float iou_thresh;      /* match IoU (.5) */
    int points;            /* 11 or 0 (VOC) */
    int coco;              /* 1: COCO-style (coco_map.h) instead of VOC */
} det_eval_opts;

det_eval_opts det_eval_defaults(void);

/* Adds the truths of image `index` (labels, difficult objects, crowd
 * regions) in pixels of a w x h image.  Returns 0, or -1 when its label file is missing. */
int det_add_truths(vm_set *s, int index, const char *image_path, int classes, int w, int h);

/* Runs net (batch 1) on every image: its detections and the truths go into
 * s.  Unreadable images and images without labels are skipped with a
 * warning.  Detections are also written to dets_out when given.  Returns the
 * number of images scored. */
int det_collect(network *net, char **paths, int n, int classes, det_eval_opts o,
                vm_set *s, FILE *dets_out);

/* Reads a detection file against the list (truths included).  Returns the
 * number of images scored, or -1 (reported) on a bad file. */
int det_collect_file(const char *dets_file, char **paths, int n, int classes, vm_set *s);

/* Strict command-line options; each removes what it finds from argv, and a
 * bad value is an error naming the option. */
int det_arg_flag(int argc, char **argv, const char *name);
int det_arg_int(int argc, char **argv, const char *name, int def);
float det_arg_float(int argc, char **argv, const char *name, float def);
char *det_arg_str(int argc, char **argv, const char *name, char *def);
/* The positional arguments left (argv[0..]), after the options are taken. */
int det_positional(int argc, char **argv);

/* ./darknet detector map DATA CFG WEIGHTS [options] | DATA -dets FILE */
void det_map_command(int argc, char **argv);

#endif
