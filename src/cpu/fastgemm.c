/* fastgemm.c: the single-precision matrix product behind every CPU layer.
 *
 * gemm() and gemm_cpu() keep upstream's signature and meaning:
 *     C = BETA*C + ALPHA*op(A)*op(B),  row-major, op = transpose when TA/TB.
 * Upstream's own loops stay available as upstream_gemm_cpu() (the build
 * compiles upstream's gemm.c with its two functions renamed) and are used
 * when the reference path is selected (parallel.h).
 *
 * The fast path packs blocks of A and B into panels and runs a register
 * tile, on OpenMP threads that split the rows or the columns of C.  The tile
 * is chosen at run time from the CPU's features, or by DARKNET_ISA
 * (fastgemm.h): AVX-512F (with panels of 8 rows, and two at once, 16x16,
 * where a block is whole), AVX2+FMA (6x16), or portable C (6x16).  The
 * AVX-512 and AVX2 tiles make the same FMAs in the same order, so they give
 * the same bits; the portable one rounds each product before adding it.
 *
 * Every element of C is one chain, in increasing k:
 *     c = BETA*c (or 0);  for k: c = fma(ALPHA*a[i,k], b[k,j], c)
 * The tile loads its C values, continues the chain over one block of k, and
 * stores them again; nothing is summed in a different order.  So the result
 * of an element depends neither on the block sizes, the thread count or the
 * position of the element, nor on whether the columns (or the k range) of a
 * product were split into several calls: a product over k = [0,K1) followed
 * by one over [K1,K) with BETA=1 gives the bits of the single product.  The
 * batched convolution (fastconv.c) relies on this to give, bit for bit, what
 * per-image calls give. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "utils.h"
#include "cpu/fastgemm.h"
#include "cpu/parallel.h"
#include "cpu/upstream_ref.h"
#include "checked.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define MR 6       /* rows of an A panel: portable and AVX2 tiles */
#define MR512 8    /* the AVX-512 tiles: channel counts are mostly multiples of 8 */
#define MR_MAX 8
#define NR 16
#define KC 256
#define MC 96      /* multiple of MR and of 2*MR512 */
#define NC 2048    /* multiple of NR */

typedef void (*tile_fn)(int kc, const float *a, const float *b, float *c, int ldc, int zero);
/* Two consecutive A panels against one B panel, in place. */
typedef void (*tile2_fn)(int kc, const float *a, const float *a2, const float *b, float *c, int ldc, int zero);

/* A path's tiles and the height of its A panels. */
typedef struct { tile_fn one; tile2_fn two; int mr; } tile_set;

/* Four floats in one register: SSE on x86-64, NEON on ARM, and whatever
 * the compiler makes of it elsewhere.  Each lane rounds its product and then
 * its sum, as scalar code does (the build has -ffp-contract=off). */
typedef float lanes4 __attribute__((vector_size(16)));

