/* gpu_check.c: GPU against CPU for [convolutional], [gcconv], [gcmerge] and
 * csgd, a short training run, and throughput figures.  Built and run by
 * tests/gpu/run on a machine with a CUDA GPU (GPU=1 build, with or without
 * CUDNN=1); needs nothing but libdarknet.  The convolutions take the path
 * DARKNET_GPU_CONV names (src/gpu/conv_path.h), which tests/gpu/run runs in
 * turn.
 *
 *   gpu_check [--iters N] [--bench-iters N] [--skip-train] [--skip-bench]
 *
 * Prints PASS/FAIL lines, then "N passed, N failed"; exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "darknet.h"
#include "cuda.h"
#include "network.h"
#include "parser.h"

#include "csgd.h"
#include "rand/ctr_rng.h"
#include "gcconv/gc_gpu.h"
#include "rand/rand_gpu.h"
#include "gclayer.h"
#include "optim/optimizer.h"
#include "rand/rng.h"
#include "gcconv/gcconv_state.h"
#include "optim/params.h"
#include "gpu/conv_path.h"
#include "blas.h"

#include "conv_shadow.h"
#include "rounding.h"

/* ---- tiny assertion kit ---------------------------------------------------- */

static int passed, failed;

static void report(int ok, const char *name, const char *detail)
{
    if (ok) ++passed;
    else ++failed;
    printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, detail && *detail ? "  " : "", detail ? detail : "");
    fflush(stdout);
}

#define CHECK(cond, name, ...)                                  \
    do {                                                        \
        char detail_[256];                                      \
        snprintf(detail_, sizeof(detail_), __VA_ARGS__);        \
        report((cond) != 0, (name), detail_);                   \
    } while (0)

static double now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

static float *pulled(float *gpu, size_t n)
{
    float *h = malloc(n * sizeof(float));
    if (!h) exit(2);
    cuda_pull_array(gpu, h, n);
    return h;
}

/* ---- GPU against CPU, one layer at a time -----------------------------------
 *
 * Both sides evaluate the same sums in different orders (cuBLAS and our
 * kernels against the CPU's), so they differ by rounding, within the rule
 * of tests/unit/helpers/rounding.c: |a - b| <= 2 gamma(m) sum |t_j|.  Run
 * end to end, those differences would grow through every later layer by
 * gains no bound follows, so each layer runs on the same inputs on both
 * sides: going forward the GPU layer reads the CPU's outputs of the layers
 * before it, going back the CPU's deltas, and both the backward pass and
 * the update start from the CPU's parameters and optimizer state (a weights
 * file and its .state, and R's gradient pushed).  The bounds:
 *  - [convolutional] and [gcconv]: conv_shadow.c's double evaluation of the
 *    layer's training step, each value with its own bound, which the GPU's
 *    float must meet as the CPU's must in the unit tests;
 *  - the other layers forward: layer_rounding_bound() of rounding.c;
 *  - their backward passes add one term to each input delta (a copy, a
 *    scaling by 1 / pixels, 1 / K or alpha, an activation's slope: at most
 *    4 roundings), except [connected], whose sums are bounded as the
 *    forward ones: the length of the sum and the magnitude of its terms;
 *  - an update: each value moves from its old value v by a step formed in
 *    at most UPDATE_ROUNDINGS roundings (Adam's moments, square root and
 *    division: 12; the calibration of R, a sum over K <= 4 branches and a
 *    division: K + 4), so two evaluations differ by at most
 *    2 gamma(m) (|v| + 2 |step|), the 2 covering the step's own rounding.
 * Tiny values lose what lies below the normal range: UNDERFLOW. */
#define ADDED_ROUNDINGS 6
#define UPDATE_ROUNDINGS 32
#define UNDERFLOW 1e-30

static float *copy_of(const float *x, size_t n)
{
    float *c = malloc((n ? n : 1) * sizeof(float));
    if (!c) exit(2);
    if (n) memcpy(c, x, n * sizeof(float));
    return c;
}

/* Reports the first of n values outside its bound, bound(i). */
#define CHECK_EACH(what, which, n, got, want, bound)                                               \
    do {                                                                                           \
        long bad_ = -1;                                                                            \
        for (size_t i = 0; i < (n) && bad_ < 0; ++i)                                               \
            if (!(fabs((double)(got)[i] - (want)[i]) <= (bound))) bad_ = (long)i;                  \
        char name_[192];                                                                           \
        snprintf(name_, sizeof(name_), "%s: %s", what, which);                                     \
        if (bad_ < 0) {                                                                            \
            CHECK(1, name_, "%zu values", (size_t)(n));                                            \
        } else {                                                                                   \
            size_t i = (size_t)bad_;                                                               \
            CHECK(0, name_, "value %zu: GPU %.9g, CPU %.9g, bound %.3g", i, (double)(got)[i],      \
                  (double)(want)[i], (double)(bound));                                             \
        }                                                                                          \
    } while (0)

/* A GPU array within the double evaluation's bounds. */
static void check_shadow(const char *what, const char *which, float *gpu, const bounded *b, size_t n)
{
    if (!gpu || !b || !n) return;
    float *g = pulled(gpu, n);
    CHECK_EACH(what, which, n, g, b->v, b->e[i] + UNDERFLOW);
    free(g);
}

