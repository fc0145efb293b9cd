/* gclayer_gpu.c: [gcconv] on the GPU (GPU=1 builds; see gclayer_gpu.h).
 *
 * The same passes as gclayer.c, on device copies of the layer's arrays.
 * The convolution with H takes the path of src/gpu/conv_path.h: batched
 * (src/gpu/batched_conv.h), cuDNN, or per image with upstream's im2col_gpu,
 * gemm_gpu and col2im_gpu.  Batch norm and the activation are upstream's
 * kernels; ours (gc_kernels.cu) build H, fold G, step R, replicate for
 * expand and lay out the branches.
 *
 * The host arrays stay the layer's reference copy for files: saving pulls
 * the device arrays first, loading pushes them after (gclayer.c). */
#ifdef GPU

#include <math.h>
#include <stdlib.h>

#include "activations.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "col2im.h"
#include "cuda.h"
#include "gemm.h"
#include "im2col.h"
#include "utils.h"

#include "checked.h"
#include "gcconv/gc_gpu.h"
#include "gcconv/gclayer_gpu.h"
#include "gcconv/gcconv_state.h"
#include "gpu/batched_conv.h"
#include "gpu/conv_gpu.h"
#include "gpu/conv_path.h"
#include "gpu/cudnn_conv.h"
#include "optim/params.h"

/* A device copy of n host floats (zeros when host is NULL); NULL when n is 0. */
static float *device_copy(float *host, size_t n)
{
    return n ? cuda_make_array(host, n) : NULL;
}

static void device_free(float **p)
{
    if (*p) cuda_free(*p);
    *p = NULL;
}

static size_t input_planes_total(layer l, const gcconv_state *s)
{
    return (size_t)l.batch * s->C * s->K * l.h * l.w;
}

/* The cuDNN path's gathered branches (see gcconv_state.h). */
static int cudnn_branch_major(const gcconv_state *s)
{
    return gpu_conv_path_chosen() == GPU_CONV_CUDNN && gcconv_needs_branch_buffers(s);
}

static void make_scratch_gpu(layer l, gcconv_state *s)
{
    if (cudnn_branch_major(s)) {
        s->branch_major_h_gpu = device_copy(NULL, 2 * (size_t)s->nh);
        s->branch_major_out_gpu = device_copy(NULL, (size_t)l.batch * l.outputs);
    }
    if (gcconv_needs_wide_buffers(s)) {
        s->wide_input_gpu = device_copy(NULL, input_planes_total(l, s));
        s->wide_delta_gpu = device_copy(NULL, input_planes_total(l, s));
    }
    if (gcconv_needs_branch_buffers(s)) {
        s->branch_input_gpu = device_copy(NULL, input_planes_total(l, s));
        s->branch_delta_gpu = device_copy(NULL, input_planes_total(l, s));
    }
}

static void free_scratch_gpu(gcconv_state *s)
{
    device_free(&s->wide_input_gpu);
    device_free(&s->wide_delta_gpu);
    device_free(&s->branch_input_gpu);
    device_free(&s->branch_delta_gpu);
    device_free(&s->branch_major_h_gpu);
    device_free(&s->branch_major_out_gpu);
}

static void make_activations_gpu(layer *l)
{
    size_t outs = (size_t)l->batch * l->outputs;
    l->output_gpu = device_copy(l->output, outs);
    l->delta_gpu = device_copy(l->delta, outs);
    if (l->batch_normalize) {
        l->x_gpu = device_copy(l->output, outs);
        l->x_norm_gpu = device_copy(l->output, outs);
    }
}

