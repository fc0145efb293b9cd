/* conv_gpu.h: what a convolution layer's GPU passes do around the
 * convolution, shared by [convolutional] (conv_gpu.c) and [gcconv]
 * (gcconv/gclayer_gpu.c).  GPU=1 builds. */
#ifndef CONV_GPU_H
#define CONV_GPU_H
#ifdef GPU
#include "darknet.h"

/* After the convolution: batch norm (or the biases), then the activation. */
void gpu_conv_finish_forward(layer l, network net);
/* Before the convolution's gradients: the activation's gradient, then
 * batch norm's backward pass (or the biases' gradient). */
void gpu_conv_start_backward(layer l, network net);

#endif
#endif
