/* Tests for the fast CPU kernels (src/cpu/fastgemm.c, fast_*.c, fastconv.c)
 * against upstream's reference kernels, which the build keeps callable as
 * upstream_* and which dn_set_reference(1) selects. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <omp.h>

#include "darknet.h"
#include "activations.h"
#include "avgpool_layer.h"
#include "batchnorm_layer.h"
#include "col2im.h"
#include "convolutional_layer.h"
#include "gemm.h"
#include "im2col.h"
#include "maxpool_layer.h"
#include "shortcut_layer.h"
#include "cpu/fastgemm.h"
#include "cpu/fastops.h"
#include "cpu/rowops.h"
#include "gclayer.h"
#include "optim/optimizer.h"
#include "cpu/parallel.h"
#include "cpu/upstream_ref.h"
#include "rand/rng.h"
#include "helpers/conv_shadow.h"
#include "helpers/rounding.h"

static rng gen;

static float *randv(size_t n)
{
    float *v = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; ++i) v[i] = rng_uniform_range(&gen, -1, 1);
    return v;
}

static float *copyv(const float *v, size_t n)
{
    float *c = malloc(n * sizeof(float) + 1);
    memcpy(c, v, n * sizeof(float));
    return c;
}

static void assert_same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (memcmp(a + i, b + i, sizeof(float))) {
            print_error("element %zu: %.9g != %.9g\n", i, a[i], b[i]);
            fail();
        }
}

static int default_isa;   /* the tile the CPU gets by default */

static int setup(void **state)
{
    rng_seed(&gen, 12345, 0);
    dn_set_reference(0);
    fastgemm_set_isa(default_isa);
    return 0;
}

/* Selects a tile, or prints why this CPU cannot run it and skips the test
 * (the other paths' tests still run and count). */
static void use_isa(int isa)
{
    static const char *const env[] = {"scalar", "avx2", "avx512"};
    static const char *const lacks[] = {"", "AVX2 and FMA", "AVX-512F (with AVX2 and FMA)"};
    if (!fastgemm_set_isa(isa)) {
        print_message("SKIP gemm_%s: this CPU has no %s\n", env[isa], lacks[isa]);
        skip();
    }
}

/* ---- gemm ------------------------------------------------------------------ */

/* C = alpha A B + beta C on both paths: every element within the rounding
 * bound of its sum (tests/unit/helpers/rounding.c): K products and the
 * beta term, each product of three factors, so K + 3 roundings, over the
 * magnitude |alpha| sum |A_ik| |B_kj| + |beta| |C_ij|.  The padding columns
 * have bound 0: they must be left as they were. */
static void gemm_case(int TA, int TB, int M, int N, int K, float alpha, float beta, int pad)
{
    int lda = (TA ? M : K) + pad, ldb = (TB ? K : N) + pad, ldc = N + pad;
    float *A = randv((size_t)(TA ? K : M) * lda), *B = randv((size_t)(TB ? N : K) * ldb);
    float *C = randv((size_t)M * ldc), *R = copyv(C, (size_t)M * ldc), *C0 = copyv(C, (size_t)M * ldc);
    fast_gemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    upstream_gemm_cpu(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < ldc; ++j) {
            double magnitude = 0;
            for (int k = 0; j < N && k < K; ++k)
                magnitude += fabs(TA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                             fabs(TB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            magnitude = j < N ? fabs(alpha) * magnitude + fabs(beta) * fabs(C0[(size_t)i * ldc + j]) : 0;
            double diff = fabs((double)C[(size_t)i * ldc + j] - R[(size_t)i * ldc + j]);
            if (!(diff <= sum_bound(K + 3, magnitude)))
                fail_msg("C[%d][%d]: %.9g vs %.9g, over the bound %.3g", i, j, C[(size_t)i * ldc + j],
                         R[(size_t)i * ldc + j], sum_bound(K + 3, magnitude));
        }
    free(A); free(B); free(C); free(R); free(C0);
}

static void gemm_matches_reference_all_transposes(void **state)
{
    /* M past one 96-row block and not a multiple of 12 or 6, so that on
     * the AVX-512 path pairs of panels, a lone panel and partial rows mix. */
    static const int sizes[][3] = {
        {1, 1, 1}, {1, 17, 3}, {5, 7, 9}, {6, 16, 1}, {7, 33, 300}, {13, 1, 40},
        {37, 95, 27}, {64, 196, 144}, {97, 2049, 5}, {130, 50, 513}, {24, 32, 7}, {30, 48, 260},
        {109, 35, 64},
    };
    for (int TA = 0; TA < 2; ++TA)
        for (int TB = 0; TB < 2; ++TB)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s) {
                gemm_case(TA, TB, sizes[s][0], sizes[s][1], sizes[s][2], 1, 1, 0);
                gemm_case(TA, TB, sizes[s][0], sizes[s][1], sizes[s][2], 1, 0, 3);
                gemm_case(TA, TB, sizes[s][0], sizes[s][1], sizes[s][2], .5f, .25f, 1);
            }
}

static void gemm_dispatch_follows_switch(void **state)
{
    int M = 9, N = 21, K = 31;
    float *A = randv(M * K), *B = randv(K * N), *C1 = calloc(M * N, 4), *C2 = calloc(M * N, 4);
    dn_set_reference(1);
    gemm_cpu(0, 0, M, N, K, 1, A, K, B, N, 0, C1, N);
    upstream_gemm_cpu(0, 0, M, N, K, 1, A, K, B, N, 0, C2, N);
    assert_same_bits(C1, C2, M * N);
    dn_set_reference(0);
    gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C1, N);
    fast_gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C2, N);
    assert_same_bits(C1, C2, M * N);
    free(A); free(B); free(C1); free(C2);
}

/* Each element is one chain over k: splitting the columns, splitting k into
 * consecutive products, or changing the thread count changes no bit. */
static void gemm_bits_independent_of_splits_and_threads(void **state)
{
    int M = 70, N = 301, K = 517;
    for (int TA = 0; TA < 2; ++TA)
        for (int TB = 0; TB < 2; ++TB) {
            int lda = TA ? M : K, ldb = TB ? K : N;
            float *A = randv((size_t)M * K), *B = randv((size_t)K * N);
            float *C0 = randv((size_t)M * N), *C1 = copyv(C0, (size_t)M * N), *C2 = copyv(C0, (size_t)M * N);
            float *C3 = copyv(C0, (size_t)M * N);
            fast_gemm(TA, TB, M, N, K, 1, A, lda, B, ldb, 1, C0, N);
            /* columns in three calls */
            int cuts[] = {0, 1, 190, N};
            for (int c = 0; c < 3; ++c) {
                int j0 = cuts[c], nn = cuts[c + 1] - j0;
                fast_gemm(TA, TB, M, nn, K, 1, A, lda, TB ? B + (size_t)j0 * ldb : B + j0, ldb, 1, C1 + j0, N);
            }
            assert_same_bits(C0, C1, (size_t)M * N);
            /* k in three consecutive products */
            int ks[] = {0, 3, 260, K};
            for (int c = 0; c < 3; ++c) {
                int k0 = ks[c], kk = ks[c + 1] - k0;
                fast_gemm(TA, TB, M, N, kk, 1, TA ? A + (size_t)k0 * lda : A + k0, lda,
                          TB ? B + k0 : B + (size_t)k0 * ldb, ldb, 1, C2, N);
            }
            assert_same_bits(C0, C2, (size_t)M * N);
            int nt = omp_get_max_threads();
            omp_set_num_threads(1);
            fast_gemm(TA, TB, M, N, K, 1, A, lda, B, ldb, 1, C3, N);
            omp_set_num_threads(nt);
            assert_same_bits(C0, C3, (size_t)M * N);
            free(A); free(B); free(C0); free(C1); free(C2); free(C3);
        }
}

/* rows x cols matrix of a segmented view (seg columns every seg_stride
 * floats) copied out to plain row-major, and back. */
static float *segmented_store(int rows, int cols, int seg, size_t seg_stride, int ld)
{
    size_t segs = (size_t)(cols + seg - 1) / seg;
    return randv(segs * seg_stride + (size_t)rows * ld + seg);
}

static void view_to_plain(const float *v, int rows, int cols, int ld, int seg, size_t seg_stride, float *m)
{
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
            m[(size_t)r * cols + c] = v[(size_t)r * ld + (size_t)(c / seg) * seg_stride + c % seg];
}