/* A GPU array within one bound of the CPU's. */
static void check_close(const char *what, const char *which, float *gpu, const float *cpu, size_t n, double bound)
{
    if (!gpu || !n) return;
    float *g = pulled(gpu, n);
    CHECK_EACH(what, which, n, g, cpu, bound + UNDERFLOW);
    free(g);
}

/* A value that moved from before[i] to cpu[i] by a step of `roundings`. */
static void check_moved(const char *what, const char *which, float *gpu, const float *before, const float *cpu,
                        size_t n, int roundings)
{
    if (!gpu || !n) return;
    float *g = pulled(gpu, n);
    double gam = rounding_gamma(roundings);
    CHECK_EACH(what, which, n, g, cpu, 2 * gam * (fabs(before[i]) + 2 * fabs(cpu[i] - before[i])) + UNDERFLOW);
    free(g);
}

/* ---- networks ---------------------------------------------------------------- */

static network *parse_text(const char *text, int gpu)
{
    char path[] = "/tmp/gpu_check_cfg_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) exit(2);
    FILE *fp = fdopen(fd, "w");
    fputs(text, fp);
    fclose(fp);
    gpu_index = gpu;
    network *net = parse_network_cfg(path);
    unlink(path);
    net->gpu_index = gpu;
    return net;
}

/* Parameters and optimizer state from one network to the other through a
 * weights file and its .state: that runs the pull-before-save and
 * push-after-load hooks too.  gpu: the gpu_index of each side. */
static void copy_weights(network *from, int from_gpu, network *to, int to_gpu)
{
    char path[] = "/tmp/gpu_check_w_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) exit(2);
    close(fd);
    gpu_index = from_gpu;
    save_weights(from, path);
    gpu_index = to_gpu;
    load_weights(to, path);
    char state[sizeof(path) + 8];
    snprintf(state, sizeof(state), "%s.state", path);
    unlink(path);
    unlink(state);
}

static void fill_batch(network *a, network *b, rng *g)
{
    for (int i = 0; i < a->inputs * a->batch; ++i) a->input[i] = b->input[i] = rng_uniform_range(g, -1, 1);
    memset(a->truth, 0, a->truths * a->batch * sizeof(float));
    memset(b->truth, 0, b->truths * b->batch * sizeof(float));
    for (int k = 0; k < a->batch; ++k) {
        int c = (int)rng_below(g, a->truths);
        a->truth[k * a->truths + c] = b->truth[k * b->truths + c] = 1;
    }
}

static int is_gcconv(const layer *l)
{
    return l->type == EXTENSION && l->ext && strcmp(l->ext->section, "[gcconv]") == 0;
}

/* The layers conv_shadow.c evaluates. */
static int shadowed(const layer *l)
{
    return is_gcconv(l) || (l->type == CONVOLUTIONAL && l->groups == 1);
}

/* Layer i forward, as forward_network() and forward_network_gpu() run it. */
static void forward_layer(network *n, int i, int gpu)
{
    network net = *n;
    net.index = i;
    if (i > 0) {
        net.input = n->layers[i - 1].output;
        net.input_gpu = n->layers[i - 1].output_gpu;
    }
    layer l = n->layers[i];
    gpu_index = gpu ? 0 : -1;
    if (gpu) {
        if (l.delta_gpu) fill_gpu(l.outputs * l.batch, 0, l.delta_gpu, 1);
        l.forward_gpu(l, net);
    } else {
        if (l.delta) fill_cpu(l.outputs * l.batch, 0, l.delta, 1);
        l.forward(l, net);
    }
}

/* Layer i backward, as backward_network() and backward_network_gpu() do. */
static void backward_layer(network *n, int i, int gpu)
{
    network net = *n;
    net.index = i;
    if (i > 0) {
        layer prev = n->layers[i - 1];
        net.input = prev.output;
        net.delta = prev.delta;
        net.input_gpu = prev.output_gpu;
        net.delta_gpu = prev.delta_gpu;
    }
    layer l = n->layers[i];
    gpu_index = gpu ? 0 : -1;
    if (gpu) l.backward_gpu(l, net);
    else l.backward(l, net);
}

/* What the forward half of a step leaves for the backward half. */
typedef struct step_record {
    float **gpu_out;                            /* the GPU's outputs, by layer */
    float **rolling_mean, **rolling_variance;   /* the CPU's before the layer ran */
} step_record;

static void forward_compare(const char *name, int step, network *nc, network *ng, step_record *r)
{
    float **outs = calloc(nc->n, sizeof(float *));
    gpu_index = 0;
    cuda_push_array(ng->input_gpu, ng->input, (size_t)ng->inputs * ng->batch);
    cuda_push_array(ng->truth_gpu, ng->truth, (size_t)ng->truths * ng->batch);
    for (int i = 0; i < nc->n; ++i) {
        layer *lc = &nc->layers[i], *lg = &ng->layers[i];
        size_t count = (size_t)lc->outputs * lc->batch;
        int scales = lc->batch_normalize && lc->rolling_mean ? layer_param_counts(lc).scales : 0;
        r->rolling_mean[i] = scales ? copy_of(lc->rolling_mean, scales) : NULL;
        r->rolling_variance[i] = scales ? copy_of(lc->rolling_variance, scales) : NULL;
        forward_layer(nc, i, 0);
        forward_layer(ng, i, 1);
        r->gpu_out[i] = pulled(lg->output_gpu, count);
        cuda_push_array(lg->output_gpu, lc->output, count);   /* the next layers read the CPU's */
        outs[i] = lc->output;
        if (shadowed(lc)) continue;   /* checked with its backward pass */
        char what[96], which[32], why[160];
        snprintf(what, sizeof(what), "%s layer %d", name, i);
        snprintf(which, sizeof(which), "step %d output", step);
        double b = layer_rounding_bound(nc, i, nc->input, outs, 0, why, sizeof(why));
        if (b < 0) CHECK(0, what, "%s", why);
        else CHECK_EACH(what, which, count, r->gpu_out[i], lc->output, b + UNDERFLOW);
    }
    free(outs);
}

