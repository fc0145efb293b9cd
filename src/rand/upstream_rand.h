/* upstream_rand.h: upstream's rand calls, routed through the network's
 * seeded generator when [net] has seed= (patches/0005-seeded-rand.patch).
 *
 * - Outside the data loader (weight init of upstream layers, dropout, crop)
 *   the rand calls draw from the RNG_UPSTREAM stream of the network parsed last,
 *   under a lock.
 * - Each data-loader thread draws from its own stream, derived from
 *   (seed, RNG_DATA, batch number, thread number).  Batch numbers are handed
 *   out in the thread that asks for the data, in program order, so what a
 *   batch holds does not depend on how the threads are scheduled.  Upstream's
 *   loaders take the sample order and the augmentation from the same rand
 *   calls, so both come from this stream.
 * - Without seed= the draws are libc's, as upstream. */
#ifndef UPSTREAM_RAND_H
#define UPSTREAM_RAND_H

#include <stddef.h>

#include <stdint.h>

#include "darknet.h"
#include "rand/rng.h"

/* Called when a [net] section has been read: a seeded network's
 * RNG_UPSTREAM stream becomes the source of upstream's draws and the batch
 * count restarts at 0; an unseeded network (seeded 0) gives them back to
 * libc.  `seed` keys the loader's streams. */
void upstream_rand_attach(rng *stream, int seeded, uint64_t seed);
/* Called when the network owning `stream` is freed. */
void upstream_rand_detach(rng *stream);

/* Seeds libc's generator from the clock, as upstream's training and
 * validation commands do; draws made under seed= are unaffected. */
void upstream_rand_seed_from_time(void);

/* Batches handed to the loader so far.  A resumed run sets it to the number
 * of optimizer steps taken, which is the number of batches trained on: the
 * batch the stopped run had prefetched but not used is loaded again. */
size_t upstream_rand_batches(void);
void upstream_rand_set_batches(size_t n);

/* Data-parallel training (train/train_loop.c): upstream's draws inside a
 * forward pass ([dropout], [crop]) come from one stream, so the draws of a
 * pass would depend on the passes before it, which other ranks ran.  Before
 * pass `pass` of step `step`, the stream is set to one of its own, keyed by
 * (seed, step, pass); after the step's passes it is put back as it was
 * before the first.  No-ops without seed=. */
void upstream_rand_pass(size_t step, int pass);
void upstream_rand_passes_done(void);

/* The data loader's side (input/loader_threads.c): the number of the next
 * batch (0 without seed=: not numbered), and a loader thread's draws from
 * the stream of (seed, RNG_DATA, batch, part) between begin and end. */
size_t upstream_rand_next_batch(void);
void upstream_rand_loader_begin(size_t batch, int part);
void upstream_rand_loader_end(void);

#endif
