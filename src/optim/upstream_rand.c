/* upstream_rand.c: seeded random numbers for upstream code (see upstream_rand.h). */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ext.h"
#include "input/loader_threads.h"
#include "optim/upstream_rand.h"
#include "utils.h"

#if RAND_MAX != 2147483647
#error "ext_rand() returns 31 bits; this libc's RAND_MAX differs"
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static net_ext *owner;          /* seeded network whose streams feed libc-rand draws */
static uint64_t loader_seed;
static size_t batches_handed_out;

static __thread rng loader_stream;
static __thread int in_loader;

static int draw31(rng *r)
{
    return (int)(rng_next(r) >> 33);
}

int ext_rand(void)
{
    if (in_loader) return draw31(&loader_stream);
    pthread_mutex_lock(&lock);
    int value = owner ? draw31(&owner->streams[RNG_UPSTREAM]) : libc_rand();
    pthread_mutex_unlock(&lock);
    return value;
}

void upstream_rand_attach(net_ext *x)
{
    pthread_mutex_lock(&lock);
    owner = x->seeded ? x : NULL;
    loader_seed = x->seed;
    batches_handed_out = 0;
    pthread_mutex_unlock(&lock);
}

void upstream_rand_detach(net_ext *x)
{
    pthread_mutex_lock(&lock);
    if (owner == x) owner = NULL;
    pthread_mutex_unlock(&lock);
}

void upstream_rand_seed_from_time(void)
{
    /* The one place that seeds libc: it serves only runs without seed=. */
    srand((unsigned)time(0));
}

size_t upstream_rand_batches(void)
{
    pthread_mutex_lock(&lock);
    size_t n = batches_handed_out;
    pthread_mutex_unlock(&lock);
    return n;
}

void upstream_rand_set_batches(size_t n)
{
    pthread_mutex_lock(&lock);
    batches_handed_out = n;
    pthread_mutex_unlock(&lock);
}

size_t ext_loader_next_batch(void)
{
    pthread_mutex_lock(&lock);
    /* 0 means "not numbered": the loader thread then draws like any other */
    size_t batch = owner ? ++batches_handed_out : 0;
    pthread_mutex_unlock(&lock);
    return batch;
}

void ext_loader_thread_begin(size_t batch, int part)
{
    /* a part's draws come from its own stream: waiting for a turn changes none */
    loader_threads_enter();
    if (!batch) return;
    pthread_mutex_lock(&lock);
    uint64_t seed = loader_seed;
    pthread_mutex_unlock(&lock);
    uint64_t id = rng_hash(rng_hash(RNG_DATA ^ rng_hash(batch)) ^ (uint64_t)part);
    rng_seed(&loader_stream, seed, id);
    in_loader = 1;
}

void ext_loader_thread_end(void)
{
    in_loader = 0;
    loader_threads_leave();
}

static rng before_passes;
static int passes_begun;

void upstream_rand_pass(size_t step, int pass)
{
    pthread_mutex_lock(&lock);
    if (owner) {
        rng *s = &owner->streams[RNG_UPSTREAM];
        if (!passes_begun) before_passes = *s;
        passes_begun = 1;
        rng_seed(s, owner->seed, rng_hash(rng_hash(RNG_UPSTREAM ^ rng_hash(step)) ^ (uint64_t)pass));
    }
    pthread_mutex_unlock(&lock);
}

void upstream_rand_passes_done(void)
{
    pthread_mutex_lock(&lock);
    if (owner && passes_begun) owner->streams[RNG_UPSTREAM] = before_passes;
    passes_begun = 0;
    pthread_mutex_unlock(&lock);
}

/* ---- a rank's share of a batch (patches/0060) ----------------------------
 * concat_datas() puts the parts in reverse order (the last thread's rows
 * first), so part p of T holds rows [total - (p+1)*total/T, total - p*total/T)
 * of the batch; rank r of R trains on rows [r*total/R, (r+1)*total/R). */
int ext_loader_skip_part(load_args *a, int total)
{
    if (a->ext_ranks <= 1 || a->threads < 1) return 0;
    long t = a->threads, p = a->ext_part, r = a->ext_rank, n = a->ext_ranks;
    long first = total - (p + 1) * total / t, end = total - p * total / t;
    long mine = r * total / n, mine_end = (r + 1) * total / n;
    if (first < mine_end && end > mine) return 0;
    data *d = a->d;
    memset(d, 0, sizeof *d);
    d->X.rows = d->y.rows = a->n;
    d->X.vals = calloc(a->n ? a->n : 1, sizeof(float *));
    d->y.vals = calloc(a->n ? a->n : 1, sizeof(float *));
    return 1;
}

void ext_loader_fill_skipped(data *parts, const int *skipped, int n)
{
    int loaded = -1;
    for (int i = 0; i < n && loaded < 0; ++i)
        if (!skipped[i]) loaded = i;
    if (loaded < 0) return;
    for (int i = 0; i < n; ++i) {
        if (!skipped[i]) continue;
        parts[i].X.cols = parts[loaded].X.cols;
        parts[i].y.cols = parts[loaded].y.cols;
        parts[i].w = parts[loaded].w;
        parts[i].h = parts[loaded].h;
    }
}