/* The CPU's layer i backward, then the GPU's from the same deltas. */
static void backward_both(network *nc, network *ng, int i, const float *out_delta, const float *in_before)
{
    layer *lc = &nc->layers[i];
    backward_layer(nc, i, 0);
    gpu_index = 0;
    cuda_push_array(ng->layers[i].delta_gpu, (float *)out_delta, (size_t)lc->outputs * lc->batch);
    if (in_before)
        cuda_push_array(ng->layers[i - 1].delta_gpu, (float *)in_before,
                        (size_t)nc->layers[i - 1].outputs * nc->layers[i - 1].batch);
    backward_layer(ng, i, 1);
}

/* A convolution's step against its double evaluation. */
static void shadow_checks(const char *what, int step, layer *lc, layer *lg, layer *pg, const conv_shadow *s,
                          const float *gpu_out)
{
    char which[64];
    snprintf(which, sizeof(which), "step %d output", step);
    CHECK_EACH(what, which, s->output.n, gpu_out, s->output.v, s->output.e[i] + UNDERFLOW);
    snprintf(which, sizeof(which), "step %d delta", step);
    check_shadow(what, which, lg->delta_gpu, &s->delta, s->delta.n);
    snprintf(which, sizeof(which), "step %d input delta", step);
    if (pg && s->input_delta.n) check_shadow(what, which, pg->delta_gpu, &s->input_delta, s->input_delta.n);
    struct { const char *name; float *const *cpu; float *gpu; } f[] = {
        {"weight_updates", &lc->weight_updates, lg->weight_updates_gpu},
        {"bias_updates", &lc->bias_updates, lg->bias_updates_gpu},
        {"scale_updates", &lc->scale_updates, lg->scale_updates_gpu},
        {"rolling_mean", &lc->rolling_mean, lg->rolling_mean_gpu},
        {"rolling_variance", &lc->rolling_variance, lg->rolling_variance_gpu},
    };
    for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); ++k) {
        const bounded *b = shadow_field(s, lc, f[k].cpu);
        snprintf(which, sizeof(which), "step %d %s", step, f[k].name);
        if (b && b->n) check_shadow(what, which, f[k].gpu, b, b->n);
    }
    if (is_gcconv(lc)) {
        snprintf(which, sizeof(which), "step %d R_updates", step);
        check_shadow(what, which, gcconv_state_of(*lg)->R_updates_gpu, &s->R_updates, s->R_updates.n);
    }
}

/* [connected], linear: its three sums, each bounded by its length and the
 * magnitude of its terms (rounding.c's rule). */
static void connected_checks(const char *what, int step, layer *lc, layer *lg, layer *pg, const float *x,
                             const float *out_delta, const float *in_before, const float *wu, const float *bu)
{
    if (lc->batch_normalize || lc->activation != LINEAR) {
        CHECK(0, what, "%s", "no derived bound here for [connected] with batch norm or an activation");
        return;
    }
    int B = lc->batch, I = lc->inputs, O = lc->outputs;
    double *wm = calloc((size_t)O * I, sizeof(double)), *bm = calloc(O, sizeof(double));
    double *dm = calloc((size_t)B * I, sizeof(double));
    for (int b = 0; b < B; ++b)
        for (int o = 0; o < O; ++o) {
            double d = fabs(out_delta[b * O + o]);
            bm[o] += d;
            for (int j = 0; j < I; ++j) {
                wm[(size_t)o * I + j] += d * fabs(x[(size_t)b * I + j]);
                dm[(size_t)b * I + j] += d * fabs(lc->weights[(size_t)o * I + j]);
            }
        }
    char which[64];
    float *g = pulled(lg->weight_updates_gpu, (size_t)O * I);
    snprintf(which, sizeof(which), "step %d weight_updates", step);
    CHECK_EACH(what, which, (size_t)O * I, g, lc->weight_updates, sum_bound(B + 2, fabs(wu[i]) + wm[i]) + UNDERFLOW);
    free(g);
    g = pulled(lg->bias_updates_gpu, O);
    snprintf(which, sizeof(which), "step %d bias_updates", step);
    CHECK_EACH(what, which, (size_t)O, g, lc->bias_updates, sum_bound(B + 1, fabs(bu[i]) + bm[i]) + UNDERFLOW);
    free(g);
    if (pg && in_before) {
        g = pulled(pg->delta_gpu, (size_t)B * I);
        snprintf(which, sizeof(which), "step %d input delta", step);
        CHECK_EACH(what, which, (size_t)B * I, g, pg->delta, sum_bound(O + 2, fabs(in_before[i]) + dm[i]) + UNDERFLOW);
        free(g);
    }
    free(wm);
    free(bm);
    free(dm);
}

