/* rcnn_boxes.c: box mathematics of a two-stage detector (see rcnn_boxes.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcnn/rcnn_boxes.h"
#include "checked.h"

int rb_box_usable(rb_box b)
{
    return isfinite(b.x1) && isfinite(b.y1) && isfinite(b.x2) && isfinite(b.y2) &&
           b.x2 > b.x1 && b.y2 > b.y1;
}

static int positive_finite(float v)
{
    return isfinite(v) && v > 0;
}

/* ---- anchors ------------------------------------------------------------ */

int rb_make_anchors(const float *sizes, int n_sizes, const float *ratios, int n_ratios,
                    float stride, int h, int w, rb_box *out)
{
    if (n_sizes < 1 || n_ratios < 1 || h < 1 || w < 1 || !positive_finite(stride)) return -1;
    if ((double)n_sizes * n_ratios * h * w > INT_MAX) return -1;   /* the count is an int */
    for (int i = 0; i < n_sizes; ++i) if (!positive_finite(sizes[i])) return -1;
    for (int i = 0; i < n_ratios; ++i) if (!positive_finite(ratios[i])) return -1;
    int per_cell = n_sizes * n_ratios;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            double cx = (x + 0.5) * stride, cy = (y + 0.5) * stride;
            rb_box *cell = out + ((size_t)y * w + x) * per_cell;
            for (int a = 0; a < per_cell; ++a) {
                double root = sqrt((double)ratios[a / n_sizes]);
                double half_w = 0.5 * sizes[a % n_sizes] / root;
                double half_h = 0.5 * sizes[a % n_sizes] * root;
                rb_box b = {(float)(cx - half_w), (float)(cy - half_h),
                            (float)(cx + half_w), (float)(cy + half_h)};
                cell[a] = b;
            }
        }
    }
    return h * w * per_cell;
}

/* ---- overlap -------------------------------------------------------------- */

/* Differences and products of floats are exact in double precision, so the
 * only rounding is in the union's sum and the division: a reference in
 * float64 that follows the same order gets the same bits. */
float rb_iou(rb_box a, rb_box b)
{
    if (!rb_box_usable(a) || !rb_box_usable(b)) return 0;
    double iw = fmin(a.x2, b.x2) - fmax(a.x1, b.x1);
    double ih = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    double area_a = ((double)a.x2 - a.x1) * ((double)a.y2 - a.y1);
    double area_b = ((double)b.x2 - b.x1) * ((double)b.y2 - b.y1);
    return (float)(inter / ((area_a + area_b) - inter));
}

void rb_iou_matrix(const rb_box *a, int na, const rb_box *b, int nb, float *out)
{
    for (int i = 0; i < na; ++i) {
        for (int j = 0; j < nb; ++j) out[(size_t)i * nb + j] = rb_iou(a[i], b[j]);
    }
}

/* ---- encoding ------------------------------------------------------------- */

static double weight_or_one(float w)
{
    return positive_finite(w) ? w : 1.0;
}

int rb_encode(rb_box ref, rb_box target, rb_weights wt, float d[4])
{
    if (!rb_box_usable(ref) || !rb_box_usable(target)) {
        d[0] = d[1] = d[2] = d[3] = 0;
        return -1;
    }
    double rw = (double)ref.x2 - ref.x1, rh = (double)ref.y2 - ref.y1;
    double tw = (double)target.x2 - target.x1, th = (double)target.y2 - target.y1;
    double rcx = ref.x1 + 0.5 * rw, rcy = ref.y1 + 0.5 * rh;
    double tcx = target.x1 + 0.5 * tw, tcy = target.y1 + 0.5 * th;
    d[0] = (float)(weight_or_one(wt.wx) * (tcx - rcx) / rw);
    d[1] = (float)(weight_or_one(wt.wy) * (tcy - rcy) / rh);
    d[2] = (float)(weight_or_one(wt.ww) * log(tw / rw));
    d[3] = (float)(weight_or_one(wt.wh) * log(th / rh));
    return 0;
}

static double finite_or_zero(float v)
{
    return isfinite(v) ? v : 0.0;
}