static inline lanes4 lanes4_load(const float *p)
{
    lanes4 v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* C tile (MR x NR, row stride ldc) += packed A panel (kc x MR) * packed B
 * panel (kc x NR), one k at a time.  With zero, the chains start from 0
 * instead of C (BETA = 0: the same bits, without reading C).  The tile is
 * done in two halves of 8 columns: 6 x 2 accumulators, two B vectors and
 * one broadcast fit in the 16 registers of SSE, where the whole tile's 24
 * accumulators spilled (0.77 against 12.8 GFLOPS, docs/performance.md).
 * Each element's chain is unchanged, so are its bits. */
static void tile_portable(int kc, const float *a, const float *b, float *c, int ldc, int zero)
{
    for (int half = 0; half < NR; half += 8) {
        lanes4 acc[MR][2];
        for (int r = 0; r < MR; ++r)
            for (int q = 0; q < 2; ++q)
                acc[r][q] = zero ? (lanes4){0, 0, 0, 0} : lanes4_load(c + r * ldc + half + 4 * q);
        for (int p = 0; p < kc; ++p) {
            lanes4 b0 = lanes4_load(b + p * NR + half), b1 = lanes4_load(b + p * NR + half + 4);
            for (int r = 0; r < MR; ++r) {
                float av = a[p * MR + r];
                lanes4 a4 = {av, av, av, av};
                acc[r][0] += a4 * b0;
                acc[r][1] += a4 * b1;
            }
        }
        for (int r = 0; r < MR; ++r)
            for (int q = 0; q < 2; ++q) memcpy(c + r * ldc + half + 4 * q, &acc[r][q], sizeof(lanes4));
    }
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma")))
static void tile_avx2(int kc, const float *a, const float *b, float *c, int ldc, int zero)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (zero) {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    } else {
        c00 = _mm256_loadu_ps(c + 0 * ldc); c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
        c10 = _mm256_loadu_ps(c + 1 * ldc); c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
        c20 = _mm256_loadu_ps(c + 2 * ldc); c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
        c30 = _mm256_loadu_ps(c + 3 * ldc); c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
        c40 = _mm256_loadu_ps(c + 4 * ldc); c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
        c50 = _mm256_loadu_ps(c + 5 * ldc); c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
    }
    for (int p = 0; p < kc; ++p) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 av;
        av = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
        a += MR;
        b += NR;
    }
    _mm256_storeu_ps(c + 0 * ldc, c00); _mm256_storeu_ps(c + 0 * ldc + 8, c01);
    _mm256_storeu_ps(c + 1 * ldc, c10); _mm256_storeu_ps(c + 1 * ldc + 8, c11);
    _mm256_storeu_ps(c + 2 * ldc, c20); _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30); _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40); _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50); _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}
#endif

#ifdef HAVE_X86
/* The AVX-512 tiles hold one row of 16 columns per zmm register.  Each lane
 * gets the FMA the AVX2 tile gives it, in the same order of k, so both tiles
 * give the same bits; only the panels' height and the number of rows per B
 * load differ. */
#define ROW512(r) cz[r] = zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + (r) * ldc)

__attribute__((target("avx512f")))
static void tile_avx512(int kc, const float *a, const float *b, float *c, int ldc, int zero)
{
    __m512 cz[MR512];
    for (int r = 0; r < MR512; ++r) ROW512(r);
    for (int p = 0; p < kc; ++p) {
        __m512 bv = _mm512_loadu_ps(b);
        for (int r = 0; r < MR512; ++r) cz[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), bv, cz[r]);
        a += MR512;
        b += NR;
    }
    for (int r = 0; r < MR512; ++r) _mm512_storeu_ps(c + r * ldc, cz[r]);
}

/* Two consecutive packed A panels (a, and a2 = the next MR512 rows) against
 * one B panel: 16 rows of C, in place, each B row loaded once for 16 FMAs. */
__attribute__((target("avx512f")))
static void tile2_avx512(int kc, const float *a, const float *a2, const float *b, float *c, int ldc, int zero)
{
    __m512 cz[2 * MR512];
    for (int r = 0; r < 2 * MR512; ++r) ROW512(r);
    for (int p = 0; p < kc; ++p) {
        __m512 bv = _mm512_loadu_ps(b);
        for (int r = 0; r < MR512; ++r) cz[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), bv, cz[r]);
        for (int r = 0; r < MR512; ++r)
            cz[MR512 + r] = _mm512_fmadd_ps(_mm512_set1_ps(a2[r]), bv, cz[MR512 + r]);
        a += MR512;
        a2 += MR512;
        b += NR;
    }
    for (int r = 0; r < 2 * MR512; ++r) _mm512_storeu_ps(c + r * ldc, cz[r]);
}
#undef ROW512
#endif

static int cpu_has(int isa)
{
    if (isa == FASTGEMM_SCALAR) return 1;
#ifdef HAVE_X86
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == FASTGEMM_AVX2) return avx2;
    /* The AVX-512 path packs with the AVX2 code, so it needs both. */
    if (isa == FASTGEMM_AVX512) return avx2 && __builtin_cpu_supports("avx512f");
#endif
    return 0;
}

int fastgemm_supported(int isa)
{
    return isa >= FASTGEMM_SCALAR && isa <= FASTGEMM_AVX512 && cpu_has(isa);
}

static const char *const isa_env[] = {"scalar", "avx2", "avx512"};

