/* gc_kernels.cu: CUDA kernels of [gcconv] and [gcmerge] (see gc_gpu.h).
 *
 * The heavy work of [gcconv] (im2col, gemm, col2im, batch norm, activation)
 * stays upstream's; these kernels are the O(parameters) and O(activations)
 * steps around it.  Each kernel does per element what the CPU code in
 * gclayer.c, gcmerge.c and optimizer.c (Adam) does, in the same order of
 * operations, so results agree up to float rounding. */
/* darknet.h includes these inside extern "C" below; C++ declarations first. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>
#include <stdint.h>

extern "C" {
#include "cuda.h"
}
#include "gcconv/gc_gpu.h"

#define REDUCE_THREADS 256

/* Element index under upstream's 2-D grid (cuda_gridsize). */
__device__ static size_t thread_index(void)
{
    return ((size_t)blockIdx.x + (size_t)blockIdx.y * gridDim.x) * blockDim.x + threadIdx.x;
}

static void launched(void)
{
    check_error(cudaPeekAtLastError());
}

/* ---- [gcconv]: H from w and R ------------------------------------------- */

__global__ static void build_kernel_kernel(const float *w, const float *R, float *H, size_t nh,
                                           int K, int planes, int ss)
{
    size_t i = thread_index();
    if (i >= nh) return;
    /* i = ((o*K + k)*planes + j)*ss + p */
    int p = (int)(i % ss);
    size_t rest = i / ss;
    int j = (int)(rest % planes);
    rest /= planes;
    int k = (int)(rest % K);
    size_t o = rest / K;
    H[i] = R[k * ss + p] * w[(o * planes + j) * ss + p];
}

extern "C" void gc_build_kernel_gpu(const float *w, const float *R, float *H, int N, int K, int planes, int ss)
{
    size_t nh = (size_t)N * K * planes * ss;
    build_kernel_kernel<<<cuda_gridsize(nh), BLOCK>>>(w, R, H, nh, K, planes, ss);
    launched();
}

/* ---- [gcconv]: G back onto w and R --------------------------------------- */

__global__ static void fold_w_kernel(const float *G, const float *R, float *dw, size_t nw,
                                     int K, int planes, int ss)
{
    size_t i = thread_index();
    if (i >= nw) return;
    /* i = (o*planes + j)*ss + p */
    int p = (int)(i % ss);
    size_t rest = i / ss;
    int j = (int)(rest % planes);
    size_t o = rest / planes;
    float sum = 0;
    for (int k = 0; k < K; ++k) sum += G[((o * K + k) * planes + j) * ss + p] * R[k * ss + p];
    dw[i] += sum;
}

/* One block per (k, p): a tree sum over the N*planes products, written by
 * thread 0, so the result does not depend on scheduling. */
__global__ static void fold_r_kernel(const float *G, const float *w, float *dR, int N, int K,
                                     int planes, int ss)
{
    __shared__ float part[REDUCE_THREADS];
    int k = blockIdx.x / ss, p = blockIdx.x % ss;
    size_t count = (size_t)N * planes;
    float sum = 0;
    for (size_t e = threadIdx.x; e < count; e += blockDim.x) {
        size_t o = e / planes, j = e % planes;
        sum += G[((o * K + k) * planes + j) * ss + p] * w[e * ss + p];
    }
    part[threadIdx.x] = sum;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) dR[k * ss + p] += part[0];
}

extern "C" void gc_fold_gradient_gpu(const float *G, const float *w, const float *R, float *dw, float *dR,
                                     int N, int K, int planes, int ss)
{
    size_t nw = (size_t)N * planes * ss;
    fold_w_kernel<<<cuda_gridsize(nw), BLOCK>>>(G, R, dw, nw, K, planes, ss);
    launched();
    fold_r_kernel<<<K * ss, REDUCE_THREADS>>>(G, w, dR, N, K, planes, ss);
    launched();
}

/* ---- [gcconv]: the R step ------------------------------------------------- */

__global__ static void calibrate_kernel(float *R, float *R_updates, int K, int ss, float rate)
{
    int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= ss) return;
    float sum = 0;
    for (int k = 0; k < K; ++k) {
        float r = fabsf(R[k * ss + p] + rate * R_updates[k * ss + p]);
        R[k * ss + p] = r;
        sum += r;
        R_updates[k * ss + p] = 0;
    }
    for (int k = 0; k < K; ++k) R[k * ss + p] = sum > 1e-12f ? R[k * ss + p] / sum : 1.0f / K;
}

extern "C" void gc_calibrate_gpu(float *R, float *R_updates, int K, int ss, float rate)
{
    calibrate_kernel<<<(ss + 63) / 64, 64>>>(R, R_updates, K, ss, rate);
    launched();
}

/* ---- expand: replicas of each input plane ---------------------------------- */

__global__ static void replicate_kernel(const float *in, float *wide, size_t n, int K, int plane)
{
    size_t i = thread_index();   /* over the wide tensor: ((b*C + c)*K + m)*plane + q */
    if (i >= n) return;
    size_t q = i % plane, bc = i / plane / K;
    wide[i] = in[bc * plane + q];
}

extern "C" void gc_replicate_gpu(const float *in, float *wide, int batch, int C, int K, int plane)
{
    size_t n = (size_t)batch * C * K * plane;
    replicate_kernel<<<cuda_gridsize(n), BLOCK>>>(in, wide, n, K, plane);
    launched();
}

