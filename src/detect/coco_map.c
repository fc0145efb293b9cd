/* coco_map.c: COCO-style average precision (see coco_map.h). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/coco_map.h"
#include "checked.h"

/* ---- the twelve metrics ----------------------------------------------------- */

typedef struct metric_def {
    const char *name;
    int iou;               /* index of the threshold; -1: the mean over all ten */
    cm_area area;
    int max_dets;
} metric_def;

static const metric_def metric_defs[CM_METRICS] = {
    {"AP", -1, CM_ALL, 100},          {"AP50", 0, CM_ALL, 100},
    {"AP75", 5, CM_ALL, 100},         {"AP_small", -1, CM_SMALL, 100},
    {"AP_medium", -1, CM_MEDIUM, 100}, {"AP_large", -1, CM_LARGE, 100},
    {"AR1", -1, CM_ALL, 1},           {"AR10", -1, CM_ALL, 10},
    {"AR100", -1, CM_ALL, 100},       {"AR_small", -1, CM_SMALL, 100},
    {"AR_medium", -1, CM_MEDIUM, 100}, {"AR_large", -1, CM_LARGE, 100},
};

static const char *const area_names[CM_AREAS] = {"all", "small", "medium", "large"};
/* Bounds included on both sides, as pycocotools compares them. */
static const double area_lo[CM_AREAS] = {0, 0, 32 * 32, 96 * 96};
static const double area_hi[CM_AREAS] = {1e10, 32 * 32, 96 * 96, 1e10};

/* The decimals 0.50 ... 0.95 themselves, so that an IoU equal to one of them
 * (11/20, say) meets it exactly. */
static double iou_threshold(int t)
{
    return (50 + 5 * t) / 100.0;
}

static int known(cm_metric m)
{
    return m >= 0 && m < CM_METRICS;
}

const char *cm_metric_name(cm_metric m)
{
    return known(m) ? metric_defs[m].name : "";
}

int cm_metric_iou(cm_metric m)
{
    return known(m) ? metric_defs[m].iou : -1;
}

cm_area cm_metric_area(cm_metric m)
{
    return known(m) ? metric_defs[m].area : CM_ALL;
}

int cm_metric_max_dets(cm_metric m)
{
    return known(m) ? metric_defs[m].max_dets : CM_MAX_DETS;
}

double cm_class_metric(const cm_class *c, cm_metric m)
{
    if (!known(m)) return -1;
    const metric_def *d = &metric_defs[m];
    if (c->n_area[d->area] == 0) return -1;
    const double *v = c->ap[d->area];
    if (m >= CM_AR1) {
        v = d->max_dets == 1 ? c->recall1 : d->max_dets == 10 ? c->recall10 : c->recall[d->area];
    }
    if (d->iou >= 0) return v[d->iou];
    double sum = 0;
    for (int t = 0; t < CM_IOUS; ++t) sum += v[t];
    return sum / CM_IOUS;
}

/* ---- ordering --------------------------------------------------------------- */

/* A sort key that carries its detection's or truth's index, so that equal
 * keys keep the order in which they were added. */
typedef struct sort_key {
    double score;
    int image;
    int index;
} sort_key;

static double score_key(float s)
{
    return isnan(s) ? -INFINITY : s;   /* a NaN score ranks last, and the order stays total */
}

static int cmp_int(int a, int b)
{
    return (a > b) - (a < b);
}

/* Falling score, then image, then the order added: the order in which the
 * detections of a class are matched and accumulated. */
static int by_score(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->image != y->image) return cmp_int(x->image, y->image);
    return cmp_int(x->index, y->index);
}

/* Image, then falling score, then the order added: the order of the cap. */
static int by_image(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->image != y->image) return cmp_int(x->image, y->image);
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return cmp_int(x->index, y->index);
}

/* ---- the evaluation --------------------------------------------------------- */

enum { DET_TP, DET_FP, DET_IGNORED };

