/* gclayer.c: the [gcconv] layer (see gclayer.h and docs/gcconv.md).
 *
 * Everything heavy is the convolution [convolutional] runs, on the
 * effective kernel H: with mixing=full the batched im2col + gemm of
 * fastconv.c (per image, upstream's im2col_cpu + gemm order, on the
 * reference path), or for K > 1 on the fast path the products per kernel
 * pixel of gcfactor.c, which never build H; with mixing=branch one product
 * per branch for a group of images (below).  What is ours is
 * O(parameters): building H from w and R, folding G = dL/dH back onto w
 * and R, and the R step. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "col2im.h"
#include "convolutional_layer.h"
#include "gemm.h"
#include "im2col.h"
#include "utils.h"

#include "cpu/fastconv.h"
#include "cpu/fastgemm.h"
#include "cpu/fastops.h"
#include "gclayer.h"
#include "gcconv/gclayer_gpu.h"
#include "input/cfgcheck.h"
#include "input/cfgopt.h"
#include "gcconv/gcfactor.h"
#include "optim/optimizer.h"
#include "checked.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static void *alloc_floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) malloc_error();
    return p;
}

static float *realloc_floats(float *p, size_t n)
{
    if (!p) return NULL;
    p = realloc(p, (n ? n : 1) * sizeof(float));
    if (!p) malloc_error();
    return p;
}

/* R is the array [gcconv] trains beyond w, the biases and the batch-norm
 * scales; gcconv_calibrate applies its updates. */
static int gcconv_arrays(layer l, ext_array *out)
{
    gcconv_state *s = gcconv_state_of(l);
    out[0] = (ext_array){"R", s->R, s->R_updates, s->K * s->ss, NULL, NULL};
#ifdef GPU
    out[0].values_gpu = s->R_gpu;
    out[0].updates_gpu = s->R_updates_gpu;
#endif
    return 1;
}

/* Multiply-adds of one image's forward pass, as the CPU runs it (full
 * mixing with expand over the replicated input). */
static double gcconv_multiply_adds(layer l)
{
    gcconv_state *s = gcconv_state_of(l);
    return (double)l.out_h * l.out_w * l.n * s->planes * s->ss;
}

/* A 1x1 kernel with stride 1 and no padding reads the image as it is, so
 * im2col would only copy it.  (Upstream skips im2col for every 1x1 kernel,
 * which is wrong with stride > 1; here the stride and padding are checked.) */
/* ---- R: normalisation and initialisation ------------------------------ */

void gcconv_normalize_r(float *R, int K, int ss)
{
    for (int p = 0; p < ss; ++p) {
        float sum = 0;
        for (int k = 0; k < K; ++k) {
            R[k * ss + p] = fabsf(R[k * ss + p]);
            sum += R[k * ss + p];
        }
        for (int k = 0; k < K; ++k) {
            /* An all-zero pixel carries no preference: share it evenly. */
            R[k * ss + p] = sum > 1e-12f ? R[k * ss + p] / sum : 1.0f / K;
        }
    }
}

/* Real part of a Gabor filter at orientation theta, wavelength = kernel
 * size, one-octave bandwidth (sigma = 0.56 lambda), aspect 0.5. */
static float gabor_value(int x, int y, int size, float theta)
{
    float centre = 0.5f * (size - 1);
    float xc = x - centre, yc = y - centre;
    float xr = xc * cosf(theta) + yc * sinf(theta);
    float yr = -xc * sinf(theta) + yc * cosf(theta);
    float lambda = size > 1 ? (float)size : 2.0f;
    float sigma = 0.56f * lambda;
    float gamma = 0.5f;
    return expf(-(xr * xr + gamma * gamma * yr * yr) / (2 * sigma * sigma)) *
           cosf(2 * (float)M_PI * xr / lambda);
}

/* K orientations theta_k = k*pi/K, min-max scaled over the whole bank into
 * [0.1, 1] so that every entry is positive before normalisation. */
static void init_r_gabor(float *R, int K, int size)
{
    int ss = size * size;
    for (int k = 0; k < K; ++k)
        for (int y = 0; y < size; ++y)
            for (int x = 0; x < size; ++x)
                R[k * ss + y * size + x] = gabor_value(x, y, size, (float)M_PI * k / K);
    float lo = R[0], hi = R[0];
    for (int i = 1; i < K * ss; ++i) {
        if (R[i] < lo) lo = R[i];
        if (R[i] > hi) hi = R[i];
    }
    for (int i = 0; i < K * ss; ++i) {
        R[i] = hi - lo > 1e-12f ? 0.1f + 0.9f * (R[i] - lo) / (hi - lo) : 1.0f;
    }
}

