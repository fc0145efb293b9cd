/* dist.c: joining the MPI job, the checks and broadcast at the start, the
 * exchange of each step under its watchdog, and ending the job on an error
 * (dist.h).
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
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "optim/optimizer.h"
#include "rand/upstream_rand.h"
#include "utils.h"

static int rank, size = 1, joined;
static dist_traffic traffic;

int dist_exact(void) { return 1; }
int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
dist_traffic dist_traffic_total(void) { return traffic; }

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

static double timeout_seconds;        /* DARKNET_DIST_TIMEOUT; 0: no deadline */

static double timeout_of_env(void)
{
    const char *v = getenv("DARKNET_DIST_TIMEOUT");
    if (!v || !*v) return DIST_DEFAULT_TIMEOUT;
    char *end;
    double t = strtod(v, &end);
    if (*end || !(t >= 0) || t > 1e9) {
        dn_fatal("DARKNET_DIST_TIMEOUT=%s: expected seconds, a number >= 0 (0: wait for ever)\n", v);
    }
    return t;
}

/* In GPU training each rank of a machine takes a GPU of its own: the one
 * after -i N (default 0) by its rank on the machine, modulo the GPUs
 * there. */
static void choose_gpu(void)
{
#ifdef GPU
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    int count = 0;
    if (gpu_index < 0 || !local || cudaGetDeviceCount(&count) != cudaSuccess || count < 1) return;
    gpu_index = (gpu_index + atoi(local)) % count;
#endif
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
    timeout_seconds = timeout_of_env();
    choose_gpu();
    optimizer_set_batch_ranks(size);
    if (rank != 0 && !getenv("DARKNET_ALL_RANKS")) {
        fflush(stdout);
        if (!freopen("/dev/null", "w", stdout)) fprintf(stderr, "darknet: rank %d: stdout stays open\n", rank);
        hold_stderr();
    }
}

/* ---- the watchdog ---------------------------------------------------- */

enum { TAG_ARRIVE = 1, TAG_SCATTER, TAG_GATHER, TAG_STATS };   /* of the point-to-point messages */
static int unbounded_steps;           /* steps left whose collectives wait without one */
static long long exchanges;           /* collectives started so far (equal on every rank) */

void dist_expect_slow_step(void) { unbounded_steps = 1; }

/* Runs MPI's progress until every request is done, or the deadline (0:
 * none) passes: then returns 0, the requests untouched.  Spins at first, as
 * a blocking collective would, then yields the core; a patient wait (for
 * ranks to arrive, not for data to move) sleeps after 0.1 s, so that ranks
 * waiting long, as while rank 0 evaluates, leave the CPU to it. */
