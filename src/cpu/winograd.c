/* winograd.c: 3x3 convolutions (stride 1, padding 1) by Winograd's minimal
 * filtering F(4x4, 3x3), as Lavin and Gray use it for CNNs ("Fast
 * Algorithms for Convolutional Neural Networks", 2016).
 *
 * A 4x4 tile of one output plane, read from the 6x6 input tile under it, is
 *     Y = A^T [ sum_c (G g_c G^T) . (B^T d_c B) ] A
 * with g_c the 3x3 kernel of input plane c, d_c the 6x6 input tile and "."
 * the element-wise product.  Each of the 36 points xi of the transformed
 * tile is therefore one matrix product over the channels:
 *     X[xi] (m x T) = U[xi] (m x c) * V[xi] (c x T)
 * for T tiles at once, U = G g G^T the transformed weights and V = B^T d B
 * the transformed input tiles.  The products go to fast_gemm(), the
 * transforms are written out below, their lanes 16 tiles of a tile row.
 *
 * Backward, the same algebra transposed:
 *   input delta: a 3x3 convolution at padding 1 of the output delta with the
 *     kernels turned by 180 degrees and the roles of m and c exchanged;
 *   weights: since Y is linear in U, dU[xi] (m x c) = sum over tiles of
 *     (A dY A^T)[xi] (m x T) * V[xi]^T, and dg = G^T dU G.
 * Images go in groups whose transformed tiles take about GROUP_BYTES; the
 * weight gradient is summed over the groups in order, so no sum depends on
 * the thread count.  Buffers are this file's own and are kept, so the
 * functions must not be called from inside a parallel region (fastconv.c
 * takes the im2col path there). */
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "cpu/fastgemm.h"
#include "cpu/parallel.h"
#include "cpu/winograd.h"

#define ALPHA 6               /* input tile side: 4 outputs + 3 - 1 */
#define POINTS 36             /* points of a transformed tile */
#define LANES 16              /* tiles transformed together */
#define GROUP_BYTES ((size_t)64 << 20)

static size_t group_bytes = GROUP_BYTES;

void winograd_set_group_bytes(size_t bytes)
{
    group_bytes = bytes ? bytes : GROUP_BYTES;
}

/* The tiles of a group of images: th x tw per image, all = images * both. */
typedef struct tiling {
    int h, w, th, tw;
    size_t per_image, all;
} tiling;

static tiling tiles_of(int h, int w, int images)
{
    tiling t = {h, w, (h + 3) / 4, (w + 3) / 4, 0, 0};
    t.per_image = (size_t)t.th * t.tw;
    t.all = t.per_image * images;
    return t;
}

typedef struct buffer {
    float *p;
    size_t floats;
} buffer;

static buffer weights_t, weights_grad_t, tiles_in, tiles_out;

static float *grow(buffer *b, size_t floats)
{
    if (floats > b->floats) {
        free(b->p);
        b->p = dn_malloc(floats * sizeof(float));
        b->floats = floats;
    }
    return b->p;
}

/* n floats from src to dst, in moves of four (memcpy of a length known
 * only at run time becomes a string instruction here, slow for 64 bytes). */
static inline void copy_lanes(float *dst, const float *src, int n)
{
    int l = 0;
    for (; l + 4 <= n; l += 4) memcpy(dst + l, src + l, 4 * sizeof(float));
    for (; l < n; ++l) memcpy(dst + l, src + l, sizeof(float));
}

/* ---- one-dimensional transforms, each over LANES values (one per tile) --
 * s and d are the strides, in floats, between the transform's points. */

/* r = B^T d: six points of the input tile to six points. */
static inline void input_1d(const float *d, int s, float *r, int rs)
{
    for (int l = 0; l < LANES; ++l) {
        float d0 = d[l], d1 = d[s + l], d2 = d[2 * s + l], d3 = d[3 * s + l], d4 = d[4 * s + l], d5 = d[5 * s + l];
        r[l] = 4 * d0 - 5 * d2 + d4;
        r[rs + l] = -4 * d1 - 4 * d2 + d3 + d4;
        r[2 * rs + l] = 4 * d1 - 4 * d2 - d3 + d4;
        r[3 * rs + l] = -2 * d1 - d2 + 2 * d3 + d4;
        r[4 * rs + l] = 2 * d1 - d2 - 2 * d3 + d4;
        r[5 * rs + l] = 4 * d1 - 5 * d3 + d5;
    }
}

