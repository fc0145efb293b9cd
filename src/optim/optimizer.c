/* optimizer.c: the optimizer hook (ext.h): [net] keys and the update loop.
 *
 * sgd is upstream's update, untouched.  adam is upstream's GPU Adam, run on
 * the CPU too (upstream's CPU layers ignore adam and do SGD).  csgd is sgd
 * plus the noise of csgd.c. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "csgd.h"
#include "ext.h"
#include "input/cfgopt.h"
#include "input/data_keys.h"
#include "optim/guard.h"
#include "option_list.h"
#include "optim/optimizer.h"
#include "rand/upstream_rand.h"
#include "checked.h"

static const char *const optimizer_names[] = {"sgd", "adam", "csgd", NULL};
static const char *const noise_names[] = {"weight", "gradient", NULL};

static void seed_streams(net_ext *x, uint64_t seed)
{
    x->seed = seed;
    for (int i = 0; i < RNG_STREAMS; ++i) rng_seed(&x->streams[i], seed, (uint64_t)i);
}

static net_ext *new_net_ext(void)
{
    net_ext *x = dn_calloc(1, sizeof(*x));
    x->optimizer = OPTIMIZER_SGD;
    x->sigma = 0.0001f;
    x->noise = NOISE_WEIGHT;
    x->noise_gamma = 0.55f;
    seed_streams(x, (uint64_t)time(0));
    return x;
}

net_ext *net_ext_of(network *net)
{
    if (!net->ext) net->ext = new_net_ext();
    return net->ext;
}

rng *net_rng(network *net, rng_stream stream)
{
    return &net_ext_of(net)->streams[stream];
}

/* ---- [net] keys ---------------------------------------------------------- */

static optimizer_kind parse_optimizer(list *options, network *net, cfg_where w)
{
    /* Upstream has read adam= (and B1, B2, eps with it) before this hook. */
    int legacy_adam = net->adam;
    optimizer_kind k = cfg_choice(options, "optimizer", optimizer_names,
                                  legacy_adam ? OPTIMIZER_ADAM : OPTIMIZER_SGD, w);
    if (legacy_adam && k != OPTIMIZER_ADAM) {
        cfg_fail(w, "optimizer", option_find(options, "optimizer"), "conflicts with adam=1");
    }
    if (k == OPTIMIZER_ADAM && !legacy_adam) {
        net->adam = 1;
        net->B1 = cfg_float(options, "B1", .9f, w);
        net->B2 = cfg_float(options, "B2", .999f, w);
        net->eps = cfg_float(options, "eps", .0000001f, w);
    }
    return k;
}

static void parse_seed(list *options, net_ext *x, cfg_where w)
{
    x->seeded = cfg_has(options, "seed");
    if (!x->seeded) return;
    int seed = cfg_int(options, "seed", 0, w);
    if (seed < 0) cfg_fail(w, "seed", option_find(options, "seed"), "must be a whole number >= 0");
    seed_streams(x, (uint64_t)seed);
}

/* ---- data-parallel batch split (src/dist/) -------------------------------- */

static int batch_ranks = 1;

void optimizer_set_batch_ranks(int ranks)
{
    batch_ranks = ranks > 1 ? ranks : 1;
}

/* batch= stays the global batch: each of the R processes takes batch/R
 * images in `subdivisions` forward passes, so each pass holds
 * batch/(R*subdivisions) images, as one process with subdivisions*R would.
 * The network then counts R*subdivisions passes per step, which keeps the
 * learning rate, burn_in, steps and max_batches in global terms. */
static void split_batch(list *options, network *net, cfg_where w)
{
    if (batch_ranks <= 1) return;
    int batch = option_find_int_quiet(options, "batch", 1);
    int subdivs = net->subdivisions;
    char why[160];
    if (batch % batch_ranks != 0) {
        snprintf(why, sizeof why, "not divisible by the %d processes of the job", batch_ranks);
        cfg_fail(w, "batch", option_find(options, "batch"), why);
    }
    if (batch / batch_ranks % subdivs != 0) {
        snprintf(why, sizeof why, "leaves %d images to each of the %d processes, not divisible by subdivisions=%d",
                 batch / batch_ranks, batch_ranks, subdivs);
        cfg_fail(w, "batch", option_find(options, "batch"), why);
    }
    net->batch = batch / (batch_ranks * subdivs) * net->time_steps;
    net->subdivisions = subdivs * batch_ranks;
}

void optimizer_reseed(net_ext *x, uint64_t seed)
{
    x->seeded = 1;
    seed_streams(x, seed);
    upstream_rand_attach(&x->streams[RNG_UPSTREAM], x->seeded, x->seed);
}

void ext_parse_net_options(list *options, network *net)
{
    cfg_where w = {NULL, "[net]", -1};
    /* upstream reads past the end of the layer array when there is none */
    if (net->n < 1) cfg_fail(w, "layers", "0", "the cfg has no layers after [net]");
    net_ext *x = net_ext_of(net);
    x->optimizer = parse_optimizer(options, net, w);
    x->sigma = cfg_float_min(options, "sigma", 0.0001f, 0, w);
    x->noise = cfg_choice(options, "noise", noise_names, NOISE_WEIGHT, w);
    x->noise_gamma = cfg_float_min(options, "noise_gamma", 0.55f, 0, w);
    if (x->optimizer != OPTIMIZER_CSGD &&
        (cfg_has(options, "sigma") || cfg_has(options, "noise") || cfg_has(options, "noise_gamma"))) {
        fprintf(stderr, "darknet: note: [net]: sigma, noise and noise_gamma only act with optimizer=csgd\n");
    }
    parse_seed(options, x, w);
    x->conv.winograd = cfg_flag(options, "winograd", 0, w);
    data_keys_parse(options, net, w);   /* pad_crop=: the data's, not the optimizer's */
    split_batch(options, net, w);
    /* Every layer is made after this, so upstream's weight init already
     * draws from the seeded generator. */
    upstream_rand_attach(&x->streams[RNG_UPSTREAM], x->seeded, x->seed);
}

