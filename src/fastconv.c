/* fastconv.c: [convolutional] on the CPU with one matrix product per group
 * of images instead of one per image.
 *
 * Upstream runs im2col and a small gemm for every image of the batch.  Here
 * the im2col matrices of `chunk` images sit side by side (K rows of
 * chunk*out_h*out_w columns), so each pass is one large product that the
 * fast gemm splits across threads:
 *   forward:  out   = W * cols                  (then scattered per image)
 *   backward: dW   += delta * cols^T            (images in order)
 *             dcols = W^T * delta               (then col2im per image)
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
#include "fastconv.h"
#include "fastgemm.h"
#include "fastops.h"
#include "parallel.h"
#include "upstream_ref.h"

#ifndef CONV_CHUNK_MB
#define CONV_CHUNK_MB 32
#endif
#define CHUNK_BYTES ((size_t)CONV_CHUNK_MB << 20)

/* The shape of a convolution, as [convolutional] and [gcconv] give it. */
static fastconv_shape shape_of(const layer *l)
{
    fastconv_shape g = {l->batch, l->c, l->h, l->w, l->n, l->size, l->stride, l->pad,
                        l->out_h, l->out_w, l->size == 1, 0};
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

/* Columns of images [0, nb) of `in`, side by side (row stride ld).  For 1x1
 * kernels upstream multiplies the input as it lies, as a K x n matrix,
 * whatever the stride (g->direct), and so does [convolutional]. */
static void gather_cols(const fastconv_shape *g, const float *in, int nb, float *cols, int ld)
{
    const int n = g->out_h * g->out_w, per = g->c * g->h * g->w;
    if (g->direct) {
        #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * per >= 32768)
        for (int b = 0; b < nb; ++b)
            for (int c = 0; c < g->c; ++c)
                memcpy(cols + (size_t)c * ld + (size_t)b * n, in + (size_t)b * per + (size_t)c * n,
                       n * sizeof(float));
        return;
    }
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        im2col_rows(in + (size_t)b * per, g->c, g->h, g->w, g->size, g->stride, g->pad,
                    cols + (size_t)b * n, ld);
}

/* rows x (nb*n) matrix <-> nb images of rows x n. */
static void to_images(const float *m, int rows, int nb, int n, int ld, float *img)
{
    #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * rows * n >= 32768)
    for (int b = 0; b < nb; ++b)
        for (int r = 0; r < rows; ++r)
            memcpy(img + ((size_t)b * rows + r) * n, m + (size_t)r * ld + (size_t)b * n, n * sizeof(float));
}

static void from_images(const float *img, int rows, int nb, int n, int ld, float *m)
{
    #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * rows * n >= 32768)
    for (int b = 0; b < nb; ++b)
        for (int r = 0; r < rows; ++r)
            memcpy(m + (size_t)r * ld + (size_t)b * n, img + ((size_t)b * rows + r) * n, n * sizeof(float));
}

void fastconv_forward(const fastconv_shape *g, int chunk, const float *weights, const float *input,
                      float *output, float *workspace)
{
    const int M = g->n, K = g->size * g->size * g->c, n = g->out_h * g->out_w;
    const size_t in_per = (size_t)g->c * g->h * g->w;
    for (int b0 = 0; b0 < g->batch; b0 += chunk) {
        int nb = g->batch - b0 < chunk ? g->batch - b0 : chunk;
        int ld = nb * n;
        float *cols = workspace, *prod = workspace + (size_t)K * ld;
        gather_cols(g, input + (size_t)b0 * in_per, nb, cols, ld);
        fast_gemm(0, 0, M, ld, K, 1, weights, K, cols, ld, 0, prod, ld);
        to_images(prod, M, nb, n, ld, output + (size_t)b0 * M * n);
    }
}

void fastconv_backward(const fastconv_shape *g, int chunk, const float *weights, const float *input,
                       const float *delta, float *weight_updates, float *input_delta, float *workspace)
{
    const int M = g->n, K = g->size * g->size * g->c, n = g->out_h * g->out_w;
    const size_t in_per = (size_t)g->c * g->h * g->w;
    for (int b0 = 0; b0 < g->batch; b0 += chunk) {
        int nb = g->batch - b0 < chunk ? g->batch - b0 : chunk;
        int ld = nb * n;
        float *cols = workspace, *dprod = workspace + (size_t)K * ld;
        gather_cols(g, input + (size_t)b0 * in_per, nb, cols, ld);
        from_images(delta + (size_t)b0 * M * n, M, nb, n, ld, dprod);
        fast_gemm(0, 1, M, K, ld, 1, dprod, ld, cols, ld, 1, weight_updates, K);
        if (!input_delta) continue;
        /* The columns are spent; their room takes the column gradients. */
        fast_gemm(1, 0, K, ld, M, 1, weights, K, dprod, ld, 0, cols, ld);
        float *dx = input_delta + (size_t)b0 * in_per;
        if (g->direct && !g->add_direct) {
            /* Upstream writes (not adds) the product at the start of each
             * image's delta: K rows of n. */
            #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * K * n >= 32768)
            for (int b = 0; b < nb; ++b)
                for (int r = 0; r < K; ++r)
                    memcpy(dx + (size_t)b * in_per + (size_t)r * n, cols + (size_t)r * ld + (size_t)b * n,
                           n * sizeof(float));
        } else if (g->direct) {
            /* Added: onto a zeroed delta this gives the bits written above
             * (a product chain that starts at +0 never ends at -0). */
            #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * K * n >= 32768)
            for (int b = 0; b < nb; ++b)
                for (int r = 0; r < K; ++r) {
                    float *d = dx + (size_t)b * in_per + (size_t)r * n;
                    const float *s = cols + (size_t)r * ld + (size_t)b * n;
                    for (int i = 0; i < n; ++i) d[i] += s[i];
                }
        } else {
            #pragma omp parallel for schedule(static) if (nb > 1)
            for (int b = 0; b < nb; ++b)
                col2im_rows(cols + (size_t)b * n, ld, g->c, g->h, g->w, g->size, g->stride, g->pad,
                            dx + (size_t)b * in_per);
        }
    }
}

void forward_convolutional_layer(convolutional_layer l, network net)
{
    int chunk = chunk_of(&l);
    if (!chunk) { upstream_forward_convolutional_layer(l, net); return; }
    fastconv_shape g = shape_of(&l);
    fastconv_forward(&g, chunk, l.weights, net.input, l.output, net.workspace);
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
