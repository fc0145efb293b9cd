/* optimizer.h: per-network extension state (net->ext) and optimizer choice. */
#ifndef OPTIMIZER_H
#define OPTIMIZER_H

#include "darknet.h"
#include "rng.h"

typedef enum { OPTIMIZER_SGD, OPTIMIZER_ADAM, OPTIMIZER_CSGD } optimizer_kind;
typedef enum { NOISE_WEIGHT, NOISE_GRADIENT } noise_mode;

/* Separate streams, so that e.g. changing the augmentation does not change
 * the initial weights. */
typedef enum { RNG_INIT, RNG_NOISE, RNG_DATA, RNG_AUGMENT, RNG_STREAMS } rng_stream;

typedef struct net_ext {
    optimizer_kind optimizer;
    float sigma;           /* csgd noise standard deviation */
    noise_mode noise;
    float noise_gamma;
    int seeded;            /* seed= was given in [net] */
    uint64_t seed;
    rng streams[RNG_STREAMS];
} net_ext;

/* The network's extension state; created with defaults (sgd, seeded from
 * the time) when the network was not parsed from a cfg. */
net_ext *net_ext_of(network *net);

/* One step on one parameter array, in Darknet's convention: `updates` holds
 * minus the gradient summed over the batch.  SGD: apply weight decay (when
 * decay != 0), step by lr/batch, keep momentum in `updates`.  Adam (a.adam and
 * m, v given): upstream's GPU Adam, now on the CPU too. */
void optimizer_step(float *params, float *updates, float *m, float *v, int n,
                    float decay, update_args a, float lr_scale);
/* The [convolutional]-style update of a layer's biases, scales and weights
 * (decay on weights only, as upstream), used by CPU layers of ours. */
void optimizer_update_layer(layer l, update_args a);
rng *net_rng(network *net, rng_stream stream);

#endif
