/* rcnn_boxes.h: the box mathematics of a two-stage (Faster R-CNN) detector.
 *
 * Plain functions on plain arrays, shared by the [rpn], [roipool] and
 * [rcnn] layers; nothing here knows about layers.  No global state: the
 * only randomness comes from the caller's seeded generator (rand/rng.h),
 * so equal inputs and equal seeds give equal outputs.
 *
 * Conventions (docs/detection.md, "Two-stage detection: box mathematics"):
 *  - A box is (x1, y1, x2, y2) in pixels, continuous coordinates; its width
 *    is x2 - x1 and its height y2 - y1, with no +1 (the modern convention,
 *    as in torchvision and Detectron2, not the old Caffe one).
 *  - A box is usable when its four coordinates are finite and x2 > x1 and
 *    y2 > y1.  Every function below skips unusable boxes in a stated way;
 *    none of them reads past its arrays or divides by zero on them.
 *  - Anchors: the cell (x, y) of a feature map with stride s is centred at
 *    ((x + 0.5) s, (y + 0.5) s).  An anchor of size S and ratio r = h / w
 *    has w = S / sqrt(r) and h = S sqrt(r) (area S^2), unrounded.  Anchor
 *    a of a cell is ratio a / n_sizes and size a % n_sizes (ratios major,
 *    as torchvision orders them); anchor index (y W + x) A + a.
 *  - Encoding relative to a reference box of centre (cx, cy) and size
 *    (w, h): dx = wx (tx - cx) / w, dy = wy (ty - cy) / h,
 *    dw = ww log(tw / w), dh = wh log(th / h).  Decoding clamps dw / ww and
 *    dh / wh from above at log(1000 / 16).
 *  - Ties are broken by the lower index everywhere: in score order, in the
 *    best truth of an anchor, in NMS.
 *
 * Gradients are d loss / d input (the plain gradient).  Darknet's deltas
 * hold minus the gradient; the layers negate when they copy. */
#ifndef RCNN_BOXES_H
#define RCNN_BOXES_H

#include "rand/rng.h"

typedef struct rb_box {
    float x1, y1, x2, y2;
} rb_box;

/* Weights of the four encoded coordinates: (1, 1, 1, 1) for the RPN,
 * (10, 10, 5, 5) for the second stage.  A weight <= 0 or non-finite is
 * read as 1. */
typedef struct rb_weights {
    float wx, wy, ww, wh;
} rb_weights;

/* The decoding clamp of dw and dh: log(1000 / 16), so that no decoded box
 * grows past 1000/16 times its reference. */
#define RB_DECODE_CLAMP 4.135166556742356f

/* 1 when the coordinates are finite and the box has a positive area. */
int rb_box_usable(rb_box b);

/* ---- anchors ------------------------------------------------------------ */

/* Writes the h * w * n_sizes * n_ratios anchors of a feature map into out
 * (index (y w + x) A + a, see above).  Returns their number, or -1 (nothing
 * written) when a count is < 1, the stride is not positive or a size or a
 * ratio is not finite and positive, or the count would overflow an int. */
int rb_make_anchors(const float *sizes, int n_sizes, const float *ratios, int n_ratios,
                    float stride, int h, int w, rb_box *out);

/* ---- overlap -------------------------------------------------------------- */

/* Intersection over union, computed in double precision; 0 when either box
 * is unusable or they do not overlap. */
float rb_iou(rb_box a, rb_box b);

/* out[i nb + j] = rb_iou(a[i], b[j]). */
void rb_iou_matrix(const rb_box *a, int na, const rb_box *b, int nb, float *out);

/* ---- encoding ------------------------------------------------------------- */

/* Encodes target relative to ref into d[4].  Returns 0, or -1 with d all 0
 * when either box is unusable. */
int rb_encode(rb_box ref, rb_box target, rb_weights wt, float d[4]);

/* Decodes d[4] relative to ref.  A non-finite delta counts as 0 (that
 * coordinate stays at the reference's); dw and dh are clamped as above.
 * An unusable ref gives ref back unchanged. */
rb_box rb_decode(rb_box ref, const float d[4], rb_weights wt);

/* Clips each coordinate to [0, width] or [0, height]; a NaN coordinate
 * becomes 0.  The result may be empty (x1 == x2) for a box outside. */
rb_box rb_clip(rb_box b, float width, float height);

/* ---- selection ------------------------------------------------------------ */

/* The indices of the (at most) top_n highest scores, highest first, equal
 * scores in index order; NaN scores are never chosen.  idx has room for
 * min(n, top_n).  Returns the number written. */
int rb_top_n(const float *scores, int n, int top_n, int *idx);

/* Greedy NMS: boxes in order of falling score (ties: lower index first); a
 * box is kept unless its IoU with an already kept box is above iou_thresh.
 * Unusable boxes and NaN scores are never kept.  Stops after max_keep
 * (max_keep <= 0: no limit).  keep gets the kept indices in that order and
 * has room for n.  Returns the number kept. */
