/* winograd.h: 3x3 convolutions at stride 1 with padding 1 by Winograd's
 * minimal filtering F(4x4, 3x3) (winograd.c), for the forward pass, the
 * input delta and the weight gradient.
 *
 * It takes 36 multiplications for a 4x4 tile of outputs where the
 * convolution takes 144, at the price of other rounding: its results are
 * not the bits of the im2col path, and their error bound is larger (the
 * transforms multiply by up to 8 and by 1/24; tests/unit/test_winograd.c
 * derives it).  [net] winograd=1 asks for it (docs/performance.md). */
#ifndef WINOGRAD_H
#define WINOGRAD_H

#include <stddef.h>

/* The convolutions it computes: 3x3, stride 1, padding 1. */
static inline int winograd_shape(int size, int stride, int pad)
{
    return size == 3 && stride == 1 && pad == 1;
}

/* out (nb images of m x h x w) = the convolution of in (nb images of
 * c x h x w) with weights (m x c x 3 x 3). */
void winograd_forward(int nb, int c, int h, int w, int m, const float *weights, const float *in, float *out);

/* weight_updates (m x c x 3 x 3) += the gradient of the weights for the
 * output delta `delta` (nb x m x h x w); input_delta (nb x c x h x w), when
 * not NULL, += the gradient of the input. */
void winograd_backward(int nb, int c, int h, int w, int m, const float *weights, const float *in,
                       const float *delta, float *weight_updates, float *input_delta);

/* The tests: groups of images of about `bytes` of transformed tiles (0:
 * the default, 64 MiB), to check the sums across groups on small shapes. */
void winograd_set_group_bytes(size_t bytes);

#endif
