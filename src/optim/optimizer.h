/* optimizer.h: per-network extension state (net->ext) and optimizer choice.
 *
 * The [net] keys (docs/optimizer.md): optimizer=sgd|adam|csgd, sigma,
 * noise=weight|gradient, noise_gamma, seed.  The hook that reads them reads
 * the data's [net] keys too, into input/data_keys.h, and the convolutions'
 * (winograd=, docs/performance.md), into the conv_choices of cpu/fastconv.h. */
#ifndef OPTIMIZER_H
#define OPTIMIZER_H

#include "csgd.h"
#include "darknet.h"
#include "cpu/fastconv.h"
#include "optim/params.h"
#include "rand/rng.h"

typedef enum { OPTIMIZER_SGD, OPTIMIZER_ADAM, OPTIMIZER_CSGD } optimizer_kind;

typedef struct net_ext {
    conv_choices conv;     /* first: the layers read it through net.ext */
    optimizer_kind optimizer;
    float sigma;           /* csgd noise standard deviation (not a variance) */
    noise_mode noise;
    float noise_gamma;     /* decay exponent of gradient noise */
    int seeded;            /* seed= was given in [net] */
    uint64_t seed;
    rng streams[RNG_STREAMS];
} net_ext;


/* The network's extension state; created with defaults (sgd, seeded from
 * the time) when the network was not parsed from a cfg. */
net_ext *net_ext_of(network *net);
rng *net_rng(network *net, rng_stream stream);


/* One step on one parameter array, in Darknet's convention: `updates` holds
 * minus the gradient summed over the batch.  SGD: apply weight decay (when
 * decay != 0), step by lr/batch, keep momentum in `updates`.  Adam (a.adam and
 * m, v given): upstream's GPU Adam, now on the CPU too. */
void optimizer_step(float *params, float *updates, float *m, float *v, int n,
                    float decay, update_args a, float lr_scale);
/* The [convolutional]-style update of a layer's biases, scales and weights
 * (decay on weights only, as upstream's SGD), used by CPU layers of ours and
 * for Adam on upstream layers. */
void optimizer_update_layer(layer l, update_args a);
/* Allocates the Adam moment buffers a layer lacks (upstream's [batchnorm]
 * has none); a no-op without adam. */
void optimizer_prepare_layer(layer *l, int adam);

/* Data-parallel training (src/dist/): the cfgs parsed after this split their
 * batch over `ranks` processes (see split_batch in optimizer.c); 1: no split. */
void optimizer_set_batch_ranks(int ranks);
/* Seeds every stream of x from `seed` and makes x the source of upstream's
 * draws, as seed= in [net] would (the processes of a job without seed=
 * share rank 0's). */
void optimizer_reseed(net_ext *x, uint64_t seed);

#endif
