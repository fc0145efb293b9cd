/* Tests for the Winograd convolution (src/cpu/winograd.c): the forward
 * pass, the input delta and the weight gradient against a 3x3 convolution
 * at stride 1 and padding 1 written out in double from its definition.
 *
 * Bounds.  winograd.c computes each value as a sum of terms, each term a
 * product of transform coefficients, one weight and one input (or delta)
 * value; the transforms are those of Lavin and Gray's F(4x4, 3x3), written
 * here again as matrices (BT, G, AT).  Following each term through the
 * float operations that it meets (rounding.h: n roundings in a row put a
 * term within gamma(n) of its exact value):
 *   B^T d B: two passes, each a sum of at most 4 terms whose coefficients
 *     (4, 5, 2, 1) cost at most one rounding: 4 + 4 = 8;
 *   G g G^T: two passes of at most 2 adds and a division by 6 (the
 *     divisions by 2 and 4 are exact): 3 + 3 = 6;
 *   the product u v: 1; the sum over the k channels: k;
 *   A^T x A: two passes of at most 5 terms (coefficients 1, 2, 4, 8, all
 *     exact): 4 + 4 = 8; the add onto the destination: 1.
 * So an output or input-delta value is within gamma(k + 24) of the sum of
 * the terms' absolute values, which is the same algorithm on absolute
 * values: |A^T| (sum_c (|G| |g_c| |G^T|) . (|B^T| |d_c| |B|)) |A|, computed
 * here in double.  The weight gradient G^T (sum_t (A dY_t A^T) . V_t) G:
 * A dY A^T two passes of at most 3 adds (6), V 8, the product 1, the sum
 * over the T tiles of every image (T, plus one per group for the chains
 * continued between groups: at most T more), G^T x G two passes of at most
 * 5 (10), the add 1: gamma(2T + 26) of its magnitude
 * |G^T| (sum_t (|A| |dY_t| |A^T|) . (|B^T| |d_t| |B|)) |G| plus the
 * destination's own value.  The double reference is exact to 2^-53
 * relative, far below these (double_gamma of its sum length is added).
 *
 * Faults these checks catch (each tried): one input coefficient changed
 * (-5 to -4 in the first point of B^T d), the padding of the input tiles
 * left out (windows read at 4ty instead of 4ty - 1), in the staged planes
 * and in the planes read in place, the kernels of the input delta not
 * turned, and the weight gradient's chains restarted at every group
 * (largest ratios to the bound 3 x 10^3 to 5 x 10^4). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/fastgemm.h"
#include "cpu/winograd.h"
#include "helpers/rounding.h"

static const double BT[6][6] = {
    {4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
};
static const double G[6][3] = {
    {1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1},
};
static const double AT[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1},
};

typedef struct shape {
    int nb, c, h, w, m;
} shape;

static uint64_t state = 88172645463325252ull;

static float uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (float)((state >> 40) / 16777216.0 * 2 - 1);
}

static float *random_floats(size_t n)
{
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; ++i) p[i] = uniform();
    return p;
}

/* plane value at (y, x), zero outside */
static double at(const float *plane, int h, int w, int y, int x)
{
    return y < 0 || y >= h || x < 0 || x >= w ? 0 : plane[(size_t)y * w + x];
}

/* |M1| |X| |M2^T| for an r x q matrix M (as |M| X |M|^T): out (r x r). */
static void abs_sandwich(const double *M, int r, int q, const double *X, double *out)
{
    double t[6][6];
    for (int i = 0; i < r; ++i)
        for (int j = 0; j < q; ++j) {
            t[i][j] = 0;
            for (int k = 0; k < q; ++k) t[i][j] += fabs(M[i * q + k]) * X[k * q + j];
        }
    for (int i = 0; i < r; ++i)
        for (int j = 0; j < r; ++j) {
            out[i * r + j] = 0;
            for (int k = 0; k < q; ++k) out[i * r + j] += t[i][k] * fabs(M[j * q + k]);
        }
}

