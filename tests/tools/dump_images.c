/* dump_images: run a network on real images and write every layer's
 * output, so that two networks meant to compute the same (a CCNN and its
 * fold by `darknet gcfold`) can be compared layer by layer.
 *
 * Like dump_output it uses only upstream's public C API (and upstream's
 * stb image loader, which both builds compile), so the same source builds
 * against the unpatched upstream library and against ours, and both decode
 * an image to the same floats.
 *
 * With --feed REF.bin (a dump of the same layers, made by the reference
 * network on the same images), each layer reads the reference's outputs of
 * the layers before it instead of its own: what is written is then each
 * layer's own arithmetic on the reference's inputs, which
 * tests/tools/compare_layers checks against a bound derived for that layer
 * alone (tests/unit/helpers/rounding.c says why).
 *
 * With --shapes FILE it also writes, a line a layer, the layer's index, the
 * shape of its input (c h w) and how many floats of the weights file are
 * its own, for tests/tools/opencv_dump.py --feed.
 *
 * usage: dump_images [--feed REF.bin] [--shapes FILE] CFG WEIGHTS OUT.bin INPUTS.bin IMAGE...
 *   OUT.bin: per image, per layer: int32 layer index, int32 count, floats
 *   INPUTS.bin: per image, the network input (c x h x w floats) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"

image load_image_stb(char *filename, int channels);   /* upstream's image.c */

static void write_or_die(const void *p, size_t size, size_t n, FILE *fp, const char *file)
{
    if (fwrite(p, size, n, fp) != n) {
        fprintf(stderr, "dump_images: cannot write %s\n", file);
        exit(1);
    }
}

static void write_layer(FILE *out, const char *file, int i, const layer *l)
{
    int32_t head[2] = {i, l->outputs};
    write_or_die(head, sizeof(int32_t), 2, out, file);
    write_or_die(l->output, sizeof(float), l->outputs, out, file);
}

/* Reads the reference's record of layer i into its output buffer. */
static void read_reference(FILE *feed, const char *file, int i, layer *l)
{
    int32_t head[2];
    if (fread(head, sizeof(int32_t), 2, feed) != 2 || head[0] != i || head[1] != l->outputs ||
        fread(l->output, sizeof(float), l->outputs, feed) != (size_t)l->outputs) {
        fprintf(stderr, "dump_images: %s: no record of layer %d with %d outputs\n", file, i, l->outputs);
        exit(1);
    }
}

/* The floats a layer keeps in the weights file (the layer types that
 * opencv_dump.py runs alone; 0 for the others). */
static long weight_floats(const layer *l)
{
    long bn = l->batch_normalize ? 3 : 0;
    if (l->type == CONVOLUTIONAL) return l->n * (1 + bn) + l->nweights;
    if (l->type == CONNECTED) return l->outputs * (1 + bn) + (long)l->inputs * l->outputs;
    return 0;
}

static void write_shapes(const network *net, const char *file)
{
    FILE *fp = fopen(file, "w");
    for (int i = 0; fp && i < net->n; ++i) {
        const layer *l = &net->layers[i];
        fprintf(fp, "%d %d %d %d %ld\n", i, l->c, l->h, l->w, weight_floats(l));
    }
    if (!fp || fclose(fp)) {
        fprintf(stderr, "dump_images: cannot write %s\n", file);
        exit(1);
    }
}

/* Each layer on the reference's outputs of the layers before it. */
static void run_fed(network *net, float *input, FILE *out, const char *out_file, FILE *feed, const char *feed_file)
{
    network run = *net;
    run.input = input;
    run.truth = 0;
    run.delta = 0;
    run.train = 0;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        run.index = i;
        l->forward(*l, run);
        write_layer(out, out_file, i, l);
        read_reference(feed, feed_file, i, l);
        run.input = l->output;
    }
}

int main(int argc, char **argv)
{
    const char *feed_file = NULL, *shapes_file = NULL;
    while (argc > 2 && (!strcmp(argv[1], "--feed") || !strcmp(argv[1], "--shapes"))) {
        if (!strcmp(argv[1], "--feed")) feed_file = argv[2];
        else shapes_file = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < 6) {
        fprintf(stderr, "usage: dump_images [--feed REF.bin] [--shapes FILE] CFG WEIGHTS OUT.bin INPUTS.bin IMAGE...\n");
        return 2;
    }
    network *net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    if (shapes_file) write_shapes(net, shapes_file);
    FILE *out = fopen(argv[3], "wb"), *inputs = fopen(argv[4], "wb");
    FILE *feed = feed_file ? fopen(feed_file, "rb") : NULL;
    if (!out || !inputs || (feed_file && !feed)) {
        fprintf(stderr, "dump_images: cannot open %s, %s or %s\n", argv[3], argv[4], feed_file ? feed_file : "");
        return 1;
    }
    for (int a = 5; a < argc; ++a) {
        image im = load_image_stb(argv[a], net->c);
        image sized = resize_image(im, net->w, net->h);
        write_or_die(sized.data, sizeof(float), net->inputs, inputs, argv[4]);
        if (feed) {
            run_fed(net, sized.data, out, argv[3], feed, feed_file);
        } else {
            network_predict(net, sized.data);
            for (int i = 0; i < net->n; ++i) write_layer(out, argv[3], i, &net->layers[i]);
        }
        free_image(im);
        free_image(sized);
    }
    if (fclose(out) || fclose(inputs)) {
        fprintf(stderr, "dump_images: cannot write %s or %s\n", argv[3], argv[4]);
        return 1;
    }
    return 0;
}
