/* gcmerge.c: the [gcmerge] layer (see gcmerge.h). */
#include <stdlib.h>

#include "blas.h"
#include "cuda.h"
#include "utils.h"

#include "gcconv/gcconv_state.h"
#include "gcconv/gc_gpu.h"
#include "input/cfgopt.h"
#include "gcconv/gcmerge.h"

typedef struct gcmerge_state {
    int K;
    gc_merge_mode mode;
} gcmerge_state;

static gcmerge_state *state_of(layer l)
{
    return (gcmerge_state *)l.ext_data;
}

int gcmerge_branches(layer l)
{
    return state_of(l)->K;
}

gc_merge_mode gcmerge_mode(layer l)
{
    return state_of(l)->mode;
}

static void set_geometry(layer *l, int w, int h)
{
    l->w = l->out_w = w;
    l->h = l->out_h = h;
    l->inputs = w * h * l->c;
    l->outputs = w * h * l->out_c;
}

static void alloc_buffers(layer *l)
{
    size_t outs = (size_t)l->batch * l->outputs;
    free(l->output);
    free(l->delta);
    free(l->indexes);
    l->output = calloc(outs, sizeof(float));
    l->delta = calloc(outs, sizeof(float));
    l->indexes = calloc(outs, sizeof(int));
    if (!l->output || !l->delta || !l->indexes) malloc_error();
#ifdef GPU
    if (l->output_gpu) cuda_free(l->output_gpu);
    if (l->delta_gpu) cuda_free(l->delta_gpu);
    if (l->indexes_gpu) cuda_free((float *)l->indexes_gpu);
    l->output_gpu = l->delta_gpu = NULL;
    l->indexes_gpu = NULL;
    if (gpu_index >= 0) {
        l->output_gpu = cuda_make_array(l->output, outs);
        l->delta_gpu = cuda_make_array(l->delta, outs);
        l->indexes_gpu = cuda_make_int_array(l->indexes, outs);
    }
#endif
}

layer make_gcmerge_layer(int batch, int h, int w, int c, int branches, gc_merge_mode mode)
{
    gcmerge_state *s = calloc(1, sizeof(*s));
    if (!s) malloc_error();
    s->K = branches;
    s->mode = mode;
    layer l = {0};
    l.type = EXTENSION;
    l.ext = &gcmerge_ext;
    l.ext_data = s;
    l.batch = batch;
    l.c = c;
    l.out_c = l.n = c / branches;
    set_geometry(&l, w, h);
    alloc_buffers(&l);
    l.forward = forward_gcmerge_layer;
    l.backward = backward_gcmerge_layer;
#ifdef GPU
    l.forward_gpu = forward_gcmerge_layer_gpu;
    l.backward_gpu = backward_gcmerge_layer_gpu;
#endif
    return l;
}

void resize_gcmerge_layer(layer *l, int w, int h)
{
    set_geometry(l, w, h);
    alloc_buffers(l);
}

/* Output index i = (b*N + c)*plane + q reads input (b*N*K + c*K + k)*plane + q. */
void forward_gcmerge_layer(layer l, network net)
{
    int K = state_of(l)->K, plane = l.out_w * l.out_h;
    for (int b = 0; b < l.batch; ++b)
        for (int c = 0; c < l.out_c; ++c)
            for (int q = 0; q < plane; ++q) {
                size_t out = ((size_t)b * l.out_c + c) * plane + q;
                size_t first = (((size_t)b * l.out_c + c) * K) * plane + q;
                float best = net.input[first], sum = 0;
                int best_at = (int)first;
                for (int k = 0; k < K; ++k) {
                    float v = net.input[first + (size_t)k * plane];
                    sum += v;
                    if (v > best) {
                        best = v;
                        best_at = (int)(first + (size_t)k * plane);
                    }
                }
                l.indexes[out] = best_at;
                l.output[out] = state_of(l)->mode == GC_MERGE_MAX ? best : sum / K;
            }
}

/* max: the whole delta goes to the branch that won; mean: 1/K to each. */
void backward_gcmerge_layer(layer l, network net)
{
    if (!net.delta) return;
    int K = state_of(l)->K, plane = l.out_w * l.out_h;
    for (int b = 0; b < l.batch; ++b)
        for (int c = 0; c < l.out_c; ++c)
            for (int q = 0; q < plane; ++q) {
                size_t out = ((size_t)b * l.out_c + c) * plane + q;
                if (state_of(l)->mode == GC_MERGE_MAX) {
                    net.delta[l.indexes[out]] += l.delta[out];
                    continue;
                }
                size_t first = (((size_t)b * l.out_c + c) * K) * plane + q;
                for (int k = 0; k < K; ++k) net.delta[first + (size_t)k * plane] += l.delta[out] / K;
            }
}

#ifdef GPU
void forward_gcmerge_layer_gpu(layer l, network net)
{
    gcmerge_state *s = state_of(l);
    gc_merge_forward_gpu(net.input_gpu, l.output_gpu, l.indexes_gpu, l.batch, l.out_c, s->K,
                         l.out_w * l.out_h, s->mode == GC_MERGE_MEAN);
}

void backward_gcmerge_layer_gpu(layer l, network net)
{
    if (!net.delta_gpu) return;
    gcmerge_state *s = state_of(l);
    gc_merge_backward_gpu(l.delta_gpu, net.delta_gpu, l.indexes_gpu, l.batch, l.out_c, s->K,
                          l.out_w * l.out_h, s->mode == GC_MERGE_MEAN);
}
#endif

static const char *const mode_names[] = {"max", "mean", NULL};

/* K of the nearest [gcconv] before this layer, or 0 when there is none. */
static int branches_before(ext_params p)
{
    for (int i = p.index - 1; i >= 0; --i) {
        layer prev = p.net->layers[i];
        if (gcconv_is(prev)) return gcconv_state_of(prev)->K;
    }
    return 0;
}

static layer parse_gcmerge(list *options, ext_params p)
{
    cfg_where where = {p.cfgfile, p.section, p.index};
    gc_merge_mode mode = (gc_merge_mode)cfg_choice(options, "mode", mode_names, GC_MERGE_MAX, where);
    int K = cfg_int(options, "branches", branches_before(p), where);
    char text[32];
    snprintf(text, sizeof(text), "%d", K);
    if (!cfg_has(options, "branches") && K == 0) {
        cfg_fail(where, "branches", "", "not given, and no [gcconv] comes before to take it from");
    }
    if (K < 1) cfg_fail(where, "branches", text, "must be at least 1");
    if (!(p.h && p.w && p.c)) cfg_fail(where, "branches", text, "the layer before does not output an image");
    if (p.c % K != 0) {
        char why[96];
        snprintf(why, sizeof(why), "the input has %d channels, not a multiple of branches", p.c);
        cfg_fail(where, "branches", text, why);
    }
    layer l = make_gcmerge_layer(p.batch, p.h, p.w, p.c, K, mode);
    fprintf(stderr, "gcmerge K=%d %-4s                %4d x%4d x%4d   ->  %4d x%4d x%4d\n",
            K, mode_names[mode], l.w, l.h, l.c, l.out_w, l.out_h, l.out_c);
    return l;
}

static void free_gcmerge(layer l)
{
    free(l.ext_data);   /* free_layer() frees output, delta and indexes */
}

const layer_ext gcmerge_ext = {
    "[gcmerge]", parse_gcmerge, NULL, NULL, resize_gcmerge_layer, free_gcmerge, NULL, NULL, NULL, NULL, NULL,
};
