/* rounding.c: the bound on the difference of two float evaluations of the
 * same arithmetic, derived once here for every comparison of the tests.
 *
 * The rule.  Let s = t_1 + ... + t_n, where each term t_j is a product of
 * a few factors.  Whatever the order of the additions (a blocked gemm, a
 * tree over threads, vector lanes) and whether a multiply and an add are
 * fused or not, the computed sum satisfies
 *
 *     |fl(s) - s| <= gamma(m) * (|t_1| + ... + |t_n|),  gamma(m) = m u / (1 - m u),
 *
 * where u = 2^-24 and m bounds the number of roundings on any term's way
 * into the sum: n - 1 additions plus the roundings that formed the term
 * (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1
 * and Lemma 3.1; a fused multiply-add only removes roundings).  Two
 * evaluations a and b of the same s are each within that of s, so
 *
 *     |a - b| <= 2 gamma(m) * sum |t_j|                              (1)
 *
 * The length of the sum and the magnitude of its terms set the bound, not
 * one run's measured error: it holds for every input, order, thread count
 * and kernel path (DARKNET_ISA), which is what makes it safe on every CPU.
 * A step after the sum that is L-Lipschitz (an activation, a batch-norm
 * scale) multiplies the bound by L; each elementwise function evaluation
 * (expf in the logistic, the leaky's 0.1 * x) adds at most a few units in
 * the last place of its result.
 *
 * Per layer.  Errors compound through a network: comparing whole networks
 * end to end would need the product of every later layer's gain, which is
 * huge for batch norm over a small variance and says nothing about the
 * layer at fault.  So the tests compare one layer at a time, on the same
 * inputs (tests/tools/dump_images --feed, tests/tools/compare_paths): both
 * sides of layer i read the reference's outputs of the layers before it.
 * For a convolution (or [gcconv], or [connected]) output o, with input
 * x, row o of the effective kernel w_o, batch-norm gain
 * g_o = |scale_o| / (sqrt(var_o) + 1e-6), mean_o and bias b_o:
 *
 *     sum |t_j| <= g_o (|w_o|_1 max|x| + |mean_o|) + |b_o|           (2)
 *
 * and m = (length of the row) + K + 8: K for the fold's sum over the
 * replicas of an expanded input, 2 for a product of three factors
 * (R * w * x in [gcconv]), 4 for batch norm's subtract, divide, multiply
 * and add, 1 for the bias, 1 spare.  [gcconv]'s row is R[k,p] w[o,..,p]
 * (R in [0, 1]), so |w_o|_1 is taken over R * |w|.  A layer that only moves
 * values (route, max pooling, reorg, dropout at inference) has bound 0:
 * on the same inputs it must give the same bits. */
#include "rounding.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gclayer.h"
#include "gcconv/gcconv_state.h"
#include "gcconv/gcmerge.h"

/* Roundings in an elementwise function's result (expf is within 1 ulp in
 * glibc; the division and additions of the logistic add 3). */
#define ELEMENTWISE_ROUNDINGS 4

double rounding_gamma(double n)
{
    double nu = n * FLOAT_UNIT_ROUNDOFF;
    return nu < 1 ? nu / (1 - nu) : INFINITY;
}

double double_gamma(double n)
{
    double nu = n * DOUBLE_UNIT_ROUNDOFF;
    return nu < 1 ? nu / (1 - nu) : INFINITY;
}

double sum_bound(double n, double magnitude)
{
    return 2 * rounding_gamma(n) * magnitude;
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; ++i) m = fmax(m, fabs(x[i]));
    return m;
}

/* The Lipschitz constant of an activation, or -1 for one that has none
 * (STAIR jumps). */
static double activation_lipschitz(ACTIVATION a)
{
    switch (a) {
    case LOGISTIC: return 0.25;
    case LOGGY: return 0.5;
    case PLSE: return 0.125;
    case RAMP: return 1.1;
    case SELU: return 1.0507 * 1.6732;
    case STAIR: return -1;
    default: return 1;   /* LINEAR, RELU, RELIE, LEAKY, TANH, ELU, HARDTAN, LHTAN */
    }
}

