/* bn_estimate: re-estimates the batch-norm rolling statistics of a network
 * from real images, so that a network trained only a few steps (whose
 * rolling statistics have moved 1% a step from their start at zero) runs
 * at inference with statistics of the size its layers really see.  A deep
 * network's activations otherwise grow by 1/sqrt(0.01 n) a layer after n
 * steps, and overflow float long before its last layer.
 *
 * The first batch-size images (the cfg's batch, for which the network's
 * buffers are made) are run as one batch in training mode, where each batch-norm
 * layer normalises by the batch's own mean and variance; those are then
 * copied into the rolling statistics.  Inference on the result computes,
 * layer by layer, what training mode computed on that batch.  The weights,
 * R included, are written as trained.
 *   bn_estimate CFG WEIGHTS OUT IMAGE...   (tests only) */
#include <stdio.h>
#include <string.h>

#include "darknet.h"

image load_image_stb(char *filename, int channels);   /* upstream's image.c */

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bn_estimate CFG WEIGHTS OUT IMAGE...\n");
        return 2;
    }
    network *net = load_network(argv[1], argv[2], 0);
    int images = net->batch;
    if (argc - 4 < images) {
        fprintf(stderr, "bn_estimate: %d images given, the cfg's batch is %d\n", argc - 4, images);
        return 2;
    }
    for (int a = 0; a < images; ++a) {
        image im = load_image_stb(argv[4 + a], net->c);
        image sized = resize_image(im, net->w, net->h);
        memcpy(net->input + (size_t)a * net->inputs, sized.data, net->inputs * sizeof(float));
        free_image(im);
        free_image(sized);
    }
    net->truth = 0;   /* no loss: the cost and softmax layers skip it */
    net->train = 1;
    forward_network(net);
    int copied = 0;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (!l->batch_normalize || !l->rolling_mean || !l->mean) continue;
        int n = l->type == CONNECTED ? l->outputs : l->n;   /* a [gcconv]: its N*K filters */
        memcpy(l->rolling_mean, l->mean, n * sizeof(float));
        memcpy(l->rolling_variance, l->variance, n * sizeof(float));
        ++copied;
    }
    save_weights(net, argv[3]);
    fprintf(stderr, "bn_estimate: statistics of %d layers from %d images\n", copied, images);
    free_network(net);
    return 0;
}