/* Scratch space, sized once for the whole input and reused by each class. */
typedef struct work {
    const vm_det *dets;
    const vm_truth *truths;
    int *rank;             /* per detection: its place in its image by score; INT_MAX if left out */
    sort_key *keys;
    int *d, nd;            /* the class's kept detections, in order of by_score */
    int *t, nt;            /* the class's truths, by image (stable) */
    int *first, *count;    /* per detection: its image's truths, t[first .. first+count) */
    size_t *off;           /* per detection: where its overlaps start in iou */
    double *iou;
    size_t cap_iou;
    char *ignored, *many, *taken;   /* per truth */
    signed char *status;   /* per detection */
    double *rec, *prec;
} work;

static double box_area(vm_box b)
{
    return fmax(0, (double)b.x2 - b.x1) * fmax(0, (double)b.y2 - b.y1);
}

/* A crowd region covers many objects, so a detection is measured by how
 * much of it lies inside the region: intersection / its own area. */
static double crowd_overlap(vm_box det, vm_box region)
{
    double iw = fmin(det.x2, region.x2) - fmax(det.x1, region.x1);
    double ih = fmin(det.y2, region.y2) - fmax(det.y1, region.y1);
    double area = (double)(det.x2 - det.x1) * (det.y2 - det.y1);
    if (iw <= 0 || ih <= 0 || !(area > 0)) return 0;
    return iw * ih / area;
}

/* Ranks every detection within its image; returns how many have a class in
 * range. */
static int rank_detections(work *w, int n_dets, int classes)
{
    int n = 0;
    for (int i = 0; i < n_dets; ++i) {
        w->rank[i] = INT_MAX;
        const vm_det *d = &w->dets[i];
        if (d->cls < 0 || d->cls >= classes) continue;
        sort_key k = {score_key(d->score), d->image, i};
        w->keys[n++] = k;
    }
    qsort(w->keys, n, sizeof(sort_key), by_image);
    int r = 0;
    for (int k = 0; k < n; ++k) {
        r = k > 0 && w->keys[k].image == w->keys[k - 1].image ? r + 1 : 0;
        w->rank[w->keys[k].index] = r;
    }
    return n;
}

/* The kept detections and the truths of class c, each in its order. */
static void gather_class(work *w, int c, int n_dets, int n_truths, cm_class *out)
{
    int n = 0;
    for (int i = 0; i < n_dets; ++i) {
        if (w->dets[i].cls != c || w->rank[i] >= CM_MAX_DETS) continue;
        sort_key k = {score_key(w->dets[i].score), w->dets[i].image, i};
        w->keys[n++] = k;
    }
    qsort(w->keys, n, sizeof(sort_key), by_score);
    for (int k = 0; k < n; ++k) w->d[k] = w->keys[k].index;
    w->nd = out->n_det = n;
    n = 0;
    for (int i = 0; i < n_truths; ++i) {
        const vm_truth *t = &w->truths[i];
        if (t->cls != c) continue;
        if (t->crowd) out->n_crowd++;
        else if (t->difficult) out->n_difficult++;
        else out->n_truth++;
        sort_key k = {0, t->image, i};
        w->keys[n++] = k;
    }
    qsort(w->keys, n, sizeof(sort_key), by_image);
    for (int k = 0; k < n; ++k) w->t[k] = w->keys[k].index;
    w->nt = n;
}

