/* grads.h: the per-pass gradients of a data-parallel training step
 * (grads.c; see dist.h for the step they make up). */
#ifndef GRADS_H
#define GRADS_H

#include <stddef.h>

#include "darknet.h"

/* A pass's gradient: every layer with an update (biases, batch-norm
 * scales, weights, [gcconv]'s R), in layer order, fused into one array of
 * dist_grad_floats().  A pass's statistics: its batch-norm means and
 * variances, then 2 floats the caller fills (the cost and the top-1 hits),
 * dist_stats_floats() in all.  The stash holds the momentum part (a
 * gradient's layout) and then the rolling statistics at the start of the
 * step, dist_stash_floats(). */
size_t dist_grad_floats(network *net);
size_t dist_stats_floats(network *net);
size_t dist_stash_floats(network *net);
/* Stops with an error naming the layer when a layer with an update is of a
 * type whose gradients the slots do not cover. */
void dist_check_layers(network *net);
/* Moves the momentum part into the stash (the updates become 0). */
void dist_begin_step(network *net, float *stash);
/* Moves the pass's gradient into grad and its batch-norm statistics into
 * stats (the updates become 0). */
void dist_take_pass(network *net, float *grad, float *stats);
/* The fixed-order sum, element by element:
 *     out[i] = base[i] + g[0*stride + i] + g[1*stride + i] + ...
 * over the passes, in pass order; any split of i into chunks gives the same
 * bits. */
void dist_sum_passes(float *out, const float *base, const float *g, size_t len, int passes, size_t stride);
/* updates = sum (a gradient's layout, the whole step's); the rolling
 * statistics are those of the stash, advanced by each pass's means and
 * variances in order (stats: one dist_stats_floats() record a pass), as
 * each forward pass of one process would have advanced them. */
void dist_end_step(network *net, const float *sum, const float *stash, const float *stats, int passes);

#endif
