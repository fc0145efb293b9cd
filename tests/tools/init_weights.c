/* init_weights: writes the freshly initialised weights of CFG to OUT, so
 * that tests can run the commands that take a weights file without one
 * being downloaded.  SCALE (default 1) multiplies every weight, and BIAS,
 * when given, replaces every bias: scale 0 and bias -10 make a detector
 * that finds nothing, and runs fast.
 *   init_weights CFG OUT [SCALE [BIAS]]   (tests only) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "darknet.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: init_weights CFG OUT [SCALE [BIAS]]\n");
        return 2;
    }
    float scale = argc > 3 ? (float)atof(argv[3]) : 1;
    int set_bias = argc > 4;
    float bias = set_bias ? (float)atof(argv[4]) : 0;
    network *net = parse_network_cfg(argv[1]);
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        for (int j = 0; l->weights && j < l->nweights; ++j) l->weights[j] *= scale;
        for (int j = 0; set_bias && l->biases && j < l->nbiases; ++j) l->biases[j] = bias;
    }
    save_weights(net, argv[2]);
    /* fresh weights have no training state to resume */
    char state[4096];
    snprintf(state, sizeof state, "%s.state", argv[2]);
    unlink(state);
    free_network(net);
    return 0;
}