/* First position in t[0..n) whose truth is on image >= img. */
static int first_on_image(const work *w, int img)
{
    int lo = 0, hi = w->nt;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (w->truths[w->t[mid]].image < img) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Each kept detection's overlaps with the truths of its class and image,
 * computed once for every threshold and area range. */
static void overlaps(work *w)
{
    size_t total = 0;
    for (int k = 0; k < w->nd; ++k) {
        int img = w->dets[w->d[k]].image;
        int j = w->first[k] = first_on_image(w, img);
        while (j < w->nt && w->truths[w->t[j]].image == img) ++j;
        w->count[k] = j - w->first[k];
        w->off[k] = total;
        total += (size_t)w->count[k];
    }
    if (total > w->cap_iou) {
        free(w->iou);
        w->iou = dn_malloc(total * sizeof(double));
        w->cap_iou = total;
    }
    for (int k = 0; k < w->nd; ++k) {
        vm_box db = w->dets[w->d[k]].box;
        for (int j = 0; j < w->count[k]; ++j) {
            const vm_truth *t = &w->truths[w->t[w->first[k] + j]];
            w->iou[w->off[k] + j] = t->crowd ? crowd_overlap(db, t->box) : vm_iou(db, t->box);
        }
    }
}

/* Marks the truths ignored in area range a; returns how many count. */
static int mark_ignored(work *w, cm_area a)
{
    int counting = 0;
    for (int j = 0; j < w->nt; ++j) {
        const vm_truth *t = &w->truths[w->t[j]];
        double area = box_area(t->box);
        w->many[j] = t->crowd || t->difficult;
        w->ignored[j] = w->many[j] || area < area_lo[a] || area > area_hi[a];
        counting += !w->ignored[j];
    }
    return counting;
}

/* Among detection k's candidates that are ignored (or not) and still free,
 * the one of highest overlap >= thresh; -1 if none.  ">=" lets a later
 * truth of equal overlap win, as in pycocotools. */
static int best_truth(const work *w, int k, double thresh, int ignored)
{
    const double *o = w->iou + w->off[k];
    int best = -1;
    double top = thresh;
    for (int j = 0; j < w->count[k]; ++j) {
        int tj = w->first[k] + j;
        if (w->ignored[tj] != ignored) continue;
        if (w->taken[tj] && !w->many[tj]) continue;
        if (o[j] >= top) {
            top = o[j];
            best = tj;
        }
    }
    return best;
}

/* Greedy matching at one threshold in area range a: sets status. */
static void match(work *w, double thresh, cm_area a)
{
    memset(w->taken, 0, (size_t)w->nt + 1);
    for (int k = 0; k < w->nd; ++k) {
        int j = best_truth(w, k, thresh, 0);
        if (j < 0) j = best_truth(w, k, thresh, 1);
        if (j < 0) {
            double area = box_area(w->dets[w->d[k]].box);
            w->status[k] = area < area_lo[a] || area > area_hi[a] ? DET_IGNORED : DET_FP;
            continue;
        }
        w->taken[j] = 1;
        w->status[k] = w->ignored[j] ? DET_IGNORED : DET_TP;
    }
}

/* 101-point AP of the matched detections; counting: truths that count.
 * Ignored detections are left out: they would only repeat the point before
 * them, which changes neither the envelope nor where a level is reached. */
static double average_precision(work *w, int counting)
{
    int tp = 0, fp = 0, n = 0;
    for (int k = 0; k < w->nd; ++k) {
        if (w->status[k] == DET_IGNORED) continue;
        if (w->status[k] == DET_TP) ++tp; else ++fp;
        w->rec[n] = (double)tp / counting;
        w->prec[n] = (double)tp / (tp + fp);
        ++n;
    }
    for (int i = n - 1; i > 0; --i) {
        if (w->prec[i - 1] < w->prec[i]) w->prec[i - 1] = w->prec[i];
    }
    double sum = 0;
    int i = 0;
    for (int p = 0; p < CM_POINTS; ++p) {
        double level = (double)p / (CM_POINTS - 1);
        while (i < n && w->rec[i] < level) ++i;
        if (i == n) break;   /* levels past the last recall reached add 0 */
        sum += w->prec[i];
    }
    return sum / CM_POINTS;
}

/* Recall when each image keeps only its max_dets best detections.  Matching
 * is greedy in score order, so a detection's status does not depend on
 * lower-ranked ones, and the matching done with 100 an image serves. */
static double recall_within(const work *w, int counting, int max_dets)
{
    int tp = 0;
    for (int k = 0; k < w->nd; ++k) {
        if (w->status[k] == DET_TP && w->rank[w->d[k]] < max_dets) ++tp;
    }
    return (double)tp / counting;
}

static void eval_class(work *w, int c, int n_dets, int n_truths, cm_class *out)
{
    gather_class(w, c, n_dets, n_truths, out);
    overlaps(w);
    for (int a = 0; a < CM_AREAS; ++a) {
        int counting = out->n_area[a] = mark_ignored(w, (cm_area)a);
        if (!counting) continue;
        for (int t = 0; t < CM_IOUS; ++t) {
            match(w, iou_threshold(t), (cm_area)a);
            out->ap[a][t] = average_precision(w, counting);
            out->recall[a][t] = recall_within(w, counting, CM_MAX_DETS);
            if (a != CM_ALL) continue;
            out->recall1[t] = recall_within(w, counting, 1);
            out->recall10[t] = recall_within(w, counting, 10);
        }
    }
}

static void work_init(work *w, const vm_det *dets, int n_dets, const vm_truth *truths, int n_truths)
{
    memset(w, 0, sizeof(*w));
    w->dets = dets;
    w->truths = truths;
    size_t nd = (size_t)n_dets + 1, nt = (size_t)n_truths + 1;
    w->rank = dn_malloc(nd * sizeof(int));
    w->keys = dn_malloc((nd > nt ? nd : nt) * sizeof(sort_key));
    w->d = dn_malloc(nd * sizeof(int));
    w->first = dn_malloc(nd * sizeof(int));
    w->count = dn_malloc(nd * sizeof(int));
    w->off = dn_malloc(nd * sizeof(size_t));
    w->status = dn_malloc(nd);
    w->rec = dn_malloc(nd * sizeof(double));
    w->prec = dn_malloc(nd * sizeof(double));
    w->t = dn_malloc(nt * sizeof(int));
    w->ignored = dn_malloc(nt);
    w->many = dn_malloc(nt);
    w->taken = dn_malloc(nt);
}

static void work_free(work *w)
{
    void *all[] = {w->rank, w->keys, w->d, w->first, w->count, w->off, w->iou, w->status,
                   w->rec, w->prec, w->t, w->ignored, w->many, w->taken};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) free(all[i]);
    memset(w, 0, sizeof(*w));
}

