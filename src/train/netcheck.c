/* netcheck.c: `./darknet netcheck CFG [WEIGHTS] [-steps N]`
 *
 * Parses a cfg, then runs N training steps (forward, backward, update; 1 by
 * default) on random images with one-hot targets (for detectors: images with
 * no objects), at the cfg's batch and size.  Prints the layer count, input and output sizes, trainable parameter
 * count (weights, biases and batch-norm scales), each step's loss and its time; exits 1 when an output or the loss is
 * not finite.  Used to check that shipped cfgs build and train. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "ext.h"
#include "optim/guard.h"
#include "rand/rng.h"
#include "utils.h"
#include "checked.h"

static size_t layer_parameters(const layer *l)
{
    switch (l->type) {
    case CONVOLUTIONAL:
        return (size_t)l->nweights + l->n + (l->batch_normalize ? l->n : 0);
    case CONNECTED:
        return (size_t)l->inputs * l->outputs + l->outputs + (l->batch_normalize ? l->outputs : 0);
    case BATCHNORM:
        return 2 * (size_t)l->c;
    default: {   /* extension layers: their batch-norm scales and the arrays they declare (R) */
        size_t n = (size_t)l->nweights + (l->nbiases > 0 ? l->nbiases : 0) + (l->batch_normalize ? l->n : 0);
        ext_array a[EXT_MAX_ARRAYS];
        int k = ext_layer_arrays(*l, a);
        for (int i = 0; i < k; ++i) n += (size_t)a[i].n;
        return n;
    }
    }
}

/* Multiply-adds of one image's forward pass, as the CPU runs it:
 * convolutions (a [gcconv] with full mixing and expand over its replicated
 * input) and connected layers; pooling, batch norm and activations are
 * left out. */
static double layer_multiply_adds(const layer *l)
{
    double pixels = (double)l->out_h * l->out_w;
    if (l->type == CONVOLUTIONAL) return pixels * l->n * l->size * l->size * (l->c / l->groups);
    if (l->type == CONNECTED) return (double)l->inputs * l->outputs;
    if (l->type == EXTENSION && l->ext && l->ext->multiply_adds) return l->ext->multiply_adds(*l);
    return 0;
}

void netcheck_command(int argc, char **argv)
{
    int steps = find_int_arg(argc, argv, "-steps", 1);
    if (argc < 3) {
        dn_usage("usage: %s netcheck CFG [WEIGHTS] [-steps N]\n", argv[0]);
    }
    char *cfg = argv[2];
    char *weights = argc > 3 ? argv[3] : 0;
    network *net = load_network(cfg, weights, 0);
    guard_check_trainable(net, cfg);
    size_t params = 0;
    double macs = 0;
    for (int i = 0; i < net->n; ++i) {
        params += layer_parameters(&net->layers[i]);
        macs += layer_multiply_adds(&net->layers[i]);
    }
    int batch = net->batch * net->subdivisions;
    printf("netcheck: %s: %d layers, input %dx%dx%d, %d outputs, %zu parameters, %.0f multiply-adds, batch %d\n",
           cfg, net->n, net->w, net->h, net->c, net->outputs, params, macs, batch);

    data d = {0};
    d.shallow = 0;
    d.X = make_matrix(batch, net->inputs);
    /* A detector's truth is a list of boxes, longer than its output; all
     * zeros there means an image without objects. */
    int is_classifier = net->truths == net->outputs;
    d.y = make_matrix(batch, net->truths);
    rng g;
    rng_seed(&g, 1, 0);
    for (int i = 0; i < batch; ++i) {
        for (int j = 0; j < net->inputs; ++j) d.X.vals[i][j] = rng_uniform(&g);
        if (is_classifier) d.y.vals[i][i % net->outputs] = 1;
    }
    int bad = 0;
    for (int s = 0; s < steps; ++s) {
        double t = what_time_is_it_now();
        float loss = train_network(net, d);
        layer out = get_network_output_layer(net);
        int nonfinite = 0;
        for (int i = 0; i < out.outputs * out.batch; ++i) nonfinite += !isfinite(out.output[i]);
        printf("netcheck: step %d: loss %f, %.3f seconds%s\n", s + 1, loss,
               what_time_is_it_now() - t, nonfinite ? ", outputs not finite" : "");
        if (!isfinite(loss) || nonfinite) bad = 1;
    }
    free_data(d);
    free_network(net);
    if (bad) {
        dn_fatal("%s: training step gave values that are not finite\n", cfg);
    }
}
