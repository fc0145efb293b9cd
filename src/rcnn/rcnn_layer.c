/* rcnn_layer.c: the [rcnn] layer, the last of a two-stage detector (see
 * rcnn_layers.h).
 *
 * Training: softmax cross-entropy over classes + 1 on every sampled ROI,
 * and smooth L1 (beta 1) on the deltas of the true class of foreground
 * ROIs against their matched truth encoded with weights (10, 10, 5, 5);
 * both divided by the number of ROIs sampled in the image.  Its cost is the
 * whole loss: this layer's and the [rpn]'s.
 * Inference: per class, the ROI decoded with that class's deltas and
 * clipped; scores >= score_thresh; NMS per class at nms; at most
 * detections= per image, best first.  get_network_boxes() reads them
 * through the layer registry's detection hooks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cuda.h"
#include "option_list.h"
#include "utils.h"

#include "rcnn/rcnn_layers.h"
#include "input/cfgopt.h"
#include "checked.h"

static rcnn_state *state_of(layer l)
{
    return (rcnn_state *)l.ext_data;
}

/* Softmax of n logits into p; returns -log p[label] (0 for label < 0). */
static float softmax_ce(const float *x, int n, int label, float *p)
{
    float top = x[0];
    for (int i = 1; i < n; ++i) if (x[i] > top) top = x[i];
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += exp((double)x[i] - top);
    for (int i = 0; i < n; ++i) p[i] = (float)(exp((double)x[i] - top) / sum);
    if (label < 0) return 0;
    return (float)(log(sum) - ((double)x[label] - top));
}

/* The loss of one row; writes minus its gradient into delta. */
static float row_loss(const rcnn_state *s, const roipool_state *pool, int row, int classes,
                      const float *in, float *out, float *delta, float sampled)
{
    int label = pool->labels[row];
    float loss = softmax_ce(in, classes + 1, label, out);
    if (label < 0) return 0;
    for (int i = 0; i <= classes; ++i) delta[i] = -(out[i] - (i == label)) / sampled;
    if (label == 0) return loss / sampled;
    float target[4], grad[4];
    if (rb_encode(pool->boxes[row], pool->targets[row], s->box_weights, target)) return loss / sampled;
    const float *pred = in + classes + 1 + 4 * (label - 1);
    loss = loss / sampled + rb_smooth_l1(pred, target, NULL, 4, 1, sampled, grad);
    for (int k = 0; k < 4; ++k) delta[classes + 1 + 4 * (label - 1) + k] = -grad[k];
    return loss;
}

/* ---- detections ------------------------------------------------------------- */

static int by_score(const void *a, const void *b)
{
    const rcnn_det *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->cls - y->cls;
}

/* Class c of image b: its candidates, NMS, appended to the image's list. */
static int class_detections(rcnn_state *s, const roipool_state *pool, const float *in, int inputs,
                            int classes, network net, int b, int c, rcnn_det *out)
{
    int n = 0;
    for (int k = 0; k < pool->counts[b]; ++k) {
        size_t row = (size_t)b * pool->rows + k;
        const float *x = in + row * inputs;
        float score = x[c + 1];
        if (!(score >= s->score_thresh)) continue;
        rb_box box = rb_decode(pool->boxes[row], x + classes + 1 + 4 * c, s->box_weights);
        s->cand_boxes[n] = rb_clip(box, net.w, net.h);
        s->cand_scores[n] = score;
        ++n;
    }
    int kept = rb_nms(s->cand_boxes, s->cand_scores, n, s->nms, 0, s->keep);
    for (int j = 0; j < kept; ++j) {
        out[j] = (rcnn_det){s->cand_boxes[s->keep[j]], c, s->cand_scores[s->keep[j]]};
    }
    return kept;
}

static void image_detections(rcnn_state *s, const roipool_state *pool, layer l, network net, int b)
{
    int n = 0;
    for (int c = 0; c < l.classes; ++c) {
        n += class_detections(s, pool, l.output, l.outputs, l.classes, net, b, c, s->candidates + n);
    }
    qsort(s->candidates, n, sizeof(rcnn_det), by_score);
    if (n > s->max_dets) n = s->max_dets;
    memcpy(s->dets + (size_t)b * s->max_dets, s->candidates, sizeof(rcnn_det) * n);
    s->n_dets[b] = n;
}

