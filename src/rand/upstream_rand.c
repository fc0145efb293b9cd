/* upstream_rand.c: seeded random numbers for upstream code (see upstream_rand.h). */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rand/upstream_rand.h"
#include "utils.h"

#if RAND_MAX != 2147483647
#error "ext_rand() returns 31 bits; this libc's RAND_MAX differs"
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rng *owner;              /* a seeded network's RNG_UPSTREAM stream, or NULL: libc */
static uint64_t owner_seed;     /* its seed= */
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
    int value = owner ? draw31(owner) : libc_rand();
    pthread_mutex_unlock(&lock);
    return value;
}

void upstream_rand_attach(rng *stream, int seeded, uint64_t seed)
{
    pthread_mutex_lock(&lock);
    owner = seeded ? stream : NULL;
    owner_seed = loader_seed = seed;
    batches_handed_out = 0;
    pthread_mutex_unlock(&lock);
}

void upstream_rand_detach(rng *stream)
{
    pthread_mutex_lock(&lock);
    if (owner == stream) owner = NULL;
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

size_t upstream_rand_next_batch(void)
{
    pthread_mutex_lock(&lock);
    /* 0 means "not numbered": the loader thread then draws like any other */
    size_t batch = owner ? ++batches_handed_out : 0;
    pthread_mutex_unlock(&lock);
    return batch;
}

void upstream_rand_loader_begin(size_t batch, int part)
{
    if (!batch) return;
    pthread_mutex_lock(&lock);
    uint64_t seed = loader_seed;
    pthread_mutex_unlock(&lock);
    uint64_t id = rng_hash(rng_hash(RNG_DATA ^ rng_hash(batch)) ^ (uint64_t)part);
    rng_seed(&loader_stream, seed, id);
    in_loader = 1;
}

void upstream_rand_loader_end(void)
{
    in_loader = 0;
}

static rng before_passes;
static int passes_begun;

void upstream_rand_pass(size_t step, int pass)
{
    pthread_mutex_lock(&lock);
    if (owner) {
        if (!passes_begun) before_passes = *owner;
        passes_begun = 1;
        rng_seed(owner, owner_seed, rng_hash(rng_hash(RNG_UPSTREAM ^ rng_hash(step)) ^ (uint64_t)pass));
    }
    pthread_mutex_unlock(&lock);
}

void upstream_rand_passes_done(void)
{
    pthread_mutex_lock(&lock);
    if (owner && passes_begun) *owner = before_passes;
    passes_begun = 0;
    pthread_mutex_unlock(&lock);
}