/* ---- parameter steps ----------------------------------------------------- */

static void adam_step(float *w, float *d, float *m, float *v, int n, float decay, update_args a, float rate)
{
    float bias1 = 1.f - powf(a.B1, a.t);
    float bias2 = 1.f - powf(a.B2, a.t);
    for (int i = 0; i < n; ++i) {
        float g = d[i] - decay * a.batch * w[i];
        m[i] = a.B1 * m[i] + (1 - a.B1) * g;
        v[i] = a.B2 * v[i] + (1 - a.B2) * g * g;
        w[i] += rate * (m[i] / bias1) / (sqrtf(v[i] / bias2) + a.eps);
        d[i] = 0;
    }
}

void optimizer_step(float *w, float *d, float *m, float *v, int n,
                    float decay, update_args a, float lr_scale)
{
    float rate = a.learning_rate * lr_scale;
    if (a.adam && m && v) {
        adam_step(w, d, m, v, n, decay, a, rate);
        return;
    }
    /* Same operation order as upstream's axpy/scal calls, so results match bit for bit. */
    if (decay != 0) {
        float k = -decay * a.batch;
        for (int i = 0; i < n; ++i) d[i] += k * w[i];
    }
    float step = rate / a.batch;
    for (int i = 0; i < n; ++i) w[i] += step * d[i];
    for (int i = 0; i < n; ++i) d[i] *= a.momentum;
}

void optimizer_update_layer(layer l, update_args a)
{
    param_counts c = layer_param_counts(&l);
    float scale = l.learning_rate_scale;
    optimizer_step(l.biases, l.bias_updates, l.bias_m, l.bias_v, c.biases, 0, a, scale);
    if (c.scales) optimizer_step(l.scales, l.scale_updates, l.scale_m, l.scale_v, c.scales, 0, a, scale);
    if (c.weights) optimizer_step(l.weights, l.weight_updates, l.m, l.v, c.weights, a.decay, a, scale);
}

static void ensure_moments(float **m, float **v, int n)
{
    if (!n || (*m && *v)) return;
    if (!*m) *m = dn_calloc(n, sizeof(float));
    if (!*v) *v = dn_calloc(n, sizeof(float));
}

void optimizer_prepare_layer(layer *l, int adam)
{
    if (!adam) return;
    param_counts c = layer_param_counts(l);
    ensure_moments(&l->bias_m, &l->bias_v, c.biases);
    ensure_moments(&l->scale_m, &l->scale_v, c.scales);
    ensure_moments(&l->m, &l->v, c.weights);
}

/* Upstream's CPU update functions of these types do SGD even with adam=1;
 * for them the CPU path runs Adam here instead. */
static int needs_cpu_adam(const layer *l)
{
    return l->type == CONVOLUTIONAL || l->type == DECONVOLUTIONAL ||
           l->type == CONNECTED || l->type == BATCHNORM;
}

static void clip_weights(layer *l, int n)
{
    for (int i = 0; i < n; ++i) {
        if (l->weights[i] > l->clip) l->weights[i] = l->clip;
        if (l->weights[i] < -l->clip) l->weights[i] = -l->clip;
    }
}

static void cpu_adam_update(layer *l, update_args a)
{
    optimizer_prepare_layer(l, 1);
    optimizer_update_layer(*l, a);
    /* upstream's GPU [convolutional] update, the only upstream Adam, clips
     * the weights after the step when [net] clip= is set */
    if (l->type == CONVOLUTIONAL && l->clip) clip_weights(l, l->nweights);
}

static void update_layer(layer *l, update_args a)
{
    if (a.adam && needs_cpu_adam(l)) cpu_adam_update(l, a);
    else if (l->update) l->update(*l, a);
}

/* csgd's view of the network: with another optimizer, no noise. */
static csgd_noise noise_of(net_ext *x)
{
    csgd_noise c = {x->sigma, x->noise, x->noise_gamma, csgd_noise_key(x->seed), &x->streams[RNG_NOISE]};
    if (x->optimizer != OPTIMIZER_CSGD) c.sigma = 0;
    return c;
}

void ext_update_network(network *net, update_args a)
{
    guard_check_step(net);
    csgd_noise c = noise_of(net_ext_of(net));
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        csgd_before_step(&c, l, a);
        update_layer(l, a);
        csgd_after_step(&c, l, a);
    }
}

void ext_update_network_gpu(network *net, update_args a)
{
#ifdef GPU
    guard_check_cost(net);
    csgd_noise c = noise_of(net_ext_of(net));
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        csgd_before_step_gpu(&c, l, i, a);
        if (l->update_gpu) l->update_gpu(*l, a);
        csgd_after_step_gpu(&c, l, i, a);
    }
#else
    (void)net;
    (void)a;
#endif
}

void ext_free_network(network *net)
{
    data_keys_forget(net);
    if (net->ext) upstream_rand_detach(&((net_ext *)net->ext)->streams[RNG_UPSTREAM]);
    free(net->ext);
    net->ext = NULL;
}
