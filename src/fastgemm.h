/* fastgemm.h: the fast matrix product (fastgemm.c).  gemm() and gemm_cpu()
 * (upstream's gemm.h) dispatch to it, or to upstream_gemm_cpu() when the
 * reference path is selected. */
#ifndef FASTGEMM_H
#define FASTGEMM_H

/* C = BETA*C + ALPHA*op(A)*op(B), row-major, as upstream's gemm_cpu(). */
void fast_gemm(int TA, int TB, int M, int N, int K, float ALPHA,
               const float *A, int lda, const float *B, int ldb,
               float BETA, float *C, int ldc);

/* "avx2+fma" or "portable": the register tile in use. */
const char *fastgemm_kernel_name(void);

#endif
