/* fast_bias.c: the bias and the activation of a layer without batch
 * normalization, in one pass each way (fastops.h); bit for bit with
 * upstream's add_bias, activate_array, gradient_array and backward_bias. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "blas.h"
#include "convolutional_layer.h"
#include "cpu/fast_lanes.h"
#include "cpu/fastops.h"
#include "cpu/upstream_ref.h"

/* The bits of upstream's add_bias then activate_array. */
static inline __attribute__((always_inline))
void bias_plane(float *y, int n, float bias, ACTIVATION act)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) store4(y + i, act4(load4(y + i) + bias, act));
    for (; i < n; ++i) y[i] = act1(y[i] + bias, act);
}

void fast_bias_activate_forward(layer l)
{
    const int B = l.batch, C = l.n, S = l.out_h * l.out_w;
    const ACTIVATION act = l.activation;
    if (dn_reference() || !fusable(act)) {
        add_bias(l.output, l.biases, B, C, S);
        activate_array(l.output, l.outputs * B, act);
        return;
    }
    #pragma omp parallel for schedule(static) if ((long)B * C * S >= PAR_MIN)
    for (int q = 0; q < B * C; ++q) {
        float *y = l.output + (long)q * S;
        const float bias = l.biases[q % C];
        if (act == LEAKY) bias_plane(y, S, bias, LEAKY);
        else if (act == RELU) bias_plane(y, S, bias, RELU);
        else bias_plane(y, S, bias, LINEAR);
    }
}

/* delta *= act'(o) over n values. */
static inline __attribute__((always_inline))
void grad_values(float *d, const float *o, int n, ACTIVATION act)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) store4(d + i, load4(d + i) * grad4(load4(o + i), act));
    for (; i < n; ++i) d[i] = d[i] * grad1(o[i], act);
}

#define SUM_CHAINS 8

/* The sums of count <= SUM_CHAINS consecutive planes of n floats, each one
 * float chain in index order, as sum_array adds.  The chains run side by
 * side, so that their additions' latencies overlap. */
static void plane_sums(const float *x, int count, int n, float *sums)
{
    float s[SUM_CHAINS] = {0};
    if (count == SUM_CHAINS) {
        for (int i = 0; i < n; ++i)
            for (int k = 0; k < SUM_CHAINS; ++k) s[k] += x[(size_t)k * n + i];
    } else {
        for (int k = 0; k < count; ++k)
            for (int i = 0; i < n; ++i) s[k] += x[(size_t)k * n + i];
    }
    for (int k = 0; k < count; ++k) sums[k] = s[k];
}

void fast_bias_activate_backward(layer l)
{
    const int B = l.batch, C = l.n, S = l.out_h * l.out_w;
    const ACTIVATION act = l.activation;
    if (dn_reference() || !fusable(act)) {
        gradient_array(l.output, l.outputs * B, act, l.delta);
        backward_bias(l.bias_updates, l.delta, B, C, S);
        return;
    }
    /* Blocks of SUM_CHAINS channels; each channel's images in order, as
     * backward_bias adds them. */
    #pragma omp parallel for schedule(static) if ((long)B * C * S >= PAR_MIN)
    for (int f0 = 0; f0 < C; f0 += SUM_CHAINS) {
        int nf = C - f0 < SUM_CHAINS ? C - f0 : SUM_CHAINS;
        for (int b = 0; b < B; ++b) {
            size_t q = ((size_t)b * C + f0) * S;
            float sums[SUM_CHAINS];
            if (act == LEAKY) grad_values(l.delta + q, l.output + q, nf * S, LEAKY);
            else if (act == RELU) grad_values(l.delta + q, l.output + q, nf * S, RELU);
            else grad_values(l.delta + q, l.output + q, nf * S, LINEAR);
            plane_sums(l.delta + q, nf, S, sums);
            for (int k = 0; k < nf; ++k) l.bias_updates[f0 + k] += sums[k];
        }
    }
}
