/* onnx_export.c: `./darknet export onnx CFG WEIGHTS OUT.onnx [-batch N]
 * [-opset K]`.
 *
 * The network is loaded as Darknet runs it, then written layer by layer as
 * ONNX nodes, in NCHW float32.  Layer i's output is the tensor "layer_i",
 * so that each layer can be cut out of the model and checked alone
 * (tests/cli/test_onnx_export.sh).  Batch norm is folded into the weights
 * and biases with Darknet's own formula, scale / (sqrt(var) + 1e-6), which
 * ONNX's BatchNormalization, scale / sqrt(var + eps), cannot express.  A
 * [gcconv] is written as the convolution of gcfold_kernel(), the kernel
 * `./darknet gcfold` writes.  Anything else that ONNX cannot compute as
 * Darknet does is refused before the file is written, naming the cfg, the
 * section and its type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "network.h"
#include "utils.h"

#include "deploy/onnx_export.h"
#include "deploy/onnx_graph.h"
#include "deploy/onnx_heads.h"
#include "deploy/onnx_layers.h"
#include "deploy/onnx_shortcut.h"
#include "gclayer.h"
#include "gcconv/gcfold_kernel.h"
#include "gcconv/gcmerge.h"
#include "rcnn/rcnn_layers.h"
#include "checked.h"

/* ---- convolutions and [connected] ------------------------------------------------ */

/* Darknet's batch norm at inference, y = scale (x - mean) / (sqrt(var) +
 * 1e-6) + bias, folded into `rows` rows of `per_row` weights: w' = g w, b'
 * = bias - g mean with g = scale / (sqrt(var) + 1e-6), in double, each
 * rounded once to float.  Without batch norm the weights are copied. */
static void fold_batch_norm(layer l, const float *kernel, int rows, size_t per_row, float *w, float *b)
{
    for (int o = 0; o < rows; ++o) {
        double gain = 1, shift = l.biases[o];
        if (l.batch_normalize) {
            gain = l.scales[o] / (sqrt(l.rolling_variance[o]) + .000001);
            shift = l.biases[o] - gain * l.rolling_mean[o];
        }
        for (size_t j = 0; j < per_row; ++j)
            w[(size_t)o * per_row + j] = (float)(gain * kernel[(size_t)o * per_row + j]);
        b[o] = (float)shift;
    }
}

typedef struct conv_shape {
    int groups, size, stride, pad;
} conv_shape;

static const char *conv_node(onnx_export *x, int i, const char *in, layer l, const float *kernel, conv_shape s)
{
    int per_group = l.c / s.groups;
    size_t per_row = (size_t)per_group * s.size * s.size;
    float *w = dn_malloc((size_t)l.n * per_row * sizeof(float)), *b = dn_malloc((size_t)l.n * sizeof(float));
    fold_batch_norm(l, kernel, l.n, per_row, w, b);
    int64_t wdims[4] = {l.n, per_group, s.size, s.size}, bdims[1] = {l.n};
    const char *ins[3] = {in, onnx_floats(x->g, "weights", w, wdims, 4), onnx_floats(x->g, "biases", b, bdims, 1)};
    free(w);
    free(b);
    const char *y = onnx_node(x->g, "Conv", ins, 3, NULL);
    int64_t kernel_shape[2] = {s.size, s.size}, strides[2] = {s.stride, s.stride};
    int64_t pads[4] = {s.pad, s.pad, s.pad, s.pad};
    onnx_attr_ints(x->g, "kernel_shape", kernel_shape, 2);
    onnx_attr_ints(x->g, "strides", strides, 2);
    onnx_attr_ints(x->g, "pads", pads, 4);
    onnx_attr_int(x->g, "group", s.groups);
    return onnx_activation(x, i, y, l.activation);
}

static void export_convolutional(onnx_export *x, int i, layer l)
{
    if (l.binary || l.xnor) onnx_refuse(x, i, "binary and XNOR weights are not exported");
    const char *in = onnx_as_image(x, i - 1, l.c, l.h, l.w);
    conv_shape s = {l.groups > 0 ? l.groups : 1, l.size, l.stride, l.pad};
    x->out[i] = conv_node(x, i, in, l, l.weights, s);
}

