/* grads.c: the per-pass gradient slots of data-parallel training (dist.h).
 *
 * No MPI here: the slots are plain float arrays that dist.c exchanges.  In
 * GPU training the gradients and batch statistics live on the device: they
 * are copied to the host slots after each pass, and the summed gradient and
 * the rolling statistics back before the optimizer step, which then runs
 * on the device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/grads.h"
#include "ext.h"
#include "network.h"
#include "optim/optimizer.h"
#include "checked.h"

/* A layer's device array (a field ending in _gpu) in GPU training; NULL
 * otherwise, and in builds without GPU, whose layers have no such field. */
#ifdef GPU
static int on_device(const layer *l)
{
    return l->weights_gpu || l->biases_gpu || l->scales_gpu;
}
#define DEVICE(l, field) (on_device(l) ? (l)->field : NULL)
#else
#define DEVICE(l, field) NULL
#endif

/* A layer's gradient arrays, in slot order: the updates of the arrays of
 * optim/params.h's list (weights, biases, batch-norm scales, then those the
 * layer declares, such as [gcconv]'s R), with their device copies in GPU
 * training. */
static int grad_arrays(layer *l, layer_array *g)
{
    layer_array all[LAYER_ARRAYS_MAX];
    int k = 0;
    if (!l->update) return 0;
    for (int i = 0, n = layer_arrays(l, all); i < n; ++i)
        if (all[i].updates) g[k++] = all[i];
    return k;
}

/* to the host, or back to the device; no-op for host-only arrays */
static void pull(float *dev, float *host, size_t n)
{
#ifdef GPU
    if (dev) cuda_pull_array(dev, host, n);
#else
    (void)dev, (void)host, (void)n;
#endif
}

static void push(float *dev, float *host, size_t n)
{
#ifdef GPU
    if (dev) cuda_push_array(dev, host, n);
#else
    (void)dev, (void)host, (void)n;
#endif
}

static void zero(float *dev, float *host, int n)
{
    memset(host, 0, n * sizeof(float));
#ifdef GPU
    if (dev) fill_gpu(n, 0, dev, 1);
#else
    (void)dev;
#endif
}

/* Batch-norm channels of a layer whose forward pass keeps rolling
 * statistics in training; 0 for others. */
static int bn_channels(const layer *l)
{
    if (!l->rolling_mean || !l->rolling_variance || !l->mean || !l->variance) return 0;
    if (l->type == BATCHNORM) return l->out_c;
    if (!l->batch_normalize) return 0;
    if (l->type == CONVOLUTIONAL || l->type == DECONVOLUTIONAL || l->type == CONNECTED) return l->out_c;
    if (l->type == EXTENSION) return l->n;   /* one that normalises ([gcconv]) */
    return 0;
}

void dist_check_layers(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (!l->update) continue;
        int known = l->type == CONVOLUTIONAL || l->type == DECONVOLUTIONAL || l->type == CONNECTED ||
                    l->type == BATCHNORM || (l->type == EXTENSION && l->ext && l->ext->arrays);
        if (!known) {
            dn_fatal("layer %d (%s): data-parallel training covers the gradients of"
                    " convolutional, deconvolutional, connected, batchnorm and gcconv layers only\n",
                    i, l->type == EXTENSION ? l->ext->section : get_layer_string(l->type));
        }
    }
}

static size_t grad_floats(network *net)
{
    size_t total = 0;
    layer_array g[LAYER_ARRAYS_MAX];
    for (int i = 0; i < net->n; ++i)
        for (int a = 0, k = grad_arrays(&net->layers[i], g); a < k; ++a) total += g[a].n;
    return total;
}

static size_t bn_floats(network *net)
{
    size_t total = 0;
    for (int i = 0; i < net->n; ++i) total += 2 * (size_t)bn_channels(&net->layers[i]);
    return total;
}

