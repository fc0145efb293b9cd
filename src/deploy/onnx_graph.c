/* onnx_graph.c: the ONNX graph builder of onnx_graph.h.
 *
 * The messages are protoc-c's structs, filled in place.  Every block they
 * point to (strings, arrays, sub-messages) is recorded in one list and
 * freed with the graph, so no message is freed through protobuf-c's own
 * allocator, which would expect it to have allocated them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "ext.h"
#include "onnx.pb-c.h"
#include "utils.h"

#include "deploy/onnx_graph.h"
#include "checked.h"

struct onnx_graph {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    int opset;
    void **owned;          /* every block the messages point to */
    size_t n_owned, cap_owned;
    size_t cap_node, cap_init, cap_in, cap_out;
    char **names;          /* every tensor name given, for onnx_unique_name */
    size_t n_names, cap_names;
};

static void *own(onnx_graph *g, void *p)
{
    if (g->n_owned == g->cap_owned) {
        g->cap_owned = g->cap_owned ? 2 * g->cap_owned : 256;
        void **grown = realloc(g->owned, g->cap_owned * sizeof(void *));
        if (!grown) malloc_error();
        g->owned = grown;
    }
    g->owned[g->n_owned++] = p;
    return p;
}

static void *owned_calloc(onnx_graph *g, size_t n, size_t size)
{
    return own(g, dn_calloc(n ? n : 1, size));
}

static char *owned_strdup(onnx_graph *g, const char *s)
{
    char *copy = owned_calloc(g, strlen(s) + 1, 1);
    memcpy(copy, s, strlen(s));
    return copy;
}

/* Appends item to a message's repeated field; the array grows by doubling,
 * its old block dropped from the list of owned blocks. */
static void push(onnx_graph *g, void ***array, size_t *n, size_t *cap, void *item)
{
    if (*n == *cap) {
        size_t grown = *cap ? 2 * *cap : 16;
        void **bigger = owned_calloc(g, grown, sizeof(void *));
        if (*n) memcpy(bigger, *array, *n * sizeof(void *));
        *array = bigger;
        *cap = grown;
    }
    (*array)[(*n)++] = item;
}

onnx_graph *onnx_graph_new(int opset, const char *name)
{
    onnx_graph *g = dn_calloc(1, sizeof(*g));
    onnx__model_proto__init(&g->model);
    onnx__graph_proto__init(&g->graph);
    g->opset = opset;
    g->graph.name = owned_strdup(g, name);
    g->model.graph = &g->graph;
    /* IR version 8 is what ONNX 1.12 writes for opsets up to 17 */
    g->model.has_ir_version = 1;
    g->model.ir_version = 8;
    Onnx__OperatorSetIdProto *set = owned_calloc(g, 1, sizeof(*set));
    onnx__operator_set_id_proto__init(set);
    set->domain = owned_strdup(g, "");
    set->has_version = 1;
    set->version = opset;
    g->model.n_opset_import = 1;
    g->model.opset_import = owned_calloc(g, 1, sizeof(set));
    g->model.opset_import[0] = set;
    return g;
}

void onnx_graph_free(onnx_graph *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_owned; ++i) free(g->owned[i]);
    free(g->owned);
    free(g->names);
    free(g);
}

int onnx_graph_opset(const onnx_graph *g)
{
    return g->opset;
}

static int name_taken(const onnx_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_names; ++i)
        if (strcmp(g->names[i], name) == 0) return 1;
    return 0;
}

static const char *take_name(onnx_graph *g, const char *name)
{
    char *copy = owned_strdup(g, name);
    if (g->n_names == g->cap_names) {
        g->cap_names = g->cap_names ? 2 * g->cap_names : 64;
        char **grown = realloc(g->names, g->cap_names * sizeof(char *));
        if (!grown) malloc_error();
        g->names = grown;
    }
    g->names[g->n_names++] = copy;
    return copy;
}

const char *onnx_unique_name(onnx_graph *g, const char *prefix)
{
    char name[256];
    snprintf(name, sizeof(name), "%s", prefix);
    for (int k = 2; name_taken(g, name); ++k) snprintf(name, sizeof(name), "%s_%d", prefix, k);
    return take_name(g, name);
}

const char *onnx_node(onnx_graph *g, const char *op, const char *const *in, int n_in, const char *out)
{
    Onnx__NodeProto *node = owned_calloc(g, 1, sizeof(*node));
    onnx__node_proto__init(node);
    node->op_type = owned_strdup(g, op);
    node->n_input = n_in;
    node->input = owned_calloc(g, n_in, sizeof(char *));
    for (int i = 0; i < n_in; ++i) node->input[i] = owned_strdup(g, in[i]);
    const char *name = out ? onnx_unique_name(g, out) : onnx_unique_name(g, op);
    node->n_output = 1;
    node->output = owned_calloc(g, 1, sizeof(char *));
    node->output[0] = (char *)name;
    node->name = (char *)name;
    push(g, (void ***)&g->graph.node, &g->graph.n_node, &g->cap_node, node);
    return name;
}