void gcconv_make_gpu(layer *l)
{
    gcconv_state *s = l->ext_data;
    l->weights_gpu = device_copy(l->weights, l->nweights);
    l->weight_updates_gpu = device_copy(l->weight_updates, l->nweights);
    l->biases_gpu = device_copy(l->biases, l->n);
    l->bias_updates_gpu = device_copy(l->bias_updates, l->n);
    if (l->batch_normalize) {
        l->scales_gpu = device_copy(l->scales, l->n);
        l->scale_updates_gpu = device_copy(l->scale_updates, l->n);
        l->mean_gpu = device_copy(l->mean, l->n);
        l->variance_gpu = device_copy(l->variance, l->n);
        l->rolling_mean_gpu = device_copy(l->rolling_mean, l->n);
        l->rolling_variance_gpu = device_copy(l->rolling_variance, l->n);
        l->mean_delta_gpu = device_copy(l->mean_delta, l->n);
        l->variance_delta_gpu = device_copy(l->variance_delta, l->n);
    }
    if (l->m) {
        l->m_gpu = device_copy(l->m, l->nweights);
        l->v_gpu = device_copy(l->v, l->nweights);
        l->bias_m_gpu = device_copy(l->bias_m, l->n);
        l->bias_v_gpu = device_copy(l->bias_v, l->n);
        if (l->scales) {
            l->scale_m_gpu = device_copy(l->scale_m, l->n);
            l->scale_v_gpu = device_copy(l->scale_v, l->n);
        }
    }
    make_activations_gpu(l);

    s->R_gpu = device_copy(s->R, s->K * s->ss);
    s->R_updates_gpu = device_copy(s->R_updates, s->K * s->ss);
    if (s->K == 1) {
        s->H_gpu = l->weights_gpu;
        s->G_gpu = l->weight_updates_gpu;
    } else {
        s->H_gpu = device_copy(NULL, s->nh);
        s->G_gpu = device_copy(NULL, s->nh);
    }
    make_scratch_gpu(*l, s);
#ifdef CUDNN
    s->cudnn = dn_calloc(1, sizeof(*s->cudnn));
#endif

    l->forward_gpu = forward_gcconv_layer_gpu;
    l->backward_gpu = backward_gcconv_layer_gpu;
    l->update_gpu = update_gcconv_layer_gpu;
}

void gcconv_resize_gpu(layer *l)
{
    gcconv_state *s = l->ext_data;
    device_free(&l->output_gpu);
    device_free(&l->delta_gpu);
    device_free(&l->x_gpu);
    device_free(&l->x_norm_gpu);
    make_activations_gpu(l);
    free_scratch_gpu(s);
    make_scratch_gpu(*l, s);
}

/* What upstream's free_layer() does not free. */
void gcconv_free_gpu(layer l)
{
    gcconv_state *s = l.ext_data;
    if (s->K > 1) {
        device_free(&s->H_gpu);
        device_free(&s->G_gpu);
    }
    device_free(&s->R_gpu);
    device_free(&s->R_updates_gpu);
    free_scratch_gpu(s);
#ifdef CUDNN
    if (s->cudnn) gpu_cudnn_conv_free(s->cudnn);
    free(s->cudnn);
    s->cudnn = NULL;
#endif
    device_free(&l.bias_m_gpu);
    device_free(&l.bias_v_gpu);
    device_free(&l.scale_m_gpu);
    device_free(&l.scale_v_gpu);
}

/* ---- host <-> device ---------------------------------------------------- */

/* Every array a step changes and a file or a resumed run needs: those of
 * optim/params.h's list that have a device copy. */
static int twins_of(layer l, layer_array t[LAYER_ARRAYS_MAX])
{
    layer_array all[LAYER_ARRAYS_MAX];
    int count = 0;
    for (int i = 0, n = layer_arrays(&l, all); i < n; ++i)
        if (all[i].device) t[count++] = all[i];
    return count;
}

void gcconv_push_gpu(layer l)
{
    layer_array t[LAYER_ARRAYS_MAX];
    int n = twins_of(l, t);
    for (int i = 0; i < n; ++i) cuda_push_array(t[i].device, t[i].host, t[i].n);
}

void gcconv_pull_gpu(layer l)
{
    layer_array t[LAYER_ARRAYS_MAX];
    int n = twins_of(l, t);
    for (int i = 0; i < n; ++i) cuda_pull_array(t[i].device, t[i].host, t[i].n);
}

