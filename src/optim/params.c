/* params.c: the arrays a layer trains (see params.h). */
#include <string.h>

#include "ext.h"
#include "optim/params.h"

int ext_layer_arrays(layer l, ext_array *out)
{
    if (l.type != EXTENSION || !l.ext || !l.ext->arrays) return 0;
    return l.ext->arrays(l, out);
}

const ext_array *ext_layer_array(layer l, const char *name, ext_array *slot)
{
    ext_array a[EXT_MAX_ARRAYS];
    int n = ext_layer_arrays(l, a);
    for (int i = 0; i < n; ++i) {
        if (strcmp(a[i].name, name) == 0) {
            *slot = a[i];
            return slot;
        }
    }
    return NULL;
}

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
