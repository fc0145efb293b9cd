/* rowops.h: the short loops of [gcconv]'s factored passes (gcfactor.c),
 * run at the vector width of the gemm's path (fastgemm.h: DARKNET_ISA).
 * Every path gives the bits of the plain loop: each output is summed in
 * the same order, and the build keeps a*b+c from becoming one fused
 * multiply-add (-ffp-contract=off). */
#ifndef ROWOPS_H
#define ROWOPS_H

#include <stddef.h>

/* y[i] = c[0]*x[i] + c[step]*x[i + stride] + ... over `taps` rows, added
 * in that order, for i < n. */
void rows_weighted_sum(float *y, const float *x, size_t stride, const float *c, size_t step, int taps, int n);

/* sums[t] += the dot product of a and x + t*stride (n floats each) for
 * t < taps: a[i]*b[i] summed in eight float lanes (lane q takes the i
 * with i mod 8 = q), the lanes then added in a fixed tree in double, and
 * the tail after them. */
void rows_dots(const float *a, const float *x, size_t stride, int taps, int n, double *sums);

#endif
