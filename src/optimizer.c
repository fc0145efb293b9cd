/* optimizer.c: the optimizer hook (ext.h): [net] keys and the update loop. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "cfgopt.h"
#include "ext.h"
#include "optimizer.h"

static const char *const optimizer_names[] = {"sgd", "adam", "csgd", NULL};

static void seed_streams(net_ext *x, uint64_t seed)
{
    x->seed = seed;
    for (int i = 0; i < RNG_STREAMS; ++i) rng_seed(&x->streams[i], seed, (uint64_t)i);
}

static net_ext *new_net_ext(void)
{
    net_ext *x = calloc(1, sizeof(*x));
    if (!x) {
        fprintf(stderr, "darknet: error: out of memory\n");
        exit(1);
    }
    x->optimizer = OPTIMIZER_SGD;
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

void ext_parse_net_options(list *options, network *net)
{
    cfg_where w = {NULL, "[net]", -1};
    /* upstream reads past the end of the layer array when there is none */
    if (net->n < 1) cfg_fail(w, "layers", "0", "the cfg has no layers after [net]");
    net_ext *x = net_ext_of(net);
    int legacy_adam = net->adam;
    x->optimizer = cfg_choice(options, "optimizer", optimizer_names,
                              legacy_adam ? OPTIMIZER_ADAM : OPTIMIZER_SGD, w);
    if (x->optimizer == OPTIMIZER_ADAM && !net->adam) {
        net->adam = 1;
        net->B1 = cfg_float(options, "B1", .9f, w);
        net->B2 = cfg_float(options, "B2", .999f, w);
        net->eps = cfg_float(options, "eps", .0000001f, w);
    }
    if (cfg_has(options, "seed")) {
        int seed = cfg_int(options, "seed", 0, w);
        x->seeded = 1;
        seed_streams(x, (uint64_t)(uint32_t)seed);
    }
}

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
    float scale = l.learning_rate_scale;
    optimizer_step(l.biases, l.bias_updates, l.bias_m, l.bias_v, l.n, 0, a, scale);
    if (l.scales) optimizer_step(l.scales, l.scale_updates, l.scale_m, l.scale_v, l.n, 0, a, scale);
    optimizer_step(l.weights, l.weight_updates, l.m, l.v, l.nweights, a.decay, a, scale);
}

void ext_update_network(network *net, update_args a)
{
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.update) l.update(l, a);
    }
}

void ext_update_network_gpu(network *net, update_args a)
{
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.update_gpu) l.update_gpu(l, a);
    }
}

void ext_free_network(network *net)
{
    free(net->ext);
    net->ext = NULL;
}
