/* gcfactor.c: [gcconv] mixing=full with K > 1 on the CPU, without building H.
 *
 * With full mixing H[o*K+k, j, p] = R[k,p] * w[o,j,p] (j over the C*K input
 * planes, p over the kernel pixels), so the layer's output is
 *     y[o*K+k] = sum_p R[k,p] * z_p[o],   z_p = W_p * cols_p,
 * where W_p (N x C*K) holds w's pixel p and cols_p the im2col rows of pixel
 * p.  The products z_p cost N*(C*K)*ss per output pixel instead of the
 * N*K*(C*K)*ss of the convolution with H: K times fewer.  Backward the same
 * way, with dz_p[o] = sum_k R[k,p] * delta[o*K+k]:
 *     dw_p  += dz_p * cols_p^T        dcols_p = W_p^T * dz_p
 *     dR[k,p] += sum_o delta[o*K+k] . z_p[o]      (z_p recomputed)
 * which is dL/dH folded onto w and R (gclayer.c's fold_gradient) without
 * forming dL/dH.  Images go in groups of about 1 MB of columns, as in
 * fastconv.c; every sum runs in a fixed order, so the bits do not depend on
 * the thread count.  K = 1, the other mixing and the reference path keep
 * the convolution with H. */
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "im2col.h"
#include "utils.h"

#include "cpu/fastgemm.h"
#include "cpu/fastops.h"
#include "cpu/parallel.h"
#include "cpu/rowops.h"
#include "cpu/winograd.h"
#include "gcconv/gcfactor.h"

#define GROUP_BYTES (1u << 20)
/* A training pass keeps its products z for the backward pass, which would
 * otherwise compute them again, when the batch's z take at most this. */
#define KEPT_Z_BYTES ((size_t)128 << 20)

/* Floats one image takes in the workspace: its columns and its z (or dz). */
static size_t floats_per_image(layer l, gcconv_state *s)
{
    size_t pixels = (size_t)l.out_h * l.out_w;
    return ((size_t)s->planes * s->ss + (size_t)s->N * s->ss) * pixels;
}

static int group_size(layer l, gcconv_state *s)
{
    size_t per = floats_per_image(l, s) * sizeof(float);
    size_t n = GROUP_BYTES / per;
    if (n < 1) n = 1;
    return n < (size_t)l.batch ? (int)n : l.batch;
}

size_t gcfactor_workspace(layer l, gcconv_state *s)
{
    return floats_per_image(l, s) * group_size(l, s) * sizeof(float);
}

/* Each of the ss products z_p = W_p * cols_p has an inner dimension of
 * `planes`, so it does 2*planes flops for each float of z it writes and the
 * weighted sum reads back.  Below about 32 planes that traffic, not the
 * arithmetic, sets the time, and the convolution with H (K times the
 * multiply-adds, in one product as wide as [convolutional]'s) is faster: on
 * the AlexNet Faster R-CNN's first layer (3 channels, K=2 with expand: 6
 * planes, 11x11) a training iteration of the -gc cfg took 18.3 s with the
 * factored passes there and 11.0 s without (BENCHMARKS.md). */
static int min_planes = GCFACTOR_MIN_PLANES;

int gcfactor_set_min_planes(int planes)
{
    int was = min_planes;
    min_planes = planes;
    return was;
}

/* With [net] winograd=1, a 3x3 layer at stride 1 and padding 1 runs the
 * convolution with H by Winograd's algorithm (cpu/winograd.h): K * 36/16
 * multiplications an output and input plane against the factored passes'
 * 9, so it takes that for K < 4. */
static int winograd_with_h(layer l, gcconv_state *s)
{
    return s->winograd && winograd_shape(l.size, l.stride, l.pad) && s->K * 36 < 9 * 16;
}

int gcfactor_applies(layer l, gcconv_state *s)
{
    return s->mixing == GC_MIX_FULL && s->K > 1 && !dn_reference() && s->planes >= min_planes
        && l.workspace_size >= gcfactor_workspace(l, s) && !winograd_with_h(l, s);
}

