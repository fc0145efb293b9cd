/* det_eval.c: the VOC evaluation of detectors and `detector map` (see det_eval.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/coco_map.h"
#include "detect/det_data.h"
#include "detect/det_eval.h"
#include "rcnn/rcnn_layers.h"
#include "image.h"
#include "option_list.h"
#include "utils.h"
#include "checked.h"

det_eval_opts det_eval_defaults(void)
{
    det_eval_opts o = {.005f, .45f, .5f, 11, 0};
    return o;
}

/* ---- options --------------------------------------------------------------- */

static int find(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; ++i) if (argv[i] && strcmp(argv[i], name) == 0) return i;
    return -1;
}

static void drop(int argc, char **argv, int i, int count)
{
    for (int k = 0; k < count; ++k) {
        for (int j = i; j < argc - 1; ++j) argv[j] = argv[j + 1];
        argv[argc - 1] = NULL;
    }
}

static char *value_of(int argc, char **argv, const char *name)
{
    int i = find(argc, argv, name);
    if (i < 0) return NULL;
    if (i + 1 >= argc || !argv[i + 1]) {
        dn_fatal("option %s needs a value\n", name);
    }
    char *v = argv[i + 1];
    drop(argc, argv, i, 2);
    return v;
}

int det_arg_flag(int argc, char **argv, const char *name)
{
    int i = find(argc, argv, name);
    if (i < 0) return 0;
    drop(argc, argv, i, 1);
    return 1;
}

int det_arg_int(int argc, char **argv, const char *name, int def)
{
    char *v = value_of(argc, argv, name), *end;
    if (!v) return def;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < -2147483647L || x > 2147483647L) {
        dn_fatal("%s %s: not a whole number\n", name, v);
    }
    return (int)x;
}

float det_arg_float(int argc, char **argv, const char *name, float def)
{
    char *v = value_of(argc, argv, name), *end;
    if (!v) return def;
    errno = 0;
    float x = strtof(v, &end);
    if (end == v || *end || errno || !isfinite(x)) {
        dn_fatal("%s %s: not a number\n", name, v);
    }
    return x;
}

char *det_arg_str(int argc, char **argv, const char *name, char *def)
{
    char *v = value_of(argc, argv, name);
    return v ? v : def;
}

int det_positional(int argc, char **argv)
{
    int n = 0;
    while (n < argc && argv[n]) ++n;
    return n;
}

/* ---- truths and detections ------------------------------------------------- */

static vm_box to_pixels(det_object o, int w, int h)
{
    vm_box b = {(o.x - o.w / 2) * w, (o.y - o.h / 2) * h, (o.x + o.w / 2) * w, (o.y + o.h / 2) * h};
    return b;
}

int det_add_truths(vm_set *s, int index, const char *image_path, int classes, int w, int h)
{
    char lp[4096];
    det_object *objs;
    det_label_path(image_path, "labels", lp, sizeof(lp));
    int n = det_read_labels(lp, classes, 1, &objs);
    if (n < 0) return -1;
    for (int i = 0; i < n; ++i) vm_set_add_truth(s, index, objs[i].cls, 0, to_pixels(objs[i], w, h));
    free(objs);
    det_label_path(image_path, "difficult", lp, sizeof(lp));
    n = det_read_labels(lp, classes, 0, &objs);
    for (int i = 0; i < n; ++i) vm_set_add_truth(s, index, objs[i].cls, 1, to_pixels(objs[i], w, h));
    free(objs);
    /* crowd regions, beside labels/ like difficult/ (only the COCO-style
     * evaluation uses them) */
    det_label_path(image_path, "crowd", lp, sizeof(lp));
    n = det_read_labels(lp, classes, 0, &objs);
    for (int i = 0; i < n; ++i) vm_set_add_crowd(s, index, objs[i].cls, to_pixels(objs[i], w, h));
    free(objs);
    return 0;
}

