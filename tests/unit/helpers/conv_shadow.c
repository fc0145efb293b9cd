/* conv_shadow.c: one training step of a convolution, batch norm and
 * activation in double, with the bound on each float value's error.
 *
 * The values follow upstream's definitions (convolutional_layer.c,
 * batchnorm_layer.c, blas.c, activations.c): variance over m - 1, eps
 * 1e-6 added to the standard deviation forward and 1e-5 to the variance
 * backward, rolling statistics .99 / .01, leaky's slope .1.  Upstream's
 * [convolutional] 1x1 takes the image itself as its column matrix, with
 * rows out_h * out_w long: with a stride it reads (and writes the input
 * delta of, in place of adding to it) the first channels * out_h * out_w
 * values of the image as channels of out_h * out_w.  [gcconv] 1x1 with a
 * stride gathers the strided pixels.
 *
 * The bounds follow rounding.c's rule, carried through each operation:
 *   - a sum of n terms, each formed with r roundings, evaluated in any
 *     order: the terms' own bounds added, plus gamma(n + r) times the sum
 *     of the terms' magnitudes;
 *   - a function f of a value v known to within e: the largest change of
 *     f over [v - e, v + e] (its derivative times e for the smooth ones,
 *     both branches for leaky's and relu's gradient when e reaches 0),
 *     plus f's own roundings, gamma(k) |f|;
 *   - a product of two bounded values: |a| e_b + |b| e_a + e_a e_b.
 * Each count of roundings is the larger of upstream's formula and the fast
 * kernels' (which fold the scale into 1 / (sd + eps), keep the batch
 * moments in double, or factor [gcconv]'s products by kernel pixel), plus
 * a spare.  The double evaluation's own error (about 2^-53 relative) is
 * far below these.  Both float evaluations must lie within the bound of
 * the double value, which is a stronger check than their distance. */
#include "conv_shadow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gclayer.h"
#include "gcconv/gcconv_state.h"
#include "rounding.h"

#define U FLOAT_UNIT_ROUNDOFF
/* A float result below the normal range may lose what this leaves. */
#define UNDERFLOW 1e-30

static double gam(double n) { return rounding_gamma(n); }

static bounded make(size_t n)
{
    bounded b = {calloc(n ? n : 1, sizeof(double)), calloc(n ? n : 1, sizeof(double)), n};
    return b;
}

static bounded exact(const float *x, size_t n)
{
    bounded b = make(n);
    for (size_t i = 0; i < n; ++i) b.v[i] = x ? x[i] : 0;
    return b;
}

/* The convolution: geometry and the effective kernel over the layer's own
 * input channels, with the magnitudes of its entries' terms. */
typedef struct {
    int B, C, H, W, N, OH, OW, size, stride, pad, K, ss;
    double *kern, *kabs;   /* N x C x ss */
    double terms;          /* roundings on the way of a term into an output's sum */
    double dx_terms;       /* ... into an input delta's sum */
    int flat;              /* upstream's [convolutional] 1x1 */
} geom;

typedef struct { int oo, ci, p; double coef; } tap;

/* The kernel entries that weight j enters, with their coefficients. */
static int taps_of(layer l, int j, tap *t)
{
    if (l.type == CONVOLUTIONAL) {
        int row = l.c * l.size * l.size, ss = l.size * l.size;
        t[0] = (tap){j / row, j % row / ss, j % ss, 1};
        return 1;
    }
    gcconv_state *s = gcconv_state_of(l);
    int row = s->planes * s->ss, o = j / row, jj = j % row / s->ss, p = j % s->ss;
    for (int k = 0; k < s->K; ++k) {
        int ci = s->expand ? (s->mixing == GC_MIX_FULL ? jj / s->K : jj)
                           : (s->mixing == GC_MIX_FULL ? jj : jj * s->K + k);
        t[k] = (tap){o * s->K + k, ci, p, s->R[k * s->ss + p]};
    }
    return s->K;
}

