/* Tests for the [gcconv] layer (src/gclayer.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "darknet.h"
#include "activations.h"
#include "convolutional_layer.h"

#include "ext.h"
#include "gclayer.h"
#include "cpu/fastgemm.h"
#include "gcconv/gcfactor.h"
#include "optim/optimizer.h"
#include "rand/rng.h"
#include "helpers/central_difference.h"
#include "helpers/conv_shadow.h"
#include "helpers/scratch_dir.h"

/* ---- fixtures ----------------------------------------------------------- */

/* One layer and the network state its passes read. */
typedef struct rig {
    network *owner;        /* holds the seeded generator the layer draws from */
    layer l;
    network net;           /* input, delta, workspace, train */
} rig;

static gcconv_options options(int K, int N, int size, int stride, int pad, gc_mixing mixing,
                              int expand, int bn, ACTIVATION act)
{
    gcconv_options o = {
        .branches = K, .filters = N, .size = size, .stride = stride, .padding = pad,
        .mixing = mixing, .expand = expand, .r_init = GC_R_RANDOM, .calib_rate = 1,
        .batch_normalize = bn, .activation = act,
    };
    return o;
}

static network *seeded_owner(uint64_t seed)
{
    network *owner = calloc(1, sizeof(network));
    net_ext_of(owner);
    for (int i = 0; i < RNG_STREAMS; ++i) rng_seed(net_rng(owner, (rng_stream)i), seed, i);
    return owner;
}

static rig make_rig(gcconv_options o, int batch, int h, int w, int c, uint64_t seed)
{
    rig r = {0};
    r.owner = seeded_owner(seed);
    r.l = make_gcconv_layer(o, batch, h, w, c, r.owner);
    r.l.learning_rate_scale = 1;   /* the parser sets it from learning_rate= */
    r.net.input = calloc((size_t)batch * r.l.inputs, sizeof(float));
    r.net.delta = calloc((size_t)batch * r.l.inputs, sizeof(float));
    r.net.workspace = calloc(r.l.workspace_size / sizeof(float) + 1, sizeof(float));
    r.net.train = 1;
    return r;
}

static void free_rig(rig *r)
{
    free_layer(r->l);
    free(r->net.input);
    free(r->net.delta);
    free(r->net.workspace);
    ext_free_network(r->owner);
    free(r->owner);
}

static void fill_normal(float *x, size_t n, rng *g, float scale)
{
    for (size_t i = 0; i < n; ++i) x[i] = scale * rng_normal(g);
}

static void zero(float *x, size_t n)
{
    if (x) memset(x, 0, n * sizeof(float));
}

/* Random biases, batch-norm scales and a random calibration map. */
static void randomize_parameters(rig *r, rng *g)
{
    gcconv_state *s = gcconv_state_of(r->l);
    fill_normal(r->l.biases, r->l.n, g, 0.5f);
    if (r->l.scales)
        for (int i = 0; i < r->l.n; ++i) r->l.scales[i] = 0.5f + rng_uniform(g);
    for (int i = 0; i < s->K * s->ss; ++i) s->R[i] = rng_uniform_range(g, 0.05f, 1);
    gcconv_normalize_r(s->R, s->K, s->ss);
}

static size_t out_count(layer l)
{
    return (size_t)l.batch * l.outputs;
}

/* L = sum(output * g) */
static double loss(rig *r, const float *g)
{
    forward_gcconv_layer(r->l, r->net);
    double sum = 0;
    for (size_t i = 0; i < out_count(r->l); ++i) sum += (double)r->l.output[i] * g[i];
    return sum;
}

static void zero_updates(rig *r)
{
    gcconv_state *s = gcconv_state_of(r->l);
    zero(r->l.weight_updates, r->l.nweights);
    zero(r->l.bias_updates, r->l.n);
    zero(r->l.scale_updates, r->l.n);
    zero(s->R_updates, s->K * s->ss);
}

/* The double evaluation of the step run_backward makes (from zero
 * updates and input delta), with its bounds (helpers/conv_shadow.c). */
static conv_shadow shadow_of_backward(rig *r, const float *g)
{
    size_t outs = out_count(r->l), ins = (size_t)r->l.batch * r->l.inputs;
    float *minus_g = malloc(outs * sizeof(float)), *no_delta = calloc(ins, sizeof(float));
    for (size_t i = 0; i < outs; ++i) minus_g[i] = -g[i];
    zero_updates(r);
    conv_shadow s = shadow_step(r->l, r->net.input, NULL, minus_g, no_delta, r->net.train);
    free(minus_g);
    free(no_delta);
    return s;
}

/* After this every *_updates buffer and net.delta hold minus dL/d(that). */
/* The same, with the input's gradient starting from delta0 instead of 0
 * (as when other layers have added theirs). */
static void run_backward_onto(rig *r, const float *g, const float *delta0)
{
    zero_updates(r);
    if (delta0) memcpy(r->net.delta, delta0, (size_t)r->l.batch * r->l.inputs * sizeof(float));
    else zero(r->net.delta, (size_t)r->l.batch * r->l.inputs);
    forward_gcconv_layer(r->l, r->net);
    for (size_t i = 0; i < out_count(r->l); ++i) r->l.delta[i] = -g[i];
    backward_gcconv_layer(r->l, r->net);
}

static void run_backward(rig *r, const float *g)
{
    run_backward_onto(r, g, NULL);
}

/* ---- finite differences ------------------------------------------------------ */

/* The terms of the bound on |central difference - computed gradient| at
 * one entry (helpers/central_difference.c adds them up).  The values y the
 * activation f takes are linear in any one parameter (in w, R, the input
 * and the bias without batch norm; in the bias and the scale with it),
 * y_j(t) = y_j + a_j t, so for L = sum g_j f(y_j):
 *   third     max |f3| * sum |g_j| |a_j|^3, second  max |f2| * sum |g_j| a_j^2
 *             (f2, f3: f's second and third derivatives);
 *   rounding  err L(up) + err L(down), err L = the sum of |g_j| times the
 *             bound on output j.
 * a_j and the bounds come from double evaluations at both points
 * (helpers/conv_shadow.c). */
static fd_terms difference_terms(const float *g, size_t outs, const conv_shadow *up, const conv_shadow *down,
                                 double step, ACTIVATION act)
{
    double m2 = 0, m3 = 0;
    if (act == LOGISTIC) m2 = 0.0963, m3 = 0.125;   /* 1 / (6 sqrt 3), 1/8 */
    else if (act == TANH) m2 = 0.770, m3 = 2;       /* 4 / (3 sqrt 3), 2 */
    else assert_int_equal(act, LINEAR);
    double cubes = 0, squares = 0, err = 0;
    for (size_t j = 0; j < outs; ++j) {
        double a = (up->pre.v[j] - down->pre.v[j]) / step, w = fabs(g[j]);
        cubes += w * fabs(a * a * a);
        squares += w * a * a;
        err += w * (up->output.e[j] + down->output.e[j] + 1e-15 * (fabs(up->output.v[j]) + fabs(down->output.v[j])));
    }
    fd_terms t = {err, m3 * cubes, m2 * squares, 0, 0};
    return t;
}