static void backward_compare(const char *name, int step, network *nc, network *ng, step_record *r)
{
    for (int i = nc->n - 1; i >= 0; --i) {
        layer *lc = &nc->layers[i], *lg = &ng->layers[i];
        layer *pc = i ? &nc->layers[i - 1] : NULL, *pg = i ? &ng->layers[i - 1] : NULL;
        size_t nin = pc ? (size_t)pc->outputs * pc->batch : 0;
        const float *x = pc ? pc->output : nc->input;
        float *out_delta = copy_of(lc->delta, (size_t)lc->outputs * lc->batch);
        float *in_before = pc && pc->delta ? copy_of(pc->delta, nin) : NULL;
        char what[96], which[64];
        snprintf(what, sizeof(what), "%s layer %d", name, i);
        if (shadowed(lc)) {
            layer before = *lc;   /* the rolling statistics as the forward pass found them */
            if (r->rolling_mean[i]) {
                before.rolling_mean = r->rolling_mean[i];
                before.rolling_variance = r->rolling_variance[i];
            }
            conv_shadow s = shadow_step(before, x, NULL, out_delta, in_before, 1);
            backward_both(nc, ng, i, out_delta, in_before);
            shadow_checks(what, step, lc, lg, pg, &s, r->gpu_out[i]);
            free_shadow(&s);
        } else if (lc->type == CONNECTED) {
            float *wu = copy_of(lc->weight_updates, (size_t)lc->outputs * lc->inputs);
            float *bu = copy_of(lc->bias_updates, lc->outputs);
            backward_both(nc, ng, i, out_delta, in_before);
            connected_checks(what, step, lc, lg, pg, x, out_delta, in_before, wu, bu);
            free(wu);
            free(bu);
        } else {
            backward_both(nc, ng, i, out_delta, in_before);
            snprintf(which, sizeof(which), "step %d input delta", step);
            if (in_before) check_moved(what, which, pg->delta_gpu, in_before, pc->delta, nin, ADDED_ROUNDINGS);
        }
        free(out_delta);
        free(in_before);
    }
}

typedef struct param_twin {
    char name[32];
    float *cpu, *gpu;
    size_t n;
} param_twin;

/* The arrays an update changes (optim/params.h's list less the rolling
 * statistics), the CPU network's beside the GPU network's: the two layers
 * come from one cfg, so their lists match entry by entry. */
static int param_twins(layer *c, layer *g, param_twin t[LAYER_ARRAYS_MAX])
{
    layer_array ac[LAYER_ARRAYS_MAX], ag[LAYER_ARRAYS_MAX];
    int n = layer_arrays(c, ac), count = 0;
    if (layer_arrays(g, ag) != n) return 0;
    for (int k = 0; k < n; ++k) {
        if (!strncmp(ac[k].name, "rolling_", 8) || !ag[k].device) continue;
        param_twin *p = &t[count++];
        snprintf(p->name, sizeof p->name, "%s%s", ac[k].name, ac[k].updates ? "_updates" : "");
        p->cpu = ac[k].host;
        p->gpu = ag[k].device;
        p->n = ac[k].n;
    }
    return count;
}

/* The update, from the CPU's gradients and state on both sides. */
static void update_compare(const char *name, int step, network *nc, network *ng)
{
    copy_weights(nc, -1, ng, 0);
    gpu_index = 0;
    for (int i = 0; i < nc->n; ++i)
        if (is_gcconv(&nc->layers[i])) {
            gcconv_state *sc = gcconv_state_of(nc->layers[i]);
            cuda_push_array(gcconv_state_of(ng->layers[i])->R_updates_gpu, sc->R_updates, (size_t)sc->K * sc->ss);
        }
    param_twin (*t)[LAYER_ARRAYS_MAX] = calloc(nc->n, sizeof(*t));
    int *count = calloc(nc->n, sizeof(int));
    float ***before = calloc(nc->n, sizeof(float **));
    for (int i = 0; i < nc->n; ++i) {
        count[i] = param_twins(&nc->layers[i], &ng->layers[i], t[i]);
        before[i] = calloc(LAYER_ARRAYS_MAX, sizeof(float *));
        for (int k = 0; k < count[i]; ++k) before[i][k] = copy_of(t[i][k].cpu, t[i][k].n);
    }
    gpu_index = 0;
    update_network(ng);
    gpu_index = -1;
    update_network(nc);
    gpu_index = 0;
    for (int i = 0; i < nc->n; ++i) {
        char what[96], which[64];
        snprintf(what, sizeof(what), "%s layer %d", name, i);
        for (int k = 0; k < count[i]; ++k) {
            snprintf(which, sizeof(which), "step %d updated %s", step, t[i][k].name);
            check_moved(what, which, t[i][k].gpu, before[i][k], t[i][k].cpu, t[i][k].n, UPDATE_ROUNDINGS);
            free(before[i][k]);
        }
        free(before[i]);
    }
    free(before);
    free(count);
    free(t);
}

/* Two training steps of the same network on both sides, each layer and
 * each update on the same inputs. */
static void compare_case(const char *name, const char *cfg)
{
    network *ng = parse_text(cfg, 0);
    network *nc = parse_text(cfg, -1);
    rng g;
    rng_seed(&g, 7, 0);
    for (int step = 1; step <= 2; ++step) {
        step_record r = {calloc(nc->n, sizeof(float *)), calloc(nc->n, sizeof(float *)),
                         calloc(nc->n, sizeof(float *))};
        copy_weights(nc, -1, ng, 0);
        fill_batch(ng, nc, &g);
        ng->train = nc->train = 1;
        forward_compare(name, step, nc, ng, &r);
        backward_compare(name, step, nc, ng, &r);
        update_compare(name, step, nc, ng);
        for (int i = 0; i < nc->n; ++i) {
            free(r.gpu_out[i]);
            free(r.rolling_mean[i]);
            free(r.rolling_variance[i]);
        }
        free(r.gpu_out);
        free(r.rolling_mean);
        free(r.rolling_variance);
    }
    gpu_index = 0;
    free_network(ng);
    gpu_index = -1;
    free_network(nc);
    gpu_index = 0;
}