static geom geometry(layer l)
{
    geom g = {.B = l.batch, .C = l.c, .H = l.h, .W = l.w, .N = l.n, .OH = l.out_h, .OW = l.out_w,
              .size = l.size, .stride = l.stride, .pad = l.pad, .K = 1, .ss = l.size * l.size};
    int wide = 1;
    if (l.type == EXTENSION) {
        gcconv_state *s = gcconv_state_of(l);
        g.K = s->K;
        if (s->expand && s->mixing == GC_MIX_FULL) wide = s->K;
    }
    g.kern = calloc((size_t)g.N * g.C * g.ss, sizeof(double));
    g.kabs = calloc((size_t)g.N * g.C * g.ss, sizeof(double));
    tap t[64];
    for (int j = 0; j < l.nweights; ++j)
        for (int i = 0, n = taps_of(l, j, t); i < n; ++i) {
            size_t at = ((size_t)t[i].oo * g.C + t[i].ci) * g.ss + t[i].p;
            g.kern[at] += t[i].coef * l.weights[j];
            g.kabs[at] += fabs(t[i].coef * l.weights[j]);
        }
    /* the product, the sum, R * w (and the sum of K of those with expand),
     * the accumulation and a spare */
    g.terms = (double)g.C * wide * g.ss + g.K + 8;
    g.dx_terms = (double)g.N * g.ss * wide + g.K + 8;
    g.flat = l.type == CONVOLUTIONAL && conv_is_pointwise(l.size, l.stride, l.pad);
    return g;
}

static int input_at(const geom *g, int b, int ci, int oy, int ox, int ky, int kx, size_t *at)
{
    if (g->flat) {
        *at = (size_t)b * g->C * g->H * g->W + ((size_t)ci * g->OH + oy) * g->OW + ox;
        return 1;
    }
    int iy = oy * g->stride + ky - g->pad, ix = ox * g->stride + kx - g->pad;
    if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) return 0;
    *at = (((size_t)b * g->C + ci) * g->H + iy) * g->W + ix;
    return 1;
}

static size_t output_at(const geom *g, int b, int oo, int oy, int ox)
{
    return (((size_t)b * g->N + oo) * g->OH + oy) * g->OW + ox;
}

/* Calls visit(ctx, o, k, at) for every output o, kernel entry k and input
 * at that the convolution multiplies together. */
static void each_product(const geom *g, void (*visit)(void *, size_t, size_t, size_t), void *ctx)
{
    size_t at;
    for (int b = 0; b < g->B; ++b)
        for (int oo = 0; oo < g->N; ++oo)
            for (int oy = 0; oy < g->OH; ++oy)
                for (int ox = 0; ox < g->OW; ++ox) {
                    size_t o = output_at(g, b, oo, oy, ox);
                    for (int ci = 0; ci < g->C; ++ci)
                        for (int p = 0; p < g->ss; ++p)
                            if (input_at(g, b, ci, oy, ox, p / g->size, p % g->size, &at))
                                visit(ctx, o, ((size_t)oo * g->C + ci) * g->ss + p, at);
                }
}

/* Sums of products, their terms' magnitudes and the terms' own bounds. */
typedef struct {
    const geom *g;
    const float *in;
    const double *dv, *de;   /* dz, for the backward passes */
    double *v, *a, *e;
} accumulator;

static void add_product(void *ctx, size_t o, size_t k, size_t at)
{
    accumulator *c = ctx;
    c->v[o] += c->g->kern[k] * c->in[at];
    c->a[o] += c->g->kabs[k] * fabs(c->in[at]);
}

static void conv_products(const geom *g, const float *in, bounded z)
{
    double *a = calloc(z.n, sizeof(double));
    accumulator c = {.g = g, .in = in, .v = z.v, .a = a};
    each_product(g, add_product, &c);
    for (size_t o = 0; o < z.n; ++o) z.e[o] = gam(g->terms) * a[o] + UNDERFLOW;
    free(a);
}