/* y = A^T x: six points of a product to four outputs. */
static inline void output_1d(const float *x, int s, float *y, int ys)
{
    for (int l = 0; l < LANES; ++l) {
        float x0 = x[l], x1 = x[s + l], x2 = x[2 * s + l], x3 = x[3 * s + l], x4 = x[4 * s + l], x5 = x[5 * s + l];
        y[l] = x0 + x1 + x2 + x3 + x4;
        y[ys + l] = x1 - x2 + 2 * x3 - 2 * x4;
        y[2 * ys + l] = x1 + x2 + 4 * x3 + 4 * x4;
        y[3 * ys + l] = x1 - x2 + 8 * x3 - 8 * x4 + x5;
    }
}

/* x = A y: four output deltas to six points (the transpose of output_1d). */
static inline void delta_1d(const float *y, int s, float *x, int xs)
{
    for (int l = 0; l < LANES; ++l) {
        float y0 = y[l], y1 = y[s + l], y2 = y[2 * s + l], y3 = y[3 * s + l];
        x[l] = y0;
        x[xs + l] = y0 + y1 + y2 + y3;
        x[2 * xs + l] = y0 - y1 + y2 - y3;
        x[3 * xs + l] = y0 + 2 * y1 + 4 * y2 + 8 * y3;
        x[4 * xs + l] = y0 - 2 * y1 + 4 * y2 - 8 * y3;
        x[5 * xs + l] = y3;
    }
}

/* u = G g: three kernel values to six points; and g = G^T u back. */
static inline void kernel_1d(const float *g, int s, float *u, int us)
{
    for (int l = 0; l < LANES; ++l) {
        float g0 = g[l], g1 = g[s + l], g2 = g[2 * s + l];
        u[l] = g0 / 4;
        u[us + l] = (-g0 - g1 - g2) / 6;
        u[2 * us + l] = (-g0 + g1 - g2) / 6;
        u[3 * us + l] = (g0 / 4 + g1 / 2 + g2) / 6;
        u[4 * us + l] = (g0 / 4 - g1 / 2 + g2) / 6;
        u[5 * us + l] = g2;
    }
}

static inline void kernel_grad_1d(const float *u, int s, float *g, int gs)
{
    for (int l = 0; l < LANES; ++l) {
        float u0 = u[l], u1 = u[s + l], u2 = u[2 * s + l], u3 = u[3 * s + l], u4 = u[4 * s + l], u5 = u[5 * s + l];
        g[l] = u0 / 4 + (-u1 - u2 + (u3 + u4) / 4) / 6;
        g[gs + l] = (-u1 + u2 + (u3 - u4) / 2) / 6;
        g[2 * gs + l] = (-u1 - u2 + u3 + u4) / 6 + u5;
    }
}

/* ---- weights ------------------------------------------------------------
 * The lanes are LANES consecutive entries of a point's matrix. */

/* u[xi] (rows x cols) = G g G^T for the kernels of weights (m x c x 3 x 3):
 * forward, rows are the m outputs and cols the c inputs; turned (for the
 * input delta), rows are the c inputs, cols the m outputs, and each kernel
 * is read turned by 180 degrees. */
static void transform_weights(const float *weights, int m, int c, int turned, float *u)
{
    const size_t plane = (size_t)m * c;
    #pragma omp parallel for schedule(static)
    for (size_t at0 = 0; at0 < plane; at0 += LANES) {
        int n = plane - at0 < LANES ? (int)(plane - at0) : LANES;
        float g[9 * LANES] = {0}, t[18 * LANES], pts[POINTS * LANES];
        for (int l = 0; l < n; ++l) {
            size_t at = at0 + l, kernel = turned ? at % m * c + at / m : at;
            const float *k = weights + kernel * 9;
            for (int e = 0; e < 9; ++e) g[e * LANES + l] = turned ? k[8 - e] : k[e];
        }
        for (int x = 0; x < 3; ++x) kernel_1d(g + x * LANES, 3 * LANES, t + x * LANES, 3 * LANES);
        for (int y = 0; y < ALPHA; ++y) kernel_1d(t + y * 3 * LANES, LANES, pts + y * ALPHA * LANES, LANES);
        for (int xi = 0; xi < POINTS; ++xi) copy_lanes(u + xi * plane + at0, pts + xi * LANES, n);
    }
}