/* Segmented views of A, B and C (segments of 7 and 19 columns, so tiles
 * straddle them) give the bits of the plain product of the same matrices,
 * and nothing outside C's segments is written. */
static void gemm_views_equal_plain_product(void **state)
{
    const int M = 23, N = 95, K = 61, seg = 19, kseg = 7;
    for (int TA = 0; TA < 2; ++TA)
        for (int TB = 0; TB < 2; ++TB)
            for (int beta = 0; beta < 2; ++beta) {
                int ar = TA ? K : M, ac = TA ? M : K, br = TB ? N : K, bc = TB ? K : N;
                int as = TA ? seg : kseg, bs = TB ? kseg : seg;
                size_t ass = (size_t)ar * ac + 5, bss = (size_t)br * bc + 3, css = (size_t)M * seg + 11;
                float *A = segmented_store(ar, ac, as, ass, as), *B = segmented_store(br, bc, bs, bss, bs);
                float *C = segmented_store(M, N, seg, css, seg);
                size_t csize = ((N + seg - 1) / seg) * css + (size_t)M * seg + seg;
                float *C0 = copyv(C, csize);
                float *Ap = malloc((size_t)ar * ac * 4), *Bp = malloc((size_t)br * bc * 4), *Cp = malloc((size_t)M * N * 4);
                view_to_plain(A, ar, ac, as, as, ass, Ap);
                view_to_plain(B, br, bc, bs, bs, bss, Bp);
                view_to_plain(C, M, N, seg, seg, css, Cp);
                fast_gemm_view(TA, TB, M, N, K, .5f, gemm_segmented(A, as, as, ass), gemm_segmented(B, bs, bs, bss),
                               beta, gemm_segmented(C, seg, seg, css));
                fast_gemm(TA, TB, M, N, K, .5f, Ap, ac, Bp, bc, beta, Cp, N);
                float *Cv = malloc((size_t)M * N * 4);
                view_to_plain(C, M, N, seg, seg, css, Cv);
                assert_same_bits(Cv, Cp, (size_t)M * N);
                /* the gaps between C's segments keep their values */
                for (int c = 0; c < N; c += seg)
                    for (size_t i = (size_t)M * seg; i < css; ++i) {
                        size_t at = (size_t)(c / seg) * css + i;
                        assert_same_bits(C + at, C0 + at, 1);
                    }
                free(A); free(B); free(C); free(C0); free(Ap); free(Bp); free(Cp); free(Cv);
            }
}

/* ---- im2col / col2im --------------------------------------------------------- */

static const int geoms[][6] = {   /* c, h, w, ksize, stride, pad */
    {3, 28, 28, 3, 1, 1}, {2, 7, 5, 3, 2, 1}, {4, 9, 11, 5, 1, 2}, {1, 6, 6, 1, 1, 0},
    {3, 8, 8, 3, 1, 0}, {2, 13, 10, 7, 3, 3}, {5, 4, 4, 3, 2, 0}, {1, 3, 3, 5, 1, 2},
    {2, 5, 1, 3, 1, 1}, {1, 1, 4, 3, 1, 1}, {2, 2, 2, 7, 1, 3}, {3, 7, 7, 3, 1, 1},
};

static void im2col_col2im_match_reference_bitwise(void **state)
{
    for (size_t g = 0; g < sizeof geoms / sizeof *geoms; ++g) {
        int c = geoms[g][0], h = geoms[g][1], w = geoms[g][2], k = geoms[g][3], s = geoms[g][4], p = geoms[g][5];
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        size_t ncol = (size_t)c * k * k * oh * ow, nim = (size_t)c * h * w;
        float *im = randv(nim), *col1 = randv(ncol), *col2 = copyv(col1, ncol);
        im2col_cpu(im, c, h, w, k, s, p, col1);
        upstream_im2col_cpu(im, c, h, w, k, s, p, col2);
        assert_same_bits(col1, col2, ncol);
        float *im1 = randv(nim), *im2 = copyv(im1, nim);
        col2im_cpu(col1, c, h, w, k, s, p, im1);
        upstream_col2im_cpu(col1, c, h, w, k, s, p, im2);
        assert_same_bits(im1, im2, nim);
        free(im); free(col1); free(col2); free(im1); free(im2);
    }
}

/* shift_plane and add_reached against their definitions, for shifts
 * inside, across and past the plane (a shift past the edge gives all
 * zeros, and adds nothing). */
/* Nothing is written past the plane (dst[h*w] stays). */
static void shift_plane_matches_definition(void **state)
{
    static const int sizes[][2] = {{4, 5}, {1, 6}, {7, 1}, {3, 3}, {2, 8}, {3, 9}, {2, 16}, {3, 17}, {4, 28}, {2, 33}};
    for (size_t g = 0; g < sizeof sizes / sizeof *sizes; ++g) {
        int h = sizes[g][0], w = sizes[g][1];
        float *src = randv((size_t)h * w), *dst = randv((size_t)h * w + 1);
        const float guard = dst[h * w];
        float *base = randv((size_t)h * w), *sum = randv((size_t)h * w);
        for (int dy = -h - 1; dy <= h + 1; ++dy)
            for (int dx = -w - 1; dx <= w + 1; ++dx) {
                shift_plane(src, h, w, dy, dx, dst);
                assert_true(dst[h * w] == guard);
                memcpy(sum, base, (size_t)h * w * sizeof(float));
                add_reached(src, h, w, dy, dx, sum);
                for (int r = 0; r < h; ++r)
                    for (int c = 0; c < w; ++c) {
                        int inside = r + dy >= 0 && r + dy < h && c + dx >= 0 && c + dx < w;
                        float want = inside ? src[(r + dy) * w + c + dx] : 0;
                        if (memcmp(&dst[r * w + c], &want, sizeof want))
                            fail_msg("%dx%d shifted by (%d, %d): [%d, %d] = %g, want %g", h, w, dy, dx, r, c,
                                     dst[r * w + c], want);
                        int reached = r - dy >= 0 && r - dy < h && c - dx >= 0 && c - dx < w;
                        want = reached ? base[r * w + c] + src[r * w + c] : base[r * w + c];
                        if (memcmp(&sum[r * w + c], &want, sizeof want))
                            fail_msg("%dx%d added as reached by (%d, %d): [%d, %d] = %g, want %g", h, w, dy, dx,
                                     r, c, sum[r * w + c], want);
                    }
            }
        free(src); free(dst); free(base); free(sum);
    }
}

/* ---- activations ----------------------------------------------------------------- */

static void activations_match_reference_bitwise(void **state)
{
    ACTIVATION acts[] = {LINEAR, LEAKY, RELU, LOGISTIC, TANH};
    size_t n = 100003;
    for (size_t a = 0; a < sizeof acts / sizeof *acts; ++a) {
        float *x = randv(n), *y = copyv(x, n);
        activate_array(x, n, acts[a]);
        upstream_activate_array(y, n, acts[a]);
        assert_same_bits(x, y, n);
        float *d1 = randv(n), *d2 = copyv(d1, n);
        gradient_array(x, n, acts[a], d1);
        upstream_gradient_array(x, n, acts[a], d2);
        assert_same_bits(d1, d2, n);
        free(x); free(y); free(d1); free(d2);
    }
}

/* ---- layers ---------------------------------------------------------------------- */

/* The state a forward and backward pass change, saved to rerun it. */
typedef struct { float **p; size_t n; float *saved; } field;

static int fields_of(layer *l, field *f)
{
    size_t out = (size_t)l->outputs * l->batch;
    int k = 0;
    f[k++] = (field){&l->output, out, NULL};
    f[k++] = (field){&l->delta, out, NULL};
    if (l->weight_updates) f[k++] = (field){&l->weight_updates, (size_t)l->nweights, NULL};
    if (l->bias_updates) f[k++] = (field){&l->bias_updates, (size_t)l->out_c, NULL};
    if (l->batch_normalize || l->type == BATCHNORM) {
        f[k++] = (field){&l->scale_updates, (size_t)l->out_c, NULL};
        f[k++] = (field){&l->rolling_mean, (size_t)l->out_c, NULL};
        f[k++] = (field){&l->rolling_variance, (size_t)l->out_c, NULL};
        f[k++] = (field){&l->mean, (size_t)l->out_c, NULL};
        f[k++] = (field){&l->variance, (size_t)l->out_c, NULL};
        f[k++] = (field){&l->x, out, NULL};
        /* Not x_norm: the fast path does not keep it (fast_batchnorm.c). */
    }
    return k;
}