static void init_r(float *R, int K, int size, gc_r_init how, rng *g)
{
    int n = K * size * size;
    if (how == GC_R_GABOR) {
        init_r_gabor(R, K, size);
    } else if (how == GC_R_UNIFORM) {
        for (int i = 0; i < n; ++i) R[i] = 1;
    } else {
        /* Positive and unequal: equal R on a replicated input would keep
         * every branch identical forever. */
        for (int i = 0; i < n; ++i) R[i] = rng_uniform_range(g, 0.5f, 1.5f);
    }
    gcconv_normalize_r(R, K, size * size);
}

/* He initialisation of H, fan-in = planes*s*s.  H = R*w with R about 1/K,
 * so w is drawn K times larger.  With K = 1 this is [convolutional]'s. */
static void init_w(layer l, gcconv_state *s, rng *g)
{
    float scale = s->K * sqrtf(2.0f / (s->planes * s->ss));
    for (int i = 0; i < l.nweights; ++i) l.weights[i] = scale * rng_normal(g);
}

/* ---- making the layer ------------------------------------------------- */

static void alloc_batchnorm(layer *l)
{
    int n = l->n;
    l->scales = alloc_floats(n);
    l->scale_updates = alloc_floats(n);
    for (int i = 0; i < n; ++i) l->scales[i] = 1;
    l->mean = alloc_floats(n);
    l->variance = alloc_floats(n);
    l->mean_delta = alloc_floats(n);
    l->variance_delta = alloc_floats(n);
    l->rolling_mean = alloc_floats(n);
    l->rolling_variance = alloc_floats(n);
    l->x = alloc_floats((size_t)l->batch * l->outputs);
    l->x_norm = alloc_floats((size_t)l->batch * l->outputs);
}

static void alloc_adam(layer *l)
{
    l->m = alloc_floats(l->nweights);
    l->v = alloc_floats(l->nweights);
    l->bias_m = alloc_floats(l->n);
    l->bias_v = alloc_floats(l->n);
    l->scale_m = alloc_floats(l->n);
    l->scale_v = alloc_floats(l->n);
}

static void set_geometry(layer *l, int w, int h)
{
    l->w = w;
    l->h = h;
    l->out_w = (w + 2 * l->pad - l->size) / l->stride + 1;
    l->out_h = (h + 2 * l->pad - l->size) / l->stride + 1;
    l->outputs = l->out_h * l->out_w * l->out_c;
    l->inputs = l->w * l->h * l->c;
}

/* im2col of `planes` channels; the forward and backward passes share it. */
static size_t workspace_bytes(layer l, gcconv_state *s)
{
    return (size_t)l.out_h * l.out_w * s->ss * s->planes * sizeof(float);
}

/* The dense convolution (one branch's, with mixing=branch) as the batched
 * path (fastconv.c) sees it: with full mixing the one [convolutional] runs,
 * so that K = 1 gives its bits.  The input delta of a pointwise kernel is
 * added, as col2im adds the others. */
static fastconv_shape conv_shape(layer l, gcconv_state *s)
{
    int full = s->mixing == GC_MIX_FULL;
    fastconv_shape g = {l.batch, s->planes, l.h, l.w, full ? l.n : s->N, l.size,
                        l.stride, l.pad, l.out_h, l.out_w, gcconv_is_pointwise(l), 1, s->winograd};
    return g;
}

static size_t conv_workspace(layer l, gcconv_state *s)
{
    fastconv_shape g = conv_shape(l, s);
    size_t bytes = workspace_bytes(l, s);
    if (s->mixing == GC_MIX_FULL && s->K > 1) {
        size_t factored = gcfactor_workspace(l, s);
        if (factored > bytes) bytes = factored;
    }
    return fastconv_workspace(&g, bytes);
}

static void alloc_scratch(layer l, gcconv_state *s)
{
    size_t plane = (size_t)l.h * l.w;
    if (gcconv_needs_wide_buffers(s)) {
        s->wide_input = alloc_floats((size_t)l.batch * s->C * s->K * plane);
        s->wide_delta = alloc_floats((size_t)l.batch * s->C * s->K * plane);
    }
}

static gcconv_state *new_state(gcconv_options o, int c)
{
    gcconv_state *s = calloc(1, sizeof(*s));
    if (!s) malloc_error();
    s->K = o.branches;
    s->C = o.expand ? c : c / o.branches;
    s->N = o.filters;
    s->mixing = o.mixing;
    s->expand = o.expand;
    s->calib_rate = o.calib_rate;
    s->planes = o.mixing == GC_MIX_FULL ? s->C * s->K : s->C;
    s->ss = o.size * o.size;
    s->R = alloc_floats(s->K * s->ss);
    s->R_updates = alloc_floats(s->K * s->ss);
    s->nh = s->N * s->K * s->planes * s->ss;
    return s;
}