static double max_abs(const float *x, int n)
{
    double m = 0;
    for (int i = 0; i < n; ++i) m = fmax(m, fabs(x[i]));
    return m;
}

/* Compares minus `updates` with central differences (step 1e-2) at up to
 * 12 entries of `param`, each within difference_bound plus the computed
 * gradient's own bound (`analytic`). */
static void check_gradient(rig *r, const float *g, const char *what, const char *name,
                           float *param, const float *updates, int n, const bounded *analytic, rng *pick)
{
    assert_int_equal(analytic->n, n);
    int samples = n < 12 ? n : 12;
    size_t outs = out_count(r->l);
    for (int t = 0; t < samples; ++t) {
        int i = samples == n ? t : (int)rng_below(pick, n);
        float keep = param[i];
        param[i] = keep + 1e-2f;
        float hi = param[i];
        double up = loss(r, g);
        conv_shadow s_up = shadow_step(r->l, r->net.input, NULL, NULL, NULL, r->net.train);
        param[i] = keep - 1e-2f;
        float lo = param[i];
        double down = loss(r, g);
        conv_shadow s_down = shadow_step(r->l, r->net.input, NULL, NULL, NULL, r->net.train);
        param[i] = keep;
        fd_terms terms = difference_terms(g, outs, &s_up, &s_down, (double)hi - lo, r->l.activation);
        terms.gradient = analytic->e[i];
        free_shadow(&s_up);
        free_shadow(&s_down);
        char where[200];
        snprintf(where, sizeof(where), "%s: dL/d%s", what, name);
        fd_check(where, i, up, down, keep, hi, lo, -updates[i], terms);
    }
}

typedef struct fd_case {
    int K, size, stride, pad, mixing, expand, bn;
    ACTIVATION act;
    int h, w;
} fd_case;

static void describe(fd_case c, char *text, size_t n)
{
    snprintf(text, n, "K=%d size=%d stride=%d pad=%d %s expand=%d bn=%d act=%s %dx%d", c.K, c.size,
             c.stride, c.pad, c.mixing ? "branch" : "full", c.expand, c.bn, get_activation_string(c.act),
             c.w, c.h);
}

static void check_case_by_differences(fd_case c, uint64_t seed)
{
    char what[160];
    describe(c, what, sizeof(what));
    rng g;
    rng_seed(&g, seed, 0);
    int planes = 1 + (int)rng_below(&g, 2);
    int channels = c.expand ? planes : planes * c.K;
    int N = 2 + (int)rng_below(&g, 2);
    gcconv_options o = options(c.K, N, c.size, c.stride, c.pad, c.mixing, c.expand, c.bn, c.act);
    rig r = make_rig(o, 2, c.h, c.w, channels, seed);
    gcconv_state *s = gcconv_state_of(r.l);
    randomize_parameters(&r, &g);
    fill_normal(r.net.input, (size_t)r.l.batch * r.l.inputs, &g, 1);
    float *weights = malloc(out_count(r.l) * sizeof(float));
    fill_normal(weights, out_count(r.l), &g, 1);

    conv_shadow sh = shadow_of_backward(&r, weights);
    run_backward(&r, weights);
    int inputs = r.l.batch * r.l.inputs;
    check_gradient(&r, weights, what, "input", r.net.input, r.net.delta, inputs, &sh.input_delta, &g);
    check_gradient(&r, weights, what, "w", r.l.weights, r.l.weight_updates, r.l.nweights, &sh.weight_updates, &g);
    check_gradient(&r, weights, what, "R", s->R, s->R_updates, s->K * s->ss, &sh.R_updates, &g);
    check_gradient(&r, weights, what, "bias", r.l.biases, r.l.bias_updates, r.l.n, &sh.bias_updates, &g);
    if (c.bn) check_gradient(&r, weights, what, "scale", r.l.scales, r.l.scale_updates, r.l.n, &sh.scale_updates, &g);
    free_shadow(&sh);
    free(weights);
    free_rig(&r);
}

/* 48 cases over K 1..4, size 1/3/5, stride 1/2, pad 0/1, both mixings,
 * expand on and off; linear activation (the loss is then bilinear in w and
 * R, so central differences are exact but for rounding) and two smooth ones. */
static void gradients_match_finite_differences(void **state)
{
    static const int sizes[] = {1, 3, 5};
    static const ACTIVATION acts[] = {LINEAR, LOGISTIC, TANH};
    for (int i = 0; i < 48; ++i) {
        fd_case c = {
            .K = 1 + i % 4, .size = sizes[i % 3], .stride = 1 + (i / 3) % 2, .pad = (i / 6) % 2,
            .mixing = (i / 4) % 2, .expand = (i / 8) % 2, .bn = 0, .act = acts[(i / 12) % 3],
            .h = 5 + i % 3, .w = 6 + i % 2,
        };
        check_case_by_differences(c, 100 + i);
    }
}

/* Darknet's batch norm divides the variance by m-1 going forward but
 * differentiates it as if by m, and its epsilons differ between the two
 * directions.  Differences see that error, and in directions batch norm
 * cancels (scaling a whole output channel, as R does for a 1x1 kernel) it
 * is all there is.  So with batch_normalize the check has two parts: the
 * batch-norm parameters by differences (their gradients are exact), and the
 * convolution under it: the delta batch norm hands back must produce, bit
 * for bit, the w, R and input gradients of the same layer without batch
 * norm fed that delta.  (With K = 1 the whole layer matches
 * [convolutional] bit for bit, batch norm included.) */
static void check_batch_norm_case(fd_case c, uint64_t seed)
{
    char what[160];
    describe(c, what, sizeof(what));
    rng g;
    rng_seed(&g, seed, 0);
    int channels = c.expand ? 2 : 2 * c.K;
    gcconv_options o = options(c.K, 3, c.size, c.stride, c.pad, c.mixing, c.expand, 1, c.act);
    rig bn = make_rig(o, 2, c.h, c.w, channels, seed);
    o.batch_normalize = 0;
    o.activation = LINEAR;
    rig plain = make_rig(o, 2, c.h, c.w, channels, seed);   /* same seed: same w and R */
    randomize_parameters(&bn, &g);
    memcpy(gcconv_state_of(plain.l)->R, gcconv_state_of(bn.l)->R, c.K * c.size * c.size * sizeof(float));
    size_t ins = (size_t)bn.l.batch * bn.l.inputs, outs = out_count(bn.l);
    fill_normal(bn.net.input, ins, &g, 1);
    memcpy(plain.net.input, bn.net.input, ins * sizeof(float));
    float *weights = calloc(outs, sizeof(float));
    fill_normal(weights, outs, &g, 1);

    conv_shadow sh = shadow_of_backward(&bn, weights);
    run_backward(&bn, weights);
    check_gradient(&bn, weights, what, "bias", bn.l.biases, bn.l.bias_updates, bn.l.n, &sh.bias_updates, &g);
    check_gradient(&bn, weights, what, "scale", bn.l.scales, bn.l.scale_updates, bn.l.n, &sh.scale_updates, &g);
    free_shadow(&sh);

    float *pre_bn_delta = malloc(outs * sizeof(float));
    memcpy(pre_bn_delta, bn.l.delta, outs * sizeof(float));   /* batch norm's backward left it here */
    for (size_t i = 0; i < outs; ++i) pre_bn_delta[i] = -pre_bn_delta[i];
    run_backward(&plain, pre_bn_delta);
    gcconv_state *sb = gcconv_state_of(bn.l), *sp = gcconv_state_of(plain.l);
    assert_memory_equal(bn.l.weight_updates, plain.l.weight_updates, bn.l.nweights * sizeof(float));
    assert_memory_equal(sb->R_updates, sp->R_updates, sb->K * sb->ss * sizeof(float));
    assert_memory_equal(bn.net.delta, plain.net.delta, ins * sizeof(float));
    assert_true(max_abs(sb->R_updates, sb->K * sb->ss) > 0);
    free(pre_bn_delta);
    free(weights);
    free_rig(&bn);
    free_rig(&plain);
}