rb_box rb_decode(rb_box ref, const float d[4], rb_weights wt)
{
    if (!rb_box_usable(ref)) return ref;
    double rw = (double)ref.x2 - ref.x1, rh = (double)ref.y2 - ref.y1;
    double rcx = ref.x1 + 0.5 * rw, rcy = ref.y1 + 0.5 * rh;
    double dx = finite_or_zero(d[0]) / weight_or_one(wt.wx);
    double dy = finite_or_zero(d[1]) / weight_or_one(wt.wy);
    double dw = fmin(finite_or_zero(d[2]) / weight_or_one(wt.ww), RB_DECODE_CLAMP);
    double dh = fmin(finite_or_zero(d[3]) / weight_or_one(wt.wh), RB_DECODE_CLAMP);
    double cx = dx * rw + rcx, cy = dy * rh + rcy;
    double half_w = 0.5 * exp(dw) * rw, half_h = 0.5 * exp(dh) * rh;
    rb_box b = {(float)(cx - half_w), (float)(cy - half_h), (float)(cx + half_w),
                (float)(cy + half_h)};
    return b;
}

static float clamp_to(float v, float hi)
{
    if (isnan(v)) return 0;
    if (v < 0) return 0;
    return v > hi ? hi : v;
}

rb_box rb_clip(rb_box b, float width, float height)
{
    rb_box c = {clamp_to(b.x1, width), clamp_to(b.y1, height), clamp_to(b.x2, width),
                clamp_to(b.y2, height)};
    return c;
}

/* ---- selection ------------------------------------------------------------ */

typedef struct scored {
    float score;
    int index;
} scored;

/* Falling score, then rising index: a total order, so qsort's lack of
 * stability cannot change the result. */