typedef struct {
    layer l;
    network net;
    float *input, *in_delta, *out_delta;
    field f[16];
    int nf;
} rig;

static void rig_init(rig *r, layer l, int with_delta)
{
    memset(r, 0, sizeof *r);
    r->l = l;
    size_t nin = (size_t)l.inputs * l.batch, nout = (size_t)l.outputs * l.batch;
    r->input = randv(nin);
    r->in_delta = randv(nin);
    r->out_delta = randv(nout);
    for (size_t i = 0; i < nout; ++i) r->l.output[i] = 0;
    r->net.input = r->input;
    r->net.delta = with_delta ? copyv(r->in_delta, nin) : NULL;
    r->net.train = 1;
    r->net.workspace = calloc(l.workspace_size + 64, 1);
    r->nf = fields_of(&r->l, r->f);
    for (int i = 0; i < r->nf; ++i) r->f[i].saved = copyv(*r->f[i].p, r->f[i].n);
    if (r->l.scales) for (int i = 0; i < r->l.out_c; ++i) r->l.scales[i] = .5f + i * .1f;
    if (r->l.biases) for (int i = 0; i < r->l.out_c; ++i) r->l.biases[i] = .01f * i;
}

/* Runs forward then backward (the layer's delta set to a fixed gradient) and
 * returns copies of: output, input delta, then every field. */
static float **rig_run(rig *r, int reference)
{
    layer *l = &r->l;
    size_t nin = (size_t)l->inputs * l->batch, nout = (size_t)l->outputs * l->batch;
    for (int i = 0; i < r->nf; ++i) memcpy(*r->f[i].p, r->f[i].saved, r->f[i].n * sizeof(float));
    if (r->net.delta) memcpy(r->net.delta, r->in_delta, nin * sizeof(float));
    dn_set_reference(reference);
    l->forward(*l, r->net);
    float **res = calloc(r->nf + 2, sizeof(float *));
    res[0] = copyv(l->output, nout);
    memcpy(l->delta, r->out_delta, nout * sizeof(float));
    l->backward(*l, r->net);
    dn_set_reference(0);
    res[1] = r->net.delta ? copyv(r->net.delta, nin) : NULL;
    for (int i = 0; i < r->nf; ++i) res[i + 2] = copyv(*r->f[i].p, r->f[i].n);
    return res;
}

/* a and b the same bits, field by field. */
static void compare_runs(rig *r, float **a, float **b)
{
    size_t nin = (size_t)r->l.inputs * r->l.batch;
    assert_same_bits(a[0], b[0], r->f[0].n);
    if (a[1]) assert_same_bits(a[1], b[1], nin);
    for (int i = 0; i < r->nf; ++i) assert_same_bits(a[i + 2], b[i + 2], r->f[i].n);
}

static void assert_within(const bounded *b, const float *got, size_t n, const char *what, const char *path)
{
    assert_int_equal(b->n, n);
    long i = shadow_first_outside(b, got, n);
    if (i >= 0)
        fail_msg("%s, %s: element %ld is %.9g, the double evaluation %.9g, its bound %.3g", what, path, i, got[i],
                 b->v[i], b->e[i]);
}

/* A run's output, input delta and fields, each within the bound of the
 * double evaluation (tests/unit/helpers/conv_shadow.c). */
static void check_within_shadow(rig *r, float **res, const conv_shadow *s, const char *path)
{
    assert_within(&s->output, res[0], r->f[0].n, "output", path);
    if (res[1]) assert_within(&s->input_delta, res[1], (size_t)r->l.inputs * r->l.batch, "input delta", path);
    for (int i = 0; i < r->nf; ++i) {
        const bounded *b = shadow_field(s, &r->l, r->f[i].p);
        char what[32];
        snprintf(what, sizeof what, "field %d", i);
        if (!b) fail_msg("%s: not in the double evaluation", what);
        assert_within(b, res[i + 2], r->f[i].n, what, path);
    }
}

static void free_run(rig *r, float **a)
{
    for (int i = 0; i < r->nf + 2; ++i) free(a[i]);
    free(a);
}

/* The layer on the fast path and on the reference path: the same bits when
 * exact; else each within the bound of a double evaluation of the same
 * training step, which both paths must meet on every CPU and DARKNET_ISA. */
static void check_against_reference(layer l, int with_delta, int exact)
{
    rig r;
    rig_init(&r, l, with_delta);
    conv_shadow s = {0};
    if (!exact) s = shadow_step(r.l, r.input, NULL, r.out_delta, with_delta ? r.in_delta : NULL, 1);
    float **fast = rig_run(&r, 0), **ref = rig_run(&r, 1);
    if (exact) {
        compare_runs(&r, fast, ref);
    } else {
        check_within_shadow(&r, fast, &s, "fast path");
        check_within_shadow(&r, ref, &s, "reference path");
        free_shadow(&s);
    }
    free_run(&r, fast);
    free_run(&r, ref);
}

static void batchnorm_matches_reference(void **state)
{
    int dims[][4] = {{4, 5, 7, 3}, {32, 14, 14, 16}, {2, 1, 1, 10}};
    for (size_t d = 0; d < sizeof dims / sizeof *dims; ++d) {
        layer l = make_batchnorm_layer(dims[d][0], dims[d][1], dims[d][2], dims[d][3]);
        size_t out = (size_t)l.outputs * l.batch;   /* upstream leaves these out on the CPU */
        l.x = calloc(out, sizeof(float));
        l.x_norm = calloc(out, sizeof(float));
        l.mean_delta = calloc(l.out_c, sizeof(float));
        l.variance_delta = calloc(l.out_c, sizeof(float));
        l.forward = forward_batchnorm_layer;
        l.backward = backward_batchnorm_layer;
        check_against_reference(l, 1, 0);
    }
}

static void pooling_matches_reference_bitwise(void **state)
{
    layer ls[] = {
        make_maxpool_layer(3, 28, 28, 4, 2, 2, 1),
        make_maxpool_layer(2, 7, 9, 3, 3, 2, 2),
        make_maxpool_layer(2, 8, 8, 5, 2, 1, 1),
        make_avgpool_layer(3, 7, 7, 10),
        make_avgpool_layer(64, 5, 3, 2),
    };
    for (size_t i = 0; i < sizeof ls / sizeof *ls; ++i) {
        check_against_reference(ls[i], 1, 1);
    }
}

/* The 2x2 stride-2 [maxpool] on each path against upstream's loops: the
 * outputs, the indexes and the input delta, bit for bit.  The input has
 * ties (the first maximum wins), NaN, infinities, -FLT_MAX and signed
 * zeros; the input delta starts with -0 in places (only the chosen inputs
 * are added to).  Widths leave 0 to 7 outputs after the vector rows. */
static void maxpool_case(int batch, int h, int w, int c)
{
    static const float special[] = {NAN, INFINITY, -INFINITY, -FLT_MAX, 0.f, -0.f, 1e30f, -1e30f};
    layer l = make_maxpool_layer(batch, h, w, c, 2, 2, 0), r = make_maxpool_layer(batch, h, w, c, 2, 2, 0);
    const size_t nin = (size_t)batch * h * w * c, nout = (size_t)l.outputs * batch;
    float *in = randv(nin), *dx0 = randv(nin), *dy = randv(nout);
    for (size_t i = 0; i < nin; ++i) {
        unsigned u = (unsigned)(rng_uniform_range(&gen, 0, 16));
        if (u < 8) in[i] = special[u];
        else if (u < 11 && i > 0) in[i] = in[i - 1];   /* a tie with the left neighbour */
        if (i % 5 == 0) dx0[i] = -0.f;
    }
    /* Upstream's backward writes before the input for a window whose index
     * is -1 (nothing above -FLT_MAX), so each window here keeps one value
     * above it; maxpool_without_maximum checks that case. */
    for (size_t t = 0; t < nin; t += 2) {
        size_t row = t / w;
        if (row % 2) continue;
        float *v[4] = {in + t, in + t + 1, in + t + w, in + t + w + 1};
        int any = 0;
        for (int k = 0; k < 4; ++k) any |= *v[k] > -FLT_MAX;
        if (!any) *v[3] = .25f;
    }
    float *dx = copyv(dx0, nin), *rdx = copyv(dx0, nin);
    memcpy(l.delta, dy, nout * sizeof(float));
    memcpy(r.delta, dy, nout * sizeof(float));
    network net = {0};
    net.input = in;
    net.delta = rdx;
    upstream_forward_maxpool_layer(r, net);
    upstream_backward_maxpool_layer(r, net);
    net.delta = dx;
    forward_maxpool_layer(l, net);
    backward_maxpool_layer(l, net);
    assert_same_bits(l.output, r.output, nout);
    assert_memory_equal(l.indexes, r.indexes, nout * sizeof(int));
    assert_same_bits(dx, rdx, nin);
    free(in); free(dx0); free(dy); free(dx); free(rdx);
    free_layer(l);
    free_layer(r);
}

