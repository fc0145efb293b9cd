/* fastconv.c: [convolutional] on the CPU with one matrix product per group
 * of images instead of one per image.
 *
 * Upstream runs im2col and a small gemm for every image of the batch.  Here
 * the im2col matrices of `chunk` images sit side by side (K rows of
 * chunk*out_h*out_w columns), so each pass is one large product that the
 * fast gemm splits across threads:
 *   forward:  out   = W * cols
 *   backward: dW   += delta * cols^T            (images in order)
 *             dcols = W^T * delta               (then col2im per image)
 * The outputs and deltas stay in image order: the gemm reads and writes them
 * through segmented views (fastgemm.h), one segment per image.
 * Because every element of a fast_gemm() product is one chain over k in
 * increasing order (fastgemm.c), these give the bits that per-image calls of
 * gemm_cpu() give, images taken in order; batch norm, bias and activation go
 * through the same public functions as upstream's layer.
 *
 * The group size follows the workspace: make_convolutional_layer() asks for
 * room for up to CHUNK_BYTES of columns and products (at least one image).
 * A layer whose workspace is smaller (resized, or made elsewhere), grouped
 * or binary convolutions, and the reference path run upstream's code.
 *
 * [gcconv] (gclayer.c) runs its dense convolution with H through
 * fastconv_forward() and fastconv_backward() as well, so that with K = 1 it
 * is [convolutional] to the bit. */
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "batchnorm_layer.h"
#include "convolutional_layer.h"
#include "cpu/fastconv.h"
#include "cpu/fastgemm.h"
#include "cpu/fastops.h"
#include "cpu/parallel.h"
#include "cpu/upstream_ref.h"
#include "cpu/winograd.h"

#ifndef CONV_CHUNK_KB
#define CONV_CHUNK_KB 1024
#endif
#define CHUNK_BYTES ((size_t)CONV_CHUNK_KB << 10)

/* The shape of a convolution, as [convolutional] and [gcconv] give it. */
static fastconv_shape shape_of(const layer *l)
{
    fastconv_shape g = {l->batch, l->c, l->h, l->w, l->n, l->size, l->stride, l->pad,
                        l->out_h, l->out_w, conv_is_pointwise(l->size, l->stride, l->pad), 0, 0};
    return g;
}

/* Bytes of workspace one image takes: its K x n columns and M x n products. */
static size_t bytes_per_image(const fastconv_shape *g)
{
    size_t k = (size_t)g->size * g->size * g->c, n = (size_t)g->out_h * g->out_w;
    return (k + g->n) * n * sizeof(float);
}

size_t fastconv_workspace(const fastconv_shape *g, size_t workspace_size)
{
    size_t per = bytes_per_image(g);
    size_t chunk = CHUNK_BYTES / per;
    if (chunk < 1) chunk = 1;
    if (chunk > (size_t)g->batch) chunk = g->batch;
    return chunk * per > workspace_size ? chunk * per : workspace_size;
}

static void set_workspace(layer *l)
{
    fastconv_shape g = shape_of(l);
    l->workspace_size = fastconv_workspace(&g, l->workspace_size);
}

size_t fastconv_group_bytes(void)
{
    return CHUNK_BYTES;
}

int fastconv_chunk(const fastconv_shape *g, size_t workspace_size)
{
    if (dn_reference()) return 0;
    size_t chunk = workspace_size / bytes_per_image(g);
    return chunk < (size_t)g->batch ? (int)chunk : g->batch;
}

/* Images per product, or 0 for upstream's path. */
static int chunk_of(const layer *l)
{
    if (l->groups != 1 || l->binary || l->xnor) return 0;
    fastconv_shape g = shape_of(l);
    return fastconv_chunk(&g, l->workspace_size);
}

/* The input of images [0, nb) as the K x nb*n matrix B of the product: for
 * 1x1 kernels at stride 1 without padding the input as it lies, K rows of n
 * per image (g->direct); otherwise the im2col columns of the images side by
 * side in cols.  (Upstream read every 1x1 layer's input as it lies;
 * patches/0091 keeps that to stride 1 without padding, as here.) */
static gemm_view input_matrix(const fastconv_shape *g, const float *in, int nb, float *cols)
{
    const int n = g->out_h * g->out_w, per = g->c * g->h * g->w;
    if (g->direct) return gemm_segmented(in, n, n, per);
    const int ld = nb * n;
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        im2col_rows(in + (size_t)b * per, g->c, g->h, g->w, g->size, g->stride, g->pad,
                    cols + (size_t)b * n, ld);
    return gemm_plain(cols, ld);
}

/* nb images of rows x n, stored one after the other, as a rows x nb*n matrix. */
static gemm_view images_matrix(const float *img, int rows, int n)
{
    return gemm_segmented(img, n, n, (size_t)rows * n);
}

/* Fewest columns a product should have: a 7x7 output is 49 columns a
 * image, which leaves the gemm's register tiles mostly empty (the head of a
 * two-stage detector after [roipool] runs one such image per ROI).  Images
 * are added to a product until it has this many columns, within
 * PRODUCT_BYTES of scratch.  Only the grouping of the products changes:
 * every output and input-delta element is one chain over k whatever the
 * group, and the weight gradient's chains run over the images in order
 * within the same slots as before (fastconv_backward), so the bits do not. */