static void gradients_with_batch_norm(void **state)
{
    static const ACTIVATION acts[] = {LINEAR, LOGISTIC, TANH};
    for (int i = 0; i < 12; ++i) {
        fd_case c = {
            .K = 2 + i % 3, .size = i % 2 ? 3 : 1, .stride = 1 + (i / 4) % 2, .pad = i % 2,
            .mixing = (i / 2) % 2, .expand = (i / 4) % 2, .bn = 1, .act = acts[i % 3], .h = 6, .w = 7,
        };
        check_batch_norm_case(c, 500 + i);
    }
}

/* ---- PyTorch reference ------------------------------------------------------ */

typedef struct ref_case {
    int K, c, N, size, stride, pad, mixing, expand, batch, h, w;
} ref_case;

static const ref_case ref_cases[] = {
    {1, 3, 4, 3, 1, 1, 0, 1, 2, 7, 6},
    {2, 3, 3, 3, 1, 1, 0, 1, 2, 6, 7},
    {2, 4, 3, 3, 2, 1, 0, 0, 2, 7, 7},
    {3, 6, 2, 5, 1, 2, 0, 0, 1, 8, 6},
    {4, 8, 2, 1, 1, 0, 0, 0, 2, 5, 4},
    {4, 2, 3, 3, 2, 0, 0, 1, 2, 9, 8},
    {2, 4, 3, 3, 1, 1, 1, 0, 2, 6, 6},
    {3, 2, 2, 3, 2, 1, 1, 1, 2, 7, 5},
    {4, 8, 3, 1, 1, 0, 1, 0, 2, 4, 5},
    {4, 3, 2, 1, 1, 0, 1, 1, 1, 5, 5},
    {3, 9, 2, 5, 2, 1, 1, 0, 2, 9, 9},
    {1, 2, 3, 1, 2, 0, 1, 0, 2, 6, 6},
};
enum { REF_CASES = sizeof(ref_cases) / sizeof(ref_cases[0]) };

static rig make_ref_rig(ref_case c, uint64_t seed)
{
    gcconv_options o = options(c.K, c.N, c.size, c.stride, c.pad, c.mixing ? GC_MIX_BRANCH : GC_MIX_FULL,
                               c.expand, 0, LINEAR);
    rig r = make_rig(o, c.batch, c.h, c.w, c.c, seed);
    rng g;
    rng_seed(&g, seed, 1);
    randomize_parameters(&r, &g);
    fill_normal(r.net.input, (size_t)r.l.batch * r.l.inputs, &g, 1);
    return r;
}

static float *upstream_gradient(layer l, uint64_t seed)
{
    rng g;
    rng_seed(&g, seed, 2);
    float *gout = malloc(out_count(l) * sizeof(float));
    fill_normal(gout, out_count(l), &g, 1);
    return gout;
}

static void write_ref_case(FILE *f, ref_case c, uint64_t seed)
{
    rig r = make_ref_rig(c, seed);
    gcconv_state *s = gcconv_state_of(r.l);
    float *gout = upstream_gradient(r.l, seed);
    fwrite(&c, sizeof(int), 11, f);
    fwrite(r.net.input, sizeof(float), (size_t)r.l.batch * r.l.inputs, f);
    fwrite(r.l.weights, sizeof(float), r.l.nweights, f);
    fwrite(s->R, sizeof(float), s->K * s->ss, f);
    fwrite(r.l.biases, sizeof(float), r.l.n, f);
    fwrite(gout, sizeof(float), out_count(r.l), f);
    free(gout);
    free_rig(&r);
}

/* Reads n doubles from the reference (PyTorch in float64) and compares
 * `sign * ours` with them: within the bound on our float evaluation's
 * error (helpers/conv_shadow.c), plus 1e-12 relative for float64's. */
static void compare_with_reference(FILE *f, const char *what, const char *name, const float *ours,
                                   float sign, const bounded *bound)
{
    size_t n = bound->n;
    double *ref = malloc(n * sizeof(double));
    assert_int_equal(fread(ref, sizeof(double), n, f), n);
    for (size_t i = 0; i < n; ++i) {
        double diff = fabs(sign * ours[i] - ref[i]);
        if (!(diff <= bound->e[i] + 1e-12 * fabs(ref[i])))
            fail_msg("%s: %s[%zu]: ours %.7g, torch %.7g (bound %.3g)", what, name, i, sign * ours[i], ref[i],
                     bound->e[i]);
    }
    free(ref);
}

static void check_ref_case(FILE *f, ref_case c, uint64_t seed)
{
    char what[128];
    snprintf(what, sizeof(what), "K=%d c=%d N=%d size=%d stride=%d pad=%d %s expand=%d", c.K, c.c, c.N,
             c.size, c.stride, c.pad, c.mixing ? "branch" : "full", c.expand);
    rig r = make_ref_rig(c, seed);
    gcconv_state *s = gcconv_state_of(r.l);
    float *gout = upstream_gradient(r.l, seed);
    conv_shadow sh = shadow_of_backward(&r, gout);
    run_backward(&r, gout);
    compare_with_reference(f, what, "output", r.l.output, 1, &sh.output);
    compare_with_reference(f, what, "dL/dinput", r.net.delta, -1, &sh.input_delta);
    compare_with_reference(f, what, "dL/dw", r.l.weight_updates, -1, &sh.weight_updates);
    if (c.K > 1) {
        compare_with_reference(f, what, "dL/dR", s->R_updates, -1, &sh.R_updates);
    } else {   /* K = 1 has no calibration: R stays 1, R_updates stays 0 */
        assert_int_equal(fseek(f, s->ss * sizeof(double), SEEK_CUR), 0);
        assert_true(max_abs(s->R_updates, s->ss) == 0);
    }
    compare_with_reference(f, what, "dL/dbias", r.l.bias_updates, -1, &sh.bias_updates);
    free_shadow(&sh);
    free(gout);
    free_rig(&r);
}

