/* fastgemm.h: the fast matrix product (fastgemm.c).  gemm() and gemm_cpu()
 * (upstream's gemm.h) dispatch to it, or to upstream_gemm_cpu() when the
 * reference path is selected. */
#ifndef FASTGEMM_H
#define FASTGEMM_H

#include <limits.h>
#include <stddef.h>

/* A matrix whose rows may be cut into segments that lie apart: element
 * (r, c) is at p + r*ld + (c / seg)*seg_stride + c % seg.  A batch of images
 * stored one after the other (rows = channels, seg = pixels per image,
 * seg_stride = floats per image) reads as one wide matrix this way, so the
 * batched convolution needs no copies into and out of image order. */
typedef struct gemm_view {
    const float *p;
    int ld;
    int seg;
    size_t seg_stride;
} gemm_view;

/* An ordinary row-major matrix. */
static inline gemm_view gemm_plain(const float *p, int ld)
{
    gemm_view v = {p, ld, INT_MAX, 0};
    return v;
}

static inline gemm_view gemm_segmented(const float *p, int ld, int seg, size_t seg_stride)
{
    gemm_view v = {p, ld, seg, seg_stride};
    return v;
}

/* C = BETA*C + ALPHA*op(A)*op(B) over views; C's view is written. */
void fast_gemm_view(int TA, int TB, int M, int N, int K, float ALPHA,
                    gemm_view A, gemm_view B, float BETA, gemm_view C);

/* fast_gemm_view(), or on the reference path, when every view is one plain
 * matrix (one segment, as per-image calls give), upstream's gemm_cpu(). */
void gemm_view_cpu(int TA, int TB, int M, int N, int K, float ALPHA,
                   gemm_view A, gemm_view B, float BETA, gemm_view C);

/* C = BETA*C + ALPHA*op(A)*op(B), row-major, as upstream's gemm_cpu(). */
void fast_gemm(int TA, int TB, int M, int N, int K, float ALPHA,
               const float *A, int lda, const float *B, int ldb,
               float BETA, float *C, int ldc);

/* "avx2+fma" or "portable": the register tile in use. */
const char *fastgemm_kernel_name(void);

#endif
