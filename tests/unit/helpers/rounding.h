/* rounding.h: how far apart two float evaluations of the same arithmetic
 * may be, derived from the arithmetic (rounding.c says how).  Every test
 * that compares floats computed in two ways (the fast kernels against
 * upstream's, a folded network against its CCNN, one program against
 * another) takes its bound from here. */
#ifndef ROUNDING_H
#define ROUNDING_H

#include "darknet.h"

/* The unit roundoff of float: 2^-24. */
#define FLOAT_UNIT_ROUNDOFF (1.0 / 16777216.0)

/* ... and of double: 2^-53. */
#define DOUBLE_UNIT_ROUNDOFF (1.0 / 9007199254740992.0)

/* gamma(n) = n u / (1 - n u): the relative error that n roundings in a row
 * can build up (infinite when n u >= 1); double_gamma: the same in double. */
double rounding_gamma(double n);
double double_gamma(double n);

/* The bound on |a - b| for two float evaluations, in any order, of a sum of
 * terms whose absolute values add up to `magnitude`, where no term meets
 * more than n roundings on its way into the sum: 2 gamma(n) magnitude. */
double sum_bound(double n, double magnitude);

/* The rounding between two evaluations of a weighted sum of RoI-pooled
 * outputs, L = sum_j w_j out_j (in double, n outputs), with one feature
 * moved up and down: the outputs that read the feature are each 2 x 2
 * samples of 4 bilinear terms with weights summing to 1, so within
 * gamma(20) max|f| (`largest`) of their value, or one copied value for max
 * pooling (bilinear 0); `moved` is sum |w_j| over those outputs, and L's
 * double sums add gamma_53(n) x `weighted` (sum |w_j out_j| over both
 * evaluations). */
double pooled_sum_rounding(int bilinear, double largest, double moved, size_t n, double weighted);

/* The bound on max |a - b| over the outputs of a [convolutional],
 * [gcconv] or [connected] layer l, for two evaluations on the inputs x (nx
 * values) whose reference outputs are y (ny values); -1 for other layers. */
double weighted_layer_bound(layer l, const float *x, size_t nx, const float *y, size_t ny);

/* The bound on max |a - b| over the outputs of layer i of `net` (the whole
 * batch), for two evaluations of that layer on the same inputs: `input` is
 * the network's input, outs[j] the reference's output of layer j <= i (both
 * sides read those of j < i).
 * With opencv, the layer's batch norm may be OpenCV's (x - mean) /
 * sqrt(var + 1e-6) on one side instead of Darknet's (x - mean) /
 * (sqrt(var) + 1e-6), and the difference is added.  Returns -1 for a layer
 * type this has no derivation for, and writes its reason to `why`. */
double layer_rounding_bound(const network *net, int i, const float *input, float *const *outs, int opencv,
                            char *why, size_t why_size);

#endif