/* ---- batch norm and the activation ------------------------------------------ */

typedef struct {
    int B, F, S;                /* batch, channels, values a plane */
    bounded z, d;               /* the values normalised, and z - mean */
    bounded mean, var;          /* those normalised with (batch or rolling) */
    const float *scales, *biases;
} norm;

static size_t at_of(const norm *n, int b, int f, int s) { return ((size_t)b * n->F + f) * n->S + s; }

/* Batch mean and variance (over m - 1) of channel f, and the rolling
 * statistics' update. */
static void batch_moments(norm *n, int f, conv_shadow *out)
{
    double m = (double)n->B * n->S, sum = 0, mag = 0, err = 0;
    for (int b = 0; b < n->B; ++b)
        for (int s = 0; s < n->S; ++s) {
            size_t i = at_of(n, b, f, s);
            sum += n->z.v[i];
            mag += fabs(n->z.v[i]);
            err += n->z.e[i];
        }
    double mean = sum / m, emean = err / m + gam(m + 2) * mag / m, sq = 0, esq = 0;
    for (int b = 0; b < n->B; ++b)
        for (int s = 0; s < n->S; ++s) {
            size_t i = at_of(n, b, f, s);
            double d = n->z.v[i] - mean, ed = n->z.e[i] + emean;
            sq += d * d;
            esq += 2 * fabs(d) * ed + ed * ed;
        }
    n->mean.v[f] = mean;
    n->mean.e[f] = emean;
    n->var.v[f] = sq / (m - 1);
    n->var.e[f] = esq / (m - 1) + gam(m + 4) * sq / (m - 1);
    bounded *rm = &out->rolling_mean, *rv = &out->rolling_variance;
    double m0 = rm->v[f], v0 = rv->v[f];
    rm->v[f] = (double).99f * m0 + (double).01f * mean;
    rm->e[f] = .01 * emean + gam(3) * (.99 * fabs(m0) + .01 * fabs(mean));
    rv->v[f] = (double).99f * v0 + (double).01f * n->var.v[f];
    rv->e[f] = .01 * n->var.e[f] + gam(3) * (.99 * fabs(v0) + .01 * n->var.v[f]);
}

/* y = scale (z - mean) / (sqrt(var) + 1e-6) + bias, and x_norm. */
static void normalise(norm *n, int f, bounded y, bounded xn)
{
    double var = n->var.v[f], ev = n->var.e[f];
    double sd = sqrt(var), s = sd + (double).000001f;
    double es = ev / (sd + sqrt(fmax(var - ev, 0)));
    double scale = n->scales[f], bias = n->biases[f];
    for (int b = 0; b < n->B; ++b)
        for (int k = 0; k < n->S; ++k) {
            size_t i = at_of(n, b, f, k);
            double d = n->z.v[i] - n->mean.v[f], ed = n->z.e[i] + n->mean.e[f];
            n->d.v[i] = d;
            n->d.e[i] = ed;
            xn.v[i] = d / s;
            xn.e[i] = s > es ? (ed + fabs(d / s) * es) / (s - es) + gam(6) * fabs(d / s) : INFINITY;
            y.v[i] = scale * xn.v[i] + bias;
            y.e[i] = fabs(scale) * xn.e[i] + gam(3) * (fabs(scale * xn.v[i]) + fabs(bias)) + UNDERFLOW;
        }
}

static void activate(ACTIVATION a, bounded y, bounded out)
{
    for (size_t i = 0; i < y.n; ++i) {
        double v = y.v[i], e = y.e[i];
        switch (a) {
        case LEAKY: out.v[i] = v > 0 ? v : .1 * v; out.e[i] = e + U * fabs(out.v[i]); break;
        case RELU: out.v[i] = v > 0 ? v : 0; out.e[i] = e; break;
        case LOGISTIC: out.v[i] = 1 / (1 + exp(-v)); out.e[i] = .25 * e + gam(4) * out.v[i]; break;
        default: out.v[i] = v; out.e[i] = e; break;   /* LINEAR, and [batchnorm] */
        }
    }
}