/* ---- forward and backward ------------------------------------------------------- */

static void forward_rcnn(layer l, network net)
{
    rcnn_state *s = state_of(l);
    const roipool_state *pool = (roipool_state *)net.layers[s->roipool].ext_data;
    int images = l.batch / pool->rows;
    if (images > s->images) error("[rcnn]: the batch is larger than the layer was made for");
    copy_cpu(l.batch * l.inputs, net.input, 1, l.output, 1);
    float loss = 0;
    for (int r = 0; r < l.batch; ++r) {
        int b = r / pool->rows;
        const float *in = net.input + (size_t)r * l.inputs;
        float *out = l.output + (size_t)r * l.outputs;
        float sampled = pool->counts[b] > 0 ? (float)pool->counts[b] : 1;
        if (net.train) loss += row_loss(s, pool, r, l.classes, in, out, l.delta + (size_t)r * l.outputs, sampled);
        else softmax_ce(in, l.classes + 1, -1, out);
    }
    if (!net.train) {
        for (int b = 0; b < images; ++b) image_detections(s, pool, l, net, b);
    }
    const rpn_state *rpn = (rpn_state *)net.layers[pool->rpn].ext_data;
    l.cost[0] = loss + (net.train ? rpn->loss : 0);
}

#ifdef GPU
static void forward_rcnn_gpu(layer l, network net)
{
    rcnn_forward_on_cpu(l, net, forward_rcnn);
}
#endif

/* ---- get_network_boxes() ------------------------------------------------------- */

static int rcnn_num_detections(layer l, float thresh)
{
    const rcnn_state *s = state_of(l);
    int n = 0;
    for (int k = 0; k < s->n_dets[0]; ++k) n += s->dets[k].score > thresh;
    return n;
}

/* The network saw the image letterboxed (upstream's letterbox_image): scaled
 * by the same factor both ways and centred.  This undoes that and clips to
 * the image; a box that lies wholly in the padding is dropped, its entry
 * left empty (zero probabilities, which every reader skips). */
