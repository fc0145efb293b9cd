/* parallel.c: thread count and the reference-kernel switch (parallel.h). */
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

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