/* ---- mixing=full ------------------------------------------------------------ */

static float *columns_gpu(layer l, float *im, int planes, float *workspace)
{
    if (gcconv_is_pointwise(l)) return im;
    im2col_gpu(im, planes, l.h, l.w, l.size, l.stride, l.pad, workspace);
    return workspace;
}

static void forward_full_gpu(layer l, gcconv_state *s, float *input, float *workspace)
{
    int m = l.n, k = s->planes * s->ss, n = l.out_h * l.out_w;
    size_t in_size = (size_t)s->planes * l.h * l.w;
    for (int b = 0; b < l.batch; ++b) {
        float *cols = columns_gpu(l, input + b * in_size, s->planes, workspace);
        gemm_gpu(0, 0, m, n, k, 1, s->H_gpu, k, cols, n, 1, l.output_gpu + (size_t)b * m * n, n);
    }
}

static void backward_full_gpu(layer l, gcconv_state *s, float *input, float *input_delta, float *workspace)
{
    int m = l.n, k = s->planes * s->ss, n = l.out_h * l.out_w;
    size_t in_size = (size_t)s->planes * l.h * l.w;
    for (int b = 0; b < l.batch; ++b) {
        float *delta = l.delta_gpu + (size_t)b * m * n;
        float *cols = columns_gpu(l, input + b * in_size, s->planes, workspace);
        gemm_gpu(0, 1, m, k, n, 1, delta, n, cols, n, 1, s->G_gpu, k);
        if (!input_delta) continue;
        float *dx = input_delta + b * in_size;
        if (gcconv_is_pointwise(l)) {
            gemm_gpu(1, 0, k, n, m, 1, s->H_gpu, k, delta, n, 1, dx, n);
        } else {
            gemm_gpu(1, 0, k, n, m, 1, s->H_gpu, k, delta, n, 0, workspace, n);
            col2im_gpu(workspace, s->planes, l.h, l.w, l.size, l.stride, l.pad, dx);
        }
    }
}

/* ---- mixing=branch ------------------------------------------------------------
 *
 * As on the CPU, branch k's kernel rows are H rows o*K+k (row stride K rows)
 * and its outputs are channels o*K+k (row stride K planes): the gemms read
 * and write them in place.  Its input planes c*K+k are first gathered for
 * the whole batch into branch-major order, so that each branch's planes are
 * contiguous for im2col; with expand every branch reads the image itself. */

/* First input plane of branch br of image b, its C planes contiguous. */
static float *branch_image(layer l, gcconv_state *s, float *input, float *gathered, int b, int br)
{
    size_t plane = (size_t)l.h * l.w;
    if (gathered) return gathered + ((size_t)b * s->K + br) * s->C * plane;
    return input + (size_t)b * l.inputs;   /* expand, or K = 1 */
}

static void forward_branch_gpu(layer l, gcconv_state *s, float *input, float *gathered, float *workspace)
{
    int n = l.out_h * l.out_w, k = s->C * s->ss, row_stride = s->K * k;
    for (int b = 0; b < l.batch; ++b) {
        float *out = l.output_gpu + (size_t)b * l.outputs;
        for (int br = 0; br < s->K; ++br) {
            float *cols = columns_gpu(l, branch_image(l, s, input, gathered, b, br), s->C, workspace);
            gemm_gpu(0, 0, s->N, n, k, 1, s->H_gpu + br * k, row_stride, cols, n, 1, out + br * n, s->K * n);
        }
    }
}

