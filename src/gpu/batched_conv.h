/* batched_conv.h: a convolution over a batch of images as one matrix
 * product per pass on the GPU (GPU=1 builds), for [convolutional] and
 * [gcconv] (src/gpu/batched_conv.c, kernels in src/gpu/batched_kernels.cu).
 *
 * The im2col columns of nb images sit side by side: K rows of nb*n columns
 * (K = c*size*size, n = out_h*out_w), so that
 *   forward:  out'  = W * cols              (M x nb*n, then to image order)
 *   filter:   dW   += delta' * cols^T       (delta' the deltas in that order)
 *   data:     dcols = W^T * delta'          (then col2im per pixel)
 * each one cuBLAS product over the whole group, where upstream's layer runs
 * one im2col and one product per image.  nb is the whole batch unless the
 * columns would pass GPU_CONV_SCRATCH_FLOATS; then groups of images follow
 * in order.  Every pointer is device memory. */
#ifndef BATCHED_CONV_H
#define BATCHED_CONV_H
#include <stddef.h>

/* Floats of device scratch the columns and products of a group may take
 * (256 MiB); at least one image always goes. */
#define GPU_CONV_SCRATCH_FLOATS ((size_t)64 << 20)

typedef struct gpu_conv_shape {
    int batch;
    int c, h, w;          /* input planes read, and their size */
    int size, stride, pad;
    int out_h, out_w;
    /* 1x1 kernels at stride 1 without padding, which read the input as it
     * lies: row r of an image's columns is its floats r*n .. r*n+n-1
     * (n = out_h*out_w = h*w); their input delta is written there
     * (add_direct = 0, as upstream's [convolutional] does) or added. */
    int direct, add_direct;
    size_t in_image;      /* floats from an image's first input plane to the next image's */
    size_t out_image;     /* the same for outputs and deltas */
    int out_first, out_step; /* filter o writes output channel out_first + o*out_step */
} gpu_conv_shape;

#ifdef GPU
#ifdef __cplusplus
extern "C" {
#endif

/* output += W * input; W is M rows of c*size*size, row stride ldw. */
void gpu_conv_forward(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *input,
                      float *output);
/* dW += delta * cols^T (row stride ldw), and, when input_delta is not NULL,
 * the input delta from W^T * delta (added, or written for direct kernels
 * without add_direct). */
void gpu_conv_backward(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *input,
                       const float *delta, float *dW, float *input_delta);

/* A device block of at least floats floats, kept and grown across calls
 * (one stream: the calls that use it never overlap). */
float *gpu_scratch(size_t floats);

/* The kernels (batched_kernels.cu; what each element gets is
 * batched_layout.h's).  ld = nb*n is the row length of the columns and
 * products; images [0, nb) start at input/output as given. */
void gpu_im2col_rows(const gpu_conv_shape *g, const float *input, int nb, float *cols);
void gpu_col2im_rows(const gpu_conv_shape *g, const float *dcols, int nb, float *input_delta);
/* output image b, channel out_first + o*out_step, += prod[o][b*n ...] */
void gpu_add_products(const gpu_conv_shape *g, int M, const float *prod, int nb, float *output);
/* delta'[o][b*n ...] = delta of image b, channel out_first + o*out_step */
void gpu_gather_deltas(const gpu_conv_shape *g, int M, const float *delta, int nb, float *prod);

#ifdef __cplusplus
}
#endif

#endif
#endif