/* A window with nothing above -FLT_MAX (NaN, -inf, -FLT_MAX) gives
 * upstream's -FLT_MAX and index -1 on each path, and its delta goes
 * nowhere. */
static void maxpool_without_maximum(void)
{
    layer l = make_maxpool_layer(1, 2, 32, 1, 2, 2, 0);
    float in[64], room[65], *dx = room + 1;   /* room[0]: where index -1 would add */
    room[0] = 7;
    for (int i = 0; i < 64; ++i) {
        in[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -INFINITY : -FLT_MAX;
        dx[i] = -0.f;
    }
    in[2 * 5 + 33] = 1;   /* window 5 has a maximum, bottom right */
    for (int j = 0; j < 16; ++j) l.delta[j] = 1 + j;
    network net = {0};
    net.input = in;
    net.delta = dx;
    forward_maxpool_layer(l, net);
    backward_maxpool_layer(l, net);
    for (int j = 0; j < 16; ++j) {
        assert_int_equal(l.indexes[j], j == 5 ? 43 : -1);
        assert_true(l.output[j] == (j == 5 ? 1 : -FLT_MAX));
    }
    for (int i = 0; i < 64; ++i) {
        assert_true(dx[i] == (i == 43 ? 6 : 0));
        if (i != 43) assert_true(signbit(dx[i]));
    }
    assert_true(room[0] == 7);
    free_layer(l);
}

static void maxpool_2x2_matches_reference_each_path(void **state)
{
    static const int shapes[][4] = {   /* batch, h, w, channels */
        {2, 4, 4, 3}, {3, 28, 28, 4}, {2, 14, 14, 5}, {1, 2, 32, 2}, {2, 6, 34, 3}, {1, 8, 46, 2}, {130, 2, 16, 1},
    };
    int was = fastgemm_isa();
    for (int isa = FASTGEMM_SCALAR; isa <= FASTGEMM_AVX512; ++isa) {
        if (!fastgemm_set_isa(isa)) {
            print_message("SKIP maxpool on %s: this CPU cannot run it\n", fastgemm_isa_name(isa));
            continue;
        }
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; ++k)
            maxpool_case(shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3]);
        maxpool_without_maximum();
    }
    fastgemm_set_isa(was);
}

/* A shortcut of layer `from` onto layer 1 (the previous one), fast path
 * against upstream's copy, shortcut_cpu and activation: the output and the
 * three deltas it writes, bit for bit.  from = 1 makes the previous layer's
 * delta and the added layer's delta one array. */
typedef struct { int batch, w, h, c, w2, h2, c2, from; ACTIVATION act; float alpha, beta; } shortcut_case;

static float **shortcut_run(const shortcut_case *k, float *const *init, int reference)
{
    size_t n1 = (size_t)k->batch * k->w * k->h * k->c, n0 = (size_t)k->batch * k->w2 * k->h2 * k->c2;
    layer ls[3] = {{0}};
    ls[0].output = copyv(init[0], n0);
    ls[0].delta = copyv(init[1], n0);
    ls[1].output = copyv(init[2], n1);
    ls[1].delta = copyv(init[3], n1);
    ls[2] = make_shortcut_layer(k->batch, k->from, k->w, k->h, k->c, k->from == 1 ? k->w : k->w2,
                                k->from == 1 ? k->h : k->h2, k->from == 1 ? k->c : k->c2);
    ls[2].activation = k->act;
    ls[2].alpha = k->alpha;
    ls[2].beta = k->beta;
    network net = {0};
    net.layers = ls;
    net.n = 3;
    net.input = ls[1].output;
    net.delta = ls[1].delta;
    net.train = 1;
    dn_set_reference(reference);
    ls[2].forward(ls[2], net);
    memcpy(ls[2].delta, init[4], n1 * sizeof(float));
    ls[2].backward(ls[2], net);
    dn_set_reference(0);
    float **res = malloc(4 * sizeof(float *));
    res[0] = ls[2].output;
    res[1] = ls[2].delta;
    res[2] = ls[1].delta;
    res[3] = ls[0].delta;   /* untouched when from = 1 */
    free(ls[0].output);
    free(ls[1].output);
    return res;
}