/* Each metric: the mean over the classes that have it. */
static void summarize(cm_result *r)
{
    for (int m = 0; m < CM_METRICS; ++m) {
        double sum = 0;
        int n = 0;
        for (int c = 0; c < r->classes; ++c) {
            double v = cm_class_metric(&r->cls[c], (cm_metric)m);
            if (v < 0) continue;
            sum += v;
            ++n;
        }
        r->counted[m] = n;
        r->value[m] = n ? sum / n : -1;
    }
}

int cm_evaluate(const vm_det *dets, int n_dets, const vm_truth *truths, int n_truths,
                int classes, cm_result *out)
{
    memset(out, 0, sizeof(*out));
    if (classes < 1 || n_dets < 0 || n_truths < 0 || (n_dets && !dets) || (n_truths && !truths)) {
        return -1;
    }
    out->classes = classes;
    out->cls = dn_calloc((size_t)classes, sizeof(cm_class));
    work w;
    work_init(&w, dets, n_dets, truths, n_truths);
    out->n_dets = rank_detections(&w, n_dets, classes);
    for (int c = 0; c < classes; ++c) {
        eval_class(&w, c, n_dets, n_truths, &out->cls[c]);
        out->n_kept += out->cls[c].n_det;
    }
    work_free(&w);
    summarize(out);
    return 0;
}

void cm_result_free(cm_result *r)
{
    free(r->cls);
    r->cls = NULL;
}

/* ---- output ----------------------------------------------------------------- */

static void print_percent(FILE *fp, double v, int width)
{
    if (v < 0) fprintf(fp, " %*s", width, "-");
    else fprintf(fp, " %*.2f", width, 100 * v);
}

static const char *iou_label(cm_metric m)
{
    int t = metric_defs[m].iou;
    return t < 0 ? "0.50:0.95" : t == 0 ? "0.50" : "0.75";
}

