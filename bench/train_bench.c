/* train_bench: time Darknet training and prediction on random data.
 *
 *   train_bench train CFG [-iterations N] [-warmup W] [-threads T]
 *       trains the cfg's network on a fixed pool of random images with
 *       random one-hot labels (batch and size from the cfg) and prints
 *       "images_per_s=<float> iterations=<n>" (and more NAME=value fields,
 *       gemm_tile= among them: the register tile of this run, DARKNET_ISA).
 *   train_bench predict CFG [-iterations N] [-threads T]
 *       batch 1: prints the median latency of network_predict on one image
 *       and the images per second of back-to-back calls.
 *   train_bench files CFG DIR
 *       writes DIR/net.weights (the initial weights), DIR/image.png (a random
 *       image of the network's size), DIR/labels.list and DIR/net.data, for
 *       timing `darknet classifier predict`.
 *
 * The data never touch the disk, so that the figures measure the network
 * and not image decoding; bench/pytorch_cifar_small.py does the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "darknet.h"
#include "cpu/fastgemm.h"
#include "cpu/parallel.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int int_arg(int argc, char **argv, const char *name, int def)
{
    for (int i = 0; i < argc - 1; ++i)
        if (!strcmp(argv[i], name)) return atoi(argv[i + 1]);
    return def;
}

static data random_batch(network *net, int classes)
{
    data d = {0};
    d.shallow = 0;
    d.X = make_matrix(net->batch, net->inputs);
    d.y = make_matrix(net->batch, classes);
    for (int i = 0; i < net->batch; ++i) {
        for (int j = 0; j < net->inputs; ++j) d.X.vals[i][j] = rand() / (float)RAND_MAX;
        d.y.vals[i][rand() % classes] = 1;
    }
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "train") && strcmp(argv[1], "predict") && strcmp(argv[1], "files"))
        || (!strcmp(argv[1], "files") && argc < 4)) {
        fprintf(stderr, "usage: %s train|predict CFG [-iterations N] [-warmup W] [-threads T]\n"
                        "       %s files CFG DIR\n", argv[0], argv[0]);
        return 2;
    }
    int threads = int_arg(argc, argv, "-threads", 0);
    if (threads > 0) dn_set_threads(threads);
    srand(1);
    network *net = parse_network_cfg(argv[2]);
    int classes = net->outputs;
    if (!strcmp(argv[1], "files")) {
        char path[4096];
        snprintf(path, sizeof path, "%s/net.weights", argv[3]);
        save_weights(net, path);
        image im = make_image(net->w, net->h, net->c);
        for (int i = 0; i < im.w * im.h * im.c; ++i) im.data[i] = rand() / (float)RAND_MAX;
        snprintf(path, sizeof path, "%s/image", argv[3]);
        save_image(im, path);
        free_image(im);
        snprintf(path, sizeof path, "%s/labels.list", argv[3]);
        FILE *fp = fopen(path, "w");
        for (int i = 0; fp && i < classes; ++i) fprintf(fp, "class%d\n", i);
        if (fp) fclose(fp);
        snprintf(path, sizeof path, "%s/net.data", argv[3]);
        fp = fopen(path, "w");
        if (fp) {
            fprintf(fp, "classes=%d\nlabels=%s/labels.list\ntop=1\n", classes, argv[3]);
            fclose(fp);
        }
    } else if (!strcmp(argv[1], "train")) {
        int iterations = int_arg(argc, argv, "-iterations", 200);
        int warmup = int_arg(argc, argv, "-warmup", 5);
        enum { POOL = 4 };
        data pool[POOL];
        for (int i = 0; i < POOL; ++i) pool[i] = random_batch(net, classes);
        float loss = 0;
        for (int i = 0; i < warmup; ++i) loss = train_network(net, pool[i % POOL]);
        double *t = malloc(iterations * sizeof(double));
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < iterations; ++i) {
            double s = now();
            loss = train_network(net, pool[i % POOL]);
            t[i] = now() - s;
        }
        double dt = now() - t0, cpu = cpu_now() - c0;
        /* On a shared machine the fastest iteration is the least disturbed. */
        qsort(t, iterations, sizeof(double), cmp_double);
        printf("images_per_s=%.1f best_images_per_s=%.1f cpu_s_per_image=%.3g iterations=%d loss=%g gemm_tile=%s\n",
               (double)iterations * net->batch / dt, net->batch / t[0], cpu / ((double)iterations * net->batch),
               iterations, loss, fastgemm_kernel_name());
        free(t);
        for (int i = 0; i < POOL; ++i) free_data(pool[i]);
    } else {
        int iterations = int_arg(argc, argv, "-iterations", 200);
        set_batch_network(net, 1);
        float *x = malloc(net->inputs * sizeof(float));
        for (int j = 0; j < net->inputs; ++j) x[j] = rand() / (float)RAND_MAX;
        double *t = malloc(iterations * sizeof(double));
        for (int i = 0; i < 5; ++i) network_predict(net, x);
        double t0 = now();
        for (int i = 0; i < iterations; ++i) {
            double s = now();
            network_predict(net, x);
            t[i] = now() - s;
        }
        double dt = now() - t0;
        qsort(t, iterations, sizeof(double), cmp_double);
        printf("latency_ms=%.3f images_per_s=%.1f iterations=%d gemm_tile=%s\n",
               t[iterations / 2] * 1e3, iterations / dt, iterations, fastgemm_kernel_name());
        free(t);
        free(x);
    }
    free_network(net);
    return 0;
}
