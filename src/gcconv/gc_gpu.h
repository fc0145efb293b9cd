/* gc_gpu.h: the CUDA kernels of [gcconv] and [gcmerge] (src/gcconv/gc_kernels.cu).
 *
 * Every pointer is device memory.  Each function launches on the default
 * stream, as upstream's kernels do, so calls are ordered with upstream's
 * im2col_gpu, gemm_gpu and batch-norm kernels.  Only built with GPU=1. */
#ifndef GC_GPU_H
#define GC_GPU_H

#ifdef GPU
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [gcconv]: H[o*K+k, j, p] = R[k,p] * w[o, j, p], j < planes, p < ss. */
void gc_build_kernel_gpu(const float *w, const float *R, float *H, int N, int K, int planes, int ss);
/* dw[o,j,p] += sum_k G[o*K+k, j, p] R[k,p];
 * dR[k,p]   += sum_{o,j} G[o*K+k, j, p] w[o,j,p]  (one block per (k,p), no atomics). */
void gc_fold_gradient_gpu(const float *G, const float *w, const float *R, float *dw, float *dR,
                          int N, int K, int planes, int ss);
/* The R step: R += rate * R_updates, R = |R|, each pixel divided by its sum
 * over k (1/K when the sum is <= 1e-12), R_updates zeroed. */
void gc_calibrate_gpu(float *R, float *R_updates, int K, int ss, float rate);
/* expand: wide[(b*C+c)*K+m] = in[b*C+c] plane by plane, and the backward sum. */
void gc_replicate_gpu(const float *in, float *wide, int batch, int C, int K, int plane);
void gc_sum_replicas_gpu(const float *wide_delta, float *delta, int batch, int C, int K, int plane);
/* Branch mixing: out[(b*K+k)*C+c] = in[(b*C+c)*K+k] plane by plane (each
 * branch's planes made contiguous), and the inverse, added into delta. */
void gc_gather_branches_gpu(const float *in, float *out, int batch, int C, int K, int plane);
void gc_scatter_add_branches_gpu(const float *src, float *delta, int batch, int C, int K, int plane);
/* Adam as optimizer_step() does it on the CPU (bias1 = 1 - B1^t, bias2 = 1 - B2^t). */
void gc_adam_gpu(float *w, float *d, float *m, float *v, int n, float decay_batch,
                 float B1, float B2, float bias1, float bias2, float eps, float rate);

/* [gcmerge]: max (mean = 0) or mean (mean = 1) over the K branches of each
 * plane; indexes gets the input index of each maximum. */
void gc_merge_forward_gpu(const float *in, float *out, int *indexes, int batch, int N, int K,
                          int plane, int mean);
void gc_merge_backward_gpu(const float *delta_out, float *delta_in, const int *indexes, int batch,
                           int N, int K, int plane, int mean);

#ifdef __cplusplus
}
#endif

#endif
#endif
