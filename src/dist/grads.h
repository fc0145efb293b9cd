/* grads.h: the per-pass gradients of a data-parallel training step
 * (grads.c; see dist.h for the step they make up). */
#ifndef GRADS_H
#define GRADS_H

#include <stddef.h>

#include "darknet.h"

/* A slot holds one forward pass's fresh gradients (every layer with an
 * update: biases, batch-norm scales, weights, [gcconv]'s R, in layer
 * order), its batch-norm means and variances, then 2 floats the caller
 * fills (the cost and the top-1 hits).  The stash holds the momentum part
 * and the rolling statistics at the start of the step. */
size_t dist_slot_floats(network *net);
size_t dist_stash_floats(network *net);
/* Stops with an error naming the layer when a layer with an update is of a
 * type whose gradients the slots do not cover. */
void dist_check_layers(network *net);
/* Moves the momentum part into the stash (the updates become 0). */
void dist_begin_step(network *net, float *stash);
/* Moves the pass's gradients into the slot (the updates become 0). */
void dist_take_pass(network *net, float *slot);
/* updates = stash + slot 0 + ... + slot K-1; the rolling statistics are
 * those of the stash, advanced by each pass's means and variances in order,
 * as each forward pass of one process would have advanced them. */
void dist_end_step(network *net, const float *stash, const float *slots, int passes);

#endif
