/* onnx_heads.c: detection heads in an ONNX export (onnx_heads.h).
 *
 * [yolo] and [region] write "layer_i", Darknet's own output of the layer:
 * for each of its n anchors, 5 + C planes of H x W, with the logistic
 * applied to x, y and the objectness, exp(w) and exp(h) left undone, and
 * the logistic ([yolo]) or a softmax across the C planes ([region]) on the
 * class scores.  Two more outputs decode it, as Darknet's get_yolo_box()
 * and get_region_box() do, with the same operations in the same order:
 *   boxes_i:  N x (n H W) x 4, the centre x, y and the width and height,
 *             as fractions of the network's input (no letterbox undone);
 *   scores_i: N x (n H W) x C, the objectness times each class score;
 * row a H W + j W + i is anchor a at column i of row j. */
#include <stdio.h>
#include <stdlib.h>

#include "darknet.h"

#include "deploy/onnx_graph.h"
#include "deploy/onnx_heads.h"
#include "deploy/onnx_layers.h"
#include "checked.h"

/* Slice [from, to) of axis 1. */
static const char *slice_channels(onnx_graph *g, const char *x, int64_t from, int64_t to)
{
    int64_t axes[1] = {1};
    const char *in[4] = {x, onnx_int64s(g, "starts", &from, 1), onnx_int64s(g, "ends", &to, 1),
                         onnx_int64s(g, "axes", axes, 1)};
    return onnx_node(g, "Slice", in, 4, NULL);
}

static const char *binary(onnx_graph *g, const char *op, const char *a, const char *b)
{
    const char *in[2] = {a, b};
    return onnx_node(g, op, in, 2, NULL);
}

static const char *unary(onnx_graph *g, const char *op, const char *a)
{
    const char *in[1] = {a};
    return onnx_node(g, op, in, 1, NULL);
}

static const char *reshape(onnx_graph *g, const char *x, const int64_t *shape, int n, const char *out)
{
    const char *in[2] = {x, onnx_int64s(g, "shape", shape, n)};
    return onnx_node(g, "Reshape", in, 2, out);
}

static const char *transpose(onnx_graph *g, const char *x, const int64_t *perm, int n)
{
    const char *y = unary(g, "Transpose", x);
    onnx_attr_ints(g, "perm", perm, n);
    return y;
}

static const char *concat_channels(onnx_graph *g, const char *a, const char *b)
{
    const char *in[2] = {a, b};
    const char *y = onnx_node(g, "Concat", in, 2, NULL);
    onnx_attr_int(g, "axis", 1);
    return y;
}

/* A head is computed on its planes read as (N n) x (5 + C) x H x W, the
 * same memory as N x n(5 + C) x H x W: one image per anchor, the entries
 * as channels, so that every constant is per channel or of the full shape
 * (the broadcasts that every runtime, OpenCV's included, supports). */
typedef struct head {
    int images, classes, h, w;
    const char *xy, *wh, *obj, *cls;
} head;

/* The logistic on x, y and the objectness, nothing on w and h: m s(x) +
 * (1 - m) x with m 1 or 0, which in float gives s(x) or x exactly. */
static const char *activate_box(onnx_graph *g, const char *box)
{
    float on[5] = {1, 1, 0, 0, 1}, off[5] = {0, 0, 1, 1, 0};
    int64_t dims[4] = {1, 5, 1, 1};
    const char *s = binary(g, "Mul", unary(g, "Sigmoid", box), onnx_floats(g, "logistic_on", on, dims, 4));
    return binary(g, "Add", s, binary(g, "Mul", box, onnx_floats(g, "logistic_off", off, dims, 4)));
}

/* A softmax across the classes (the channels), computed on the last axis,
 * where every opset agrees on what Softmax computes. */
static const char *softmax_classes(onnx_graph *g, const char *cls)
{
    int64_t last[4] = {0, 2, 3, 1}, back[4] = {0, 3, 1, 2};
    const char *y = unary(g, "Softmax", transpose(g, cls, last, 4));
    onnx_attr_int(g, "axis", 3);
    return transpose(g, y, back, 4);
}

