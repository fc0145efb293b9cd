/* dist.c: joining the MPI job, the checks and broadcast at the start, the
 * gather of each step, and ending the job on an error (dist.h).
 *
 * Only this file calls MPI.  Without MPI=1 (DARKNET_MPI undefined) it is a
 * one-rank stub, and dist_exact() is 0 so the training step is upstream's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "checked.h"

#ifdef DARKNET_MPI
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include "optim/optimizer.h"
#include "rand/upstream_rand.h"
#include "utils.h"

static int rank, size = 1, joined;
static double gather_seconds, wait_seconds;

int dist_exact(void) { return 1; }
int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
double dist_gather_seconds(void) { return gather_seconds; }
double dist_wait_seconds(void) { return wait_seconds; }

/* Open MPI's launcher sets these; without them the binary runs as one
 * process and never initialises MPI (no singleton start-up). */
static int started_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

static int in_job(void)
{
    int fin = 0;
    if (joined) MPI_Finalized(&fin);
    return joined && !fin;
}

/* Ranks other than 0 hold back what they write on stderr while the network
 * is made (the layer table N times over); an error in that time shows it. */
static int held_fd = -1;
static FILE *held;

static void hold_stderr(void)
{
    fflush(stderr);
    held = tmpfile();
    if (!held) return;
    held_fd = dup(2);
    dup2(fileno(held), 2);
}

static void release_stderr(int show)
{
    if (held_fd < 0) return;
    fflush(stderr);
    dup2(held_fd, 2);
    close(held_fd);
    held_fd = -1;
    if (show) {
        char buf[4096];
        size_t n;
        rewind(held);
        while ((n = fread(buf, 1, sizeof buf, held)) > 0) fwrite(buf, 1, n, stderr);
    }
    fclose(held);
}

void dist_abort(int status)
{
    if (!in_job() || status == 0) return;
    release_stderr(1);
    fprintf(stderr, "darknet: rank %d of %d: stopped with status %d (the error above): ending the job\n",
            rank, size, status);
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, status);
}

/* exit(0) finalizes; any other status ends every rank, so that an error on
 * one of them never leaves the others waiting in a collective. */
static void at_exit(int status, void *unused)
{
    (void)unused;
    if (!in_job()) return;
    if (status != 0) dist_abort(status);
    else MPI_Finalize();
}

void dist_start(void)
{
    if (joined || !started_by_mpirun()) return;
    MPI_Init(NULL, NULL);
    joined = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    on_exit(at_exit, NULL);
    optimizer_set_batch_ranks(size);
    if (rank != 0 && !getenv("DARKNET_ALL_RANKS")) {
        fflush(stdout);
        if (!freopen("/dev/null", "w", stdout)) fprintf(stderr, "darknet: rank %d: stdout stays open\n", rank);
        hold_stderr();
    }
}

void dist_allgather(const float *mine, size_t count, float *all)
{
    /* A barrier first splits the time waiting for the slowest rank from
     * the time the transfer itself takes (a few microseconds more). */
    double t0 = what_time_is_it_now();
    if (size > 1) MPI_Barrier(MPI_COMM_WORLD);
    double t1 = what_time_is_it_now();
    wait_seconds += t1 - t0;
    t0 = t1;
    if (size == 1) {
        memmove(all, mine, count * sizeof(float));
    } else if (count <= INT32_MAX) {
        MPI_Allgather(mine, (int)count, MPI_FLOAT, all, (int)count, MPI_FLOAT, MPI_COMM_WORLD);
    } else {
        /* MPI counts are ints */
        dn_fatal("rank %d: %zu gradient floats per step are more than one gather"
                " takes: use fewer subdivisions\n", rank, count);
    }
    gather_seconds += what_time_is_it_now() - t0;
}

/* FNV-1a over the bytes of a file; 0 when it cannot be read. */
static uint64_t file_hash(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    uint64_t h = 1469598103934665603ull;
    int c;
    while ((c = getc(fp)) != EOF) h = (h ^ (uint64_t)(unsigned char)c) * 1099511628211ull;
    fclose(fp);
    return h;
}

