/* save_loop: trains a network on random data and saves its weights after
 * every step to each FILE given (tests only: the kill -9, disk-full and
 * unwritable-folder checks of test_save_safety.sh).
 *   save_loop CFG STEPS FILE...   (STEPS 0: until killed) */
#include <stdio.h>
#include <stdlib.h>

#include "darknet.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: save_loop CFG STEPS FILE...\n");
        return 2;
    }
    network *net = parse_network_cfg(argv[1]);
    int steps = atoi(argv[2]);
    int n = net->batch * net->subdivisions;
    data d = {0};
    d.X = make_matrix(n, net->inputs);
    d.y = make_matrix(n, net->outputs);
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < net->inputs; ++j) d.X.vals[i][j] = rand_uniform(-1, 1);
        d.y.vals[i][i % net->outputs] = 1;
    }
    for (int step = 1; steps == 0 || step <= steps; ++step) {
        train_network(net, d);
        for (int f = 3; f < argc; ++f) save_weights(net, argv[f]);
        printf("step %d saved\n", step);
        fflush(stdout);
    }
    return 0;
}
