/* parallel.h: thread count and the switch between the fast CPU kernels and
 * upstream's reference kernels.
 *
 * The fast kernels (fastgemm.c, fastops.c, fastconv.c) use OpenMP.  The
 * thread count follows OMP_NUM_THREADS, or `-threads N` on the command line;
 * the default is every online core.
 *
 * DARKNET_REFERENCE=1 in the environment (read once, at the first kernel
 * call) sends every kernel to upstream's own single-threaded code, which
 * gives upstream's results bit for bit; dn_set_reference() switches at run
 * time (the tests use it to compare both paths). */
#ifndef PARALLEL_H
#define PARALLEL_H

/* Nonzero when upstream's reference kernels are selected. */
int dn_reference(void);
void dn_set_reference(int on);

/* n <= 0 leaves the OpenMP default. */
void dn_set_threads(int n);
int dn_threads(void);

#endif
