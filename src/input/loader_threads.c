/* loader_threads.c: a counting gate in front of the loader threads (see
 * loader_threads.h).  Waiting threads sleep on a condition variable, so
 * they take no time from the compute threads. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "input/loader_threads.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_free = PTHREAD_COND_INITIALIZER;
static int limit, running;
static __thread int inside;   /* leave() only undoes an enter() of this thread */

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

void loader_threads_leave(void)
{
    if (!inside) return;
    pthread_mutex_lock(&gate_lock);
    --running;
    inside = 0;
    pthread_cond_signal(&gate_free);
    pthread_mutex_unlock(&gate_lock);
}