/* g = delta * act'(output): where the output's bound reaches 0, leaky's
 * and relu's gradient may take either branch. */
static void gradient(ACTIVATION a, bounded y, bounded out, const float *delta, bounded g)
{
    double slope = a == LEAKY ? (double).1f : 0;
    for (size_t i = 0; i < y.n; ++i) {
        double d = delta[i];
        if (a == LEAKY || a == RELU) {
            int above = y.v[i] - y.e[i] > 0, below = y.v[i] + y.e[i] <= 0;
            if (y.e[i] == 0) above = y.v[i] > 0, below = !above;
            if (above) { g.v[i] = d; g.e[i] = 0; }
            else if (below) { g.v[i] = slope * d; g.e[i] = U * fabs(g.v[i]); }
            else { g.v[i] = d * (1 + slope) / 2; g.e[i] = fabs(d) * (1 - slope) / 2 + U * fabs(d); }
        } else if (a == LOGISTIC) {
            double o = out.v[i], e = out.e[i];
            g.v[i] = d * (1 - o) * o;
            g.e[i] = fabs(d) * (fabs(1 - 2 * o) * e + e * e) + gam(3) * fabs(g.v[i]) + UNDERFLOW;
        } else {
            g.v[i] = d;
            g.e[i] = 0;
        }
    }
}

/* (var + 1e-5)^power and its bound, from var's. */
static double var_power(double var, double ev, double power, double *e)
{
    double t = pow(var + (double).00001f, power);
    double worst = pow(fmax(var + (double).00001f - ev, 1e-300), power);
    *e = fabs(worst - t) + gam(4) * t;
    return t;
}

/* Sums over channel f: bias and scale updates, then delta through the
 * normalisation (upstream's mean_delta, variance_delta, normalize_delta). */
static void normalise_backward(norm *n, int f, bounded g, bounded xn, conv_shadow *out)
{
    double m = (double)n->B * n->S, scale = n->scales[f];
    double sg = 0, ag = 0, eg = 0, sgx = 0, agx = 0, egx = 0;
    double s2 = 0, a2 = 0, e2 = 0, s2d = 0, a2d = 0, e2d = 0;
    for (int b = 0; b < n->B; ++b)
        for (int k = 0; k < n->S; ++k) {
            size_t i = at_of(n, b, f, k);
            double gv = g.v[i], ge = g.e[i], d = n->d.v[i], ed = n->d.e[i];
            sg += gv; ag += fabs(gv); eg += ge;
            sgx += gv * xn.v[i];
            agx += fabs(gv * xn.v[i]);
            egx += fabs(xn.v[i]) * ge + fabs(gv) * xn.e[i] + ge * xn.e[i];
            double d2 = gv * scale, ed2 = fabs(scale) * ge + U * fabs(d2);
            g.v[i] = d2;   /* delta * scale, as upstream's scale_bias leaves it */
            g.e[i] = ed2;
            s2 += d2; a2 += fabs(d2); e2 += ed2;
            s2d += d2 * d; a2d += fabs(d2 * d); e2d += ed2 * fabs(d) + fabs(d2) * ed + ed2 * ed;
        }
    bounded *bu = &out->bias_updates, *su = &out->scale_updates;
    bu->e[f] = eg + gam(m + 1) * (ag + fabs(bu->v[f])) + UNDERFLOW;
    bu->v[f] += sg;
    su->e[f] = egx + gam(m + 8) * (agx + fabs(su->v[f])) + UNDERFLOW;
    su->v[f] += sgx;
    double et1, et3;
    double t1 = var_power(n->var.v[f], n->var.e[f], -.5, &et1), t3 = var_power(n->var.v[f], n->var.e[f], -1.5, &et3);
    double md = -s2 * t1, emd = e2 * t1 + a2 * et1 + e2 * et1 + gam(m + 4) * a2 * t1;
    double vd = -.5 * s2d * t3, evd = .5 * (e2d * t3 + a2d * et3 + e2d * et3) + gam(m + 6) * .5 * a2d * t3;
    out->mean_delta.v[f] = md;
    out->mean_delta.e[f] = emd + UNDERFLOW;
    out->variance_delta.v[f] = vd;
    out->variance_delta.e[f] = evd + UNDERFLOW;
    for (int b = 0; b < n->B; ++b)
        for (int k = 0; k < n->S; ++k) {
            size_t i = at_of(n, b, f, k);
            double d2 = g.v[i], ed2 = g.e[i], d = n->d.v[i], ed = n->d.e[i];
            double a = d2 * t1, c = vd * 2 * d / m, z = md / m;
            g.v[i] = a + c + z;
            g.e[i] = ed2 * t1 + fabs(d2) * et1 + ed2 * et1 + 2 * (fabs(d) * evd + fabs(vd) * ed + evd * ed) / m
                   + emd / m + gam(8) * (fabs(a) + fabs(c) + fabs(z)) + UNDERFLOW;
        }
}