static void matches_pytorch_reference(void **state)
{
    char dir[] = "/tmp/gcconv-ref-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cases[300], results[300], command[800];
    snprintf(cases, sizeof(cases), "%s/cases.bin", dir);
    snprintf(results, sizeof(results), "%s/results.bin", dir);

    FILE *f = fopen(cases, "wb");
    assert_non_null(f);
    for (int i = 0; i < REF_CASES; ++i) write_ref_case(f, ref_cases[i], 900 + i);
    fclose(f);

    snprintf(command, sizeof(command), "/usr/bin/python3 tests/ref/gcconv_ref.py %s %s", cases, results);
    assert_int_equal(system(command), 0);

    f = fopen(results, "rb");
    assert_non_null(f);
    for (int i = 0; i < REF_CASES; ++i) check_ref_case(f, ref_cases[i], 900 + i);
    assert_int_equal(fgetc(f), EOF);   /* nothing left over: the shapes agreed */
    fclose(f);
    unlink(cases);
    unlink(results);
    rmdir(dir);
}

/* ---- K = 1 is [convolutional] ------------------------------------------- */

typedef struct k1_case {
    int size, stride, pad, bn, mixing, expand;
} k1_case;

static void assert_same_floats(const float *a, const float *b, size_t n, const char *what, const char *name)
{
    if (memcmp(a, b, n * sizeof(float)) != 0) fail_msg("%s: %s differs", what, name);
}

/* Forward, backward and three SGD steps with momentum and decay; every
 * buffer must equal upstream's to the bit. */
static void check_k1_case(k1_case c, uint64_t seed)
{
    char what[96];
    snprintf(what, sizeof(what), "size=%d stride=%d pad=%d bn=%d %s expand=%d", c.size, c.stride, c.pad, c.bn,
             c.mixing ? "branch" : "full", c.expand);
    int batch = 2, h = 9, w = 8, ch = 3, N = 5;
    gcconv_options o = options(1, N, c.size, c.stride, c.pad, c.mixing, c.expand, c.bn, LEAKY);
    rig r = make_rig(o, batch, h, w, ch, seed);
    layer conv = make_convolutional_layer(batch, h, w, ch, N, 1, c.size, c.stride, c.pad, LEAKY, c.bn, 0, 0, 0);
    conv.learning_rate_scale = 1;
    assert_int_equal(conv.nweights, r.l.nweights);
    assert_int_equal(conv.outputs, r.l.outputs);
    memcpy(conv.weights, r.l.weights, conv.nweights * sizeof(float));
    rng g;
    rng_seed(&g, seed, 3);
    fill_normal(r.l.biases, N, &g, 0.3f);
    memcpy(conv.biases, r.l.biases, N * sizeof(float));

    network cnet = r.net;
    cnet.delta = calloc((size_t)batch * r.l.inputs, sizeof(float));
    cnet.workspace = calloc(1, conv.workspace_size + sizeof(float));   /* the fast path batches im2col */
    size_t outs = out_count(r.l), ins = (size_t)batch * r.l.inputs;
    update_args a = {.batch = batch, .learning_rate = 0.05f, .momentum = 0.9f, .decay = 0.0005f};
    for (int step = 0; step < 3; ++step) {
        fill_normal(r.net.input, ins, &g, 1);
        forward_gcconv_layer(r.l, r.net);
        forward_convolutional_layer(conv, cnet);
        assert_same_floats(r.l.output, conv.output, outs, what, "output");
        fill_normal(r.l.delta, outs, &g, 1);
        memcpy(conv.delta, r.l.delta, outs * sizeof(float));
        zero(r.net.delta, ins);
        zero(cnet.delta, ins);
        backward_gcconv_layer(r.l, r.net);
        backward_convolutional_layer(conv, cnet);
        assert_same_floats(r.net.delta, cnet.delta, ins, what, "input delta");
        assert_same_floats(r.l.weight_updates, conv.weight_updates, conv.nweights, what, "weight_updates");
        assert_same_floats(r.l.bias_updates, conv.bias_updates, N, what, "bias_updates");
        if (c.bn) assert_same_floats(r.l.scale_updates, conv.scale_updates, N, what, "scale_updates");
        update_gcconv_layer(r.l, a);
        update_convolutional_layer(conv, a);
        assert_same_floats(r.l.weights, conv.weights, conv.nweights, what, "weights after update");
        assert_same_floats(r.l.biases, conv.biases, N, what, "biases after update");
        if (c.bn) {
            assert_same_floats(r.l.scales, conv.scales, N, what, "scales after update");
            assert_same_floats(r.l.rolling_mean, conv.rolling_mean, N, what, "rolling_mean");
            assert_same_floats(r.l.rolling_variance, conv.rolling_variance, N, what, "rolling_variance");
        }
        assert_true(gcconv_state_of(r.l)->R[0] == 1.0f);
    }
    free(cnet.delta);
    free(cnet.workspace);
    free_layer(conv);
    free_rig(&r);
}

