/* fastops.h: the fast CPU versions of upstream's element-wise operations,
 * one file per operation: fast_im2col.c (im2col, col2im), fast_activations.c,
 * fast_batchnorm.c, fast_bias.c, fast_pool.c ([maxpool], [avgpool]) and
 * fast_shortcut.c ([shortcut], fill_cpu); fast_lanes.h holds what they share.
 *
 * Each function that replaces an upstream one keeps upstream's name and
 * declaration (im2col.h, col2im.h, activations.h, batchnorm_layer.h,
 * maxpool_layer.h, avgpool_layer.h, shortcut_layer.h, blas.h); the build
 * compiles upstream's definition under an upstream_ prefix (the Makefile's
 * RENAME_* lists), and the reference path (parallel.h) calls it.  They run
 * on OpenMP threads over images and channels.  All give upstream's bits
 * except batch normalization, which sums in another order and multiplies by
 * reciprocals, so agrees to float rounding only.
 *
 * Declared here: the helpers that the batched convolution (fastconv.c), the
 * factored [gcconv] passes and the tests use directly, and the fused kernels
 * (batch norm or bias with the activation), which make upstream's separate
 * calls on the reference path. */
#ifndef FASTOPS_H
#define FASTOPS_H

#include <stddef.h>

#include "darknet.h"

/* im2col of one image into rows of stride ldcol: row (c*ksize+kh)*ksize+kw
 * holds that kernel offset's out_h*out_w values, from col + row*ldcol. */
void im2col_rows(const float *im, int channels, int height, int width,
                 int ksize, int stride, int pad, float *col, int ldcol);
/* The inverse, adding into im, from rows of stride ldcol. */
void col2im_rows(const float *col, int ldcol, int channels, int height, int width,
                 int ksize, int stride, int pad, float *im);
/* The same for channels whose planes lie plane_stride floats apart (the
 * interleaved branches of [gcconv] mixing=branch). */
void im2col_planes(const float *im, size_t plane_stride, int channels, int height, int width,
                   int ksize, int stride, int pad, float *col, int ldcol);
void col2im_planes(const float *col, int ldcol, int channels, int height, int width,
                   int ksize, int stride, int pad, float *im, size_t plane_stride);
/* dst = the height x width plane src shifted by dy rows and dx columns:
 * dst[r*width + c] = src[(r+dy)*width + c+dx] inside the plane, 0 outside.
 * It is im2col's row of one kernel pixel at stride 1 when the output is as
 * large as the input; with -dy, -dx it puts such a row back in input
 * coordinates. */
void shift_plane(const float *src, int height, int width, int dy, int dx, float *dst);
/* dst += src (both height x width planes) at the positions that
 * shift_plane(., dy, dx) reads from inside the plane: rows [dy, height+dy)
 * and columns [dx, width+dx), clipped to the plane.  This is what col2im
 * adds for one kernel pixel, with its row already in input coordinates. */
void add_reached(const float *src, int height, int width, int dy, int dx, float *dst);

/* A layer's batch normalization (forward_batchnorm_layer) then its
 * activation (activate_array), and the gradients back (gradient_array then
 * backward_batchnorm_layer), with the same bits as those calls but in fewer
 * passes over the output: linear, leaky and relu are applied within the
 * normalization's last pass; other activations and the reference path make
 * the separate calls. */
void fast_bn_activate_forward(layer l, network net);
/* Where a layer writes its products before fast_bn_activate_forward(): l.x
 * when the fused pass reads them there, else l.output (also for a layer
 * without batch normalization). */
float *fast_bn_products(layer l);
void fast_bn_activate_backward(layer l, network net);
/* The same for a layer without batch normalization: add_bias then
 * activate_array; gradient_array then backward_bias (l.n channels). */
void fast_bias_activate_forward(layer l);
void fast_bias_activate_backward(layer l);

#endif
