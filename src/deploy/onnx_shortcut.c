/* onnx_shortcut.c: [shortcut] in an ONNX export (onnx_shortcut.h).
 *
 * Upstream's forward_shortcut_layer copies the layer before (prev, c2 x h2
 * x w2) and then, in shortcut_cpu, for k < min(c1, c2), j < min(h1, h2)
 * and i < min(w1, w2) only, computes
 *     out[k, j*sample, i*sample] = alpha prev[...] + beta from[k, j*stride, i*stride]
 * where `from` is layer `index` (c1 x h1 x w1), stride = w1 / w2 and
 * sample = w2 / w1, each at least 1.  So a larger `from` is read every
 * stride-th pixel, a smaller one is added to every sample-th pixel, and
 * only the channels both have are added: the others keep prev as it was.
 * The export computes the same values with operators that read or place
 * values without arithmetic (Slice with steps, a depthwise ConvTranspose
 * of ones, a Pad with zeros), so the only roundings are Darknet's own: the
 * two products and the sum. */
#include <stdlib.h>

#include "darknet.h"

#include "deploy/onnx_graph.h"
#include "deploy/onnx_layers.h"
#include "deploy/onnx_shortcut.h"
#include "checked.h"

typedef struct shortcut_geometry {
    int stride, sample;     /* shortcut_cpu's, each at least 1 */
    int c, h, w;            /* the channels, rows and columns added */
} shortcut_geometry;

static int at_least_one(int v) { return v < 1 ? 1 : v; }
static int smaller(int a, int b) { return a < b ? a : b; }

static shortcut_geometry geometry_of(layer from, layer l)
{
    shortcut_geometry s;
    s.stride = at_least_one(from.out_w / l.out_w);
    s.sample = at_least_one(l.out_w / from.out_w);
    s.c = smaller(from.out_c, l.out_c);
    s.h = smaller(from.out_h, l.out_h);
    s.w = smaller(from.out_w, l.out_w);
    return s;
}

/* from[:c, :h*stride:stride, :w*stride:stride], the values that are added. */
static const char *read_added(onnx_graph *g, const char *from, layer src, shortcut_geometry s)
{
    int64_t ends[3] = {s.c, (int64_t)s.h * s.stride, (int64_t)s.w * s.stride};
    if (ends[0] == src.out_c && ends[1] == src.out_h && ends[2] == src.out_w && s.stride == 1) return from;
    int64_t starts[3] = {0, 0, 0}, axes[3] = {1, 2, 3}, steps[3] = {1, s.stride, s.stride};
    const char *in[5] = {from, onnx_int64s(g, "starts", starts, 3), onnx_int64s(g, "ends", ends, 3),
                         onnx_int64s(g, "axes", axes, 3), onnx_int64s(g, "steps", steps, 3)};
    return onnx_node(g, "Slice", in, 5, NULL);
}

/* Each value to row j*sample, column i*sample, zeros between: a transposed
 * 1x1 convolution of stride `sample`, one filter of weight 1 a channel. */
static const char *spread(onnx_graph *g, const char *y, shortcut_geometry s)
{
    if (s.sample == 1) return y;
    float *ones = dn_malloc((size_t)s.c * sizeof(float));
    for (int k = 0; k < s.c; ++k) ones[k] = 1;
    int64_t wdims[4] = {s.c, 1, 1, 1}, kernel[2] = {1, 1}, strides[2] = {s.sample, s.sample};
    const char *in[2] = {y, onnx_floats(g, "ones", ones, wdims, 4)};
    free(ones);
    y = onnx_node(g, "ConvTranspose", in, 2, NULL);
    onnx_attr_ints(g, "kernel_shape", kernel, 2);
    onnx_attr_ints(g, "strides", strides, 2);
    onnx_attr_int(g, "group", s.c);
    return y;
}

/* Zeros after the added values, up to prev's shape: out = prev there. */
static const char *pad_to(onnx_graph *g, const char *y, layer l, shortcut_geometry s)
{
    int64_t h = (int64_t)(s.h - 1) * s.sample + 1, w = (int64_t)(s.w - 1) * s.sample + 1;
    if (s.c == l.out_c && h == l.out_h && w == l.out_w) return y;
    int64_t pads[8] = {0, 0, 0, 0, 0, l.out_c - s.c, l.out_h - h, l.out_w - w};
    const char *in[2] = {y, onnx_int64s(g, "pads", pads, 8)};
    y = onnx_node(g, "Pad", in, 2, NULL);
    onnx_attr_string(g, "mode", "constant");
    return y;
}

/* alpha where a value is added and 1 elsewhere (prev is copied unscaled
 * there), for each of the batch's images. */
static const char *alpha_mask(onnx_export *x, layer l, shortcut_geometry s)
{
    size_t plane = (size_t)l.out_h * l.out_w, image = plane * l.out_c;
    float *m = dn_malloc(image * x->batch * sizeof(float));
    for (size_t v = 0; v < image * x->batch; ++v) m[v] = 1;
    for (int b = 0; b < x->batch; ++b)
        for (int k = 0; k < s.c; ++k)
            for (int j = 0; j < s.h; ++j)
                for (int i = 0; i < s.w; ++i)
                    m[b * image + k * plane + (size_t)j * s.sample * l.out_w + (size_t)i * s.sample] = l.alpha;
    int64_t dims[4] = {x->batch, l.out_c, l.out_h, l.out_w};
    const char *name = onnx_floats(x->g, "alpha", m, dims, 4);
    free(m);
    return name;
}

static int same_shape(layer from, layer l)
{
    return from.out_w == l.out_w && from.out_h == l.out_h && from.out_c == l.out_c;
}

void onnx_export_shortcut(onnx_export *x, int i, layer l)
{
    onnx_graph *g = x->g;
    layer from = x->net->layers[l.index];
    shortcut_geometry s = geometry_of(from, l);
    const char *a = onnx_as_image(x, i - 1, l.out_c, l.out_h, l.out_w);
    const char *b = onnx_as_image(x, l.index, from.out_c, from.out_h, from.out_w);
    float alpha = l.alpha, beta = l.beta;
    if (beta != 1) {   /* scaled before it is placed: zeros stay zeros */
        const char *in[2] = {read_added(g, b, from, s), onnx_floats(g, "beta", &beta, NULL, 0)};
        b = onnx_node(g, "Mul", in, 2, NULL);
    } else {
        b = read_added(g, b, from, s);
    }
    b = pad_to(g, spread(g, b, s), l, s);
    if (alpha != 1) {
        const char *in[2] = {a, same_shape(from, l) ? onnx_floats(g, "alpha", &alpha, NULL, 0) : alpha_mask(x, l, s)};
        a = onnx_node(g, "Mul", in, 2, NULL);
    }
    const char *in[2] = {a, b};
    x->out[i] = onnx_activation(x, i, onnx_node(g, "Add", in, 2, NULL), l.activation);
}