#define MIN_PRODUCT_COLUMNS 1024
#define PRODUCT_BYTES ((size_t)16 << 20)

/* Images per product: at least chunk (what the workspace holds), more for
 * small outputs. */
static int product_width(const fastconv_shape *g, int chunk)
{
    const int n = g->out_h * g->out_w;
    int want = (MIN_PRODUCT_COLUMNS + n - 1) / n, room = (int)(PRODUCT_BYTES / bytes_per_image(g));
    if (want > room) want = room;
    if (want > g->batch) want = g->batch;
    return want > chunk ? want : chunk;
}

/* Room for one product's columns: the thread's own inside a parallel run
 * over groups, or when the product is wider than the workspace holds;
 * net.workspace otherwise. */
static float *group_workspace(const fastconv_shape *g, int width, int chunk, float *workspace)
{
    if (dn_in_parallel() || width > chunk) return dn_thread_scratch(bytes_per_image(g) * width);
    return workspace;
}

static int group_count(const fastconv_shape *g, int chunk)
{
    return (g->batch + chunk - 1) / chunk;
}

/* Output of images [b0, b0+nb). */
static void forward_group(const fastconv_shape *g, int b0, int nb, const float *weights, const float *input,
                          float *output, float *cols)
{
    const int M = g->n, K = g->size * g->size * g->c, n = g->out_h * g->out_w;
    const size_t in_per = (size_t)g->c * g->h * g->w;
    gemm_view b = input_matrix(g, input + (size_t)b0 * in_per, nb, cols);
    fast_gemm_view(0, 0, M, nb * n, K, 1, gemm_plain(weights, K), b, 0,
                   images_matrix(output + (size_t)b0 * M * n, M, n));
}

/* Winograd's algorithm when the network asks for it and the shape allows,
 * outside parallel regions (winograd.c keeps its own buffers). */
static int takes_winograd(const fastconv_shape *g)
{
    return g->winograd && winograd_shape(g->size, g->stride, g->pad) && !dn_reference() && !dn_in_parallel();
}

/* Groups run in parallel, each on one thread: an output element is the same
 * chain whichever thread computes it.  (One group: the product's own
 * threads.) */
void fastconv_forward(const fastconv_shape *g, int chunk, const float *weights, const float *input,
                      float *output, float *workspace)
{
    if (takes_winograd(g)) {
        winograd_forward(g->batch, g->c, g->h, g->w, g->n, weights, input, output);
        return;
    }
    const int width = product_width(g, chunk), groups = group_count(g, width);
    #pragma omp parallel for schedule(dynamic, 1) if (groups > 1)
    for (int gi = 0; gi < groups; ++gi) {
        int b0 = gi * width, nb = g->batch - b0 < width ? g->batch - b0 : width;
        forward_group(g, b0, nb, weights, input, output, group_workspace(g, width, chunk, workspace));
    }
}

/* Column gradients (K x nb*n, in cols) back into the input delta of images
 * [0, nb): col2im adds them, as upstream does. */
static void add_column_gradients(const fastconv_shape *g, const float *cols, int nb, float *dx)
{
    const int n = g->out_h * g->out_w, ld = nb * n;
    const size_t in_per = (size_t)g->c * g->h * g->w;
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        col2im_rows(cols + (size_t)b * n, ld, g->c, g->h, g->w, g->size, g->stride, g->pad,
                    dx + (size_t)b * in_per);
}

/* Upstream adds a 1x1 input delta only with add_direct; otherwise it writes
 * the product straight into each image's delta (K rows of n from the start
 * of the image), which a segmented view of the delta takes directly. */
static void direct_input_delta(const fastconv_shape *g, const float *weights, gemm_view dprod, int nb,
                               float *dx, float *workspace)
{
    const int M = g->n, K = g->c, n = g->out_h * g->out_w, ld = nb * n;
    const size_t in_per = (size_t)g->c * g->h * g->w;
    if (!g->add_direct) {
        fast_gemm_view(1, 0, K, ld, M, 1, gemm_plain(weights, K), dprod, 0, gemm_segmented(dx, n, n, in_per));
        return;
    }
    /* Added: onto a zeroed delta this gives the bits written above (a
     * product chain that starts at +0 never ends at -0). */
    fast_gemm_view(1, 0, K, ld, M, 1, gemm_plain(weights, K), dprod, 0, gemm_plain(workspace, ld));
    #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * K * n >= 32768)
    for (int b = 0; b < nb; ++b)
        for (int r = 0; r < K; ++r) {
            float *d = dx + (size_t)b * in_per + (size_t)r * n;
            const float *s = workspace + (size_t)r * ld + (size_t)b * n;
            for (int i = 0; i < n; ++i) d[i] += s[i];
        }
}

/* Weight gradients (into dw, continuing its chains, or starting them with
 * fresh) and input delta of images [b0, b0+nb). */