static void shortcut_matches_reference_bitwise(void **state)
{
    static const shortcut_case cases[] = {
        {4, 32, 32, 32, 32, 32, 32, 0, RELU, 1, 1},       /* parallel blocks */
        {3, 7, 5, 6, 7, 5, 6, 1, LEAKY, .5f, -2},         /* from = the previous layer */
        {2, 9, 9, 3, 9, 9, 3, 0, LINEAR, 1.5f, .25f},
        {2, 8, 8, 4, 16, 16, 4, 0, RELU, 1, 1},           /* from is larger: upstream's path */
        {2, 8, 8, 4, 8, 8, 6, 0, LINEAR, 1, 1},           /* other channel counts */
        {2, 6, 6, 3, 6, 6, 3, 0, LOGISTIC, 1, 1},         /* not a fused activation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        const shortcut_case *k = &cases[i];
        size_t n1 = (size_t)k->batch * k->w * k->h * k->c, n0 = (size_t)k->batch * k->w2 * k->h2 * k->c2;
        float *init[5] = {randv(n0), randv(n0), randv(n1), randv(n1), randv(n1)};
        float **fast = shortcut_run(k, init, 0), **ref = shortcut_run(k, init, 1);
        size_t sizes[4] = {n1, n1, n1, n0};
        for (int f = 0; f < 4; ++f) {
            assert_same_bits(fast[f], ref[f], sizes[f]);
            free(fast[f]);
            free(ref[f]);
        }
        free(fast);
        free(ref);
        for (int f = 0; f < 5; ++f) free(init[f]);
    }
}

/* fill_cpu writes upstream's values: zeros as one memset, -0 and other
 * values or strides as upstream does. */
static void fill_matches_reference_bitwise(void **state)
{
    static const float values[] = {0, -0.0f, 3.5f};
    for (int v = 0; v < 3; ++v)
        for (int inc = 1; inc <= 2; ++inc) {
            float *fast = randv(1001), *ref = copyv(fast, 1001);
            fill_cpu(1001 / inc, values[v], fast, inc);
            upstream_fill_cpu(1001 / inc, values[v], ref, inc);
            assert_same_bits(fast, ref, 1001);
            free(fast);
            free(ref);
        }
}

static const int convs[][9] = {  /* batch, h, w, c, n, size, stride, pad, bn */
    {4, 12, 10, 3, 8, 3, 1, 1, 1}, {3, 9, 9, 5, 7, 3, 2, 1, 0}, {5, 7, 7, 16, 10, 1, 1, 0, 0},
    {2, 14, 14, 8, 16, 1, 1, 0, 1}, {3, 11, 8, 4, 6, 5, 1, 2, 1}, {2, 8, 8, 6, 4, 1, 2, 0, 0},
    {130, 6, 6, 2, 3, 3, 1, 1, 1},
};

static layer conv_of(const int *g)
{
    return make_convolutional_layer(g[0], g[1], g[2], g[3], g[4], 1, g[5], g[6], g[7],
                                    LEAKY, g[8], 0, 0, 0);
}

/* The whole layer, fast path against upstream's. */
static void conv_layer_matches_reference(void **state)
{
    for (size_t i = 0; i < sizeof convs / sizeof *convs; ++i) {
        for (int wd = 0; wd < 2; ++wd) {
            check_against_reference(conv_of(convs[i]), wd, 0);
        }
    }
}

/* The layer's fast path against upstream's per-image loop run on the fast
 * kernels (what a layer that calls gemm_cpu per image gets): the same bits. */
static void assert_batched_equals_per_image(layer l)
{
    rig r;
    rig_init(&r, l, 1);
    float **batched = rig_run(&r, 0);
    r.l.forward = upstream_forward_convolutional_layer;
    r.l.backward = upstream_backward_convolutional_layer;
    float **per_image = rig_run(&r, 0);
    compare_runs(&r, batched, per_image);
    free_run(&r, batched);
    free_run(&r, per_image);
}

static void conv_batched_equals_per_image_bitwise(void **state)
{
    for (size_t i = 0; i < sizeof convs / sizeof *convs; ++i) assert_batched_equals_per_image(conv_of(convs[i]));
}

/* Small outputs get products wider than the workspace's group (fastconv.c,
 * product_width: here 3x3 outputs, 5 images a group, products of all 12):
 * with one slot of weight gradients (16 MB of weights leave room for one),
 * still the per-image loop's bits. */
static void conv_wide_products_equal_per_image_bitwise(void **state)
{
    static const int wide[9] = {12, 3, 3, 512, 1024, 3, 1, 1, 1};
    assert_batched_equals_per_image(conv_of(wide));
}

/* A workspace too small for batching falls back to the per-image loop. */
static void conv_small_workspace_falls_back(void **state)
{
    layer l = conv_of(convs[0]);
    l.workspace_size = (size_t)l.size * l.size * l.c * l.out_h * l.out_w * sizeof(float);
    check_against_reference(l, 1, 0);
}

/* Training is deterministic: one thread and several give the same bits. */
static void conv_bits_independent_of_threads(void **state)
{
    rig r;
    rig_init(&r, conv_of(convs[6]), 1);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    float **one = rig_run(&r, 0);
    omp_set_num_threads(nt > 1 ? nt : 2);
    float **many = rig_run(&r, 0);
    omp_set_num_threads(nt);
    compare_runs(&r, one, many);
    free_run(&r, one);
    free_run(&r, many);
}

/* The network that owns a layer's random streams. */
static network *seeded_owner(void)
{
    network *owner = calloc(1, sizeof(network));
    rng_seed(net_rng(owner, RNG_INIT), 1, RNG_INIT);
    return owner;
}

static void free_owner(network *owner)
{
    free(owner->ext);
    free(owner);
}

/* [gcconv] with mixing=full runs the batched convolution on H: against the
 * per-image loop of the reference path (upstream's im2col and gemm), with
 * and without expand, 1x1 and strided kernels included. */
static void gcconv_matches_reference(void **state)
{
    static const int cases[][9] = {   /* batch, h, w, c, N, K, size, stride, expand */
        {3, 10, 9, 8, 3, 4, 3, 1, 0}, {2, 9, 9, 3, 4, 4, 3, 1, 1}, {3, 8, 8, 8, 5, 4, 3, 2, 0},
        {4, 7, 6, 8, 3, 4, 1, 1, 0}, {2, 8, 8, 4, 3, 2, 1, 2, 0}, {2, 6, 6, 6, 4, 1, 3, 1, 0},
    };
    network *owner = seeded_owner();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        const int *g = cases[i];
        for (int bn = 0; bn < 2; ++bn) {
            gcconv_options o = {
                .branches = g[5], .filters = g[4], .size = g[6], .stride = g[7],
                .padding = g[6] / 2, .mixing = GC_MIX_FULL, .expand = g[8],
                .r_init = GC_R_RANDOM, .calib_rate = 1, .batch_normalize = bn, .activation = LEAKY,
            };
            layer l = make_gcconv_layer(o, g[0], g[1], g[2], g[3], owner);
            check_against_reference(l, 1, 0);
            free_layer(l);
        }
    }
    free_owner(owner);
}

/* [gcconv] with mixing=branch: one product per branch and group of images
 * against the per-image products of the reference path.  The 27x27 cases
 * hold two images per group (a branch's rows take 210 kB of the 512 kB a
 * group may), so batch 5 runs groups of 2, 2 and 1.  Both paths run the
 * same branch loop (gclayer.c), so this checks the grouping and the
 * products; test_gclayer checks the loop's arithmetic itself, against
 * finite differences and PyTorch. */
static const int branch_cases[][9] = {   /* batch, h, w, c, N, K, size, stride, expand */
    {5, 27, 27, 32, 4, 4, 3, 1, 0}, {5, 27, 27, 8, 4, 2, 3, 1, 1}, {3, 8, 8, 8, 3, 4, 3, 2, 0},
    {2, 9, 9, 3, 4, 4, 3, 1, 1}, {4, 7, 6, 8, 3, 4, 1, 1, 0}, {2, 8, 8, 4, 3, 2, 1, 2, 0},
    {3, 10, 9, 3, 2, 3, 3, 1, 1},
};

static layer branch_layer(const int *g, int bn, network *owner)
{
    gcconv_options o = {
        .branches = g[5], .filters = g[4], .size = g[6], .stride = g[7],
        .padding = g[6] / 2, .mixing = GC_MIX_BRANCH, .expand = g[8],
        .r_init = GC_R_RANDOM, .calib_rate = 1, .batch_normalize = bn, .activation = LEAKY,
    };
    return make_gcconv_layer(o, g[0], g[1], g[2], g[3], owner);
}

static void gcconv_branch_matches_reference(void **state)
{
    network *owner = seeded_owner();
    for (size_t i = 0; i < sizeof branch_cases / sizeof *branch_cases; ++i)
        for (int bn = 0; bn < 2; ++bn) {
            layer l = branch_layer(branch_cases[i], bn, owner);
            check_against_reference(l, 1, 0);
            free_layer(l);
        }
    free_owner(owner);
}

/* The same bits with one image per product as with the groups, and with
 * one thread as with several: each element stays one chain. */
static void gcconv_branch_bits_independent_of_groups(void **state)
{
    network *owner = seeded_owner();
    int nt = omp_get_max_threads();
    for (size_t i = 0; i < 2; ++i) {
        const int *g = branch_cases[i];
        rig r;
        rig_init(&r, branch_layer(g, 1, owner), 1);
        float **grouped = rig_run(&r, 0);
        size_t workspace = r.l.workspace_size;
        /* fastconv_chunk(): the workspace holds one image's rows and products. */
        int k = (g[8] ? g[3] : g[3] / g[5]) * g[6] * g[6];
        r.l.workspace_size = (size_t)(k + g[4]) * r.l.out_h * r.l.out_w * sizeof(float);
        omp_set_num_threads(1);
        float **single = rig_run(&r, 0);
        omp_set_num_threads(nt);
        r.l.workspace_size = workspace;
        compare_runs(&r, grouped, single);
        free_run(&r, grouped);
        free_run(&r, single);
        free_layer(r.l);
    }
    free_owner(owner);
}

/* ---- each tile: scalar, AVX2, AVX-512 ------------------------------------------ */

/* The products and the layers that run on the tile, on one path: against
 * the reference kernels, and (each element being one chain) independent of
 * splits, threads and views. */
static void path_checks(int isa)
{
    use_isa(isa);
    gemm_matches_reference_all_transposes(NULL);
    gemm_bits_independent_of_splits_and_threads(NULL);
    gemm_views_equal_plain_product(NULL);
    conv_layer_matches_reference(NULL);
    conv_bits_independent_of_threads(NULL);
    gcconv_matches_reference(NULL);
    gcconv_branch_matches_reference(NULL);
    gcconv_branch_bits_independent_of_groups(NULL);
}

static void scalar_path_matches_reference(void **state) { path_checks(FASTGEMM_SCALAR); }
static void avx2_path_matches_reference(void **state) { path_checks(FASTGEMM_AVX2); }
static void avx512_path_matches_reference(void **state) { path_checks(FASTGEMM_AVX512); }

/* One product on the AVX2 tile and on the AVX-512 tile: the whole of C,
 * padding included, to the bit. */
static void avx512_case(int TA, int TB, int M, int N, int K, float alpha, float beta, int pad)
{
    int lda = (TA ? M : K) + pad, ldb = (TB ? K : N) + pad, ldc = N + pad;
    size_t nc = (size_t)M * ldc;
    float *A = randv((size_t)(TA ? K : M) * lda), *B = randv((size_t)(TB ? N : K) * ldb);
    float *C2 = randv(nc), *C5 = copyv(C2, nc);
    fastgemm_set_isa(FASTGEMM_AVX2);
    fast_gemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    fastgemm_set_isa(FASTGEMM_AVX512);
    fast_gemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C5, ldc);
    assert_same_bits(C5, C2, nc);
    free(A); free(B); free(C2); free(C5);
}