layer make_gcconv_layer(gcconv_options o, int batch, int h, int w, int c, network *net)
{
    gcconv_state *s = new_state(o, c);
    layer l = {0};
    l.type = EXTENSION;
    l.ext = &gcconv_ext;
    l.ext_data = s;
    l.batch = batch;
    l.c = c;
    l.n = s->N * s->K;
    l.out_c = l.n;
    l.groups = 1;
    l.size = o.size;
    l.stride = o.stride;
    l.pad = o.padding;
    l.batch_normalize = o.batch_normalize;
    l.activation = o.activation;
    set_geometry(&l, w, h);

    l.nweights = s->N * s->planes * s->ss;
    l.weights = alloc_floats(l.nweights);
    l.weight_updates = alloc_floats(l.nweights);
    l.nbiases = l.n;
    l.biases = alloc_floats(l.n);
    l.bias_updates = alloc_floats(l.n);
    l.output = alloc_floats((size_t)l.batch * l.outputs);
    l.delta = alloc_floats((size_t)l.batch * l.outputs);
    if (l.batch_normalize) alloc_batchnorm(&l);
    if (net->adam) alloc_adam(&l);

    if (s->K == 1) {
        s->H = l.weights;
        s->G = l.weight_updates;
    } else {
        s->H = alloc_floats(s->nh);
        s->G = alloc_floats(s->nh);
    }
    alloc_scratch(l, s);

    rng *g = net_rng(net, RNG_INIT);
    init_w(l, s, g);
    init_r(s->R, s->K, o.size, o.r_init, g);

    l.workspace_size = conv_workspace(l, s);
    l.forward = forward_gcconv_layer;
    l.backward = backward_gcconv_layer;
    l.update = update_gcconv_layer;
#ifdef GPU
    /* after the initialisation, so that the device starts from the same w and R */
    if (gpu_index >= 0) gcconv_make_gpu(&l);
#endif
    return l;
}

void resize_gcconv_layer(layer *l, int w, int h)
{
    gcconv_state *s = l->ext_data;
    set_geometry(l, w, h);
    size_t outs = (size_t)l->batch * l->outputs;
    l->output = realloc_floats(l->output, outs);
    l->delta = realloc_floats(l->delta, outs);
    l->x = realloc_floats(l->x, outs);
    l->x_norm = realloc_floats(l->x_norm, outs);
    free(s->wide_input);
    free(s->wide_delta);
    s->wide_input = s->wide_delta = NULL;
    alloc_scratch(*l, s);
    l->workspace_size = conv_workspace(*l, s);
#ifdef GPU
    if (l->output_gpu) gcconv_resize_gpu(l);
#endif
}

/* ---- H from w and R, and G back onto w and R ---------------------------- */

/* H[o*K+k, j, p] = R[k,p] * w[o, j, p], j over the planes of one kernel row
 * (c*K+m for full mixing, c for branch mixing): the same loop serves both. */
static void build_kernel(layer l, gcconv_state *s)
{
    int row = s->planes * s->ss;
    for (int o = 0; o < s->N; ++o) {
        const float *w = l.weights + (size_t)o * row;
        for (int k = 0; k < s->K; ++k) {
            const float *r = s->R + k * s->ss;
            float *h = s->H + (size_t)(o * s->K + k) * row;
            for (int j = 0; j < s->planes; ++j)
                for (int p = 0; p < s->ss; ++p) h[j * s->ss + p] = r[p] * w[j * s->ss + p];
        }
    }
}

/* dw[o,j,p] += sum_k G[o*K+k, j, p] R[k,p];  dR[k,p] += sum_{o,j} G[o*K+k, j, p] w[o,j,p].
 * G already holds minus the gradient, so both stay in Darknet's sign. */
static void fold_gradient(layer l, gcconv_state *s)
{
    int row = s->planes * s->ss;
    for (int o = 0; o < s->N; ++o) {
        const float *w = l.weights + (size_t)o * row;
        float *dw = l.weight_updates + (size_t)o * row;
        for (int k = 0; k < s->K; ++k) {
            const float *r = s->R + k * s->ss;
            const float *g = s->G + (size_t)(o * s->K + k) * row;
            float *dr = s->R_updates + k * s->ss;
            for (int j = 0; j < s->planes; ++j) {
                for (int p = 0; p < s->ss; ++p) {
                    float gv = g[j * s->ss + p];
                    dw[j * s->ss + p] += gv * r[p];
                    dr[p] += gv * w[j * s->ss + p];
                }
            }
        }
    }
}

/* ---- expand: each input channel seen K times ------------------------------ */

static void replicate_input(layer l, gcconv_state *s, const float *input)
{
    size_t plane = (size_t)l.h * l.w;
    for (int b = 0; b < l.batch; ++b)
        for (int c = 0; c < s->C; ++c) {
            const float *src = input + ((size_t)b * s->C + c) * plane;
            for (int m = 0; m < s->K; ++m)
                memcpy(s->wide_input + (((size_t)b * s->C + c) * s->K + m) * plane, src,
                       plane * sizeof(float));
        }
}