/* weight_updates += G^T du G, du[xi] being m x c. */
static void add_weight_gradient(const float *du, int m, int c, float *weight_updates)
{
    const size_t plane = (size_t)m * c;
    #pragma omp parallel for schedule(static)
    for (size_t at0 = 0; at0 < plane; at0 += LANES) {
        int n = plane - at0 < LANES ? (int)(plane - at0) : LANES;
        float pts[POINTS * LANES] = {0}, t[18 * LANES], g[9 * LANES];
        for (int xi = 0; xi < POINTS; ++xi) copy_lanes(pts + xi * LANES, du + xi * plane + at0, n);
        for (int y = 0; y < ALPHA; ++y) kernel_grad_1d(pts + y * ALPHA * LANES, LANES, t + y * 3 * LANES, LANES);
        for (int x = 0; x < 3; ++x) kernel_grad_1d(t + x * LANES, 3 * LANES, g + x * LANES, 3 * LANES);
        for (int l = 0; l < n; ++l) {
            float *k = weight_updates + (at0 + l) * 9;
            for (int e = 0; e < 9; ++e) k[e] += g[e * LANES + l];
        }
    }
}

/* ---- tiles --------------------------------------------------------------
 * Planes of at most STAGED_TILES tiles (a detector's head: a 7x7 plane has
 * four) are staged with their padding, and the lanes are LANES consecutive
 * tiles of the group, across tile rows and images alike.  Larger planes are
 * read in place, the lanes along one tile row. */

/* Where tile t of a group lies: its image and its top left output. */
typedef struct tile_at {
    int image, y, x;
} tile_at;

static tile_at locate(const tiling *t, size_t tile)
{
    tile_at a;
    a.image = (int)(tile / t->per_image);
    int in_image = (int)(tile % t->per_image);
    a.y = in_image / t->tw * 4;
    a.x = in_image % t->tw * 4;
    return a;
}

/* The tile after a. */
static inline void advance(tile_at *a, const tiling *t)
{
    a->x += 4;
    if (a->x < 4 * t->tw) return;
    a->x = 0;
    a->y += 4;
    if (a->y < 4 * t->th) return;
    a->y = 0;
    a->image++;
}

/* Planes of at most this many tiles are staged: most of their windows
 * reach the padding (all of a 7x7 plane's). */
#define STAGED_TILES 64

/* The planes p of a group's images, each with the zeros around it that
 * its tiles' windows reach (`shift` rows and columns before, up to the
 * last window after): padded, so that every window lies inside. */
typedef struct staged {
    const float *p;
    int h, w;          /* of one padded plane */
} staged;

static staged stage(const float *images, int planes, int p, const tiling *t, int size, int shift)
{
    staged g = {NULL, 4 * t->th + size - 4, 4 * t->tw + size - 4};
    const int images_n = (int)(t->all / t->per_image);
    const size_t padded = (size_t)g.h * g.w, plane_size = (size_t)t->h * t->w;
    float *buf = dn_thread_scratch(padded * images_n * sizeof(float));
    for (int b = 0; b < images_n; ++b) {
        const float *src = images + ((size_t)b * planes + p) * plane_size;
        float *dst = buf + b * padded;
        memset(dst, 0, padded * sizeof(float));
        for (int y = 0; y < t->h; ++y) memcpy(dst + (size_t)(y + shift) * g.w + shift, src + (size_t)y * t->w,
                                              t->w * sizeof(float));
    }
    g.p = buf;
    return g;
}

/* Lanes [0, n) of win[row][col][lane]: the size x size windows of the n
 * tiles from a in the staged planes, each at the tile's own corner (the
 * staging put the padding before it). */
static inline void gather_lanes(const staged *g, const tiling *t, tile_at a, int n, int size, float *win)
{
    for (int l = 0; l < n; ++l, advance(&a, t)) {
        const float *src = g->p + ((size_t)a.image * g->h + a.y) * g->w + a.x;
        for (int r = 0; r < size; ++r, src += g->w)
            for (int q = 0; q < size; ++q) win[(r * size + q) * LANES + l] = src[q];
    }
}

/* B^T d B of LANES 6x6 windows into out[xi][lane]. */
static void input_2d(const float *win, float *out)
{
    float mid[POINTS * LANES];
    for (int q = 0; q < ALPHA; ++q) input_1d(win + q * LANES, ALPHA * LANES, mid + q * LANES, ALPHA * LANES);
    for (int r = 0; r < ALPHA; ++r) input_1d(mid + r * ALPHA * LANES, LANES, out + r * ALPHA * LANES, LANES);
}