/* The gcfold code's kernel: N*K filters over the layer's real input. */
static void export_gcconv(onnx_export *x, int i, layer l)
{
    gcfold_geometry geo = gcfold_geometry_of(l);
    float *kernel = dn_malloc(gcfold_kernel_floats(l) * sizeof(float));
    gcfold_kernel(l, kernel);
    const char *in = onnx_as_image(x, i - 1, l.c, l.h, l.w);
    conv_shape s = {1, geo.size, l.stride, geo.padding};
    x->out[i] = conv_node(x, i, in, l, kernel, s);
    free(kernel);
}

static void export_connected(onnx_export *x, int i, layer l)
{
    float *w = dn_malloc((size_t)l.outputs * l.inputs * sizeof(float)), *b = dn_malloc(l.outputs * sizeof(float));
    fold_batch_norm(l, l.weights, l.outputs, l.inputs, w, b);
    int64_t wdims[2] = {l.outputs, l.inputs}, bdims[1] = {l.outputs};
    const char *in[3] = {onnx_as_flat(x, i - 1), onnx_floats(x->g, "weights", w, wdims, 2),
                         onnx_floats(x->g, "biases", b, bdims, 1)};
    free(w);
    free(b);
    const char *y = onnx_node(x->g, "Gemm", in, 3, NULL);
    onnx_attr_int(x->g, "transB", 1);
    x->out[i] = onnx_activation(x, i, y, l.activation);
    x->rank[i] = 2;
}

/* ---- pooling, softmax, and the layers that move values -------------------------- */

/* Darknet's window starts pad/2 before the image and its output has
 * (w + pad - size) / stride + 1 columns: ONNX pads of pad/2 before and the
 * rest after give both.  A padded value is never the maximum. */
static void export_maxpool(onnx_export *x, int i, layer l)
{
    const char *in[1] = {onnx_as_image(x, i - 1, l.c, l.h, l.w)};
    x->out[i] = onnx_node(x->g, "MaxPool", in, 1, onnx_layer_name(x, i));
    int64_t kernel_shape[2] = {l.size, l.size}, strides[2] = {l.stride, l.stride};
    int64_t before = l.pad / 2, after = l.pad - l.pad / 2;
    int64_t pads[4] = {before, before, after, after};
    onnx_attr_ints(x->g, "kernel_shape", kernel_shape, 2);
    onnx_attr_ints(x->g, "strides", strides, 2);
    onnx_attr_ints(x->g, "pads", pads, 4);
}

/* Darknet's [avgpool] is the mean over the whole plane. */
static void export_avgpool(onnx_export *x, int i, layer l)
{
    const char *in[1] = {onnx_as_image(x, i - 1, l.c, l.h, l.w)};
    x->out[i] = onnx_node(x->g, "GlobalAveragePool", in, 1, onnx_layer_name(x, i));
}

/* softmax(x / T) over each of `groups` equal runs of the flat input. */
static void export_softmax(onnx_export *x, int i, layer l)
{
    if (l.softmax_tree) onnx_refuse(x, i, "a softmax over a class tree (tree=) is not exported");
    onnx_graph *g = x->g;
    const char *y = onnx_as_flat(x, i - 1);
    if (l.temperature != 1) {
        float t = l.temperature;
        const char *in[2] = {y, onnx_floats(g, "temperature", &t, NULL, 0)};
        y = onnx_node(g, "Div", in, 2, NULL);
    }
    if (l.groups > 1) {
        int64_t shape[3] = {x->batch, l.groups, l.inputs / l.groups};
        const char *in[2] = {y, onnx_int64s(g, "shape", shape, 3)};
        y = onnx_node(g, "Reshape", in, 2, NULL);
    }
    const char *in[1] = {y};
    y = onnx_node(g, "Softmax", in, 1, l.groups > 1 ? NULL : onnx_layer_name(x, i));
    onnx_attr_int(g, "axis", l.groups > 1 ? 2 : 1);
    if (l.groups > 1) {
        in[0] = y;
        y = onnx_node(g, "Flatten", in, 1, onnx_layer_name(x, i));
        onnx_attr_int(g, "axis", 1);
    }
    x->out[i] = y;
    x->rank[i] = 2;
}

