/* roipool_layer.c: the [roipool] layer (see rcnn_layers.h).
 *
 * Pools the ROIs of each image out of the feature layer from= into R rows
 * per image: in training the ROIs sampled (rb_sample_rois) from the [rpn]
 * proposals and the truths, at test the proposals themselves.  Its own
 * input (the [rpn] output) is not read.  Backward adds into the feature
 * layer's delta; the [rpn] layer gets nothing back from here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"
#include "option_list.h"
#include "utils.h"

#include "rcnn/rcnn_layers.h"
#include "input/cfgopt.h"
#include "checked.h"

static roipool_state *state_of(layer l)
{
    return (roipool_state *)l.ext_data;
}

/* Rows k >= n of image b: no ROI (image index -1 pools to zeros). */
static void pad_rows(roipool_state *s, int b, int n)
{
    for (int k = n; k < s->rows; ++k) {
        size_t r = (size_t)b * s->rows + k;
        s->rois[r] = (roi_box){-1, 0, 0, 0, 0};
        s->boxes[r] = (rb_box){0, 0, 0, 0};
        s->targets[r] = (rb_box){0, 0, 0, 0};
        s->labels[r] = -1;
    }
    s->counts[b] = n;
}

static int sample_image(roipool_state *s, network net, int b, const rb_box *props, int n_props)
{
    int max_truths = net.truths / 5;
    rb_box *truths = dn_calloc(max_truths, sizeof(rb_box));
    int *classes = dn_calloc(max_truths, sizeof(int));
    int nt = rcnn_read_truths(net, b, truths, classes, max_truths);
    rng r;
    rcnn_rng(net, s->index, b, &r);
    size_t first = (size_t)b * s->rows;
    int n = rb_sample_rois(props, n_props, truths, classes, nt, &s->sample, &r,
                           s->boxes + first, s->labels + first, s->targets + first, NULL);
    free(truths);
    free(classes);
    return n;
}

static void choose_rois(roipool_state *s, network net, int images)
{
    layer rpn_layer = net.layers[s->rpn];
    rpn_state *rpn = (rpn_state *)rpn_layer.ext_data;
    for (int b = 0; b < images; ++b) {
        const rb_box *props = rpn->proposals + (size_t)b * rpn->max_proposals;
        int n = 0;
        if (net.train) {
            n = sample_image(s, net, b, props, rpn->n_proposals[b]);
        } else {
            n = rpn->n_proposals[b] < s->rows ? rpn->n_proposals[b] : s->rows;
            size_t first = (size_t)b * s->rows;
            memcpy(s->boxes + first, props, sizeof(rb_box) * n);
            for (int k = 0; k < n; ++k) s->labels[first + k] = -1;
        }
        for (int k = 0; k < n; ++k) {
            size_t row = (size_t)b * s->rows + k;
            rb_box box = s->boxes[row];
            s->rois[row] = (roi_box){b, box.x1, box.y1, box.x2, box.y2};
        }
        pad_rows(s, b, n);
    }
}

static roi_pool_shape shape_now(roipool_state *s, layer feature, int images)
{
    roi_pool_shape shape = s->shape;
    shape.batch = images;
    shape.c = feature.out_c;
    shape.h = feature.out_h;
    shape.w = feature.out_w;
    return shape;
}

/* The rows an image of this pass: the sampled ROIs in training, room for
 * every proposal at test.  This layer and every layer after it (the head,
 * [rcnn]) take images x that as their batch, read fresh by each pass. */
static void set_pass_rows(layer *l, roipool_state *s, network net, int images)
{
    s->rows = net.train ? s->rois_train : s->rows_max;
    for (int j = s->index; j < net.n; ++j) net.layers[j].batch = images * s->rows;
    l->batch = images * s->rows;
}