#define NET(extra) \
    "[net]\nbatch=3\nsubdivisions=1\nheight=9\nwidth=9\nchannels=3\nseed=5\n" \
    "learning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n" extra "\n"
#define HEAD "[avgpool]\n\n[connected]\noutput=5\nactivation=linear\n\n[softmax]\n"

static void gcconv_cases(void)
{
    /* full mixing: expand (layer 0), batch norm, a strided 3x3, a 1x1 that
     * is pointwise and a strided 1x1 (im2col), K = 1 */
    compare_case("full", NET("")
        "[gcconv]\nbranches=4\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[gcconv]\nbranches=4\nfilters=3\nsize=3\nstride=2\npad=1\nactivation=relu\n\n"
        "[gcconv]\nbranches=4\nfilters=5\nsize=1\nbatch_normalize=1\nactivation=linear\n\n"
        "[gcconv]\nbranches=4\nfilters=2\nsize=1\nstride=2\nactivation=leaky\n\n" HEAD);
    compare_case("full K=1", NET("")
        "[gcconv]\nbranches=1\nfilters=6\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[gcconv]\nbranches=2\nexpand=1\nfilters=3\nsize=5\npad=1\nactivation=leaky\n\n" HEAD);
    /* branch mixing: expand, gathered branches (3x3 and pointwise), [gcmerge] */
    compare_case("branch", NET("")
        "[gcconv]\nbranches=3\nmixing=branch\nfilters=4\nsize=3\npad=1\nactivation=relu\n\n"
        "[gcconv]\nbranches=3\nmixing=branch\nfilters=4\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[gcconv]\nbranches=3\nmixing=branch\nfilters=2\nsize=1\nactivation=linear\n\n"
        "[gcmerge]\nmode=max\n\n" HEAD);
    compare_case("branch expand bn", NET("")
        "[gcconv]\nbranches=2\nmixing=branch\nfilters=3\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[gcmerge]\nmode=mean\n\n"
        "[gcconv]\nbranches=4\nmixing=branch\nexpand=1\nfilters=2\nsize=1\nstride=2\nactivation=leaky\n\n" HEAD);
    /* Adam: a head without upstream parameters, because upstream's GPU Adam
     * (which also decays biases) is not the CPU's Adam (optimizer.c) */
    compare_case("adam", NET("optimizer=adam\n")
        "[gcconv]\nbranches=4\nfilters=3\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[gcconv]\nbranches=4\nmixing=branch\nfilters=2\nsize=3\npad=1\nactivation=leaky\n\n"
        "[avgpool]\n\n[softmax]\n");
    /* a mix with upstream layers between: route and shortcut keep the layout */
    compare_case("with upstream layers", NET("")
        "[gcconv]\nbranches=2\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[gcconv]\nbranches=2\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=linear\n\n"
        "[shortcut]\nfrom=-2\nactivation=leaky\n\n"
        "[maxpool]\nsize=2\nstride=2\n\n"
        "[convolutional]\nfilters=8\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n" HEAD);
}

/* [convolutional] on the GPU path against the CPU: 3x3 with batch norm,
 * strided, grouped, a pointwise 1x1 (read as it lies, its input delta
 * written) and a strided 1x1 (a convolution, patches/0091), with a [gcconv]
 * K=2 between. */
static void convolutional_cases(void)
{
    compare_case("convolutional", NET("")
        "[convolutional]\nfilters=6\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
        "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=relu\n\n"
        "[convolutional]\nfilters=4\nsize=3\npad=1\ngroups=2\nbatch_normalize=1\nactivation=leaky\n\n"
        "[convolutional]\nfilters=5\nsize=1\nactivation=linear\n\n"
        "[gcconv]\nbranches=2\nfilters=4\nsize=3\npad=1\nactivation=leaky\n\n"
        "[convolutional]\nfilters=3\nsize=1\nstride=2\nactivation=leaky\n\n" HEAD);
}

/* ---- csgd noise ---------------------------------------------------------------- */

typedef struct moments {
    double mean, sd, skew, kurt, beyond2;
} moments;

static moments moments_of(const float *x, size_t n)
{
    moments m = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < n; ++i) m.mean += x[i];
    m.mean /= n;
    double m2 = 0, m3 = 0, m4 = 0;
    for (size_t i = 0; i < n; ++i) {
        double d = x[i] - m.mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    m2 /= n;
    m3 /= n;
    m4 /= n;
    m.sd = sqrt(m2);
    m.skew = m3 / (m2 * m.sd);
    m.kurt = m4 / (m2 * m2);
    for (size_t i = 0; i < n; ++i) m.beyond2 += fabs(x[i] - m.mean) > 2 * m.sd;
    m.beyond2 /= n;
    return m;
}

/* n draws of N(0, sd^2): each moment within SE_LIMIT of its standard errors
 * for a normal sample (mean sd / sqrt(n); sd, relative, 1 / sqrt(2n);
 * skewness sqrt(6 / n); kurtosis sqrt(24 / n); a proportion p,
 * sqrt(p (1 - p) / n)).  At 6 standard errors a correct generator fails one
 * check in about 5e8. */