/* A dY A^T of LANES 4x4 windows into out[xi][lane]. */
static void delta_2d(const float *win, float *out)
{
    float mid[ALPHA * 4 * LANES];
    for (int q = 0; q < 4; ++q) delta_1d(win + q * LANES, 4 * LANES, mid + q * LANES, 4 * LANES);
    for (int r = 0; r < ALPHA; ++r) delta_1d(mid + r * 4 * LANES, LANES, out + r * ALPHA * LANES, LANES);
}

/* A^T x A of LANES transformed tiles into out[row][col][lane] (4x4). */
static void output_2d(const float *pts, float *out)
{
    float mid[4 * ALPHA * LANES];
    for (int q = 0; q < ALPHA; ++q) output_1d(pts + q * LANES, ALPHA * LANES, mid + q * LANES, ALPHA * LANES);
    for (int r = 0; r < 4; ++r) output_1d(mid + r * ALPHA * LANES, LANES, out + r * 4 * LANES, LANES);
}

/* Stores lanes [0, n) of out[xi][lane] at column `at` of v[xi]. */
static void store_points(const float *out, int n, float *v, size_t at, size_t stride)
{
    for (int xi = 0; xi < POINTS; ++xi) copy_lanes(v + xi * stride + at, out + xi * LANES, n);
}

static void transform_lanes(int delta, const float *win, float *out)
{
    if (delta) delta_2d(win, out);
    else input_2d(win, out);
}

/* Plane p of planes of at most STAGED_TILES tiles: lanes across tile rows
 * and images, read from the staged planes. */
static void transform_staged(const float *images, int planes, int p, const tiling *t, int delta, float *v)
{
    const size_t stride = (size_t)planes * t->all;
    float win[POINTS * LANES], out[POINTS * LANES];
    staged g = delta ? stage(images, planes, p, t, 4, 0) : stage(images, planes, p, t, ALPHA, 1);
    for (size_t t0 = 0; t0 < t->all; t0 += LANES) {
        int n = t->all - t0 < LANES ? (int)(t->all - t0) : LANES;
        if (n < LANES) memset(win, 0, sizeof win);
        if (delta) gather_lanes(&g, t, locate(t, t0), n, 4, win);
        else gather_lanes(&g, t, locate(t, t0), n, ALPHA, win);
        transform_lanes(delta, win, out);
        store_points(out, n, v, (size_t)p * t->all + t0, stride);
    }
}

/* Row y of plane (t's h x w) from column x0 on, `span` floats: the plane's
 * own row where it lies inside, else a copy in line with zeros outside. */
static const float *plane_line(const float *plane, const tiling *t, int y, int x0, int span, float *line)
{
    if (y >= 0 && y < t->h && x0 >= 0 && x0 + span <= t->w) return plane + (size_t)y * t->w + x0;
    memset(line, 0, span * sizeof(float));
    if (y < 0 || y >= t->h) return line;
    int from = x0 < 0 ? 0 : x0, to = x0 + span < t->w ? x0 + span : t->w;
    if (to > from) memcpy(line + (from - x0), plane + (size_t)y * t->w + from, (to - from) * sizeof(float));
    return line;
}

/* The windows of LANES tiles of one tile row, size x size at (y0, x0 + 4l)
 * for lane l, into win[row][col][lane]: column q of lane l is the line's
 * float 4l + q, so each window row is a transposition of one line. */
static void gather_row(const float *plane, const tiling *t, int y0, int x0, int size, float *win)
{
    float line[4 * LANES + 2];
    const int span = 4 * LANES + size - 4;
    for (int r = 0; r < size; ++r) {
        const float *src = plane_line(plane, t, y0 + r, x0, span, line);
        for (int q = 0; q < size; ++q)
            for (int l = 0; l < LANES; ++l) win[(r * size + q) * LANES + l] = src[4 * l + q];
    }
}

/* Plane p of larger planes: lanes along each tile row, read row by row. */
static void transform_rows(const float *images, int planes, int p, const tiling *t, int delta, float *v)
{
    const size_t stride = (size_t)planes * t->all, plane_size = (size_t)t->h * t->w;
    float win[POINTS * LANES], out[POINTS * LANES];
    for (size_t b = 0; b < t->all / t->per_image; ++b) {
        const float *plane = images + (b * planes + p) * plane_size;
        for (int ty = 0; ty < t->th; ++ty)
            for (int tx0 = 0; tx0 < t->tw; tx0 += LANES) {
                int n = t->tw - tx0 < LANES ? t->tw - tx0 : LANES;
                if (delta) gather_row(plane, t, 4 * ty, 4 * tx0, 4, win);
                else gather_row(plane, t, 4 * ty - 1, 4 * tx0 - 1, ALPHA, win);
                transform_lanes(delta, win, out);
                store_points(out, n, v, (size_t)p * t->all + b * t->per_image + (size_t)ty * t->tw + tx0, stride);
            }
    }
}

