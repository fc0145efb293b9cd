/* roi_pool.c: RoIAlign and RoIPool (max), forward and backward.  The
 * semantics are in roi_pool.h; this file holds the how. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcnn/roi_pool.h"
#include "checked.h"

/* Samples per bin in align mode: a 2 x 2 grid. */
#define SAMPLES 4
/* Bilinear taps per bin: four per sample. */
#define BIN_TAPS (SAMPLES * 4)
/* Align's backward builds the tap tables of this many bytes of ROIs at once. */
#define TABLE_BUDGET ((size_t)4 << 20)
/* Below this many output floats the forward pass stays on one thread. */
#define PAR_MIN 4096

/* Align mode: where each bin of one ROI reads.  Bin k's taps are
 * index[k*BIN_TAPS + t], weight[...] for t < count[k]; samples that fall
 * outside the map have no taps at all, so that a NaN or an infinity there
 * cannot leak into the output through a zero weight. */
typedef struct tap_table {
    int *index;               /* offset in the plane, row*w + column */
    float *weight;
    int *count;
} tap_table;

int roi_pool_check(const roi_pool_shape *s)
{
    if (!s || s->batch <= 0 || s->c <= 0 || s->h <= 0 || s->w <= 0) return -1;
    if (s->size <= 0 || s->size > ROI_POOL_MAX_SIZE) return -1;
    /* Offsets within a plane, argmax among them, are ints. */
    if ((int64_t)s->h * s->w > INT_MAX) return -1;
    if (!isfinite(s->spatial_scale) || s->spatial_scale <= 0) return -1;
    if (s->mode != ROI_POOL_MAX && s->mode != ROI_POOL_ALIGN) return -1;
    return 0;
}

size_t roi_pool_outputs(const roi_pool_shape *s, int n)
{
    if (n <= 0) return 0;
    return (size_t)n * s->c * s->size * s->size;
}

static int corner_usable(float v, float scale)
{
    float scaled = v * scale;
    return isfinite(v) && fabsf(scaled) <= ROI_POOL_COORD_LIMIT;
}

/* Whether the ROI is pooled at all (roi_pool.h, "Both modes"). */
static int roi_usable(const roi_pool_shape *s, const roi_box *r)
{
    float k = s->spatial_scale;
    return r->image >= 0 && r->image < s->batch &&
           corner_usable(r->x1, k) && corner_usable(r->y1, k) &&
           corner_usable(r->x2, k) && corner_usable(r->y2, k);
}

/* ---- align: the tap tables ------------------------------------------------ */

static tap_table table_alloc(int size, int rois)
{
    size_t bins = (size_t)rois * size * size;
    tap_table t;
    t.index = dn_malloc(bins * BIN_TAPS * sizeof(int));
    t.weight = dn_malloc(bins * BIN_TAPS * sizeof(float));
    t.count = dn_malloc(bins * sizeof(int));
    return t;
}

static void table_free(tap_table *t)
{
    free(t->index);
    free(t->weight);
    free(t->count);
}

/* The table of ROI `slot` within a table made for several ROIs. */
static tap_table table_slot(tap_table t, int size, int slot)
{
    size_t bins = (size_t)slot * size * size;
    tap_table one = {t.index + bins * BIN_TAPS, t.weight + bins * BIN_TAPS, t.count + bins};
    return one;
}

/* Appends the four taps of a bilinear sample at (y, x) to index/weight at
 * *count, unless the sample lies outside [-1, h] x [-1, w].  The test is
 * written so that NaN counts as outside. */