static void backward_branch_gpu(layer l, gcconv_state *s, float *input, float *gathered, float *input_delta,
                                float *gathered_delta, float *workspace)
{
    int n = l.out_h * l.out_w, k = s->C * s->ss, row_stride = s->K * k;
    for (int b = 0; b < l.batch; ++b) {
        for (int br = 0; br < s->K; ++br) {
            float *delta = l.delta_gpu + (size_t)b * l.outputs + br * n;
            float *cols = columns_gpu(l, branch_image(l, s, input, gathered, b, br), s->C, workspace);
            gemm_gpu(0, 1, s->N, k, n, 1, delta, s->K * n, cols, n, 1, s->G_gpu + br * k, row_stride);
            if (!input_delta) continue;
            float *dx = branch_image(l, s, input_delta, gathered_delta, b, br);
            float *h = s->H_gpu + br * k;
            if (gcconv_is_pointwise(l)) {
                gemm_gpu(1, 0, k, n, s->N, 1, h, row_stride, delta, s->K * n, 1, dx, n);
            } else {
                gemm_gpu(1, 0, k, n, s->N, 1, h, row_stride, delta, s->K * n, 0, workspace, n);
                col2im_gpu(workspace, s->C, l.h, l.w, l.size, l.stride, l.pad, dx);
            }
        }
    }
}

/* ---- the batched path (src/gpu/batched_conv.h) ----------------------------------
 *
 * Full mixing is one convolution over the (replicated) input's planes;
 * branch mixing one per branch, reading its rows of H (row stride K rows)
 * and writing its output channels o*K+k (out_step K), each over the whole
 * batch. */

static gpu_conv_shape batched_shape(layer l, int planes, size_t in_image)
{
    gpu_conv_shape g = {l.batch, planes, l.h, l.w, l.size, l.stride, l.pad, l.out_h, l.out_w,
                        gcconv_is_pointwise(l), 1, in_image, (size_t)l.outputs, 0, 1};
    return g;
}

static void full_batched_gpu(layer l, gcconv_state *s, float *input, float *input_delta, int backward)
{
    gpu_conv_shape g = batched_shape(l, s->planes, (size_t)s->planes * l.h * l.w);
    int k = s->planes * s->ss;
    if (backward) gpu_conv_backward(&g, l.n, s->H_gpu, k, input, l.delta_gpu, s->G_gpu, input_delta);
    else gpu_conv_forward(&g, l.n, s->H_gpu, k, input, l.output_gpu);
}

/* Gathered branches lie image by image, K*C planes each; otherwise every
 * branch reads the image itself. */
static void branch_batched_gpu(layer l, gcconv_state *s, float *input, float *gathered, float *input_delta,
                               float *gathered_delta, int backward)
{
    size_t plane = (size_t)l.h * l.w;
    int k = s->C * s->ss;
    gpu_conv_shape g = batched_shape(l, s->C, gathered ? (size_t)s->K * s->C * plane : (size_t)l.inputs);
    g.out_step = s->K;
    for (int br = 0; br < s->K; ++br) {
        g.out_first = br;
        float *x = branch_image(l, s, input, gathered, 0, br);
        if (!backward) {
            gpu_conv_forward(&g, s->N, s->H_gpu + br * k, s->K * k, x, l.output_gpu);
            continue;
        }
        float *dx = input_delta ? branch_image(l, s, input_delta, gathered_delta, 0, br) : NULL;
        gpu_conv_backward(&g, s->N, s->H_gpu + br * k, s->K * k, x, l.delta_gpu, s->G_gpu + br * k, dx);
    }
}

/* ---- the cuDNN path (CUDNN=1 builds, src/gpu/cudnn_conv.h) ------------------------
 *
 * Full mixing, and branch mixing whose branches all read the image itself,
 * are one convolution with H: H's rows are the output channels in order.
 * Gathered branches are a grouped convolution (K groups) in branch-major
 * order: H's rows o*K+k and the output channels o*K+k are put in that order
 * and back with the kernels of the gathering. */
#ifdef CUDNN
static void cudnn_pass(layer l, gcconv_state *s, int planes, int n, int groups, const float *x, const float *W,
                       float *y_or_dy, float *dW, float *dx, int backward)
{
    gpu_cudnn_shape shape = {l.batch, planes, l.h, l.w, n, l.size, l.stride, l.pad, groups, l.out_h, l.out_w};
    gpu_cudnn_conv_prepare(s->cudnn, shape);
    if (backward) gpu_cudnn_conv_backward(s->cudnn, x, y_or_dy, W, dW, dx);
    else gpu_cudnn_conv_forward(s->cudnn, x, W, y_or_dy);
}