const char *fastgemm_isa_name(int isa)
{
    static const char *const names[] = {"scalar", "avx2+fma", "avx512f"};
    return isa >= FASTGEMM_SCALAR && isa <= FASTGEMM_AVX512 ? names[isa] : "?";
}

/* "scalar avx2 avx512": the DARKNET_ISA values this CPU can run. */
static void supported_list(char *out, size_t size)
{
    out[0] = 0;
    for (int i = FASTGEMM_SCALAR; i <= FASTGEMM_AVX512; ++i)
        if (cpu_has(i)) {
            if (out[0]) strncat(out, " ", size - strlen(out) - 1);
            strncat(out, isa_env[i], size - strlen(out) - 1);
        }
}

/* DARKNET_ISA, or the widest tile the CPU has.  A value that names no path,
 * or one the CPU cannot run, stops the program rather than run another. */
static int isa_from_env(void)
{
    const char *s = getenv("DARKNET_ISA");
    int best = cpu_has(FASTGEMM_AVX512) ? FASTGEMM_AVX512 : cpu_has(FASTGEMM_AVX2) ? FASTGEMM_AVX2 : FASTGEMM_SCALAR;
    if (!s || !*s) return best;
    char have[64];
    supported_list(have, sizeof have);
    for (int i = FASTGEMM_SCALAR; i <= FASTGEMM_AVX512; ++i)
        if (!strcmp(s, isa_env[i])) {
            if (cpu_has(i)) return i;
            dn_fatal("DARKNET_ISA=%s: this CPU has no %s (it supports: %s)\n",
                    s, fastgemm_isa_name(i), have);
        }
    dn_fatal("DARKNET_ISA=%s: unknown value (scalar, avx2 or avx512; this CPU supports: %s)\n", s, have);
}

static int isa = -1;   /* -1: not read from the environment yet */

int fastgemm_isa(void)
{
    /* The first product may come from inside a parallel region (the batched
     * convolution); one thread reads the variable, and reports a bad one. */
    if (isa < 0) {
#ifdef _OPENMP
        #pragma omp critical(fastgemm_isa)
#endif
        if (isa < 0) isa = isa_from_env();
    }
    return isa;
}

int fastgemm_set_isa(int which)
{
    if (!fastgemm_supported(which)) return 0;
    isa = which;
    return 1;
}

static tile_set tile_kernels(void)
{
#ifdef HAVE_X86
    switch (fastgemm_isa()) {
    case FASTGEMM_AVX2: return (tile_set){tile_avx2, NULL, MR};
    case FASTGEMM_AVX512: return (tile_set){tile_avx512, tile2_avx512, MR512};
    }
#endif
    return (tile_set){tile_portable, NULL, MR};
}

const char *fastgemm_kernel_name(void)
{
    return fastgemm_isa_name(fastgemm_isa());
}

/* Element (r, c) of a view, and how many elements of row r are contiguous
 * from column c on (to the end of c's segment).  Plain matrices skip the
 * divisions. */
static inline const float *view_at(const gemm_view *v, int r, int c)
{
    if (!v->seg_stride) return v->p + (size_t)r * v->ld + c;
    return v->p + (size_t)r * v->ld + (size_t)(c / v->seg) * v->seg_stride + c % v->seg;
}

static inline int view_run(const gemm_view *v, int c)
{
    return v->seg_stride ? v->seg - c % v->seg : INT_MAX;
}

/* Elements [c, c+len) of row r of v, to dst with stride step, times alpha
 * (alpha*x is x itself for alpha = 1, so the bits do not depend on it).
 * Runs are short here (a panel's width or one block of k), so plain loops
 * beat library calls. */
static void read_row(const gemm_view *v, int r, int c, int len, float alpha, float *dst, int step)
{
    while (len > 0) {
        int run = view_run(v, c);
        if (run > len) run = len;
        const float *s = view_at(v, r, c);
        if (alpha == 1) for (int q = 0; q < run; ++q) dst[q * step] = s[q];
        else for (int q = 0; q < run; ++q) dst[q * step] = alpha * s[q];
        dst += (size_t)run * step;
        c += run;
        len -= run;
    }
}

/* Offsets from v->p of columns [c, c+count) in row 0 (row r adds r*ld);
 * returns whether they are contiguous. */
