/* voc_map.c: PASCAL VOC average precision (see voc_map.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/voc_map.h"
#include "checked.h"

static void *grow(void *p, int *cap, int need, size_t size)
{
    if (need <= *cap) return p;
    int cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    void *q = realloc(p, (size_t)cap2 * size);
    if (!q) {
        dn_fatal("out of memory\n");
    }
    *cap = cap2;
    return q;
}

void vm_set_init(vm_set *s)
{
    memset(s, 0, sizeof(*s));
}

void vm_set_free(vm_set *s)
{
    free(s->dets);
    free(s->truths);
    memset(s, 0, sizeof(*s));
}

void vm_set_add_det(vm_set *s, int image, int cls, float score, vm_box b)
{
    s->dets = grow(s->dets, &s->cap_dets, s->n_dets + 1, sizeof(vm_det));
    vm_det d = {image, cls, score, b};
    s->dets[s->n_dets++] = d;
}

static void add_truth(vm_set *s, vm_truth t)
{
    s->truths = grow(s->truths, &s->cap_truths, s->n_truths + 1, sizeof(vm_truth));
    s->truths[s->n_truths++] = t;
}

void vm_set_add_truth(vm_set *s, int image, int cls, int difficult, vm_box b)
{
    vm_truth t = {.image = image, .cls = cls, .difficult = difficult ? 1 : 0, .box = b};
    add_truth(s, t);
}

void vm_set_add_crowd(vm_set *s, int image, int cls, vm_box b)
{
    vm_truth t = {.image = image, .cls = cls, .crowd = 1, .box = b};
    add_truth(s, t);
}

double vm_iou(vm_box a, vm_box b)
{
    double iw = fmin(a.x2, b.x2) - fmax(a.x1, b.x1);
    double ih = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    double ua = (double)(a.x2 - a.x1) * (a.y2 - a.y1) + (double)(b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0;
}

double vm_ap(const double *recall, const double *precision, int n, int points)
{
    if (n <= 0) return 0;
    if (points > 0) {
        /* mean over recall levels 0, 1/(points-1), ..., 1 of the best
         * precision at that recall or more */
        double sum = 0;
        for (int k = 0; k < points; ++k) {
            double level = (double)k / (points - 1);
            double best = 0;
            for (int i = 0; i < n; ++i) {
                if (recall[i] >= level && precision[i] > best) best = precision[i];
            }
            sum += best;
        }
        return sum / points;
    }
    /* area under the curve whose precision at recall r is the best
     * precision at any recall >= r */
    double area = 0, best = 0;
    for (int i = n - 1; i >= 0; --i) {
        if (precision[i] > best) best = precision[i];
        double prev = i > 0 ? recall[i - 1] : 0;
        if (recall[i] > prev) area += (recall[i] - prev) * best;
    }
    return area;
}

/* Sort keys carry their own index, so that the comparisons need no shared
 * state and equal keys keep their order. */
typedef struct key {
    double k;
    int i;
} key;