/* |B^T| |d| |B| of the 6x6 window of plane at (y0, x0). */
static void abs_input_tile(const float *plane, int h, int w, int y0, int x0, double *v)
{
    double d[36];
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) d[i * 6 + j] = fabs(at(plane, h, w, y0 + i, x0 + j));
    abs_sandwich(&BT[0][0], 6, 6, d, v);
}

/* The magnitudes of the forward pass's outputs (nb x m x h x w): the
 * algorithm on absolute values, as the header derives.  kernel(o, c, ky,
 * kx) gives the weight. */
typedef double (*kernel_fn)(const float *weights, int m, int c, int o, int i, int ky, int kx);

static double forward_kernel(const float *wt, int m, int c, int o, int i, int ky, int kx)
{
    (void)m;
    return wt[(((size_t)o * c + i) * 3 + ky) * 3 + kx];
}

/* the turned kernel of the input delta: outputs are the c inputs */
static double turned_kernel(const float *wt, int m, int c, int o, int i, int ky, int kx)
{
    (void)m;
    return wt[(((size_t)i * c + o) * 3 + 2 - ky) * 3 + 2 - kx];
}

static void magnitudes(const shape *s, int cin, int cout, const float *in, const float *wt, kernel_fn kernel,
                       double *mag)
{
    size_t plane = (size_t)s->h * s->w;
    double *u = malloc(sizeof(double) * 36 * cout * cin);
    for (int o = 0; o < cout; ++o)
        for (int i = 0; i < cin; ++i) {
            double g[9];
            for (int k = 0; k < 9; ++k) g[k] = fabs(kernel(wt, s->m, s->c, o, i, k / 3, k % 3));
            abs_sandwich(&G[0][0], 6, 3, g, u + ((size_t)o * cin + i) * 36);
        }
    double *v = malloc(sizeof(double) * 36 * cin);
    for (int b = 0; b < s->nb; ++b)
        for (int ty = 0; 4 * ty < s->h; ++ty)
            for (int tx = 0; 4 * tx < s->w; ++tx) {
                for (int i = 0; i < cin; ++i)
                    abs_input_tile(in + ((size_t)b * cin + i) * plane, s->h, s->w, 4 * ty - 1, 4 * tx - 1, v + i * 36);
                for (int o = 0; o < cout; ++o) {
                    double x[36] = {0}, y[16];
                    for (int i = 0; i < cin; ++i)
                        for (int k = 0; k < 36; ++k) x[k] += u[((size_t)o * cin + i) * 36 + k] * v[i * 36 + k];
                    abs_sandwich(&AT[0][0], 4, 6, x, y);
                    for (int r = 0; r < 4 && 4 * ty + r < s->h; ++r)
                        for (int q = 0; q < 4 && 4 * tx + q < s->w; ++q)
                            mag[((size_t)b * cout + o) * plane + (size_t)(4 * ty + r) * s->w + 4 * tx + q] = y[r * 4 + q];
                }
            }
    free(u);
    free(v);
}

/* The convolution in double: out[b][o] = sum_i kernel(o, i) * in[b][i]. */
static void reference_conv(const shape *s, int cin, int cout, const float *in, const float *wt, kernel_fn kernel,
                           double *out)
{
    size_t plane = (size_t)s->h * s->w;
    for (int b = 0; b < s->nb; ++b)
        for (int o = 0; o < cout; ++o)
            for (int y = 0; y < s->h; ++y)
                for (int x = 0; x < s->w; ++x) {
                    double sum = 0;
                    for (int i = 0; i < cin; ++i)
                        for (int k = 0; k < 9; ++k)
                            sum += kernel(wt, s->m, s->c, o, i, k / 3, k % 3) *
                                   at(in + ((size_t)b * cin + i) * plane, s->h, s->w, y + k / 3 - 1, x + k % 3 - 1);
                    out[((size_t)b * cout + o) * plane + (size_t)y * s->w + x] = sum;
                }
}

/* Largest |got - want| / bound over n values; the bound of value j is
 * gamma(n_round) mag[j] + the reference's own rounding. */
