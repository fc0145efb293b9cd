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

/* A binary node on a and a scalar constant. */
static const char *with_scalar(onnx_graph *g, const char *op, const char *a, float v, const char *out)
{
    const char *in[2] = {a, onnx_floats(g, "c", &v, NULL, 0)};
    return onnx_node(g, op, in, 2, out);
}

static const char *binary(onnx_graph *g, const char *op, const char *a, const char *b, const char *out)
{
    const char *in[2] = {a, b};
    return onnx_node(g, op, in, 2, out);
}

static const char *clipped(onnx_graph *g, const char *pre, float lo, float hi)
{
    const char *in[3] = {pre, onnx_floats(g, "clip_min", &lo, NULL, 0), onnx_floats(g, "clip_max", &hi, NULL, 0)};
    return onnx_node(g, "Clip", in, 3, NULL);
}

/* The piecewise-linear activations as c = clip(x, lo, hi), then
 *   inner * c + offset + outer * (x - c)
 * lhtan: lo 0, hi 1, inner 1, offset 0, outer 0.001;
 * plse: lo -4, hi 4, inner 0.125, offset 0.5, outer 0.01.
 * x - c is exact (c is x or a bound near it), so the only roundings are
 * those of Darknet's own expression and a few of the result's size, never
 * the cancellation a sum of ramps would give. */
static const char *piecewise(onnx_graph *g, const char *pre, float lo, float hi, float inner, float offset,
                             float outer, const char *name)
{
    const char *c = clipped(g, pre, lo, hi);
    const char *mid = inner == 1 ? c : with_scalar(g, "Mul", c, inner, NULL);
    if (offset != 0) mid = with_scalar(g, "Add", mid, offset, NULL);
    const char *tail = with_scalar(g, "Mul", binary(g, "Sub", pre, c, NULL), outer, NULL);
    return binary(g, "Add", mid, tail, name);
}

/* The activations Darknet has beyond ONNX's own operators, each equal to
 * Darknet's function in real arithmetic: ramp x max(x, 0) + 0.1 x as
 * Relu(x) + 0.1 x; loggy 2 / (1 + e^-x) - 1 as tanh(x / 2); lhtan and plse
 * as piecewise().  stair is refused: it jumps at every integer, so any
 * runtime's rounding of its input may move an output by a whole step. */
static const char *composed_activation(onnx_export *x, int i, const char *pre, ACTIVATION a, const char *name)
{
    onnx_graph *g = x->g;
    const char *in[1] = {pre};
    switch (a) {
    case RAMP: return binary(g, "Add", onnx_node(g, "Relu", in, 1, NULL), with_scalar(g, "Mul", pre, .1f, NULL), name);
    case LOGGY: {
        const char *half[1] = {with_scalar(g, "Mul", pre, .5f, NULL)};
        return onnx_node(g, "Tanh", half, 1, name);
    }
    case LHTAN: return piecewise(g, pre, 0, 1, 1, 0, .001f, name);
    case PLSE: return piecewise(g, pre, -4, 4, .125f, .5f, .01f, name);
    default:
        onnx_refuse(x, i, "its activation has no ONNX form that computes it as Darknet does (stair jumps at "
                          "every integer, so a runtime's rounding of its input could move an output by a whole "
                          "step); every other Darknet activation exports");
    }
}

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
        return composed_activation(x, i, pre, a, name);
    }
}
