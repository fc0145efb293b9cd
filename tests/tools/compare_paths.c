/* compare_paths: run a network on upstream's reference kernels, then each
 * layer on the fast kernels with the reference's outputs of the layers
 * before it as its inputs, in one process, and check every layer against
 * the rounding bound derived for it (tests/unit/helpers/rounding.c).
 *
 * usage: compare_paths CFG [WEIGHTS]
 * Without weights, the random initial weights are used and batch-norm
 * rolling statistics are set to mean 0, variance 1 (upstream starts them at
 * 0, 0, which makes inference divide by 1e-6 per layer and overflow).  Input:
 * a fixed synthetic image, batch 1.  Prints the worst layer and exits 1 when
 * some layer's |fast - reference| exceeds its bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "cpu/parallel.h"
#include "helpers/rounding.h"

static float *copy_of(const float *x, int n)
{
    float *c = malloc((size_t)n * sizeof(float));
    memcpy(c, x, (size_t)n * sizeof(float));
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CFG [WEIGHTS]\n", argv[0]);
        return 2;
    }
    network *net = load_network(argv[1], argc > 2 ? argv[2] : NULL, 0);
    set_batch_network(net, 1);
    if (argc < 3)
        for (int i = 0; i < net->n; ++i) {
            layer l = net->layers[i];
            if (!l.batch_normalize || !l.rolling_variance) continue;
            for (int c = 0; c < l.out_c; ++c) { l.rolling_mean[c] = 0; l.rolling_variance[c] = 1; }
        }
    float *x = malloc(net->inputs * sizeof(float));
    for (int i = 0; i < net->inputs; ++i) x[i] = 0.5f + 0.5f * sinf(0.37f * i);
    float **ref = calloc(net->n, sizeof(float *));
    dn_set_reference(1);
    network_predict(net, x);
    for (int i = 0; i < net->n; ++i) ref[i] = copy_of(net->layers[i].output, net->layers[i].outputs);
    dn_set_reference(0);
    /* Every layer's buffer holds the reference's output; each layer in turn
     * overwrites its own, is compared, and gets the reference's back. */
    network run = *net;
    run.input = x;
    run.train = 0;
    run.truth = 0;
    run.delta = 0;
    int bad = 0, worst = 0;
    double worst_ratio = 0;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        run.index = i;
        l.forward(l, run);
        char why[160];
        double bound = layer_rounding_bound(net, i, x, ref, 0, why, sizeof(why));
        if (bound < 0) { fprintf(stderr, "compare_paths: %s\n", why); return 2; }
        double diff = 0;
        for (int j = 0; j < l.outputs; ++j) {
            double d = fabs((double)l.output[j] - ref[i][j]);
            if (!(d <= diff)) diff = isnan(d) ? INFINITY : d;
        }
        double ratio = diff == 0 ? 0 : bound > 0 ? diff / bound : INFINITY;
        if (!(ratio <= 1)) {
            bad = 1;
            printf("layer %d: |fast - reference| %.3g over its bound %.3g\n", i, diff, bound);
        }
        if (!(ratio <= worst_ratio)) { worst_ratio = ratio; worst = i; }
        memcpy(l.output, ref[i], (size_t)l.outputs * sizeof(float));
        run.input = l.output;
    }
    printf("%s: worst layer %d, |fast - reference| / bound = %.3g\n", bad ? "FAIL" : "ok", worst, worst_ratio);
    return bad;
}