static double worst_ratio(const float *got, const double *want, const double *mag, size_t n, double n_round,
                          double ref_terms)
{
    double worst = 0;
    for (size_t j = 0; j < n; ++j) {
        double bound = rounding_gamma(n_round) * mag[j] + double_gamma(ref_terms) * mag[j];
        double r = fabs(got[j] - want[j]) / (bound > 0 ? bound : 1e-300);
        if (r > worst) worst = r;
    }
    return worst;
}

static void check_forward(shape s)
{
    size_t nin = (size_t)s.nb * s.c * s.h * s.w, nout = (size_t)s.nb * s.m * s.h * s.w;
    float *in = random_floats(nin), *wt = random_floats((size_t)s.m * s.c * 9), *out = malloc(nout * sizeof(float));
    double *want = malloc(nout * sizeof(double)), *mag = malloc(nout * sizeof(double));
    winograd_forward(s.nb, s.c, s.h, s.w, s.m, wt, in, out);
    reference_conv(&s, s.c, s.m, in, wt, forward_kernel, want);
    magnitudes(&s, s.c, s.m, in, wt, forward_kernel, mag);
    double r = worst_ratio(out, want, mag, nout, s.c + 24, 9.0 * s.c);
    printf("forward %dx%dx%dx%d -> %d: worst error / bound %.3g\n", s.nb, s.c, s.h, s.w, s.m, r);
    assert_true(r <= 1);
    free(in), free(wt), free(out), free(want), free(mag);
}

/* The weight gradient's exact value and magnitude, in double: by
 * definition, and by the algorithm on absolute values. */
static void reference_weight_gradient(const shape *s, const float *in, const float *delta, const float *dw0,
                                      double *want, double *mag)
{
    size_t plane = (size_t)s->h * s->w;
    for (int o = 0; o < s->m; ++o)
        for (int i = 0; i < s->c; ++i) {
            double du[36] = {0}, g[9];
            for (int k = 0; k < 9; ++k) {
                double sum = 0;
                for (int b = 0; b < s->nb; ++b)
                    for (int y = 0; y < s->h; ++y)
                        for (int x = 0; x < s->w; ++x)
                            sum += delta[((size_t)b * s->m + o) * plane + (size_t)y * s->w + x] *
                                   at(in + ((size_t)b * s->c + i) * plane, s->h, s->w, y + k / 3 - 1, x + k % 3 - 1);
                want[((size_t)o * s->c + i) * 9 + k] = dw0[((size_t)o * s->c + i) * 9 + k] + sum;
            }
            for (int b = 0; b < s->nb; ++b)
                for (int ty = 0; 4 * ty < s->h; ++ty)
                    for (int tx = 0; 4 * tx < s->w; ++tx) {
                        double dy[16], x[36], v[36];
                        for (int k = 0; k < 16; ++k)
                            dy[k] = fabs(at(delta + ((size_t)b * s->m + o) * plane, s->h, s->w, 4 * ty + k / 4,
                                            4 * tx + k % 4));
                        /* |A| |dY| |A^T| = |AT|^T dY |AT| */
                        for (int r = 0; r < 6; ++r)
                            for (int q = 0; q < 6; ++q) {
                                x[r * 6 + q] = 0;
                                for (int a = 0; a < 4; ++a)
                                    for (int e = 0; e < 4; ++e) x[r * 6 + q] += fabs(AT[a][r]) * dy[a * 4 + e] * fabs(AT[e][q]);
                            }
                        abs_input_tile(in + ((size_t)b * s->c + i) * plane, s->h, s->w, 4 * ty - 1, 4 * tx - 1, v);
                        for (int k = 0; k < 36; ++k) du[k] += x[k] * v[k];
                    }
            /* |G^T| du |G| */
            for (int r = 0; r < 3; ++r)
                for (int q = 0; q < 3; ++q) {
                    double sum = 0;
                    for (int a = 0; a < 6; ++a)
                        for (int e = 0; e < 6; ++e) sum += fabs(G[a][r]) * du[a * 6 + e] * fabs(G[e][q]);
                    g[r * 3 + q] = sum;
                }
            for (int k = 0; k < 9; ++k)
                mag[((size_t)o * s->c + i) * 9 + k] = g[k] + fabs(dw0[((size_t)o * s->c + i) * 9 + k]);
        }
}