static void check_cfg(const char *cfgfile)
{
    uint64_t mine = file_hash(cfgfile), first = mine;
    MPI_Bcast(&first, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (mine != first) {
        dn_fatal("rank %d: %s differs from rank 0's copy (cfg hash %016llx, rank 0's"
                " %016llx): every process must train the same cfg\n", rank, cfgfile,
                (unsigned long long)mine, (unsigned long long)first);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* A job without seed= draws its data with rank 0's clock seed on every
 * rank, so that all ranks agree on each batch. */
static void share_seed(network *net)
{
    net_ext *x = net_ext_of(net);
    unsigned long long v[2] = {(unsigned long long)x->seeded, (unsigned long long)x->seed};
    MPI_Bcast(v, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (v[0]) return;
    optimizer_reseed(x, (uint64_t)v[1]);
    upstream_rand_set_batches((size_t)*net->t);
}

static char *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp || fseek(fp, 0, SEEK_END) != 0) {
        dn_fatal("rank %d: cannot read %s back\n", rank, path);
    }
    long len = ftell(fp);
    rewind(fp);
    char *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || len < 0 || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        dn_fatal("rank %d: cannot read %s back\n", rank, path);
    }
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

static void write_whole(const char *path, const char *buf, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(buf, 1, n, fp) != n || fclose(fp) != 0) {
        dn_fatal("rank %d: cannot write %s\n", rank, path);
    }
}

/* Rank 0's bytes to every rank, in pieces of at most 1 GiB. */
static char *bcast_bytes(char *buf, size_t *n)
{
    unsigned long long len = *n;
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0) buf = malloc(len ? len : 1);
    for (size_t at = 0; at < len;) {
        size_t piece = len - at < ((size_t)1 << 30) ? len - at : ((size_t)1 << 30);
        MPI_Bcast(buf + at, (int)piece, MPI_BYTE, 0, MPI_COMM_WORLD);
        at += piece;
    }
    *n = len;
    return buf;
}

/* The save and load print their own lines, which would be noise here. */
static int quiet_stderr(void)
{
    fflush(stderr);
    int saved = dup(2), fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, 2), close(fd);
    return saved;
}

static void restore_stderr(int saved)
{
    fflush(stderr);
    if (saved >= 0) dup2(saved, 2), close(saved);
}

/* Rank 0's weights and training-state files, written by the usual save
 * and read by the usual load, so that everything either holds (momentum,
 * Adam moments, R, rolling statistics, generator streams, seen, steps) is
 * shared without a second format.  Each rank uses a private temporary
 * folder; no shared disk is needed. */
static void share_state(network *net)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], weights[4200], state[4300];
    snprintf(dir, sizeof dir, "%s/darknet-rank%d-XXXXXX", tmp && *tmp ? tmp : "/tmp", rank);
    if (!mkdtemp(dir)) {
        dn_fatal("rank %d: cannot make a temporary folder in %s\n", rank, dir);
    }
    snprintf(weights, sizeof weights, "%s/start.weights", dir);
    snprintf(state, sizeof state, "%s.state", weights);
    char *w = NULL, *st = NULL;
    size_t nw = 0, ns = 0;
    int saved = quiet_stderr();
    if (rank == 0) {
        save_weights(net, weights);
        w = read_whole(weights, &nw);
        st = read_whole(state, &ns);
    }
    w = bcast_bytes(w, &nw);
    st = bcast_bytes(st, &ns);
    if (rank != 0) {
        write_whole(weights, w, nw);
        write_whole(state, st, ns);
        load_weights(net, weights);
    }
    restore_stderr(saved);
    unlink(weights);
    unlink(state);
    rmdir(dir);
    free(w);
    free(st);
}

void dist_share_network(network *net, const char *cfgfile)
{
#ifdef GPU
    if (gpu_index >= 0) {
        dn_fatal("MPI=1 builds train on the CPU for now: add -nogpu"
                " (docs/distributed.md)\n");
    }
#endif
    release_stderr(0);
    dist_check_layers(net);
    if (size == 1) return;
    check_cfg(cfgfile);
    share_seed(net);
    share_state(net);
}

#else /* one process */

int dist_exact(void) { return 0; }
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
double dist_gather_seconds(void) { return 0; }
double dist_wait_seconds(void) { return 0; }
void dist_start(void) {}
void dist_share_network(network *net, const char *cfgfile) { (void)net, (void)cfgfile; }
void dist_abort(int status) { (void)status; }

void dist_allgather(const float *mine, size_t count, float *all)
{
    memmove(all, mine, count * sizeof(float));
}

#endif