static void k1_matches_convolutional(void **state)
{
    /* 1x1 with a stride or padding too: patches/0091 makes upstream's
     * [convolutional] compute those as convolutions, as [gcconv] does. */
    static const k1_case cases[] = {
        {3, 1, 1, 0, 0, 1}, {3, 1, 1, 1, 0, 1}, {3, 2, 1, 0, 0, 0}, {3, 2, 0, 1, 1, 0},
        {1, 1, 0, 0, 0, 0}, {1, 1, 0, 1, 1, 1}, {5, 1, 2, 1, 1, 0}, {5, 2, 2, 0, 1, 1},
        {1, 2, 0, 1, 0, 0}, {1, 1, 1, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) check_k1_case(cases[i], 40 + i);
}

/* Runs cases() on each gemm tile the CPU has, and reports the others as
 * skipped ("SKIP <name>_<tile>"). */
static void on_each_tile(const char *name, void (*cases)(void))
{
    static const char *const env[] = {"scalar", "avx2", "avx512"};
    int was = fastgemm_isa();
    for (int isa = FASTGEMM_SCALAR; isa <= FASTGEMM_AVX512; ++isa) {
        if (!fastgemm_set_isa(isa)) {
            print_message("SKIP %s_%s: this CPU cannot run the %s tile\n", name, env[isa], fastgemm_isa_name(isa));
            continue;
        }
        cases();
    }
    fastgemm_set_isa(was);
}

static void k1_cases(void)
{
    k1_matches_convolutional(NULL);
}

/* The same on each gemm tile the CPU has (both layers on one tile). */
static void k1_matches_convolutional_each_path(void **state)
{
    on_each_tile("k1", k1_cases);
}

/* ---- the factored passes keep their products ------------------------------ */

typedef struct pass_bits {
    float *output, *weight_updates, *R_updates, *input_delta;
} pass_bits;

static pass_bits copy_pass(rig *r)
{
    gcconv_state *s = gcconv_state_of(r->l);
    pass_bits b;
    b.output = malloc(out_count(r->l) * sizeof(float));
    memcpy(b.output, r->l.output, out_count(r->l) * sizeof(float));
    b.weight_updates = malloc(r->l.nweights * sizeof(float));
    memcpy(b.weight_updates, r->l.weight_updates, r->l.nweights * sizeof(float));
    b.R_updates = malloc(s->K * s->ss * sizeof(float));
    memcpy(b.R_updates, s->R_updates, s->K * s->ss * sizeof(float));
    b.input_delta = malloc((size_t)r->l.batch * r->l.inputs * sizeof(float));
    memcpy(b.input_delta, r->net.delta, (size_t)r->l.batch * r->l.inputs * sizeof(float));
    return b;
}

static void free_pass(pass_bits *b)
{
    free(b->output); free(b->weight_updates); free(b->R_updates); free(b->input_delta);
}

static void assert_same_pass(const pass_bits *a, const pass_bits *b, rig *r, const char *what)
{
    gcconv_state *s = gcconv_state_of(r->l);
    assert_same_floats(a->output, b->output, out_count(r->l), "output", what);
    assert_same_floats(a->weight_updates, b->weight_updates, r->l.nweights, "weight_updates", what);
    assert_same_floats(a->R_updates, b->R_updates, s->K * s->ss, "R_updates", what);
    assert_same_floats(a->input_delta, b->input_delta, (size_t)r->l.batch * r->l.inputs, "input delta", what);
}

/* A full-mixing layer of N=4 filters a branch, stride 1, on an hw x hw-2
 * input, with random parameters and input drawn from stream `stream` of
 * seed, which g then continues. */
static rig factored_rig(int K, int size, int expand, int batch, int hw, uint64_t seed, int stream, rng *g)
{
    rig r = make_rig(options(K, 4, size, 1, size / 2, GC_MIX_FULL, expand, 0, LEAKY), batch, hw, hw - 2,
                     3 * (expand ? 1 : K), seed);
    rng_seed(g, seed, stream);
    randomize_parameters(&r, g);
    fill_normal(r.l.weights, r.l.nweights, g, 0.3f);
    fill_normal(r.net.input, (size_t)batch * r.l.inputs, g, 1);
    return r;
}

/* A training forward pass keeps z for the backward pass; a forward pass
 * outside training does not, and the backward pass computes z again.  Both
 * must give the same bits. */
static void check_kept_case(int K, int size, int expand, int batch, int hw, uint64_t seed)
{
    rng g;
    rig r = factored_rig(K, size, expand, batch, hw, seed, 7, &g);
    gcconv_state *s = gcconv_state_of(r.l);
    float *grad = calloc(out_count(r.l), sizeof(float));
    fill_normal(grad, out_count(r.l), &g, 1);
    assert_true(gcfactor_applies(r.l, s));
    run_backward(&r, grad);
    assert_non_null(s->kept_z);
    pass_bits kept = copy_pass(&r);
    r.net.train = 0;
    run_backward(&r, grad);
    pass_bits again = copy_pass(&r);
    assert_same_pass(&kept, &again, &r, "kept z");
    free_pass(&kept);
    free_pass(&again);
    free(grad);
    free_rig(&r);
}

static void kept_cases(void)
{
    check_kept_case(2, 3, 1, 3, 9, 11);
    check_kept_case(4, 3, 0, 5, 9, 12);
    check_kept_case(3, 1, 1, 2, 9, 13);
    check_kept_case(8, 5, 1, 1, 9, 14);
    check_kept_case(2, 3, 1, 3, 66, 15);   /* one image a group: three groups */
}

static void kept_products_same_bits_each_path(void **state)
{
    on_each_tile("kept", kept_cases);
}

/* The shifted products (stride 1, output as large as the input) give the
 * bits of the products over im2col columns: output, weight and R
 * gradients and the input's gradient (added onto one that other layers
 * began), with z kept from the forward pass and computed again in the
 * backward pass. */
static void check_shifted_case(int K, int size, int expand, int batch, int hw, uint64_t seed)
{
    rng g;
    rig r = factored_rig(K, size, expand, batch, hw, seed, 9, &g);
    gcconv_state *s = gcconv_state_of(r.l);
    for (size_t i = 0; i < (size_t)batch * r.l.inputs; i += 3) r.net.input[i] = 0;   /* as after a ReLU */
    float *grad = calloc(out_count(r.l), sizeof(float)), *delta0 = calloc((size_t)batch * r.l.inputs, sizeof(float));
    fill_normal(grad, out_count(r.l), &g, 1);
    fill_normal(delta0, (size_t)batch * r.l.inputs, &g, 1);
    assert_true(gcfactor_applies(r.l, s));
    gcfactor_set_shifted_products(0);
    run_backward_onto(&r, grad, delta0);
    pass_bits cols = copy_pass(&r);
    gcfactor_set_shifted_products(1);
    for (int train = 1; train >= 0; --train) {
        r.net.train = train;
        run_backward_onto(&r, grad, delta0);
        pass_bits shifted = copy_pass(&r);
        assert_same_pass(&cols, &shifted, &r, train ? "shifted, z kept" : "shifted, z again");
        free_pass(&shifted);
    }
    free_pass(&cols);
    free(grad);
    free(delta0);
    free_rig(&r);
}

static void shifted_cases(void)
{
    check_shifted_case(2, 3, 1, 3, 9, 21);
    check_shifted_case(4, 3, 0, 5, 8, 22);
    check_shifted_case(8, 5, 1, 2, 7, 23);
    check_shifted_case(2, 3, 1, 3, 66, 24);   /* one image a group: three groups */
    check_shifted_case(3, 7, 1, 2, 5, 25);    /* a kernel larger than the plane */
}

static void shifted_products_same_bits_each_path(void **state)
{
    on_each_tile("shifted", shifted_cases);
}

/* ---- the R step ----------------------------------------------------------- */

static void check_r_is_calibration_map(const float *R, int K, int ss)
{
    for (int p = 0; p < ss; ++p) {
        double sum = 0;
        for (int k = 0; k < K; ++k) {
            assert_true(R[k * ss + p] >= 0);
            sum += R[k * ss + p];
        }
        if (fabs(sum - 1) > 1e-6) fail_msg("R pixel %d sums to %.9g", p, sum);
    }
}

/* Random updates of every size, including ones that zero a pixel or turn
 * entries negative, keep R a calibration map; and each step is exactly
 * R <- normalise(|R + calib_rate*lr/batch * R_updates|). */
static void r_stays_normalised_under_updates(void **state)
{
    gcconv_options o = options(3, 2, 3, 1, 1, GC_MIX_FULL, 0, 0, LINEAR);
    o.calib_rate = 0.5f;
    rig r = make_rig(o, 2, 5, 5, 6, 7);
    gcconv_state *s = gcconv_state_of(r.l);
    int n = s->K * s->ss;
    rng g;
    rng_seed(&g, 8, 0);
    double expect[27];
    for (int step = 0; step < 300; ++step) {
        update_args a = {.batch = 2, .learning_rate = rng_uniform_range(&g, 1e-3f, 1), .momentum = 0.9f};
        float rate = o.calib_rate * a.learning_rate / a.batch;
        float scale = powf(10, rng_uniform_range(&g, -3, 3));
        fill_normal(s->R_updates, n, &g, scale);
        if (step % 7 == 0) {   /* cancel pixel 4 exactly: the 1/K rule */
            for (int k = 0; k < s->K; ++k) s->R_updates[k * s->ss + 4] = -s->R[k * s->ss + 4] / rate;
        }
        for (int i = 0; i < n; ++i) expect[i] = fabsf(s->R[i] + rate * s->R_updates[i]);
        update_gcconv_layer(r.l, a);
        check_r_is_calibration_map(s->R, s->K, s->ss);
        for (int p = 0; p < s->ss; ++p) {
            double sum = 0;
            for (int k = 0; k < s->K; ++k) sum += expect[k * s->ss + p];
            for (int k = 0; k < s->K; ++k) {
                double want = sum > 1e-12 ? expect[k * s->ss + p] / sum : 1.0 / s->K;
                if (fabs(s->R[k * s->ss + p] - want) > 1e-6) fail_msg("step %d R[%d,%d] %g, want %g", step, k, p, s->R[k * s->ss + p], want);
            }
        }
        for (int i = 0; i < n; ++i) assert_true(s->R_updates[i] == 0);
    }
    free_rig(&r);
}

/* The update hook also steps w, biases and scales as the optimizer says. */
static void update_steps_weights_and_r(void **state)
{
    gcconv_options o = options(2, 3, 3, 1, 1, GC_MIX_BRANCH, 0, 1, LINEAR);
    rig r = make_rig(o, 2, 5, 5, 4, 9);
    rng g;
    rng_seed(&g, 10, 0);
    gcconv_state *s = gcconv_state_of(r.l);
    fill_normal(r.l.weight_updates, r.l.nweights, &g, 1);
    fill_normal(r.l.bias_updates, r.l.n, &g, 1);
    fill_normal(s->R_updates, s->K * s->ss, &g, 1);
    float *w0 = malloc(r.l.nweights * sizeof(float)), *u0 = malloc(r.l.nweights * sizeof(float));
    memcpy(w0, r.l.weights, r.l.nweights * sizeof(float));
    memcpy(u0, r.l.weight_updates, r.l.nweights * sizeof(float));
    float R0 = s->R[0];
    update_args a = {.batch = 4, .learning_rate = 0.1f, .momentum = 0.5f};
    update_gcconv_layer(r.l, a);
    for (int i = 0; i < r.l.nweights; ++i) {
        assert_true(r.l.weights[i] == w0[i] + (0.1f / 4) * u0[i]);
        assert_true(r.l.weight_updates[i] == 0.5f * u0[i]);
    }
    assert_true(s->R[0] != R0);
    check_r_is_calibration_map(s->R, s->K, s->ss);
    free(w0);
    free(u0);
    free_rig(&r);
}

/* ---- initialisation ---------------------------------------------------------- */

static void r_init_choices(void **state)
{
    gcconv_options o = options(4, 8, 3, 1, 1, GC_MIX_FULL, 0, 0, LINEAR);
    o.r_init = GC_R_UNIFORM;
    rig u = make_rig(o, 1, 6, 6, 8, 1);
    for (int i = 0; i < 4 * 9; ++i) assert_true(gcconv_state_of(u.l)->R[i] == 0.25f);

    o.r_init = GC_R_GABOR;
    rig gb = make_rig(o, 1, 6, 6, 8, 1);
    const float *R = gcconv_state_of(gb.l)->R;
    check_r_is_calibration_map(R, 4, 9);
    /* orientations differ: theta=0 and theta=pi/2 are the same map transposed */
    int differs = 0;
    for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) {
            differs |= fabsf(R[y * 3 + x] - R[9 + y * 3 + x]) > 1e-3f;
            assert_true(fabsf(R[y * 3 + x] - R[2 * 9 + x * 3 + y]) < 1e-5f);
        }
    assert_true(differs);

    o.r_init = GC_R_RANDOM;
    rig r1 = make_rig(o, 1, 6, 6, 8, 5), r2 = make_rig(o, 1, 6, 6, 8, 5), r3 = make_rig(o, 1, 6, 6, 8, 6);
    check_r_is_calibration_map(gcconv_state_of(r1.l)->R, 4, 9);
    assert_memory_equal(gcconv_state_of(r1.l)->R, gcconv_state_of(r2.l)->R, 36 * sizeof(float));
    assert_memory_equal(r1.l.weights, r2.l.weights, r1.l.nweights * sizeof(float));
    assert_memory_not_equal(gcconv_state_of(r1.l)->R, gcconv_state_of(r3.l)->R, 36 * sizeof(float));
    /* not uniform: symmetry must be broken */
    assert_true(fabsf(gcconv_state_of(r1.l)->R[0] - 0.25f) > 1e-4f || fabsf(gcconv_state_of(r1.l)->R[9] - 0.25f) > 1e-4f);
    free_rig(&u);
    free_rig(&gb);
    free_rig(&r1);
    free_rig(&r2);
    free_rig(&r3);
}

