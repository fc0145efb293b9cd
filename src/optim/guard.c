/* guard.c: training stops when the loss or a layer's output stops being
 * finite (see guard.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ext.h"
#include "optim/guard.h"
#include "network.h"
#include "optim/params.h"
#include "checked.h"

static int all_finite(const float *a, size_t n)
{
    if (!a) return 1;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(a[i])) return 0;
    }
    return 1;
}

/* "[gcconv]", "[softmax]": the layer's cfg section */
static const char *layer_name(const layer *l)
{
    static __thread char name[64];
    if (l->type == EXTENSION && l->ext) return l->ext->section;
    snprintf(name, sizeof(name), "[%s]", get_layer_string(l->type));
    return name;
}

/* The first layer whose pending parameter updates are not finite, or -1. */
static int first_bad_update(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        param_counts c = layer_param_counts(l);
        if (!all_finite(l->weight_updates, c.weights) || !all_finite(l->bias_updates, c.biases) ||
            !all_finite(l->scale_updates, c.scales)) {
            return i;
        }
    }
    return -1;
}

/* The first layer whose output (as left by the last forward pass) is not
 * finite, or -1. */
static int first_bad_output(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (!all_finite(l->output, (size_t)l->batch * l->outputs)) return i;
    }
    return -1;
}

/* The first layer whose own loss is not finite, or -1. */
static int first_bad_cost(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->cost && !isfinite(l->cost[0])) return i;
    }
    return -1;
}

/* ---- networks that cannot give a finite loss --------------------------------- */

/* Upstream's loss is the mean of the layers' own losses; without any such
 * layer it is 0/0. */
static int has_loss_layer(const network *net)
{
    for (int i = 0; i < net->n; ++i) {
        if (net->layers[i].cost) return 1;
    }
    return 0;
}

/* Batch norm divides each variance by (values - 1): over one value (a
 * batch of 1 at a 1 x 1 output) that is 0/0. */
static int single_value_norm(const network *net)
{
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        int normalizes = l->batch_normalize || l->type == BATCHNORM;
        if (normalizes && (long)l->batch * l->out_w * l->out_h == 1) return i;
    }
    return -1;
}

#define NO_LOSS "the network has no layer that computes a loss ([softmax], [cost], [yolo], " \
                "[region], [detection], [iseg] or [logistic]), so there is no loss to train on"
#define ONE_VALUE "takes its batch-norm statistics over a single value (a batch of 1 per " \
                  "subdivision at a 1 x 1 output): the variance of one value is undefined; train " \
                  "with a batch of 2 or more per subdivision, or set batch_normalize=0 there"

void guard_check_trainable(network *net, const char *cfgfile)
{
    if (!has_loss_layer(net)) {
        dn_fatal("\n%s: %s\n", cfgfile, NO_LOSS);
    }
    int one = single_value_norm(net);
    if (one >= 0) {
        dn_fatal("\n%s: section %d %s %s\n", cfgfile, one,
                layer_name(&net->layers[one]), ONE_VALUE);
    }
}

/* What to do about a non-finite loss: the network's shape, when that is the
 * cause; otherwise the usual advice for a diverging run. */
static void print_advice(network *net)
{
    int one = single_value_norm(net);
    if (!has_loss_layer(net)) fprintf(stderr, "; %s\n", NO_LOSS);
    else if (one >= 0) fprintf(stderr, "; layer %d %s %s\n", one, layer_name(&net->layers[one]), ONE_VALUE);
    else fprintf(stderr, " (try a lower learning_rate)\n");
}

static void __attribute__((noreturn)) stop(network *net, float cost, int layer_index, const char *what)
{
    fprintf(stderr, "\ndarknet: error: training stopped at iteration %zu: ", get_current_batch(net));
    if (layer_index >= 0) {
        fprintf(stderr, "layer %d %s %s", layer_index, layer_name(&net->layers[layer_index]), what);
    } else {
        fprintf(stderr, "%s", what);
    }
    fprintf(stderr, " (loss %g); this step was not applied, and the weights saved before it are kept", cost);
    print_advice(net);
    exit(1);
}

void guard_check_step(network *net)
{
    float cost = net->cost ? *net->cost : 0;
    int bad_update = first_bad_update(net);
    if (isfinite(cost) && bad_update < 0) return;
    int bad_output = first_bad_output(net);
    if (bad_output >= 0) stop(net, cost, bad_output, "produced the first non-finite output");
    int bad_cost = first_bad_cost(net);
    if (bad_cost >= 0) stop(net, cost, bad_cost, "produced a non-finite loss");
    if (bad_update >= 0) stop(net, cost, bad_update, "has non-finite gradients");
    stop(net, cost, -1, "the loss is not finite");
}

void guard_check_cost(network *net)
{
    float cost = net->cost ? *net->cost : 0;
    if (!isfinite(cost)) stop(net, cost, -1, "the loss is not finite");
}