static void avx512_gemm_equals_avx2_bitwise(void **state)
{
    static const int sizes[][3] = {
        {1, 1, 1}, {6, 16, 1}, {11, 15, 2}, {12, 16, 3}, {13, 17, 300}, {18, 31, 40}, {24, 32, 256},
        {25, 33, 257}, {95, 64, 9}, {96, 48, 31}, {97, 80, 33}, {108, 16, 5}, {120, 130, 513},
        {200, 47, 70}, {37, 2049, 5}, {64, 196, 144},
    };
    static const float ab[][2] = {{1, 0}, {1, 1}, {.5f, .25f}, {-1.25f, 0}, {3, 1}};
    use_isa(FASTGEMM_AVX512);
    use_isa(FASTGEMM_AVX2);
    for (int TA = 0; TA < 2; ++TA)
        for (int TB = 0; TB < 2; ++TB)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s)
                for (size_t v = 0; v < sizeof ab / sizeof *ab; ++v)
                    avx512_case(TA, TB, sizes[s][0], sizes[s][1], sizes[s][2], ab[v][0], ab[v][1], (int)(s + v) % 3);
}

/* Segmented views (tiles straddle the segments, so some blocks go in place
 * and some through the temporary tile), BETA 0 and 1, one thread and
 * several: AVX-512 gives AVX2's bits, and nothing outside C's segments is
 * written. */
static void avx512_views_and_threads_equal_avx2_bitwise(void **state)
{
    const int M = 61, N = 95, K = 300, seg = 19, kseg = 7;
    use_isa(FASTGEMM_AVX512);
    int nt = omp_get_max_threads(), many = nt > 1 ? nt : 2;
    for (int TA = 0; TA < 2; ++TA)
        for (int TB = 0; TB < 2; ++TB)
            for (int beta = 0; beta < 2; ++beta) {
                int ar = TA ? K : M, ac = TA ? M : K, br = TB ? N : K, bc = TB ? K : N;
                int as = TA ? seg : kseg, bs = TB ? kseg : seg;
                size_t ass = (size_t)ar * ac + 5, bss = (size_t)br * bc + 3, css = (size_t)M * seg + 11;
                float *A = segmented_store(ar, ac, as, ass, as), *B = segmented_store(br, bc, bs, bss, bs);
                float *C = segmented_store(M, N, seg, css, seg);
                size_t csize = ((N + seg - 1) / seg) * css + (size_t)M * seg + seg;
                float *out[3] = {C, copyv(C, csize), copyv(C, csize)};
                const int isa[3] = {FASTGEMM_AVX2, FASTGEMM_AVX512, FASTGEMM_AVX512}, threads[3] = {many, 1, many};
                for (int run = 0; run < 3; ++run) {
                    fastgemm_set_isa(isa[run]);
                    omp_set_num_threads(threads[run]);
                    fast_gemm_view(TA, TB, M, N, K, .5f, gemm_segmented(A, as, as, ass),
                                   gemm_segmented(B, bs, bs, bss), beta, gemm_segmented(out[run], seg, seg, css));
                }
                omp_set_num_threads(nt);
                assert_same_bits(out[1], out[0], csize);
                assert_same_bits(out[2], out[0], csize);
                free(A); free(B); free(out[0]); free(out[1]); free(out[2]);
            }
}

/* The layers on the AVX-512 tile give the AVX2 tile's bits: the
 * convolution (batched and per image) and [gcconv]. */
static void avx512_layers_equal_avx2_bitwise(void **state)
{
    use_isa(FASTGEMM_AVX512);
    use_isa(FASTGEMM_AVX2);
    for (size_t i = 0; i < sizeof convs / sizeof *convs; ++i) {
        rig r;
        rig_init(&r, conv_of(convs[i]), 1);
        fastgemm_set_isa(FASTGEMM_AVX2);
        float **a = rig_run(&r, 0);
        fastgemm_set_isa(FASTGEMM_AVX512);
        float **b = rig_run(&r, 0);
        compare_runs(&r, a, b);
        free_run(&r, a);
        free_run(&r, b);
    }
}

/* ---- batch norm and activation, fused ---------------------------------------- */

static const int bn_shapes[][4] = {   /* batch, h, w, channels */
    {4, 5, 7, 3}, {32, 14, 14, 16}, {2, 1, 1, 10}, {130, 6, 6, 3}, {1, 3, 3, 2}, {3, 9, 9, 5},
    {2, 50, 45, 2},   /* planes of more than 1024 values */
};
static const ACTIVATION bn_acts[] = {LINEAR, LEAKY, RELU, LOGISTIC};
#define N_BN_ACTS (sizeof bn_acts / sizeof *bn_acts)

/* A 1x1 [convolutional] whose output holds a made-up convolution result
 * (channel f centred on `offset` + f - 2, spread 1 + f/2) and whose delta,
 * scales, biases, rolling statistics and accumulated updates are random. */
static layer bn_layer(const int *s, ACTIVATION act, int batch_normalize, float offset)
{
    layer l = make_convolutional_layer(s[0], s[1], s[2], 1, s[3], 1, 1, 1, 0, act,
                                       batch_normalize, 0, 0, 0);
    const int S = l.out_h * l.out_w, C = l.out_c;
    for (int b = 0; b < l.batch; ++b)
        for (int f = 0; f < C; ++f)
            for (int i = 0; i < S; ++i)
                l.output[((size_t)b * C + f) * S + i] = offset + (f - 2) + (1 + .5f * f) * rng_uniform_range(&gen, -1, 1);
    for (size_t i = 0; i < (size_t)l.outputs * l.batch; ++i) l.delta[i] = rng_uniform_range(&gen, -1, 1);
    for (int f = 0; f < C; ++f) {
        l.biases[f] = rng_uniform_range(&gen, -.5, .5);
        l.bias_updates[f] = rng_uniform_range(&gen, -1, 1);
        if (!batch_normalize) continue;
        float sd = 1 + .5f * f;
        l.scales[f] = rng_uniform_range(&gen, .5, 1.5);
        l.scale_updates[f] = rng_uniform_range(&gen, -1, 1);
        l.rolling_mean[f] = offset + (f - 2) + rng_uniform_range(&gen, -.1, .1);
        l.rolling_variance[f] = sd * sd / 3 * rng_uniform_range(&gen, .8, 1.2);
    }
    return l;
}

/* The arrays a forward and backward pass of batch norm or bias change. */
static int bn_fields(layer *l, field *f)
{
    size_t out = (size_t)l->outputs * l->batch, c = l->out_c;
    int k = 0;
    f[k++] = (field){&l->output, out, NULL};
    f[k++] = (field){&l->delta, out, NULL};
    f[k++] = (field){&l->bias_updates, c, NULL};
    if (!l->batch_normalize) return k;
    f[k++] = (field){&l->x, out, NULL};
    f[k++] = (field){&l->x_norm, out, NULL};
    f[k++] = (field){&l->scale_updates, c, NULL};
    f[k++] = (field){&l->mean, c, NULL};
    f[k++] = (field){&l->variance, c, NULL};
    f[k++] = (field){&l->rolling_mean, c, NULL};
    f[k++] = (field){&l->rolling_variance, c, NULL};
    f[k++] = (field){&l->mean_delta, c, NULL};
    f[k++] = (field){&l->variance_delta, c, NULL};
    return k;
}

enum { BN_FUSED, BN_SEPARATE, BN_REFERENCE };

/* Forward (activated output) then backward (delta through the activation
 * and the normalization) of the layer's batch norm or bias, one of three
 * ways: the fused kernels; the fast kernels one call at a time, as
 * upstream's layer makes them; upstream's own kernels.  Returns copies of
 * every field after both passes; the fields are restored from `saved`
 * first. */
