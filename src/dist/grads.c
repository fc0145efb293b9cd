/* grads.c: the per-pass gradient slots of data-parallel training (dist.h).
 *
 * No MPI here: the slots are plain float arrays that dist.c gathers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/grads.h"
#include "ext.h"
#include "network.h"
#include "optim/optimizer.h"
#include "checked.h"

#define MAX_ARRAYS (3 + EXT_MAX_ARRAYS)   /* biases, scales, weights, and the declared ones */

/* A layer's gradient arrays, in slot order: biases, scales, weights, then
 * those the layer declares (ext.h: [gcconv]'s R). */
static int grad_arrays(layer *l, float **p, int *n)
{
    param_counts c = layer_param_counts(l);
    int k = 0;
    if (!l->update) return 0;
    if (c.biases) p[k] = l->bias_updates, n[k++] = c.biases;
    if (c.scales) p[k] = l->scale_updates, n[k++] = c.scales;
    if (c.weights) p[k] = l->weight_updates, n[k++] = c.weights;
    ext_array a[EXT_MAX_ARRAYS];
    int m = ext_layer_arrays(*l, a);
    for (int i = 0; i < m; ++i) p[k] = a[i].updates, n[k++] = a[i].n;
    return k;
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
    float *p[MAX_ARRAYS];
    int n[MAX_ARRAYS];
    for (int i = 0; i < net->n; ++i)
        for (int a = 0, k = grad_arrays(&net->layers[i], p, n); a < k; ++a) total += n[a];
    return total;
}

static size_t bn_floats(network *net)
{
    size_t total = 0;
    for (int i = 0; i < net->n; ++i) total += 2 * (size_t)bn_channels(&net->layers[i]);
    return total;
}

size_t dist_slot_floats(network *net) { return grad_floats(net) + bn_floats(net) + 2; }
size_t dist_stash_floats(network *net) { return grad_floats(net) + bn_floats(net); }

/* Copies every gradient array to out (in slot order) and zeroes it. */
static float *move_grads(network *net, float *out)
{
    float *p[MAX_ARRAYS];
    int n[MAX_ARRAYS];
    for (int i = 0; i < net->n; ++i) {
        for (int a = 0, k = grad_arrays(&net->layers[i], p, n); a < k; ++a) {
            memcpy(out, p[a], n[a] * sizeof(float));
            memset(p[a], 0, n[a] * sizeof(float));
            out += n[a];
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
        memcpy(out, rolling ? l->rolling_mean : l->mean, c * sizeof(float));
        memcpy(out + c, rolling ? l->rolling_variance : l->variance, c * sizeof(float));
        out += 2 * c;
    }
}

void dist_begin_step(network *net, float *stash)
{
    float *bn = move_grads(net, stash);
    copy_bn(net, bn, 1);
}

void dist_take_pass(network *net, float *slot)
{
    float *bn = move_grads(net, slot);
    copy_bn(net, bn, 0);
}

/* The rolling statistics of every batch-norm layer: those of the stash,
 * then each pass's, with the same expression as the forward pass
 * (cpu/fast_bias.c, and upstream's scal then axpy, which round alike). */
static void replay_rolling(network *net, const float *stash_bn, const float *slots, size_t slot, size_t bn_at,
                           int passes)
{
    size_t off = 0;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        int c = bn_channels(l);
        if (!c) continue;
        float *rm = l->rolling_mean, *rv = l->rolling_variance;
        memcpy(rm, stash_bn + off, c * sizeof(float));
        memcpy(rv, stash_bn + off + c, c * sizeof(float));
        for (int k = 0; k < passes; ++k) {
            const float *m = slots + k * slot + bn_at + off;
            for (int f = 0; f < c; ++f) {
                rm[f] = .99f * rm[f] + .01f * m[f];
                rv[f] = .99f * rv[f] + .01f * m[c + f];
            }
        }
        off += 2 * (size_t)c;
    }
}

void dist_end_step(network *net, const float *stash, const float *slots, int passes)
{
    size_t slot = dist_slot_floats(net), ng = grad_floats(net);
    float *p[MAX_ARRAYS];
    int n[MAX_ARRAYS];
    size_t off = 0;
    for (int i = 0; i < net->n; ++i) {
        for (int a = 0, k = grad_arrays(&net->layers[i], p, n); a < k; ++a) {
            float *u = p[a];
            memcpy(u, stash + off, n[a] * sizeof(float));
            /* pass by pass, each over the whole array: the order of the
             * float additions is fixed by the pass index alone */
            for (int s = 0; s < passes; ++s) {
                const float *g = slots + s * slot + off;
                for (int j = 0; j < n[a]; ++j) u[j] += g[j];
            }
            off += n[a];
        }
    }
    replay_rolling(net, stash + ng, slots, slot, ng, passes);
}
