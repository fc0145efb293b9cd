/* fast_batchnorm.c: upstream's batch normalization (forward and backward),
 * with the activation applied in the same passes (fastops.h).  It sums in
 * another order than upstream and multiplies by reciprocals, so it agrees
 * with upstream to float rounding only (tests/unit/test_fastpath.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "activations.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "convolutional_layer.h"
#include "cpu/fast_lanes.h"
#include "cpu/fastops.h"
#include "cpu/upstream_ref.h"

/* Sum of one plane: four chains of four-float sums, in two v8f. */
static inline __attribute__((always_inline)) float sum_plane(const float *x, int n)
{
    v8f ab = {0}, cd = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        ab += load8(x + i);
        cd += load8(x + i + 8);
    }
    float s = hsum16(low4(ab), high4(ab), low4(cd), high4(cd));
    for (; i < n; ++i) s += x[i];
    return s;
}

/* Sums of x - c and of (x - c)^2. */
static inline __attribute__((always_inline)) void dev_sums(const float *x, float c, int n, float *t, float *q)
{
    v8f ab = {0}, ef = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i) - c;
        ab += u;
        ef += u * u;
    }
    v4f z = {0};
    float st = hsum16(low4(ab), high4(ab), z, z), sq = hsum16(low4(ef), high4(ef), z, z);
    for (; i < n; ++i) { float u = x[i] - c; st += u; sq += u * u; }
    *t = st;
    *q = sq;
}

/* Float sums run over at most this many values, then go on in double. */
#define SPAN 1024

/* Count, mean and sum of squared deviations of the values seen so far. */
typedef struct { double n, mu, m2; } moments;

/* Adds n values to m.  Their sums t of x - c and q of (x - c)^2 give their
 * mean c + t/n and squared deviations q - t^2/n to the rounding of the
 * deviations, whatever the offset, when c is near their mean: c is the mean
 * so far, or for the first values their own mean (one more pass over them,
 * while they are in cache).  The parts are merged in double as Chan et al.
 * merge partial variances. */
static inline __attribute__((always_inline)) void add_values(moments *m, const float *p, int n)
{
    float c = m->n > 0 ? (float)m->mu : sum_plane(p, n) / n, t, q;
    dev_sums(p, c, n, &t, &q);
    const double total = m->n + n, inv_n = 1. / n, inv_total = 1. / total;
    const double e = (c - m->mu) * n + t;   /* n times (their mean - mean so far) */
    m->mu += e * inv_total;
    m->m2 += (q - (double)t * t * inv_n) + e * e * inv_n * m->n * inv_total;
    m->n = total;
}

static inline __attribute__((always_inline)) void add_plane(moments *m, const float *p, int S)
{
    for (int i = 0; i < S; i += SPAN) add_values(m, p + i, S - i < SPAN ? S - i : SPAN);
}

/* One plane: y = act((x - mean) * a + bias), and x kept in xs when copy.
 * x may be y, or (without copy) xs. */
static inline __attribute__((always_inline))
void norm_values(const float *x, float *xs, float *y, int n, float mean, float a, float bias,
                 ACTIVATION act, int copy)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i);
        if (copy) store8(xs + i, u);
        store8(y + i, act8((u - mean) * a + bias, act));
    }
    for (; i < n; ++i) {
        float v = x[i];
        if (copy) xs[i] = v;
        y[i] = act1((v - mean) * a + bias, act);
    }
}

static inline __attribute__((always_inline))
void norm_plane(const float *x, float *xs, float *y, int n, float mean, float a, float bias,
                ACTIVATION act)
{
    if (x == xs) norm_values(x, xs, y, n, mean, a, bias, act, 0);
    else norm_values(x, xs, y, n, mean, a, bias, act, 1);
}

