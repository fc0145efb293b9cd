/* onnx_graph.h: an ONNX graph built node by node over the C bindings that
 * protoc-c generates from Debian's onnx.proto (build/onnx, see the
 * Makefile), and written to a file.  Only what the exporter needs: float
 * tensors, int64 shape constants, and int, ints and float attributes.
 * Every string and array the messages point to is owned by the graph and
 * freed with it. */
#ifndef ONNX_GRAPH_H
#define ONNX_GRAPH_H

#include <stdint.h>

typedef struct onnx_graph onnx_graph;

onnx_graph *onnx_graph_new(int opset, const char *name);
void onnx_graph_free(onnx_graph *g);
int onnx_graph_opset(const onnx_graph *g);

/* A name no other tensor has: "PREFIX" or "PREFIX_2", "PREFIX_3", ... The
 * string belongs to the graph. */
const char *onnx_unique_name(onnx_graph *g, const char *prefix);

/* Adds a node of type op reading the n_in tensors `in` and writing one
 * tensor named `out` (or a unique name made from op when out is NULL).
 * Returns the output's name; the attribute calls below add to this node. */
const char *onnx_node(onnx_graph *g, const char *op, const char *const *in, int n_in, const char *out);
void onnx_attr_int(onnx_graph *g, const char *name, int64_t v);
void onnx_attr_ints(onnx_graph *g, const char *name, const int64_t *v, int n);
void onnx_attr_float(onnx_graph *g, const char *name, float v);
void onnx_attr_string(onnx_graph *g, const char *name, const char *v);

/* A constant float tensor (copied) of the given shape; returns its name. */
const char *onnx_floats(onnx_graph *g, const char *prefix, const float *v, const int64_t *dims, int ndims);
/* A constant 1-D int64 tensor (shapes, axes). */
const char *onnx_int64s(onnx_graph *g, const char *prefix, const int64_t *v, int n);

/* The graph's float input and outputs, with their shapes. */
void onnx_input(onnx_graph *g, const char *name, const int64_t *dims, int ndims);
void onnx_output(onnx_graph *g, const char *name, const int64_t *dims, int ndims);

/* Serializes the model to `path` through a temporary file beside it, renamed
 * over it only once written whole and flushed; an error (exit 1) otherwise,
 * and the old file, if any, stays. */
void onnx_graph_write(onnx_graph *g, const char *path, const char *producer_version);

#endif