/* He: std(H) = sqrt(2/fan_in) with R about 1/K, so std(w) = K sqrt(2/fan_in). */
static void weight_init_scale(void **state)
{
    struct { gc_mixing mixing; int K; double fan_in; } cases[] = {
        {GC_MIX_FULL, 4, 16 * 4 * 9}, {GC_MIX_BRANCH, 4, 16 * 9}, {GC_MIX_FULL, 1, 64 * 9},
    };
    for (int i = 0; i < 3; ++i) {
        gcconv_options o = options(cases[i].K, 32, 3, 1, 1, cases[i].mixing, 0, 0, LINEAR);
        rig r = make_rig(o, 1, 4, 4, 64, 3);
        double sum2 = 0;
        for (int j = 0; j < r.l.nweights; ++j) sum2 += (double)r.l.weights[j] * r.l.weights[j];
        double std = sqrt(sum2 / r.l.nweights), want = cases[i].K * sqrt(2 / cases[i].fan_in);
        assert_true(fabs(std / want - 1) < 0.05);
        free_rig(&r);
    }
}

/* ---- networks parsed from cfg files ------------------------------------------ */

static char *write_file(const char *name, const char *text)
{
    char *path = (char *)scratch_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char small_cfg[] =
    "[net]\nbatch=2\nwidth=12\nheight=12\nchannels=3\nseed=%d\nlearning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n"
    "[gcconv]\nfilters=4\nsize=3\npad=1\nbranches=3\nbatch_normalize=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[gcconv]\nfilters=3\nsize=3\nstride=2\npad=1\nbranches=3\nmixing=branch\nr_init=gabor\nactivation=leaky\n"
    "[gcconv]\nfilters=2\nsize=1\nbranches=3\nexpand=0\nactivation=linear\n"
    "[avgpool]\n[softmax]\n";

static network *parse_small(int seed)
{
    char text[1024];
    snprintf(text, sizeof(text), small_cfg, seed);
    return parse_network_cfg(write_file("small.cfg", text));
}

static void randomize_network(network *net, uint64_t seed)
{
    rng g;
    rng_seed(&g, seed, 0);
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.type != EXTENSION || l.ext != &gcconv_ext) continue;
        rig r = {.l = l};
        randomize_parameters(&r, &g);
        fill_normal(l.weights, l.nweights, &g, 1);
        if (l.batch_normalize) {
            fill_normal(l.rolling_mean, l.n, &g, 1);
            for (int j = 0; j < l.n; ++j) l.rolling_variance[j] = 0.5f + rng_uniform(&g);
        }
    }
}