/* W_p for every p, p-major: wp[(p*N + o)*planes + j] = w[o, j, p]. */
static float *weights_by_pixel(layer l, gcconv_state *s)
{
    size_t n = (size_t)s->N * s->planes * s->ss;
    if (!s->w_by_pixel) {
        s->w_by_pixel = malloc(n * sizeof(float));
        if (!s->w_by_pixel) error("[gcconv]: no memory for the kernels by pixel");
    }
    for (int o = 0; o < s->N; ++o)
        for (int j = 0; j < s->planes; ++j)
            for (int p = 0; p < s->ss; ++p)
                s->w_by_pixel[((size_t)p * s->N + o) * s->planes + j] = l.weights[((size_t)o * s->planes + j) * s->ss + p];
    return s->w_by_pixel;
}

/* The input planes of images [b0, b0+nb) as one planes x nb*P matrix. */
static gemm_view input_rows(layer l, gcconv_state *s, const float *input, int b0)
{
    int P = l.h * l.w;
    size_t per = (size_t)s->planes * P;
    return gemm_segmented(input + (size_t)b0 * per, P, P, per);
}

/* The im2col rows of pixel p for images [b0, b0+nb), as a planes x nb*P
 * matrix: rows p, p+ss, ... of the columns (ld = nb*P), or for a pointwise
 * kernel the input planes themselves. */
static gemm_view pixel_rows(layer l, gcconv_state *s, const float *input, int b0, int nb, const float *cols, int p)
{
    int P = l.out_h * l.out_w;
    if (gcconv_is_pointwise(l)) return input_rows(l, s, input, b0);
    return gemm_plain(cols + (size_t)p * nb * P, s->ss * nb * P);
}

/* At stride 1 with the output as large as the input, z_p is U_p = W_p * x
 * over the unshifted input, shifted by kernel pixel p (shift_plane).  So
 * the ss products are one product of the stacked W (ss*N x planes, as
 * w_by_pixel holds them) with the input, with no im2col; each element of z
 * is the same chain of FMAs that W_p * cols_p gives, and outside the plane,
 * where cols_p is 0, both give +0.  The backward pass's dw_p = dz_p *
 * cols_p^T is likewise one product of dz shifted back with the input: the
 * extra terms are exact zeros, which leave every chain as it was.  The
 * stacked rows go in the columns' room, which holds them when planes >= N. */
static int shifted_products_on = 1;

void gcfactor_set_shifted_products(int on)
{
    shifted_products_on = on;
}

static int takes_shifted_products(layer l, gcconv_state *s)
{
    return shifted_products_on && !gcconv_is_pointwise(l) && l.stride == 1 && l.out_h == l.h
        && l.out_w == l.w && s->planes >= s->N;
}

/* Row (p*N + o) of image b, at from + ((p*N + o)*nb + b)*P, shifted by kernel
 * pixel p into the same place of `to`; with back set, shifted the other
 * way, from output to input coordinates. */
static void shift_rows(layer l, gcconv_state *s, const float *from, float *to, int nb, int back)
{
    int P = l.h * l.w, rows = s->ss * s->N * nb, sign = back ? -1 : 1;
    #pragma omp parallel for schedule(static) if ((long)rows * P >= DN_PAR_MIN)
    for (int r = 0; r < rows; ++r) {
        int p = r / (s->N * nb);
        shift_plane(from + (size_t)r * P, l.h, l.w, sign * (p / l.size - l.pad), sign * (p % l.size - l.pad),
                    to + (size_t)r * P);
    }
}

static void im2col_group(layer l, gcconv_state *s, const float *input, int b0, int nb, float *cols)
{
    if (gcconv_is_pointwise(l) || takes_shifted_products(l, s)) return;
    int P = l.out_h * l.out_w;
    size_t per = (size_t)s->planes * l.h * l.w;
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        im2col_rows(input + (b0 + b) * per, s->planes, l.h, l.w, l.size, l.stride, l.pad, cols + (size_t)b * P,
                    nb * P);
}

/* z[(p*N + o)*ld + i] = (W_p * cols_p)[o, i] for every p; ld = nb*P.  The
 * shifted products use the columns' room for U. */