static void add_sample(float y, float x, int h, int w, int *index, float *weight, int *count)
{
    if (!(y >= -1.f && y <= (float)h && x >= -1.f && x <= (float)w)) return;
    if (y < 0) y = 0;
    if (x < 0) x = 0;
    int r0 = (int)y, c0 = (int)x, r1, c1;
    /* At or past the last row (column) the sample reads that row alone. */
    if (r0 >= h - 1) { r0 = r1 = h - 1; y = (float)r0; } else r1 = r0 + 1;
    if (c0 >= w - 1) { c0 = c1 = w - 1; x = (float)c0; } else c1 = c0 + 1;
    float ly = y - (float)r0, lx = x - (float)c0;
    float hy = 1.f - ly, hx = 1.f - lx;
    int n = *count;
    index[n] = r0 * w + c0;  weight[n] = hy * hx;
    index[n + 1] = r0 * w + c1;  weight[n + 1] = hy * lx;
    index[n + 2] = r1 * w + c0;  weight[n + 2] = ly * hx;
    index[n + 3] = r1 * w + c1;  weight[n + 3] = ly * lx;
    *count = n + 4;
}

/* Fills the taps of every bin of one usable ROI. */
static void build_taps(const roi_pool_shape *s, const roi_box *r, tap_table t)
{
    int S = s->size;
    float k = s->spatial_scale;
    float x0 = r->x1 * k, y0 = r->y1 * k;
    float rw = fmaxf(r->x2 * k - x0, 1.f), rh = fmaxf(r->y2 * k - y0, 1.f);
    float bw = rw / (float)S, bh = rh / (float)S;
    for (int i = 0; i < S; ++i) {
        for (int j = 0; j < S; ++j) {
            int bin = i * S + j, n = 0;
            int *index = t.index + (size_t)bin * BIN_TAPS;
            float *weight = t.weight + (size_t)bin * BIN_TAPS;
            /* Quarter-cell centres: i + 0.25 and i + 0.75 bins down. */
            for (int sy = 0; sy < 2; ++sy) {
                float y = y0 + ((float)i + 0.25f + 0.5f * (float)sy) * bh;
                for (int sx = 0; sx < 2; ++sx) {
                    float x = x0 + ((float)j + 0.25f + 0.5f * (float)sx) * bw;
                    add_sample(y, x, s->h, s->w, index, weight, &n);
                }
            }
            t.count[bin] = n;
        }
    }
}

/* ---- align: forward and backward ------------------------------------------- */

/* One plane of one ROI: out[bin] = (sum of its taps) / SAMPLES. */
static void align_plane(const float *plane, tap_table t, int bins, float *out)
{
    for (int b = 0; b < bins; ++b) {
        const int *index = t.index + (size_t)b * BIN_TAPS;
        const float *weight = t.weight + (size_t)b * BIN_TAPS;
        float sum = 0;
        for (int k = 0; k < t.count[b]; ++k) sum += weight[k] * plane[index[k]];
        out[b] = sum * (1.f / SAMPLES);
    }
}

static void align_forward(const roi_pool_shape *s, const float *features,
                          const roi_box *rois, int n, float *out)
{
    int S = s->size, bins = S * S;
    size_t plane = (size_t)s->h * s->w, per_roi = (size_t)s->c * bins;
    #pragma omp parallel if (n > 1 && (size_t)n * per_roi >= PAR_MIN)
    {
        tap_table t = table_alloc(S, 1);
        #pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < n; ++r) {
            float *o = out + (size_t)r * per_roi;
            if (!roi_usable(s, &rois[r])) {
                memset(o, 0, per_roi * sizeof(float));
                continue;
            }
            build_taps(s, &rois[r], t);
            const float *image = features + (size_t)rois[r].image * s->c * plane;
            for (int c = 0; c < s->c; ++c)
                align_plane(image + c * plane, t, bins, o + (size_t)c * bins);
        }
        table_free(&t);
    }
}

/* The ROIs [first, first+count) added into every plane.  Each plane is one
 * iteration, so no two threads write the same float, and the ROIs come in
 * their order. */