static void assert_same_layer_weights(layer a, layer b)
{
    gcconv_state *sa = gcconv_state_of(a), *sb = gcconv_state_of(b);
    assert_memory_equal(a.biases, b.biases, a.n * sizeof(float));
    assert_memory_equal(a.weights, b.weights, a.nweights * sizeof(float));
    assert_memory_equal(sa->R, sb->R, sa->K * sa->ss * sizeof(float));
    if (a.batch_normalize) {
        assert_memory_equal(a.scales, b.scales, a.n * sizeof(float));
        assert_memory_equal(a.rolling_mean, b.rolling_mean, a.n * sizeof(float));
        assert_memory_equal(a.rolling_variance, b.rolling_variance, a.n * sizeof(float));
    }
}

/* The file holds, per layer: biases, [scales, rolling_mean, rolling_variance], w, R. */
static void check_file_layout(const char *path, network *net)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int header[3];
    uint64_t seen;
    assert_int_equal(fread(header, sizeof(int), 3, f), 3);
    assert_int_equal(fread(&seen, sizeof(seen), 1, f), 1);
    assert_int_equal(header[0], 0);
    assert_int_equal(header[1], 2);
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.type != EXTENSION || l.ext != &gcconv_ext) continue;
        gcconv_state *s = gcconv_state_of(l);
        const float *arrays[6] = {l.biases, l.scales, l.rolling_mean, l.rolling_variance, l.weights, s->R};
        int counts[6] = {l.n, l.n, l.n, l.n, l.nweights, s->K * s->ss};
        for (int a = 0; a < 6; ++a) {
            if (a >= 1 && a <= 3 && !l.batch_normalize) continue;
            float *buf = malloc(counts[a] * sizeof(float));
            assert_int_equal(fread(buf, sizeof(float), counts[a], f), counts[a]);
            assert_memory_equal(buf, arrays[a], counts[a] * sizeof(float));
            free(buf);
        }
    }
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
}

static void weights_round_trip(void **state)
{
    network *a = parse_small(1);
    randomize_network(a, 77);
    char *path = (char *)scratch_path("small.weights");
    save_weights(a, path);
    check_file_layout(path, a);

    network *b = parse_small(2);   /* another seed: different initial values */
    assert_memory_not_equal(a->layers[0].weights, b->layers[0].weights, a->layers[0].nweights * sizeof(float));
    load_weights(b, path);
    for (int i = 0; i < a->n; ++i)
        if (a->layers[i].type == EXTENSION && a->layers[i].ext == &gcconv_ext)
            assert_same_layer_weights(a->layers[i], b->layers[i]);
    free_network(a);
    free_network(b);
}

static void fill_input(network *net, uint64_t seed)
{
    rng g;
    rng_seed(&g, seed, 0);
    fill_normal(net->input, (size_t)net->batch * net->inputs, &g, 1);
}

/* A network resized to 20x20 computes what one parsed at 20x20 does. */
static void resize_matches_fresh_network(void **state)
{
    network *a = parse_small(3);
    randomize_network(a, 5);
    char *path = (char *)scratch_path("resize.weights");
    save_weights(a, path);
    resize_network(a, 20, 20);

    char text[1024];
    snprintf(text, sizeof(text), small_cfg, 3);
    char *p = strstr(text, "width=12\nheight=12");
    memcpy(p, "width=20\nheight=20", 18);
    network *b = parse_network_cfg(write_file("big.cfg", text));
    load_weights(b, path);
    assert_int_equal(a->layers[0].out_w, 20);
    assert_int_equal(a->layers[2].out_w, 5);
    assert_int_equal(a->inputs, b->inputs);
    fill_input(a, 9);
    memcpy(b->input, a->input, (size_t)a->batch * a->inputs * sizeof(float));
    a->train = b->train = 1;
    forward_network(a);
    forward_network(b);
    for (int i = 0; i < a->n; ++i)
        assert_memory_equal(a->layers[i].output, b->layers[i].output,
                            (size_t)a->batch * a->layers[i].outputs * sizeof(float));
    free_network(a);
    free_network(b);
}

/* A stock cfg with its [convolutional] sections, all but the classifier,
 * turned into [gcconv] with K branches and filters/K, so that the channel
 * counts (and the shortcuts) stay as they were. */
static char *convert_cfg(const char *path, int K, int batch, int size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    char *last_conv = NULL;
    for (char *p = strstr(text, "[convolutional]"); p; p = strstr(p + 1, "[convolutional]")) last_conv = p;

    static char out[1 << 16];
    size_t used = 0;
    int in_gc = 0, in_net = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char buf[256];
        int v;
        if (line[0] == '[') {
            in_gc = !strcmp(line, "[convolutional]") && line != last_conv;
            in_net = !strcmp(line, "[net]");
            if (in_gc) snprintf(buf, sizeof(buf), "[gcconv]\nbranches=%d", K);
            else snprintf(buf, sizeof(buf), "%s", line);
        } else if (in_gc && sscanf(line, "filters=%d", &v) == 1) {
            snprintf(buf, sizeof(buf), "filters=%d", v / K);
        } else if (in_net && sscanf(line, "batch=%d", &v) == 1) {
            snprintf(buf, sizeof(buf), "batch=%d", batch);
        } else if (in_net && (sscanf(line, "width=%d", &v) == 1 || sscanf(line, "height=%d", &v) == 1)) {
            snprintf(buf, sizeof(buf), "%.*s=%d", (int)(strchr(line, '=') - line), line, size);
        } else if (in_net && sscanf(line, "subdivisions=%d", &v) == 1) {
            snprintf(buf, sizeof(buf), "subdivisions=1");
        } else {
            snprintf(buf, sizeof(buf), "%s", line);
        }
        used += snprintf(out + used, sizeof(out) - used, "%s\n", buf);
    }
    return write_file("converted.cfg", out);
}

static int count_gcconv(network *net)
{
    int n = 0;
    for (int i = 0; i < net->n; ++i) n += net->layers[i].type == EXTENSION && net->layers[i].ext == &gcconv_ext;
    return n;
}

/* Forward and backward once; the output is a distribution and every
 * [gcconv] got a gradient for w and for R. */
static void check_runs_forward_backward(network *net, int expected_gcconv)
{
    assert_int_equal(count_gcconv(net), expected_gcconv);
    fill_input(net, 1);
    for (int i = 0; i < net->batch * net->truths; i += net->truths) net->truth[i] = 1;
    net->train = 1;
    forward_network(net);
    backward_network(net);
    for (int b = 0; b < net->batch; ++b) {
        double sum = 0;
        for (int i = 0; i < net->outputs; ++i) {
            assert_true(isfinite(net->output[b * net->outputs + i]));
            sum += net->output[b * net->outputs + i];
        }
        assert_true(fabs(sum - 1) < 1e-4);
    }
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.type != EXTENSION || l.ext != &gcconv_ext) continue;
        gcconv_state *s = gcconv_state_of(l);
        assert_true(max_abs(l.weight_updates, l.nweights) > 0);
        assert_true(max_abs(s->R_updates, s->K * s->ss) > 0);
    }
}