static void pixel_products(layer l, gcconv_state *s, const float *wp, const float *input, int b0, int nb,
                          float *cols, float *z)
{
    int ld = nb * l.out_h * l.out_w;
    if (takes_shifted_products(l, s)) {
        fast_gemm_view(0, 0, s->ss * s->N, ld, s->planes, 1, gemm_plain(wp, s->planes),
                       input_rows(l, s, input, b0), 0, gemm_plain(cols, ld));
        shift_rows(l, s, cols, z, nb, 0);
        return;
    }
    for (int p = 0; p < s->ss; ++p)
        fast_gemm_view(0, 0, s->N, ld, s->planes, 1, gemm_plain(wp + (size_t)p * s->N * s->planes, s->planes),
                       pixel_rows(l, s, input, b0, nb, cols, p), 0, gemm_plain(z + (size_t)p * s->N * ld, ld));
}

/* Output row o*K+k of image b0+b = sum_p R[k,p] * z_p[o] over that image's pixels. */
static void mix_output(layer l, gcconv_state *s, const float *z, int b0, int nb)
{
    int P = l.out_h * l.out_w, ld = nb * P;
    #pragma omp parallel for schedule(static) if ((long)s->N * s->K * ld * s->ss >= DN_PAR_MIN)
    for (int o = 0; o < s->N; ++o)
        for (int k = 0; k < s->K; ++k)
            for (int b = 0; b < nb; ++b)
                rows_weighted_sum(l.output + (size_t)(b0 + b) * l.outputs + (size_t)(o * s->K + k) * P,
                                  z + (size_t)o * ld + (size_t)b * P, (size_t)s->N * ld, s->R + k * s->ss, 1,
                                  s->ss, P);
}

static int group_count(layer l, int chunk)
{
    return (l.batch + chunk - 1) / chunk;
}

/* A group's room: the thread's own inside a parallel run over groups. */
static float *group_workspace(layer l, gcconv_state *s, int chunk, float *workspace)
{
    return dn_in_parallel() ? dn_thread_scratch(floats_per_image(l, s) * chunk * sizeof(float)) : workspace;
}

/* The room for a training pass's z, the batch's groups one after another
 * (a group's z as in its workspace); NULL when the batch's z would take
 * more than KEPT_Z_BYTES or the memory is not there. */
static float *kept_z_room(layer l, gcconv_state *s)
{
    size_t floats = (size_t)s->N * s->ss * l.out_h * l.out_w * l.batch;
    if (floats * sizeof(float) > KEPT_Z_BYTES) return NULL;
    if (s->kept_z_floats != floats) {
        free(s->kept_z);
        s->kept_z = malloc(floats * sizeof(float));
        s->kept_z_floats = s->kept_z ? floats : 0;
    }
    return s->kept_z;
}

/* Groups run in parallel, one thread each (with one group, the products'
 * and loops' own threads).  In training, z stays for the backward pass
 * when there is room for it (kept_z_room). */
void gcfactor_forward(layer l, gcconv_state *s, const float *input, float *workspace, int train)
{
    const float *wp = weights_by_pixel(l, s);
    const int chunk = group_size(l, s), P = l.out_h * l.out_w, groups = group_count(l, chunk);
    float *kept = train ? kept_z_room(l, s) : NULL;
    #pragma omp parallel for schedule(dynamic, 1) if (groups > 1)
    for (int gi = 0; gi < groups; ++gi) {
        int b0 = gi * chunk, nb = l.batch - b0 < chunk ? l.batch - b0 : chunk;
        float *cols = group_workspace(l, s, chunk, workspace), *z = cols + (size_t)s->planes * s->ss * nb * P;
        if (kept) z = kept + (size_t)b0 * s->N * s->ss * P;
        im2col_group(l, s, input, b0, nb, cols);
        pixel_products(l, s, wp, input, b0, nb, cols, z);
        mix_output(l, s, z, b0, nb);
    }
    s->z_kept = kept != NULL;
}

/* dr[k,p] += sum_o delta[o*K+k] . z_p[o] over images [b0, b0+nb), summed
 * over o and the images in order, the ss pixels' products of one delta
 * row at once. */
