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

/* A layer's device array (a field ending in _gpu); NULL in builds without
 * GPU, whose layers have no such field. */
#ifdef GPU
#define DEVICE_OF(l, field) ((l)->field)
#else
#define DEVICE_OF(l, field) NULL
#endif

int layer_arrays(const layer *l, layer_array out[LAYER_ARRAYS_MAX])
{
    param_counts c = layer_param_counts(l);
    size_t w = (size_t)c.weights, b = (size_t)c.biases, s = (size_t)c.scales;
    const layer_array all[14] = {
        {"weights", 0, l->weights, DEVICE_OF(l, weights_gpu), w},
        {"weights", 1, l->weight_updates, DEVICE_OF(l, weight_updates_gpu), w},
        {"biases", 0, l->biases, DEVICE_OF(l, biases_gpu), b},
        {"biases", 1, l->bias_updates, DEVICE_OF(l, bias_updates_gpu), b},
        {"scales", 0, l->scales, DEVICE_OF(l, scales_gpu), s},
        {"scales", 1, l->scale_updates, DEVICE_OF(l, scale_updates_gpu), s},
        {"rolling_mean", 0, l->rolling_mean, DEVICE_OF(l, rolling_mean_gpu), s},
        {"rolling_variance", 0, l->rolling_variance, DEVICE_OF(l, rolling_variance_gpu), s},
        {"m", 0, l->m, DEVICE_OF(l, m_gpu), w},
        {"v", 0, l->v, DEVICE_OF(l, v_gpu), w},
        {"bias_m", 0, l->bias_m, DEVICE_OF(l, bias_m_gpu), b},
        {"bias_v", 0, l->bias_v, DEVICE_OF(l, bias_v_gpu), b},
        {"scale_m", 0, l->scale_m, DEVICE_OF(l, scale_m_gpu), s},
        {"scale_v", 0, l->scale_v, DEVICE_OF(l, scale_v_gpu), s},
    };
    int k = 0;
    for (int i = 0; i < 14; ++i)
        if (all[i].host && all[i].n) out[k++] = all[i];
    ext_array e[EXT_MAX_ARRAYS];
    for (int i = 0, m = ext_layer_arrays(*l, e); i < m; ++i) {
        out[k++] = (layer_array){e[i].name, 0, e[i].values, e[i].values_gpu, (size_t)e[i].n};
        out[k++] = (layer_array){e[i].name, 1, e[i].updates, e[i].updates_gpu, (size_t)e[i].n};
    }
    return k;
}
