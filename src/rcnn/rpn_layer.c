/* rpn_layer.c: the [rpn] layer (see rcnn_layers.h).
 *
 * Input: the RPN head's 1x1 convolution, 5A channels.  Output: the input,
 * unchanged, so the head's shapes stay Darknet's.  In training the forward
 * pass labels and samples the anchors of each image and writes minus the
 * gradient of the sigmoid cross-entropy and smooth L1 losses into l.delta;
 * in every pass it leaves the proposals of each image in its state for
 * [roipool].  No gradient flows back through the proposals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cuda.h"
#include "option_list.h"
#include "utils.h"

#include "rcnn/rcnn_layers.h"
#include "input/cfgopt.h"
#include "optim/optimizer.h"
#include "checked.h"

static rpn_state *state_of(layer l)
{
    return (rpn_state *)l.ext_data;
}

int rcnn_is_layer(layer l, const layer_ext *e)
{
    return l.type == EXTENSION && l.ext == e;
}

int rcnn_read_truths(network net, int b, rb_box *out, int *classes, int max)
{
    if (!net.truth || net.truths < 5) return 0;
    const float *t = net.truth + (size_t)b * net.truths;
    int records = net.truths / 5, n = 0;
    for (int i = 0; i < records && n < max; ++i, t += 5) {
        int finite = isfinite(t[0]) && isfinite(t[1]) && isfinite(t[2]) && isfinite(t[3]) && isfinite(t[4]);
        if (!finite || t[2] <= 0 || t[3] <= 0) break;
        rb_box box = {(t[0] - t[2] / 2) * net.w, (t[1] - t[3] / 2) * net.h,
                      (t[0] + t[2] / 2) * net.w, (t[1] + t[3] / 2) * net.h};
        box = rb_clip(box, net.w, net.h);
        if (!rb_box_usable(box) || t[4] < 0) continue;
        out[n] = box;
        if (classes) classes[n] = (int)t[4];
        ++n;
    }
    return n;
}

void rcnn_rng(network net, int index, int b, rng *r)
{
    /* net is a copy: net_ext_of() would attach a new state to it */
    uint64_t seed = net.ext ? ((net_ext *)net.ext)->seed : 0;
    uint64_t seen = net.seen ? (uint64_t)*net.seen : 0;
    rng_seed(r, seed, rng_hash(rng_hash(0x52434e4e00ULL + (uint64_t)index) ^ (seen * 4096 + (uint64_t)b)));
}

/* ---- the loss of one image ------------------------------------------------ */

/* Anchor i = (y W + x) A + a reads its logit from channel a and its deltas
 * from channels A + 4a .. A + 4a + 3 (the layout in rcnn_layers.h). */
static void gather(const rpn_state *s, const float *in, int plane)
{
    for (int q = 0; q < plane; ++q)
        for (int a = 0; a < s->A; ++a) {
            int i = q * s->A + a;
            s->logits[i] = in[(size_t)a * plane + q];
            for (int k = 0; k < 4; ++k) s->deltas[4 * i + k] = in[(size_t)(s->A + 4 * a + k) * plane + q];
        }
}

static void scatter_minus(const rpn_state *s, float *delta, int plane)
{
    for (int q = 0; q < plane; ++q)
        for (int a = 0; a < s->A; ++a) {
            int i = q * s->A + a;
            delta[(size_t)a * plane + q] = -s->grad_logits[i];
            for (int k = 0; k < 4; ++k) delta[(size_t)(s->A + 4 * a + k) * plane + q] = -s->grad_deltas[4 * i + k];
        }
}

static float image_loss(rpn_state *s, network net, int b, int max_truths, rb_box *truths)
{
    int na = s->n_anchors, n_pos = 0, n_neg = 0;
    int nt = rcnn_read_truths(net, b, truths, NULL, max_truths);
    rb_rpn_assign(s->anchors, na, truths, nt, net.w, net.h, &s->assign, s->labels, s->matched);
    rng r;
    rcnn_rng(net, s->index, b, &r);
    rb_rpn_sample(s->labels, na, &s->assign, &r, &n_pos, &n_neg);
    rb_weights unit = {1, 1, 1, 1};
    float *box_weights = s->targets + 4 * (size_t)na;   /* the second half of targets */
    for (int i = 0; i < na; ++i) {
        int label = s->labels[i];
        s->weights[i] = label == RB_IGNORE ? 0 : 1;
        s->scores[i] = label == RB_POSITIVE;
        float d[4] = {0, 0, 0, 0};
        if (label == RB_POSITIVE && s->matched[i] >= 0) rb_encode(s->anchors[i], truths[s->matched[i]], unit, d);
        for (int k = 0; k < 4; ++k) {
            s->targets[4 * i + k] = d[k];
            box_weights[4 * i + k] = label == RB_POSITIVE;
        }
    }
    /* both losses are divided by the number of anchors sampled */
    float sampled = (float)(n_pos + n_neg);
    float loss = rb_sigmoid_ce(s->logits, s->scores, s->weights, na, sampled, s->grad_logits);
    loss += rb_smooth_l1(s->deltas, s->targets, box_weights, 4 * na, s->beta, sampled, s->grad_deltas);
    return loss;
}

