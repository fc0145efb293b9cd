/* parallel.c: thread count and the reference-kernel switch (parallel.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/parallel.h"
#include "checked.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static int reference = -1;   /* -1: not read from the environment yet */

int dn_reference(void)
{
    if (reference < 0) {
        const char *s = getenv("DARKNET_REFERENCE");
        reference = s && *s && strcmp(s, "0") != 0;
    }
    return reference;
}

void dn_set_reference(int on)
{
    reference = on != 0;
}

void dn_set_threads(int n)
{
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int dn_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int dn_in_parallel(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}

/* *buf with room for at least bytes; out of memory exits with a message. */
static float *grow(float **buf, size_t *cap, size_t bytes)
{
    if (*cap < bytes) {
        free(*buf);
        *buf = malloc(bytes);
        if (!*buf) {
            dn_fatal("no memory for %zu bytes of scratch space\n", bytes);
        }
        *cap = bytes;
    }
    return *buf;
}

/* One buffer per thread, kept for the thread's life. */
float *dn_thread_scratch(size_t bytes)
{
    static __thread float *buf;
    static __thread size_t cap;
    return grow(&buf, &cap, bytes);
}

float *dn_shared_scratch(size_t bytes)
{
    static float *buf;
    static size_t cap;
    return grow(&buf, &cap, bytes);
}

int dn_slot_count(int groups, size_t bytes_per_slot)
{
    int slots = groups < DN_MAX_SLOTS ? groups : DN_MAX_SLOTS;
    while (slots > 1 && (size_t)slots * bytes_per_slot > DN_SLOT_BYTES) --slots;
    return slots;
}