int det_collect(network *net, char **paths, int n, int classes, det_eval_opts o,
                vm_set *s, FILE *dets_out)
{
    int scored = 0;
    double start = what_time_is_it_now();
    for (int i = 0; i < n; ++i) {
        image im;
        if (det_load_image(paths[i], &im)) continue;
        if (det_add_truths(s, i, paths[i], classes, im.w, im.h)) {
            free_image(im);
            continue;
        }
        image sized = letterbox_image(im, net->w, net->h);
        network_predict(net, sized.data);
        int nboxes = 0;
        detection *dets = get_network_boxes(net, im.w, im.h, o.thresh, .5f, 0, 0, &nboxes);
        if (o.nms > 0) do_nms_sort(dets, nboxes, classes, o.nms);
        for (int k = 0; k < nboxes; ++k) {
            box b = dets[k].bbox;
            vm_box vb = {constrain(0, im.w, b.x - b.w / 2), constrain(0, im.h, b.y - b.h / 2),
                         constrain(0, im.w, b.x + b.w / 2), constrain(0, im.h, b.y + b.h / 2)};
            for (int c = 0; c < classes && c < dets[k].classes; ++c) {
                float p = dets[k].prob[c];
                if (p <= 0 || p < o.thresh) continue;
                vm_set_add_det(s, i, c, p, vb);
                if (dets_out) {
                    fprintf(dets_out, "%s %d %.6f %.2f %.2f %.2f %.2f\n", paths[i], c, p,
                            vb.x1, vb.y1, vb.x2, vb.y2);
                }
            }
        }
        free_detections(dets, nboxes);
        free_image(sized);
        free_image(im);
        ++scored;
        if ((i + 1) % 500 == 0) {
            fprintf(stderr, "evaluated %d/%d images, %.1f img/s\n", i + 1, n,
                    (i + 1) / (what_time_is_it_now() - start));
        }
    }
    return scored;
}

/* Path -> list index, through a sorted copy. */
typedef struct path_index {
    const char *path;
    int index;
} path_index;

static int by_path(const void *a, const void *b)
{
    return strcmp(((const path_index *)a)->path, ((const path_index *)b)->path);
}

int det_collect_file(const char *dets_file, char **paths, int n, int classes, vm_set *s)
{
    FILE *fp = fopen(dets_file, "r");
    if (!fp) {
        fprintf(stderr, "darknet: error: couldn't open file: %s\n", dets_file);
        return -1;
    }
    path_index *idx = malloc(sizeof(path_index) * (n + 1));
    char *usable = calloc(n + 1, 1);
    int scored = 0;
    for (int i = 0; i < n; ++i) {
        idx[i].path = paths[i];
        idx[i].index = i;
        int w, h;
        if (det_image_size(paths[i], &w, &h)) continue;
        if (det_add_truths(s, i, paths[i], classes, w, h)) continue;
        usable[i] = 1;
        ++scored;
    }
    qsort(idx, n, sizeof(path_index), by_path);
    char line[8192], path[4096];
    int lineno = 0, bad = 0;
    while (fgets(line, sizeof(line), fp)) {
        ++lineno;
        int cls;
        float score, x1, y1, x2, y2;
        char tail[2];
        int got = sscanf(line, "%4095s %d %f %f %f %f %f %1s", path, &cls, &score, &x1, &y1, &x2, &y2, tail);
        if (got <= 0) continue;
        if (got != 7 || cls < 0 || cls >= classes) {
            fprintf(stderr, "darknet: error: %s:%d: expected IMAGE CLASS SCORE X1 Y1 X2 Y2 "
                            "with a class in [0, %d)\n", dets_file, lineno, classes);
            bad = 1;
            break;
        }
        /* a NaN would leave the score order undefined */
        if (!isfinite(score) || !isfinite(x1) || !isfinite(y1) || !isfinite(x2) || !isfinite(y2)) {
            fprintf(stderr, "darknet: error: %s:%d: the score and corners must be finite numbers\n",
                    dets_file, lineno);
            bad = 1;
            break;
        }
        path_index key = {path, 0};
        path_index *hit = bsearch(&key, idx, n, sizeof(path_index), by_path);
        if (!hit) {
            fprintf(stderr, "darknet: error: %s:%d: image %s is not in the valid list\n",
                    dets_file, lineno, path);
            bad = 1;
            break;
        }
        if (!usable[hit->index]) continue;
        vm_box b = {x1, y1, x2, y2};
        vm_set_add_det(s, hit->index, cls, score, b);
    }
    fclose(fp);
    free(idx);
    free(usable);
    return bad ? -1 : scored;
}