/* The input delta of a replicated channel is the sum over its replicas. */
static void sum_replicas(layer l, gcconv_state *s, float *delta)
{
    size_t plane = (size_t)l.h * l.w;
    for (int b = 0; b < l.batch; ++b)
        for (int c = 0; c < s->C; ++c) {
            float *dst = delta + ((size_t)b * s->C + c) * plane;
            for (int m = 0; m < s->K; ++m)
                axpy_cpu(plane, 1, s->wide_delta + (((size_t)b * s->C + c) * s->K + m) * plane, 1, dst, 1);
        }
}

/* ---- mixing=full: one dense convolution with H ---------------------------- */

static float *columns(layer l, float *im, int planes, float *workspace)
{
    if (gcconv_is_pointwise(l)) return im;
    im2col_cpu(im, planes, l.h, l.w, l.size, l.stride, l.pad, workspace);
    return workspace;
}

static void forward_full(layer l, gcconv_state *s, float *input, float *workspace)
{
    fastconv_shape g = conv_shape(l, s);
    int chunk = fastconv_chunk(&g, l.workspace_size);
    if (chunk) {
        fastconv_forward(&g, chunk, s->H, input, l.output, workspace);
        return;
    }
    fill_cpu(l.outputs * l.batch, 0, l.output, 1);
    int m = l.n, k = s->planes * s->ss, n = l.out_h * l.out_w;
    size_t in_size = (size_t)s->planes * l.h * l.w;
    for (int b = 0; b < l.batch; ++b) {
        float *cols = columns(l, input + b * in_size, s->planes, workspace);
        gemm(0, 0, m, n, k, 1, s->H, k, cols, n, 1, l.output + (size_t)b * m * n, n);
    }
}

static void backward_full(layer l, gcconv_state *s, float *input, float *input_delta, float *workspace)
{
    fastconv_shape g = conv_shape(l, s);
    int chunk = fastconv_chunk(&g, l.workspace_size);
    if (chunk) {
        fastconv_backward(&g, chunk, s->H, input, l.delta, s->G, input_delta, workspace);
        return;
    }
    int m = l.n, k = s->planes * s->ss, n = l.out_h * l.out_w;
    size_t in_size = (size_t)s->planes * l.h * l.w;
    for (int b = 0; b < l.batch; ++b) {
        float *delta = l.delta + (size_t)b * m * n;
        float *cols = columns(l, input + b * in_size, s->planes, workspace);
        gemm(0, 1, m, k, n, 1, delta, n, cols, n, 1, s->G, k);
        if (!input_delta) continue;
        float *dx = input_delta + b * in_size;
        if (gcconv_is_pointwise(l)) {
            gemm(1, 0, k, n, m, 1, s->H, k, delta, n, 1, dx, n);
        } else {
            gemm(1, 0, k, n, m, 1, s->H, k, delta, n, 0, workspace, n);
            col2im_cpu(workspace, s->planes, l.h, l.w, l.size, l.stride, l.pad, dx);
        }
    }
}

/* ---- mixing=branch: K convolutions on interleaved channels --------------
 *
 * Branch k reads input channels c*K+k (or every channel, with expand) and
 * writes output channels o*K+k; its kernel rows are H rows o*K+k.  The
 * products read and write the outputs, deltas and H where they lie,
 * through views (fastgemm.h): one product per branch and group of images,
 * no copies.  Every element is still one chain over the images in order,
 * so a group gives the bits of per-image products.
 *
 * Each branch gathers its own C strided planes into its im2col rows, and
 * its products use them at once, while they are in the cache: a group
 * holds at most BRANCH_GROUP_BYTES of one branch's rows.  (Rows of every
 * branch written in one pass and used branch after branch, 1.2 MB for the
 * 16x16 K=4 shape of bench/gcconv_overhead.c, ran 7 % slower on the Intel
 * Xeon; so did groups of 3 images, with 0.9 MB of rows.)  With expand all
 * branches share one block of rows, built once per group. */

#define BRANCH_GROUP_BYTES ((size_t)512 << 10)

/* Images per product: as many as keep one branch's rows of the group
 * within BRANCH_GROUP_BYTES and the workspace holds (one on the reference
 * path, where the products are upstream's per-image gemm). */
static int branch_chunk(layer l, gcconv_state *s)
{
    fastconv_shape g = conv_shape(l, s);
    int chunk = fastconv_chunk(&g, l.workspace_size);
    if (!gcconv_is_pointwise(l)) {
        size_t rows = (size_t)s->C * s->ss * l.out_h * l.out_w * sizeof(float);
        int cached = (int)(BRANCH_GROUP_BYTES / rows);
        if (chunk > cached) chunk = cached;
    }
    return chunk > 0 ? chunk : 1;
}