static void branch_major_cudnn(layer l, gcconv_state *s, float *gathered, float *gathered_delta, int backward)
{
    int out_plane = l.out_h * l.out_w, row = s->C * s->ss, planes = s->K * s->C;
    float *h = s->branch_major_h_gpu, *g = h + s->nh, *y = s->branch_major_out_gpu;
    gc_gather_branches_gpu(s->H_gpu, h, 1, s->N, s->K, row);
    if (!backward) {
        fill_gpu(l.batch * l.outputs, 0, y, 1);
        cudnn_pass(l, s, planes, l.n, s->K, gathered, h, y, NULL, NULL, 0);
        gc_scatter_add_branches_gpu(y, l.output_gpu, l.batch, s->N, s->K, out_plane);
        return;
    }
    gc_gather_branches_gpu(l.delta_gpu, y, l.batch, s->N, s->K, out_plane);
    fill_gpu(s->nh, 0, g, 1);
    cudnn_pass(l, s, planes, l.n, s->K, gathered, h, y, g, gathered_delta, 1);
    gc_scatter_add_branches_gpu(g, s->G_gpu, 1, s->N, s->K, row);
}

static void conv_cudnn(layer l, gcconv_state *s, float *input, float *gathered, float *input_delta,
                       float *gathered_delta, int backward)
{
    if (gathered) {
        branch_major_cudnn(l, s, gathered, gathered_delta, backward);
        return;
    }
    float *y_or_dy = backward ? l.delta_gpu : l.output_gpu;
    cudnn_pass(l, s, s->planes, l.n, 1, input, s->H_gpu, y_or_dy, s->G_gpu, input_delta, backward);
}
#endif

/* The convolution with H by the chosen path.  input (and input_delta) are
 * the replicated planes for full mixing with expand; gathered (and
 * gathered_delta) the branch-major planes of gathered branches, or NULL. */
static void conv_with_h(layer l, gcconv_state *s, float *input, float *gathered, float *input_delta,
                        float *gathered_delta, float *workspace, int backward)
{
    gpu_conv_path path = gpu_conv_path_chosen();
#ifdef CUDNN
    if (path == GPU_CONV_CUDNN) {
        conv_cudnn(l, s, input, gathered, input_delta, gathered_delta, backward);
        return;
    }
#endif
    if (path == GPU_CONV_BATCHED && s->mixing == GC_MIX_FULL) {
        full_batched_gpu(l, s, input, input_delta, backward);
    } else if (path == GPU_CONV_BATCHED) {
        branch_batched_gpu(l, s, input, gathered, input_delta, gathered_delta, backward);
    } else if (s->mixing == GC_MIX_FULL) {
        if (backward) backward_full_gpu(l, s, input, input_delta, workspace);
        else forward_full_gpu(l, s, input, workspace);
    } else if (backward) {
        backward_branch_gpu(l, s, input, gathered, input_delta, gathered_delta, workspace);
    } else {
        forward_branch_gpu(l, s, input, gathered, workspace);
    }
}

/* ---- the layer's passes ------------------------------------------------------- */

/* Branch mixing without expand: the batch's input planes in branch-major
 * order (and a zeroed delta in that order when the input delta is wanted). */
static float *gathered_input(layer l, gcconv_state *s, float *input, int want_delta, float **gathered_delta)
{
    *gathered_delta = NULL;
    if (!s->branch_input_gpu) return NULL;
    int plane = l.h * l.w;
    gc_gather_branches_gpu(input, s->branch_input_gpu, l.batch, s->C, s->K, plane);
    if (want_delta) {
        fill_gpu(l.batch * s->C * s->K * plane, 0, s->branch_delta_gpu, 1);
        *gathered_delta = s->branch_delta_gpu;
    }
    return s->branch_input_gpu;
}