/* The backward pass takes the activation's gradient from y = (x - mean) *
 * a + bias, recomputed from x with the forward's mean, a and bias (the same
 * operations on the same floats, so the same bits: scales and biases change
 * only in the update after the backward pass), rather than from the
 * activated output: y > 0 exactly when act(y) > 0 for linear, leaky and
 * relu, so the factor is the one upstream's gradient_array takes from
 * l.output, and the pass reads two arrays instead of three.  (A [dropout]
 * after the layer zeroes outputs in place, but it zeroes their deltas too,
 * and it scales the others by a positive factor.) */
static float norm_factor(float scale, float var)
{
    return (float)(scale / (sqrt(var) + .000001f));
}

/* Sums over one plane of g = delta * act'(y) and of g * (x - mean). */
static inline __attribute__((always_inline))
void grad_sums(const float *d, const float *x, float mean, float a, float bias, int n, ACTIVATION act,
               float *s0, float *s1)
{
    v8f sg = {0}, sgu = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i) - mean;
        v8f g = load8(d + i) * grad8(u * a + bias, act);
        sg += g;
        sgu += g * u;
    }
    v4f z = {0};
    float r0 = hsum16(low4(sg), high4(sg), z, z), r1 = hsum16(low4(sgu), high4(sgu), z, z);
    for (; i < n; ++i) {
        float u = x[i] - mean, g = d[i] * grad1(u * a + bias, act);
        r0 += g;
        r1 += g * u;
    }
    *s0 = r0;
    *s1 = r1;
}

/* delta = g * ad + k * (x - mean) + m, g = delta * act'(y). */
static inline __attribute__((always_inline))
void grad_plane(float *d, const float *x, float mean, float a, float bias, int n, ACTIVATION act,
                float ad, float k, float m)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f u = load8(x + i) - mean;
        v8f g = load8(d + i) * grad8(u * a + bias, act);
        store8(d + i, g * ad + k * u + m);
    }
    for (; i < n; ++i) {
        float u = x[i] - mean, g = d[i] * grad1(u * a + bias, act);
        d[i] = g * ad + k * u + m;
    }
}

/* The passes below go through the batch image by image, each thread over
 * a block of channels, so that memory is read in order even when planes are
 * small; each channel still takes its planes in image order, so the results
 * do not depend on the blocks or the thread count. */
static int channel_blocks(const layer *l)
{
    long work = (long)l->batch * l->out_c * l->out_h * l->out_w;
    int nb = work < PAR_MIN ? 1 : 4 * dn_threads();
    return nb < l->out_c ? nb : l->out_c;
}

/* Batch mean and variance (divided by m - 1, as upstream) of channels
 * [c0, c1), and the rolling averages. */
static inline __attribute__((always_inline)) void batch_stats(const layer *l, const float *in, int c0, int c1)
{
    const int S = l->out_h * l->out_w;
    const long CS = (long)l->out_c * S;
    moments *m = calloc(c1 - c0, sizeof *m);
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) add_plane(m + f - c0, in + b * CS + (long)f * S, S);
    for (int f = c0; f < c1; ++f) {
        const moments *mf = m + f - c0;
        /* rounding can leave m2 just below 0 */
        float mean = (float)mf->mu, var = (float)((mf->m2 > 0 ? mf->m2 : 0) / (mf->n - 1));
        l->mean[f] = mean;
        l->variance[f] = var;
        l->rolling_mean[f] = .99f * l->rolling_mean[f] + .01f * mean;
        l->rolling_variance[f] = .99f * l->rolling_variance[f] + .01f * var;
    }
    free(m);
}

/* Forward of channels [c0, c1).  The activation is a constant in each
 * caller, so each gets its own copy of the loops. */
static inline __attribute__((always_inline))
void bn_forward_block(const layer *l, const float *in, int train, int c0, int c1, ACTIVATION act)
{
    const int S = l->out_h * l->out_w;
    const long CS = (long)l->out_c * S;
    if (train) batch_stats(l, in, c0, c1);
    const float *mean = train ? l->mean : l->rolling_mean, *var = train ? l->variance : l->rolling_variance;
    float *a = malloc((c1 - c0) * sizeof(float));
    for (int f = c0; f < c1; ++f) a[f - c0] = norm_factor(l->scales[f], var[f]);
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) {
            long o = b * CS + (long)f * S;
            norm_plane(in + o, l->x + o, l->output + o, S, mean[f], a[f - c0], l->biases[f], act);
        }
    free(a);
}