/* Where branch br's planes start in an image, and how far apart they lie. */
static size_t branch_first(layer l, gcconv_state *s, int br)
{
    return s->expand ? 0 : (size_t)br * l.h * l.w;
}

static size_t branch_stride(layer l, gcconv_state *s)
{
    return (size_t)(s->expand ? 1 : s->K) * l.h * l.w;
}

/* Branch br's im2col rows of images [b0, b0+nb), side by side in cols (with
 * expand, every branch's). */
static void branch_columns(layer l, gcconv_state *s, int br, const float *input, int b0, int nb, float *cols)
{
    if (gcconv_is_pointwise(l)) return;
    int n = l.out_h * l.out_w, ld = nb * n;
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b) {
        const float *im = input + (size_t)(b0 + b) * l.inputs;
        im2col_planes(im + branch_first(l, s, br), branch_stride(l, s), s->C, l.h, l.w, l.size, l.stride,
                      l.pad, cols + (size_t)b * n, ld);
    }
}

/* Branch br's input for images [b0, b0+nb) as the C*ss x nb*n matrix of
 * the product: its im2col rows, or for a pointwise kernel its input planes
 * themselves. */
static gemm_view branch_input(layer l, gcconv_state *s, int br, const float *input, int b0, int nb,
                              float *cols)
{
    int n = l.out_h * l.out_w;
    if (gcconv_is_pointwise(l))
        return gemm_segmented(input + (size_t)b0 * l.inputs + branch_first(l, s, br), (int)branch_stride(l, s), n,
                              l.inputs);
    return gemm_plain(cols, nb * n);
}

/* Branch br's rows (output channels o*K+br) of the outputs or deltas of
 * images [b0, b0+nb), as an N x nb*n matrix. */
static gemm_view branch_rows(layer l, gcconv_state *s, int br, const float *out, int b0)
{
    int n = l.out_h * l.out_w;
    return gemm_segmented(out + (size_t)b0 * l.outputs + (size_t)br * n, s->K * n, n, l.outputs);
}

/* Branch br's kernel rows of H (or G): N x C*ss, K rows apart. */
static gemm_view branch_kernel(gcconv_state *s, const float *h, int br)
{
    int k = s->C * s->ss;
    return gemm_plain(h + (size_t)br * k, s->K * k);
}

static void forward_branch(layer l, gcconv_state *s, float *input, float *workspace)
{
    int n = l.out_h * l.out_w, k = s->C * s->ss, chunk = branch_chunk(l, s);
    for (int b0 = 0; b0 < l.batch; b0 += chunk) {
        int nb = l.batch - b0 < chunk ? l.batch - b0 : chunk;
        for (int br = 0; br < s->K; ++br) {
            if (br == 0 || !s->expand) branch_columns(l, s, br, input, b0, nb, workspace);
            gemm_view_cpu(0, 0, s->N, nb * n, k, 1, branch_kernel(s, s->H, br),
                          branch_input(l, s, br, input, b0, nb, workspace), 0, branch_rows(l, s, br, l.output, b0));
        }
    }
}

/* dL/dinput of branch br for images [b0, b0+nb): H_br^T delta, into the
 * columns' room (spent by now), then added into input_delta as col2im
 * adds. */
static void branch_input_delta(layer l, gcconv_state *s, int br, int b0, int nb, float *input_delta, float *cols)
{
    int n = l.out_h * l.out_w, k = s->C * s->ss, ld = nb * n;
    gemm_view delta = branch_rows(l, s, br, l.delta, b0), h = branch_kernel(s, s->H, br);
    float *dx = input_delta + (size_t)b0 * l.inputs + branch_first(l, s, br);
    if (gcconv_is_pointwise(l)) {
        gemm_view_cpu(1, 0, k, ld, s->N, 1, h, delta, 1, gemm_segmented(dx, (int)branch_stride(l, s), n, l.inputs));
        return;
    }
    gemm_view_cpu(1, 0, k, ld, s->N, 1, h, delta, 0, gemm_plain(cols, ld));
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        col2im_planes(cols + (size_t)b * n, ld, s->C, l.h, l.w, l.size, l.stride, l.pad,
                      dx + (size_t)b * l.inputs, branch_stride(l, s));
}

/* With expand the branches share the group's columns, so the input deltas
 * (which take over their room) wait for every branch's weight gradient. */
