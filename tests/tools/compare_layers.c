/* compare_layers: check, layer by layer, that a network's outputs agree
 * with a reference network's to within float rounding, as bounded for each
 * layer by tests/unit/helpers/rounding.c.
 *
 * REF.bin and INPUTS.bin come from tests/tools/dump_images run on the
 * reference network (CFG, WEIGHTS); FED.bin from the network under test,
 * run by dump_images --feed REF.bin, so that each of its layers read the
 * reference's outputs of the layers before it.  With --common, FED.bin
 * holds some of the layers only (tests/tools/opencv_dump.py --feed); with
 * --opencv, batch norm may be OpenCV's formula on the tested side.
 *
 * Prints each layer's largest difference against its bound, and exits 1
 * when one is over (or not finite), 2 on bad input.
 *
 * usage: compare_layers CFG WEIGHTS REF.bin INPUTS.bin FED.bin [--common] [--opencv] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "helpers/rounding.h"

typedef struct { int32_t layer, count; float *v; } record;
typedef struct { record *r; int n; } dump;

static dump read_dump(const char *path)
{
    dump d = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "compare_layers: cannot open %s\n", path); exit(2); }
    int32_t head[2];
    while (fread(head, sizeof(int32_t), 2, fp) == 2) {
        d.r = realloc(d.r, (d.n + 1) * sizeof(record));
        record *r = &d.r[d.n++];
        r->layer = head[0];
        r->count = head[1];
        r->v = malloc((size_t)(head[1] > 0 ? head[1] : 1) * sizeof(float));
        if (head[1] < 0 || fread(r->v, sizeof(float), head[1], fp) != (size_t)head[1]) {
            fprintf(stderr, "compare_layers: %s is cut short\n", path);
            exit(2);
        }
    }
    fclose(fp);
    return d;
}

static double max_difference(const float *a, const float *b, int n)
{
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

int main(int argc, char **argv)
{
    int common = 0, opencv = 0;
    while (argc > 6) {
        if (!strcmp(argv[argc - 1], "--common")) common = 1;
        else if (!strcmp(argv[argc - 1], "--opencv")) opencv = 1;
        else break;
        --argc;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: compare_layers CFG WEIGHTS REF.bin INPUTS.bin FED.bin [--common] [--opencv]\n");
        return 2;
    }
    network *net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    dump ref = read_dump(argv[3]), fed = read_dump(argv[5]);
    FILE *fp = fopen(argv[4], "rb");
    if (!fp || ref.n % net->n) { fprintf(stderr, "compare_layers: %s or %s: not a dump of %s\n", argv[3], argv[4], argv[1]); return 2; }
    int images = ref.n / net->n;
    float *input = malloc((size_t)net->inputs * sizeof(float));
    float **outs = malloc(net->n * sizeof(float *));
    double *ratio = calloc(net->n, sizeof(double)), *diff = calloc(net->n, sizeof(double));
    double *bound = calloc(net->n, sizeof(double));
    int *seen = calloc(net->n, sizeof(int));
    int at = 0;
    for (int m = 0; m < images; ++m) {
        if (fread(input, sizeof(float), net->inputs, fp) != (size_t)net->inputs) {
            fprintf(stderr, "compare_layers: %s: no input for image %d\n", argv[4], m);
            return 2;
        }
        for (int i = 0; i < net->n; ++i) {
            record r = ref.r[m * net->n + i];
            if (r.layer != i || r.count != net->layers[i].outputs) {
                fprintf(stderr, "compare_layers: %s: image %d, layer %d: not the layers of %s\n", argv[3], m, i, argv[1]);
                return 2;
            }
            outs[i] = r.v;
        }
        for (int last = -1; at < fed.n && fed.r[at].layer > last; ++at) {
            record r = fed.r[at];
            int i = last = r.layer;
            if (i >= net->n || r.count != net->layers[i].outputs || (!common && i != at % net->n)) {
                fprintf(stderr, "compare_layers: %s: record %d (layer %d, %d values) does not match %s\n",
                        argv[5], at, i, r.count, argv[1]);
                return 2;
            }
            char why[160];
            double b = layer_rounding_bound(net, i, input, outs, opencv, why, sizeof(why));
            if (b < 0) { fprintf(stderr, "compare_layers: %s\n", why); return 2; }
            double d = max_difference(r.v, outs[i], r.count);
            double q = d == 0 ? 0 : b > 0 ? d / b : INFINITY;
            seen[i] = 1;
            if (!(q <= ratio[i])) { ratio[i] = q; diff[i] = d; bound[i] = b; }
        }
    }
    if (at != fed.n || (!common && fed.n != ref.n)) {
        fprintf(stderr, "compare_layers: %s has %d records, %s %d\n", argv[5], fed.n, argv[3], ref.n);
        return 2;
    }
    int worst = -1, compared = 0;
    for (int i = 0; i < net->n; ++i) {
        if (!seen[i]) continue;
        ++compared;
        printf("layer %2d: max |a-b| %.3g, bound %.3g, ratio %.3g%s\n", i, diff[i], bound[i], ratio[i],
               ratio[i] <= 1 ? "" : "  OVER");
        if (worst < 0 || !(ratio[i] <= ratio[worst])) worst = i;
    }
    if (worst < 0) { fprintf(stderr, "compare_layers: no layer compared\n"); return 2; }
    printf("worst ratio of difference to bound %.3g at layer %d, over %d layers and %d images\n", ratio[worst],
           worst, compared, images);
    return ratio[worst] <= 1 ? 0 : 1;
}