/* ---- proposals -------------------------------------------------------------- */

static void image_proposals(rpn_state *s, network net, int b)
{
    int pre = net.train ? s->pre_nms_train : s->pre_nms_test;
    int post = net.train ? s->post_nms_train : s->post_nms_test;
    int n = rb_top_n(s->logits, s->n_anchors, pre, s->order), kept = 0;
    rb_weights unit = {1, 1, 1, 1};
    for (int j = 0; j < n; ++j) {
        int i = s->order[j];
        rb_box box = rb_clip(rb_decode(s->anchors[i], s->deltas + 4 * i, unit), net.w, net.h);
        if (box.x2 - box.x1 < s->min_size || box.y2 - box.y1 < s->min_size) continue;
        s->boxes[kept] = box;
        s->scores[kept] = s->logits[i];
        ++kept;
    }
    int k = rb_nms(s->boxes, s->scores, kept, s->nms, post, s->keep);
    rb_box *out = s->proposals + (size_t)b * s->max_proposals;
    for (int j = 0; j < k; ++j) out[j] = s->boxes[s->keep[j]];
    s->n_proposals[b] = k;
}

static void forward_rpn(layer l, network net)
{
    rpn_state *s = state_of(l);
    int plane = l.w * l.h;
    rb_box *truths = calloc(net.truths / 5 + 1, sizeof(rb_box));
    if (!truths) malloc_error();
    copy_cpu(l.batch * l.inputs, net.input, 1, l.output, 1);
    s->loss = 0;
    for (int b = 0; b < l.batch; ++b) {
        gather(s, net.input + (size_t)b * l.inputs, plane);
        if (net.train) {
            s->loss += image_loss(s, net, b, net.truths / 5, truths);
            scatter_minus(s, l.delta + (size_t)b * l.outputs, plane);
        }
        image_proposals(s, net, b);
    }
    free(truths);
}

void rcnn_pass_delta(layer l, network net)
{
    if (net.delta) axpy_cpu(l.batch * l.inputs, 1, l.delta, 1, net.delta, 1);
}

#ifdef GPU
void rcnn_forward_on_cpu(layer l, network net, void (*forward)(layer, network))
{
    cuda_pull_array(net.input_gpu, net.input, l.batch * l.inputs);
    forward(l, net);
    cuda_push_array(l.output_gpu, l.output, l.batch * l.outputs);
    cuda_push_array(l.delta_gpu, l.delta, l.batch * l.outputs);
}

void rcnn_pass_delta_gpu(layer l, network net)
{
    if (net.delta_gpu) axpy_gpu(l.batch * l.inputs, 1, l.delta_gpu, 1, net.delta_gpu, 1);
}

static void forward_rpn_gpu(layer l, network net)
{
    rcnn_forward_on_cpu(l, net, forward_rpn);
}
#endif

/* ---- buffers ------------------------------------------------------------------ */

static void free_scratch(rpn_state *s)
{
    free(s->anchors); free(s->proposals); free(s->n_proposals);
    free(s->logits); free(s->deltas); free(s->grad_logits); free(s->grad_deltas);
    free(s->targets); free(s->weights); free(s->scores);
    free(s->labels); free(s->matched); free(s->order); free(s->keep); free(s->boxes);
}

static void alloc_buffers(layer *l)
{
    rpn_state *s = state_of(*l);
    free_scratch(s);
    size_t na = (size_t)l->w * l->h * s->A;
    s->anchors = dn_calloc(na, sizeof(rb_box));
    s->n_anchors = rb_make_anchors(s->sizes, s->n_sizes, s->ratios, s->n_ratios, s->stride, l->h, l->w,
                                   s->anchors);
    s->proposals = dn_calloc((size_t)l->batch * s->max_proposals, sizeof(rb_box));
    s->n_proposals = dn_calloc(l->batch, sizeof(int));
    s->logits = dn_calloc(na, sizeof(float));
    s->grad_logits = dn_calloc(na, sizeof(float));
    s->weights = dn_calloc(na, sizeof(float));
    s->scores = dn_calloc(na, sizeof(float));
    s->deltas = dn_calloc(4 * na, sizeof(float));
    s->grad_deltas = dn_calloc(4 * na, sizeof(float));
    s->targets = dn_calloc(8 * na, sizeof(float));   /* targets, then box weights */
    s->labels = dn_calloc(na, sizeof(int));
    s->matched = dn_calloc(na, sizeof(int));
    s->order = dn_calloc(na, sizeof(int));
    s->keep = dn_calloc(na, sizeof(int));
    s->boxes = dn_calloc(na, sizeof(rb_box));
    size_t outs = (size_t)l->batch * l->outputs;
    free(l->output);
    free(l->delta);
    l->output = dn_calloc(outs, sizeof(float));
    l->delta = dn_calloc(outs, sizeof(float));
#ifdef GPU
    if (l->output_gpu) cuda_free(l->output_gpu);
    if (l->delta_gpu) cuda_free(l->delta_gpu);
    l->output_gpu = l->delta_gpu = NULL;
    if (gpu_index >= 0) {
        l->output_gpu = cuda_make_array(l->output, outs);
        l->delta_gpu = cuda_make_array(l->delta, outs);
    }
#endif
}

