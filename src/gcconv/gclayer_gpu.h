/* gclayer_gpu.h: [gcconv] on the GPU (GPU=1 builds; gclayer_gpu.c): device
 * buffers that copy the host ones, and the passes. */
#ifndef GCLAYER_GPU_H
#define GCLAYER_GPU_H

#include "darknet.h"
#include "gcconv/gcconv_state.h"

void gcconv_make_gpu(layer *l);
void gcconv_resize_gpu(layer *l);
void gcconv_free_gpu(layer l);
void gcconv_push_gpu(layer l);   /* host -> device: w, R, biases, BN, momentum, Adam moments */
void gcconv_pull_gpu(layer l);   /* device -> host, the same arrays */
void forward_gcconv_layer_gpu(layer l, network net);
void backward_gcconv_layer_gpu(layer l, network net);
void update_gcconv_layer_gpu(layer l, update_args a);

#endif