static void print_classes(FILE *fp, const cm_result *r, char **names)
{
    fprintf(fp, "%3s  %-16s %7s %6s %6s %6s %7s %7s %7s %7s %7s %7s\n", "id", "class", "truths",
            "crowd", "diff", "dets", "AP", "AP50", "AP75", "AP_S", "AP_M", "AP_L");
    for (int c = 0; c < r->classes; ++c) {
        const cm_class *v = &r->cls[c];
        char name[32];
        snprintf(name, sizeof(name), "%s", names && names[c] ? names[c] : "");
        fprintf(fp, "%3d  %-16s %7d %6d %6d %6d", c, name, v->n_truth, v->n_crowd,
                v->n_difficult, v->n_det);
        for (int m = CM_AP; m <= CM_AP_LARGE; ++m) {
            print_percent(fp, cm_class_metric(v, (cm_metric)m), 7);
        }
        fputc('\n', fp);
    }
}

void cm_print_table(FILE *fp, const cm_result *r, char **names)
{
    fprintf(fp, "COCO-style: IoU 0.50:0.05:0.95, %d recall points, at most %d detections an image "
                "(%d of %d kept)\n", CM_POINTS, CM_MAX_DETS, r->n_kept, r->n_dets);
    print_classes(fp, r, names);
    fprintf(fp, "%-10s %-9s  %-6s %8s %9s %8s\n", "metric", "IoU", "area", "max dets", "value(%)",
            "classes");
    for (int m = 0; m < CM_METRICS; ++m) {
        const metric_def *d = &metric_defs[m];
        fprintf(fp, "%-10s %-9s  %-6s %8d", d->name, iou_label((cm_metric)m), area_names[d->area],
                d->max_dets);
        print_percent(fp, r->value[m], 9);
        fprintf(fp, " %8d\n", r->counted[m]);
    }
    if (r->counted[CM_AP]) {
        fprintf(fp, "mAP@[.50:.95] (COCO-style) = %.2f %% over %d classes\n", 100 * r->value[CM_AP],
                r->counted[CM_AP]);
    } else {
        fprintf(fp, "mAP@[.50:.95] (COCO-style) = - (no class has a truth)\n");
    }
}

static void json_value(FILE *fp, double v)
{
    if (v < 0) fprintf(fp, "null");
    else fprintf(fp, "%.6f", v);
}

/* "NAME": value, ... for the twelve metrics of one class or of the mean. */
static void json_metrics(FILE *fp, const cm_result *r, const cm_class *c)
{
    for (int m = 0; m < CM_METRICS; ++m) {
        fprintf(fp, "%s\"%s\": ", m ? ", " : "", metric_defs[m].name);
        json_value(fp, c ? cm_class_metric(c, (cm_metric)m) : r->value[m]);
    }
}

int cm_write_json(FILE *fp, const cm_result *r, char **names)
{
    fprintf(fp, "{\n  \"protocol\": \"coco\",\n  \"iou_thresholds\": [");
    for (int t = 0; t < CM_IOUS; ++t) fprintf(fp, "%s%.2f", t ? ", " : "", iou_threshold(t));
    fprintf(fp, "],\n  \"points\": %d,\n  \"max_dets\": %d,\n  \"detections\": %d,\n"
                "  \"kept\": %d,\n  \"map\": ", CM_POINTS, CM_MAX_DETS, r->n_dets, r->n_kept);
    json_value(fp, r->value[CM_AP]);
    fprintf(fp, ",\n  \"metrics\": {");
    json_metrics(fp, r, NULL);
    fprintf(fp, "},\n  \"classes_counted\": {");
    for (int m = 0; m < CM_METRICS; ++m) {
        fprintf(fp, "%s\"%s\": %d", m ? ", " : "", metric_defs[m].name, r->counted[m]);
    }
    fprintf(fp, "},\n  \"classes\": [\n");
    for (int c = 0; c < r->classes; ++c) {
        const cm_class *v = &r->cls[c];
        fprintf(fp, "    {\"id\": %d, \"name\": ", c);
        vm_json_string(fp, names && names[c] ? names[c] : "");
        fprintf(fp, ", \"truths\": %d, \"crowd\": %d, \"difficult\": %d, \"detections\": %d, ",
                v->n_truth, v->n_crowd, v->n_difficult, v->n_det);
        json_metrics(fp, r, v);
        fprintf(fp, "}%s\n", c + 1 < r->classes ? "," : "");
    }
    fprintf(fp, "  ]\n}\n");
    return ferror(fp) ? -1 : 0;
}