static void calibration_gradient(layer l, gcconv_state *s, const float *z, int b0, int nb, float *dr)
{
    int P = l.out_h * l.out_w, ld = nb * P;
    #pragma omp parallel for schedule(static) if ((long)s->N * s->K * ld * s->ss >= DN_PAR_MIN)
    for (int k = 0; k < s->K; ++k) {
        double sum[s->ss];
        for (int p = 0; p < s->ss; ++p) sum[p] = 0;
        for (int o = 0; o < s->N; ++o)
            for (int b = 0; b < nb; ++b)
                rows_dots(l.delta + (size_t)(b0 + b) * l.outputs + (size_t)(o * s->K + k) * P,
                          z + (size_t)o * ld + (size_t)b * P, (size_t)s->N * ld, s->ss, P, sum);
        for (int p = 0; p < s->ss; ++p) dr[k * s->ss + p] += (float)sum[p];
    }
}

/* dz_p[o] = sum_k R[k,p] * delta[o*K+k], written over z. */
static void mix_delta(layer l, gcconv_state *s, float *dz, int b0, int nb)
{
    int P = l.out_h * l.out_w, ld = nb * P;
    #pragma omp parallel for schedule(static) if ((long)s->N * s->K * ld * s->ss >= DN_PAR_MIN)
    for (int p = 0; p < s->ss; ++p)
        for (int o = 0; o < s->N; ++o)
            for (int b = 0; b < nb; ++b)
                rows_weighted_sum(dz + ((size_t)p * s->N + o) * ld + (size_t)b * P,
                                  l.delta + (size_t)(b0 + b) * l.outputs + (size_t)o * s->K * P, P, s->R + p,
                                  s->ss, s->K, P);
}

/* dw (by pixel, as w_by_pixel) += dz_p * cols_p^T, and the columns'
 * gradients W_p^T * dz_p into the columns' room, then into input_delta. */
static void backward_products(layer l, gcconv_state *s, const float *wp, const float *input, float *input_delta,
                              int b0, int nb, float *cols, const float *dz, float *dw)
{
    int P = l.out_h * l.out_w, ld = nb * P;
    size_t wsize = (size_t)s->N * s->planes, per = (size_t)s->planes * l.h * l.w;
    for (int p = 0; p < s->ss; ++p)
        fast_gemm_view(0, 1, s->N, s->planes, ld, 1, gemm_plain(dz + (size_t)p * s->N * ld, ld),
                       pixel_rows(l, s, input, b0, nb, cols, p), 1, gemm_plain(dw + p * wsize, s->planes));
    if (!input_delta) return;
    if (gcconv_is_pointwise(l)) {
        /* Added, as col2im adds the other kernels' gradients. */
        fast_gemm_view(1, 0, s->planes, ld, s->N, 1, gemm_plain(wp, s->planes), gemm_plain(dz, ld), 1,
                       gemm_segmented(input_delta + (size_t)b0 * per, P, P, per));
        return;
    }
    for (int p = 0; p < s->ss; ++p)
        fast_gemm_view(1, 0, s->planes, ld, s->N, 1, gemm_plain(wp + p * wsize, s->planes),
                       gemm_plain(dz + (size_t)p * s->N * ld, ld), 0, gemm_plain(cols + (size_t)p * ld, s->ss * ld));
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (int b = 0; b < nb; ++b)
        col2im_rows(cols + (size_t)b * P, ld, s->planes, l.h, l.w, l.size, l.stride, l.pad,
                    input_delta + (b0 + b) * per);
}

/* The shifted products' backward_products.  dz shifted back to input
 * coordinates (dzu, in the columns' room) gives dw in one product with the
 * input.  Then, pixel by pixel, V = W_p^T * dzu_p is added to input_delta
 * over the positions that pixel p reaches: each element gets the values
 * col2im would add, in col2im's order of pixels, while V is still in the
 * cache.  V goes where dz was (no longer needed) or, when that is too
 * small, after dzu in the columns' room, which then holds it. */
