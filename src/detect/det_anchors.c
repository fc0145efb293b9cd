/* det_anchors.c: `./darknet detector calc_anchors DATA -num_of_clusters N
 * -width W -height H`, the anchor finder of AlexeyAB's Darknet.
 *
 * The sizes of the training boxes (the train= list's label files), scaled
 * to the network's W x H input, are clustered by k-means with 1 - IoU as the
 * distance, the boxes compared as if they shared one centre.  The starting
 * centres are drawn by k-means++ from a fixed seed, so the same data gives
 * the same anchors.  Each round gives every box to the centre it overlaps
 * most (the first on a tie) and moves each centre to the mean width and
 * height of its boxes; a centre without boxes stays.  It ends when no box
 * changes its centre.
 *
 * Prints the anchors, rounded to whole pixels, smallest area first, as the
 * line to paste into [yolo] or [region] ("anchors = 10,13, 16,30, ..."),
 * and the mean over the boxes of the IoU with their best anchor (of the
 * rounded anchors printed); writes the same line to anchors.txt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/det_anchors.h"
#include "detect/det_data.h"
#include "detect/det_eval.h"
#include "rand/rng.h"
#include "option_list.h"
#include "checked.h"

#define MAX_ROUNDS 1000

typedef struct box_size {
    double w, h;
} box_size;

static double overlap(box_size a, box_size b)
{
    double inter = fmin(a.w, b.w) * fmin(a.h, b.h);
    return inter / (a.w * a.h + b.w * b.h - inter);
}

/* Index of the centre that box b overlaps most, and that IoU. */
static int best_centre(box_size b, const box_size *c, int k, double *iou)
{
    int best = 0;
    double most = -1;
    for (int j = 0; j < k; ++j) {
        double v = overlap(b, c[j]);
        if (v > most) most = v, best = j;
    }
    if (iou) *iou = most;
    return best;
}

/* The sizes of every object in the label files of the list, in pixels of a
 * W x H input; images whose label file is missing are skipped, counted. */
static box_size *read_sizes(char **paths, int n_paths, int classes, int W, int H, int *n_out)
{
    int n = 0, cap = 1024, missing = 0;
    box_size *s = dn_malloc(cap * sizeof(box_size));
    for (int i = 0; i < n_paths; ++i) {
        char label[4096];
        det_label_path(paths[i], "labels", label, sizeof(label));
        det_object *o = NULL;
        int k = det_read_labels(label, classes, 0, &o);
        if (k < 0) ++missing;
        for (int j = 0; j < k; ++j) {
            if (!(o[j].w > 0 && o[j].h > 0)) continue;
            if (n == cap) s = realloc(s, (cap *= 2) * sizeof(box_size));
            if (!s) dn_fatal("out of memory (%d boxes)\n", n);
            s[n++] = (box_size){o[j].w * W, o[j].h * H};
        }
        free(o);
    }
    if (missing) fprintf(stderr, "calc_anchors: %d of %d images have no label file; left out\n", missing, n_paths);
    *n_out = n;
    return s;
}

/* k-means++: the first centre uniformly, each next one with probability
 * proportional to the squared distance (1 - IoU) to the nearest centre. */
static void seed_centres(const box_size *b, int n, box_size *c, int k)
{
    rng g;
    rng_seed(&g, 1, 0);
    double *d2 = dn_malloc(n * sizeof(double));
    c[0] = b[rng_below(&g, (uint32_t)n)];
    for (int j = 1; j < k; ++j) {
        double total = 0;
        for (int i = 0; i < n; ++i) {
            double iou;
            best_centre(b[i], c, j, &iou);
            d2[i] = (1 - iou) * (1 - iou);
            total += d2[i];
        }
        double r = rng_uniform(&g) * total;
        int pick = 0;
        while (pick < n - 1 && (r -= d2[pick]) > 0) ++pick;
        c[j] = b[pick];
    }
    free(d2);
}