/* ---- the convolution's backward pass ---------------------------------------------- */

static void add_gradient(void *ctx, size_t o, size_t k, size_t at)
{
    accumulator *c = ctx;
    c->v[k] += c->dv[o] * c->in[at];
    c->a[k] += fabs(c->dv[o] * c->in[at]);
    c->e[k] += c->de[o] * fabs(c->in[at]);
}

static void add_input_delta(void *ctx, size_t o, size_t k, size_t at)
{
    accumulator *c = ctx;
    c->v[at] += c->g->kern[k] * c->dv[o];
    c->a[at] += c->g->kabs[k] * fabs(c->dv[o]);
    c->e[at] += c->g->kabs[k] * c->de[o];
}

/* Weight gradients: G[oo][ci][p] = sum over images and positions of
 * dz * input, folded onto the weights through their taps; for [gcconv],
 * onto R too: dR[k, p] sums G w over the taps of branch k, a sum of
 * (positions + planes) * N products of dz, input and w in any grouping. */
static void weight_gradients(const geom *g, layer l, const float *in, bounded dz, bounded wu, bounded ru)
{
    size_t nk = (size_t)g->N * g->C * g->ss;
    double *gv = calloc(nk, sizeof(double)), *ga = calloc(nk, sizeof(double)), *ge = calloc(nk, sizeof(double));
    accumulator c = {.g = g, .in = in, .dv = dz.v, .de = dz.e, .v = gv, .a = ga, .e = ge};
    each_product(g, add_gradient, &c);
    double length = (double)g->B * g->OH * g->OW;
    double *rv = calloc(ru.n + 1, sizeof(double)), *ra = calloc(ru.n + 1, sizeof(double));
    double *re = calloc(ru.n + 1, sizeof(double));
    tap t[64];
    for (int j = 0; j < l.nweights; ++j) {
        double v = 0, a = 0, e = 0;
        for (int i = 0, n = taps_of(l, j, t); i < n; ++i) {
            size_t k = ((size_t)t[i].oo * g->C + t[i].ci) * g->ss + t[i].p;
            v += t[i].coef * gv[k];
            a += fabs(t[i].coef) * ga[k];
            e += fabs(t[i].coef) * ge[k];
            if (ru.n) {   /* tap i is branch i's */
                size_t r = (size_t)i * g->ss + t[i].p;
                rv[r] += l.weights[j] * gv[k];
                ra[r] += fabs(l.weights[j]) * ga[k];
                re[r] += fabs(l.weights[j]) * ge[k];
            }
        }
        wu.e[j] = e + gam(length + g->K + 10) * (a + fabs(wu.v[j])) + UNDERFLOW;
        wu.v[j] += v;
    }
    double row = (double)l.nweights / (g->N / g->K);   /* planes * ss */
    for (size_t r = 0; r < ru.n; ++r) {
        ru.e[r] = re[r] + gam((length + row) * g->N + length + 10) * (ra[r] + fabs(ru.v[r])) + UNDERFLOW;
        ru.v[r] += rv[r];
    }
    free(gv); free(ga); free(ge); free(rv); free(ra); free(re);
}