/* A bound `pre` before the activation, carried through it. */
static double through_activation(double pre, ACTIVATION a, const float *y, size_t n)
{
    double lip = activation_lipschitz(a);
    if (lip < 0) return -1;
    return lip * pre + 2 * ELEMENTWISE_ROUNDINGS * FLOAT_UNIT_ROUNDOFF * max_abs(y, n);
}

/* Batch norm at inference: the gain g_o of (2), and with opencv the
 * difference between Darknet's gain and OpenCV's. */
static double bn_gain(layer l, int o, int opencv)
{
    if (!l.batch_normalize) return opencv ? 0 : 1;
    double sd = sqrt(fmax(l.rolling_variance[o], 0));
    double darknet = fabs(l.scales[o]) / (sd + .000001);
    if (!opencv) return darknet;
    return fabs(darknet - fabs(l.scales[o]) / sqrt(fmax(l.rolling_variance[o], 0) + 1e-6));
}

/* (1) and (2) for an output of row length n with row norms row_l1[o],
 * o < outputs channels, on inputs of largest value xmax. */
static double weighted_sum_bound(layer l, const double *row_l1, int channels, double n, double extra, double xmax,
                                 int opencv)
{
    double magnitude = 0, cv_shift = 0;
    for (int o = 0; o < channels; ++o) {
        double g = bn_gain(l, o, 0);
        double mean = l.batch_normalize ? fabs(l.rolling_mean[o]) : 0;
        magnitude = fmax(magnitude, g * (row_l1[o] * xmax + mean) + fabs(l.biases[o]));
        if (opencv) cv_shift = fmax(cv_shift, bn_gain(l, o, 1) * (row_l1[o] * xmax + mean));
    }
    return sum_bound(n + extra + 8, magnitude) + cv_shift;
}

static double convolution_bound(layer l, double xmax, int opencv, double *rows)
{
    int per_row = l.nweights / l.n;
    for (int o = 0; o < l.n; ++o) {
        rows[o] = 0;
        for (int j = 0; j < per_row; ++j) rows[o] += fabs(l.weights[(size_t)o * per_row + j]);
    }
    return weighted_sum_bound(l, rows, l.n, per_row, 0, xmax, opencv);
}

/* [gcconv]: row (o, k) of H is R[k, p] w[o, c, (m,) p]. */
static double gcconv_bound(layer l, double xmax, int opencv, double *rows)
{
    gcconv_state *s = gcconv_state_of(l);
    int row = s->planes * s->ss;
    for (int o = 0; o < s->N; ++o)
        for (int k = 0; k < s->K; ++k) {
            double sum = 0;
            for (int j = 0; j < row; ++j) sum += s->R[k * s->ss + j % s->ss] * fabs(l.weights[(size_t)o * row + j]);
            rows[o * s->K + k] = sum;
        }
    return weighted_sum_bound(l, rows, l.n, row, s->K + 2, xmax, opencv);
}

static double connected_bound(layer l, double xmax, int opencv, double *rows)
{
    for (int o = 0; o < l.outputs; ++o) {
        rows[o] = 0;
        for (int j = 0; j < l.inputs; ++j) rows[o] += fabs(l.weights[(size_t)o * l.inputs + j]);
    }
    return weighted_sum_bound(l, rows, l.outputs, l.inputs, 0, xmax, opencv);
}

/* softmax(x / T): x / T - max / T carries 3 roundings of values up to
 * 2 max|x| / |T|, which exp turns into a relative error; exp's own, the
 * sum of n terms and the division add gamma(n + 3) relative. */