static void check_backward(shape s)
{
    size_t nin = (size_t)s.nb * s.c * s.h * s.w, nout = (size_t)s.nb * s.m * s.h * s.w, nw = (size_t)s.m * s.c * 9;
    float *in = random_floats(nin), *wt = random_floats(nw), *delta = random_floats(nout);
    float *dw = random_floats(nw), *dx = random_floats(nin);
    float *dw0 = malloc(nw * sizeof(float)), *dx0 = malloc(nin * sizeof(float));
    memcpy(dw0, dw, nw * sizeof(float));
    memcpy(dx0, dx, nin * sizeof(float));
    winograd_backward(s.nb, s.c, s.h, s.w, s.m, wt, in, delta, dw, dx);

    double *want = malloc(nin * sizeof(double)), *mag = malloc(nin * sizeof(double));
    reference_conv(&s, s.m, s.c, delta, wt, turned_kernel, want);
    magnitudes(&s, s.m, s.c, delta, wt, turned_kernel, mag);
    for (size_t j = 0; j < nin; ++j) want[j] += dx0[j], mag[j] += fabs(dx0[j]);
    double r = worst_ratio(dx, want, mag, nin, s.m + 24, 9.0 * s.m + 1);
    printf("input delta %dx%dx%dx%d <- %d: worst error / bound %.3g\n", s.nb, s.c, s.h, s.w, s.m, r);
    assert_true(r <= 1);

    double *wwant = malloc(nw * sizeof(double)), *wmag = malloc(nw * sizeof(double));
    reference_weight_gradient(&s, in, delta, dw0, wwant, wmag);
    double tiles = (double)s.nb * ((s.h + 3) / 4) * ((s.w + 3) / 4);
    r = worst_ratio(dw, wwant, wmag, nw, 2 * tiles + 26, (double)s.nb * s.h * s.w + 1);
    printf("weight gradient: worst error / bound %.3g\n", r);
    assert_true(r <= 1);
    free(in), free(wt), free(delta), free(dw), free(dx), free(dw0), free(dx0);
    free(want), free(mag), free(wwant), free(wmag);
}

/* Shapes: a partial tile at the right and bottom edges (odd sizes), one
 * channel, a 7x7 plane as the detector's head has, several images, and
 * planes of more than 64 tiles, which winograd.c reads in place instead of
 * staging them with their padding (10 x 9 tiles). */
static const shape shapes[] = {
    {1, 1, 4, 4, 1}, {2, 3, 9, 7, 5}, {3, 16, 7, 7, 8}, {1, 8, 13, 21, 4}, {4, 5, 5, 6, 3}, {2, 3, 37, 35, 4},
};

static void forward_pass(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; ++i) check_forward(shapes[i]);
}

static void backward_pass(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; ++i) check_backward(shapes[i]);
}

/* Large enough that the images go in several groups (winograd.c sums the
 * weight gradient's chains across them). */
static void several_groups(void **unused)
{
    (void)unused;
    shape s = {5, 12, 23, 17, 10};
    winograd_set_group_bytes(1);   /* one image a group */
    check_forward(s);
    check_backward(s);
    winograd_set_group_bytes(0);
}

/* On every gemm tile this CPU has: the products are the part that differs. */
static void every_tile(void **unused)
{
    (void)unused;
    int was = fastgemm_isa();
    for (int isa = FASTGEMM_SCALAR; isa <= FASTGEMM_AVX512; ++isa) {
        if (!fastgemm_set_isa(isa)) continue;
        printf("tile %s\n", fastgemm_isa_name(isa));
        check_forward(shapes[2]);
        check_backward(shapes[2]);
    }
    fastgemm_set_isa(was);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_pass),
        cmocka_unit_test(backward_pass),
        cmocka_unit_test(several_groups),
        cmocka_unit_test(every_tile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