static int by_score(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Fills order with the indices of the chosen entries (non-NaN score and,
 * when boxes is given, a usable box) in score order; returns their number. */
static int score_order(const float *scores, const rb_box *boxes, int n, int *order)
{
    scored *s = dn_malloc(sizeof(scored) * (size_t)(n > 0 ? n : 1));
    int m = 0;
    for (int i = 0; i < n; ++i) {
        if (isnan(scores[i]) || (boxes && !rb_box_usable(boxes[i]))) continue;
        s[m].score = scores[i];
        s[m].index = i;
        m++;
    }
    qsort(s, m, sizeof(scored), by_score);
    for (int i = 0; i < m; ++i) order[i] = s[i].index;
    free(s);
    return m;
}

int rb_top_n(const float *scores, int n, int top_n, int *idx)
{
    if (n <= 0 || top_n <= 0) return 0;
    int *order = dn_malloc(sizeof(int) * (size_t)n);
    int m = score_order(scores, NULL, n, order);
    if (m > top_n) m = top_n;
    memcpy(idx, order, sizeof(int) * (size_t)m);
    free(order);
    return m;
}

/* The boxes of an NMS in score order, with their areas: rb_iou() of two of
 * them without its checks (score_order() keeps usable boxes only) and with
 * the areas computed once.  The same operations on the same values, so the
 * same bits; the minima and maxima of finite floats are exact either way. */
typedef struct sorted_boxes {
    rb_box *box;
    double *area;
} sorted_boxes;

static float sorted_iou(const sorted_boxes *s, int i, int j)
{
    rb_box a = s->box[i], b = s->box[j];
    double iw = (double)(a.x2 < b.x2 ? a.x2 : b.x2) - (a.x1 > b.x1 ? a.x1 : b.x1);
    double ih = (double)(a.y2 < b.y2 ? a.y2 : b.y2) - (a.y1 > b.y1 ? a.y1 : b.y1);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    return (float)(inter / ((s->area[i] + s->area[j]) - inter));
}

int rb_nms(const rb_box *boxes, const float *scores, int n, float iou_thresh, int max_keep,
           int *keep)
{
    if (n <= 0) return 0;
    int *order = dn_malloc(sizeof(int) * (size_t)n);
    char *gone = dn_calloc((size_t)n, 1);
    int m = score_order(scores, boxes, n, order);
    sorted_boxes s = {dn_malloc(sizeof(rb_box) * (size_t)(m ? m : 1)), dn_malloc(sizeof(double) * (size_t)(m ? m : 1))};
    for (int i = 0; i < m; ++i) {
        rb_box b = s.box[i] = boxes[order[i]];
        s.area[i] = ((double)b.x2 - b.x1) * ((double)b.y2 - b.y1);
    }
    int kept = 0;
    for (int i = 0; i < m && (max_keep <= 0 || kept < max_keep); ++i) {
        if (gone[i]) continue;
        keep[kept++] = order[i];
        for (int j = i + 1; j < m; ++j) {
            if (!gone[j] && sorted_iou(&s, i, j) > iou_thresh) gone[j] = 1;
        }
    }
    free(s.box);
    free(s.area);
    free(order);
    free(gone);
    return kept;
}

/* ---- first stage: anchor labels -------------------------------------------- */

rb_rpn_params rb_rpn_defaults(void)
{
    rb_rpn_params p = {0.7f, 0.3f, 0.0f, 256, 0.5f};
    return p;
}

static int inside_image(rb_box b, float img_w, float img_h, float border)
{
    return b.x1 >= -border && b.y1 >= -border && b.x2 <= img_w + border &&
           b.y2 <= img_h + border;
}

/* Indices of the usable truths (and, when classes is given, with a class
 * >= 0); returns their number. */
static int usable_truths(const rb_box *truths, const int *classes, int nt, int *out)
{
    int m = 0;
    for (int j = 0; j < nt; ++j) {
        if (rb_box_usable(truths[j]) && (!classes || classes[j] >= 0)) out[m++] = j;
    }
    return m;
}

/* For each candidate box: its best IoU over the truths tidx[0..nu) and that
 * truth's index in truths (the lower one on ties; -1 and IoU 0 when nu is
 * 0).  iou (may be NULL) keeps the whole matrix, candidates by truths. */
static void best_truths(const rb_box *boxes, const char *use, int n, const rb_box *truths,
                        const int *tidx, int nu, float *best, int *arg, float *iou)
{
    for (int i = 0; i < n; ++i) {
        best[i] = 0;
        arg[i] = -1;
        if (use && !use[i]) continue;
        for (int k = 0; k < nu; ++k) {
            float o = rb_iou(boxes[i], truths[tidx[k]]);
            if (iou) iou[(size_t)i * nu + k] = o;
            if (arg[i] < 0 || o > best[i]) {
                best[i] = o;
                arg[i] = tidx[k];
            }
        }
    }
}

/* Rule 3 of rb_rpn_assign: every inside anchor tied at a truth's best IoU
 * over all inside anchors becomes positive. */
static void mark_best_for_each_truth(const char *inside, int na, const float *iou, int nu,
                                     int *labels)
{
    for (int k = 0; k < nu; ++k) {
        float top = 0;
        for (int i = 0; i < na; ++i) {
            if (inside[i] && iou[(size_t)i * nu + k] > top) top = iou[(size_t)i * nu + k];
        }
        if (top <= 0) continue;   /* overlapping no anchor: no anchor is its best */
        for (int i = 0; i < na; ++i) {
            if (inside[i] && iou[(size_t)i * nu + k] == top) labels[i] = RB_POSITIVE;
        }
    }
}

int rb_rpn_assign(const rb_box *anchors, int na, const rb_box *truths, int nt,
                  float img_w, float img_h, const rb_rpn_params *p, int *labels, int *matched)
{
    if (na <= 0) return 0;
    if (nt < 0) nt = 0;
    int *tidx = dn_malloc(sizeof(int) * (size_t)(nt + 1));
    int nu = usable_truths(truths, NULL, nt, tidx);
    char *inside = dn_malloc((size_t)na);
    for (int i = 0; i < na; ++i) {
        inside[i] = rb_box_usable(anchors[i]) &&
                    inside_image(anchors[i], img_w, img_h, p->border);
    }
    float *best = dn_malloc(sizeof(float) * (size_t)na);
    float *iou = dn_malloc(sizeof(float) * (size_t)na * (size_t)(nu + 1));
    int *arg = matched ? matched : dn_malloc(sizeof(int) * (size_t)na);
    best_truths(anchors, inside, na, truths, tidx, nu, best, arg, iou);
    for (int i = 0; i < na; ++i) {
        labels[i] = inside[i] && best[i] < p->neg_iou ? RB_NEGATIVE : RB_IGNORE;
    }
    mark_best_for_each_truth(inside, na, iou, nu, labels);
    int positives = 0;
    for (int i = 0; i < na; ++i) {
        if (inside[i] && nu > 0 && best[i] >= p->pos_iou) labels[i] = RB_POSITIVE;
        positives += labels[i] == RB_POSITIVE;
    }
    free(tidx);
    free(inside);
    free(best);
    free(iou);
    if (arg != matched) free(arg);
    return positives;
}

/* Keeps a uniformly random subset of at most cap of the m indices in idx
 * (a partial Fisher-Yates shuffle moves it to the front) and returns its
 * size; idx[kept..m) are the dropped ones. */
static int random_subset(int *idx, int m, int cap, rng *r)
{
    if (cap < 0) cap = 0;
    if (m <= cap) return m;
    for (int k = 0; k < cap; ++k) {
        int j = k + (int)rng_below(r, (uint32_t)(m - k));
        int t = idx[k];
        idx[k] = idx[j];
        idx[j] = t;
    }
    return cap;
}

/* Keeps at most cap of the entries labelled `label`; returns how many. */
static int thin_label(int *labels, int na, int label, int cap, rng *r, int *scratch)
{
    int m = 0;
    for (int i = 0; i < na; ++i) if (labels[i] == label) scratch[m++] = i;
    int kept = random_subset(scratch, m, cap, r);
    for (int k = kept; k < m; ++k) labels[scratch[k]] = RB_IGNORE;
    return kept;
}

static float fraction_in_unit(float f)
{
    if (!(f >= 0)) return 0;   /* also NaN */
    return f > 1 ? 1 : f;
}

void rb_rpn_sample(int *labels, int na, const rb_rpn_params *p, rng *r, int *n_pos, int *n_neg)
{
    int batch = p->batch > 0 ? p->batch : 0;
    int pos = 0, neg = 0;
    if (na > 0) {
        int *scratch = dn_malloc(sizeof(int) * (size_t)na);
        pos = thin_label(labels, na, RB_POSITIVE, (int)(batch * fraction_in_unit(p->pos_fraction)),
                         r, scratch);
        neg = thin_label(labels, na, RB_NEGATIVE, batch - pos, r, scratch);
        free(scratch);
    }
    if (n_pos) *n_pos = pos;
    if (n_neg) *n_neg = neg;
}

/* ---- second stage: RoI sampling -------------------------------------------- */

rb_roi_params rb_roi_defaults(void)
{
    rb_roi_params p = {0.5f, 0.5f, 0.0f, 128, 0.25f};
    return p;
}

static int by_int(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

/* The RoI candidates: usable proposals, then the usable truths tidx[0..nu).
 * Returns their number; cand has room for np + nu. */
static int gather_candidates(const rb_box *proposals, int np, const rb_box *truths,
                             const int *tidx, int nu, rb_box *cand)
{
    int m = 0;
    for (int i = 0; i < np; ++i) if (rb_box_usable(proposals[i])) cand[m++] = proposals[i];
    for (int k = 0; k < nu; ++k) cand[m++] = truths[tidx[k]];
    return m;
}

/* Draws at most cap of the m candidates in idx and puts them back in
 * candidate order, so that the output does not depend on the draw's order. */
static int draw_sorted(int *idx, int m, int cap, rng *r)
{
    int kept = random_subset(idx, m, cap, r);
    qsort(idx, kept, sizeof(int), by_int);
    return kept;
}

int rb_sample_rois(const rb_box *proposals, int np, const rb_box *truths, const int *classes,
                   int nt, const rb_roi_params *p, rng *r,
                   rb_box *rois, int *labels, rb_box *targets, int *matched)
{
    if (np < 0) np = 0;
    if (nt < 0) nt = 0;
    int *tidx = dn_malloc(sizeof(int) * (size_t)(nt + 1));
    int nu = usable_truths(truths, classes, nt, tidx);
    size_t room = (size_t)np + nu + 1;
    rb_box *cand = dn_malloc(sizeof(rb_box) * room);
    float *best = dn_malloc(sizeof(float) * room);
    int *arg = dn_malloc(sizeof(int) * room);
    int *fg = dn_malloc(sizeof(int) * room), *bg = dn_malloc(sizeof(int) * room);
    int m = gather_candidates(proposals, np, truths, tidx, nu, cand);
    best_truths(cand, NULL, m, truths, tidx, nu, best, arg, NULL);
    int nfg = 0, nbg = 0;
    for (int i = 0; i < m; ++i) {
        if (arg[i] >= 0 && best[i] >= p->fg_iou) fg[nfg++] = i;
        else if (best[i] >= p->bg_lo && best[i] < p->bg_hi) bg[nbg++] = i;
    }
    int batch = p->batch > 0 ? p->batch : 0;
    int fg_cap = (int)lrint(batch * fraction_in_unit(p->fg_fraction));
    nfg = draw_sorted(fg, nfg, fg_cap, r);
    nbg = draw_sorted(bg, nbg, batch - nfg, r);
    for (int k = 0; k < nfg + nbg; ++k) {
        int i = k < nfg ? fg[k] : bg[k - nfg];
        rois[k] = cand[i];
        labels[k] = k < nfg ? (classes ? classes[arg[i]] + 1 : 1) : 0;
        targets[k] = arg[i] >= 0 ? truths[arg[i]] : cand[i];
        if (matched) matched[k] = arg[i];
    }
    free(tidx);
    free(cand);
    free(best);
    free(arg);
    free(fg);
    free(bg);
    return nfg + nbg;
}

/* ---- losses ---------------------------------------------------------------- */

static double usable_normalizer(float z)
{
    return positive_finite(z) ? z : 1.0;
}

/* The weight of entry i, or 0 when the entry is to be left out. */
static double entry_weight(const float *weights, int i, float a, float b)
{
    double w = weights ? weights[i] : 1.0;
    if (!isfinite(w) || !isfinite(a) || !isfinite(b)) return 0;
    return w;
}

float rb_sigmoid_ce(const float *x, const float *t, const float *weights, int n,
                    float normalizer, float *grad)
{
    double z = usable_normalizer(normalizer), sum = 0;
    for (int i = 0; i < n; ++i) {
        double w = entry_weight(weights, i, x[i], t[i]);
        if (grad) grad[i] = 0;
        if (w == 0) continue;
        double v = x[i];
        /* log(1 + exp(-|v|)) stays in (0, log 2]: no overflow for any v */
        sum += w * (fmax(v, 0) - v * t[i] + log1p(exp(-fabs(v))));
        /* the sigmoid from the side whose exponential cannot overflow */
        double s = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
        if (grad) grad[i] = (float)(w * (s - t[i]) / z);
    }
    return (float)(sum / z);
}

float rb_smooth_l1(const float *pred, const float *target, const float *weights, int n,
                   float beta, float normalizer, float *grad)
{
    double z = usable_normalizer(normalizer), sum = 0;
    double b = isfinite(beta) && beta > 0 ? beta : 0;
    for (int i = 0; i < n; ++i) {
        double w = entry_weight(weights, i, pred[i], target[i]);
        if (grad) grad[i] = 0;
        if (w == 0) continue;
        double d = (double)pred[i] - target[i], ad = fabs(d);
        double g;
        if (ad < b) {
            sum += w * 0.5 * d * d / b;
            g = d / b;
        } else {
            sum += w * (ad - 0.5 * b);
            g = (d > 0) - (d < 0);
        }
        if (grad) grad[i] = (float)(w * g / z);
    }
    return (float)(sum / z);
}