/* ---- the command ----------------------------------------------------------- */

static void usage(void)
{
    dn_usage("usage: darknet detector map DATA CFG WEIGHTS [-iou_thresh 0.5] [-points 11|0]\n"
             "           [-thresh 0.005] [-nms 0.45] [-json FILE] [-save_dets FILE]\n"
             "       darknet detector map DATA -dets FILE [-iou_thresh 0.5] [-points 11|0] [-json FILE]\n"
             "       either form with -coco (or -iou_thresh 0.5:0.95 -points 101): COCO-style\n");
}

/* A number of -iou_thresh, from text to end (or to the string's end). */
static int iou_number(const char *text, const char *end, double *x)
{
    char *stop;
    errno = 0;
    *x = strtod(text, &stop);
    if (stop == text || errno || !isfinite(*x)) return -1;
    return end ? (stop == end ? 0 : -1) : (*stop ? -1 : 0);
}

/* -iou_thresh: one threshold in (0, 1] (VOC), or the range 0.5:0.95, which
 * asks for the COCO-style evaluation.  Returns 1 for the range. */
static int parse_iou_thresh(const char *v, float *single)
{
    const char *colon = strchr(v, ':');
    double lo, hi;
    if (!colon) {
        if (iou_number(v, NULL, &lo)) {
            dn_fatal("-iou_thresh %s: expected a number in (0, 1] or the range 0.5:0.95\n", v);
        }
        if (!(lo > 0 && lo <= 1)) {
            dn_fatal("-iou_thresh %s: expected a value in (0, 1]\n", v);
        }
        *single = (float)lo;
        return 0;
    }
    if (iou_number(v, colon, &lo) || iou_number(colon + 1, NULL, &hi)) {
        dn_fatal("-iou_thresh %s: expected a number in (0, 1] or the range 0.5:0.95\n", v);
    }
    if (fabs(lo - .5) > 1e-9 || fabs(hi - .95) > 1e-9) {
        dn_fatal("-iou_thresh %s: the only range is 0.5:0.95 (COCO-style)\n", v);
    }
    return 1;
}

/* -coco, -iou_thresh and -points: VOC at one threshold, or COCO-style,
 * which any of -coco, -iou_thresh 0.5:0.95 and -points 101 asks for and
 * none of the others may then contradict. */
static void read_protocol(int argc, char **argv, det_eval_opts *o)
{
    char *iou = det_arg_str(argc, argv, "-iou_thresh", NULL);
    int points = det_arg_int(argc, argv, "-points", -1);
    int range = iou ? parse_iou_thresh(iou, &o->iou_thresh) : 0;
    o->coco = det_arg_flag(argc, argv, "-coco") || range || points == 101;
    if (o->coco) {
        if (iou && !range) {
            dn_fatal("-iou_thresh %s: the COCO-style evaluation (-coco, -points 101) "
                     "uses 0.5:0.95, and reports AP50 and AP75 among its results\n", iou);
        }
        if (points != -1 && points != 101) {
            dn_fatal("-points %d: the COCO-style evaluation (-coco, -iou_thresh 0.5:0.95) uses 101\n",
                     points);
        }
        return;
    }
    if (points != -1) o->points = points;
    if (o->points != 0 && o->points != 11) {
        dn_fatal("-points %d: expected 11 (VOC2007), 0 (all points) or 101 (COCO-style)\n", o->points);
    }
}

static void check_map_args(int argc, char **argv, int npos, const char *dets_file)
{
    if (npos < 4 || (!dets_file && npos < 6)) usage();
    for (int i = 1; i < npos; ++i) {
        if (argv[i][0] == '-' && argv[i][1]) {
            dn_fatal("unknown option %s\n", argv[i]);
        }
    }
}

/* The detector to score, batch 1; *classes (0 when the .data file has none)
 * becomes its class count, and must agree with it otherwise. */
