/* fast_pool.c: upstream's [maxpool] and [avgpool] layers over threads, and
 * 2x2 stride-2 max pooling as vector selections in upstream's order; bit
 * for bit with upstream. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "avgpool_layer.h"
#include "maxpool_layer.h"
#include "cpu/fast_lanes.h"
#include "cpu/fastops.h"
#include "cpu/upstream_ref.h"

/* Upstream's window loop keeps the first of equal maxima and passes over
 * NaN (no comparison with it is true); these lanes take the four values in
 * its order with the same comparisons, as selections of value and index
 * rather than one branch per value, which goes either way as the data
 * fall.  LANES outputs of one output row: r0 and r1 are the two window
 * rows from the first window's left column, at index i0 of the input. */
#define POOL_LIST(...) __VA_ARGS__
#define POOL_LANES(vf, vi, LANES, load, store, EVEN, ODD)                                \
    {                                                                                    \
        const vi even = {POOL_LIST EVEN};                                                \
        vf a = load(r0), b = load(r0 + LANES), c = load(r1), d = load(r1 + LANES);       \
        vf v[4] = {__builtin_shufflevector(a, b, POOL_LIST EVEN),                        \
                   __builtin_shufflevector(a, b, POOL_LIST ODD),                         \
                   __builtin_shufflevector(c, d, POOL_LIST EVEN),                        \
                   __builtin_shufflevector(c, d, POOL_LIST ODD)};                        \
        const vi at0 = i0 + even;                                                        \
        const vi at[4] = {at0, at0 + 1, at0 + width, at0 + width + 1};                   \
        vf m = (vf){0} - FLT_MAX;                                                        \
        vi mi = (vi){0} - 1;                                                             \
        for (int t = 0; t < 4; ++t) {                                                    \
            vi gt = v[t] > m;                                                            \
            m = (vf)((gt & (vi)v[t]) | (~gt & (vi)m));                                   \
            mi = (gt & at[t]) | (~gt & mi);                                              \
        }                                                                                \
        store(out, m);                                                                   \
        memcpy(idx, &mi, sizeof mi);                                                     \
    }

V8_INLINE void pool8(const float *r0, const float *r1, int i0, int width, float *out, int *idx)
POOL_LANES(v8f, v8i, 8, load8, store8, (0, 2, 4, 6, 8, 10, 12, 14), (1, 3, 5, 7, 9, 11, 13, 15))

static inline void pool4(const float *r0, const float *r1, int i0, int width, float *out, int *idx)
POOL_LANES(v4f, v4i, 4, load4, store4, (0, 2, 4, 6), (1, 3, 5, 7))
#undef POOL_LANES
#undef POOL_LIST

/* One output row of 2x2 windows, stride 2, all inside: eight (or four)
 * outputs at a time; the last group overlaps the one before instead of
 * leaving a scalar tail (an output is the same whichever group computes it). */
V8_INLINE void pool_row(const float *in, int r0, int width, int ow_n, float *out, int *idx)
{
    const int lanes = ow_n >= 8 ? 8 : 4;
    for (int j = 0; j < ow_n; j += lanes) {
        if (j + lanes > ow_n) j = ow_n - lanes;
        const int i0 = r0 + 2 * j;
        if (lanes == 8) pool8(in + i0, in + i0 + width, i0, width, out + j, idx + j);
        else pool4(in + i0, in + i0 + width, i0, width, out + j, idx + j);
    }
}

/* The output rows of one plane, whose input starts at `base`. */
V8_INLINE void pool_plane(const float *in, int base, int width, int oh_n, int ow_n, float *out, int *idx)
{
    for (int i = 0; i < oh_n; ++i)
        pool_row(in, base + 2 * i * width, width, ow_n, out + i * ow_n, idx + i * ow_n);
}

static void pool_plane_plain(const float *in, int base, int width, int oh_n, int ow_n, float *out, int *idx)
{
    pool_plane(in, base, width, oh_n, ow_n, out, idx);
}

#ifdef HAVE_X86
__attribute__((target("avx2")))
static void pool_plane_avx2(const float *in, int base, int width, int oh_n, int ow_n, float *out, int *idx)
{
    pool_plane(in, base, width, oh_n, ow_n, out, idx);
}
#endif

