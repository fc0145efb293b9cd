/* params.h: the arrays a layer trains, counted (params.c).  The optimizer,
 * the NaN guard, the state files and the MPI exchange all walk a layer's
 * arrays by these counts. */
#ifndef PARAMS_H
#define PARAMS_H

#include "darknet.h"

/* How many biases, BN scales and weights a layer trains; zero for arrays it
 * does not have.  Covers [convolutional], [deconvolutional], [connected],
 * [batchnorm] and extension layers (which follow [convolutional]). */
typedef struct param_counts {
    int biases, scales, weights;
} param_counts;

param_counts layer_param_counts(const layer *l);

#endif