static void backward_branch(layer l, gcconv_state *s, float *input, float *input_delta, float *workspace)
{
    int n = l.out_h * l.out_w, k = s->C * s->ss, chunk = branch_chunk(l, s);
    for (int b0 = 0; b0 < l.batch; b0 += chunk) {
        int nb = l.batch - b0 < chunk ? l.batch - b0 : chunk;
        for (int br = 0; br < s->K; ++br) {
            if (br == 0 || !s->expand) branch_columns(l, s, br, input, b0, nb, workspace);
            gemm_view_cpu(0, 1, s->N, k, nb * n, 1, branch_rows(l, s, br, l.delta, b0),
                          branch_input(l, s, br, input, b0, nb, workspace), 1, branch_kernel(s, s->G, br));
            if (input_delta && !s->expand) branch_input_delta(l, s, br, b0, nb, input_delta, workspace);
        }
        if (input_delta && s->expand)
            for (int br = 0; br < s->K; ++br) branch_input_delta(l, s, br, b0, nb, input_delta, workspace);
    }
}

/* ---- the layer's passes ---------------------------------------------- */

void forward_gcconv_layer(layer l, network net)
{
    gcconv_state *s = l.ext_data;
    s->winograd = conv_wants_winograd(net.ext);
    int factored = gcfactor_applies(l, s);
    if (s->K > 1 && !factored) build_kernel(l, s);   /* K = 1: R = 1 and H is w itself */
    s->z_kept = 0;

    /* The passes below write their products where batch norm reads them. */
    layer to = l;
    to.output = fast_bn_products(l);
    if (s->mixing == GC_MIX_FULL) {
        float *input = net.input;
        if (s->wide_input) {
            replicate_input(l, s, net.input);
            input = s->wide_input;
        }
        if (factored) gcfactor_forward(to, s, input, net.workspace, net.train);
        else forward_full(to, s, input, net.workspace);
    } else {
        forward_branch(to, s, net.input, net.workspace);
    }

    if (l.batch_normalize) fast_bn_activate_forward(l, net);
    else fast_bias_activate_forward(l);
}

void backward_gcconv_layer(layer l, network net)
{
    gcconv_state *s = l.ext_data;
    s->winograd = conv_wants_winograd(net.ext);
    if (l.batch_normalize) fast_bn_activate_backward(l, net);
    else fast_bias_activate_backward(l);

    /* K = 1: G is weight_updates, accumulated as [convolutional] does.  The
     * factored passes fold onto w and R as they go, without G. */
    int factored = gcfactor_applies(l, s);
    if (s->K > 1 && !factored) {
        /* The forward pass may have taken the factored one (a switch to the
         * reference path in between). */
        if (s->mixing == GC_MIX_FULL) build_kernel(l, s);
        fill_cpu(s->nh, 0, s->G, 1);
    }

    if (s->mixing == GC_MIX_FULL) {
        float *input = s->wide_input ? s->wide_input : net.input;
        float *input_delta = net.delta;
        if (net.delta && s->wide_delta) {
            fill_cpu((size_t)l.batch * s->C * s->K * l.h * l.w, 0, s->wide_delta, 1);
            input_delta = s->wide_delta;
        }
        if (factored) gcfactor_backward(l, s, input, input_delta, net.workspace);
        else backward_full(l, s, input, input_delta, net.workspace);
        if (net.delta && s->wide_delta) sum_replicas(l, s, net.delta);
    } else {
        backward_branch(l, s, net.input, net.delta, net.workspace);
    }

    if (s->K > 1 && !factored) fold_gradient(l, s);
}

void gcconv_calibrate(gcconv_state *s, float rate)
{
    int n = s->K * s->ss;
    for (int i = 0; i < n; ++i) s->R[i] += rate * s->R_updates[i];
    gcconv_normalize_r(s->R, s->K, s->ss);   /* takes |R| first */
    fill_cpu(n, 0, s->R_updates, 1);
}

void update_gcconv_layer(layer l, update_args a)
{
    gcconv_state *s = l.ext_data;
    optimizer_update_layer(l, a);
    /* R follows the same learning rate (and the layer's learning_rate
     * scale) as the layer's other parameters, times calib_rate; no momentum
     * and no decay. */
    float lr = a.learning_rate * l.learning_rate_scale;
    gcconv_calibrate(s, s->calib_rate * lr / a.batch);
}

/* ---- cfg parsing --------------------------------------------------------- */

static const char *const mixing_names[] = {"full", "branch", NULL};
static const char *const r_init_names[] = {"random", "uniform", "gabor", NULL};
/* In the order of darknet.h's ACTIVATION, so the index is the value. */
static const char *const activation_names[] = {
    "logistic", "relu", "relie", "linear", "ramp", "tanh", "plse",
    "leaky", "elu", "loggy", "stair", "hardtan", "lhtan", "selu", NULL};

/* An error about a value the layer works out or checks against its input. */
static void fail_int(cfg_where w, const char *key, int value, const char *why)
{
    char text[32];
    snprintf(text, sizeof(text), "%d", value);
    cfg_fail(w, key, text, why);
}

