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

typedef enum { GC_MIX_FULL, GC_MIX_BRANCH } gc_mixing;
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

/* The layer's own state, behind l.ext_data. */
typedef struct gcconv_state {
    int K, C, N;           /* branches, input planes per branch, filters */
    gc_mixing mixing;
    int expand;
    float calib_rate;
    int planes;            /* input planes one kernel row spans: C*K (full) or C (branch) */
    int ss;                /* size*size */
    float *R, *R_updates;  /* K*ss each; R_updates holds minus dL/dR */
    /* H (effective kernel) and G (minus dL/dH), N*K*planes*ss each.  With
     * K = 1 they are the layer's weights and weight_updates themselves, so
     * the layer computes exactly what [convolutional] computes. */
    float *H, *G;
    int nh;
    /* Full mixing with expand and K > 1: the replicated input and its delta. */
    float *wide_input, *wide_delta;
    /* Full mixing, K > 1, CPU (gcfactor.c): w by kernel pixel. */
    float *w_by_pixel;
    /* GPU copies (GPU=1 builds with gpu_index >= 0; NULL otherwise).  H_gpu
     * and G_gpu are weights_gpu and weight_updates_gpu when K = 1.  On the
     * GPU, branch mixing gathers the whole batch at once, so its branch
     * buffers hold batch*C*K planes. */
    float *R_gpu, *R_updates_gpu, *H_gpu, *G_gpu;
    float *wide_input_gpu, *wide_delta_gpu;
    float *branch_input_gpu, *branch_delta_gpu;
} gcconv_state;

extern const layer_ext gcconv_ext;

/* Builds a layer; the random draws (w, and R for r_init=random) come from
 * net's RNG_INIT stream.  parse does this after checking every key. */
layer make_gcconv_layer(gcconv_options o, int batch, int h, int w, int c, network *net);
gcconv_state *gcconv_state_of(layer l);

void forward_gcconv_layer(layer l, network net);
void backward_gcconv_layer(layer l, network net);
void update_gcconv_layer(layer l, update_args a);
void resize_gcconv_layer(layer *l, int w, int h);

/* R step of the calibration update (without the w/bias/scale step):
 * R += rate * R_updates, R = |R|, renormalise, zero R_updates. */
void gcconv_calibrate(gcconv_state *s, float rate);
/* R >= 0 and sum_k R[k,p] = 1 at every p; an all-zero pixel becomes 1/K. */
void gcconv_normalize_r(float *R, int K, int ss);

/* Shared by the CPU and GPU passes. */
int gcconv_is_pointwise(layer l);           /* 1x1, stride 1, no padding: no im2col */
int gcconv_needs_wide_buffers(const gcconv_state *s);    /* full mixing, expand, K > 1 */
int gcconv_needs_branch_buffers(const gcconv_state *s);  /* branch mixing, no expand, K > 1 */

#ifdef GPU
/* gclayer_gpu.c: device buffers (copies of the host ones) and the passes. */
void gcconv_make_gpu(layer *l);
void gcconv_resize_gpu(layer *l);
void gcconv_free_gpu(layer l);
void gcconv_push_gpu(layer l);   /* host -> device: w, R, biases, BN, momentum, Adam moments */
void gcconv_pull_gpu(layer l);   /* device -> host, the same arrays */
void forward_gcconv_layer_gpu(layer l, network net);
void backward_gcconv_layer_gpu(layer l, network net);
void update_gcconv_layer_gpu(layer l, update_args a);
#endif

#endif