/* The input delta: the kernel's transpose applied to dz, added to what
 * was there (or in place of it, for [convolutional] 1x1). */
static void input_delta(const geom *g, bounded dz, bounded dx)
{
    double *a = calloc(dx.n, sizeof(double)), *e = calloc(dx.n, sizeof(double));
    size_t at;
    for (int b = 0; g->flat && b < g->B; ++b)
        for (int ci = 0; ci < g->C; ++ci)
            for (int q = 0; q < g->OH * g->OW; ++q)
                if (input_at(g, b, ci, q / g->OW, q % g->OW, 0, 0, &at)) dx.v[at] = 0;
    for (size_t i = 0; i < dx.n; ++i) a[i] = fabs(dx.v[i]);
    accumulator c = {.g = g, .dv = dz.v, .de = dz.e, .v = dx.v, .a = a, .e = e};
    each_product(g, add_input_delta, &c);
    for (size_t i = 0; i < dx.n; ++i) dx.e[i] = e[i] + gam(g->dx_terms) * a[i] + UNDERFLOW;
    free(a);
    free(e);
}

/* ---- the step ------------------------------------------------------------------ */

static bounded copy_of(bounded b)
{
    bounded c = make(b.n);
    memcpy(c.v, b.v, b.n * sizeof(double));
    memcpy(c.e, b.e, b.n * sizeof(double));
    return c;
}

static void free_bounded(bounded *b)
{
    free(b->v);
    free(b->e);
    b->v = b->e = NULL;
}

static void batch_norm(layer l, bounded z, int train, bounded y, bounded xn, norm *n, conv_shadow *s)
{
    *n = (norm){l.batch, l.out_c, l.out_h * l.out_w, z, make(z.n), make(l.out_c), make(l.out_c), l.scales, l.biases};
    for (int f = 0; f < l.out_c; ++f) {
        if (train) {
            batch_moments(n, f, s);
        } else {
            n->mean.v[f] = l.rolling_mean[f];
            n->var.v[f] = l.rolling_variance[f];
        }
        normalise(n, f, y, xn);
    }
    if (train) {
        free_bounded(&s->mean);
        free_bounded(&s->variance);
        s->mean = copy_of(n->mean);
        s->variance = copy_of(n->var);
    }
}