static int by_key(const void *a, const void *b)
{
    const key *x = a, *y = b;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Sorts idx[0..n) by k (ascending), stable. */
static void sort_index(int *idx, double *k, int n, key *tmp)
{
    for (int i = 0; i < n; ++i) {
        tmp[i].k = k[i];
        tmp[i].i = idx[i];
    }
    qsort(tmp, n, sizeof(key), by_key);
    for (int i = 0; i < n; ++i) idx[i] = tmp[i].i;
}

/* First position in idx[0..n) whose truth is on image >= img. */
static int lower_bound(const int *idx, int n, const vm_truth *t, int img)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (t[idx[mid]].image < img) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static void eval_class(const vm_det *dets, const int *di, int nd,
                       const vm_truth *truths, const int *ti, int nt,
                       float iou_thresh, int points, vm_class *c,
                       char *taken, double *rec, double *prec)
{
    int tp = 0, fp = 0, k = 0;
    for (int i = 0; i < nd; ++i) {
        const vm_det *d = &dets[di[i]];
        int first = lower_bound(ti, nt, truths, d->image);
        double best = -1;
        int jbest = -1;
        for (int j = first; j < nt && truths[ti[j]].image == d->image; ++j) {
            double o = vm_iou(d->box, truths[ti[j]].box);
            if (o > best) {
                best = o;
                jbest = j;
            }
        }
        if (jbest >= 0 && best >= iou_thresh) {
            if (truths[ti[jbest]].difficult) {
                c->ignored++;
                continue;
            }
            if (!taken[jbest]) {
                taken[jbest] = 1;
                tp++;
            } else {
                fp++;
            }
        } else {
            fp++;
        }
        rec[k] = c->n_truth ? (double)tp / c->n_truth : 0;
        prec[k] = (double)tp / (tp + fp);
        k++;
    }
    c->tp = tp;
    c->fp = fp;
    c->recall = c->n_truth ? (double)tp / c->n_truth : 0;
    c->has_ap = c->n_truth > 0;
    c->ap = c->has_ap ? vm_ap(rec, prec, k, points) : 0;
}

int vm_evaluate(const vm_det *dets, int n_dets, const vm_truth *truths, int n_truths,
                int classes, float iou_thresh, int points, vm_result *out)
{
    memset(out, 0, sizeof(*out));
    if (classes < 1 || n_dets < 0 || n_truths < 0 || (points != 0 && points < 2)) return -1;
    out->classes = classes;
    out->iou_thresh = iou_thresh;
    out->points = points;
    out->cls = calloc(classes, sizeof(vm_class));
    int *di = malloc(sizeof(int) * (n_dets + 1));
    int *ti = malloc(sizeof(int) * (n_truths + 1));
    char *taken = malloc(n_truths + 1);
    double *rec = malloc(sizeof(double) * (n_dets + 1));
    double *prec = malloc(sizeof(double) * (n_dets + 1));
    int most = n_dets > n_truths ? n_dets : n_truths;
    double *k = malloc(sizeof(double) * (most + 1));
    key *tmp = malloc(sizeof(key) * (most + 1));
    if (!out->cls || !di || !ti || !taken || !rec || !prec || !k || !tmp) {
        dn_fatal("out of memory\n");
    }
    double sum = 0;
    for (int c = 0; c < classes; ++c) {
        vm_class *vc = &out->cls[c];
        int nd = 0, nt = 0;
        for (int i = 0; i < n_dets; ++i) if (dets[i].cls == c) di[nd++] = i;
        for (int i = 0; i < n_truths; ++i) {
            if (truths[i].cls != c || truths[i].crowd) continue;
            ti[nt++] = i;
            if (truths[i].difficult) vc->n_difficult++; else vc->n_truth++;
        }
        vc->n_det = nd;
        for (int i = 0; i < nd; ++i) k[i] = -(double)dets[di[i]].score;
        sort_index(di, k, nd, tmp);
        for (int i = 0; i < nt; ++i) k[i] = truths[ti[i]].image;
        sort_index(ti, k, nt, tmp);
        memset(taken, 0, nt + 1);
        eval_class(dets, di, nd, truths, ti, nt, iou_thresh, points, vc, taken, rec, prec);
        if (vc->has_ap) {
            sum += vc->ap;
            out->counted++;
        }
    }
    out->map = out->counted ? sum / out->counted : 0;
    free(di);
    free(ti);
    free(taken);
    free(rec);
    free(prec);
    free(k);
    free(tmp);
    return 0;
}

void vm_result_free(vm_result *r)
{
    free(r->cls);
    r->cls = NULL;
}

void vm_print_table(FILE *fp, const vm_result *r, char **names)
{
    fprintf(fp, "%3s  %-16s %7s %6s %6s %6s %6s %7s %8s\n",
            "id", "class", "truths", "diff", "dets", "TP", "FP", "recall", "AP(%)");
    for (int c = 0; c < r->classes; ++c) {
        const vm_class *v = &r->cls[c];
        char name[32];
        snprintf(name, sizeof(name), "%s", names && names[c] ? names[c] : "");
        fprintf(fp, "%3d  %-16s %7d %6d %6d %6d %6d", c, name, v->n_truth, v->n_difficult,
                v->n_det, v->tp, v->fp);
        if (v->has_ap) fprintf(fp, " %7.4f %8.2f\n", v->recall, 100 * v->ap);
        else fprintf(fp, " %7s %8s\n", "-", "-");
    }
    fprintf(fp, "mAP@%.2f (%s) = %.2f %% over %d classes\n", r->iou_thresh,
            r->points ? "11-point, VOC2007" : "all points, VOC2010+",
            100 * r->map, r->counted);
}

void vm_json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; s && *s; ++s) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(fp, "\\%c", ch);
        else if (ch < 0x20) fprintf(fp, "\\u%04x", ch);
        else fputc(ch, fp);
    }
    fputc('"', fp);
}

int vm_write_json(FILE *fp, const vm_result *r, char **names)
{
    fprintf(fp, "{\n  \"iou_thresh\": %g,\n  \"points\": %d,\n  \"map\": %.6f,\n"
                "  \"classes_counted\": %d,\n  \"classes\": [\n",
            r->iou_thresh, r->points, r->map, r->counted);
    for (int c = 0; c < r->classes; ++c) {
        const vm_class *v = &r->cls[c];
        fprintf(fp, "    {\"id\": %d, \"name\": ", c);
        vm_json_string(fp, names && names[c] ? names[c] : "");
        fprintf(fp, ", \"truths\": %d, \"difficult\": %d, \"detections\": %d, "
                    "\"tp\": %d, \"fp\": %d, \"ignored\": %d, ",
                v->n_truth, v->n_difficult, v->n_det, v->tp, v->fp, v->ignored);
        if (v->has_ap) fprintf(fp, "\"recall\": %.6f, \"ap\": %.6f}", v->recall, v->ap);
        else fprintf(fp, "\"recall\": null, \"ap\": null}");
        fprintf(fp, "%s\n", c + 1 < r->classes ? "," : "");
    }
    fprintf(fp, "  ]\n}\n");
    return ferror(fp) ? -1 : 0;
}