static int column_offsets(const gemm_view *v, int c, int count, size_t *off)
{
    if (!v->seg_stride) {
        for (int q = 0; q < count; ++q) off[q] = (size_t)c + q;
        return 1;
    }
    size_t seg_no = c / v->seg;
    int at = c % v->seg;
    for (int q = 0; q < count; ++q) {
        off[q] = seg_no * v->seg_stride + at;
        if (++at == v->seg) { at = 0; ++seg_no; }
    }
    return v->seg - c % v->seg >= count;
}

#ifdef HAVE_X86
/* r[i] = row i of an 8x8 block -> r[j] = column j. */
__attribute__((target("avx2")))
static inline void transpose8(__m256 *r)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* The vector part of interleave(): eight columns at a time through 8x8
 * transposes.  Each store writes 8 floats; with step < 8 the last two spill
 * into the next slot, which a later store (or the caller's next write)
 * replaces, and past the end of the panel buffer into its padding.  Returns
 * how many columns it did. */
__attribute__((target("avx2")))
static int interleave_avx2(const float *src, size_t ld, int rows, int len, float alpha, float *dst, int step)
{
    __m256 scale = _mm256_set1_ps(alpha);
    int q = 0;
    for (; q + 8 <= len; q += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i)
            r[i] = i < rows ? _mm256_loadu_ps(src + i * ld + q) : _mm256_setzero_ps();
        if (alpha != 1)
            for (int i = 0; i < rows; ++i) r[i] = _mm256_mul_ps(r[i], scale);
        transpose8(r);
        for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (size_t)(q + j) * step, r[j]);
    }
    return q;
}
#endif

/* dst[q*step + i] = alpha*S(row0+i, c+q): `rows` (at most 8) rows of v,
 * columns [c, c+len), interleaved; lanes rows..7 of each slot are written
 * with zeros when step >= 8. */
static void interleave(const gemm_view *v, int row0, int rows, int c, int len, float alpha, float *dst, int step)
{
    while (len > 0) {
        int run = view_run(v, c);
        if (run > len) run = len;
        const float *s = view_at(v, row0, c);
        int q = 0;
#ifdef HAVE_X86
        if (fastgemm_isa() >= FASTGEMM_AVX2) q = interleave_avx2(s, v->ld, rows, run, alpha, dst, step);
#endif
        for (; q < run; ++q)
            for (int i = 0; i < rows; ++i) dst[(size_t)q * step + i] = alpha * s[(size_t)i * v->ld + q];
        dst += (size_t)run * step;
        c += run;
        len -= run;
    }
}

/* Panels of h rows of alpha*op(A)[i0.., p0..], zero-padded to h rows. */
static void pack_a(int TA, const gemm_view *A, int i0, int p0, int mc, int kc, float alpha, int h, float *out)
{
    for (int i = 0; i < mc; i += h) {
        int mr = mc - i < h ? mc - i : h;
        float *o = out + (size_t)i * kc;
        if (!TA) {
            interleave(A, i0 + i, mr, p0, kc, alpha, o, h);
        } else {
            for (int p = 0; p < kc; ++p) read_row(A, p0 + p, i0 + i, mr, alpha, o + p * h, 1);
        }
        for (int r = mr; r < h; ++r)
            for (int p = 0; p < kc; ++p) o[p * h + r] = 0;
    }
}

/* Panels of NR columns of op(B)[p0.., j0..], zero-padded to NR columns. */
static void pack_b(int TB, const gemm_view *B, int p0, int j0, int kc, int nc, float *out)
{
    for (int j = 0; j < nc; j += NR) {
        int nr = nc - j < NR ? nc - j : NR;
        float *o = out + (size_t)j * kc;
        size_t off[NR];
        if (!TB && column_offsets(B, j0 + j, nr, off) && nr == NR) {
            const float *s = B->p + (size_t)p0 * B->ld + off[0];
            for (int p = 0; p < kc; ++p) memcpy(o + p * NR, s + (size_t)p * B->ld, NR * sizeof(float));
        } else if (!TB) {
            /* The panel crosses a segment boundary (or is the last, narrow one). */
            for (int p = 0; p < kc; ++p) {
                const float *row = B->p + (size_t)(p0 + p) * B->ld;
                for (int c = 0; c < nr; ++c) o[p * NR + c] = row[off[c]];
                for (int c = nr; c < NR; ++c) o[p * NR + c] = 0;
            }
        } else {
            interleave(B, j0 + j, nr < 8 ? nr : 8, p0, kc, 1, o, NR);
            if (nr > 8) interleave(B, j0 + j + 8, nr - 8, p0, kc, 1, o + 8, NR);
            for (int c = nr; c < NR; ++c)
                for (int p = 0; p < kc; ++p) o[p * NR + c] = 0;
        }
    }
}