/* expand= when the cfg does not say: 1 for layer 0 (the SPEC's default);
 * for the first [gcconv] further on, 1 when K does not divide its input
 * channels (cfgs that start with [crop], [maxpool] or a plain
 * [convolutional] still get their image replicated); 0 otherwise. */
static int default_expand(ext_params p, int branches)
{
    if (p.index == 0) return 1;
    for (int i = 0; i < p.index; ++i) {
        if (p.net->layers[i].type == EXTENSION && p.net->layers[i].ext == &gcconv_ext) return 0;
    }
    return p.c % branches != 0;
}

static gcconv_options read_options(list *options, ext_params p, cfg_where w)
{
    gcconv_options o;
    o.filters = cfg_int_min(options, "filters", 1, 1, w);
    o.size = cfg_int_min(options, "size", 1, 1, w);
    o.stride = cfg_int_min(options, "stride", 1, 1, w);
    int pad = cfg_flag(options, "pad", 0, w);
    o.padding = cfg_int_min(options, "padding", 0, 0, w);
    if (pad) o.padding = o.size / 2;
    o.batch_normalize = cfg_flag(options, "batch_normalize", 0, w);
    o.activation = (ACTIVATION)cfg_choice(options, "activation", activation_names, LOGISTIC, w);
    o.branches = cfg_int_min(options, "branches", 4, 1, w);
    o.mixing = (gc_mixing)cfg_choice(options, "mixing", mixing_names, GC_MIX_FULL, w);
    o.expand = cfg_flag(options, "expand", default_expand(p, o.branches), w);
    o.r_init = (gc_r_init)cfg_choice(options, "r_init", r_init_names, GC_R_RANDOM, w);
    o.calib_rate = cfg_float_min(options, "calib_rate", 1, 0, w);
    return o;
}

/* The layer keeps its element counts in int, as upstream's layers do: H,
 * the outputs of the batch and the replicated input must fit. */
static void check_counts(gcconv_options o, ext_params p, cfg_where w, list *options)
{
    double K = o.branches, C = o.expand ? p.c : p.c / o.branches;
    double planes = o.mixing == GC_MIX_FULL ? C * K : C;
    double kernel = (double)o.filters * K * planes * o.size * o.size;
    double ow = (p.w + 2.0 * o.padding - o.size) / o.stride + 1, oh = (p.h + 2.0 * o.padding - o.size) / o.stride + 1;
    double outputs = ow * oh * o.filters * K * p.batch;
    double wide = o.expand ? (double)p.w * p.h * p.c * K * p.batch : 0;
    if (kernel > INT_MAX || outputs > INT_MAX || wide > INT_MAX) {
        char why[200];
        snprintf(why, sizeof(why), "too large: %.0f kernel weights, %.0f outputs in the batch "
                 "(counts are kept in int)", kernel, outputs);
        fail_int(w, "filters", o.filters, why);
    }
    /* H and G, w and its updates, and the replicated input, against the
     * memory limit as upstream's layers are */
    cfgcheck_account_layer(options, p.batch, outputs / p.batch + wide / p.batch, 2 * kernel);
}

static void check_input(gcconv_options o, ext_params p, cfg_where w, list *options)
{
    if (!(p.h && p.w && p.c)) {
        dn_fatal("\n%s: section %d %s: the layer before does not output an image\n",
                p.cfgfile, p.index, p.section);
    }
    if (!o.expand && p.c % o.branches != 0) {
        char why[160];
        snprintf(why, sizeof(why),
                 "the input has %d channels, not a multiple of branches (set expand=1 to replicate it)", p.c);
        fail_int(w, "branches", o.branches, why);
    }
    if (p.w + 2 * o.padding < o.size || p.h + 2 * o.padding < o.size) {
        char why[160];
        snprintf(why, sizeof(why), "the kernel is larger than the padded %d x %d input", p.w, p.h);
        fail_int(w, "size", o.size, why);
    }
    check_counts(o, p, w, options);
}

static void print_row(layer l, gcconv_options o)
{
    gcconv_state *s = l.ext_data;
    double flops = 2.0 * l.n * s->planes * s->ss * l.out_h * l.out_w;
    fprintf(stderr, "gcconv K=%d %-6s %4d %2d x%2d /%2d  %4d x%4d x%4d   ->  %4d x%4d x%4d  %5.3f BFLOPs\n",
            s->K, mixing_names[o.mixing], s->N, l.size, l.size, l.stride, l.w, l.h, l.c,
            l.out_w, l.out_h, l.out_c, flops / 1e9);
}

static layer parse_gcconv(list *options, ext_params p)
{
    cfg_where w = {p.cfgfile, p.section, p.index};
    gcconv_options o = read_options(options, p, w);
    check_input(o, p, w, options);
    layer l = make_gcconv_layer(o, p.batch, p.h, p.w, p.c, p.net);
    print_row(l, o);
    return l;
}

