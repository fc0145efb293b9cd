/* gclayer.h: the gradient calibration convolution, cfg section [gcconv].
 *
 * K branches share one set of weights w and a calibration map R (K, s, s)
 * with R >= 0 and sum_k R[k,p] = 1.  Each forward pass builds the effective
 * kernel H from w and R and runs an ordinary convolution with it; backward
 * folds dL/dH back onto w and R.  Channels are interleaved, branch index
 * fastest: channel c*K+m is plane c of branch m.  See docs/gcconv.md. */
#ifndef GCLAYER_H
#define GCLAYER_H

#include "darknet.h"
#include "ext.h"
#include "gcconv/gcconv_state.h"

typedef enum { GC_R_RANDOM, GC_R_UNIFORM, GC_R_GABOR } gc_r_init;

/* What a [gcconv] section asks for. */
typedef struct gcconv_options {
    int branches;          /* K */
    int filters;           /* N, output planes per branch */
    int size, stride, padding;
    gc_mixing mixing;
    int expand;            /* replicate each input channel K times */
    gc_r_init r_init;
    float calib_rate;
    int batch_normalize;
    ACTIVATION activation;
} gcconv_options;

extern const layer_ext gcconv_ext;

/* Builds a layer; the random draws (w, and R for r_init=random) come from
 * net's RNG_INIT stream.  parse does this after checking every key. */
layer make_gcconv_layer(gcconv_options o, int batch, int h, int w, int c, network *net);
void forward_gcconv_layer(layer l, network net);
void backward_gcconv_layer(layer l, network net);
void update_gcconv_layer(layer l, update_args a);
void resize_gcconv_layer(layer *l, int w, int h);

/* R step of the calibration update (without the w/bias/scale step):
 * R += rate * R_updates, R = |R|, renormalise, zero R_updates. */
void gcconv_calibrate(gcconv_state *s, float rate);
/* R >= 0 and sum_k R[k,p] = 1 at every p; an all-zero pixel becomes 1/K. */
void gcconv_normalize_r(float *R, int K, int ss);

#endif