int rb_nms(const rb_box *boxes, const float *scores, int n, float iou_thresh, int max_keep,
           int *keep);

/* ---- first stage: anchor labels -------------------------------------------- */

enum { RB_IGNORE = -1, RB_NEGATIVE = 0, RB_POSITIVE = 1 };

typedef struct rb_rpn_params {
    float pos_iou;        /* 0.7: best IoU >= this is positive */
    float neg_iou;        /* 0.3: best IoU < this is negative */
    float border;         /* 0: anchors reaching further outside the image are ignored */
    int batch;            /* 256 sampled anchors per image */
    float pos_fraction;   /* 0.5: at most batch * pos_fraction positives */
} rb_rpn_params;

rb_rpn_params rb_rpn_defaults(void);

/* Labels each anchor RB_POSITIVE, RB_NEGATIVE or RB_IGNORE, and writes into
 * matched the index of its best truth (lower index on ties; -1 when no
 * truth is usable and for the anchors of step 1; matched may be NULL).
 * In this order:
 *  1. anchors unusable or crossing the image border by more than border
 *     pixels: ignored, and left out of everything below;
 *  2. best IoU < neg_iou: negative;
 *  3. for each truth, every anchor whose IoU with it equals that truth's
 *     best IoU over all anchors (when that best is > 0): positive;
 *  4. best IoU >= pos_iou: positive;
 *  5. the rest: ignored.
 * Unusable truths are skipped; with none left, every usable inside anchor
 * is negative.  Returns the number of positives. */
int rb_rpn_assign(const rb_box *anchors, int na, const rb_box *truths, int nt,
                  float img_w, float img_h, const rb_rpn_params *p, int *labels, int *matched);

/* Keeps at most batch * pos_fraction (rounded down) positives and batch
 * minus the kept positives negatives, chosen uniformly at random with r;
 * the others become RB_IGNORE.  Writes the kept counts to *n_pos and
 * *n_neg (either may be NULL). */
void rb_rpn_sample(int *labels, int na, const rb_rpn_params *p, rng *r, int *n_pos, int *n_neg);

/* ---- second stage: RoI sampling -------------------------------------------- */

typedef struct rb_roi_params {
    float fg_iou;         /* 0.5: best IoU >= this is foreground */
    float bg_hi, bg_lo;   /* 0.5, 0: best IoU in [bg_lo, bg_hi) is background */
    int batch;            /* 128 RoIs per image */
    float fg_fraction;    /* 0.25 */
} rb_roi_params;

rb_roi_params rb_roi_defaults(void);

/* Samples the RoIs of one image for the second stage.  The candidates are
 * the usable proposals followed by the usable truths (with a class >= 0;
 * classes may be NULL, all truths then being class 0).  Each candidate's
 * best truth gives its label: class + 1 when the IoU is >= fg_iou, 0
 * (background) when it is in [bg_lo, bg_hi), none (never sampled)
 * otherwise.  At most batch * fg_fraction (rounded to nearest) foreground
 * and batch minus those background candidates are drawn with r.  The
 * outputs hold the foreground RoIs first, then the background ones, each
 * group in candidate order:
 *   rois[k]      the RoI,
 *   labels[k]    0 or class + 1,
 *   targets[k]   its best truth's box (the RoI itself when there is none),
 *   matched[k]   that truth's index in truths, or -1 (matched may be NULL).
 * Each output has room for p->batch.  Returns the number of RoIs. */
int rb_sample_rois(const rb_box *proposals, int np, const rb_box *truths, const int *classes,
                   int nt, const rb_roi_params *p, rng *r,
                   rb_box *rois, int *labels, rb_box *targets, int *matched);

/* ---- losses ---------------------------------------------------------------- */

/* Sigmoid cross-entropy on logits x with targets t in [0, 1]:
 *   sum_i w_i (max(x, 0) - x t + log(1 + exp(-|x|))) / normalizer,
 * which never overflows.  weights may be NULL (all 1); an entry with weight
 * 0 (an ignored anchor) or a non-finite logit, target or weight adds
 * nothing and gets gradient 0.  A normalizer that is not finite and
 * positive counts as 1.  grad (may be NULL) gets d loss / d x. */
float rb_sigmoid_ce(const float *x, const float *t, const float *weights, int n,
                    float normalizer, float *grad);

/* Smooth L1 with parameter beta on d = pred - target:
 *   0.5 d^2 / beta when |d| < beta, |d| - 0.5 beta otherwise
 * (beta 1/9 for the RPN, 1 for the second stage; beta <= 0 is plain L1),
 * weighted, summed and divided by normalizer as above, with the same
 * treatment of non-finite entries.  grad (may be NULL) gets d loss / d pred. */
float rb_smooth_l1(const float *pred, const float *target, const float *weights, int n,
                   float beta, float normalizer, float *grad);

#endif