static void align_backward_chunk(const roi_pool_shape *s, const roi_box *rois, int first,
                                 int count, const char *usable, tap_table t,
                                 const float *out_delta, float *feature_delta)
{
    int S = s->size, bins = S * S, planes = s->batch * s->c;
    size_t plane = (size_t)s->h * s->w, per_roi = (size_t)s->c * bins;
    #pragma omp parallel for schedule(static) if (planes > 1)
    for (int p = 0; p < planes; ++p) {
        int image = p / s->c, c = p % s->c;
        float *d = feature_delta + (size_t)p * plane;
        for (int k = 0; k < count; ++k) {
            int r = first + k;
            if (!usable[k] || rois[r].image != image) continue;
            tap_table one = table_slot(t, S, k);
            const float *g = out_delta + (size_t)r * per_roi + (size_t)c * bins;
            for (int b = 0; b < bins; ++b) {
                float gb = g[b] * (1.f / SAMPLES);
                const int *index = one.index + (size_t)b * BIN_TAPS;
                const float *weight = one.weight + (size_t)b * BIN_TAPS;
                for (int m = 0; m < one.count[b]; ++m) d[index[m]] += weight[m] * gb;
            }
        }
    }
}

static void align_backward(const roi_pool_shape *s, const roi_box *rois, int n,
                           const float *out_delta, float *feature_delta)
{
    int S = s->size;
    size_t roi_bytes = (size_t)S * S * (BIN_TAPS * (sizeof(int) + sizeof(float)) + sizeof(int));
    int chunk = (int)(TABLE_BUDGET / roi_bytes);
    if (chunk < 1) chunk = 1;
    if (chunk > n) chunk = n;
    tap_table t = table_alloc(S, chunk);
    char *usable = dn_malloc((size_t)chunk);
    for (int first = 0; first < n; first += chunk) {
        int count = n - first < chunk ? n - first : chunk;
        #pragma omp parallel for schedule(static) if (count > 1)
        for (int k = 0; k < count; ++k) {
            usable[k] = (char)roi_usable(s, &rois[first + k]);
            if (usable[k]) build_taps(s, &rois[first + k], table_slot(t, S, k));
        }
        align_backward_chunk(s, rois, first, count, usable, t, out_delta, feature_delta);
    }
    free(usable);
    table_free(&t);
}

/* ---- max ------------------------------------------------------------------ */

/* Half away from zero, as C's round(); the product is single precision. */
static int64_t round_corner(float v, float scale)
{
    return (int64_t)round((double)(v * scale));
}

static int64_t clip64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Bin edges along one axis: bin j covers [lo[j], hi[j]), clipped to
 * [0, extent].  Integer arithmetic keeps floor and ceil exact. */
static void max_edges(int64_t start, int64_t end, int S, int extent, int *lo, int *hi)
{
    int64_t span = end - start + 1;
    if (span < 1) span = 1;
    for (int j = 0; j < S; ++j) {
        int64_t a = start + (int64_t)j * span / S;
        int64_t b = start + ((int64_t)(j + 1) * span + S - 1) / S;
        lo[j] = (int)clip64(a, 0, extent);
        hi[j] = (int)clip64(b, 0, extent);
    }
}

/* The first NaN of plane in rows [r0, r1) and columns [c0, c1). */
static int first_nan(const float *plane, int w, int r0, int r1, int c0, int c1)
{
    for (int y = r0; y < r1; ++y)
        for (int x = c0; x < c1; ++x)
            if (isnan(plane[y * w + x])) return y * w + x;
    return -1;
}

/* The largest value of plane in rows [r0, r1) and columns [c0, c1): the
 * first on ties, the first NaN if there is one.  *at gets its offset, or -1
 * for an empty bin (which gives 0).  The comparison is a select rather than
 * a branch, since on real features its outcome is hard to predict; NaNs,
 * which no comparison picks, are looked for only when the bin has one. */
static float bin_max(const float *plane, int w, int r0, int r1, int c0, int c1, int *at)
{
    if (r1 <= r0 || c1 <= c0) { *at = -1; return 0; }
    int best_at = r0 * w + c0, any_nan = 0;
    float best = plane[best_at];
    for (int y = r0; y < r1; ++y) {
        const float *row = plane + y * w;
        for (int x = c0; x < c1; ++x) {
            float v = row[x];
            int more = v > best;
            any_nan |= v != v;
            best_at = more ? y * w + x : best_at;
            best = more ? v : best;
        }
    }
    if (any_nan) best_at = first_nan(plane, w, r0, r1, c0, c1);
    *at = best_at;
    return plane[best_at];
}