static double softmax_bound(double xmax, double temperature, int n, const float *y, int count)
{
    double rel = 6 * FLOAT_UNIT_ROUNDOFF * xmax / fabs(temperature) + rounding_gamma(n + 3);
    return 2 * rel * max_abs(y, count);
}

/* Convolutions and [connected]: (1) and (2), then the activation; -1 for
 * other layers.  x: the inputs (nx values), y: the reference's outputs. */
static double weighted_bound(layer l, double xmax, const float *y, size_t ny, int opencv)
{
    int rows = l.outputs > l.n ? l.outputs : l.n;
    double *row_l1 = calloc(rows > 0 ? rows : 1, sizeof(double)), pre = -1;
    if (l.type == CONVOLUTIONAL) pre = convolution_bound(l, xmax, opencv, row_l1);
    else if (l.type == CONNECTED) pre = connected_bound(l, xmax, opencv, row_l1);
    else if (l.type == EXTENSION && l.ext == &gcconv_ext) pre = gcconv_bound(l, xmax, opencv, row_l1);
    free(row_l1);
    return pre < 0 ? -1 : through_activation(pre, l.activation, y, ny);
}

double weighted_layer_bound(layer l, const float *x, size_t nx, const float *y, size_t ny)
{
    return weighted_bound(l, max_abs(x, nx), y, ny, 0);
}

static double bound_of(const network *net, int i, double xmax, float *const *outs, int opencv)
{
    layer l = net->layers[i];
    const float *y = outs[i];
    size_t ny = (size_t)l.outputs * l.batch;
    double weighted = weighted_bound(l, xmax, y, ny, opencv);
    if (weighted >= 0) return weighted;
    switch (l.type) {
    case EXTENSION:   /* [gcmerge] max: exact; mean: a sum of K, divided */
        return l.ext == &gcmerge_ext ? sum_bound(l.c / l.out_c + 1, xmax) : -1;
    case ROUTE: case MAXPOOL: case REORG: case DROPOUT:
        return 0;
    case UPSAMPLE:
        return l.scale == 1 ? 0 : 2 * FLOAT_UNIT_ROUNDOFF * max_abs(y, ny);
    case AVGPOOL:
        return sum_bound(l.h * l.w + 1, xmax);
    case SHORTCUT: {
        double add = max_abs(outs[l.index], (size_t)net->layers[l.index].outputs * l.batch);
        return through_activation(sum_bound(3, fabs(l.alpha) * xmax + fabs(l.beta) * add), l.activation, y, ny);
    }
    case SOFTMAX:
        return l.softmax_tree ? -1 : softmax_bound(xmax, l.temperature, l.inputs / l.groups, y, ny);
    case YOLO:   /* the logistic of some entries, a copy of the others */
        return 2 * ELEMENTWISE_ROUNDINGS * FLOAT_UNIT_ROUNDOFF * max_abs(y, ny);
    case REGION:   /* the logistic, then a softmax over the classes */
        return softmax_bound(xmax, 1, l.classes, y, ny)
             + 2 * ELEMENTWISE_ROUNDINGS * FLOAT_UNIT_ROUNDOFF * max_abs(y, ny);
    default:
        return -1;
    }
}

double layer_rounding_bound(const network *net, int i, const float *input, float *const *outs, int opencv,
                            char *why, size_t why_size)
{
    const float *x = i == 0 ? input : outs[i - 1];
    size_t nx = (size_t)(i == 0 ? net->inputs : net->layers[i - 1].outputs) * net->layers[i].batch;
    double b = bound_of(net, i, max_abs(x, nx), outs, opencv);
    if (b < 0) snprintf(why, why_size, "layer %d: no derived rounding bound for its type (%d)", i, (int)net->layers[i].type);
    return b;
}

double pooled_sum_rounding(int bilinear, double largest, double moved, size_t n, double weighted)
{
    double forward = bilinear ? rounding_gamma(20) : 0;   /* max copies a value */
    return 2 * forward * largest * moved + double_gamma((double)n) * weighted;
}
