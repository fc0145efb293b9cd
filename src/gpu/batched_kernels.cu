/* batched_kernels.cu: the layout kernels of the batched convolution (see
 * batched_conv.h).  Each thread writes one element, by the functions of
 * batched_layout.h, with no atomics, so results do not depend on
 * scheduling. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

extern "C" {
#include "cuda.h"
}
#include "gpu/batched_conv.h"
#include "gpu/batched_layout.h"

__device__ static size_t thread_index(void)
{
    return ((size_t)blockIdx.x + (size_t)blockIdx.y * gridDim.x) * blockDim.x + threadIdx.x;
}

static void launched(void)
{
    check_error(cudaPeekAtLastError());
}

__global__ static void im2col_rows_kernel(gpu_conv_shape g, const float *in, int nb, float *cols, size_t total)
{
    size_t i = thread_index();
    if (i < total) cols[i] = batched_column(&g, in, nb, i);
}

__global__ static void col2im_rows_kernel(gpu_conv_shape g, const float *dcols, int nb, float *dx, size_t total)
{
    size_t i = thread_index();
    if (i >= total) return;
    float sum;
    size_t at = batched_pixel_delta(&g, dcols, nb, i, &sum);
    dx[at] += sum;
}

__global__ static void direct_delta_kernel(gpu_conv_shape g, const float *dcols, int nb, float *dx, size_t total)
{
    size_t i = thread_index();
    if (i >= total) return;
    float *d = dx + batched_direct_delta(&g, nb, i);
    *d = g.add_direct ? *d + dcols[i] : dcols[i];
}

/* gather = 1: products from the images; 0: products added to the images. */
__global__ static void products_kernel(gpu_conv_shape g, float *prod, int nb, float *images, size_t total, int gather)
{
    size_t i = thread_index();
    if (i >= total) return;
    float *e = images + batched_product_place(&g, nb, i);
    if (gather) prod[i] = *e;
    else *e += prod[i];
}

extern "C" void gpu_im2col_rows(const gpu_conv_shape *g, const float *input, int nb, float *cols)
{
    size_t total = (size_t)g->c * g->size * g->size * nb * g->out_h * g->out_w;
    im2col_rows_kernel<<<cuda_gridsize(total), BLOCK>>>(*g, input, nb, cols, total);
    launched();
}

extern "C" void gpu_col2im_rows(const gpu_conv_shape *g, const float *dcols, int nb, float *input_delta)
{
    if (g->direct) {
        size_t total = (size_t)g->c * nb * g->out_h * g->out_w;
        direct_delta_kernel<<<cuda_gridsize(total), BLOCK>>>(*g, dcols, nb, input_delta, total);
    } else {
        size_t total = (size_t)nb * g->c * g->h * g->w;
        col2im_rows_kernel<<<cuda_gridsize(total), BLOCK>>>(*g, dcols, nb, input_delta, total);
    }
    launched();
}

extern "C" void gpu_add_products(const gpu_conv_shape *g, int M, const float *prod, int nb, float *output)
{
    size_t total = (size_t)M * nb * g->out_h * g->out_w;
    products_kernel<<<cuda_gridsize(total), BLOCK>>>(*g, (float *)prod, nb, output, total, 0);
    launched();
}

extern "C" void gpu_gather_deltas(const gpu_conv_shape *g, int M, const float *delta, int nb, float *prod)
{
    size_t total = (size_t)M * nb * g->out_h * g->out_w;
    products_kernel<<<cuda_gridsize(total), BLOCK>>>(*g, prod, nb, (float *)delta, total, 1);
    launched();
}