static network *load_detector(char *cfg, char *weights, const char *datacfg, int *classes)
{
    network *net = load_network(cfg, weights, 0);
    set_batch_network(net, 1);
    layer l = net->layers[net->n - 1];
    if (l.type != YOLO && l.type != REGION && !rcnn_is_layer(l, &rcnn_ext)) {
        dn_fatal("%s: the last layer is not [yolo], [region] or [rcnn]\n", cfg);
    }
    if (*classes <= 0) *classes = l.classes;
    if (l.classes != *classes) {
        dn_fatal("%s has classes=%d, %s has %d\n", datacfg, *classes, cfg, l.classes);
    }
    return net;
}

/* Detections of the network (written to save_file too, when given), or
 * those of dets_file; returns the number of images scored. */
static int collect_detections(network *net, const char *dets_file, const char *save_file, char **paths,
                              int n, int classes, det_eval_opts o, vm_set *s)
{
    if (dets_file) {
        int scored = det_collect_file(dets_file, paths, n, classes, s);
        if (scored < 0) exit(1);
        return scored;
    }
    FILE *out = NULL;
    if (save_file) out = dn_fopen(save_file, "w");
    int scored = det_collect(net, paths, n, classes, o, s, out);
    if (out) fclose(out);
    return scored;
}

/* Scores s by the protocol of o, prints the table, and writes it to the
 * open file fp (named json) when there is one. */
static void report(const vm_set *s, int classes, det_eval_opts o, char **names, FILE *fp,
                   const char *json)
{
    int bad;
    if (o.coco) {
        cm_result r;
        cm_evaluate(s->dets, s->n_dets, s->truths, s->n_truths, classes, &r);
        cm_print_table(stdout, &r, names);
        bad = fp && cm_write_json(fp, &r, names);
        cm_result_free(&r);
    } else {
        vm_result r;
        vm_evaluate(s->dets, s->n_dets, s->truths, s->n_truths, classes, o.iou_thresh, o.points, &r);
        vm_print_table(stdout, &r, names);
        bad = fp && vm_write_json(fp, &r, names);
        vm_result_free(&r);
    }
    if (fp && (fclose(fp) || bad)) {
        dn_fatal("cannot write %s\n", json);
    }
}

void det_map_command(int argc, char **argv)
{
    det_eval_opts o = det_eval_defaults();
    read_protocol(argc, argv, &o);
    o.thresh = det_arg_float(argc, argv, "-thresh", o.thresh);
    o.nms = det_arg_float(argc, argv, "-nms", o.nms);
    char *json = det_arg_str(argc, argv, "-json", NULL);
    char *save = det_arg_str(argc, argv, "-save_dets", NULL);
    char *dets_file = det_arg_str(argc, argv, "-dets", NULL);
    check_map_args(argc, argv, det_positional(argc, argv), dets_file);

    char *datacfg = argv[3];
    list *options = read_data_cfg(datacfg);
    char *valid = option_find(options, "valid");
    char *names_file = option_find(options, "names");
    int classes = option_find_int_quiet(options, "classes", 0);
    if (!valid) {
        dn_fatal("%s: no valid= list\n", datacfg);
    }
    char **names = names_file ? get_labels(names_file) : NULL;
    int n;
    char **paths = det_read_list(valid, &n);
    network *net = dets_file ? NULL : load_detector(argv[4], argv[5], datacfg, &classes);
    if (classes <= 0) {
        dn_fatal("%s: no classes=\n", datacfg);
    }

    /* opened before a long run, so that a path that cannot be written fails at once */
    FILE *json_fp = json ? dn_fopen(json, "w") : NULL;
    vm_set s;
    vm_set_init(&s);
    double start = what_time_is_it_now();
    int scored = collect_detections(net, dets_file, save, paths, n, classes, o, &s);
    printf("\n%d of %d images scored, %d detections, %.1f seconds\n", scored, n, s.n_dets,
           what_time_is_it_now() - start);
    det_issue_summary(stdout);
    report(&s, classes, o, names, json_fp, json);
    vm_set_free(&s);
}
