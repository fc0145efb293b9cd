/* gcconv_state.h: the state of a [gcconv] layer, shared by its CPU passes
 * (gclayer.c, gcconv/gcfactor.c) and its GPU passes (gcconv/gclayer_gpu.c),
 * so that those passes need nothing else from gclayer.c. */
#ifndef GCCONV_STATE_H
#define GCCONV_STATE_H

#include <string.h>

#include "darknet.h"
#include "ext.h"
#include "cpu/fastconv.h"

typedef enum { GC_MIX_FULL, GC_MIX_BRANCH } gc_mixing;

/* The layer's own state, behind l.ext_data. */
typedef struct gcconv_state {
    int K, C, N;           /* branches, input planes per branch, filters */
    gc_mixing mixing;
    int expand;
    float calib_rate;
    int planes;            /* input planes one kernel row spans: C*K (full) or C (branch) */
    int ss;                /* size*size */
    float *R, *R_updates;  /* K*ss each; R_updates holds minus dL/dR */
    /* H (effective kernel) and G (minus dL/dH), N*K*planes*ss each.  With
     * K = 1 they are the layer's weights and weight_updates themselves, so
     * the layer computes exactly what [convolutional] computes. */
    float *H, *G;
    int nh;
    /* Full mixing with expand and K > 1: the replicated input and its delta. */
    float *wide_input, *wide_delta;
    /* Full mixing, K > 1, CPU (gcfactor.c): w by kernel pixel. */
    float *w_by_pixel;
    /* ... and a training pass's products z_p, for its backward pass:
     * z_kept says they belong to the last forward pass. */
    float *kept_z;
    size_t kept_z_floats;
    int z_kept;
    /* The network asks for Winograd's algorithm ([net] winograd=1), as the
     * last pass read it from net.ext. */
    int winograd;
    /* GPU copies (GPU=1 builds with gpu_index >= 0; NULL otherwise).  H_gpu
     * and G_gpu are weights_gpu and weight_updates_gpu when K = 1.  On the
     * GPU, branch mixing gathers the whole batch at once, so its branch
     * buffers hold batch*C*K planes. */
    float *R_gpu, *R_updates_gpu, *H_gpu, *G_gpu;
    float *wide_input_gpu, *wide_delta_gpu;
    float *branch_input_gpu, *branch_delta_gpu;
    /* The cuDNN path (CUDNN=1 builds, src/gpu/cudnn_conv.h): the
     * convolution's descriptors, and for gathered branches H and G in
     * branch-major row order (2*nh floats) and the outputs or deltas in
     * branch-major plane order (batch*outputs floats). */
    struct gpu_cudnn_conv *cudnn;
    float *branch_major_h_gpu, *branch_major_out_gpu;
} gcconv_state;

/* 1x1, stride 1, no padding: the input is its own im2col. */
static inline int gcconv_is_pointwise(layer l)
{
    return conv_is_pointwise(l.size, l.stride, l.pad);
}

/* Full mixing with expand and K > 1: the replicated input has buffers. */
static inline int gcconv_needs_wide_buffers(const gcconv_state *s)
{
    return s->mixing == GC_MIX_FULL && s->expand && s->K > 1;
}

/* Branch mixing without expand and K > 1: gathered branch planes. */
static inline int gcconv_needs_branch_buffers(const gcconv_state *s)
{
    return s->mixing == GC_MIX_BRANCH && !s->expand && s->K > 1;
}

/* The layer's state, and whether a layer is a [gcconv] (by its section, so
 * that the layers of this room need nothing from gclayer.c). */
static inline gcconv_state *gcconv_state_of(layer l)
{
    return (gcconv_state *)l.ext_data;
}

static inline int gcconv_is(layer l)
{
    return l.type == EXTENSION && l.ext && strcmp(l.ext->section, "[gcconv]") == 0;
}

#endif
