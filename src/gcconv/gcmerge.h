/* gcmerge.h: [gcmerge] turns the N*K interleaved channels of a gradient
 * calibration network into N, by the max (default) or the mean over the K
 * branches of each plane: output channel c reads channels c*K .. c*K+K-1. */
#ifndef GCMERGE_H
#define GCMERGE_H

#include "darknet.h"
#include "ext.h"

typedef enum { GC_MERGE_MAX, GC_MERGE_MEAN } gc_merge_mode;

extern const layer_ext gcmerge_ext;

layer make_gcmerge_layer(int batch, int h, int w, int c, int branches, gc_merge_mode mode);
void forward_gcmerge_layer(layer l, network net);
void backward_gcmerge_layer(layer l, network net);
void resize_gcmerge_layer(layer *l, int w, int h);

/* K and the mode of a [gcmerge] layer, for the code that deploys it
 * (src/deploy/): a mean is linear and folds into a fixed convolution, a
 * max does not. */
int gcmerge_branches(layer l);
gc_merge_mode gcmerge_mode(layer l);
#ifdef GPU
void forward_gcmerge_layer_gpu(layer l, network net);
void backward_gcmerge_layer_gpu(layer l, network net);
#endif

#endif
