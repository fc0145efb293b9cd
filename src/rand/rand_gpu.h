/* rand_gpu.h: random draws on the GPU (src/rand/rand_kernels.cu).  Device
 * memory, the default stream; only built with GPU=1. */
#ifndef RAND_GPU_H
#define RAND_GPU_H

#ifdef GPU
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* x[i] += scale * ctr_normal(key, i, a, b, c) (src/rand/ctr_rng.h): the
 * noise of csgd on the GPU. */
void ctr_normal_add_gpu(float *x, int n, float scale, uint64_t key, uint32_t a, uint32_t b, uint32_t c);

#ifdef __cplusplus
}
#endif

#endif
#endif