#define SE_LIMIT 6

static void check_normal(const char *name, moments m, double sd, size_t n)
{
    double rn = sqrt((double)n), p2 = 0.0455;
    CHECK(fabs(m.mean) < SE_LIMIT * sd / rn, name, "mean %.3g (limit %.3g)", m.mean, SE_LIMIT * sd / rn);
    CHECK(fabs(m.sd / sd - 1) < SE_LIMIT / sqrt(2.0 * n), name, "sd %.5g, expected %.5g", m.sd, sd);
    CHECK(fabs(m.skew) < SE_LIMIT * sqrt(6.0 / n), name, "skewness %.4f", m.skew);
    CHECK(fabs(m.kurt - 3) < SE_LIMIT * sqrt(24.0 / n), name, "kurtosis %.4f", m.kurt);
    CHECK(fabs(m.beyond2 - p2) < SE_LIMIT * sqrt(p2 * (1 - p2) / n), name, "P(|x| > 2 sd) = %.4f, normal 0.0455",
          m.beyond2);
}

/* The GPU's ctr_normal against the C twin's: the same Philox words, so the
 * same u1 and u2 and the same float 2 pi u2; they differ only in logf (CUDA
 * and glibc within 1 ulp each), cosf (CUDA within 2 ulp, glibc 1) and
 * sqrtf and the last product (correctly rounded, half an ulp each side):
 * 2 + 3 ulp + 2 half-ulps, at most 2^-23 |z| an ulp, with the square root
 * halving log's error: under 12 u |z|; 16 u |z| leaves a spare. */
#define NOISE_TWIN_ULPS 16


static void noise_kernel_checks(void)
{
    const int n = 1 << 21;
    float *x = calloc(n, sizeof(float));
    float *x_gpu = cuda_make_array(x, n);
    uint64_t key = 0x0123456789abcdefULL;
    ctr_normal_add_gpu(x_gpu, n, 1.0f, key, 3, 11, CSGD_TAG_WEIGHT);
    float *g = pulled(x_gpu, n);
    float *twin = malloc(n * sizeof(float));
    for (int i = 0; i < n; ++i) twin[i] = csgd_ctr_normal(key, i, 3, 11, CSGD_TAG_WEIGHT);
    CHECK_EACH("noise kernel", "its C twin", (size_t)n, g, twin,
               NOISE_TWIN_ULPS * FLOAT_UNIT_ROUNDOFF * fabs(twin[i]) + UNDERFLOW);
    free(twin);
    check_normal("noise kernel statistics (GPU)", moments_of(g, n), 1, n);

    /* the CPU path (sequential xoshiro stream) draws the same distribution */
    rng r;
    rng_seed(&r, 1, RNG_NOISE);
    memset(x, 0, n * sizeof(float));
    csgd_add_noise(x, n, 1.0f, &r);
    moments mc = moments_of(x, n), mg = moments_of(g, n);
    check_normal("noise statistics (CPU stream)", mc, 1, n);
    /* two independent estimates: the difference has s.e. sqrt(2) / sqrt(2n) */
    CHECK(fabs(mc.sd - mg.sd) < SE_LIMIT / sqrt((double)n), "noise sd: GPU against CPU", "GPU %.5f, CPU %.5f",
          mg.sd, mc.sd);

    /* a different step or layer gives an uncorrelated sequence */
    fill_gpu(n, 0, x_gpu, 1);
    ctr_normal_add_gpu(x_gpu, n, 1.0f, key, 3, 12, CSGD_TAG_WEIGHT);
    float *h = pulled(x_gpu, n);
    double dot = 0;
    for (int i = 0; i < n; ++i) dot += (double)g[i] * h[i];
    double corr = dot / n;
    CHECK(fabs(corr) < SE_LIMIT / sqrt((double)n), "noise: next step uncorrelated", "correlation %.3g", corr);
    free(h);
    free(g);
    free(x);
    cuda_free(x_gpu);
}

static const char *const noise_layers =
    "[gcconv]\nbranches=4\nfilters=16\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
    "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=leaky\n\n"
    "[avgpool]\n\n[connected]\noutput=100\nactivation=linear\n\n[softmax]\n";

