/* onnx_layers.h: the state of one export (onnx_export.c) and the helpers
 * that every layer's translation uses (onnx_layers.c), the detection heads
 * (onnx_heads.c) included. */
#ifndef ONNX_LAYERS_H
#define ONNX_LAYERS_H

#include "darknet.h"
#include "deploy/onnx_graph.h"

typedef struct onnx_export {
    network *net;
    const char *cfgfile;
    onnx_graph *g;
    int batch;
    const char **out;   /* the tensor holding layer i's output */
    int *rank;          /* 4: N x C x H x W; 2: N x outputs (Darknet's flat layout) */
    char name[32];      /* onnx_layer_name()'s last answer */
} onnx_export;

/* The error (exit 1) for layer i, naming the cfg, the section and its
 * type, and why. */
__attribute__((noreturn))
void onnx_refuse(const onnx_export *x, int i, const char *why);

/* "layer_i", the name of layer i's output, valid until the next call. */
const char *onnx_layer_name(onnx_export *x, int i);

/* Layer `from`'s output (-1: the network's input) as N x c x h x w, or as
 * N x values. */
const char *onnx_as_image(onnx_export *x, int from, int c, int h, int w);
const char *onnx_as_flat(onnx_export *x, int from);

/* Layer i's activation applied to `pre`, written as "layer_i". */
const char *onnx_activation(onnx_export *x, int i, const char *pre, ACTIVATION a);

#endif