static int rounds_of_kmeans(const box_size *b, int n, box_size *c, int k)
{
    int *of = dn_malloc(n * sizeof(int)), *count = dn_malloc(k * sizeof(int));
    box_size *sum = dn_malloc(k * sizeof(box_size));
    for (int i = 0; i < n; ++i) of[i] = -1;
    int round = 0, changed = 1;
    while (changed && round < MAX_ROUNDS) {
        ++round;
        changed = 0;
        memset(count, 0, k * sizeof(int));
        memset(sum, 0, k * sizeof(box_size));
        for (int i = 0; i < n; ++i) {
            int j = best_centre(b[i], c, k, NULL);
            changed += j != of[i];
            of[i] = j;
            ++count[j];
            sum[j].w += b[i].w;
            sum[j].h += b[i].h;
        }
        for (int j = 0; j < k; ++j)
            if (count[j]) c[j] = (box_size){sum[j].w / count[j], sum[j].h / count[j]};
    }
    free(of);
    free(count);
    free(sum);
    return round;
}

static int by_area(const void *a, const void *b)
{
    double x = ((const box_size *)a)->w * ((const box_size *)a)->h;
    double y = ((const box_size *)b)->w * ((const box_size *)b)->h;
    return (x > y) - (x < y);
}

/* "anchors = 10,13, 16,30, ..." of the centres, rounded (at least 1). */
static void write_anchors(FILE *fp, box_size *c, int k)
{
    fprintf(fp, "anchors = ");
    for (int j = 0; j < k; ++j) fprintf(fp, "%s%.0f,%.0f", j ? ", " : "", c[j].w, c[j].h);
    fprintf(fp, "\n");
}

static void usage(void)
{
    dn_usage("usage: darknet detector calc_anchors DATA -num_of_clusters N -width W -height H [-show]\n"
             "  k-means anchors of the train= list's boxes for a W x H input; also in anchors.txt\n");
}

void det_anchors_command(int argc, char **argv)
{
    int k = det_arg_int(argc, argv, "-num_of_clusters", 0);
    int W = det_arg_int(argc, argv, "-width", 0), H = det_arg_int(argc, argv, "-height", 0);
    if (det_arg_flag(argc, argv, "-show")) fprintf(stderr, "calc_anchors: -show: no plot in this build\n");
    if (det_positional(argc, argv) != 4) usage();
    if (k < 1) dn_fatal("-num_of_clusters %d: give the number of anchors, at least 1\n", k);
    if (W < 1 || H < 1) dn_fatal("-width %d -height %d: give the network's input size\n", W, H);
    list *options = read_data_cfg(argv[3]);
    char *train = option_find(options, "train");
    if (!train) dn_fatal("%s: no train= list\n", argv[3]);
    int classes = option_find_int_quiet(options, "classes", 0), n_paths = 0, n = 0;
    char **paths = det_read_list(train, &n_paths);
    box_size *b = read_sizes(paths, n_paths, classes, W, H, &n);
    if (n < k) dn_fatal("%s: %d boxes in the labels of %s, fewer than %d clusters\n", argv[3], n, train, k);
    box_size *c = dn_malloc(k * sizeof(box_size));
    seed_centres(b, n, c, k);
    int rounds = rounds_of_kmeans(b, n, c, k);
    for (int j = 0; j < k; ++j) c[j] = (box_size){fmax(1, round(c[j].w)), fmax(1, round(c[j].h))};
    qsort(c, k, sizeof(box_size), by_area);
    double iou_sum = 0;
    for (int i = 0; i < n; ++i) {
        double iou;
        best_centre(b[i], c, k, &iou);
        iou_sum += iou;
    }
    printf("%d boxes, %d clusters, %d rounds of k-means (IoU distance), %dx%d input\n", n, k, rounds, W, H);
    write_anchors(stdout, c, k);
    printf("avg IoU = %.2f %%\n", 100 * iou_sum / n);
    FILE *fp = dn_fopen("anchors.txt", "w");
    write_anchors(fp, c, k);
    fclose(fp);
    printf("saved to anchors.txt\n");
    free(c);
    free(b);
    for (int i = 0; i < n_paths; ++i) free(paths[i]);
    free(paths);
}
