/* dump_output: load a network and its weights, run it on a fixed synthetic
 * input, and write the raw float outputs to a file.
 *
 * It uses only upstream's public C API, so the same source builds against
 * the unpatched upstream library and against ours; equal dumps prove that a
 * weights file gives identical results in both.
 *
 * usage: dump_output CFG WEIGHTS OUT.bin */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "darknet.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s CFG WEIGHTS OUT.bin\n", argv[0]);
        return 2;
    }
    network *net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    int n = net->inputs;
    float *input = malloc(n * sizeof(float));
    for (int i = 0; i < n; ++i) input[i] = 0.5f + 0.5f * sinf(0.37f * i);
    float *out = network_predict(net, input);
    FILE *fp = fopen(argv[3], "wb");
    if (!fp || fwrite(out, sizeof(float), net->outputs, fp) != (size_t)net->outputs) {
        fprintf(stderr, "dump_output: cannot write %s\n", argv[3]);
        return 1;
    }
    fclose(fp);
    free(input);
    return 0;
}
