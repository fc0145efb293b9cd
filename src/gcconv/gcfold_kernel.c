/* gcfold_kernel.c: the dense kernel of a [gcconv] layer (see gcfold_kernel.h).
 *
 * Each output filter o*K+k is R's map k times w's row o, laid out over the
 * channels the layer really reads.  The four cases differ only in where a
 * product lands: every input plane (full), the planes of input branch k
 * (branch), or the original channel a replica came from (expand). */
#include <stdlib.h>
#include <string.h>

#include "utils.h"

#include "gcconv/gcconv_state.h"
#include "gcconv/gcfold_kernel.h"

gcfold_geometry gcfold_geometry_of(layer l)
{
    gcfold_geometry g = {l.size, l.pad};
    if (l.size == 1 && (l.stride > 1 || l.pad > 0)) {
        g.size = 3;
        g.padding = l.pad + 1;
    }
    return g;
}

size_t gcfold_kernel_floats(layer l)
{
    gcfold_geometry g = gcfold_geometry_of(l);
    return (size_t)l.n * l.c * g.size * g.size;
}

/* One filter of full mixing: w's planes j = c*K+m are the input channels,
 * or with expand the K replicas of channel c, which add up. */
static void fold_full_row(const gcconv_state *s, const float *r, const float *w, float *h)
{
    for (int j = 0; j < s->planes; ++j) {
        int channel = s->expand ? j / s->K : j;
        for (int p = 0; p < s->ss; ++p) h[channel * s->ss + p] += r[p] * w[j * s->ss + p];
    }
}

/* One filter of branch mixing for branch k: plane c of w reads channel
 * c*K+k, or with expand channel c itself; every other channel weighs 0. */
static void fold_branch_row(const gcconv_state *s, int k, const float *r, const float *w, float *h)
{
    for (int c = 0; c < s->C; ++c) {
        int channel = s->expand ? c : c * s->K + k;
        for (int p = 0; p < s->ss; ++p) h[channel * s->ss + p] = r[p] * w[c * s->ss + p];
    }
}

/* The kernel at the layer's own size. */
static void fold_compact(layer l, float *kernel)
{
    const gcconv_state *s = gcconv_state_of(l);
    size_t row = (size_t)l.c * s->ss;
    memset(kernel, 0, (size_t)l.n * row * sizeof(float));
    for (int o = 0; o < s->N; ++o) {
        const float *w = l.weights + (size_t)o * s->planes * s->ss;
        for (int k = 0; k < s->K; ++k) {
            const float *r = s->R + k * s->ss;
            float *h = kernel + (size_t)(o * s->K + k) * row;
            if (s->mixing == GC_MIX_FULL) fold_full_row(s, r, w, h);
            else fold_branch_row(s, k, r, w, h);
        }
    }
}

void gcfold_kernel(layer l, float *kernel)
{
    gcfold_geometry g = gcfold_geometry_of(l);
    if (g.size == l.size) {
        fold_compact(l, kernel);
        return;
    }
    /* a 1x1 kernel widened to 3x3: each weight at the centre pixel */
    size_t planes = (size_t)l.n * l.c;
    float *compact = malloc(planes * sizeof(float));
    if (!compact) malloc_error();
    fold_compact(l, compact);
    memset(kernel, 0, gcfold_kernel_floats(l) * sizeof(float));
    for (size_t i = 0; i < planes; ++i) kernel[i * 9 + 4] = compact[i];
    free(compact);
}
