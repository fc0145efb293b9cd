/* batched_conv.c: the batched convolution's passes (see batched_conv.h). */
#ifdef GPU

#include "darknet.h"
#include "cuda.h"
#include "gemm.h"

#include "gpu/batched_conv.h"

float *gpu_scratch(size_t floats)
{
    static float *block;
    static size_t have;
    if (floats > have) {
        if (block) cuda_free(block);
        block = cuda_make_array(NULL, floats);
        have = floats;
    }
    return block;
}

static int columns_per_image(const gpu_conv_shape *g)
{
    return g->c * g->size * g->size;
}

/* Images per group: as many as the columns and products of GPU_CONV_SCRATCH_FLOATS hold. */
static int group_images(const gpu_conv_shape *g, int M)
{
    size_t per = (size_t)(columns_per_image(g) + M) * g->out_h * g->out_w;
    size_t nb = per ? GPU_CONV_SCRATCH_FLOATS / per : (size_t)g->batch;
    if (nb < 1) nb = 1;
    return nb < (size_t)g->batch ? (int)nb : g->batch;
}

/* The shape of images [b0, ...) seen from their first image. */
static gpu_conv_shape from_image(const gpu_conv_shape *g, int b0, const float **input, float **images)
{
    *input += (size_t)b0 * g->in_image;
    *images += (size_t)b0 * g->out_image;
    return *g;
}

void gpu_conv_forward(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *input, float *output)
{
    const int K = columns_per_image(g), n = g->out_h * g->out_w, group = group_images(g, M);
    float *scratch = gpu_scratch((size_t)(K + M) * group * n);
    for (int b0 = 0; b0 < g->batch; b0 += group) {
        int nb = g->batch - b0 < group ? g->batch - b0 : group, ld = nb * n;
        const float *in = input;
        float *out = output;
        gpu_conv_shape s = from_image(g, b0, &in, &out);
        float *cols = scratch, *prod = scratch + (size_t)K * ld;
        gpu_im2col_rows(&s, in, nb, cols);
        gemm_gpu(0, 0, M, ld, K, 1, (float *)W, ldw, cols, ld, 0, prod, ld);
        gpu_add_products(&s, M, prod, nb, out);
    }
}

void gpu_conv_backward(const gpu_conv_shape *g, int M, const float *W, int ldw, const float *input,
                       const float *delta, float *dW, float *input_delta)
{
    const int K = columns_per_image(g), n = g->out_h * g->out_w, group = group_images(g, M);
    float *scratch = gpu_scratch((size_t)(K + M) * group * n);
    for (int b0 = 0; b0 < g->batch; b0 += group) {
        int nb = g->batch - b0 < group ? g->batch - b0 : group, ld = nb * n;
        const float *in = input;
        float *d = (float *)delta;
        gpu_conv_shape s = from_image(g, b0, &in, &d);
        float *cols = scratch, *dprod = scratch + (size_t)K * ld;
        gpu_im2col_rows(&s, in, nb, cols);
        gpu_gather_deltas(&s, M, d, nb, dprod);
        gemm_gpu(0, 1, M, K, ld, 1, dprod, ld, cols, ld, 1, dW, ldw);
        if (!input_delta) continue;
        /* The columns are spent; their room takes the column gradients. */
        gemm_gpu(1, 0, K, ld, M, 1, (float *)W, ldw, dprod, ld, 0, cols, ld);
        gpu_col2im_rows(&s, cols, nb, input_delta + (size_t)b0 * g->in_image);
    }
}

#else
/* ISO C wants something in every translation unit. */
typedef int batched_conv_unused;
#endif
