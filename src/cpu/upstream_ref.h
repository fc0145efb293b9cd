/* upstream_ref.h: upstream's own definitions of the functions that our fast
 * kernels replace.  The build compiles them under these names (the Makefile's
 * RENAME_* lists); the reference path and the tests call them. */
#ifndef UPSTREAM_REF_H
#define UPSTREAM_REF_H

#include "darknet.h"

void upstream_gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA,
                       float *A, int lda, float *B, int ldb,
                       float BETA, float *C, int ldc);
void upstream_im2col_cpu(float *data_im, int channels, int height, int width,
                         int ksize, int stride, int pad, float *data_col);
void upstream_col2im_cpu(float *data_col, int channels, int height, int width,
                         int ksize, int stride, int pad, float *data_im);
void upstream_activate_array(float *x, const int n, const ACTIVATION a);
void upstream_gradient_array(const float *x, const int n, const ACTIVATION a, float *delta);
void upstream_forward_batchnorm_layer(layer l, network net);
void upstream_backward_batchnorm_layer(layer l, network net);
layer upstream_make_maxpool_layer(int batch, int h, int w, int c, int size, int stride, int padding);
void upstream_forward_maxpool_layer(const layer l, network net);
void upstream_backward_maxpool_layer(const layer l, network net);
layer upstream_make_avgpool_layer(int batch, int w, int h, int c);
void upstream_forward_avgpool_layer(const layer l, network net);
void upstream_backward_avgpool_layer(const layer l, network net);
layer upstream_make_shortcut_layer(int batch, int index, int w, int h, int c, int w2, int h2, int c2);
void upstream_forward_shortcut_layer(const layer l, network net);
void upstream_backward_shortcut_layer(const layer l, network net);
void upstream_fill_cpu(int N, float ALPHA, float *X, int INCX);
layer upstream_make_convolutional_layer(int batch, int h, int w, int c, int n,
        int groups, int size, int stride, int padding, ACTIVATION activation,
        int batch_normalize, int binary, int xnor, int adam);
void upstream_resize_convolutional_layer(layer *l, int w, int h);
void upstream_forward_convolutional_layer(layer l, network net);
void upstream_backward_convolutional_layer(layer l, network net);
#ifdef GPU
/* upstream's GPU passes: per image (or cuDNN in CUDNN=1 builds) */
void upstream_forward_convolutional_layer_gpu(layer l, network net);
void upstream_backward_convolutional_layer_gpu(layer l, network net);
#endif

#endif