/* Per-thread packing buffers, kept for the life of the thread. */
static __thread float *buf_a, *buf_b;

static int buffers(void)
{
    if (!buf_a) {
        void *a = NULL, *b = NULL;
        /* + 8 floats: interleave()'s last store may spill past the panels. */
        if (posix_memalign(&a, 64, ((size_t)MC * KC + 8) * sizeof(float))) return 0;
        if (posix_memalign(&b, 64, (size_t)KC * NC * sizeof(float))) { free(a); return 0; }
        buf_a = a;
        buf_b = b;
    }
    return 1;
}

/* One block of C (up to ts->mr x NR) at row i, columns at offsets off
 * (contiguous or not): in place when whole and contiguous, else through a
 * small buffer. */
static inline void run_tile(const tile_set *ts, int kc, const float *ap, const float *bp, const gemm_view *C,
                            int i, const size_t *off, int contiguous, int mr, int nr, int zero)
{
    float *base = (float *)C->p + (size_t)i * C->ld;
    if (mr == ts->mr && nr == NR && contiguous) {
        ts->one(kc, ap, bp, base + off[0], C->ld, zero);
        return;
    }
    float tmp[MR_MAX * NR] __attribute__((aligned(64)));
    if (!zero)
        for (int r = 0; r < mr; ++r)
            for (int c = 0; c < nr; ++c) tmp[r * NR + c] = base[(size_t)r * C->ld + off[c]];
    ts->one(kc, ap, bp, tmp, NR, zero);
    for (int r = 0; r < mr; ++r)
        for (int c = 0; c < nr; ++c) base[(size_t)r * C->ld + off[c]] = tmp[r * NR + c];
}

/* The tiles of one column panel of C (B panel bp) over the mc rows of the
 * packed A block from row i.  Where the path has a two-panel tile, whole
 * contiguous blocks go two A panels at a time, in place; the rest as
 * run_tile() takes them. */
static void run_column(const tile_set *ts, int kc, int mc, const float *pa, const float *bp,
                       const gemm_view *C, int i, const size_t *off, int contiguous, int nr, int zero)
{
    const int h = ts->mr;
    int ir = 0;
    if (ts->two && nr == NR && contiguous)
        for (; ir + 2 * h <= mc; ir += 2 * h)
            ts->two(kc, pa + (size_t)ir * kc, pa + (size_t)(ir + h) * kc, bp,
                    (float *)C->p + (size_t)(i + ir) * C->ld + off[0], C->ld, zero);
    for (; ir < mc; ir += h) {
        int mr = mc - ir < h ? mc - ir : h;
        run_tile(ts, kc, pa + (size_t)ir * kc, bp, C, i + ir, off, contiguous, mr, nr, zero);
    }
}

/* C[i0.., j0..] (M x N) += alpha*op(A)*op(B) on one thread; BETA is already
 * applied, or with zero, C = alpha*op(A)*op(B) (BETA = 0, C not read). */
static void gemm_serial(int TA, int TB, int i0, int M, int j0, int N, int K, float alpha,
                        const gemm_view *A, const gemm_view *B, const gemm_view *C, int zero)
{
    const tile_set ts = tile_kernels();
    if (!buffers()) error("fast gemm: no memory for the packing buffers");
    float *pa = buf_a, *pb = buf_b;
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            pack_b(TB, B, pc, j0 + jc, kc, nc, pb);
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                pack_a(TA, A, i0 + ic, pc, mc, kc, alpha, ts.mr, pa);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    size_t off[NR];
                    int contiguous = column_offsets(C, j0 + jc + jr, nr, off);
                    run_column(&ts, kc, mc, pa, pb + (size_t)jr * kc, C, i0 + ic, off, contiguous, nr,
                               zero && pc == 0);
                }
            }
        }
    }
}