conv_shadow shadow_step(layer l, const float *input, const float *products, const float *out_delta,
                        const float *in_delta, int train)
{
    size_t nout = (size_t)l.batch * l.outputs, nin = (size_t)l.batch * l.inputs;
    int bn_layer = l.type == BATCHNORM, bn = l.batch_normalize || bn_layer, conv = !products && !bn_layer;
    int F = l.out_c, S = l.out_h * l.out_w;
    conv_shadow s = {0};
    s.output = make(nout);
    s.delta = make(nout);
    s.bias_updates = exact(l.bias_updates, F);
    s.weight_updates = exact(conv ? l.weight_updates : NULL, conv ? l.nweights : 0);
    s.scale_updates = exact(bn ? l.scale_updates : NULL, bn ? F : 0);
    s.mean = exact(bn ? l.mean : NULL, bn ? F : 0);
    s.variance = exact(bn ? l.variance : NULL, bn ? F : 0);
    s.rolling_mean = exact(bn ? l.rolling_mean : NULL, bn ? F : 0);
    s.rolling_variance = exact(bn ? l.rolling_variance : NULL, bn ? F : 0);
    s.mean_delta = make(bn ? F : 0);
    s.variance_delta = make(bn ? F : 0);
    s.input_delta = exact(in_delta, in_delta ? nin : 0);
    gcconv_state *gs = l.type == EXTENSION ? gcconv_state_of(l) : NULL;
    s.R_updates = exact(gs ? gs->R_updates : NULL, gs ? gs->K * gs->ss : 0);

    geom g = {0};
    bounded z;
    if (conv) {
        g = geometry(l);
        z = make(nout);
        conv_products(&g, input, z);
    } else {
        z = exact(products ? products : input, nout);
    }
    bounded y = make(nout), xn = make(nout);
    norm n = {0};
    if (bn) {
        batch_norm(l, z, train, y, xn, &n, &s);
        s.x = copy_of(z);
    } else {
        for (size_t i = 0; i < nout; ++i) {
            double b = l.biases[i / S % F];
            y.v[i] = z.v[i] + b;
            y.e[i] = z.e[i] + gam(1) * (fabs(z.v[i]) + fabs(b));
        }
    }
    ACTIVATION act = bn_layer ? LINEAR : l.activation;
    activate(act, y, s.output);
    s.pre = y;
    if (!out_delta) {   /* the forward pass only */
        if (conv) { free(g.kern); free(g.kabs); }
        free_bounded(&z); free_bounded(&xn);
        if (bn) { free_bounded(&n.d); free_bounded(&n.mean); free_bounded(&n.var); }
        return s;
    }
    gradient(act, y, s.output, out_delta, s.delta);
    if (bn) {
        for (int f = 0; f < F; ++f) normalise_backward(&n, f, s.delta, xn, &s);
    } else {
        for (int f = 0; f < F; ++f) {
            double sum = 0, a = 0, e = 0;
            for (int b = 0; b < l.batch; ++b)
                for (int k = 0; k < S; ++k) {
                    size_t i = ((size_t)b * F + f) * S + k;
                    sum += s.delta.v[i]; a += fabs(s.delta.v[i]); e += s.delta.e[i];
                }
            s.bias_updates.e[f] = e + gam((double)l.batch * S + 1) * (a + fabs(s.bias_updates.v[f])) + UNDERFLOW;
            s.bias_updates.v[f] += sum;
        }
    }
    if (conv) {
        weight_gradients(&g, l, input, s.delta, s.weight_updates, s.R_updates);
        if (in_delta) input_delta(&g, s.delta, s.input_delta);
        free(g.kern);
        free(g.kabs);
    } else if (bn_layer && in_delta) {
        free_bounded(&s.input_delta);
        s.input_delta = copy_of(s.delta);
    }
    free_bounded(&z); free_bounded(&xn);
    if (bn) {
        free_bounded(&n.d);
        free_bounded(&n.mean);
        free_bounded(&n.var);
    }
    return s;
}

void free_shadow(conv_shadow *s)
{
    bounded *all[] = {&s->pre, &s->R_updates, &s->output, &s->delta, &s->input_delta, &s->x, &s->mean, &s->variance, &s->rolling_mean,
                      &s->rolling_variance, &s->weight_updates, &s->bias_updates, &s->scale_updates,
                      &s->mean_delta, &s->variance_delta};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) free_bounded(all[i]);
}

const bounded *shadow_field(const conv_shadow *s, const layer *l, float *const *p)
{
    if (p == &l->output) return &s->output;
    if (p == &l->delta) return &s->delta;
    if (p == &l->weight_updates) return &s->weight_updates;
    if (p == &l->bias_updates) return &s->bias_updates;
    if (p == &l->scale_updates) return &s->scale_updates;
    if (p == &l->x) return &s->x;
    if (p == &l->mean) return &s->mean;
    if (p == &l->variance) return &s->variance;
    if (p == &l->rolling_mean) return &s->rolling_mean;
    if (p == &l->rolling_variance) return &s->rolling_variance;
    if (p == &l->mean_delta) return &s->mean_delta;
    if (p == &l->variance_delta) return &s->variance_delta;
    return NULL;
}

long shadow_first_outside(const bounded *b, const float *got, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!(fabs(got[i] - b->v[i]) <= b->e[i])) return (long)i;
    return -1;
}