/* v[xi] (planes x t.all, points `planes * t.all` floats apart) for nb
 * images of `planes` planes each: B^T d B of the input tiles, read at
 * padding 1 (delta 0), or A dY A^T of the output-delta tiles (delta 1). */
static void transform_planes(const float *images, int planes, const tiling *t, int delta, float *v)
{
    #pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; ++p) {
        if (t->per_image > STAGED_TILES) transform_rows(images, planes, p, t, delta, v);
        else transform_staged(images, planes, p, t, delta, v);
    }
}

/* Lanes [0, n) of out[xi][lane] from column `at` of x[xi], A^T x A of each:
 * out[row][col][lane], a 4x4 tile a lane. */
static void output_lanes(const float *x, size_t at, size_t stride, int n, float *out)
{
    float pts[POINTS * LANES];
    if (n < LANES) memset(pts, 0, sizeof pts);
    for (int xi = 0; xi < POINTS; ++xi) copy_lanes(pts + xi * LANES, x + xi * stride + at, n);
    output_2d(pts, out);
}

/* Lane `lane` of out[row][col][lane] (a 4x4 tile) written or added into
 * plane (h x w) at (y0, x0), as far as the plane goes. */
static void scatter(const float *out, int lane, int h, int w, int y0, int x0, int add, float *plane)
{
    int rows = h - y0 < 4 ? h - y0 : 4, cols = w - x0 < 4 ? w - x0 : 4;
    for (int r = 0; r < rows; ++r) {
        float *dst = plane + (size_t)(y0 + r) * w + x0;
        const float *src = out + r * 4 * LANES + lane;
        if (add)
            for (int q = 0; q < cols; ++q) dst[q] += src[q * LANES];
        else
            for (int q = 0; q < cols; ++q) dst[q] = src[q * LANES];
    }
}

/* The tiles of n lanes of one tile row, at (y0, x0 + 4l), into the plane:
 * each output row is a transposition into a line, then one copy or sum. */
static void scatter_row(const float *out, int n, const tiling *t, int y0, int x0, int add, float *plane)
{
    float line[4 * LANES];
    int cols = t->w - x0 < 4 * n ? t->w - x0 : 4 * n;
    for (int r = 0; r < 4 && y0 + r < t->h; ++r) {
        for (int l = 0; l < LANES; ++l)
            for (int q = 0; q < 4; ++q) line[4 * l + q] = out[(r * 4 + q) * LANES + l];
        float *dst = plane + (size_t)(y0 + r) * t->w + x0;
        if (add)
            for (int i = 0; i < cols; ++i) dst[i] += line[i];
        else
            memcpy(dst, line, cols * sizeof(float));
    }
}

/* Plane p of larger planes from x[xi]: lanes along each tile row. */
static void untransform_rows(const float *x, int planes, int p, const tiling *t, float *images, int add)
{
    const size_t stride = (size_t)planes * t->all, plane_size = (size_t)t->h * t->w;
    float out[4 * 4 * LANES];
    for (size_t b = 0; b < t->all / t->per_image; ++b)
        for (int ty = 0; ty < t->th; ++ty)
            for (int tx0 = 0; tx0 < t->tw; tx0 += LANES) {
                int n = t->tw - tx0 < LANES ? t->tw - tx0 : LANES;
                output_lanes(x, (size_t)p * t->all + b * t->per_image + (size_t)ty * t->tw + tx0, stride, n, out);
                scatter_row(out, n, t, 4 * ty, 4 * tx0, add, images + (b * planes + p) * plane_size);
            }
}

/* Plane p of planes of at most STAGED_TILES tiles: lanes across tile rows
 * and images. */
static void untransform_staged(const float *x, int planes, int p, const tiling *t, float *images, int add)
{
    const size_t stride = (size_t)planes * t->all, plane_size = (size_t)t->h * t->w;
    float out[4 * 4 * LANES];
    for (size_t t0 = 0; t0 < t->all; t0 += LANES) {
        int n = t->all - t0 < LANES ? (int)(t->all - t0) : LANES;
        output_lanes(x, (size_t)p * t->all + t0, stride, n, out);
        tile_at a = locate(t, t0);
        for (int l = 0; l < n; ++l, advance(&a, t))
            scatter(out, l, t->h, t->w, a.y, a.x, add, images + ((size_t)a.image * planes + p) * plane_size);
    }
}