static int rcnn_get_detections(layer l, int w, int h, int netw, int neth, float thresh, int relative,
                               detection *dets)
{
    const rcnn_state *s = state_of(l);
    int new_w = netw, new_h = neth;
    if ((float)netw / w < (float)neth / h) new_h = (h * netw) / w;
    else new_w = (w * neth) / h;
    float dx = (netw - new_w) / 2, dy = (neth - new_h) / 2;
    float sx = (float)w / new_w, sy = (float)h / new_h;
    int n = 0;
    for (int k = 0; k < s->n_dets[0]; ++k) {
        rcnn_det d = s->dets[k];
        if (!(d.score > thresh)) continue;
        rb_box img = rb_clip((rb_box){(d.box.x1 - dx) * sx, (d.box.y1 - dy) * sy,
                                      (d.box.x2 - dx) * sx, (d.box.y2 - dy) * sy}, w, h);
        if (!rb_box_usable(img)) continue;
        float x1 = img.x1, x2 = img.x2, y1 = img.y1, y2 = img.y2;
        box b = {(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1};
        if (relative) {
            b.x /= w; b.w /= w;
            b.y /= h; b.h /= h;
        }
        dets[n].bbox = b;
        dets[n].classes = l.classes;
        memset(dets[n].prob, 0, sizeof(float) * l.classes);
        dets[n].prob[d.cls] = d.score;
        dets[n].objectness = d.score;
        dets[n].sort_class = d.cls;
        ++n;
    }
    return n;
}

/* ---- cfg --------------------------------------------------------------------------- */

static int nearest_roipool(ext_params p)
{
    for (int i = p.index - 1; i >= 0; --i) if (rcnn_is_layer(p.net->layers[i], &roipool_ext)) return i;
    return -1;
}

static void parse_keys(rcnn_state *s, layer *l, list *options, cfg_where w)
{
    l->classes = cfg_int_min(options, "classes", 20, 1, w);
    l->max_boxes = cfg_int_min(options, "max", 90, 1, w);
    l->jitter = cfg_float(options, "jitter", 0, w);
    if (!(l->jitter >= 0 && l->jitter < 1)) cfg_fail(w, "jitter", option_find(options, "jitter"), "must be in [0, 1)");
    /* multi-scale training (det_train.c): the trunk, [rpn] and [roipool]
     * resize; the head after [roipool] keeps its shape */
    l->random = cfg_int_range(options, "random", 0, 0, 1, w);
    s->score_thresh = cfg_float(options, "score_thresh", 0.05f, w);
    s->nms = cfg_float_range(options, "nms", 0.3f, 0, 1, w);
    s->max_dets = cfg_int_min(options, "detections", 100, 1, w);
    s->box_weights = (rb_weights){10, 10, 5, 5};
}

static void alloc_buffers(layer *l, const roipool_state *pool)
{
    rcnn_state *s = state_of(*l);
    size_t outs = (size_t)l->batch * l->outputs, cand = (size_t)pool->rows_max * l->classes;
    l->output = dn_calloc(outs, sizeof(float));
    l->delta = dn_calloc(outs, sizeof(float));
    l->cost = dn_calloc(1, sizeof(float));
    s->dets = dn_calloc((size_t)s->images * s->max_dets, sizeof(rcnn_det));
    s->n_dets = dn_calloc(s->images, sizeof(int));
    s->candidates = dn_calloc(cand, sizeof(rcnn_det));
    s->cand_scores = dn_calloc(pool->rows_max, sizeof(float));
    s->cand_boxes = dn_calloc(pool->rows_max, sizeof(rb_box));
    s->keep = dn_calloc(pool->rows_max, sizeof(int));
#ifdef GPU
    if (gpu_index >= 0) {
        l->output_gpu = cuda_make_array(l->output, outs);
        l->delta_gpu = cuda_make_array(l->delta, outs);
    }
#endif
}

static layer parse_rcnn(list *options, ext_params p)
{
    cfg_where where = {p.cfgfile, p.section, p.index};
    rcnn_state *s = dn_calloc(1, sizeof(*s));
    layer l = {0};
    parse_keys(s, &l, options, where);
    s->roipool = nearest_roipool(p);
    if (s->roipool < 0) cfg_fail(where, "classes", "", "no [roipool] layer comes before this one");
    const roipool_state *pool = (roipool_state *)p.net->layers[s->roipool].ext_data;
    int inputs = p.w * p.h * p.c, want = 5 * l.classes + 1;
    if (inputs != want) {
        char why[160], text[32];
        snprintf(text, sizeof text, "%d", l.classes);
        snprintf(why, sizeof why, "the layer before outputs %d values per ROI; %d classes need 5 x classes + 1 = %d",
                 inputs, l.classes, want);
        cfg_fail(where, "classes", text, why);
    }
    s->images = p.batch / pool->rows_max;
    l.type = EXTENSION;
    l.ext = &rcnn_ext;
    l.ext_data = s;
    l.batch = p.batch;
    l.inputs = l.outputs = inputs;
    l.w = l.out_w = p.w;
    l.h = l.out_h = p.h;
    l.c = l.out_c = p.c;
    l.truths = 5 * l.max_boxes;
    alloc_buffers(&l, pool);
    l.forward = forward_rcnn;
    l.backward = rcnn_pass_delta;
#ifdef GPU
    l.forward_gpu = forward_rcnn_gpu;
    l.backward_gpu = rcnn_pass_delta_gpu;
#endif
    fprintf(stderr, "rcnn %d classes, %d rows                          ->  %d detections/image\n",
            l.classes, l.batch, s->max_dets);
    return l;
}

static void free_rcnn(layer l)
{
    rcnn_state *s = state_of(l);
    free(s->dets); free(s->n_dets); free(s->candidates); free(s->cand_scores); free(s->cand_boxes);
    free(s->keep);
    free(s);   /* free_layer() frees output, delta and cost */
}

const layer_ext rcnn_ext = {
    "[rcnn]", parse_rcnn, NULL, NULL, NULL, free_rcnn, NULL, rcnn_num_detections, rcnn_get_detections, NULL, NULL,
};