size_t dist_grad_floats(network *net) { return grad_floats(net); }
size_t dist_stats_floats(network *net) { return bn_floats(net) + 2; }
size_t dist_stash_floats(network *net) { return grad_floats(net) + bn_floats(net); }

/* Copies every gradient array to out (in slot order) and zeroes it. */
static float *move_grads(network *net, float *out)
{
    layer_array g[LAYER_ARRAYS_MAX];
    for (int i = 0; i < net->n; ++i) {
        for (int a = 0, k = grad_arrays(&net->layers[i], g); a < k; ++a) {
            if (g[a].device) pull(g[a].device, out, g[a].n);
            else memcpy(out, g[a].host, g[a].n * sizeof(float));
            zero(g[a].device, g[a].host, g[a].n);
            out += g[a].n;
        }
    }
    return out;
}

/* Copies two arrays per batch-norm layer (rolling or batch statistics). */
static void copy_bn(network *net, float *out, int rolling)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        int c = bn_channels(l);
        if (!c) continue;
        float *mean = rolling ? l->rolling_mean : l->mean, *variance = rolling ? l->rolling_variance : l->variance;
        pull(rolling ? DEVICE(l, rolling_mean_gpu) : DEVICE(l, mean_gpu), mean, c);
        pull(rolling ? DEVICE(l, rolling_variance_gpu) : DEVICE(l, variance_gpu), variance, c);
        memcpy(out, mean, c * sizeof(float));
        memcpy(out + c, variance, c * sizeof(float));
        out += 2 * c;
    }
}

void dist_begin_step(network *net, float *stash)
{
    float *bn = move_grads(net, stash);
    copy_bn(net, bn, 1);
}

void dist_take_pass(network *net, float *grad, float *stats)
{
    move_grads(net, grad);
    copy_bn(net, stats, 0);
}

void dist_sum_passes(float *out, const float *base, const float *g, size_t len, int passes, size_t stride)
{
    memcpy(out, base, len * sizeof(float));
    /* pass by pass, each over the whole range: the order of the float
     * additions of an element is fixed by the pass index alone */
    for (int k = 0; k < passes; ++k) {
        const float *gk = g + (size_t)k * stride;
        for (size_t i = 0; i < len; ++i) out[i] += gk[i];
    }
}

/* The rolling statistics of every batch-norm layer: those of the stash,
 * then each pass's, with the same expression as the forward pass
 * (cpu/fast_bias.c, and upstream's scal then axpy, which round alike). */
static void replay_rolling(network *net, const float *stash_bn, const float *stats, int passes)
{
    size_t off = 0, record = dist_stats_floats(net);
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        int c = bn_channels(l);
        if (!c) continue;
        float *rm = l->rolling_mean, *rv = l->rolling_variance;
        memcpy(rm, stash_bn + off, c * sizeof(float));
        memcpy(rv, stash_bn + off + c, c * sizeof(float));
        for (int k = 0; k < passes; ++k) {
            const float *m = stats + k * record + off;
            for (int f = 0; f < c; ++f) {
                rm[f] = .99f * rm[f] + .01f * m[f];
                rv[f] = .99f * rv[f] + .01f * m[c + f];
            }
        }
        push(DEVICE(l, rolling_mean_gpu), rm, c);
        push(DEVICE(l, rolling_variance_gpu), rv, c);
        off += 2 * (size_t)c;
    }
}

void dist_end_step(network *net, const float *sum, const float *stash, const float *stats, int passes)
{
    layer_array g[LAYER_ARRAYS_MAX];
    for (int i = 0; i < net->n; ++i) {
        for (int a = 0, k = grad_arrays(&net->layers[i], g); a < k; ++a) {
            memcpy(g[a].host, sum, g[a].n * sizeof(float));
            push(g[a].device, g[a].host, g[a].n);
            sum += g[a].n;
        }
    }
    replay_rolling(net, stash + grad_floats(net), stats, passes);
}
