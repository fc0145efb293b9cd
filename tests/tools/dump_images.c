/* dump_images: run a network on real images and write every layer's
 * output, so that two networks meant to compute the same (a CCNN and its
 * fold by `darknet gcfold`) can be compared layer by layer.
 *
 * Like dump_output it uses only upstream's public C API (and upstream's
 * stb image loader, which both builds compile), so the same source builds
 * against the unpatched upstream library and against ours, and both decode
 * an image to the same floats.
 *
 * usage: dump_images CFG WEIGHTS OUT.bin INPUTS.bin IMAGE...
 *   OUT.bin: per image, per layer: int32 layer index, int32 count, floats
 *   INPUTS.bin: per image, the network input (c x h x w floats) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "darknet.h"

image load_image_stb(char *filename, int channels);   /* upstream's image.c */

static void write_or_die(const void *p, size_t size, size_t n, FILE *fp, const char *file)
{
    if (fwrite(p, size, n, fp) != n) {
        fprintf(stderr, "dump_images: cannot write %s\n", file);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s CFG WEIGHTS OUT.bin INPUTS.bin IMAGE...\n", argv[0]);
        return 2;
    }
    network *net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    FILE *out = fopen(argv[3], "wb"), *inputs = fopen(argv[4], "wb");
    if (!out || !inputs) {
        fprintf(stderr, "dump_images: cannot open %s or %s\n", argv[3], argv[4]);
        return 1;
    }
    for (int a = 5; a < argc; ++a) {
        image im = load_image_stb(argv[a], net->c);
        image sized = resize_image(im, net->w, net->h);
        write_or_die(sized.data, sizeof(float), net->inputs, inputs, argv[4]);
        network_predict(net, sized.data);
        for (int i = 0; i < net->n; ++i) {
            int32_t head[2] = {i, net->layers[i].outputs};
            write_or_die(head, sizeof(int32_t), 2, out, argv[3]);
            write_or_die(net->layers[i].output, sizeof(float), net->layers[i].outputs, out, argv[3]);
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