static void set_geometry(layer *l, int w, int h)
{
    l->w = l->out_w = w;
    l->h = l->out_h = h;
    l->out_c = l->c;
    l->inputs = l->outputs = w * h * l->c;
}

static void resize_rpn(layer *l, int w, int h)
{
    set_geometry(l, w, h);
    alloc_buffers(l);
}

static void free_rpn(layer l)
{
    free_scratch(state_of(l));
    free(l.ext_data);
}

/* ---- cfg ------------------------------------------------------------------------ */

/* A comma-separated list of positive numbers. */
static int parse_list(list *options, const char *key, const char *def, float *out, cfg_where w)
{
    char *text = option_find(options, (char *)key);
    const char *p = text ? text : def;
    int n = 0;
    while (*p) {
        char *end;
        float v = strtof(p, &end);
        if (end == p || !isfinite(v) || v <= 0 || (*end && *end != ',')) {
            cfg_fail(w, key, text, "expected a comma-separated list of positive numbers");
        }
        if (n == RPN_MAX_ANCHOR_KEYS) cfg_fail(w, key, text, "more than 16 values");
        out[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) cfg_fail(w, key, text ? text : "", "expected at least one value");
    return n;
}

static void parse_keys(rpn_state *s, list *options, cfg_where w)
{
    s->n_sizes = parse_list(options, "anchor_sizes", "64,128,256,512", s->sizes, w);
    s->n_ratios = parse_list(options, "anchor_ratios", "0.5,1,2", s->ratios, w);
    s->A = s->n_sizes * s->n_ratios;
    s->stride = (float)cfg_int_min(options, "stride", 16, 1, w);
    s->pre_nms_train = cfg_int_min(options, "pre_nms_train", 12000, 1, w);
    s->post_nms_train = cfg_int_min(options, "post_nms_train", 2000, 1, w);
    s->pre_nms_test = cfg_int_min(options, "pre_nms_test", 6000, 1, w);
    s->post_nms_test = cfg_int_min(options, "post_nms_test", 300, 1, w);
    s->max_proposals = s->post_nms_train > s->post_nms_test ? s->post_nms_train : s->post_nms_test;
    s->nms = cfg_float_range(options, "nms", 0.7f, 0, 1, w);
    s->min_size = cfg_float_min(options, "min_size", 1, 0, w);
    s->beta = cfg_float_min(options, "beta", 1.0f / 9, 0, w);
    s->assign = rb_rpn_defaults();
    s->assign.pos_iou = cfg_float_range(options, "pos_iou", s->assign.pos_iou, 0, 1, w);
    s->assign.neg_iou = cfg_float_range(options, "neg_iou", s->assign.neg_iou, 0, 1, w);
    s->assign.batch = cfg_int_min(options, "anchors_per_image", s->assign.batch, 1, w);
    s->assign.pos_fraction = cfg_float_range(options, "pos_fraction", s->assign.pos_fraction, 0, 1, w);
    if (s->assign.neg_iou > s->assign.pos_iou) {
        cfg_fail(w, "neg_iou", option_find(options, "neg_iou"), "must not be above pos_iou");
    }
}

static layer parse_rpn(list *options, ext_params p)
{
    cfg_where where = {p.cfgfile, p.section, p.index};
    rpn_state *s = dn_calloc(1, sizeof(*s));
    parse_keys(s, options, where);
    s->index = p.index;
    if (!(p.h && p.w && p.c)) cfg_fail(where, "anchor_sizes", "", "the layer before does not output an image");
    if (p.c != 5 * s->A) {
        char why[160];
        snprintf(why, sizeof why, "the layer before outputs %d channels; %d sizes x %d ratios need 5 x %d = %d",
                 p.c, s->n_sizes, s->n_ratios, s->A, 5 * s->A);
        cfg_fail(where, "anchor_sizes", option_find(options, "anchor_sizes"), why);
    }
    if ((double)p.w * p.h * s->A > 1e8) cfg_fail(where, "anchor_sizes", "", "too many anchors");
    layer l = {0};
    l.type = EXTENSION;
    l.ext = &rpn_ext;
    l.ext_data = s;
    l.batch = p.batch;
    l.c = p.c;
    set_geometry(&l, p.w, p.h);
    alloc_buffers(&l);
    l.forward = forward_rpn;
    l.backward = rcnn_pass_delta;
#ifdef GPU
    l.forward_gpu = forward_rpn_gpu;
    l.backward_gpu = rcnn_pass_delta_gpu;
#endif
    fprintf(stderr, "rpn  %d anchors/cell, stride %g   %4d x%4d x%4d   ->  %d proposals\n",
            s->A, s->stride, l.w, l.h, l.c, s->max_proposals);
    return l;
}

const layer_ext rpn_ext = {
    "[rpn]", parse_rpn, NULL, NULL, resize_rpn, free_rpn, NULL, NULL, NULL, NULL, NULL,
};