/* One update with a zero gradient: what moves is the noise alone. */
static void noise_in_network(const char *name, const char *keys, int gradient)
{
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             "[net]\nbatch=4\nsubdivisions=1\nheight=8\nwidth=8\nchannels=3\nseed=9\n"
             "optimizer=csgd\nsigma=0.01\nmomentum=0\ndecay=0\n%s\n\n%s", keys, noise_layers);
    network *net = parse_text(cfg, 0);
    net_ext *x = net_ext_of(net);
    uint64_t key = csgd_noise_key(x->seed);
    float lr = net->learning_rate;
    for (int t = 1; t <= 2; ++t) {
        float *before[8] = {0}, *bias_before[8] = {0}, *r_before[8] = {0};
        for (int i = 0; i < net->n; ++i) {
            layer *l = &net->layers[i];
            int n = csgd_noisy_weights(l);
            if (n) before[i] = pulled(l->weights_gpu, n);
            if (n) bias_before[i] = pulled(l->biases_gpu, l->nbiases ? l->nbiases : l->outputs);
            if (is_gcconv(l)) r_before[i] = pulled(gcconv_state_of(*l)->R_gpu, gcconv_state_of(*l)->K * gcconv_state_of(*l)->ss);
        }
        update_network(net);
        float sd = gradient ? lr * csgd_gradient_sigma(x->sigma, x->noise_gamma, t - 1) : x->sigma;
        for (int i = 0; i < net->n; ++i) {
            layer *l = &net->layers[i];
            int n = csgd_noisy_weights(l);
            if (!n) continue;
            float *after = pulled(l->weights_gpu, n);
            double *want = malloc(n * sizeof(double));
            for (int k = 0; k < n; ++k) {
                after[k] -= before[i][k];
                want[k] = sd * csgd_ctr_normal(key, k, i, t, gradient ? CSGD_TAG_GRADIENT : CSGD_TAG_WEIGHT);
            }
            /* The step is the noise z, NOISE_TWIN_ULPS from the C twin's,
             * scaled in at most 6 roundings (sigma times batch, then the
             * learning rate over the batch); adding it to w and taking w
             * away again round once each, relative to |w| + |step|. */
            char what[128];
            snprintf(what, sizeof(what), "%s: step %d layer %d noise", name, t, i);
            const float *w0 = before[i];
            CHECK_EACH(what, "the counter formula", (size_t)n, after, want,
                       4 * FLOAT_UNIT_ROUNDOFF * fabs(w0[i]) + (NOISE_TWIN_ULPS + 8) * FLOAT_UNIT_ROUNDOFF * fabs(want[i])
                           + UNDERFLOW);
            free(want);
            moments m = moments_of(after, n);
            snprintf(what, sizeof(what), "%s: step %d layer %d noise sd", name, t, i);
            /* the sample sd of n draws: s.e. 1 / sqrt(2n) relative, and a
             * bias of 1 / (2n) from dividing by n */
            CHECK(fabs(m.sd / sd - 1) < SE_LIMIT / sqrt(2.0 * n) + 1.0 / (2 * n), what,
                  "sd %.4g, expected %.4g (%d weights)", m.sd, sd, n);
            int nb = l->nbiases ? l->nbiases : l->outputs;
            float *b = pulled(l->biases_gpu, nb);
            snprintf(what, sizeof(what), "%s: step %d layer %d biases untouched", name, t, i);
            CHECK(memcmp(b, bias_before[i], nb * sizeof(float)) == 0, what, "%s", "");
            if (r_before[i]) {
                gcconv_state *s = gcconv_state_of(*l);
                float *r = pulled(s->R_gpu, s->K * s->ss);
                snprintf(what, sizeof(what), "%s: step %d layer %d R untouched", name, t, i);
                /* a zero gradient leaves R as it was, up to its
                 * renormalisation: a sum of K and a division */
                check_moved(what, "R", s->R_gpu, r_before[i], r_before[i], (size_t)s->K * s->ss, s->K + 2);
                free(r);
            }
            free(b);
            free(after);
        }
        for (int i = 0; i < 8; ++i) {
            free(before[i]);
            free(bias_before[i]);
            free(r_before[i]);
        }
    }
    free_network(net);
}

/* ---- training on synthetic data ------------------------------------------------ */

typedef struct synthetic {
    int classes, size;
    float *templates;
    rng g;
} synthetic;

/* Each class is a fixed random image; a sample is its class image, shifted
 * by up to 2 pixels, plus as much noise again. */
static synthetic make_synthetic(int classes, int w, int h, int c, uint64_t seed)
{
    synthetic s = {classes, w * h * c, NULL, {{0}, 0, 0}};
    rng_seed(&s.g, seed, 0);
    s.templates = malloc((size_t)classes * s.size * sizeof(float));
    for (size_t i = 0; i < (size_t)classes * s.size; ++i) s.templates[i] = rng_uniform(&s.g);
    return s;
}

static void synthetic_batch(synthetic *s, network *net)
{
    int w = net->w, h = net->h, c = net->c;
    memset(net->truth, 0, (size_t)net->truths * net->batch * sizeof(float));
    for (int b = 0; b < net->batch; ++b) {
        int k = (int)rng_below(&s->g, s->classes);
        int dx = (int)rng_below(&s->g, 5) - 2, dy = (int)rng_below(&s->g, 5) - 2;
        const float *t = s->templates + (size_t)k * s->size;
        float *x = net->input + (size_t)b * net->inputs;
        for (int ch = 0; ch < c; ++ch)
            for (int y = 0; y < h; ++y)
                for (int xx = 0; xx < w; ++xx) {
                    int sy = (y + dy + h) % h, sx = (xx + dx + w) % w;
                    x[(ch * h + y) * w + xx] = 0.5f * t[(ch * h + sy) * w + sx] + 0.5f * rng_uniform(&s->g);
                }
        net->truth[b * net->truths + k] = 1;
    }
}

static float train_steps(network *net, synthetic *s, int iters, float *first, float *last)
{
    float sum_first = 0, sum_last = 0;
    int window = iters < 40 ? iters / 2 : 20;
    for (int i = 0; i < iters; ++i) {
        synthetic_batch(s, net);
        float loss = train_network_datum(net) / net->batch;
        if (i < window) sum_first += loss;
        if (i >= iters - window) sum_last += loss;
    }
    *first = sum_first / window;
    *last = sum_last / window;
    return *last;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc(size > 0 ? size : 1);
    *n = fread(buf, 1, size, fp);
    fclose(fp);
    return buf;
}