/* One copy of the loops per activation, compiled for the target at hand. */
#define BN_FORWARD_BY_ACTIVATION                                                   \
    if (act == LEAKY) bn_forward_block(l, in, train, c0, c1, LEAKY);               \
    else if (act == RELU) bn_forward_block(l, in, train, c0, c1, RELU);            \
    else bn_forward_block(l, in, train, c0, c1, LINEAR);
#define BN_BACKWARD_BY_ACTIVATION                                                  \
    if (act == LEAKY) bn_backward_block(l, mean, var, c0, c1, LEAKY);              \
    else if (act == RELU) bn_backward_block(l, mean, var, c0, c1, RELU);           \
    else bn_backward_block(l, mean, var, c0, c1, LINEAR);

static void bn_forward_sse(const layer *l, const float *in, int train, int c0, int c1, ACTIVATION act)
{
    BN_FORWARD_BY_ACTIVATION
}

/* The same loops in ymm registers (x86-64's baseline has SSE only); the
 * same lanes, so the same bits, and the AVX-512 path takes them too. */
#ifdef HAVE_X86
__attribute__((target("avx2")))
static void bn_forward_avx2(const layer *l, const float *in, int train, int c0, int c1, ACTIVATION act)
{
    BN_FORWARD_BY_ACTIVATION
}
#endif

static void bn_forward(const layer *l, const float *in, int train, ACTIVATION act)
{
    const int C = l->out_c, nb = channel_blocks(l), wide = ymm_path();
    #pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int k = 0; k < nb; ++k) {
        int c0 = (int)((long)C * k / nb), c1 = (int)((long)C * (k + 1) / nb);
#ifdef HAVE_X86
        if (wide) { bn_forward_avx2(l, in, train, c0, c1, act); continue; }
#endif
        bn_forward_sse(l, in, train, c0, c1, act);
    }
}

/* The coefficients of one channel's backward pass. */
typedef struct { float mean, a, bias, ad, k, m; double sd, sdx; } bn_grad;

/* From the sums of g and g * (x - mean): the bias and scale updates,
 * mean_delta and variance_delta as upstream's backward computes them, and
 * the coefficients of the delta pass. */
static void finish_channel(const layer *l, int f, float var, bn_grad *c)
{
    const float scale = l->scales[f];
    const double sd = c->sd, sdx = c->sdx;
    /* x_norm = (x - mean) / (sqrt(var) + eps) in the forward pass. */
    l->bias_updates[f] += (float)sd;
    l->scale_updates[f] += (float)(sdx / (sqrt(var) + .000001f));
    /* After scaling delta by the layer's scale: */
    const float mean_delta = (float)(scale * sd) * (float)(-1. / sqrt(var + .00001f));
    const float variance_delta = (float)(scale * sdx) * (float)(-.5 * pow(var + .00001f, -1.5));
    l->mean_delta[f] = mean_delta;
    l->variance_delta[f] = variance_delta;
    const float n = (float)((long)l->out_h * l->out_w * l->batch);
    c->ad = scale * (float)(1. / sqrt(var + .00001f));
    c->k = variance_delta * 2 / n;
    c->m = mean_delta / n;
}

/* Backward of channels [c0, c1), with the statistics the forward pass
 * normalised with: the batch's (training) or the rolling ones. */