/* A new attribute on the last node. */
static Onnx__AttributeProto *attribute(onnx_graph *g, const char *name, Onnx__AttributeProto__AttributeType type)
{
    Onnx__NodeProto *node = g->graph.node[g->graph.n_node - 1];
    Onnx__AttributeProto *a = owned_calloc(g, 1, sizeof(*a));
    onnx__attribute_proto__init(a);
    a->name = owned_strdup(g, name);
    a->has_type = 1;
    a->type = type;
    size_t cap = node->n_attribute;   /* exact size: grows on every call */
    Onnx__AttributeProto **all = owned_calloc(g, cap + 1, sizeof(*all));
    if (cap) memcpy(all, node->attribute, cap * sizeof(*all));
    all[cap] = a;
    node->attribute = all;
    node->n_attribute = cap + 1;
    return a;
}

void onnx_attr_int(onnx_graph *g, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attribute(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void onnx_attr_ints(onnx_graph *g, const char *name, const int64_t *v, int n)
{
    Onnx__AttributeProto *a = attribute(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = n;
    a->ints = owned_calloc(g, n, sizeof(int64_t));
    if (n > 0) memcpy(a->ints, v, n * sizeof(int64_t));
}

void onnx_attr_float(onnx_graph *g, const char *name, float v)
{
    Onnx__AttributeProto *a = attribute(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void onnx_attr_string(onnx_graph *g, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attribute(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)owned_strdup(g, v);
}

/* A constant tensor of the given element type, its values stored as the
 * repeated field of that type (float_data or int64_data), which protobuf
 * writes in the byte order ONNX defines whatever this machine's is. */
static Onnx__TensorProto *tensor(onnx_graph *g, const char *prefix, int type, const int64_t *dims, int ndims)
{
    Onnx__TensorProto *t = owned_calloc(g, 1, sizeof(*t));
    onnx__tensor_proto__init(t);
    t->name = (char *)onnx_unique_name(g, prefix);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = ndims;
    t->dims = owned_calloc(g, ndims, sizeof(int64_t));
    if (ndims > 0) memcpy(t->dims, dims, ndims * sizeof(int64_t)); /* a scalar has no dims to copy */
    push(g, (void ***)&g->graph.initializer, &g->graph.n_initializer, &g->cap_init, t);
    return t;
}

const char *onnx_floats(onnx_graph *g, const char *prefix, const float *v, const int64_t *dims, int ndims)
{
    Onnx__TensorProto *t = tensor(g, prefix, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, ndims);
    size_t n = 1;
    for (int i = 0; i < ndims; ++i) n *= (size_t)dims[i];
    t->n_float_data = n;
    t->float_data = owned_calloc(g, n, sizeof(float));
    memcpy(t->float_data, v, n * sizeof(float));
    return t->name;
}

const char *onnx_int64s(onnx_graph *g, const char *prefix, const int64_t *v, int n)
{
    int64_t dims[1] = {n};
    Onnx__TensorProto *t = tensor(g, prefix, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims, 1);
    t->n_int64_data = n;
    t->int64_data = owned_calloc(g, n, sizeof(int64_t));
    if (n > 0) memcpy(t->int64_data, v, n * sizeof(int64_t));
    return t->name;
}

static Onnx__ValueInfoProto *value_info(onnx_graph *g, const char *name, const int64_t *dims, int ndims)
{
    Onnx__TensorShapeProto *shape = owned_calloc(g, 1, sizeof(*shape));
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = ndims;
    shape->dim = owned_calloc(g, ndims, sizeof(*shape->dim));
    for (int i = 0; i < ndims; ++i) {
        Onnx__TensorShapeProto__Dimension *d = owned_calloc(g, 1, sizeof(*d));
        onnx__tensor_shape_proto__dimension__init(d);
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
        shape->dim[i] = d;
    }
    Onnx__TypeProto__Tensor *tt = owned_calloc(g, 1, sizeof(*tt));
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    Onnx__TypeProto *type = owned_calloc(g, 1, sizeof(*type));
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    Onnx__ValueInfoProto *v = owned_calloc(g, 1, sizeof(*v));
    onnx__value_info_proto__init(v);
    v->name = owned_strdup(g, name);
    v->type = type;
    return v;
}

void onnx_input(onnx_graph *g, const char *name, const int64_t *dims, int ndims)
{
    if (!name_taken(g, name)) take_name(g, name);
    push(g, (void ***)&g->graph.input, &g->graph.n_input, &g->cap_in, value_info(g, name, dims, ndims));
}

void onnx_output(onnx_graph *g, const char *name, const int64_t *dims, int ndims)
{
    push(g, (void ***)&g->graph.output, &g->graph.n_output, &g->cap_out, value_info(g, name, dims, ndims));
}

void onnx_graph_write(onnx_graph *g, const char *path, const char *producer_version)
{
    g->model.producer_name = owned_strdup(g, "darknet export onnx");
    g->model.producer_version = owned_strdup(g, producer_version);
    size_t size = onnx__model_proto__get_packed_size(&g->model);
    uint8_t *bytes = dn_malloc(size);
    onnx__model_proto__pack(&g->model, bytes);
    FILE *fp = ext_save_open(path);
    fwrite(bytes, 1, size, fp);
    free(bytes);
    /* no layer arrays to check (cutoff 0): only the flush, fsync and rename */
    network none = {0};
    ext_save_close(&none, fp, path, 0);
}