static void stock_resnet18_runs(void **state)
{
    network *net = parse_network_cfg(convert_cfg("build/darknet/cfg/resnet18.cfg", 2, 1, 64));
    assert_int_equal(net->layers[0].out_c, 64);
    check_runs_forward_backward(net, 17);
    free_network(net);
}

static void stock_cifar_runs(void **state)
{
    network *net = parse_network_cfg(convert_cfg("build/darknet/cfg/cifar.cfg", 4, 2, 16));
    assert_int_equal(net->layers[0].out_c, 128);
    check_runs_forward_backward(net, 9);
    free_network(net);
}

/* Two classes of 8x8 images, horizontal or vertical stripes under noise. */
static data stripes(int n, uint64_t seed)
{
    rng g;
    rng_seed(&g, seed, 0);
    data d = {0};
    d.X = make_matrix(n, 64);
    d.y = make_matrix(n, 2);
    for (int i = 0; i < n; ++i) {
        int vertical = i % 2, phase = (int)rng_below(&g, 2);
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x)
                d.X.vals[i][y * 8 + x] = (((vertical ? x : y) + phase) % 2) + 0.3f * rng_normal(&g);
        d.y.vals[i][vertical] = 1;
    }
    return d;
}

static void small_network_learns(void **state)
{
    const char *cfg =
        "[net]\nbatch=16\nwidth=8\nheight=8\nchannels=1\nseed=4\nlearning_rate=0.3\nmomentum=0.9\ndecay=0.0005\n"
        "[gcconv]\nfilters=8\nsize=3\npad=1\nbranches=2\nbatch_normalize=1\nactivation=leaky\n"
        "[gcconv]\nfilters=8\nsize=3\npad=1\nbranches=2\nmixing=branch\nbatch_normalize=1\nactivation=leaky\n"
        "[gcmerge]\n"
        "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
        "[avgpool]\n[softmax]\n";
    network *net = parse_network_cfg(write_file("learn.cfg", cfg));
    data d = stripes(160, 11);
    float losses[10];
    for (int i = 0; i < 10; ++i) {
        get_next_batch(d, net->batch, i * net->batch, net->input, net->truth);
        losses[i] = train_network_datum(net) / net->batch;
    }
    float first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[7] + losses[8] + losses[9]) / 3;
    print_message("loss per image, first three %.4f, last three %.4f\n", first, last);
    /* chance is ln 2 = 0.693 */
    if (!(last < 0.5f * first && last < 0.35f)) {
        fail_msg("loss %.4f -> %.4f (%.4f %.4f %.4f ... %.4f %.4f %.4f)", first, last, losses[0], losses[1],
                 losses[2], losses[7], losses[8], losses[9]);
    }
    check_r_is_calibration_map(gcconv_state_of(net->layers[0])->R, 2, 9);
    free_data(d);
    free_network(net);
}

/* With Adam the layer carries the moment buffers and steps through them. */
static void adam_network_trains(void **state)
{
    const char *cfg =
        "[net]\nbatch=4\nwidth=6\nheight=6\nchannels=2\nseed=2\noptimizer=adam\nlearning_rate=0.01\n"
        "[gcconv]\nfilters=3\nsize=3\npad=1\nbranches=2\nbatch_normalize=1\nactivation=leaky\n"
        "[gcconv]\nfilters=2\nsize=3\npad=1\nbranches=2\nmixing=branch\nactivation=linear\n"
        "[avgpool]\n[softmax]\n";
    network *net = parse_network_cfg(write_file("adam.cfg", cfg));
    layer l = net->layers[0];
    assert_true(net->adam);
    assert_non_null(l.m);
    assert_non_null(l.v);
    assert_non_null(l.bias_m);
    assert_non_null(l.scale_v);
    float *w0 = malloc(l.nweights * sizeof(float));
    memcpy(w0, l.weights, l.nweights * sizeof(float));
    for (int step = 0; step < 3; ++step) {
        fill_input(net, step);
        for (int b = 0; b < net->batch; ++b) net->truth[b * net->truths + b % 2] = 1;
        train_network_datum(net);
    }
    /* Adam moves every weight by about the learning rate per step */
    for (int i = 0; i < l.nweights; ++i) {
        float moved = fabsf(l.weights[i] - w0[i]);
        assert_true(moved > 1e-4f && moved < 0.05f);
    }
    assert_true(max_abs(l.v, l.nweights) > 0);
    check_r_is_calibration_map(gcconv_state_of(l)->R, 2, 9);
    free(w0);
    free_network(net);
}

/* The default rule: a layer of fewer than GCFACTOR_MIN_PLANES input planes
 * takes the convolution with H, a wider one the factored passes. */
static void thin_layers_take_the_convolution_with_h(void **state)
{
    int was = gcfactor_set_min_planes(GCFACTOR_MIN_PLANES);
    rig thin = make_rig(options(2, 4, 3, 1, 1, GC_MIX_FULL, 1, 0, LEAKY), 2, 6, 6, 3, 31);   /* 6 planes */
    rig wide = make_rig(options(2, 4, 3, 1, 1, GC_MIX_FULL, 0, 0, LEAKY), 2, 6, 6, 32, 32);  /* 32 planes */
    assert_int_equal(gcconv_state_of(thin.l)->planes, 6);
    assert_int_equal(gcconv_state_of(wide.l)->planes, 32);
    assert_false(gcfactor_applies(thin.l, gcconv_state_of(thin.l)));
    assert_true(gcfactor_applies(wide.l, gcconv_state_of(wide.l)));
    gcfactor_set_min_planes(1);
    assert_true(gcfactor_applies(thin.l, gcconv_state_of(thin.l)));
    gcfactor_set_min_planes(was);
    free_rig(&thin);
    free_rig(&wide);
}

int main(void)
{
    /* The factored passes are what these tests check, on layers small
     * enough to check; by default such thin layers take the convolution
     * with H (gcfactor.h), which the other tests of [gcconv] run. */
    gcfactor_set_min_planes(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thin_layers_take_the_convolution_with_h),
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(gradients_with_batch_norm),
        cmocka_unit_test(matches_pytorch_reference),
        cmocka_unit_test(k1_matches_convolutional),
        cmocka_unit_test(k1_matches_convolutional_each_path),
        cmocka_unit_test(kept_products_same_bits_each_path),
        cmocka_unit_test(shifted_products_same_bits_each_path),
        cmocka_unit_test(r_stays_normalised_under_updates),
        cmocka_unit_test(update_steps_weights_and_r),
        cmocka_unit_test(r_init_choices),
        cmocka_unit_test(weight_init_scale),
        cmocka_unit_test(weights_round_trip),
        cmocka_unit_test(resize_matches_fresh_network),
        cmocka_unit_test(stock_resnet18_runs),
        cmocka_unit_test(stock_cifar_runs),
        cmocka_unit_test(small_network_learns),
        cmocka_unit_test(adam_network_trains),
    };
    return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
