/* compare_paths: run a network on the fast kernels and on upstream's
 * reference kernels in one process and check that every layer's output
 * agrees to float rounding.
 *
 * usage: compare_paths CFG [WEIGHTS]
 * Without weights, the random initial weights are used and batch-norm
 * rolling statistics are set to mean 0, variance 1 (upstream starts them at
 * 0, 0, which makes inference divide by 1e-6 per layer and overflow).  Input:
 * a fixed synthetic image, batch 1.  Prints the worst layer and exits 1 when
 * some layer's |fast - reference| exceeds 1e-4 * (1 + max|reference|). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "cpu/parallel.h"

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
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        ref[i] = malloc((size_t)l.outputs * sizeof(float));
        memcpy(ref[i], l.output, (size_t)l.outputs * sizeof(float));
    }
    dn_set_reference(0);
    network_predict(net, x);
    int bad = 0, worst = 0;
    double worst_rel = 0;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        double scale = 0, diff = 0;
        for (int j = 0; j < l.outputs; ++j) {
            if (fabs(ref[i][j]) > scale) scale = fabs(ref[i][j]);
            double d = fabs((double)l.output[j] - ref[i][j]);
            if (!(d <= diff)) diff = d;   /* NaN counts as worst */
        }
        double rel = diff / (1 + scale);
        if (!(rel <= 1e-4)) bad = 1;
        if (!(rel <= worst_rel)) { worst_rel = rel; worst = i; }
    }
    printf("%s: worst layer %d, |fast-ref|/(1+max|ref|) = %.3g\n", bad ? "FAIL" : "ok", worst, worst_rel);
    return bad;
}
