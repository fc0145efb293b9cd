/* guard.h: stop training on non-finite values.
 *
 * ext_update_network() calls guard_check_step() before it applies a step:
 * when the loss or any pending update is NaN or infinite, training stops
 * with an error that names the iteration and the first layer whose output
 * is not finite (or, failing that, the first with non-finite gradients).
 * The step is not applied and nothing is saved, so the weights last saved
 * stay the last good ones; safe_save.c refuses to save non-finite weights
 * in any case.  On the GPU only the loss is checked (the outputs stay on
 * the device).  The message says what to change: the network, when it has
 * no loss layer or normalises a single value, else the learning rate. */
#ifndef GUARD_H
#define GUARD_H

#include "darknet.h"

void guard_check_step(network *net);
/* Before training: a network that cannot give a finite loss (no layer that
 * computes one, or batch norm over a single value) is an error naming the
 * cfg (and the layer). */
void guard_check_trainable(network *net, const char *cfgfile);
void guard_check_cost(network *net);

#endif