static float **bn_run(layer *l, field *f, int nf, int train, int how)
{
    for (int i = 0; i < nf; ++i) memcpy(*f[i].p, f[i].saved, f[i].n * sizeof(float));
    const int n = l->outputs * l->batch, S = l->out_h * l->out_w;
    network net = {0};
    net.train = train;
    if (how == BN_FUSED) {
        if (l->batch_normalize) {
            /* The products go where the fused pass reads them, as the
             * convolutions write them. */
            float *products = fast_bn_products(*l);
            if (products != l->output) memcpy(products, l->output, n * sizeof(float));
            fast_bn_activate_forward(*l, net);
            fast_bn_activate_backward(*l, net);
        } else {
            fast_bias_activate_forward(*l);
            fast_bias_activate_backward(*l);
        }
    } else if (how == BN_SEPARATE) {
        if (l->batch_normalize) forward_batchnorm_layer(*l, net);
        else add_bias(l->output, l->biases, l->batch, l->n, S);
        activate_array(l->output, n, l->activation);
        gradient_array(l->output, n, l->activation, l->delta);
        if (l->batch_normalize) backward_batchnorm_layer(*l, net);
        else backward_bias(l->bias_updates, l->delta, l->batch, l->n, S);
    } else {
        if (l->batch_normalize) upstream_forward_batchnorm_layer(*l, net);
        else add_bias(l->output, l->biases, l->batch, l->n, S);
        upstream_activate_array(l->output, n, l->activation);
        if (l->batch_normalize && !train) {
            /* Upstream's inference pass leaves x_norm as the last training
             * pass left it; give it what this pass normalised with. */
            for (int i = 0; i < n; ++i) {
                int c = i / S % l->out_c;
                l->x_norm[i] = (l->x[i] - l->rolling_mean[c]) / (sqrt(l->rolling_variance[c]) + .000001f);
            }
        }
        upstream_gradient_array(l->output, n, l->activation, l->delta);
        if (l->batch_normalize) upstream_backward_batchnorm_layer(*l, net);
        else backward_bias(l->bias_updates, l->delta, l->batch, l->n, S);
    }
    float **res = calloc(nf, sizeof(float *));
    for (int i = 0; i < nf; ++i) res[i] = copyv(*f[i].p, f[i].n);
    return res;
}

static void bn_free(float **res, int nf)
{
    for (int i = 0; i < nf; ++i) free(res[i]);
    free(res);
}

/* Runs `fn(l, f, nf)` on a layer for every shape and activation. */
static void for_each_bn_case(int batch_normalize, float offset, void (*fn)(layer *, field *, int))
{
    for (size_t s = 0; s < sizeof bn_shapes / sizeof *bn_shapes; ++s)
        for (size_t a = 0; a < N_BN_ACTS; ++a) {
            layer l = bn_layer(bn_shapes[s], bn_acts[a], batch_normalize, offset);
            field f[16];
            int nf = bn_fields(&l, f);
            for (int i = 0; i < nf; ++i) f[i].saved = copyv(*f[i].p, f[i].n);
            fn(&l, f, nf);
            for (int i = 0; i < nf; ++i) free(f[i].saved);
            free_layer(l);
        }
}

/* Fused against upstream's kernels, training and inference: outputs, x,
 * deltas, batch and rolling statistics, bias and scale updates. */
static void bn_case_reference(layer *l, field *f, int nf)
{
    for (int train = 0; train < 2; ++train) {
        for (int i = 0; i < nf; ++i) memcpy(*f[i].p, f[i].saved, f[i].n * sizeof(float));
        conv_shadow s = shadow_step(*l, NULL, l->output, l->delta, NULL, train);
        float **fast = bn_run(l, f, nf, train, BN_FUSED), **ref = bn_run(l, f, nf, train, BN_REFERENCE);
        for (int i = 0; i < nf; ++i) {
            if (f[i].p == &l->x_norm) continue;   /* the fast path does not keep it */
            char what[48];
            snprintf(what, sizeof what, "field %d, %s", i, train ? "training" : "inference");
            assert_within(shadow_field(&s, l, f[i].p), fast[i], f[i].n, what, "fast kernels");
            assert_within(shadow_field(&s, l, f[i].p), ref[i], f[i].n, what, "upstream's kernels");
        }
        free_shadow(&s);
        bn_free(fast, nf);
        bn_free(ref, nf);
    }
}

static void bn_activate_matches_reference(void **state)
{
    for_each_bn_case(1, 0, bn_case_reference);
}

/* Fused and one call at a time give the same bits, so that [convolutional]
 * (fused), upstream's per-image layer on the fast kernels (separate calls)
 * and [gcconv] agree to the bit. */
static void bn_case_separate(layer *l, field *f, int nf)
{
    for (int train = 0; train < 2; ++train) {
        float **fused = bn_run(l, f, nf, train, BN_FUSED), **sep = bn_run(l, f, nf, train, BN_SEPARATE);
        for (int i = 0; i < nf; ++i) assert_same_bits(fused[i], sep[i], f[i].n);
        bn_free(fused, nf);
        bn_free(sep, nf);
    }
}

static void bn_activate_fused_equals_separate_bitwise(void **state)
{
    for_each_bn_case(1, 0, bn_case_separate);
}

/* The SSE loops (the scalar path) and the ymm ones (the AVX2 and AVX-512
 * paths) give the same bits, training and inference. */
static void bn_case_paths(layer *l, field *f, int nf)
{
    int was = fastgemm_isa();
    for (int train = 0; train < 2; ++train) {
        fastgemm_set_isa(FASTGEMM_SCALAR);
        float **narrow = bn_run(l, f, nf, train, BN_FUSED);
        for (int isa = FASTGEMM_AVX2; isa <= FASTGEMM_AVX512; ++isa) {
            if (!fastgemm_set_isa(isa)) continue;
            float **wide = bn_run(l, f, nf, train, BN_FUSED);
            for (int i = 0; i < nf; ++i) assert_same_bits(narrow[i], wide[i], f[i].n);
            bn_free(wide, nf);
        }
        bn_free(narrow, nf);
    }
    fastgemm_set_isa(was);
}

static void bn_activate_same_bits_each_path(void **state)
{
    use_isa(FASTGEMM_AVX2);
    for_each_bn_case(1, 0, bn_case_paths);
    for_each_bn_case(1, 1000, bn_case_paths);
}

/* Without batch norm: add_bias, the activation, its gradient and
 * backward_bias are reproduced to the bit, upstream's kernels included. */
static void bias_case(layer *l, field *f, int nf)
{
    float **fused = bn_run(l, f, nf, 1, BN_FUSED), **sep = bn_run(l, f, nf, 1, BN_SEPARATE);
    float **ref = bn_run(l, f, nf, 1, BN_REFERENCE);
    for (int i = 0; i < nf; ++i) {
        assert_same_bits(fused[i], sep[i], f[i].n);
        assert_same_bits(fused[i], ref[i], f[i].n);
    }
    bn_free(fused, nf);
    bn_free(sep, nf);
    bn_free(ref, nf);
}

static void bias_activate_matches_reference_bitwise(void **state)
{
    for_each_bn_case(0, 0, bias_case);
}

/* One thread and several give the same bits. */
static void bn_activate_bits_independent_of_threads(void **state)
{
    static const int shape[4] = {32, 14, 14, 16};
    for (size_t a = 0; a < N_BN_ACTS; ++a) {
        layer l = bn_layer(shape, bn_acts[a], 1, 0);
        field f[16];
        int nf = bn_fields(&l, f);
        for (int i = 0; i < nf; ++i) f[i].saved = copyv(*f[i].p, f[i].n);
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        float **one = bn_run(&l, f, nf, 1, BN_FUSED);
        omp_set_num_threads(nt > 1 ? nt : 2);
        float **many = bn_run(&l, f, nf, 1, BN_FUSED);
        omp_set_num_threads(nt);
        for (int i = 0; i < nf; ++i) assert_same_bits(one[i], many[i], f[i].n);
        bn_free(one, nf);
        bn_free(many, nf);
        for (int i = 0; i < nf; ++i) free(f[i].saved);
        free_layer(l);
    }
}

/* Channels centred far from zero (offset 1000, spread 1 to 3.5): the batch
 * mean and variance stay within the rounding of the deviations, not of the
 * values (a one-pass E[x^2] - mean^2 in float would lose the variance).
 * The fast path (src/cpu/fast_batchnorm.c, add_values) sums u = x - c in float
 * over spans of at most 1024 values, c near the mean: the first span's own
 * float mean (within gamma(1025) max|x| of it) or the running mean (within
 * the spread D = max|x - mean| of it), so |u| <= U = 2 D + gamma(1025)
 * max|x| + u max|x|.  The spans' sums of u and u^2 are within
 * gamma(1027) of m U and m U^2, merged in double and rounded once to
 * float (u |value|).  The double reference here and the double merges add
 * at most 2 gamma_53(4m + 8) of sum |x| (mean) and sum x^2 (variance). */
