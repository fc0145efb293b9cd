/* rcnn_layers.h: the layers of a two-stage (Faster R-CNN) detector.
 *
 *   ... backbone to stride 16 (layer F) ...
 *   [convolutional] 3x3            the RPN head
 *   [convolutional] 1x1, 5A filters
 *   [rpn]                          anchor losses and proposals
 *   [roipool] from=F               pools R rows per image
 *   ... head: [connected] or [convolutional] layers, batch = images x R ...
 *   [connected] output = 5 classes + 1
 *   [rcnn]                         second-stage losses and detections
 *
 * The layers pass what they share through their states (l.ext_data):
 * [roipool] reads the proposals of the nearest [rpn] before it, [rcnn] the
 * ROIs, labels and matched boxes of the nearest [roipool] before it.
 *
 * Batch after [roipool]: its output, and every layer after it, holds
 * images x R_max rows, R_max = max(rois, post_nms_test) (the layer
 * registry's batch_out hook; the parser and set_batch_network() apply it).
 * A pass uses R rows an image: rois in training, R_max at test; the
 * [roipool] forward pass sets the batch of itself and of every layer after
 * it to images x R, so that the head computes no padding rows in training
 * and its batch norm sees only the sampled ROIs.  Rows without an ROI
 * (padding) are zero and carry no loss.
 *
 * Truths come from net.truth: per image, records of (x, y, w, h, class)
 * relative to the network input, the layout of upstream's detection data;
 * a record with w or h <= 0 or a non-finite entry ends the list.
 *
 * Channel layout of the [rpn] input (A = anchor sizes x ratios, in the
 * anchor order of rcnn_boxes.h): channels 0..A-1 are the objectness logits
 * of anchors 0..A-1, channel A + 4a + k is delta k (dx, dy, dw, dh) of
 * anchor a.
 *
 * Layout of the [rcnn] input per row: C + 1 class logits (0 is the
 * background, c + 1 is class c), then 4 deltas per class, class c at
 * C + 1 + 4c. */
#ifndef RCNN_LAYERS_H
#define RCNN_LAYERS_H

#include "darknet.h"
#include "ext.h"
#include "rcnn/rcnn_boxes.h"
#include "rcnn/roi_pool.h"

#define RPN_MAX_ANCHOR_KEYS 16

typedef struct rpn_state {
    int n_sizes, n_ratios, A;
    float sizes[RPN_MAX_ANCHOR_KEYS], ratios[RPN_MAX_ANCHOR_KEYS];
    float stride, nms, min_size, beta;
    int pre_nms_train, post_nms_train, pre_nms_test, post_nms_test;
    int max_proposals;            /* max of the two post-NMS counts */
    rb_rpn_params assign;
    rb_box *anchors;              /* h * w * A */
    int n_anchors;
    rb_box *proposals;            /* per image: max_proposals boxes */
    int *n_proposals;             /* per image */
    float *logits, *deltas, *grad_logits, *grad_deltas, *targets, *weights, *scores;
    int *labels, *matched, *order, *keep;
    rb_box *boxes;
    float loss;                   /* of the last forward pass, all images */
    int index;
} rpn_state;

typedef struct roipool_state {
    int from, rpn;                /* layer indices */
    roi_pool_shape shape;
    int rois_train;               /* sampled ROIs per image in training */
    int rows;                     /* R: rows per image in the current pass */
    int rows_max;                 /* R_max: rows per image the buffers hold */
    rb_roi_params sample;
    roi_box *rois;                /* images * R */
    rb_box *boxes;                /* images * R: the same ROIs, for [rcnn] */
    int *labels;                  /* images * R: -1 padding, 0 background, class + 1 */
    rb_box *targets;              /* images * R: matched truth box */
    int *counts;                  /* per image: rows holding an ROI */
    int *argmax;
    int images;                   /* the most images the buffers hold */
    int index;
} roipool_state;

typedef struct rcnn_det {
    rb_box box;                   /* network-input pixels */
    int cls;
    float score;
} rcnn_det;

typedef struct rcnn_state {
    int roipool;                  /* layer index */
    float score_thresh, nms;
    int max_dets;
    rb_weights box_weights;
    rcnn_det *dets;               /* per image: max_dets */
    int *n_dets;
    rcnn_det *candidates;
    float *cand_scores;
    rb_box *cand_boxes;
    int *keep;
    int images;
} rcnn_state;

extern const layer_ext rpn_ext, roipool_ext, rcnn_ext;

int rcnn_is_layer(layer l, const layer_ext *e);

/* The usable truths of image b in pixels of the network input, at most max;
 * classes may be NULL.  Returns their number. */
int rcnn_read_truths(network net, int b, rb_box *out, int *classes, int max);

/* A seeded generator for image b of the current batch of layer `index`:
 * keyed by the images seen, so that a resumed run draws the same. */
void rcnn_rng(network net, int index, int b, rng *r);

/* The backward pass of [rpn] and [rcnn], whose output is their input:
 * net.delta += l.delta. */
void rcnn_pass_delta(layer l, network net);
#ifdef GPU
/* The same in a GPU build, where these layers run on the CPU: forward
 * takes the input down, runs `forward` and puts output and delta back up. */
void rcnn_forward_on_cpu(layer l, network net, void (*forward)(layer, network));
void rcnn_pass_delta_gpu(layer l, network net);
#endif

#endif
