/* onnx_layers.c: what every layer's translation needs (onnx_layers.h). */
#include <stdio.h>

#include "darknet.h"
#include "ext.h"
#include "network.h"

#include "deploy/onnx_graph.h"
#include "deploy/onnx_layers.h"
#include "checked.h"

/* ---- where each layer's output is ------------------------------------------ */

void onnx_refuse(const onnx_export *x, int i, const char *why)
{
    layer l = x->net->layers[i];
    char type[64];
    if (l.type == EXTENSION) snprintf(type, sizeof(type), "%s", l.ext->section);
    else snprintf(type, sizeof(type), "[%s]", get_layer_string(l.type));
    dn_fatal("\n%s: section %d %s: cannot be exported to ONNX: %s\n", x->cfgfile, i, type, why);
}

/* The name of layer i's output, "layer_i", for the one onnx_node() call
 * that writes it (which copies it). */
const char *onnx_layer_name(onnx_export *x, int i)
{
    snprintf(x->name, sizeof(x->name), "layer_%d", i);
    return x->name;
}

/* The tensor layer i reads from layer `from` (-1: the network's input),
 * as N x C x H x W: a [connected] or [softmax] output (N x outputs) is
 * reshaped to the shape Darknet's next layer reads it as. */
const char *onnx_as_image(onnx_export *x, int from, int c, int h, int w)
{
    if (from < 0) return "input";
    if (x->rank[from] == 4) return x->out[from];
    int64_t shape[4] = {x->batch, c, h, w};
    const char *in[2] = {x->out[from], onnx_int64s(x->g, "shape", shape, 4)};
    return onnx_node(x->g, "Reshape", in, 2, NULL);
}

/* ... and as N x values, Darknet's flat layout of each image. */
const char *onnx_as_flat(onnx_export *x, int from)
{
    if (from >= 0 && x->rank[from] == 2) return x->out[from];
    const char *in[1] = {from < 0 ? "input" : x->out[from]};
    const char *y = onnx_node(x->g, "Flatten", in, 1, NULL);
    onnx_attr_int(x->g, "axis", 1);
    return y;
}

/* ---- activations ---------------------------------------------------------------- */

/* Layer i's activation on `pre`, written as "layer_i".  Each ONNX operator
 * used here computes Darknet's function (activations.h) exactly in real
 * arithmetic: leaky 0.1 x, relie 0.01 x, elu e^x - 1, selu with Darknet's
 * two constants, hardtan a clip to [-1, 1]. */
const char *onnx_activation(onnx_export *x, int i, const char *pre, ACTIVATION a)
{
    onnx_graph *g = x->g;
    const char *in[3] = {pre, NULL, NULL};
    const char *name = onnx_layer_name(x, i), *y;
    switch (a) {
    case LINEAR: return onnx_node(g, "Identity", in, 1, name);
    case RELU: return onnx_node(g, "Relu", in, 1, name);
    case LOGISTIC: return onnx_node(g, "Sigmoid", in, 1, name);
    case TANH: return onnx_node(g, "Tanh", in, 1, name);
    case LEAKY: case RELIE:
        y = onnx_node(g, "LeakyRelu", in, 1, name);
        onnx_attr_float(g, "alpha", a == LEAKY ? .1f : .01f);
        return y;
    case ELU:
        y = onnx_node(g, "Elu", in, 1, name);
        onnx_attr_float(g, "alpha", 1.f);
        return y;
    case SELU:
        y = onnx_node(g, "Selu", in, 1, name);
        onnx_attr_float(g, "alpha", 1.6732f);
        onnx_attr_float(g, "gamma", 1.0507f);
        return y;
    case HARDTAN: {
        float lo = -1, hi = 1;
        in[1] = onnx_floats(g, "clip_min", &lo, NULL, 0);
        in[2] = onnx_floats(g, "clip_max", &hi, NULL, 0);
        return onnx_node(g, "Clip", in, 3, name);
    }
    default:
        onnx_refuse(x, i, "its activation has no ONNX operator that computes it as Darknet does "
                          "(linear, relu, leaky, relie, logistic, tanh, elu, selu and hardtan export)");
    }
}