static int wait_requests(MPI_Request *req, int n, double deadline, int patient)
{
    double start = what_time_is_it_now();
    for (long polls = 0;; ++polls) {
        int done = 0;
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (done) return 1;
        double now = what_time_is_it_now();
        if (deadline > 0 && now > deadline) return 0;
        if (polls > 1000) sched_yield();
        if (patient && now - start > 0.1) {
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
    }
}

static double step_deadline(void)
{
    if (unbounded_steps || timeout_seconds == 0) return 0;
    return what_time_is_it_now() + timeout_seconds;
}

/* " rank 1" or "s 1, 3" after a list's name. */
static const char *ranks_word(const char *list)
{
    return strchr(list, ',') ? "s " : " ";
}

/* late: the ranks whose messages have not come ("1, 3"); deaf: those whose
 * message came but which have not taken this rank's (a rank stopped between
 * the two); either may be empty.  The exit ends every rank (at_exit,
 * MPI_Abort). */
static void __attribute__((noreturn)) timed_out(const char *what, const char *late, const char *deaf)
{
    char named[2200] = "";
    if (*late) snprintf(named, sizeof named, "; not arrived: rank%s%s", ranks_word(late), late);
    if (*deaf) {
        size_t used = strlen(named);
        snprintf(named + used, sizeof named - used, "; not receiving: rank%s%s", ranks_word(deaf), deaf);
    }
    dn_fatal("rank %d of %d: %s within %g s (DARKNET_DIST_TIMEOUT)%s: ending the job\n", rank, size, what,
             timeout_seconds, named);
}

static void add_rank(char *list, size_t *used, size_t cap, int q)
{
    if (*used < cap - 16) *used += snprintf(list + *used, cap - *used, "%s%d", *used ? ", " : "", q);
}

/* Waits for the 2(N-1) requests of an exchange with every other rank,
 * posted in rank order, a receive then a send for each; past the deadline
 * names the ranks whose message has not come, or else those that have not
 * taken this rank's, and ends the job. */
static void wait_peers(MPI_Request *req, double deadline, int patient, const char *what)
{
    if (wait_requests(req, 2 * (size - 1), deadline, patient)) return;
    char late[1024] = "", deaf[1024] = "";
    size_t n_late = 0, n_deaf = 0;
    for (int q = 0, k = 0; q < size; ++q) {
        if (q == rank) continue;
        int came = 0, taken = 0;
        MPI_Test(&req[k], &came, MPI_STATUS_IGNORE);       /* the receive from q */
        MPI_Test(&req[k + 1], &taken, MPI_STATUS_IGNORE);  /* the send to q */
        if (!came) add_rank(late, &n_late, sizeof late, q);
        else if (!taken) add_rank(deaf, &n_deaf, sizeof deaf, q);
        k += 2;
    }
    timed_out(what, late, deaf);
}

static MPI_Request *peer_requests(void)
{
    static MPI_Request *req;
    if (!req && !(req = calloc(2 * (size_t)size, sizeof *req))) dn_fatal("out of memory for %d ranks\n", size);
    return req;
}

/* Every rank tells every other one that it has reached this step's
 * exchange and waits for them all, which is also the time this rank waits
 * for the slowest one. */
static void arrive(double deadline)
{
    static long long *seen;
    if (!seen && !(seen = calloc(size, sizeof *seen))) dn_fatal("out of memory for %d ranks\n", size);
    MPI_Request *req = peer_requests();
    double t0 = what_time_is_it_now();
    for (int q = 0, k = 0; q < size; ++q) {
        if (q == rank) continue;
        MPI_Irecv(&seen[q], 1, MPI_LONG_LONG, q, TAG_ARRIVE, MPI_COMM_WORLD, &req[k++]);
        MPI_Isend(&exchanges, 1, MPI_LONG_LONG, q, TAG_ARRIVE, MPI_COMM_WORLD, &req[k++]);
    }
    wait_peers(req, deadline, 1, "the other ranks did not all reach this step's gradient exchange");
    for (int q = 0; q < size; ++q) {
        if (q != rank && seen[q] != exchanges) {
            dn_fatal("rank %d: rank %d is at exchange %lld, this rank at %lld: the ranks are out of step\n",
                     rank, q, seen[q], exchanges);
        }
    }
    traffic.bytes_sent += (size - 1) * (double)sizeof exchanges;
    traffic.bytes_received += (size - 1) * (double)sizeof exchanges;
    traffic.wait_seconds += what_time_is_it_now() - t0;
}

/* ---- the step's collectives --------------------------------------------- */

static int as_count(size_t n, const char *what)
{
    if (n > INT32_MAX) {   /* MPI counts are ints */
        dn_fatal("rank %d: %zu floats of %s are more than one MPI call takes: use fewer"
                 " subdivisions\n", rank, n, what);
    }
    return (int)n;
}

/* Chunk q of count floats: count/N each, the first count%N one more. */
static size_t chunk_start(size_t count, int q)
{
    size_t base = count / size, extra = count % size;
    return q * base + ((size_t)q < extra ? (size_t)q : extra);
}

static void *grow(void *buf, size_t *have, size_t want)
{
    if (want <= *have) return buf;
    free(buf);
    buf = malloc(want);
    if (!buf) dn_fatal("rank %d: out of memory for %zu bytes of gradients\n", rank, want);
    *have = want;
    return buf;
}

/* Rank q's share of every pass, to rank q, in pairwise exchanges: the send
 * buffer holds, for each destination in turn, its chunk of this rank's
 * passes in pass order; the receive buffer, for each source in turn, its
 * passes' chunk of this rank, which is pass order.  Pairs rather than
 * MPI_Alltoallv, so that a rank that stops is named (wait_peers). */
static const float *scatter_chunks(const float *mine, int per_rank, size_t count, double deadline)
{
    static float *out, *in;
    static size_t have_out, have_in;
    size_t at = chunk_start(count, rank), len = chunk_start(count, rank + 1) - at;
    out = grow(out, &have_out, (size_t)per_rank * count * sizeof(float));
    in = grow(in, &have_in, (size_t)per_rank * size * len * sizeof(float) + sizeof(float));
    for (int q = 0; q < size; ++q) {
        size_t q_at = chunk_start(count, q), q_len = chunk_start(count, q + 1) - q_at;
        for (int j = 0; j < per_rank; ++j)
            memcpy(out + per_rank * q_at + j * q_len, mine + j * count + q_at, q_len * sizeof(float));
    }
    int n = as_count(per_rank * len, "a gradient chunk");
    memcpy(in + (size_t)rank * n, out + per_rank * at, n * sizeof(float));
    MPI_Request *req = peer_requests();
    double t0 = what_time_is_it_now();
    for (int q = 0, k = 0; q < size; ++q) {
        if (q == rank) continue;
        size_t q_at = chunk_start(count, q), q_len = chunk_start(count, q + 1) - q_at;
        int q_n = as_count(per_rank * q_len, "a gradient chunk");
        MPI_Irecv(in + (size_t)q * n, n, MPI_FLOAT, q, TAG_SCATTER, MPI_COMM_WORLD, &req[k++]);
        MPI_Isend(out + per_rank * q_at, q_n, MPI_FLOAT, q, TAG_SCATTER, MPI_COMM_WORLD, &req[k++]);
        traffic.bytes_sent += q_n * (double)sizeof(float);
        traffic.bytes_received += n * (double)sizeof(float);
    }
    wait_peers(req, deadline, 0, "the reduce-scatter of the gradients did not finish");
    traffic.scatter_seconds += what_time_is_it_now() - t0;
    return in;
}

/* buf[start[q] .. start[q+1]) of rank q to every rank: an allgatherv in
 * pairwise messages, so that a rank that stops is named (wait_peers). */
static void share_pieces(float *buf, const size_t *start, int tag, double deadline, const char *what,
                         double *seconds)
{
    MPI_Request *req = peer_requests();
    int mine = as_count(start[rank + 1] - start[rank], "a piece");
    double t0 = what_time_is_it_now();
    for (int q = 0, k = 0; q < size; ++q) {
        if (q == rank) continue;
        int n = as_count(start[q + 1] - start[q], "a piece");
        MPI_Irecv(buf + start[q], n, MPI_FLOAT, q, tag, MPI_COMM_WORLD, &req[k++]);
        MPI_Isend(buf + start[rank], mine, MPI_FLOAT, q, tag, MPI_COMM_WORLD, &req[k++]);
        traffic.bytes_sent += mine * (double)sizeof(float);
        traffic.bytes_received += n * (double)sizeof(float);
    }
    wait_peers(req, deadline, 0, what);
    *seconds += what_time_is_it_now() - t0;
}

static size_t *piece_starts(void)
{
    static size_t *start;
    if (!start && !(start = calloc((size_t)size + 1, sizeof *start))) dn_fatal("out of memory for %d ranks\n", size);
    return start;
}

void dist_reduce_grads(const float *mine, int per_rank, size_t count, const float *stash, float *sum)
{
    if (size == 1) {
        dist_sum_passes(sum, stash, mine, count, per_rank, count);
        return;
    }
    /* each phase has the whole timeout from its start */
    arrive(step_deadline());
    ++exchanges;
    size_t at = chunk_start(count, rank), len = chunk_start(count, rank + 1) - at;
    const float *in = scatter_chunks(mine, per_rank, count, step_deadline());
    dist_sum_passes(sum + at, stash + at, in, len, per_rank * size, len);
    size_t *start = piece_starts();
    for (int q = 0; q <= size; ++q) start[q] = chunk_start(count, q);
    share_pieces(sum, start, TAG_GATHER, step_deadline(), "the gather of the summed gradients did not finish",
                 &traffic.allgather_seconds);
}

void dist_allgather(const float *mine, size_t count, float *all)
{
    memmove(all + (size_t)rank * count, mine, count * sizeof(float));
    if (size > 1) {
        size_t *start = piece_starts();
        for (int q = 0; q <= size; ++q) start[q] = (size_t)q * count;
        share_pieces(all, start, TAG_STATS, step_deadline(), "the gather of the per-pass statistics did not finish",
                     &traffic.stats_seconds);
    }
    unbounded_steps = 0;   /* the step's last exchange */
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
dist_traffic dist_traffic_total(void) { dist_traffic none = {0}; return none; }
void dist_start(void) {}
void dist_share_network(network *net, const char *cfgfile) { (void)net, (void)cfgfile; }
void dist_abort(int status) { (void)status; }
void dist_expect_slow_step(void) {}

void dist_reduce_grads(const float *mine, int per_rank, size_t count, const float *stash, float *sum)
{
    dist_sum_passes(sum, stash, mine, count, per_rank, count);
}

void dist_allgather(const float *mine, size_t count, float *all)
{
    memmove(all, mine, count * sizeof(float));
}

#endif
