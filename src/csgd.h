/* csgd.h: the Gaussian noise that optimizer=csgd adds to SGD (SPEC section 3).
 *
 * Noise goes on the weights of [convolutional], [connected] and [gcconv]
 * layers only: never on biases, batch-norm parameters or R. */
#ifndef CSGD_H
#define CSGD_H

#include <stdint.h>

#include "darknet.h"
#include "rand/rng.h"

typedef enum { NOISE_WEIGHT, NOISE_GRADIENT } noise_mode;

/* What the noise needs of the network's [net] keys (docs/optimizer.md) and
 * generators; the optimizer (src/optim/optimizer.c) hands it over for a
 * network with optimizer=csgd. */
typedef struct csgd_noise {
    float sigma;           /* standard deviation (not a variance) */
    noise_mode noise;
    float noise_gamma;     /* decay exponent of gradient noise */
    uint64_t key;          /* csgd_noise_key(seed): the GPU's counter-based draws */
    rng *stream;           /* the CPU's sequential draws (RNG_NOISE) */
} csgd_noise;

/* Number of weights of l that receive noise; 0 for every other layer. */
int csgd_noisy_weights(const layer *l);

/* Standard deviation of the gradient noise at a step with `steps_before`
 * steps before it: sqrt(sigma^2 / (1 + steps_before)^gamma). */
float csgd_gradient_sigma(float sigma, float gamma, size_t steps_before);

/* x[i] += stddev * N(0, 1), drawn in index order from r. */
void csgd_add_noise(float *x, int n, float stddev, rng *r);

/* noise=gradient: called before layer l's step. */
void csgd_before_step(const csgd_noise *c, layer *l, update_args a);
/* noise=weight: called after layer l's step. */
void csgd_after_step(const csgd_noise *c, layer *l, update_args a);

/* ---- the GPU's noise: counter-based (src/rand/ctr_rng.h) ----
 * On the GPU every weight draws its own number, computed from
 * (key, element i, layer index, step t, mode): a run is reproducible from
 * its seed, and a resumed run (which restores t) draws what the
 * uninterrupted one would have.  The CPU keeps its sequential stream
 * (RNG_NOISE); the two paths draw the same distribution, not the same
 * numbers. */
typedef enum { CSGD_TAG_WEIGHT = 1, CSGD_TAG_GRADIENT = 2 } csgd_tag;

/* The Philox key of the network's noise, from its seed. */
uint64_t csgd_noise_key(uint64_t seed);
/* The standard normal that element i of layer `index` gets at step t: the
 * C twin of what the GPU kernel adds (times its standard deviation). */
float csgd_ctr_normal(uint64_t key, int i, int index, int t, csgd_tag tag);

#ifdef GPU
/* The GPU twins of csgd_before_step / csgd_after_step, on the device
 * arrays; `index` is the layer's index in the network. */
void csgd_before_step_gpu(const csgd_noise *c, layer *l, int index, update_args a);
void csgd_after_step_gpu(const csgd_noise *c, layer *l, int index, update_args a);
#endif

#endif
