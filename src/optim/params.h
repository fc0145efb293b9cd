/* params.h: the arrays a layer trains, counted (params.c).  The optimizer,
 * the NaN guard, the state files and the MPI exchange all walk a layer's
 * arrays by these counts. */
#ifndef PARAMS_H
#define PARAMS_H

#include "darknet.h"
#include "ext.h"

/* How many biases, BN scales and weights a layer trains; zero for arrays it
 * does not have.  Covers [convolutional], [deconvolutional], [connected],
 * [batchnorm] and extension layers (which follow [convolutional]). */
typedef struct param_counts {
    int biases, scales, weights;
} param_counts;

param_counts layer_param_counts(const layer *l);

/* One array a training step changes or a resumed run needs, with its device
 * copy in GPU training (else NULL).  name is the array's ("weights",
 * "rolling_mean", "m", [gcconv]'s "R"); updates marks its *_updates. */
typedef struct layer_array {
    const char *name;
    int updates;
    float *host, *device;
    size_t n;
} layer_array;
#define LAYER_ARRAYS_MAX (14 + 2 * EXT_MAX_ARRAYS)

/* A layer's arrays, in a fixed order: weights, biases and batch-norm
 * scales with their updates, the rolling statistics, Adam's moments, then
 * the arrays the layer declares (ext.h) with their updates; those the layer
 * does not have are left out.  Returns how many. */
int layer_arrays(const layer *l, layer_array out[LAYER_ARRAYS_MAX]);

#endif
