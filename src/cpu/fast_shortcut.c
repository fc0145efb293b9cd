/* fast_shortcut.c: upstream's [shortcut] between layers of one shape with a
 * linear, leaky or relu activation in one pass each way, and fill_cpu as
 * memsets; bit for bit with upstream. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "blas.h"
#include "shortcut_layer.h"
#include "cpu/fast_lanes.h"
#include "cpu/fastops.h"
#include "cpu/upstream_ref.h"

/* out = act(alpha*in + beta*add): upstream's copy, shortcut_cpu and
 * activate_array in one pass, each element rounded as there. */
static void shortcut_forward_block(const float *in, const float *add, float alpha, float beta,
                                   float *out, int n, ACTIVATION act)
{
    const v4f a4 = {alpha, alpha, alpha, alpha}, b4 = {beta, beta, beta, beta};
    int i = 0;
    for (; i + 4 <= n; i += 4) store4(out + i, act4(a4 * load4(in + i) + b4 * load4(add + i), act));
    for (; i < n; ++i) out[i] = act1(alpha * in[i] + beta * add[i], act);
}

/* delta *= act'(out); prev += alpha*delta; from = 1*from + beta*delta:
 * upstream's gradient_array, axpy_cpu and shortcut_cpu, element by element
 * in that order, so that prev and from may be the same array (from=-1). */
static void shortcut_backward_block(float *delta, const float *out, float alpha, float beta,
                                    float *prev, float *from, int n, ACTIVATION act)
{
    const v4f a4 = {alpha, alpha, alpha, alpha}, b4 = {beta, beta, beta, beta};
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f d = load4(delta + i) * grad4(load4(out + i), act);
        store4(delta + i, d);
        store4(prev + i, load4(prev + i) + a4 * d);
        store4(from + i, load4(from + i) + b4 * d);
    }
    for (; i < n; ++i) {
        float d = delta[i] * grad1(out[i], act);
        delta[i] = d;
        prev[i] += alpha * d;
        from[i] = from[i] + beta * d;
    }
}

/* The fused passes take a shortcut between layers of one shape. */
static int shortcut_fusable(const layer *l)
{
    return !dn_reference() && fusable(l->activation) && l->w == l->out_w && l->h == l->out_h
        && l->c == l->out_c;
}

void forward_shortcut_layer(const layer l, network net)
{
    if (!shortcut_fusable(&l)) { upstream_forward_shortcut_layer(l, net); return; }
    const int n = l.outputs * l.batch, nb = (n + ELEMENT_BLOCK - 1) / ELEMENT_BLOCK;
    const float *add = net.layers[l.index].output;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int b = 0; b < nb; ++b) {
        size_t at = (size_t)b * ELEMENT_BLOCK;
        int len = block_length(n, b, ELEMENT_BLOCK);
        if (l.activation == RELU) shortcut_forward_block(net.input + at, add + at, l.alpha, l.beta, l.output + at, len, RELU);
        else if (l.activation == LEAKY) shortcut_forward_block(net.input + at, add + at, l.alpha, l.beta, l.output + at, len, LEAKY);
        else shortcut_forward_block(net.input + at, add + at, l.alpha, l.beta, l.output + at, len, LINEAR);
    }
}

void backward_shortcut_layer(const layer l, network net)
{
    if (!net.delta || !shortcut_fusable(&l)) { upstream_backward_shortcut_layer(l, net); return; }
    const int n = l.outputs * l.batch, nb = (n + ELEMENT_BLOCK - 1) / ELEMENT_BLOCK;
    float *from = net.layers[l.index].delta;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int b = 0; b < nb; ++b) {
        size_t at = (size_t)b * ELEMENT_BLOCK;
        int len = block_length(n, b, ELEMENT_BLOCK);
        float *d = l.delta + at, *prev = net.delta + at, *f = from + at;
        if (l.activation == RELU) shortcut_backward_block(d, l.output + at, l.alpha, l.beta, prev, f, len, RELU);
        else if (l.activation == LEAKY) shortcut_backward_block(d, l.output + at, l.alpha, l.beta, prev, f, len, LEAKY);
        else shortcut_backward_block(d, l.output + at, l.alpha, l.beta, prev, f, len, LINEAR);
    }
}

layer make_shortcut_layer(int batch, int index, int w, int h, int c, int w2, int h2, int c2)
{
    layer l = upstream_make_shortcut_layer(batch, index, w, h, c, w2, h2, c2);
    l.forward = forward_shortcut_layer;
    l.backward = backward_shortcut_layer;
    return l;
}

/* Zeros (+0, whose bits are all clear) are memsets, on every thread for
 * large arrays; upstream stores them one float at a time, in the serial loop
 * before every layer's pass. */
#define FILL_BLOCK 65536

void fill_cpu(int N, float ALPHA, float *X, int INCX)
{
    if (dn_reference() || INCX != 1 || ALPHA != 0 || signbit(ALPHA) || N <= 0) {
        upstream_fill_cpu(N, ALPHA, X, INCX);
        return;
    }
    const int nb = (N + FILL_BLOCK - 1) / FILL_BLOCK;
    #pragma omp parallel for schedule(static) if (nb >= 4)
    for (int b = 0; b < nb; ++b) {
        memset(X + (size_t)b * FILL_BLOCK, 0, block_length(N, b, FILL_BLOCK) * sizeof(float));
    }
}
