/* cudnn_conv.h: convolutions through cuDNN 8 and 9 (CUDNN=1 builds;
 * src/gpu/cudnn_conv.c).
 *
 * Algorithms are chosen with cuDNN's current heuristics
 * (cudnnGet*Algorithm_v7): the first that succeeds, is deterministic and
 * needs at most GPU_CUDNN_WORKSPACE_LIMIT bytes of workspace, else the first
 * that succeeds within the limit.  Deterministic first, so that a seeded
 * run repeats on the same GPU.  The workspace is gpu_scratch()'s block,
 * sized at each call. */
#ifndef CUDNN_CONV_H
#define CUDNN_CONV_H
#ifdef CUDNN
#include <stddef.h>
#include "darknet.h"

#define GPU_CUDNN_WORKSPACE_LIMIT ((size_t)1 << 30)

/* The algorithms of one convolution.  Upstream's cudnn_convolutional_setup()
 * calls this (patches/0090-cudnn-9.patch) in place of the calls cuDNN 8
 * removed. */
void gpu_cudnn_choose_algorithms(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                 cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y,
                                 cudnnConvolutionFwdAlgo_t *fwd, cudnnConvolutionBwdDataAlgo_t *bwd_data,
                                 cudnnConvolutionBwdFilterAlgo_t *bwd_filter);
/* Bytes of workspace a [convolutional] layer's three algorithms need. */
size_t gpu_cudnn_layer_workspace(const layer *l);

/* A convolution of our own layers: NCHW floats, filters n x c/groups x size x size. */
typedef struct gpu_cudnn_shape {
    int batch, c, h, w, n, size, stride, pad, groups, out_h, out_w;
} gpu_cudnn_shape;

typedef struct gpu_cudnn_conv {
    int made;
    gpu_cudnn_shape shape;      /* what the descriptors describe */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t workspace;
} gpu_cudnn_conv;

/* Makes the descriptors, or remakes them when the shape changed (a resize,
 * another batch). */
void gpu_cudnn_conv_prepare(gpu_cudnn_conv *d, gpu_cudnn_shape s);
/* y += conv(x, W) */
void gpu_cudnn_conv_forward(const gpu_cudnn_conv *d, const float *x, const float *W, float *y);
/* dW += dL/dW; dx += dL/dx when dx is not NULL */
void gpu_cudnn_conv_backward(const gpu_cudnn_conv *d, const float *x, const float *dy, const float *W, float *dW,
                             float *dx);
void gpu_cudnn_conv_free(gpu_cudnn_conv *d);

#endif
#endif