/* The channels of the named layers, one after another. */
static void export_route(onnx_export *x, int i, layer l)
{
    const char **in = dn_calloc(l.n, sizeof(char *));
    int flat = 1;
    for (int k = 0; k < l.n; ++k) flat = flat && x->rank[l.input_layers[k]] == 2;
    for (int k = 0; k < l.n; ++k) {
        layer src = x->net->layers[l.input_layers[k]];
        in[k] = flat ? x->out[l.input_layers[k]]
                     : onnx_as_image(x, l.input_layers[k], src.out_c, src.out_h, src.out_w);
    }
    x->out[i] = onnx_node(x->g, l.n == 1 ? "Identity" : "Concat", in, l.n, onnx_layer_name(x, i));
    if (l.n > 1) onnx_attr_int(x->g, "axis", 1);
    x->rank[i] = flat ? 2 : 4;
    free(in);
}

/* Nearest-neighbour: output pixel (y, x) reads (y / s, x / s) rounded
 * down, then times scale. */
static void export_upsample(onnx_export *x, int i, layer l)
{
    if (l.reverse) onnx_refuse(x, i, "a negative stride (downsampling) is not exported");
    onnx_graph *g = x->g;
    float scales[4] = {1, 1, l.stride, l.stride}, none[1] = {0};
    int64_t four[1] = {4}, empty[1] = {0};
    const char *in[3] = {onnx_as_image(x, i - 1, l.c, l.h, l.w), onnx_floats(g, "roi", none, empty, 1),
                         onnx_floats(g, "scales", scales, four, 1)};
    const char *y = onnx_node(g, "Resize", in, 3, l.scale == 1 ? onnx_layer_name(x, i) : NULL);
    onnx_attr_string(g, "mode", "nearest");
    onnx_attr_string(g, "coordinate_transformation_mode", "asymmetric");
    onnx_attr_string(g, "nearest_mode", "floor");
    if (l.scale != 1) {
        float scale = l.scale;
        const char *mul[2] = {y, onnx_floats(g, "scale", &scale, NULL, 0)};
        y = onnx_node(g, "Mul", mul, 2, onnx_layer_name(x, i));
    }
    x->out[i] = y;
}

/* A dropout at inference passes its input on. */
static void export_identity(onnx_export *x, int i)
{
    const char *in[1] = {i == 0 ? "input" : x->out[i - 1]};
    x->out[i] = onnx_node(x->g, "Identity", in, 1, onnx_layer_name(x, i));
    x->rank[i] = i == 0 ? 4 : x->rank[i - 1];
}

/* [gcmerge]: channel c*K + k is branch k of plane c, so a reshape to
 * N x C x K x H x W puts the branches on their own axis. */
static void export_gcmerge(onnx_export *x, int i, layer l)
{
    onnx_graph *g = x->g;
    int K = gcmerge_branches(l);
    int64_t shape[5] = {0, l.out_c, K, l.out_h, l.out_w}, axes[1] = {2};
    const char *in[2] = {onnx_as_image(x, i - 1, l.c, l.h, l.w), onnx_int64s(g, "shape", shape, 5)};
    in[0] = onnx_node(g, "Reshape", in, 2, NULL);
    x->out[i] = onnx_node(g, gcmerge_mode(l) == GC_MERGE_MAX ? "ReduceMax" : "ReduceMean", in, 1,
                          onnx_layer_name(x, i));
    onnx_attr_ints(g, "axes", axes, 1);
    onnx_attr_int(g, "keepdims", 0);
}

static void export_extension(onnx_export *x, int i, layer l)
{
    if (l.ext == &gcconv_ext) export_gcconv(x, i, l);
    else if (l.ext == &gcmerge_ext) export_gcmerge(x, i, l);
    else if (l.ext == &rpn_ext || l.ext == &roipool_ext || l.ext == &rcnn_ext)
        onnx_refuse(x, i, "a two-stage detector keeps a number of proposals that depends on the image "
                          "(ranked, suppressed, then pooled box by box), which a fixed-shape ONNX graph "
                          "of this exporter does not express; export the one-stage detectors instead");
    else onnx_refuse(x, i, "no ONNX translation for this layer");
}

