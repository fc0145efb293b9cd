/* optimizer.c: the optimizer hook (ext.h): [net] keys and the update loop. */
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