static void forward_roipool(layer l, network net)
{
    roipool_state *s = state_of(l);
    int images = net.batch;
    if (images > s->images) error("[roipool]: the batch is larger than the layer was made for");
    set_pass_rows(&l, s, net, images);
    layer feature = net.layers[s->from];
    choose_rois(s, net, images);
    roi_pool_shape shape = shape_now(s, feature, images);
    if (roi_pool_forward(&shape, feature.output, s->rois, l.batch, l.output, s->argmax)) {
        error("[roipool]: the feature map's shape is not usable");
    }
}

/* l.delta holds minus the gradient, as the feature layer's delta does, and
 * the backward pass is linear: passing it as it is adds the right sign. */
static void backward_roipool(layer l, network net)
{
    roipool_state *s = state_of(l);
    layer feature = net.layers[s->from];
    if (!feature.delta) return;
    roi_pool_shape shape = shape_now(s, feature, l.batch / s->rows);
    roi_pool_backward(&shape, s->rois, l.batch, s->argmax, l.delta, feature.delta);
}

#ifdef GPU
/* Runs on the CPU: the feature map comes down, the pooled rows go up; in
 * backward the feature layer's delta makes the round trip. */
static void forward_roipool_gpu(layer l, network net)
{
    layer feature = net.layers[state_of(l)->from];
    cuda_pull_array(feature.output_gpu, feature.output, feature.batch * feature.outputs);
    forward_roipool(l, net);
    /* the rows of this pass, which forward_roipool() set */
    int rows = net.layers[state_of(l)->index].batch;
    cuda_push_array(l.output_gpu, l.output, rows * l.outputs);
}

static void backward_roipool_gpu(layer l, network net)
{
    layer feature = net.layers[state_of(l)->from];
    if (!feature.delta_gpu) return;
    cuda_pull_array(l.delta_gpu, l.delta, l.batch * l.outputs);
    cuda_pull_array(feature.delta_gpu, feature.delta, feature.batch * feature.outputs);
    backward_roipool(l, net);
    cuda_push_array(feature.delta_gpu, feature.delta, feature.batch * feature.outputs);
}
#endif

static void alloc_buffers(layer *l)
{
    roipool_state *s = state_of(*l);
    size_t rows = (size_t)l->batch, outs = rows * l->outputs;
    s->rois = dn_calloc(rows, sizeof(roi_box));
    s->boxes = dn_calloc(rows, sizeof(rb_box));
    s->targets = dn_calloc(rows, sizeof(rb_box));
    s->labels = dn_calloc(rows, sizeof(int));
    s->counts = dn_calloc(s->images, sizeof(int));
    s->argmax = dn_calloc(outs, sizeof(int));
    l->output = dn_calloc(outs, sizeof(float));
    l->delta = dn_calloc(outs, sizeof(float));
#ifdef GPU
    if (gpu_index >= 0) {
        l->output_gpu = cuda_make_array(l->output, outs);
        l->delta_gpu = cuda_make_array(l->delta, outs);
    }
#endif
}

static int roipool_batch_out(layer l, int batch)
{
    return batch * state_of(l)->rows_max;
}

/* The pooled size does not depend on the input size. */
static void resize_roipool(layer *l, int w, int h)
{
    l->out_w = l->out_h = state_of(*l)->shape.size;
}

static void free_roipool(layer l)
{
    roipool_state *s = state_of(l);
    free(s->rois); free(s->boxes); free(s->targets); free(s->labels); free(s->counts);
    free(s->argmax);
    free(s);   /* free_layer() frees output and delta */
}

/* ---- cfg ---------------------------------------------------------------------- */

static int nearest_rpn(ext_params p)
{
    for (int i = p.index - 1; i >= 0; --i) if (rcnn_is_layer(p.net->layers[i], &rpn_ext)) return i;
    return -1;
}

