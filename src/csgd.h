/* csgd.h: the Gaussian noise that optimizer=csgd adds to SGD (SPEC section 3).
 *
 * Noise goes on the weights of [convolutional], [connected] and [gcconv]
 * layers only: never on biases, batch-norm parameters or R. */
#ifndef CSGD_H
#define CSGD_H

#include "darknet.h"
#include "optimizer.h"
#include "rng.h"

/* Number of weights of l that receive noise; 0 for every other layer. */
int csgd_noisy_weights(const layer *l);

/* Standard deviation of the gradient noise at a step with `steps_before`
 * steps before it: sqrt(sigma^2 / (1 + steps_before)^gamma). */
float csgd_gradient_sigma(float sigma, float gamma, size_t steps_before);

/* x[i] += stddev * N(0, 1), drawn in index order from r. */
void csgd_add_noise(float *x, int n, float stddev, rng *r);

/* noise=gradient: called before layer l's step. */
void csgd_before_step(net_ext *x, layer *l, update_args a);
/* noise=weight: called after layer l's step. */
void csgd_after_step(net_ext *x, layer *l, update_args a);

#endif
