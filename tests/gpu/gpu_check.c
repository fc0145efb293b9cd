/* gpu_check.c: GPU against CPU for [gcconv], [gcmerge] and csgd, a short
 * training run, and a throughput figure.  Built and run by tests/gpu/run on
 * a machine with a CUDA GPU (GPU=1 build); needs nothing but libdarknet.
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

/* max |a - b| / max(max |b|, floor): a relative error that does not blow up
 * on entries near zero. */
static double rel_error(const float *a, const float *b, size_t n, double floor_)
{
    double diff = 0, scale = floor_;
    for (size_t i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= diff)) diff = d;   /* NaN counts as the largest */
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return diff / scale;
}

static float *pulled(float *gpu, size_t n)
{
    float *h = malloc(n * sizeof(float));
    if (!h) exit(2);
    cuda_pull_array(gpu, h, n);
    return h;
}

/* GPU array against its CPU twin. */
static void compare(const char *what, const char *which, float *gpu, const float *cpu, size_t n, double tol)
{
    if (!gpu || !cpu || !n) return;
    float *g = pulled(gpu, n);
    double e = rel_error(g, cpu, n, 1e-6);
    char name[160];
    snprintf(name, sizeof(name), "%s: %s", what, which);
    CHECK(e <= tol, name, "rel err %.3g (tol %.1g, %zu values)", e, tol, n);
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

/* The CPU network takes the GPU network's parameters through a weights
 * file: that runs the pull-before-save and push-after-load hooks too. */
static void copy_weights(network *from_gpu, network *to_cpu)
{
    char path[] = "/tmp/gpu_check_w_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) exit(2);
    close(fd);
    gpu_index = 0;
    save_weights(from_gpu, path);
    gpu_index = -1;
    load_weights(to_cpu, path);
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

static void compare_params(const char *what, const char *stage, layer *g, layer *c, double tol, int updates)
{
    char which[96];
#define CMP(field, gfield, count)                                               \
    do {                                                                        \
        snprintf(which, sizeof(which), "%s %s", stage, #field);                 \
        compare(what, which, g->gfield, c->field, (count), tol);                \
    } while (0)
    param_counts n = layer_param_counts(c);
    if (updates) {
        CMP(weight_updates, weight_updates_gpu, n.weights);
        CMP(bias_updates, bias_updates_gpu, n.biases);
        CMP(scale_updates, scale_updates_gpu, c->batch_normalize ? n.scales : 0);
    } else {
        CMP(weights, weights_gpu, n.weights);
        CMP(biases, biases_gpu, n.biases);
        CMP(scales, scales_gpu, c->batch_normalize ? n.scales : 0);
        CMP(rolling_mean, rolling_mean_gpu, c->batch_normalize ? n.scales : 0);
        CMP(rolling_variance, rolling_variance_gpu, c->batch_normalize ? n.scales : 0);
    }
#undef CMP
    if (is_gcconv(c)) {
        gcconv_state *sg = gcconv_state_of(*g), *sc = gcconv_state_of(*c);
        snprintf(which, sizeof(which), "%s %s", stage, updates ? "R_updates" : "R");
        if (updates) compare(what, which, sg->R_updates_gpu, sc->R_updates, sc->K * sc->ss, tol);
        else compare(what, which, sg->R_gpu, sc->R, sc->K * sc->ss, tol);
    }
}

/* Forward, backward and two updates of the same network on both sides. */
static void compare_case(const char *name, const char *cfg)
{
    network *ng = parse_text(cfg, 0);
    network *nc = parse_text(cfg, -1);
    copy_weights(ng, nc);
    rng g;
    rng_seed(&g, 7, 0);
    for (int step = 1; step <= 2; ++step) {
        fill_batch(ng, nc, &g);
        ng->train = nc->train = 1;
        gpu_index = 0;
        forward_network(ng);
        gpu_index = -1;
        forward_network(nc);
        char stage[32];
        for (int i = 0; i < nc->n; ++i) {
            layer *lc = &nc->layers[i], *lg = &ng->layers[i];
            char what[96];
            snprintf(what, sizeof(what), "%s layer %d", name, i);
            snprintf(stage, sizeof(stage), "step %d output", step);
            compare(what, stage, lg->output_gpu, lc->output, (size_t)lc->outputs * lc->batch, 2e-4);
        }
        gpu_index = 0;
        backward_network(ng);
        gpu_index = -1;
        backward_network(nc);
        for (int i = 0; i < nc->n; ++i) {
            layer *lc = &nc->layers[i], *lg = &ng->layers[i];
            char what[96];
            snprintf(what, sizeof(what), "%s layer %d", name, i);
            snprintf(stage, sizeof(stage), "step %d delta", step);
            if (lc->delta) compare(what, stage, lg->delta_gpu, lc->delta, (size_t)lc->outputs * lc->batch, 1e-3);
            snprintf(stage, sizeof(stage), "step %d", step);
            compare_params(what, stage, lg, lc, 1e-3, 1);
        }
        gpu_index = 0;
        update_network(ng);
        gpu_index = -1;
        update_network(nc);
        for (int i = 0; i < nc->n; ++i) {
            char what[96];
            snprintf(what, sizeof(what), "%s layer %d", name, i);
            snprintf(stage, sizeof(stage), "step %d updated", step);
            compare_params(what, stage, &ng->layers[i], &nc->layers[i], 2e-4, 0);
            compare_params(what, stage, &ng->layers[i], &nc->layers[i], 1e-3, 1);
        }
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

static void check_normal(const char *name, moments m, double sd, size_t n)
{
    double se = sd / sqrt((double)n);
    CHECK(fabs(m.mean) < 5 * se, name, "mean %.3g (5 s.e. = %.3g)", m.mean, 5 * se);
    CHECK(fabs(m.sd / sd - 1) < 0.01, name, "sd %.5g, expected %.5g", m.sd, sd);
    CHECK(fabs(m.skew) < 0.02, name, "skewness %.4f", m.skew);
    CHECK(fabs(m.kurt - 3) < 0.05, name, "kurtosis %.4f", m.kurt);
    CHECK(fabs(m.beyond2 - 0.0455) < 0.002, name, "P(|x| > 2 sd) = %.4f, normal 0.0455", m.beyond2);
}

static void noise_kernel_checks(void)
{
    const int n = 1 << 21;
    float *x = calloc(n, sizeof(float));
    float *x_gpu = cuda_make_array(x, n);
    uint64_t key = 0x0123456789abcdefULL;
    ctr_normal_add_gpu(x_gpu, n, 1.0f, key, 3, 11, CSGD_TAG_WEIGHT);
    float *g = pulled(x_gpu, n);
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        double d = fabs((double)g[i] - csgd_ctr_normal(key, i, 3, 11, CSGD_TAG_WEIGHT));
        if (!(d <= worst)) worst = d;
    }
    CHECK(worst < 1e-5, "noise kernel equals its C twin", "max |gpu - cpu| = %.3g over %d draws", worst, n);
    check_normal("noise kernel statistics (GPU)", moments_of(g, n), 1, n);

    /* the CPU path (sequential xoshiro stream) draws the same distribution */
    rng r;
    rng_seed(&r, 1, RNG_NOISE);
    memset(x, 0, n * sizeof(float));
    csgd_add_noise(x, n, 1.0f, &r);
    moments mc = moments_of(x, n), mg = moments_of(g, n);
    check_normal("noise statistics (CPU stream)", mc, 1, n);
    CHECK(fabs(mc.sd - mg.sd) < 0.005, "noise sd: GPU against CPU", "GPU %.5f, CPU %.5f", mg.sd, mc.sd);

    /* a different step or layer gives an uncorrelated sequence */
    fill_gpu(n, 0, x_gpu, 1);
    ctr_normal_add_gpu(x_gpu, n, 1.0f, key, 3, 12, CSGD_TAG_WEIGHT);
    float *h = pulled(x_gpu, n);
    double dot = 0;
    for (int i = 0; i < n; ++i) dot += (double)g[i] * h[i];
    double corr = dot / n;
    CHECK(fabs(corr) < 5 / sqrt((double)n), "noise: next step uncorrelated", "correlation %.3g", corr);
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
            double worst = 0;
            for (int k = 0; k < n; ++k) {
                after[k] -= before[i][k];
                double want = sd * csgd_ctr_normal(key, k, i, t, gradient ? CSGD_TAG_GRADIENT : CSGD_TAG_WEIGHT);
                double d = fabs(after[k] - want);
                if (!(d <= worst)) worst = d;
            }
            char what[128];
            snprintf(what, sizeof(what), "%s: step %d layer %d noise is the counter formula", name, t, i);
            CHECK(worst < 1e-3 * sd + 1e-7, what, "max deviation %.3g (sd %.3g)", worst, sd);
            moments m = moments_of(after, n);
            snprintf(what, sizeof(what), "%s: step %d layer %d noise sd", name, t, i);
            CHECK(fabs(m.sd / sd - 1) < 6 / sqrt((double)n) + 0.01, what, "sd %.4g, expected %.4g (%d weights)",
                  m.sd, sd, n);
            int nb = l->nbiases ? l->nbiases : l->outputs;
            float *b = pulled(l->biases_gpu, nb);
            snprintf(what, sizeof(what), "%s: step %d layer %d biases untouched", name, t, i);
            CHECK(memcmp(b, bias_before[i], nb * sizeof(float)) == 0, what, "%s", "");
            if (r_before[i]) {
                gcconv_state *s = gcconv_state_of(*l);
                float *r = pulled(s->R_gpu, s->K * s->ss);
                snprintf(what, sizeof(what), "%s: step %d layer %d R untouched", name, t, i);
                CHECK(rel_error(r, r_before[i], s->K * s->ss, 1e-6) < 1e-6, what, "%s", "");
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

    /* save on the GPU, load into a fresh network: the same outputs */
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
    double e = rel_error(out_b, copy, no, 1e-6);
    CHECK(e < 1e-6, "weights saved from the GPU load back (same outputs)", "rel err of outputs %.3g", e);
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
    printf("BENCH darknet %s batch=%d: %.1f img/s (training, %d iterations, %.1f ms each)\n", cfgfile,
           net->batch, iters * net->batch / secs, iters, 1000 * secs / iters);
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
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    cuda_set_device(0);

    gcconv_cases();
    noise_kernel_checks();
    noise_in_network("weight noise", "noise=weight\nlearning_rate=0.1", 0);
    noise_in_network("gradient noise", "noise=gradient\nnoise_gamma=0.55\nlearning_rate=0.5", 1);
    if (!skip_train) training_checks("cfg/gcconv-example.cfg", iters);
    if (!skip_bench) benchmark("cfg/resnet18-cifar-k4.cfg", bench_iters);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