static void shifted_backward_products(layer l, gcconv_state *s, const float *wp, const float *input,
                                      float *input_delta, int b0, int nb, float *cols, float *dz, float *dw)
{
    int P = l.h * l.w, ld = nb * P;
    size_t wsize = (size_t)s->N * s->planes, per = (size_t)s->planes * P;
    float *dzu = cols, *v = (size_t)s->planes <= (size_t)s->ss * s->N ? dz : cols + (size_t)s->ss * s->N * ld;
    shift_rows(l, s, dz, dzu, nb, 1);
    fast_gemm_view(0, 1, s->ss * s->N, s->planes, ld, 1, gemm_plain(dzu, ld), input_rows(l, s, input, b0), 1,
                   gemm_plain(dw, s->planes));
    if (!input_delta) return;
    for (int p = 0; p < s->ss; ++p) {
        fast_gemm_view(1, 0, s->planes, ld, s->N, 1, gemm_plain(wp + p * wsize, s->planes),
                       gemm_plain(dzu + (size_t)p * s->N * ld, ld), 0, gemm_plain(v, ld));
        int dy = p / l.size - l.pad, dx = p % l.size - l.pad;
        #pragma omp parallel for schedule(static) if ((long)s->planes * ld >= DN_PAR_MIN)
        for (int r = 0; r < s->planes * nb; ++r)
            add_reached(v + (size_t)(r / nb) * ld + (size_t)(r % nb) * P, l.h, l.w, dy, dx,
                        input_delta + (size_t)(b0 + r % nb) * per + (size_t)(r / nb) * P);
    }
}

/* The slots' sums in slot order: weight_updates[o, j, p] += their
 * dw[(p*N + o)*planes + j], R_updates += their dr. */
static void add_slot_sums(layer l, gcconv_state *s, const float *partial, int slots, size_t slot_floats)
{
    size_t nw = (size_t)s->N * s->planes * s->ss;
    for (int o = 0; o < s->N; ++o)
        for (int j = 0; j < s->planes; ++j)
            for (int p = 0; p < s->ss; ++p) {
                size_t at = ((size_t)p * s->N + o) * s->planes + j;
                float sum = partial[at];
                for (int t = 1; t < slots; ++t) sum += partial[t * slot_floats + at];
                l.weight_updates[((size_t)o * s->planes + j) * s->ss + p] += sum;
            }
    for (int i = 0; i < s->K * s->ss; ++i)
        for (int t = 0; t < slots; ++t) s->R_updates[i] += partial[t * slot_floats + nw + i];
}

/* Slots of consecutive groups (parallel.h) run in parallel, each summing its
 * own gradients of w and R; the slot sums are then added in slot order, so
 * the bits depend on the batch and the shapes only. */
void gcfactor_backward(layer l, gcconv_state *s, const float *input, float *input_delta, float *workspace)
{
    const float *wp = weights_by_pixel(l, s);
    const int chunk = group_size(l, s), P = l.out_h * l.out_w, groups = group_count(l, chunk);
    const size_t slot_floats = (size_t)s->N * s->planes * s->ss + (size_t)s->K * s->ss;
    const int slots = dn_slot_count(groups, slot_floats * sizeof(float));
    /* The forward pass's z, the same bits as computing them again; the
     * backward pass writes dz over them. */
    float *kept = s->z_kept ? s->kept_z : NULL;
    s->z_kept = 0;
    float *partial = dn_shared_scratch(slots * slot_floats * sizeof(float));
    memset(partial, 0, slots * slot_floats * sizeof(float));
    #pragma omp parallel for schedule(dynamic, 1) if (slots > 1)
    for (int t = 0; t < slots; ++t) {
        float *dw = partial + t * slot_floats, *dr = dw + (size_t)s->N * s->planes * s->ss;
        int g0 = (int)((long)groups * t / slots), g1 = (int)((long)groups * (t + 1) / slots);
        for (int gi = g0; gi < g1; ++gi) {
            int b0 = gi * chunk, nb = l.batch - b0 < chunk ? l.batch - b0 : chunk;
            float *cols = group_workspace(l, s, chunk, workspace), *z = cols + (size_t)s->planes * s->ss * nb * P;
            im2col_group(l, s, input, b0, nb, cols);
            if (kept) z = kept + (size_t)b0 * s->N * s->ss * P;
            else pixel_products(l, s, wp, input, b0, nb, cols, z);
            calibration_gradient(l, s, z, b0, nb, dr);
            mix_delta(l, s, z, b0, nb);
            if (takes_shifted_products(l, s))
                shifted_backward_products(l, s, wp, input, input_delta, b0, nb, cols, z, dw);
            else backward_products(l, s, wp, input, input_delta, b0, nb, cols, z, dw);
        }
    }
    add_slot_sums(l, s, partial, slots, slot_floats);
}