__global__ static void sum_replicas_kernel(const float *wide_delta, float *delta, size_t n, int K, int plane)
{
    size_t i = thread_index();   /* over the narrow tensor: (b*C + c)*plane + q */
    if (i >= n) return;
    size_t q = i % plane, bc = i / plane;
    float sum = delta[i];
    for (int m = 0; m < K; ++m) sum += wide_delta[(bc * K + m) * plane + q];
    delta[i] = sum;
}

extern "C" void gc_sum_replicas_gpu(const float *wide_delta, float *delta, int batch, int C, int K, int plane)
{
    size_t n = (size_t)batch * C * plane;
    sum_replicas_kernel<<<cuda_gridsize(n), BLOCK>>>(wide_delta, delta, n, K, plane);
    launched();
}

/* ---- branch mixing: branch-major copies of interleaved planes ---------------- */

__global__ static void gather_branches_kernel(const float *in, float *out, size_t n, int C, int K, int plane)
{
    size_t i = thread_index();   /* over out: ((b*K + k)*C + c)*plane + q */
    if (i >= n) return;
    size_t q = i % plane, rest = i / plane;
    int c = (int)(rest % C);
    rest /= C;
    int k = (int)(rest % K);
    size_t b = rest / K;
    out[i] = in[((b * C + c) * K + k) * plane + q];
}

extern "C" void gc_gather_branches_gpu(const float *in, float *out, int batch, int C, int K, int plane)
{
    size_t n = (size_t)batch * C * K * plane;
    gather_branches_kernel<<<cuda_gridsize(n), BLOCK>>>(in, out, n, C, K, plane);
    launched();
}

__global__ static void scatter_add_branches_kernel(const float *src, float *delta, size_t n, int C, int K, int plane)
{
    size_t i = thread_index();   /* over delta: ((b*C + c)*K + k)*plane + q */
    if (i >= n) return;
    size_t q = i % plane, rest = i / plane;
    int k = (int)(rest % K);
    rest /= K;
    int c = (int)(rest % C);
    size_t b = rest / C;
    delta[i] += src[((b * K + k) * C + c) * plane + q];
}

extern "C" void gc_scatter_add_branches_gpu(const float *src, float *delta, int batch, int C, int K, int plane)
{
    size_t n = (size_t)batch * C * K * plane;
    scatter_add_branches_kernel<<<cuda_gridsize(n), BLOCK>>>(src, delta, n, C, K, plane);
    launched();
}

/* ---- Adam, as the CPU's optimizer_step() -------------------------------------- */

__global__ static void adam_kernel(float *w, float *d, float *m, float *v, int n, float decay_batch,
                                   float B1, float B2, float bias1, float bias2, float eps, float rate)
{
    size_t i = thread_index();
    if (i >= (size_t)n) return;
    float g = d[i] - decay_batch * w[i];
    float mi = B1 * m[i] + (1 - B1) * g;
    float vi = B2 * v[i] + (1 - B2) * g * g;
    m[i] = mi;
    v[i] = vi;
    w[i] += rate * (mi / bias1) / (sqrtf(vi / bias2) + eps);
    d[i] = 0;
}

extern "C" void gc_adam_gpu(float *w, float *d, float *m, float *v, int n, float decay_batch,
                            float B1, float B2, float bias1, float bias2, float eps, float rate)
{
    if (n <= 0) return;
    adam_kernel<<<cuda_gridsize(n), BLOCK>>>(w, d, m, v, n, decay_batch, B1, B2, bias1, bias2, eps, rate);
    launched();
}

/* ---- [gcmerge] --------------------------------------------------------------- */

__global__ static void merge_forward_kernel(const float *in, float *out, int *indexes, size_t n,
                                            int K, int plane, int mean)
{
    size_t i = thread_index();   /* over out: (b*N + c)*plane + q */
    if (i >= n) return;
    size_t q = i % plane, bc = i / plane;
    size_t first = bc * K * plane + q;
    float best = in[first], sum = 0;
    size_t best_at = first;
    for (int k = 0; k < K; ++k) {
        float v = in[first + (size_t)k * plane];
        sum += v;
        if (v > best) {
            best = v;
            best_at = first + (size_t)k * plane;
        }
    }
    indexes[i] = (int)best_at;
    out[i] = mean ? sum / K : best;
}

extern "C" void gc_merge_forward_gpu(const float *in, float *out, int *indexes, int batch, int N, int K,
                                     int plane, int mean)
{
    size_t n = (size_t)batch * N * plane;
    merge_forward_kernel<<<cuda_gridsize(n), BLOCK>>>(in, out, indexes, n, K, plane, mean);
    launched();
}

/* Each input element is the maximum of at most one output, and with the mean
 * each output owns its K inputs: no two threads write the same element. */
__global__ static void merge_backward_kernel(const float *delta_out, float *delta_in, const int *indexes,
                                             size_t n, int K, int plane, int mean)
{
    size_t i = thread_index();
    if (i >= n) return;
    if (!mean) {
        delta_in[indexes[i]] += delta_out[i];
        return;
    }
    size_t q = i % plane, bc = i / plane;
    size_t first = bc * K * plane + q;
    for (int k = 0; k < K; ++k) delta_in[first + (size_t)k * plane] += delta_out[i] / K;
}

extern "C" void gc_merge_backward_gpu(const float *delta_out, float *delta_in, const int *indexes, int batch,
                                      int N, int K, int plane, int mean)
{
    size_t n = (size_t)batch * N * plane;
    merge_backward_kernel<<<cuda_gridsize(n), BLOCK>>>(delta_out, delta_in, indexes, n, K, plane, mean);
    launched();
}
