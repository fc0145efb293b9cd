/* loader_threads.c: a counting gate in front of the loader threads, the
 * long-lived threads that run a batch's parts (see loader_threads.h), and
 * the loader's hooks (ext.h): batch numbers and seeded streams
 * (rand/upstream_rand.h), and a rank's share of a batch.
 * Waiting threads sleep on a condition variable, so they take no time from
 * the compute threads. */
#define _POSIX_C_SOURCE 200112L   /* CLOCK_THREAD_CPUTIME_ID */
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "utils.h"
#include "input/loader_threads.h"
#include "rand/upstream_rand.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_free = PTHREAD_COND_INITIALIZER;
static int limit, running;
static __thread int inside;   /* leave() only undoes an enter() of this thread */
static __thread double entered_at;   /* the thread's CPU clock at enter() */
static double cpu_seconds;    /* of the loader threads that have left */
static long parts_loaded;

void loader_threads_set_limit(int n)
{
    pthread_mutex_lock(&gate_lock);
    limit = n > 0 ? n : 0;
    pthread_cond_broadcast(&gate_free);
    pthread_mutex_unlock(&gate_lock);
}

int loader_threads_limit(void)
{
    pthread_mutex_lock(&gate_lock);
    int n = limit;
    pthread_mutex_unlock(&gate_lock);
    return n;
}

int loader_threads_default(void)
{
    const char *v = getenv("DARKNET_LOADER_THREADS");
    if (v && *v) {
        char *end;
        long n = strtol(v, &end, 10);
        return (*end || n < 0 || n > 4096) ? -1 : (int)n;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

/* The thread's CPU clock, not getrusage(): a part takes well under a
 * scheduler tick, which tick-sampled usage mostly counts as nothing. */
static double thread_cpu_seconds(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return 0;
    return t.tv_sec + t.tv_nsec / 1e9;
}

void loader_threads_enter(void)
{
    pthread_mutex_lock(&gate_lock);
    while (limit > 0 && running >= limit) pthread_cond_wait(&gate_free, &gate_lock);
    ++running;
    inside = 1;
    pthread_mutex_unlock(&gate_lock);
    entered_at = thread_cpu_seconds();
}

void loader_threads_leave(void)
{
    if (!inside) return;
    /* A pool thread runs many parts: the part's time is since its enter(). */
    double used = thread_cpu_seconds() - entered_at;
    pthread_mutex_lock(&gate_lock);
    cpu_seconds += used;
    ++parts_loaded;
    --running;
    inside = 0;
    pthread_cond_signal(&gate_free);
    pthread_mutex_unlock(&gate_lock);
}

void loader_threads_usage(double *seconds, long *parts)
{
    pthread_mutex_lock(&gate_lock);
    *seconds = cpu_seconds;
    *parts = parts_loaded;
    cpu_seconds = 0;
    parts_loaded = 0;
    pthread_mutex_unlock(&gate_lock);
}

/* ---- the pool (patches/0080) ----------------------------------------------
 * One queue of parts for all callers; each call waits for its own parts
 * only (a batch's job), so two batches loading at once do not wait for
 * each other.  The threads are started when first needed, up to the
 * limit, and then sleep on the queue for the life of the process. */
typedef struct {
    int remaining;
} part_job;

typedef struct part_task {
    void *(*run)(void *);
    void *arg;
    part_job *job;
    struct part_task *next;
} part_task;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static part_task *queue_head, *queue_tail;
static int pool_threads;

static void *pool_thread(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (!queue_head) pthread_cond_wait(&work_ready, &pool_lock);
        part_task *t = queue_head;
        queue_head = t->next;
        if (!queue_head) queue_tail = NULL;
        pthread_mutex_unlock(&pool_lock);
        t->run(t->arg);
        pthread_mutex_lock(&pool_lock);
        if (--t->job->remaining == 0) pthread_cond_broadcast(&job_done);
        free(t);
    }
    return NULL;
}

/* Starts threads up to `want`; how many there are (0: none could start). */
static int grow_pool(int want)
{
    while (pool_threads < want) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, pool_thread, NULL) != 0) break;
        pthread_detach(thread);
        ++pool_threads;
    }
    return pool_threads;
}

/* The argument a part's run() takes and frees, as load_data_in_thread()
 * makes it. */
static void *part_argument(load_args a)
{
    if (!a.ext_batch) a.ext_batch = ext_loader_next_batch();
    load_args *copy = calloc(1, sizeof *copy);
    if (!copy) error("data loader: out of memory");
    *copy = a;
    return copy;
}

/* No limit (or no pool thread could start): one new thread a part, as
 * upstream's load_threads() did. */
static void run_on_own_threads(void *(*run)(void *), const load_args *parts, int n)
{
    pthread_t *threads = calloc(n > 0 ? n : 1, sizeof *threads);
    if (!threads) error("data loader: out of memory");
    for (int i = 0; i < n; ++i)
        if (pthread_create(&threads[i], NULL, run, part_argument(parts[i])) != 0)
            error("data loader: thread creation failed");
    for (int i = 0; i < n; ++i) pthread_join(threads[i], NULL);
    free(threads);
}

void ext_loader_run_parts(void *(*run)(void *), const load_args *parts, int n)
{
    int want = loader_threads_limit();
    pthread_mutex_lock(&pool_lock);
    int have = want > 0 ? grow_pool(want) : 0;
    pthread_mutex_unlock(&pool_lock);
    if (have == 0) {
        run_on_own_threads(run, parts, n);
        return;
    }
    part_job job = {n};
    part_task *first = NULL, *last = NULL;
    for (int i = 0; i < n; ++i) {
        part_task *t = calloc(1, sizeof *t);
        if (!t) error("data loader: out of memory");
        *t = (part_task){run, part_argument(parts[i]), &job, NULL};
        if (last) last->next = t;
        else first = t;
        last = t;
    }
    pthread_mutex_lock(&pool_lock);
    if (first) {
        if (queue_tail) queue_tail->next = first;
        else queue_head = first;
        queue_tail = last;
        pthread_cond_broadcast(&work_ready);
    }
    while (job.remaining > 0) pthread_cond_wait(&job_done, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
}

/* ---- the loader hooks (ext.h): numbered batches and seeded streams ------- */

size_t ext_loader_next_batch(void)
{
    return upstream_rand_next_batch();
}

void ext_loader_thread_begin(size_t batch, int part)
{
    /* a part's draws come from its own stream: waiting for a turn changes none */
    loader_threads_enter();
    upstream_rand_loader_begin(batch, part);
}

void ext_loader_thread_end(void)
{
    upstream_rand_loader_end();
    loader_threads_leave();
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
