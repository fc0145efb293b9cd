/* params.c: the arrays a layer trains (see params.h). */
#include "optim/params.h"

param_counts layer_param_counts(const layer *l)
{
    param_counts c = {0, 0, 0};
    switch (l->type) {
    case CONVOLUTIONAL:
    case DECONVOLUTIONAL:
    case EXTENSION:
        c.biases = l->n;
        c.scales = l->n;
        c.weights = l->nweights;
        break;
    case CONNECTED:
        c.biases = l->outputs;
        c.scales = l->outputs;
        c.weights = l->inputs * l->outputs;
        break;
    case BATCHNORM:
        c.biases = l->c;
        c.scales = l->c;
        break;
    default:
        break;
    }
    if (!l->biases) c.biases = 0;
    if (!l->scales) c.scales = 0;
    if (!l->weights) c.weights = 0;
    return c;
}