/* layer_i of a [yolo] or [region], and the parts that decode it. */
static head activate_head(onnx_export *x, int i, layer l, int softmax)
{
    onnx_graph *g = x->g;
    head hd = {x->batch * l.n, l.classes, l.h, l.w, NULL, NULL, NULL, NULL};
    int64_t per_anchor[4] = {hd.images, 5 + l.classes, l.h, l.w};
    const char *all = reshape(g, onnx_as_image(x, i - 1, l.c, l.h, l.w), per_anchor, 4, NULL);
    const char *box = activate_box(g, slice_channels(g, all, 0, 5));
    const char *cls = slice_channels(g, all, 5, 5 + l.classes);
    cls = softmax ? softmax_classes(g, cls) : unary(g, "Sigmoid", cls);
    int64_t image[4] = {x->batch, l.out_c, l.out_h, l.out_w};
    x->out[i] = reshape(g, concat_channels(g, box, cls), image, 4, onnx_layer_name(x, i));
    hd.xy = slice_channels(g, box, 0, 2);
    hd.wh = slice_channels(g, box, 2, 4);
    hd.obj = slice_channels(g, box, 4, 5);
    hd.cls = cls;
    return hd;
}

/* (N n) x k x H x W -> N x (n H W) x k, named `out`. */
static void rows_per_box(onnx_export *x, const head *hd, const char *t, int k, const char *out)
{
    int n = hd->images / x->batch, cells = hd->h * hd->w;
    int64_t split[4] = {x->batch, n, k, cells}, perm[4] = {0, 1, 3, 2}, rows[3] = {x->batch, (int64_t)n * cells, k};
    reshape(x->g, transpose(x->g, reshape(x->g, t, split, 4, NULL), perm, 4), rows, 3, out);
}

/* The constant (N n) x 2 x H x W of each cell's column and row. */
static const char *grid_planes(onnx_export *x, const head *hd)
{
    int cells = hd->h * hd->w;
    float *v = dn_malloc((size_t)hd->images * 2 * cells * sizeof(float));
    for (int b = 0; b < hd->images; ++b)
        for (int k = 0; k < cells; ++k) {
            v[((size_t)b * 2 + 0) * cells + k] = (float)(k % hd->w);
            v[((size_t)b * 2 + 1) * cells + k] = (float)(k / hd->w);
        }
    int64_t dims[4] = {hd->images, 2, hd->h, hd->w};
    const char *t = onnx_floats(x->g, "grid", v, dims, 4);
    free(v);
    return t;
}

/* exp(t) anchor / divisor for the w and h planes: read as N x 2n x H x W,
 * where anchor a's width and height are channels 2a and 2a + 1, so that
 * both constants are per channel. */
static const char *box_size(onnx_export *x, const head *hd, const char *wh, const float *anchors, float dw, float dh)
{
    onnx_graph *g = x->g;
    int n = hd->images / x->batch;
    float *scale = dn_malloc(2 * (size_t)n * sizeof(float));
    for (int a = 0; a < n; ++a) {
        scale[2 * a] = dw;
        scale[2 * a + 1] = dh;
    }
    int64_t channels[4] = {1, 2 * n, 1, 1}, by_image[4] = {x->batch, 2 * n, hd->h, hd->w};
    int64_t by_anchor[4] = {hd->images, 2, hd->h, hd->w};
    const char *y = reshape(g, unary(g, "Exp", wh), by_image, 4, NULL);
    y = binary(g, "Mul", y, onnx_floats(g, "anchors", anchors, channels, 4));
    y = binary(g, "Div", y, onnx_floats(g, "anchor_scale", scale, channels, 4));
    free(scale);
    return reshape(g, y, by_anchor, 4, NULL);
}

/* boxes_i and scores_i: x = (i + s(tx)) / W, y = (j + s(ty)) / H, w =
 * exp(tw) anchor_w / dw, h = exp(th) anchor_h / dh, with anchors and
 * divisors (dw, dh) as the layer type has them; scores obj * class. */
static void decode_head(onnx_export *x, int i, const head *hd, const float *anchors, float dw, float dh)
{
    onnx_graph *g = x->g;
    int64_t pair[4] = {1, 2, 1, 1};
    float cells_wh[2] = {hd->w, hd->h};
    const char *xy = binary(g, "Add", hd->xy, grid_planes(x, hd));
    xy = binary(g, "Div", xy, onnx_floats(g, "cells", cells_wh, pair, 4));
    const char *wh = box_size(x, hd, hd->wh, anchors, dw, dh);
    char name[32];
    snprintf(name, sizeof(name), "boxes_%d", i);
    rows_per_box(x, hd, concat_channels(g, xy, wh), 4, name);
    snprintf(name, sizeof(name), "scores_%d", i);
    rows_per_box(x, hd, binary(g, "Mul", hd->obj, hd->cls), hd->classes, name);
}