/* ---- weights file ------------------------------------------------------- */

static void save_gcconv(layer l, FILE *fp)
{
    gcconv_state *s = l.ext_data;
#ifdef GPU
    /* training runs on the device: its arrays are the current ones */
    if (l.weights_gpu) gcconv_pull_gpu(l);
#endif
    fwrite(l.biases, sizeof(float), l.n, fp);
    if (l.batch_normalize) {
        fwrite(l.scales, sizeof(float), l.n, fp);
        fwrite(l.rolling_mean, sizeof(float), l.n, fp);
        fwrite(l.rolling_variance, sizeof(float), l.n, fp);
    }
    fwrite(l.weights, sizeof(float), l.nweights, fp);
    fwrite(s->R, sizeof(float), s->K * s->ss, fp);
}

typedef struct weights_source {
    FILE *fp;
    const char *file;
    int index;
} weights_source;

static void read_floats(weights_source src, float *dst, size_t n, const char *what)
{
    long at = ftell(src.fp);
    size_t got = fread(dst, sizeof(float), n, src.fp);
    if (got != n) {
        dn_fatal("\n%s: layer %d [gcconv]: %s needs %zu floats from byte %ld, "
                        "but the file ends at byte %ld (does it match the cfg?)\n",
                src.file, src.index, what, n, at, ftell(src.fp));
    }
}

/* A saved R is a calibration map; anything else means the file and the cfg
 * disagree on the layers before this one. */
static void check_loaded_r(weights_source src, const float *R, int K, int ss, long at)
{
    for (int p = 0; p < ss; ++p) {
        float sum = 0;
        int valid = 1;
        for (int k = 0; k < K; ++k) {
            float r = R[k * ss + p];
            valid &= isfinite(r) && r >= 0;
            sum += r;
        }
        if (!valid || fabsf(sum - 1) > 1e-3f) {
            dn_fatal("\n%s: layer %d [gcconv]: R read from byte %ld is not a "
                            "calibration map (R >= 0, summing to 1 over branches): the weights do not match the cfg\n",
                    src.file, src.index, at);
        }
    }
}

/* Normalise again, but leave a pixel that already sums to 1 up to float
 * rounding as it was saved: dividing by a sum of 1 +- 1 ulp would change
 * the last bit, and a save/load round trip must be exact. */
static void renormalize_loaded_r(float *R, int K, int ss)
{
    for (int p = 0; p < ss; ++p) {
        float sum = 0;
        for (int k = 0; k < K; ++k) sum += R[k * ss + p];
        if (fabsf(sum - 1) <= K * FLT_EPSILON) continue;
        float pixel[K];
        for (int k = 0; k < K; ++k) pixel[k] = R[k * ss + p];
        gcconv_normalize_r(pixel, K, 1);
        for (int k = 0; k < K; ++k) R[k * ss + p] = pixel[k];
    }
}

static void load_gcconv(layer l, FILE *fp, const char *file, int index)
{
    gcconv_state *s = l.ext_data;
    weights_source src = {fp, file, index};
    read_floats(src, l.biases, l.n, "biases");
    if (l.batch_normalize) {
        read_floats(src, l.scales, l.n, "scales");
        read_floats(src, l.rolling_mean, l.n, "rolling_mean");
        read_floats(src, l.rolling_variance, l.n, "rolling_variance");
    }
    read_floats(src, l.weights, l.nweights, "w");
    long r_at = ftell(fp);
    read_floats(src, s->R, s->K * s->ss, "R");
    check_loaded_r(src, s->R, s->K, s->ss, r_at);
    renormalize_loaded_r(s->R, s->K, s->ss);
#ifdef GPU
    if (l.weights_gpu) gcconv_push_gpu(l);
#endif
}

/* free_layer() frees the standard fields after this; only what it does
 * not know about is released here.  H and G are w and weight_updates when
 * K = 1, so they are freed only when they are our own. */
static void free_gcconv(layer l)
{
    gcconv_state *s = l.ext_data;
    if (!s) return;
#ifdef GPU
    gcconv_free_gpu(l);
#endif
    if (s->K > 1) {
        free(s->H);
        free(s->G);
    }
    free(s->R);
    free(s->R_updates);
    free(s->wide_input);
    free(s->wide_delta);
    free(s->w_by_pixel);
    free(s->kept_z);
    free(s);
    /* Adam moments that upstream's free_layer leaves behind. */
    free(l.bias_m);
    free(l.bias_v);
    free(l.scale_m);
    free(l.scale_v);
}

const layer_ext gcconv_ext = {
    "[gcconv]", parse_gcconv, save_gcconv, load_gcconv, resize_gcconv_layer, free_gcconv, NULL, NULL, NULL,
    gcconv_arrays, gcconv_multiply_adds,
};