static int feature_layer(list *options, ext_params p, cfg_where where)
{
    char *text = option_find(options, "from");
    if (!text) cfg_fail(where, "from", "", "not given: the index of the feature layer to pool from");
    int from = cfg_int(options, "from", 0, where);
    if (from < 0) from += p.index;
    if (from < 0 || from >= p.index) cfg_fail(where, "from", text, "not a layer before this one");
    layer f = p.net->layers[from];
    if (!(f.out_w > 0 && f.out_h > 0 && f.out_c > 0)) cfg_fail(where, "from", text, "that layer does not output an image");
    return from;
}

static void parse_keys(roipool_state *s, list *options, const rpn_state *rpn, cfg_where w)
{
    static const char *const modes[] = {"max", "align", NULL};
    s->shape.mode = (roi_pool_mode)cfg_choice(options, "mode", modes, ROI_POOL_ALIGN, w);
    s->shape.size = cfg_int_range(options, "size", 7, 1, ROI_POOL_MAX_SIZE, w);
    s->shape.spatial_scale = cfg_float(options, "spatial_scale", 1 / rpn->stride, w);
    if (!(s->shape.spatial_scale > 0 && isfinite(s->shape.spatial_scale))) {
        cfg_fail(w, "spatial_scale", option_find(options, "spatial_scale"), "must be positive");
    }
    s->sample = rb_roi_defaults();
    s->sample.batch = cfg_int_min(options, "rois", s->sample.batch, 1, w);
    s->sample.fg_fraction = cfg_float_range(options, "fg_fraction", s->sample.fg_fraction, 0, 1, w);
    s->sample.fg_iou = cfg_float_range(options, "fg_iou", s->sample.fg_iou, 0, 1, w);
    s->sample.bg_hi = cfg_float_range(options, "bg_hi", s->sample.bg_hi, 0, 1, w);
    s->sample.bg_lo = cfg_float_range(options, "bg_lo", s->sample.bg_lo, 0, 1, w);
    if (s->sample.bg_lo > s->sample.bg_hi) cfg_fail(w, "bg_lo", option_find(options, "bg_lo"), "must not be above bg_hi");
    s->rois_train = s->sample.batch;
    s->rows_max = s->rois_train > rpn->post_nms_test ? s->rois_train : rpn->post_nms_test;
    s->rows = s->rows_max;
}

static layer parse_roipool(list *options, ext_params p)
{
    cfg_where where = {p.cfgfile, p.section, p.index};
    roipool_state *s = dn_calloc(1, sizeof(*s));
    s->index = p.index;
    s->rpn = nearest_rpn(p);
    if (s->rpn < 0) cfg_fail(where, "from", "", "no [rpn] layer comes before to take the proposals from");
    s->from = feature_layer(options, p, where);
    parse_keys(s, options, (rpn_state *)p.net->layers[s->rpn].ext_data, where);
    layer f = p.net->layers[s->from];
    s->images = p.batch;
    layer l = {0};
    l.type = EXTENSION;
    l.ext = &roipool_ext;
    l.ext_data = s;
    l.batch = p.batch * s->rows_max;
    l.w = p.w;
    l.h = p.h;
    l.c = p.c;
    l.inputs = p.w * p.h * p.c;
    l.out_c = f.out_c;
    l.out_w = l.out_h = s->shape.size;
    l.outputs = l.out_c * l.out_w * l.out_h;
    alloc_buffers(&l);
    l.forward = forward_roipool;
    l.backward = backward_roipool;
#ifdef GPU
    l.forward_gpu = forward_roipool_gpu;
    l.backward_gpu = backward_roipool_gpu;
#endif
    fprintf(stderr, "roipool %-5s from %3d, %d/%d rows/image %4d x%4d x%4d   ->  %4d x%4d x%4d\n",
            s->shape.mode == ROI_POOL_ALIGN ? "align" : "max", s->from, s->rois_train, s->rows_max, f.out_w, f.out_h,
            f.out_c,
            l.out_w, l.out_h, l.out_c);
    return l;
}

const layer_ext roipool_ext = {
    "[roipool]", parse_roipool, NULL, NULL, resize_roipool, free_roipool, roipool_batch_out, NULL, NULL, NULL, NULL,
};