static void export_layer(onnx_export *x, int i)
{
    layer l = x->net->layers[i];
    x->rank[i] = 4;
    switch (l.type) {
    case CONVOLUTIONAL: export_convolutional(x, i, l); break;
    case CONNECTED: export_connected(x, i, l); break;
    case MAXPOOL: export_maxpool(x, i, l); break;
    case AVGPOOL: export_avgpool(x, i, l); break;
    case SOFTMAX: export_softmax(x, i, l); break;
    case SHORTCUT: onnx_export_shortcut(x, i, l); break;
    case ROUTE: export_route(x, i, l); break;
    case UPSAMPLE: export_upsample(x, i, l); break;
    case DROPOUT: export_identity(x, i); break;
    case EXTENSION: export_extension(x, i, l); break;
    case YOLO: case REGION: case REORG: case CROP: onnx_export_head(x, i, l); break;
    default: onnx_refuse(x, i, "no ONNX translation for this layer type");
    }
}

/* ---- the command ----------------------------------------------------------------- */

/* The graph's outputs: the last layer (Darknet's network output; a [cost]
 * at the end computes only the loss, and is left out), and what each
 * detection head adds (onnx_heads.c). */
static void declare_outputs(onnx_export *x)
{
    int last = x->net->n - 1;
    while (last > 0 && x->net->layers[last].type == COST) --last;
    for (int i = 0; i < last; ++i) onnx_head_outputs(x, i, 1);
    layer l = x->net->layers[last];
    int64_t image[4] = {x->batch, l.out_c, l.out_h, l.out_w}, flat[2] = {x->batch, l.outputs};
    if (x->rank[last] == 4) onnx_output(x->g, x->out[last], image, 4);
    else onnx_output(x->g, x->out[last], flat, 2);
    onnx_head_outputs(x, last, 0);
}

static void export_network(network *net, const char *cfgfile, const char *out, int batch, int opset)
{
    onnx_export x = {net, cfgfile, onnx_graph_new(opset, "darknet"), batch, NULL, NULL, ""};
    x.out = dn_calloc(net->n, sizeof(char *));
    x.rank = dn_calloc(net->n, sizeof(int));
    int64_t input[4] = {batch, net->c, net->h, net->w};
    onnx_input(x.g, "input", input, 4);
    for (int i = 0; i < net->n; ++i) {
        if (net->layers[i].type == COST) {
            /* the loss only: passes its input on, and is no output */
            x.out[i] = i ? x.out[i - 1] : "input";
            x.rank[i] = i ? x.rank[i - 1] : 4;
            continue;
        }
        export_layer(&x, i);
    }
    declare_outputs(&x);
    onnx_graph_write(x.g, out, "1");
    onnx_graph_free(x.g);
    free(x.out);
    free(x.rank);
}

void onnx_export_command(int argc, char **argv)
{
    /* find_int_arg takes the option out of argv, but argc stays */
    int batch = find_int_arg(argc, argv, "-batch", 1);
    int opset = find_int_arg(argc, argv, "-opset", 13);
    int given = 0;
    while (given < argc && argv[given]) ++given;
    if (given != 6) {
        dn_usage("usage: %s export onnx CFG WEIGHTS OUT.onnx [-batch N] [-opset K]\n"
                 "  writes the network as an ONNX model (float32, NCHW), every [gcconv] folded;\n"
                 "  -batch: the model's fixed batch size (default 1); -opset: 11 to 17 (default 13)\n",
                 argv[0]);
    }
    if (batch < 1) dn_fatal("export onnx: -batch %d: must be at least 1\n", batch);
    if (opset < 11 || opset > 17) dn_fatal("export onnx: -opset %d: must be from 11 to 17\n", opset);
    char *cfgfile = argv[3], *weightfile = argv[4], *out = argv[5];
    network *net = load_network(cfgfile, weightfile, 0);
    export_network(net, cfgfile, out, batch, opset);
    fprintf(stderr, "export onnx: %d layers written to %s (opset %d, batch %d)\n", net->n, out, opset, batch);
    free_network(net);
}
