/* rand_kernels.cu: the counter-based normal draws of rand/ctr_rng.h on the
 * GPU (see rand_gpu.h). */
/* darknet.h includes these inside extern "C" below; C++ declarations first. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>
#include <stdint.h>

extern "C" {
#include "cuda.h"
}
#include "rand/ctr_rng.h"
#include "rand/rand_gpu.h"

/* Element index under upstream's 2-D grid (cuda_gridsize). */
__device__ static size_t thread_index(void)
{
    return ((size_t)blockIdx.x + (size_t)blockIdx.y * gridDim.x) * blockDim.x + threadIdx.x;
}

__global__ static void noise_kernel(float *x, int n, float scale, uint64_t key, uint32_t a, uint32_t b, uint32_t c)
{
    size_t i = thread_index();
    if (i >= (size_t)n) return;
    x[i] += scale * ctr_normal(key, (uint32_t)i, a, b, c);
}

extern "C" void ctr_normal_add_gpu(float *x, int n, float scale, uint64_t key, uint32_t a, uint32_t b, uint32_t c)
{
    if (n <= 0) return;
    noise_kernel<<<cuda_gridsize(n), BLOCK>>>(x, n, scale, key, a, b, c);
    check_error(cudaPeekAtLastError());
}
