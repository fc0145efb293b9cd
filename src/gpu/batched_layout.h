/* batched_layout.h: what each element of the batched convolution's layout
 * kernels gets (batched_kernels.cu), as functions of one element index, so
 * that the CPU can run them too: tests/unit/test_batched_layout.c checks
 * them against upstream's im2col, col2im and per-image products.
 *
 * The columns and products of nb images are rows of ld = nb*n entries
 * (n = out_h*out_w); entry (r, b*n + j) is row r of image b at output
 * pixel j. */
#ifndef BATCHED_LAYOUT_H
#define BATCHED_LAYOUT_H
#include <stddef.h>

#include "gpu/batched_conv.h"

#ifdef __CUDACC__
#define LAYOUT_FN __host__ __device__ static inline
#else
#define LAYOUT_FN static inline
#endif

/* Column entry i: r = (ch*size + ky)*size + kx reads input pixel
 * (oy*stride - pad + ky, ox*stride - pad + kx) of plane ch, 0 outside;
 * direct kernels read the image's float r*n + j. */
LAYOUT_FN float batched_column(const gpu_conv_shape *g, const float *in, int nb, size_t i)
{
    size_t n = (size_t)g->out_h * g->out_w, ld = (size_t)nb * n;
    size_t r = i / ld, rest = i % ld;
    size_t b = rest / n, j = rest % n;
    const float *img = in + b * g->in_image;
    if (g->direct) return img[r * n + j];
    int kx = (int)(r % g->size), ky = (int)(r / g->size % g->size), ch = (int)(r / g->size / g->size);
    int ox = (int)(j % g->out_w), oy = (int)(j / g->out_w);
    int x = ox * g->stride - g->pad + kx, y = oy * g->stride - g->pad + ky;
    return (x >= 0 && x < g->w && y >= 0 && y < g->h) ? img[((size_t)ch * g->h + y) * g->w + x] : 0.f;
}

/* Input pixel i of images [0, nb) (i over nb*c*h*w): where its delta is,
 * and the sum of the column gradients of the entries that read it. */
LAYOUT_FN size_t batched_pixel_delta(const gpu_conv_shape *g, const float *dcols, int nb, size_t i, float *sum)
{
    size_t plane = (size_t)g->h * g->w, per = (size_t)g->c * plane;
    size_t n = (size_t)g->out_h * g->out_w, ld = (size_t)nb * n;
    size_t b = i / per, rest = i % per;
    int ch = (int)(rest / plane), y = (int)(rest % plane / g->w), x = (int)(rest % g->w);
    float s = 0;
    for (int ky = 0; ky < g->size; ++ky) {
        int ty = y + g->pad - ky;
        if (ty < 0 || ty % g->stride) continue;
        int oy = ty / g->stride;
        if (oy >= g->out_h) continue;
        for (int kx = 0; kx < g->size; ++kx) {
            int tx = x + g->pad - kx;
            if (tx < 0 || tx % g->stride) continue;
            int ox = tx / g->stride;
            if (ox >= g->out_w) continue;
            size_t r = ((size_t)ch * g->size + ky) * g->size + kx;
            s += dcols[r * ld + b * n + (size_t)oy * g->out_w + ox];
        }
    }
    *sum = s;
    return b * g->in_image + rest;
}

/* Direct kernels: where the delta of column entry i is (float r*n + j of image b). */
LAYOUT_FN size_t batched_direct_delta(const gpu_conv_shape *g, int nb, size_t i)
{
    size_t n = (size_t)g->out_h * g->out_w, ld = (size_t)nb * n;
    size_t r = i / ld, rest = i % ld;
    size_t b = rest / n, j = rest % n;
    return b * g->in_image + r * n + j;
}

/* Product entry i (filter o, image b, pixel j): its place among the
 * images' outputs or deltas, channel out_first + o*out_step. */
LAYOUT_FN size_t batched_product_place(const gpu_conv_shape *g, int nb, size_t i)
{
    size_t n = (size_t)g->out_h * g->out_w, ld = (size_t)nb * n;
    size_t o = i / ld, rest = i % ld;
    size_t b = rest / n, j = rest % n;
    return b * g->out_image + ((size_t)g->out_first + o * g->out_step) * n + j;
}

#endif