/* nb images of `planes` planes from x[xi] (planes x t.all): A^T x A of
 * each tile, written or added; lanes as transform_planes() takes them. */
static void untransform_planes(const float *x, int planes, const tiling *t, float *images, int add)
{
    #pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; ++p) {
        if (t->per_image > STAGED_TILES) untransform_rows(x, planes, p, t, images, add);
        else untransform_staged(x, planes, p, t, images, add);
    }
}

/* ---- products ----------------------------------------------------------- */

/* x[xi] (rows x all) = u[xi] (rows x inner) * v[xi] (inner x all). */
static void products(const float *u, int rows, int inner, const float *v, size_t all, float *x)
{
    #pragma omp parallel for schedule(dynamic, 1)
    for (int xi = 0; xi < POINTS; ++xi)
        fast_gemm(0, 0, rows, (int)all, inner, 1, u + (size_t)xi * rows * inner, inner, v + (size_t)xi * inner * all,
                  (int)all, 0, x + (size_t)xi * rows * all, (int)all);
}

/* du[xi] (m x c) = (fresh ? 0 : du[xi]) + dx[xi] (m x all) * v[xi]^T. */
static void gradient_products(const float *dx, int m, int c, const float *v, size_t all, int fresh, float *du)
{
    #pragma omp parallel for schedule(dynamic, 1)
    for (int xi = 0; xi < POINTS; ++xi)
        fast_gemm(0, 1, m, c, (int)all, 1, dx + (size_t)xi * m * all, (int)all, v + (size_t)xi * c * all,
                  (int)all, fresh ? 0 : 1, du + (size_t)xi * m * c, c);
}

/* Images per group: transformed tiles of `planes` floats a point within
 * group_bytes, at least one image. */
static int group_images(int h, int w, int planes, int nb)
{
    tiling one = tiles_of(h, w, 1);
    size_t per = one.per_image * POINTS * planes * sizeof(float);
    size_t n = group_bytes / per;
    if (n < 1) n = 1;
    return n < (size_t)nb ? (int)n : nb;
}

void winograd_forward(int nb, int c, int h, int w, int m, const float *weights, const float *in, float *out)
{
    float *u = grow(&weights_t, (size_t)POINTS * m * c);
    transform_weights(weights, m, c, 0, u);
    const int group = group_images(h, w, c + m, nb);
    const size_t in_image = (size_t)c * h * w, out_image = (size_t)m * h * w;
    for (int b0 = 0; b0 < nb; b0 += group) {
        int n = nb - b0 < group ? nb - b0 : group;
        tiling t = tiles_of(h, w, n);
        float *v = grow(&tiles_in, POINTS * c * t.all), *x = grow(&tiles_out, POINTS * m * t.all);
        transform_planes(in + b0 * in_image, c, &t, 0, v);
        products(u, m, c, v, t.all, x);
        untransform_planes(x, m, &t, out + b0 * out_image, 0);
    }
}

void winograd_backward(int nb, int c, int h, int w, int m, const float *weights, const float *in,
                       const float *delta, float *weight_updates, float *input_delta)
{
    const int wide = c > m ? c : m;
    float *du = grow(&weights_grad_t, (size_t)POINTS * m * c);
    float *u = input_delta ? grow(&weights_t, (size_t)POINTS * m * c) : NULL;
    if (u) transform_weights(weights, m, c, 1, u);
    const int group = group_images(h, w, 2 * wide, nb);
    const size_t in_image = (size_t)c * h * w, out_image = (size_t)m * h * w;
    for (int b0 = 0; b0 < nb; b0 += group) {
        int n = nb - b0 < group ? nb - b0 : group;
        tiling t = tiles_of(h, w, n);
        float *v = grow(&tiles_in, POINTS * wide * t.all), *x = grow(&tiles_out, POINTS * wide * t.all);
        transform_planes(in + b0 * in_image, c, &t, 0, v);
        transform_planes(delta + b0 * out_image, m, &t, 1, x);
        gradient_products(x, m, c, v, t.all, b0 == 0, du);
        if (!u) continue;
        /* the input delta: the delta's tiles (as an input, padding 1)
         * through the turned kernels */
        transform_planes(delta + b0 * out_image, m, &t, 0, v);
        products(u, c, m, v, t.all, x);
        untransform_planes(x, c, &t, input_delta + b0 * in_image, 1);
    }
    add_weight_gradient(du, m, c, weight_updates);
}
