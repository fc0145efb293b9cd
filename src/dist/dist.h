/* dist.h: data-parallel training over the processes of an MPI job
 * (`mpirun -np N ./darknet classifier train ...`; docs/distributed.md).
 *
 * Each of the N processes (ranks) trains on its share of every batch; once
 * per optimizer step their fresh gradients are gathered and summed in one
 * fixed order, so every rank takes the same step.  Built with MPI=1; in
 * other builds these functions are single-process stubs (one rank, rank 0)
 * and the training step is upstream's.
 *
 * The step of an MPI=1 build (train/train_loop.c) keeps the gradient of
 * each forward pass apart: with K passes per step (subdivisions times N),
 *     updates = momentum part + g_0 + g_1 + ... + g_{K-1}
 * added in pass order, where g_k is the gradient of pass k summed from zero.
 * Rank r runs passes r*K/N .. (r+1)*K/N - 1.  The sum does not depend on N,
 * so N ranks give the weights one process gives with subdivisions*N.
 *
 * Every collective of a step waits against a deadline (DARKNET_DIST_TIMEOUT
 * seconds, default DIST_DEFAULT_TIMEOUT): past it, the rank names the ranks
 * that have not arrived (or not taken its messages) and ends the job. */
#ifndef DIST_H
#define DIST_H

#include <stddef.h>

#include "darknet.h"
#include "dist/grads.h"

/* 1 in MPI=1 builds (even when not started by mpirun): training steps go
 * through the per-pass gradients above. */
int dist_exact(void);
int dist_rank(void);
int dist_size(void);

/* Called by a train command before it parses the cfg: joins the MPI job
 * when started by mpirun (else stays one process), makes the cfg's batch
 * the global one, keeps the other ranks' stdout quiet (DARKNET_ALL_RANKS=1
 * keeps it) and makes an error on one rank end the whole job. */
void dist_start(void);
/* After the network is loaded: every rank checks that its cfg is rank 0's
 * (a hash of the file), then rank 0's weights and training state (momentum,
 * Adam moments, generator streams, seen, steps) replace the others'.  A job
 * without seed= shares rank 0's seed. */
void dist_share_network(network *net, const char *cfgfile);

/* Ends the job from a rank that is exiting with a non-zero status (an exit
 * handler that skips the others calls this first); no-op outside a job. */
void dist_abort(int status);

/* The step's gradient, summed in the fixed order, on every rank:
 *     sum = stash + g_0 + g_1 + ... + g_{K-1}
 * mine holds this rank's passes' gradients, per_rank arrays of count floats
 * (this rank's j-th pass at j*count); stash is the momentum part (count
 * floats, equal on every rank).  A reduce-scatter: the gradient is cut into
 * N contiguous chunks, rank q receives chunk q of every pass and adds them
 * in pass order; then the summed chunks go to every rank (an allgather).
 * Each rank receives (N-1)/N x (s+1) x count floats, s the passes per
 * rank, in point-to-point messages that a watchdog can attribute. */
void dist_reduce_grads(const float *mine, int per_rank, size_t count, const float *stash, float *sum);
/* all[r*count ..] = rank r's mine, for every r, on every rank (the small
 * per-pass statistics). */
void dist_allgather(const float *mine, size_t count, float *all);
/* The next step's collectives wait for the other ranks without a deadline
 * (called on every rank before rank 0 evaluates, which may take long). */
void dist_expect_slow_step(void);

#define DIST_DEFAULT_TIMEOUT 600.0

/* What this rank's collectives moved since the start.  Bytes are payload:
 * what each collective delivers to this rank from the others and what it
 * delivers from this rank to them, whatever route Open MPI takes. */
typedef struct dist_traffic {
    double bytes_sent, bytes_received;
    double wait_seconds;        /* waiting for the slowest rank to arrive */
    double scatter_seconds;     /* the reduce-scatter of the gradient */
    double allgather_seconds;   /* the summed chunks to every rank */
    double stats_seconds;       /* the per-pass statistics */
} dist_traffic;
dist_traffic dist_traffic_total(void);

#endif