/* [yolo]: anchors mask[a] of the list, in pixels of the network input. */
static void export_yolo(onnx_export *x, int i, layer l)
{
    head hd = activate_head(x, i, l, 0);
    float *anchors = dn_malloc(2 * (size_t)l.n * sizeof(float));
    for (int a = 0; a < l.n; ++a) {
        int m = l.mask ? l.mask[a] : a;
        anchors[2 * a] = l.biases[2 * m];
        anchors[2 * a + 1] = l.biases[2 * m + 1];
    }
    decode_head(x, i, &hd, anchors, x->net->w, x->net->h);
    free(anchors);
}

/* [region]: anchors in cells of the layer's grid. */
static void export_region(onnx_export *x, int i, layer l)
{
    if (l.coords != 4 || l.background || l.softmax_tree)
        onnx_refuse(x, i, "only coords=4 without background= or tree= is exported");
    head hd = activate_head(x, i, l, l.softmax);
    decode_head(x, i, &hd, l.biases, l.w, l.h);
}

/* Upstream's [reorg] reads its input as out_c planes of (H s) x (W s)...
 * precisely: output plane (dy s + dx) C' + c, pixel (j, i), is pixel
 * (j s + dy, i s + dx) of plane c of the input read as C' = C / s^2 planes
 * of H s x W s; the result is then read as the layer's output shape. */
static void export_reorg(onnx_export *x, int i, layer l)
{
    if (l.reverse || l.flatten || l.extra) onnx_refuse(x, i, "only the forward reorg (no reverse, flatten or extra) is exported");
    onnx_graph *g = x->g;
    int s = l.stride, planes = l.c / (s * s);
    int64_t split[6] = {x->batch, planes, l.h, s, l.w, s}, perm[6] = {0, 3, 5, 1, 2, 4};
    int64_t out[4] = {x->batch, l.out_c, l.out_h, l.out_w};
    const char *y = reshape(g, onnx_as_image(x, i - 1, l.c, l.h, l.w), split, 6, NULL);
    x->out[i] = reshape(g, transpose(g, y, perm, 6), out, 4, onnx_layer_name(x, i));
}

/* [crop] at inference: the centred window, then x * 2 - 1 unless noadjust. */
static void export_crop(onnx_export *x, int i, layer l)
{
    onnx_graph *g = x->g;
    int64_t starts[2] = {(l.h - l.out_h) / 2, (l.w - l.out_w) / 2};
    int64_t ends[2] = {starts[0] + l.out_h, starts[1] + l.out_w}, axes[2] = {2, 3};
    const char *in[4] = {onnx_as_image(x, i - 1, l.c, l.h, l.w), onnx_int64s(g, "starts", starts, 2),
                         onnx_int64s(g, "ends", ends, 2), onnx_int64s(g, "axes", axes, 2)};
    if (l.noadjust) {
        x->out[i] = onnx_node(g, "Slice", in, 4, onnx_layer_name(x, i));
        return;
    }
    float two = 2, minus_one = -1;
    const char *y = binary(g, "Mul", onnx_node(g, "Slice", in, 4, NULL), onnx_floats(g, "two", &two, NULL, 0));
    const char *sum[2] = {y, onnx_floats(g, "minus_one", &minus_one, NULL, 0)};
    x->out[i] = onnx_node(g, "Add", sum, 2, onnx_layer_name(x, i));
}

void onnx_export_head(onnx_export *x, int i, layer l)
{
    switch (l.type) {
    case YOLO: export_yolo(x, i, l); break;
    case REGION: export_region(x, i, l); break;
    case REORG: export_reorg(x, i, l); break;
    case CROP: export_crop(x, i, l); break;
    default: onnx_refuse(x, i, "not a detection head");
    }
}

void onnx_head_outputs(onnx_export *x, int i, int with_map)
{
    layer l = x->net->layers[i];
    if (l.type != YOLO && l.type != REGION) return;
    int64_t rows = (int64_t)l.n * l.h * l.w;
    int64_t map[4] = {x->batch, l.out_c, l.out_h, l.out_w}, boxes[3] = {x->batch, rows, 4};
    int64_t scores[3] = {x->batch, rows, l.classes};
    char name[32];
    if (with_map) onnx_output(x->g, x->out[i], map, 4);
    snprintf(name, sizeof(name), "boxes_%d", i);
    onnx_output(x->g, name, boxes, 3);
    snprintf(name, sizeof(name), "scores_%d", i);
    onnx_output(x->g, name, scores, 3);
}
