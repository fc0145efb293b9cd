/* fastconv.h: the batched convolution of fastconv.c, shared by
 * [convolutional] and [gcconv]. */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stddef.h>

/* A 1x1 kernel at stride 1 without padding: the input is its own im2col
 * matrix, which [convolutional] and [gcconv] read as it lies, on the CPU and
 * the GPU (patches/0091 keeps upstream's shortcut to these). */
static inline int conv_is_pointwise(int size, int stride, int pad)
{
    return size == 1 && stride == 1 && pad == 0;
}

typedef struct fastconv_shape {
    int batch, c, h, w;        /* input images */
    int n, size, stride, pad;  /* kernels: n of size x size x c */
    int out_h, out_w;
    int direct;      /* multiply the input as it lies (1x1) instead of im2col */
    int add_direct;  /* with direct: add the input delta instead of writing it */
    int winograd;    /* 3x3 layers at stride 1 and padding 1 by winograd.c */
} fastconv_shape;

/* The [net] choices that the convolutions read.  The network's extension
 * state (net.ext, optim/optimizer.h) begins with this struct, so that the
 * layers, which sit below the optimizer, read it through net.ext. */
typedef struct conv_choices {
    int winograd;    /* [net] winograd=1 */
} conv_choices;

static inline int conv_wants_winograd(const void *net_ext)
{
    return net_ext && ((const conv_choices *)net_ext)->winograd;
}

/* The workspace size (bytes) the batched path wants: at least
 * workspace_size, room for a group of images. */
size_t fastconv_workspace(const fastconv_shape *g, size_t workspace_size);
/* The bytes of columns and products a group of images aims at: small
 * enough to stay in a core's cache between im2col and the product. */
size_t fastconv_group_bytes(void);
/* Images per product that a workspace of workspace_size bytes holds (at
 * most the batch), or 0 when the reference path is selected. */
int fastconv_chunk(const fastconv_shape *g, size_t workspace_size);

/* output (batch x n x out_h*out_w) = weights (n x size*size*c) * columns. */
void fastconv_forward(const fastconv_shape *g, int chunk, const float *weights, const float *input,
                      float *output, float *workspace);
/* weight_updates += delta * columns^T; input_delta (when not NULL) gets
 * weights^T * delta back in image layout (added by col2im). */
void fastconv_backward(const fastconv_shape *g, int chunk, const float *weights, const float *input,
                       const float *delta, float *weight_updates, float *input_delta, float *workspace);

#endif
