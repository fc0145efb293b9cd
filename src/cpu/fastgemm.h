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

/* The register tiles.  DARKNET_ISA=scalar|avx2|avx512 in the environment
 * (read once, at the first product) forces one; by default the widest the
 * CPU has.  A value the CPU cannot run, or an unknown one, exits with a
 * message. */
enum { FASTGEMM_SCALAR, FASTGEMM_AVX2, FASTGEMM_AVX512 };
int fastgemm_supported(int isa);
/* The tile in use. */
int fastgemm_isa(void);
/* Switches at run time (the tests compare the paths); returns 0, and leaves
 * the tile as it was, when the CPU cannot run `isa`. */
int fastgemm_set_isa(int isa);
/* "scalar", "avx2+fma" or "avx512f". */
const char *fastgemm_isa_name(int isa);

/* fastgemm_isa_name() of the tile in use. */
const char *fastgemm_kernel_name(void);

#endif