static void backward_group(const fastconv_shape *g, int b0, int nb, const float *weights, const float *input,
                           const float *delta, float *dw, int fresh, float *input_delta, float *cols)
{
    const int M = g->n, K = g->size * g->size * g->c, n = g->out_h * g->out_w, ld = nb * n;
    const size_t in_per = (size_t)g->c * g->h * g->w;
    gemm_view b = input_matrix(g, input + (size_t)b0 * in_per, nb, cols);
    gemm_view dprod = images_matrix(delta + (size_t)b0 * M * n, M, n);
    fast_gemm_view(0, 1, M, K, ld, 1, dprod, b, fresh ? 0 : 1, gemm_plain(dw, K));
    if (!input_delta) return;
    float *dx = input_delta + (size_t)b0 * in_per;
    if (g->direct) {
        direct_input_delta(g, weights, dprod, nb, dx, cols);
        return;
    }
    /* The columns are spent; their room takes the column gradients. */
    fast_gemm_view(1, 0, K, ld, M, 1, gemm_plain(weights, K), dprod, 0, gemm_plain(cols, ld));
    add_column_gradients(g, cols, nb, dx);
}

/* The groups of chunk images are dealt to slots of consecutive groups
 * (parallel.h); the slots run in parallel, each summing its own weight
 * gradient over its images in order, in products of up to product_width()
 * images, and the slot sums are added to weight_updates in slot order.
 * How the sums are split depends on the batch and the shapes only, so the
 * bits do not depend on the thread count nor on the products' width.  With
 * one slot the chains run over the images in order, as per-image products
 * give. */
void fastconv_backward(const fastconv_shape *g, int chunk, const float *weights, const float *input,
                       const float *delta, float *weight_updates, float *input_delta, float *workspace)
{
    if (takes_winograd(g)) {
        winograd_backward(g->batch, g->c, g->h, g->w, g->n, weights, input, delta, weight_updates, input_delta);
        return;
    }
    const size_t wsize = (size_t)g->n * g->size * g->size * g->c;
    const int width = product_width(g, chunk);
    const int groups = group_count(g, chunk), slots = dn_slot_count(groups, wsize * sizeof(float));
    float *partial = slots > 1 ? dn_shared_scratch(slots * wsize * sizeof(float)) : NULL;
    #pragma omp parallel for schedule(dynamic, 1) if (slots > 1)
    for (int s = 0; s < slots; ++s) {
        int first = (int)((long)groups * s / slots) * chunk, last = (int)((long)groups * (s + 1) / slots) * chunk;
        if (last > g->batch) last = g->batch;
        float *dw = slots > 1 ? partial + s * wsize : weight_updates;
        float *cols = group_workspace(g, width, chunk, workspace);
        for (int b0 = first; b0 < last; b0 += width) {
            int nb = last - b0 < width ? last - b0 : width;
            backward_group(g, b0, nb, weights, input, delta, dw, slots > 1 && b0 == first, input_delta, cols);
        }
    }
    if (slots == 1) return;
    #pragma omp parallel for schedule(static) if (wsize * slots >= 65536)
    for (size_t i = 0; i < wsize; ++i) {
        float sum = weight_updates[i];
        for (int s = 0; s < slots; ++s) sum += partial[s * wsize + i];
        weight_updates[i] = sum;
    }
}

void forward_convolutional_layer(convolutional_layer l, network net)
{
    int chunk = chunk_of(&l);
    if (!chunk) { upstream_forward_convolutional_layer(l, net); return; }
    fastconv_shape g = shape_of(&l);
    g.winograd = conv_wants_winograd(net.ext);
    float *products = fast_bn_products(l);
    fastconv_forward(&g, chunk, l.weights, net.input, products, net.workspace);
    if (l.batch_normalize) fast_bn_activate_forward(l, net);
    else fast_bias_activate_forward(l);
}

void backward_convolutional_layer(convolutional_layer l, network net)
{
    int chunk = chunk_of(&l);
    if (!chunk) { upstream_backward_convolutional_layer(l, net); return; }
    if (l.batch_normalize) fast_bn_activate_backward(l, net);
    else fast_bias_activate_backward(l);
    fastconv_shape g = shape_of(&l);
    g.winograd = conv_wants_winograd(net.ext);
    fastconv_backward(&g, chunk, l.weights, net.input, l.delta, l.weight_updates, net.delta, net.workspace);
}

convolutional_layer make_convolutional_layer(int batch, int h, int w, int c, int n,
        int groups, int size, int stride, int padding, ACTIVATION activation,
        int batch_normalize, int binary, int xnor, int adam)
{
    convolutional_layer l = upstream_make_convolutional_layer(batch, h, w, c, n, groups, size,
            stride, padding, activation, batch_normalize, binary, xnor, adam);
    l.forward = forward_convolutional_layer;
    l.backward = backward_convolutional_layer;
    set_workspace(&l);
    return l;
}

void resize_convolutional_layer(convolutional_layer *l, int w, int h)
{
    upstream_resize_convolutional_layer(l, w, h);
    set_workspace(l);
}
