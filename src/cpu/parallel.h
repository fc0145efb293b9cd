/* parallel.h: thread count and the switch between the fast CPU kernels and
 * upstream's reference kernels.
 *
 * The fast kernels (fastgemm.c, the fast_*.c of fastops.h, fastconv.c) use OpenMP.  The
 * thread count follows OMP_NUM_THREADS, or `-threads N` on the command line;
 * the default is every online core.
 *
 * DARKNET_REFERENCE=1 in the environment (read once, at the first kernel
 * call) sends every kernel to upstream's own single-threaded code, which
 * gives upstream's results bit for bit; dn_set_reference() switches at run
 * time (the tests use it to compare both paths). */
#ifndef PARALLEL_H
#define PARALLEL_H

#include <stddef.h>

/* Below this many elements an element-wise loop stays on one thread. */
#define DN_PAR_MIN 65536

/* Nonzero when upstream's reference kernels are selected. */
int dn_reference(void);
void dn_set_reference(int on);

/* n <= 0 leaves the OpenMP default. */
void dn_set_threads(int n);
int dn_threads(void);
/* Inside an active parallel region. */
int dn_in_parallel(void);

/* Scratch space: the calling thread's own (for work split by image groups
 * inside a parallel region), and one shared buffer for the master thread
 * outside of one.  Both are kept and reused; out of memory exits with a
 * message. */
float *dn_thread_scratch(size_t bytes);
float *dn_shared_scratch(size_t bytes);

/* Weight gradients over image groups run in parallel are summed per slot
 * (consecutive groups), and the slots' sums in slot order.  The number of
 * slots depends only on the group count and the slot size, never on the
 * thread count, so the bits do not either: at most DN_MAX_SLOTS, and at most
 * DN_SLOT_BYTES of partial sums in all. */
#define DN_MAX_SLOTS 8
#define DN_SLOT_BYTES ((size_t)32 << 20)
int dn_slot_count(int groups, size_t bytes_per_slot);

#endif
