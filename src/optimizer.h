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
rng *net_rng(network *net, rng_stream stream);

#endif