/* 2x2, stride 2, every window inside and at least four windows a row. */
static void maxpool_2x2_planes(const maxpool_layer *l, const float *in)
{
    const int oh_n = l->out_h, ow_n = l->out_w, planes = l->batch * l->c;
    const int avx2 = ymm_path();
    #pragma omp parallel for schedule(static) if ((long)planes * l->h * l->w >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        const int base = q * l->h * l->w, out = q * oh_n * ow_n;
#ifdef HAVE_X86
        if (avx2) { pool_plane_avx2(in, base, l->w, oh_n, ow_n, l->output + out, l->indexes + out); continue; }
#endif
        pool_plane_plain(in, base, l->w, oh_n, ow_n, l->output + out, l->indexes + out);
    }
}

void forward_maxpool_layer(const maxpool_layer l, network net)
{
    if (dn_reference()) { upstream_forward_maxpool_layer(l, net); return; }
    const int oh_n = l.out_h, ow_n = l.out_w, off = -l.pad / 2;
    const int planes = l.batch * l.c;
    if (l.size == 2 && l.stride == 2 && off == 0 && l.h == 2 * oh_n && l.w == 2 * ow_n && ow_n >= 4) {
        maxpool_2x2_planes(&l, net.input);
        return;
    }
    #pragma omp parallel for schedule(static) if ((long)planes * l.h * l.w >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        const int base = q * l.h * l.w;
        for (int i = 0; i < oh_n; ++i) {
            for (int j = 0; j < ow_n; ++j) {
                int out = (q * oh_n + i) * ow_n + j;
                float max = -FLT_MAX;
                int max_i = -1;
                for (int n = 0; n < l.size; ++n) {
                    int h = off + i * l.stride + n;
                    for (int m = 0; m < l.size; ++m) {
                        int w = off + j * l.stride + m;
                        int index = base + w + l.w * h;
                        float val = (h >= 0 && h < l.h && w >= 0 && w < l.w) ? net.input[index] : -FLT_MAX;
                        if (val > max) { max = val; max_i = index; }
                    }
                }
                l.output[out] = max;
                l.indexes[out] = max_i;
            }
        }
    }
}

void backward_maxpool_layer(const maxpool_layer l, network net)
{
    if (dn_reference()) { upstream_backward_maxpool_layer(l, net); return; }
    const int per = l.out_h * l.out_w;
    const int planes = l.batch * l.c;
    /* A plane's indexes all point into its own input plane. */
    #pragma omp parallel for schedule(static) if ((long)planes * per >= PAR_MIN)
    for (int q = 0; q < planes; ++q)
        for (int i = q * per; i < (q + 1) * per; ++i) {
            int index = l.indexes[i];
            if (index >= 0) net.delta[index] += l.delta[i];
        }
}

maxpool_layer make_maxpool_layer(int batch, int h, int w, int c, int size, int stride, int padding)
{
    maxpool_layer l = upstream_make_maxpool_layer(batch, h, w, c, size, stride, padding);
    l.forward = forward_maxpool_layer;
    l.backward = backward_maxpool_layer;
    return l;
}

void forward_avgpool_layer(const avgpool_layer l, network net)
{
    if (dn_reference()) { upstream_forward_avgpool_layer(l, net); return; }
    const int planes = l.batch * l.c, S = l.h * l.w;
    #pragma omp parallel for schedule(static) if ((long)planes * S >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        const float *x = net.input + (long)q * S;
        float s = 0;
        for (int i = 0; i < S; ++i) s += x[i];
        l.output[q] = s / S;
    }
}

void backward_avgpool_layer(const avgpool_layer l, network net)
{
    if (dn_reference()) { upstream_backward_avgpool_layer(l, net); return; }
    const int planes = l.batch * l.c, S = l.h * l.w;
    #pragma omp parallel for schedule(static) if ((long)planes * S >= PAR_MIN)
    for (int q = 0; q < planes; ++q) {
        float *d = net.delta + (long)q * S;
        const float g = l.delta[q] / S;
        for (int i = 0; i < S; ++i) d[i] += g;
    }
}

avgpool_layer make_avgpool_layer(int batch, int w, int h, int c)
{
    avgpool_layer l = upstream_make_avgpool_layer(batch, w, h, c);
    l.forward = forward_avgpool_layer;
    l.backward = backward_avgpool_layer;
    return l;
}
