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
 * or binary convolutions, and the reference path run upstream's code. */
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "batchnorm_layer.h"
#include "convolutional_layer.h"
#include "fastgemm.h"
#include "fastops.h"
#include "parallel.h"
#include "upstream_ref.h"

#ifndef CONV_CHUNK_MB
#define CONV_CHUNK_MB 32
#endif
#define CHUNK_BYTES ((size_t)CONV_CHUNK_MB << 20)

/* Bytes of workspace one image takes: its K x n columns and M x n products. */
static size_t bytes_per_image(const layer *l)
{
    size_t k = (size_t)l->size * l->size * l->c, n = (size_t)l->out_h * l->out_w;
    return (k + l->n) * n * sizeof(float);
}

static void set_workspace(layer *l)
{
    size_t per = bytes_per_image(l);
    size_t chunk = CHUNK_BYTES / per;
    if (chunk < 1) chunk = 1;
    if (chunk > (size_t)l->batch) chunk = l->batch;
    if (chunk * per > l->workspace_size) l->workspace_size = chunk * per;
}

/* Images per product, or 0 for upstream's path. */
static int chunk_of(const layer *l)
{
    if (dn_reference() || l->groups != 1 || l->binary || l->xnor) return 0;
    size_t chunk = l->workspace_size / bytes_per_image(l);
    return chunk < (size_t)l->batch ? (int)chunk : l->batch;
}

/* Columns of images [0, nb) of `in`, side by side (row stride ld).  For 1x1
 * kernels upstream multiplies the input as it lies, as a K x n matrix,
 * whatever the stride, and so does this. */
static void gather_cols(const layer *l, const float *in, int nb, float *cols, int ld)
{
    const int n = l->out_h * l->out_w, per = l->c * l->h * l->w;
    if (l->size == 1) {
        #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * per >= 32768)
        for (int b = 0; b < nb; ++b)
            for (int c = 0; c < l->c; ++c)
                memcpy(cols + (size_t)c * ld + (size_t)b * n, in + (size_t)b * per + (size_t)c * n,
                       n * sizeof(float));
        return;
    }
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        im2col_rows(in + (size_t)b * per, l->c, l->h, l->w, l->size, l->stride, l->pad,
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

void forward_convolutional_layer(convolutional_layer l, network net)
{
    int chunk = chunk_of(&l);
    if (!chunk) { upstream_forward_convolutional_layer(l, net); return; }
    const int M = l.n, K = l.size * l.size * l.c, n = l.out_h * l.out_w;
    const int in_per = l.c * l.h * l.w;
    for (int b0 = 0; b0 < l.batch; b0 += chunk) {
        int nb = l.batch - b0 < chunk ? l.batch - b0 : chunk;
        int ld = nb * n;
        float *cols = net.workspace, *prod = net.workspace + (size_t)K * ld;
        gather_cols(&l, net.input + (size_t)b0 * in_per, nb, cols, ld);
        fast_gemm(0, 0, M, ld, K, 1, l.weights, K, cols, ld, 0, prod, ld);
        to_images(prod, M, nb, n, ld, l.output + (size_t)b0 * M * n);
    }
    if (l.batch_normalize) forward_batchnorm_layer(l, net);
    else add_bias(l.output, l.biases, l.batch, l.n, n);
    activate_array(l.output, l.outputs * l.batch, l.activation);
}

void backward_convolutional_layer(convolutional_layer l, network net)
{
    int chunk = chunk_of(&l);
    if (!chunk) { upstream_backward_convolutional_layer(l, net); return; }
    const int M = l.n, K = l.size * l.size * l.c, n = l.out_h * l.out_w;
    const int in_per = l.c * l.h * l.w;

    gradient_array(l.output, l.outputs * l.batch, l.activation, l.delta);
    if (l.batch_normalize) backward_batchnorm_layer(l, net);
    else backward_bias(l.bias_updates, l.delta, l.batch, l.n, n);

    for (int b0 = 0; b0 < l.batch; b0 += chunk) {
        int nb = l.batch - b0 < chunk ? l.batch - b0 : chunk;
        int ld = nb * n;
        float *cols = net.workspace, *dprod = net.workspace + (size_t)K * ld;
        gather_cols(&l, net.input + (size_t)b0 * in_per, nb, cols, ld);
        from_images(l.delta + (size_t)b0 * M * n, M, nb, n, ld, dprod);
        fast_gemm(0, 1, M, K, ld, 1, dprod, ld, cols, ld, 1, l.weight_updates, K);
        if (!net.delta) continue;
        /* The columns are spent; their room takes the column gradients. */
        fast_gemm(1, 0, K, ld, M, 1, l.weights, K, dprod, ld, 0, cols, ld);
        float *dx = net.delta + (size_t)b0 * in_per;
        if (l.size == 1) {
            /* Upstream writes (not adds) the product at the start of each
             * image's delta: K rows of n. */
            #pragma omp parallel for collapse(2) schedule(static) if ((long)nb * K * n >= 32768)
            for (int b = 0; b < nb; ++b)
                for (int r = 0; r < K; ++r)
                    memcpy(dx + (size_t)b * in_per + (size_t)r * n, cols + (size_t)r * ld + (size_t)b * n,
                           n * sizeof(float));
        } else {
            #pragma omp parallel for schedule(static) if (nb > 1)
            for (int b = 0; b < nb; ++b)
                col2im_rows(cols + (size_t)b * n, ld, l.c, l.h, l.w, l.size, l.stride, l.pad,
                            dx + (size_t)b * in_per);
        }
    }
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
