/* csgd.c: weight and gradient noise of optimizer=csgd (see csgd.h). */
#include <math.h>
#include <string.h>

#include "csgd.h"
#include "ext.h"
#include "rand/rand_gpu.h"
#include "rand/ctr_rng.h"

int csgd_noisy_weights(const layer *l)
{
    if (!l->weights) return 0;
    switch (l->type) {
    case CONVOLUTIONAL: return l->nweights;
    case CONNECTED: return l->inputs * l->outputs;
    case EXTENSION:
        /* [gcconv] keeps w in l.weights; R lives behind l.ext_data and is
         * never touched here.  [gcmerge] and others have no weights. */
        return l->ext && strcmp(l->ext->section, "[gcconv]") == 0 ? l->nweights : 0;
    default: return 0;
    }
}

float csgd_gradient_sigma(float sigma, float gamma, size_t steps_before)
{
    double variance = (double)sigma * sigma / pow(1.0 + (double)steps_before, gamma);
    return (float)sqrt(variance);
}

void csgd_add_noise(float *x, int n, float stddev, rng *r)
{
    for (int i = 0; i < n; ++i) x[i] += stddev * rng_normal(r);
}

void csgd_before_step(const csgd_noise *c, layer *l, update_args a)
{
    int n = csgd_noisy_weights(l);
    if (c->noise != NOISE_GRADIENT || c->sigma <= 0 || !n) return;
    /* weight_updates holds minus the gradient summed over the batch, and the
     * step is w += lr/batch * weight_updates.  Noise n on the mean gradient
     * therefore enters as batch * n, which makes the step move w by
     * lr * n: the learning rate (and the layer's rate scale) scale the
     * noise exactly as they scale the gradient, and momentum carries it
     * along with the gradient.  The sign does not matter: n is symmetric.
     * a.t was already incremented for this step, so a.t - 1 steps came
     * before it and the first step uses sigma itself. */
    float stddev = csgd_gradient_sigma(c->sigma, c->noise_gamma, (size_t)a.t - 1);
    csgd_add_noise(l->weight_updates, n, stddev * a.batch, c->stream);
}

void csgd_after_step(const csgd_noise *c, layer *l, update_args a)
{
    int n = csgd_noisy_weights(l);
    if (c->noise != NOISE_WEIGHT || c->sigma <= 0 || !n) return;
    /* Alg. 1 line 6: w += N(0, sigma^2), not scaled by the learning rate. */
    csgd_add_noise(l->weights, n, c->sigma, c->stream);
}

/* ---- counter-based noise (the GPU path) ------------------------------------ */

uint64_t csgd_noise_key(uint64_t seed)
{
    /* distinct from the xoshiro streams, which seed through splitmix64 too */
    return rng_hash(rng_hash(seed) ^ (0x63736764ULL << 32 | (uint64_t)RNG_NOISE));
}

float csgd_ctr_normal(uint64_t key, int i, int index, int t, csgd_tag tag)
{
    return ctr_normal(key, (uint32_t)i, (uint32_t)index, (uint32_t)t, (uint32_t)tag);
}

#ifdef GPU
void csgd_before_step_gpu(const csgd_noise *c, layer *l, int index, update_args a)
{
    int n = csgd_noisy_weights(l);
    if (c->noise != NOISE_GRADIENT || c->sigma <= 0 || !n || !l->weight_updates_gpu) return;
    /* as csgd_before_step: batch times the noise of the mean gradient */
    float stddev = csgd_gradient_sigma(c->sigma, c->noise_gamma, (size_t)a.t - 1);
    ctr_normal_add_gpu(l->weight_updates_gpu, n, stddev * a.batch, c->key, (uint32_t)index,
                   (uint32_t)a.t, CSGD_TAG_GRADIENT);
}

void csgd_after_step_gpu(const csgd_noise *c, layer *l, int index, update_args a)
{
    int n = csgd_noisy_weights(l);
    if (c->noise != NOISE_WEIGHT || c->sigma <= 0 || !n || !l->weights_gpu) return;
    ctr_normal_add_gpu(l->weights_gpu, n, c->sigma, c->key, (uint32_t)index, (uint32_t)a.t,
                   CSGD_TAG_WEIGHT);
}
#endif