static void bn_case_offset(layer *l, field *f, int nf)
{
    const int B = l->batch, C = l->out_c, S = l->out_h * l->out_w;
    const double m = (double)B * S, g_span = rounding_gamma(1027), g_double = 2 * double_gamma(4 * m + 8);
    double *mean_bound = calloc(C, sizeof(double)), *var_bound = calloc(C, sizeof(double));
    double *mean = calloc(C, sizeof(double)), *var = calloc(C, sizeof(double));
    for (int c = 0; c < C; ++c) {
        double abs_sum = 0, squares = 0, spread = 0, largest = 0;
        for (int b = 0; b < B; ++b)
            for (int i = 0; i < S; ++i) {
                double x = l->output[((size_t)b * C + c) * S + i];
                mean[c] += x;
                abs_sum += fabs(x);
                squares += x * x;
                largest = fmax(largest, fabs(x));
            }
        mean[c] /= m;
        for (int b = 0; b < B; ++b)
            for (int i = 0; i < S; ++i) {
                double e = l->output[((size_t)b * C + c) * S + i] - mean[c];
                var[c] += e * e;
                spread = fmax(spread, fabs(e));
            }
        var[c] /= m - 1;
        double dev = 2 * spread + (rounding_gamma(1025) + FLOAT_UNIT_ROUNDOFF) * largest;
        mean_bound[c] = FLOAT_UNIT_ROUNDOFF * fabs(mean[c]) + g_span * dev + g_double * abs_sum / m;
        var_bound[c] = FLOAT_UNIT_ROUNDOFF * var[c] + 3 * g_span * m * dev * dev / (m - 1) + g_double * squares / (m - 1);
    }
    float **fast = bn_run(l, f, nf, 1, BN_FUSED);
    for (int c = 0; m > 1 && c < C; ++c) {
        assert_true(fabs(l->mean[c] - mean[c]) <= mean_bound[c]);
        assert_true(fabs(l->variance[c] - var[c]) <= var_bound[c]);
    }
    bn_free(fast, nf);
    free(mean); free(var); free(mean_bound); free(var_bound);
}

static void bn_statistics_precise_far_from_zero(void **state)
{
    for_each_bn_case(1, 1000, bn_case_offset);
}

/* ---- the row loops of [gcconv]'s factored passes ------------------------------ */

/* The loops as rowops.h defines them, one element at a time. */
static void weighted_sum_by_hand(float *y, const float *x, size_t stride, const float *c, size_t step, int taps, int n)
{
    for (int i = 0; i < n; ++i) {
        float sum = c[0] * x[i];
        for (int t = 1; t < taps; ++t) {
            float term = c[(size_t)t * step] * x[(size_t)t * stride + i];
            sum += term;
        }
        y[i] = sum;
    }
}

static double dot_by_hand(const float *a, const float *b, int n)
{
    int whole = n - n % 8;
    float lane[8] = {0};
    for (int i = 0; i < whole; ++i) lane[i % 8] += a[i] * b[i];
    double sum = ((double)lane[0] + lane[1]) + ((double)lane[2] + lane[3])
               + (((double)lane[4] + lane[5]) + ((double)lane[6] + lane[7]));
    for (int i = whole; i < n; ++i) sum += (double)a[i] * b[i];
    return sum;
}

/* Every path the CPU has gives the loops' bits, for lengths around the
 * vector widths and tap counts around the four products at once. */
static void row_loops_same_bits_each_path(void **state)
{
    static const int lengths[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 49, 196, 784};
    static const int taps[] = {1, 2, 3, 4, 5, 8, 9, 25};
    int was = fastgemm_isa();
    for (int isa = FASTGEMM_SCALAR; isa <= FASTGEMM_AVX512; ++isa) {
        if (!fastgemm_set_isa(isa)) {
            print_message("SKIP rows_%s: this CPU cannot run the %s path\n", isa == 1 ? "avx2" : "avx512",
                          fastgemm_isa_name(isa));
            continue;
        }
        for (size_t li = 0; li < sizeof lengths / sizeof *lengths; ++li)
            for (size_t ti = 0; ti < sizeof taps / sizeof *taps; ++ti) {
                int n = lengths[li], t = taps[ti];
                size_t stride = (size_t)n + 3;
                float *x = randv(stride * t), *c = randv((size_t)3 * t), *a = randv(n);
                float *y = randv(n), *want = randv(n);
                rows_weighted_sum(y, x, stride, c, 3, t, n);
                weighted_sum_by_hand(want, x, stride, c, 3, t, n);
                assert_same_bits(y, want, n);
                double sums[25], hand[25];
                for (int u = 0; u < t; ++u) sums[u] = hand[u] = u;
                rows_dots(a, x, stride, t, n, sums);
                for (int u = 0; u < t; ++u) {
                    hand[u] += dot_by_hand(a, x + u * stride, n);
                    assert_memory_equal(&sums[u], &hand[u], sizeof(double));
                }
                free(x); free(c); free(a); free(y); free(want);
            }
    }
    fastgemm_set_isa(was);
}

int main(void)
{
    default_isa = fastgemm_isa();
    print_message("gemm tile by default: %s\n", fastgemm_kernel_name());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(gemm_matches_reference_all_transposes, setup),
        cmocka_unit_test_setup(gemm_dispatch_follows_switch, setup),
        cmocka_unit_test_setup(gemm_bits_independent_of_splits_and_threads, setup),
        cmocka_unit_test_setup(gemm_views_equal_plain_product, setup),
        cmocka_unit_test_setup(im2col_col2im_match_reference_bitwise, setup),
        cmocka_unit_test_setup(shift_plane_matches_definition, setup),
        cmocka_unit_test_setup(activations_match_reference_bitwise, setup),
        cmocka_unit_test_setup(batchnorm_matches_reference, setup),
        cmocka_unit_test_setup(pooling_matches_reference_bitwise, setup),
        cmocka_unit_test_setup(maxpool_2x2_matches_reference_each_path, setup),
        cmocka_unit_test_setup(shortcut_matches_reference_bitwise, setup),
        cmocka_unit_test_setup(fill_matches_reference_bitwise, setup),
        cmocka_unit_test_setup(conv_layer_matches_reference, setup),
        cmocka_unit_test_setup(conv_batched_equals_per_image_bitwise, setup),
        cmocka_unit_test_setup(conv_wide_products_equal_per_image_bitwise, setup),
        cmocka_unit_test_setup(conv_small_workspace_falls_back, setup),
        cmocka_unit_test_setup(conv_bits_independent_of_threads, setup),
        cmocka_unit_test_setup(gcconv_matches_reference, setup),
        cmocka_unit_test_setup(gcconv_branch_matches_reference, setup),
        cmocka_unit_test_setup(gcconv_branch_bits_independent_of_groups, setup),
        cmocka_unit_test_setup(scalar_path_matches_reference, setup),
        cmocka_unit_test_setup(avx2_path_matches_reference, setup),
        cmocka_unit_test_setup(avx512_path_matches_reference, setup),
        cmocka_unit_test_setup(avx512_gemm_equals_avx2_bitwise, setup),
        cmocka_unit_test_setup(avx512_views_and_threads_equal_avx2_bitwise, setup),
        cmocka_unit_test_setup(avx512_layers_equal_avx2_bitwise, setup),
        cmocka_unit_test_setup(row_loops_same_bits_each_path, setup),
        cmocka_unit_test_setup(bn_activate_matches_reference, setup),
        cmocka_unit_test_setup(bn_activate_fused_equals_separate_bitwise, setup),
        cmocka_unit_test_setup(bn_activate_same_bits_each_path, setup),
        cmocka_unit_test_setup(bias_activate_matches_reference_bitwise, setup),
        cmocka_unit_test_setup(bn_activate_bits_independent_of_threads, setup),
        cmocka_unit_test_setup(bn_statistics_precise_far_from_zero, setup),
    };
    return cmocka_run_group_tests_name("fastpath", tests, NULL, NULL);
}
