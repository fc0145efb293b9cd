/* loader_threads.c: a counting gate in front of the loader threads (see
 * loader_threads.h).  Waiting threads sleep on a condition variable, so
 * they take no time from the compute threads. */
#define _POSIX_C_SOURCE 200112L   /* CLOCK_THREAD_CPUTIME_ID */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "input/loader_threads.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_free = PTHREAD_COND_INITIALIZER;
static int limit, running;
static __thread int inside;   /* leave() only undoes an enter() of this thread */
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

void loader_threads_enter(void)
{
    pthread_mutex_lock(&gate_lock);
    while (limit > 0 && running >= limit) pthread_cond_wait(&gate_free, &gate_lock);
    ++running;
    inside = 1;
    pthread_mutex_unlock(&gate_lock);
}

/* A loader thread runs one part and ends: its own time is the part's.
 * The thread's CPU clock, not getrusage(): a part takes well under a
 * scheduler tick, which tick-sampled usage mostly counts as nothing. */
static double thread_cpu_seconds(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return 0;
    return t.tv_sec + t.tv_nsec / 1e9;
}

void loader_threads_leave(void)
{
    if (!inside) return;
    double used = thread_cpu_seconds();
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
