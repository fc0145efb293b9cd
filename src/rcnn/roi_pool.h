/* roi_pool.h: RoI pooling for two-stage detectors: RoIAlign and RoIPool (max).
 *
 * Each region of interest (ROI) is cut out of a feature map and pooled to a
 * fixed S x S grid of bins per channel, so that the second stage sees the
 * same shape whatever the ROI's size.
 *
 * Layouts (Darknet's):
 *  - features: batch images, each c planes of h x w floats, channel-major;
 *    image b starts at b*c*h*w, channel k of it at (b*c + k)*h*w.
 *  - output: for n ROIs, n x c x S x S floats: ROI-major, then channel, then
 *    bin row, then bin column.
 *  - ROIs: corners x1 y1 x2 y2 in input-image pixels and the index of the
 *    image in the batch.  A feature pixel (i, j) covers input pixels
 *    around (j / spatial_scale, i / spatial_scale).
 *
 * mode ROI_POOL_ALIGN: RoIAlign as in Mask R-CNN, with torchvision's
 * aligned=False (no half-pixel offset):
 *  - the corners are scaled, x1*spatial_scale and so on, and not rounded;
 *  - the ROI's width and height in feature pixels are at least 1:
 *    rw = max(x2*scale - x1*scale, 1), likewise rh;
 *  - bin (i, j) is [x1s + j*rw/S, x1s + (j+1)*rw/S) across, likewise down;
 *    it is the mean of 2 x 2 bilinear samples at the centres of its four
 *    quarter cells: x = x1s + (j + 0.25) * rw/S and x1s + (j + 0.75) * rw/S,
 *    and the same for y (a sampling ratio of 2);
 *  - a sample at (y, x), in feature pixels with pixel centres at integers,
 *    outside [-1, h] x [-1, w] counts 0 (the mean still divides by 4);
 *    otherwise y is clamped to [0, h-1] and x to [0, w-1] (so [-1, 0) reads
 *    row 0 and [h-1, h] reads row h-1) and the value is interpolated
 *    between rows floor(y), floor(y)+1 and columns floor(x), floor(x)+1.
 *  All of it is computed in single precision.
 *
 * mode ROI_POOL_MAX: RoIPool as in Caffe's Fast R-CNN:
 *  - the corners are scaled (a single-precision product) and rounded to the
 *    nearest feature pixel, halves away from zero: sx1 = round(x1*scale) ...
 *  - the ROI spans rw = max(sx2 - sx1 + 1, 1) pixels across, likewise rh;
 *  - bin j spans columns [sx1 + floor(j*rw/S), sx1 + ceil((j+1)*rw/S)),
 *    clipped to [0, w], likewise rows; the edges are computed exactly, in
 *    integers (Caffe's single-precision edges can, rarely, reach one pixel
 *    further);
 *  - the output is the bin's largest value, the first one in row-major
 *    order on ties; a bin with no pixel gives 0 and no gradient; a NaN in
 *    the bin gives NaN, and its gradient goes to the first NaN.
 *  argmax[o] holds, for output o, the offset row*w + column of the chosen
 *  pixel in its plane, or -1.
 *
 * Both modes: an ROI whose image index is outside [0, batch), or that has a
 * non-finite corner, or a scaled corner beyond +-ROI_POOL_COORD_LIMIT
 * feature pixels, gives zeros (and argmax -1) and no gradient.  An ROI that
 * lies partly or wholly outside the map follows the rules above: in max
 * mode its bins are clipped (empty ones give 0), in align mode its samples
 * outside [-1, h] x [-1, w] give 0.  Corners in the wrong order (x2 < x1)
 * make an ROI of the minimum size at x1 (align) or sx1 (max).
 *
 * The backward passes ADD d loss / d features into feature_delta, since
 * Darknet layers accumulate into the previous layer's delta.  Align spreads
 * each output's gradient over its samples' bilinear taps, divided by 4;
 * max sends it to the stored argmax.
 *
 * Threads: the forward pass runs over ROIs in parallel, the backward pass
 * over feature planes in parallel, each plane's sums in ROI order, so both
 * give the same bits whatever the thread count.  No global state. */
#ifndef ROI_POOL_H
#define ROI_POOL_H

#include <stddef.h>

/* The largest S accepted, and the largest scaled corner (in feature pixels)
 * that still counts as a usable ROI. */
#define ROI_POOL_MAX_SIZE 64
#define ROI_POOL_COORD_LIMIT 16777216.0f

typedef enum roi_pool_mode {
    ROI_POOL_MAX,
    ROI_POOL_ALIGN
} roi_pool_mode;

typedef struct roi_box {
    int image;                /* the image's index in the batch */
    float x1, y1, x2, y2;     /* corners in input-image pixels */
} roi_box;

typedef struct roi_pool_shape {
    int batch, c, h, w;       /* the feature map */
    float spatial_scale;      /* feature pixels per input pixel: 1/16 at stride 16 */
    int size;                 /* S, 1..ROI_POOL_MAX_SIZE */
    roi_pool_mode mode;
} roi_pool_shape;

/* 0 when the shape is usable: positive sizes, h*w within an int, S within
 * bounds, a finite positive scale, a known mode; -1 otherwise. */
int roi_pool_check(const roi_pool_shape *s);

/* Floats of output (and ints of argmax) for n ROIs: n*c*S*S. */
size_t roi_pool_outputs(const roi_pool_shape *s, int n);

/* Pools n ROIs of `features` into `out` (roi_pool_outputs floats).  argmax
 * (as many ints) is written in max mode and may be NULL in align mode.
 * Returns -1, writing nothing, when the shape fails roi_pool_check or max
 * mode has no argmax; 0 otherwise. */
int roi_pool_forward(const roi_pool_shape *s, const float *features,
                     const roi_box *rois, int n, float *out, int *argmax);

/* Adds the gradient that out_delta (d loss / d out) sends to the features
 * into feature_delta (batch*c*h*w floats).  rois and argmax are those of the
 * forward pass.  Returns -1, touching nothing, as roi_pool_forward does. */
int roi_pool_backward(const roi_pool_shape *s, const roi_box *rois, int n,
                      const int *argmax, const float *out_delta,
                      float *feature_delta);

#endif
