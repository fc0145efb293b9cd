/* gcfactor.h: [gcconv] mixing=full with K > 1 on the CPU as K-times-smaller
 * products per kernel pixel, without building H (gcfactor.c). */
#ifndef GCFACTOR_H
#define GCFACTOR_H

#include <stddef.h>

#include "darknet.h"
#include "gcconv/gcconv_state.h"

/* Workspace bytes the factored passes need. */
size_t gcfactor_workspace(layer l, gcconv_state *s);
/* Whether the layer takes the factored passes: full mixing, K > 1, the
 * fast path, at least gcfactor_min_planes() input planes, a workspace that
 * holds a group of images, and not a layer that [net] winograd=1 sends to
 * Winograd's algorithm with H instead (3x3, stride 1, padding 1, K < 4). */
int gcfactor_applies(layer l, gcconv_state *s);
/* Layers with fewer input planes (C*K) than this take the convolution with
 * H instead: their per-pixel products are too thin (GCFACTOR_MIN_PLANES by
 * default; the unit tests set 1 to check the factored passes on small
 * layers).  Returns the value it replaces. */
#define GCFACTOR_MIN_PLANES 32
int gcfactor_set_min_planes(int planes);
/* Whether stride-1 layers whose output is as large as the input compute
 * their per-pixel products as one product on the unshifted input (on by
 * default; the same bits either way, which the tests check by turning it
 * off). */
void gcfactor_set_shifted_products(int on);
/* l.output = the convolution with H (before bias and batch norm).  With
 * train set, the products may stay for the next gcfactor_backward. */
void gcfactor_forward(layer l, gcconv_state *s, const float *input, float *workspace, int train);
/* weight_updates and R_updates += minus their gradients from l.delta;
 * input_delta (when not NULL) += the input's. */
void gcfactor_backward(layer l, gcconv_state *s, const float *input, float *input_delta, float *workspace);

#endif
