/* conv_shadow.h: a training step of one convolution with batch norm,
 * evaluated in double, that carries for every value the bound on how far
 * any float evaluation of it may be (conv_shadow.c derives it).  The fast
 * kernels and upstream's must each be within that bound of the double
 * value: an independent reference and a derived tolerance in one. */
#ifndef CONV_SHADOW_H
#define CONV_SHADOW_H

#include <stddef.h>

#include "darknet.h"

/* n values computed in double, and the bound on each one's float error. */
typedef struct {
    double *v, *e;
    size_t n;
} bounded;

typedef struct {
    bounded pre;   /* the values the activation takes */
    bounded output, delta, input_delta, x, mean, variance, rolling_mean, rolling_variance;
    bounded weight_updates, bias_updates, scale_updates, mean_delta, variance_delta;
    bounded R_updates;   /* [gcconv] */
} conv_shadow;

/* Forward, then backward from the gradient out_delta arriving at the
 * output, of l as upstream defines it: a [convolutional] (groups 1), a
 * [gcconv] or a [batchnorm] layer; batch statistics when train, else the
 * rolling ones.  input: batch * l.inputs values; in_delta: the input delta
 * before the pass (NULL: none is computed).  products: for a layer whose
 * products are given rather than computed (the batch-norm kernels' tests),
 * the values batch norm starts from, else NULL.  The layer's parameters and
 * fields before the pass are read, not changed.  Without out_delta, the
 * forward pass only. */
conv_shadow shadow_step(layer l, const float *input, const float *products, const float *out_delta,
                        const float *in_delta, int train);
void free_shadow(conv_shadow *s);

/* The shadow's values for the layer field at p (&l.output, &l.delta,
 * &l.weight_updates, ...), or NULL for a field it does not hold. */
const bounded *shadow_field(const conv_shadow *s, const layer *l, float *const *p);

/* Index of the first of the n floats that is not within its bound of the
 * shadow's value, or -1 when all are. */
long shadow_first_outside(const bounded *b, const float *got, size_t n);

#endif