static void max_roi(const roi_pool_shape *s, const float *image, const roi_box *r,
                    float *out, int *argmax)
{
    int S = s->size, bins = S * S;
    int rlo[ROI_POOL_MAX_SIZE], rhi[ROI_POOL_MAX_SIZE];
    int clo[ROI_POOL_MAX_SIZE], chi[ROI_POOL_MAX_SIZE];
    float k = s->spatial_scale;
    max_edges(round_corner(r->y1, k), round_corner(r->y2, k), S, s->h, rlo, rhi);
    max_edges(round_corner(r->x1, k), round_corner(r->x2, k), S, s->w, clo, chi);
    size_t plane = (size_t)s->h * s->w;
    for (int c = 0; c < s->c; ++c) {
        const float *p = image + c * plane;
        float *o = out + (size_t)c * bins;
        int *a = argmax + (size_t)c * bins;
        for (int i = 0; i < S; ++i)
            for (int j = 0; j < S; ++j)
                o[i * S + j] = bin_max(p, s->w, rlo[i], rhi[i], clo[j], chi[j], &a[i * S + j]);
    }
}

static void max_forward(const roi_pool_shape *s, const float *features,
                        const roi_box *rois, int n, float *out, int *argmax)
{
    size_t plane = (size_t)s->h * s->w, per_roi = (size_t)s->c * s->size * s->size;
    #pragma omp parallel for schedule(dynamic, 1) if (n > 1 && (size_t)n * per_roi >= PAR_MIN)
    for (int r = 0; r < n; ++r) {
        float *o = out + (size_t)r * per_roi;
        int *a = argmax + (size_t)r * per_roi;
        if (!roi_usable(s, &rois[r])) {
            memset(o, 0, per_roi * sizeof(float));
            for (size_t i = 0; i < per_roi; ++i) a[i] = -1;
            continue;
        }
        const float *image = features + (size_t)rois[r].image * s->c * plane;
        max_roi(s, image, &rois[r], o, a);
    }
}

/* Each plane is one iteration and takes its ROIs in order (see
 * align_backward_chunk). */
static void max_backward(const roi_pool_shape *s, const roi_box *rois, int n,
                         const int *argmax, const float *out_delta, float *feature_delta)
{
    int bins = s->size * s->size, planes = s->batch * s->c;
    int hw = s->h * s->w;
    size_t per_roi = (size_t)s->c * bins;
    #pragma omp parallel for schedule(static) if (planes > 1)
    for (int p = 0; p < planes; ++p) {
        int image = p / s->c, c = p % s->c;
        float *d = feature_delta + (size_t)p * hw;
        for (int r = 0; r < n; ++r) {
            if (rois[r].image != image || !roi_usable(s, &rois[r])) continue;
            size_t at = (size_t)r * per_roi + (size_t)c * bins;
            for (int b = 0; b < bins; ++b) {
                int a = argmax[at + b];
                if (a >= 0 && a < hw) d[a] += out_delta[at + b];
            }
        }
    }
}

/* ---- entry points ------------------------------------------------------------ */

int roi_pool_forward(const roi_pool_shape *s, const float *features,
                     const roi_box *rois, int n, float *out, int *argmax)
{
    if (roi_pool_check(s) != 0 || (s->mode == ROI_POOL_MAX && !argmax)) return -1;
    if (n <= 0) return 0;
    if (s->mode == ROI_POOL_ALIGN) {
        align_forward(s, features, rois, n, out);
    } else {
        max_forward(s, features, rois, n, out, argmax);
    }
    return 0;
}

int roi_pool_backward(const roi_pool_shape *s, const roi_box *rois, int n,
                      const int *argmax, const float *out_delta,
                      float *feature_delta)
{
    if (roi_pool_check(s) != 0 || (s->mode == ROI_POOL_MAX && !argmax)) return -1;
    if (n <= 0) return 0;
    if (s->mode == ROI_POOL_ALIGN) {
        align_backward(s, rois, n, out_delta, feature_delta);
    } else {
        max_backward(s, rois, n, argmax, out_delta, feature_delta);
    }
    return 0;
}