static void remove_weights(const char *path)
{
    char state[256];
    snprintf(state, sizeof(state), "%s.state", path);
    unlink(path);
    unlink(state);
}

static int same_weights(network *a, network *b)
{
    char pa[] = "/tmp/gpu_check_a_XXXXXX", pb[] = "/tmp/gpu_check_b_XXXXXX";
    close(mkstemp(pa));
    close(mkstemp(pb));
    save_weights(a, pa);
    save_weights(b, pb);
    size_t na = 0, nb = 0;
    char *ba = slurp(pa, &na), *bb = slurp(pb, &nb);
    int same = ba && bb && na == nb && memcmp(ba, bb, na) == 0;
    free(ba);
    free(bb);
    remove_weights(pa);
    remove_weights(pb);
    return same;
}

static void training_checks(const char *cfgfile, int iters)
{
    printf("training %s for %d iterations on synthetic data\n", cfgfile, iters);
    gpu_index = 0;
    network *net = load_network((char *)cfgfile, NULL, 0);
    synthetic s = make_synthetic(net->truths, net->w, net->h, net->c, 3);
    float first, last;
    double t0 = now();
    train_steps(net, &s, iters, &first, &last);
    double secs = now() - t0;
    printf("  loss %.4f -> %.4f in %.1f s (%.0f img/s)\n", first, last, secs, iters * net->batch / secs);
    CHECK(isfinite(last) && last < 0.5f * first, "CCNN training: the loss falls", "first %.4f, last %.4f",
          first, last);

    /* the same seed gives the same weights on the GPU, noise included */
    network *a = load_network((char *)cfgfile, NULL, 0);
    network *b = load_network((char *)cfgfile, NULL, 0);
    synthetic sa = make_synthetic(a->truths, a->w, a->h, a->c, 4), sb = make_synthetic(b->truths, b->w, b->h, b->c, 4);
    train_steps(a, &sa, 10, &first, &last);
    train_steps(b, &sb, 10, &first, &last);
    CHECK(same_weights(a, b), "CCNN training: same seed, same weights (10 steps)", "%s", "");

    /* save on the GPU, load into a fresh network: the same outputs, bit for bit */
    char path[] = "/tmp/gpu_check_rt_XXXXXX";
    close(mkstemp(path));
    save_weights(net, path);
    network *back = load_network((char *)cfgfile, path, 0);
    synthetic_batch(&s, net);
    memcpy(back->input, net->input, (size_t)net->inputs * net->batch * sizeof(float));
    net->train = back->train = 0;
    float *out_a = network_predict(net, net->input);
    size_t no = (size_t)net->outputs * net->batch;
    float *copy = malloc(no * sizeof(float));
    memcpy(copy, out_a, no * sizeof(float));
    float *out_b = network_predict(back, back->input);
    /* the same weights, bit for bit, through the same kernels on the same
     * inputs: the same bits out (nothing here sums with atomics) */
    CHECK(memcmp(out_b, copy, no * sizeof(float)) == 0, "weights saved from the GPU load back (same outputs)",
          "%zu outputs", no);
    remove_weights(path);
    free(copy);
    free_network(back);
    free_network(a);
    free_network(b);
    free_network(net);
    free(s.templates);
    free(sa.templates);
    free(sb.templates);
}

static void benchmark(const char *cfgfile, int iters)
{
    gpu_index = 0;
    network *net = load_network((char *)cfgfile, NULL, 0);
    synthetic s = make_synthetic(net->truths, net->w, net->h, net->c, 5);
    float first, last;
    train_steps(net, &s, 3, &first, &last);   /* warm-up: cuBLAS handles, caches */
    synthetic_batch(&s, net);
    cudaDeviceSynchronize();
    double t0 = now();
    for (int i = 0; i < iters; ++i) train_network_datum(net);
    cudaDeviceSynchronize();
    double secs = now() - t0;
    printf("BENCH darknet %s batch=%d conv=%s: %.1f img/s (training, %d iterations, %.1f ms each)\n", cfgfile,
           net->batch, gpu_conv_path_name(gpu_conv_path_chosen()), iters * net->batch / secs, iters,
           1000 * secs / iters);
    free_network(net);
    free(s.templates);
}

int main(int argc, char **argv)
{
    int iters = 300, bench_iters = 30, skip_train = 0, skip_bench = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bench-iters") && i + 1 < argc) bench_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--skip-train")) skip_train = 1;
        else if (!strcmp(argv[i], "--skip-bench")) skip_bench = 1;
        else {
            fprintf(stderr, "usage: %s [--iters N] [--bench-iters N] [--skip-train] [--skip-bench]\n", argv[0]);
            return 2;
        }
    }
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < 1) {
        printf("FAIL no CUDA device\n");
        return 1;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device: %s (sm_%d%d), convolutions: %s\n", prop.name, prop.major, prop.minor,
           gpu_conv_path_name(gpu_conv_path_chosen()));
    cuda_set_device(0);

    convolutional_cases();
    gcconv_cases();
    noise_kernel_checks();
    noise_in_network("weight noise", "noise=weight\nlearning_rate=0.1", 0);
    noise_in_network("gradient noise", "noise=gradient\nnoise_gamma=0.55\nlearning_rate=0.5", 1);
    if (!skip_train) training_checks("cfg/gcconv-example.cfg", iters);
    if (!skip_bench) {
        benchmark("cfg/resnet18-cifar-k4.cfg", bench_iters);
        benchmark("cfg/resnet18-cifar.cfg", bench_iters);
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