void forward_gcconv_layer_gpu(layer l, network net)
{
    gcconv_state *s = l.ext_data;
    fill_gpu(l.outputs * l.batch, 0, l.output_gpu, 1);
    if (s->K > 1) gc_build_kernel_gpu(l.weights_gpu, s->R_gpu, s->H_gpu, s->N, s->K, s->planes, s->ss);

    float *input = net.input_gpu, *unused;
    if (s->wide_input_gpu) {
        gc_replicate_gpu(net.input_gpu, s->wide_input_gpu, l.batch, s->C, s->K, l.h * l.w);
        input = s->wide_input_gpu;
    }
    float *gathered = gathered_input(l, s, net.input_gpu, 0, &unused);
    conv_with_h(l, s, input, gathered, NULL, NULL, net.workspace, 0);
    gpu_conv_finish_forward(l, net);
}

void backward_gcconv_layer_gpu(layer l, network net)
{
    gcconv_state *s = l.ext_data;
    gpu_conv_start_backward(l, net);

    /* K = 1: G is weight_updates, accumulated as [convolutional] does. */
    if (s->K > 1) fill_gpu(s->nh, 0, s->G_gpu, 1);

    float *input = s->wide_input_gpu ? s->wide_input_gpu : net.input_gpu;
    float *input_delta = net.delta_gpu, *gathered_delta;
    if (net.delta_gpu && s->wide_delta_gpu) {
        fill_gpu((int)input_planes_total(l, s), 0, s->wide_delta_gpu, 1);
        input_delta = s->wide_delta_gpu;
    }
    float *gathered = gathered_input(l, s, net.input_gpu, net.delta_gpu != NULL, &gathered_delta);
    conv_with_h(l, s, input, gathered, input_delta, gathered_delta, net.workspace, 1);
    if (net.delta_gpu && s->wide_delta_gpu)
        gc_sum_replicas_gpu(s->wide_delta_gpu, net.delta_gpu, l.batch, s->C, s->K, l.h * l.w);
    if (gathered_delta)
        gc_scatter_add_branches_gpu(gathered_delta, net.delta_gpu, l.batch, s->C, s->K, l.h * l.w);

    if (s->K > 1)
        gc_fold_gradient_gpu(s->G_gpu, l.weights_gpu, s->R_gpu, l.weight_updates_gpu, s->R_updates_gpu,
                             s->N, s->K, s->planes, s->ss);
}

/* optimizer_step() of optimizer.c, on device arrays. */
static void step_gpu(float *w, float *d, float *m, float *v, int n, float decay, update_args a, float lr_scale)
{
    if (!n || !w || !d) return;
    float rate = a.learning_rate * lr_scale;
    if (a.adam && m && v) {
        gc_adam_gpu(w, d, m, v, n, decay * a.batch, a.B1, a.B2, 1.f - powf(a.B1, a.t), 1.f - powf(a.B2, a.t),
                    a.eps, rate);
        return;
    }
    if (decay != 0) axpy_gpu(n, -decay * a.batch, w, 1, d, 1);
    axpy_gpu(n, rate / a.batch, d, 1, w, 1);
    scal_gpu(n, a.momentum, d, 1);
}

void update_gcconv_layer_gpu(layer l, update_args a)
{
    gcconv_state *s = l.ext_data;
    float scale = l.learning_rate_scale;
    step_gpu(l.biases_gpu, l.bias_updates_gpu, l.bias_m_gpu, l.bias_v_gpu, l.n, 0, a, scale);
    if (l.scales_gpu) step_gpu(l.scales_gpu, l.scale_updates_gpu, l.scale_m_gpu, l.scale_v_gpu, l.n, 0, a, scale);
    step_gpu(l.weights_gpu, l.weight_updates_gpu, l.m_gpu, l.v_gpu, l.nweights, a.decay, a, scale);
    float lr = a.learning_rate * scale;
    gc_calibrate_gpu(s->R_gpu, s->R_updates_gpu, s->K, s->ss, s->calib_rate * lr / a.batch);
}

#else
/* ISO C wants something in every translation unit. */
typedef int gclayer_gpu_unused;
#endif