static void scale_c(int M, int N, float beta, const gemm_view *C)
{
    if (beta == 1) return;
    for (int i = 0; i < M; ++i)
        for (int c = 0; c < N;) {
            int run = view_run(C, c);
            if (run > N - c) run = N - c;
            float *row = (float *)view_at(C, i, c);
            if (beta == 0) memset(row, 0, run * sizeof(float));
            else for (int j = 0; j < run; ++j) row[j] *= beta;
            c += run;
        }
}

void fast_gemm_view(int TA, int TB, int M, int N, int K, float ALPHA,
                    gemm_view A, gemm_view B, float BETA, gemm_view C)
{
    if (M <= 0 || N <= 0) return;
    /* DARKNET_ISA is read here, on the calling thread, before any team
     * starts, so that a bad value is reported once. */
    (void)fastgemm_isa();
    /* BETA = 0 with a product to take: the first block of k starts the
     * chains from 0 and C is never read (nor cleared first). */
    int zero = BETA == 0 && K > 0 && ALPHA != 0;
    if (!zero) scale_c(M, N, BETA, &C);
    if (K <= 0 || ALPHA == 0) return;
    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && (double)M * N * K >= 2e6) nt = omp_get_max_threads();
#endif
    /* Split C into nt slabs of whole tiles, along the longer usable side. */
    const int h = tile_kernels().mr;
    int split_n = N >= M || M < 2 * h;
    int tiles = split_n ? (N + NR - 1) / NR : (M + h - 1) / h;
    if (nt > tiles) nt = tiles;
    if (nt <= 1) {
        gemm_serial(TA, TB, 0, M, 0, N, K, ALPHA, &A, &B, &C, zero);
        return;
    }
#ifdef _OPENMP
    #pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int t0 = (int)((long)tiles * t / n), t1 = (int)((long)tiles * (t + 1) / n);
        if (split_n) {
            int j0 = t0 * NR, j1 = t1 * NR < N ? t1 * NR : N;
            if (j1 > j0) gemm_serial(TA, TB, 0, M, j0, j1 - j0, K, ALPHA, &A, &B, &C, zero);
        } else {
            int i0 = t0 * h, i1 = t1 * h < M ? t1 * h : M;
            if (i1 > i0) gemm_serial(TA, TB, i0, i1 - i0, 0, N, K, ALPHA, &A, &B, &C, zero);
        }
    }
#endif
}

void fast_gemm(int TA, int TB, int M, int N, int K, float ALPHA,
               const float *A, int lda, const float *B, int ldb,
               float BETA, float *C, int ldc)
{
    fast_gemm_view(TA, TB, M, N, K, ALPHA, gemm_plain(A, lda), gemm_plain(B, ldb), BETA, gemm_plain(C, ldc));
}

/* A view read over `cols` stored columns is one plain matrix. */
static int one_segment(gemm_view v, int cols)
{
    return !v.seg_stride || cols <= v.seg;
}

void gemm_view_cpu(int TA, int TB, int M, int N, int K, float ALPHA,
                   gemm_view A, gemm_view B, float BETA, gemm_view C)
{
    if (dn_reference() && one_segment(A, TA ? M : K) && one_segment(B, TB ? K : N) && one_segment(C, N))
        upstream_gemm_cpu(TA, TB, M, N, K, ALPHA, (float *)A.p, A.ld, (float *)B.p, B.ld, BETA, (float *)C.p, C.ld);
    else
        fast_gemm_view(TA, TB, M, N, K, ALPHA, A, B, BETA, C);
}

void gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA,
              float *A, int lda, float *B, int ldb,
              float BETA, float *C, int ldc)
{
    if (dn_reference())
        upstream_gemm_cpu(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
    else
        fast_gemm(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
}

void gemm(int TA, int TB, int M, int N, int K, float ALPHA,
          float *A, int lda, float *B, int ldb,
          float BETA, float *C, int ldc)
{
    gemm_cpu(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
}