static inline __attribute__((always_inline))
void bn_backward_block(const layer *l, const float *mean, const float *var, int c0, int c1, ACTIVATION act)
{
    const int S = l->out_h * l->out_w;
    const long CS = (long)l->out_c * S;
    bn_grad *cs = calloc(c1 - c0, sizeof *cs);
    for (int f = c0; f < c1; ++f) {
        bn_grad *c = cs + f - c0;
        c->mean = mean[f];
        c->a = norm_factor(l->scales[f], var[f]);
        c->bias = l->biases[f];
    }
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) {
            bn_grad *c = cs + f - c0;
            long o = b * CS + (long)f * S;
            for (int i = 0; i < S; i += SPAN) {
                float s0, s1;
                grad_sums(l->delta + o + i, l->x + o + i, c->mean, c->a, c->bias, S - i < SPAN ? S - i : SPAN,
                          act, &s0, &s1);
                c->sd += s0;
                c->sdx += s1;
            }
        }
    for (int f = c0; f < c1; ++f) finish_channel(l, f, var[f], cs + f - c0);
    for (int b = 0; b < l->batch; ++b)
        for (int f = c0; f < c1; ++f) {
            const bn_grad *c = cs + f - c0;
            long o = b * CS + (long)f * S;
            grad_plane(l->delta + o, l->x + o, c->mean, c->a, c->bias, S, act, c->ad, c->k, c->m);
        }
    free(cs);
}

static void bn_backward_sse(const layer *l, const float *mean, const float *var, int c0, int c1, ACTIVATION act)
{
    BN_BACKWARD_BY_ACTIVATION
}

#ifdef HAVE_X86
__attribute__((target("avx2")))
static void bn_backward_avx2(const layer *l, const float *mean, const float *var, int c0, int c1, ACTIVATION act)
{
    BN_BACKWARD_BY_ACTIVATION
}
#endif

static void bn_backward(const layer *l, int train, ACTIVATION act)
{
    const float *mean = train ? l->mean : l->rolling_mean;
    const float *var = train ? l->variance : l->rolling_variance;
    const int C = l->out_c, nb = channel_blocks(l), wide = ymm_path();
    #pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int k = 0; k < nb; ++k) {
        int c0 = (int)((long)C * k / nb), c1 = (int)((long)C * (k + 1) / nb);
#ifdef HAVE_X86
        if (wide) { bn_backward_avx2(l, mean, var, c0, c1, act); continue; }
#endif
        bn_backward_sse(l, mean, var, c0, c1, act);
    }
}

/* Upstream's constants: eps 1e-6 added to the standard deviation in the
 * forward pass, 1e-5 added to the variance in the backward pass.  The fast
 * path does not write l.x_norm: the backward pass takes the scale gradient
 * from x, mean and variance instead.  (Upstream's backward outside training
 * reads an x_norm left by the last training pass; here the scale gradient
 * then uses the rolling statistics the forward pass normalised with.) */
void forward_batchnorm_layer(layer l, network net)
{
    if (dn_reference()) { upstream_forward_batchnorm_layer(l, net); return; }
    bn_forward(&l, l.type == BATCHNORM ? net.input : l.output, net.train, LINEAR);
}

void backward_batchnorm_layer(layer l, network net)
{
    if (dn_reference()) { upstream_backward_batchnorm_layer(l, net); return; }
    bn_backward(&l, net.train, LINEAR);
    if (l.type == BATCHNORM) memcpy(net.delta, l.delta, (size_t)l.outputs * l.batch * sizeof(float));
}

/* The fused pass keeps the products in l.x for the backward pass.  Written
 * there by the convolution, they need no copy: the pass reads them and
 * writes the output only, one store stream fewer than in place. */
float *fast_bn_products(layer l)
{
    return l.batch_normalize && l.x && !dn_reference() && fusable(l.activation) ? l.x : l.output;
}

void fast_bn_activate_forward(layer l, network net)
{
    if (dn_reference() || !fusable(l.activation)) {
        forward_batchnorm_layer(l, net);
        activate_array(l.output, l.outputs * l.batch, l.activation);
        return;
    }
    bn_forward(&l, fast_bn_products(l), net.train, l.activation);
}

void fast_bn_activate_backward(layer l, network net)
{
    if (dn_reference() || !fusable(l.activation)) {
        gradient_array(l.output, l.outputs * l.batch, l.activation, l.delta);
        backward_batchnorm_layer(l, net);
        return;
    }
    bn_backward(&l, net.train, l.activation);
}
