/* capi.c: plain accessors for bindings (capi.h). */
#include "deploy/capi.h"

#include <stdio.h>
#include <string.h>

#include "ext.h"
#include "gclayer.h"
#include "gcconv/gcconv_state.h"

int dn_input_shape(network *net, int *c, int *h, int *w)
{
    *c = net->c;
    *h = net->h;
    *w = net->w;
    return net->inputs;
}

int dn_outputs(network *net) { return net->outputs; }
int dn_batch(network *net) { return net->batch; }
int dn_layer_count(network *net) { return net->n; }

/* Upstream's names of its section types, as parse_network_cfg reads them. */
static const char *upstream_type(LAYER_TYPE t)
{
    switch (t) {
    case CONVOLUTIONAL: return "convolutional";
    case DECONVOLUTIONAL: return "deconvolutional";
    case CONNECTED: return "connected";
    case MAXPOOL: return "maxpool";
    case AVGPOOL: return "avgpool";
    case SOFTMAX: return "softmax";
    case DROPOUT: return "dropout";
    case CROP: return "crop";
    case ROUTE: return "route";
    case SHORTCUT: return "shortcut";
    case UPSAMPLE: return "upsample";
    case REORG: return "reorg";
    case YOLO: return "yolo";
    case REGION: return "region";
    case DETECTION: return "detection";
    case COST: return "cost";
    case BATCHNORM: return "batchnorm";
    case LOCAL: return "local";
    case NORMALIZATION: return "normalization";
    case ACTIVE: return "activation";
    case RNN: return "rnn";
    case GRU: return "gru";
    case LSTM: return "lstm";
    case CRNN: return "crnn";
    case L2NORM: return "l2norm";
    case LOGXENT: return "logistic";
    case ISEG: return "iseg";
    default: return "unknown";
    }
}

const char *dn_layer_type(network *net, int i)
{
    if (i < 0 || i >= net->n) return NULL;
    layer l = net->layers[i];
    if (l.type != EXTENSION) return upstream_type(l.type);
    static char name[64];   /* "[gcconv]" without its brackets */
    const char *s = l.ext->section;
    size_t n = strlen(s);
    snprintf(name, sizeof name, "%.*s", n >= 2 ? (int)n - 2 : 0, s + 1);
    return name;
}

int dn_layer_shape(network *net, int i, int *c, int *h, int *w)
{
    layer l = net->layers[i];
    *c = l.out_c;
    *h = l.out_h;
    *w = l.out_w;
    if (!l.out_c || !l.out_h || !l.out_w) {   /* [softmax], [cost]: a vector */
        *c = l.outputs;
        *h = *w = 1;
    }
    return l.outputs;
}

int dn_gcconv_branches(network *net, int i, int *size)
{
    layer l = net->layers[i];
    if (l.type != EXTENSION || l.ext != &gcconv_ext) return 0;
    *size = l.size;
    return gcconv_state_of(l)->K;
}

void dn_gcconv_r(network *net, int i, float *r)
{
    ext_array slot;
    const ext_array *R = ext_layer_array(net->layers[i], "R", &slot);
    if (R) memcpy(r, R->values, (size_t)R->n * sizeof(float));
}
