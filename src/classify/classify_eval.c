/* classify_eval.c: `./darknet classifier valid` with a closing summary.
 *
 *   ./darknet classifier valid DATA CFG WEIGHTS [-json FILE] [-quiet]
 *
 * Each image gets upstream's two lines (path, class and the first two scores;
 * then the running top-1 and top-k), so scripts that read them keep working.
 * After the last image a summary follows: images, top-1, top-k and the
 * accuracy of each class.  -json FILE writes the same numbers as JSON.
 *
 * Images are read and center-cropped exactly as upstream's `classifier valid`
 * does, but run through the network in batches (up to the cfg's batch) while
 * the next batch loads in a second thread. */
#include <math.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "input/image_check.h"
#include "option_list.h"
#include "rand/upstream_rand.h"
#include "utils.h"
#include "checked.h"

int classify_truth(const char *path, char **labels, int classes, int *matches)
{
    int first = -1, count = 0;
    for (int j = 0; j < classes; ++j) {
        if (labels[j] && strstr(path, labels[j])) {
            if (first < 0) first = j;
            ++count;
        }
    }
    if (matches) *matches = count;
    return first;
}

char **classify_usable_images(const char *list_file, int *n_good, int *n_listed, char ***listed)
{
    list *l = get_paths((char *)list_file);
    char **all = (char **)list_to_array(l);
    int n = l->size;
    free_list(l);
    char **good = image_scan_list(all, n, n_good);
    if (*n_good < n) {
        printf("%s: %d of %d images usable, %d skipped\n", list_file, *n_good, n, n - *n_good);
        image_issue_summary(stdout);
    }
    if (*n_good == 0) {
        dn_fatal("%s: no readable image (%d listed)\n", list_file, n);
    }
    *n_listed = n;
    *listed = all;
    return good;
}

/* One batch of images, loaded by a helper thread. */
typedef struct batch_job {
    char **paths;
    int n, w, h;
    float *x;            /* n * w * h * 3 */
    unsigned char *skipped;   /* n flags: the image could not be read */
} batch_job;

static void *load_images(void *arg)
{
    batch_job *job = arg;
    int size = job->w * job->h * 3;
    for (int i = 0; i < job->n; ++i) {
        image im;
        job->skipped[i] = image_load_checked(job->paths[i], &im) != 0;
        if (job->skipped[i]) {
            memset(job->x + (size_t)i * size, 0, size * sizeof(float));
            continue;
        }
        image crop = center_crop_image(im, job->w, job->h);
        memcpy(job->x + (size_t)i * size, crop.data, size * sizeof(float));
        free_image(im);
        free_image(crop);
    }
    return NULL;
}

/* Loads one batch, its images split over a few threads. */
#define LOADERS 4
static void *load_batch(void *arg)
{
    batch_job *job = arg;
    batch_job part[LOADERS];
    pthread_t threads[LOADERS];
    int size = job->w * job->h * 3;
    for (int t = 0; t < LOADERS; ++t) {
        int a = job->n * t / LOADERS, b = job->n * (t + 1) / LOADERS;
        part[t] = (batch_job){job->paths + a, b - a, job->w, job->h, job->x + (size_t)a * size, job->skipped + a};
        if (pthread_create(&threads[t], NULL, load_images, &part[t])) error("Thread creation failed");
    }
    for (int t = 0; t < LOADERS; ++t) pthread_join(threads[t], NULL);
    return NULL;
}

/* Scores one image's predictions into e; prints upstream's two lines. */
static void score_image(class_eval *e, float *pred, const char *path, char **labels, int *indexes,
                        int i, int per_image)
{
    int classes = e->classes, topk = e->topk;
    int matches = 0;
    int truth = classify_truth(path, labels, classes, &matches);
    if (matches == 0) ++e->unlabeled;
    if (matches > 1) ++e->ambiguous;
    top_k(pred, classes, topk, indexes);
    int hit1 = indexes[0] == truth;
    int hitk = 0;
    for (int j = 0; j < topk; ++j) hitk |= indexes[j] == truth;
    e->top1 += hit1;
    e->topk_hits += hitk;
    if (truth >= 0) {
        e->class_images[truth]++;
        e->class_top1[truth] += hit1;
    }
    ++e->images;
    if (per_image) {
        printf("%s, %d, %f, %f, \n", path, truth, pred[0], classes > 1 ? pred[1] : 0.f);
        printf("%d: top 1: %f, top %d: %f\n", i, (float)e->top1 / e->images, topk,
               (float)e->topk_hits / e->images);
    }
}

/* Two buffers: one batch runs through the network while the next loads. */
typedef struct eval_buffers {
    float *x[2];
    unsigned char *skipped[2];
    batch_job job[2];
    pthread_t thread;
} eval_buffers;

static void start_batch(eval_buffers *b, int which, char **paths, int n, network *net)
{
    b->job[which] = (batch_job){paths, n, net->w, net->h, b->x[which], b->skipped[which]};
    if (pthread_create(&b->thread, NULL, load_batch, &b->job[which])) error("Thread creation failed");
}

static int eval_batch_size(network *net, int m)
{
    int batch = net->batch < 1 ? 1 : net->batch;
    if (batch > m) batch = m > 0 ? m : 1;
    set_batch_network(net, batch);
    if (net->inputs != net->w * net->h * 3) {
        dn_fatal("the network takes %d inputs, not %dx%dx3 images\n",
                net->inputs, net->w, net->h);
    }
    return batch;
}

class_eval classify_evaluate(network *net, char **paths, int m, char **labels,
                             int classes, int topk, int per_image)
{
    class_eval e = {0};
    e.classes = classes;
    e.topk = topk;
    e.class_images = calloc(classes, sizeof(int));
    e.class_top1 = calloc(classes, sizeof(int));
    double start = what_time_is_it_now();
    int old_batch = net->batch;
    int batch = eval_batch_size(net, m);
    size_t size = (size_t)net->w * net->h * 3;
    eval_buffers b;
    for (int k = 0; k < 2; ++k) {
        b.x[k] = calloc((size_t)batch * size, sizeof(float));
        b.skipped[k] = calloc(batch, 1);
    }
    int *indexes = calloc(topk, sizeof(int));
    int cur = 0;
    if (m > 0) start_batch(&b, 0, paths, batch < m ? batch : m, net);
    for (int first = 0; first < m; first += batch) {
        pthread_join(b.thread, NULL);
        int n = b.job[cur].n, next = first + batch;
        if (next < m) start_batch(&b, 1 - cur, paths + next, m - next < batch ? m - next : batch, net);
        float *out = network_predict(net, b.x[cur]);
        for (int k = 0; k < n; ++k) {
            /* an image that could not be read was reported, and is not scored */
            if (b.skipped[cur][k]) {
                ++e.skipped;
                continue;
            }
            float *pred = out + (size_t)k * net->outputs;
            if (net->hierarchy) hierarchy_predictions(pred, net->outputs, net->hierarchy, 1, 1);
            score_image(&e, pred, paths[first + k], labels, indexes, first + k, per_image);
        }
        cur = 1 - cur;
    }
    set_batch_network(net, old_batch);
    for (int k = 0; k < 2; ++k) {
        free(b.x[k]);
        free(b.skipped[k]);
    }
    free(indexes);
    e.seconds = what_time_is_it_now() - start;
    return e;
}

void classify_eval_free(class_eval *e)
{
    free(e->class_images);
    free(e->class_top1);
    e->class_images = e->class_top1 = NULL;
}

char **classify_read_lines(char *file, int need)
{
    list *l = get_paths(file);
    if (l->size < need) {
        dn_fatal("%s: %d lines, but classes=%d needs one per class\n",
                file, l->size, need);
    }
    char **lines = (char **)list_to_array(l);
    free_list(l);
    return lines;
}

static double ratio(int a, int b) { return b > 0 ? (double)a / b : 0.0; }

void classify_print_summary(FILE *out, const class_eval *e, char **names)
{
    fprintf(out, "summary: %d images, top 1: %.4f, top %d: %.4f, %.1f seconds\n",
            e->images, ratio(e->top1, e->images), e->topk, ratio(e->topk_hits, e->images), e->seconds);
    if (e->skipped) {
        fprintf(out, "skipped: %d images that could not be read (each named in a warning)\n", e->skipped);
        image_issue_summary(out);
    }
    if (e->unlabeled || e->ambiguous) {
        fprintf(out, "warning: %d images match no label and %d match more than one"
                " (their class is the first match, as upstream takes it)\n", e->unlabeled, e->ambiguous);
    }
    fprintf(out, "per class: accuracy (correct/images) name\n");
    for (int j = 0; j < e->classes; ++j) {
        fprintf(out, "  %4d: %.4f (%d/%d) %s\n", j, ratio(e->class_top1[j], e->class_images[j]),
                e->class_top1[j], e->class_images[j], names && names[j] ? names[j] : "");
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; ++s) {
        unsigned char c = *s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int classify_write_json(const char *file, const class_eval *e, char **names,
                        const char *cfg, const char *weights, const char *list)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        fprintf(stderr, "darknet: error: cannot write %s\n", file);
        return -1;
    }
    fprintf(f, "{\n  \"cfg\": ");
    json_string(f, cfg);
    fprintf(f, ",\n  \"weights\": ");
    json_string(f, weights ? weights : "");
    fprintf(f, ",\n  \"list\": ");
    json_string(f, list);
    fprintf(f, ",\n  \"images\": %d,\n  \"skipped\": %d,\n  \"unlabeled\": %d,\n  \"ambiguous\": %d,\n",
            e->images, e->skipped, e->unlabeled, e->ambiguous);
    fprintf(f, "  \"top1\": %.6f,\n  \"top1_correct\": %d,\n  \"k\": %d,\n  \"topk\": %.6f,\n"
            "  \"topk_correct\": %d,\n  \"seconds\": %.3f,\n  \"classes\": [\n",
            ratio(e->top1, e->images), e->top1, e->topk, ratio(e->topk_hits, e->images),
            e->topk_hits, e->seconds);
    for (int j = 0; j < e->classes; ++j) {
        fprintf(f, "    {\"index\": %d, \"name\": ", j);
        json_string(f, names && names[j] ? names[j] : "");
        fprintf(f, ", \"images\": %d, \"correct\": %d, \"accuracy\": %.6f}%s\n", e->class_images[j],
                e->class_top1[j], ratio(e->class_top1[j], e->class_images[j]),
                j + 1 < e->classes ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "darknet: error: cannot write %s\n", file);
        return -1;
    }
    return 0;
}

void classify_valid_command(int argc, char **argv)
{
    char *json = find_char_arg(argc, argv, "-json", 0);
    int quiet = find_arg(argc, argv, "-quiet");
    if (argc < 6) {
        dn_usage("usage: %s classifier valid DATA CFG WEIGHTS [-json FILE] [-quiet]\n", argv[0]);
    }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5];
    network *net = load_network(cfg, weights, 0);
    upstream_rand_seed_from_time();

    list *options = read_data_cfg(datacfg);
    char *label_list = option_find_str(options, "labels", "data/labels.list");
    char *name_list = option_find(options, "names");
    if (!name_list) name_list = label_list;
    char *leaf_list = option_find(options, "leaves");
    if (leaf_list) change_leaves(net->hierarchy, leaf_list);
    char *valid_list = option_find_str(options, "valid", "data/train.list");
    int classes = option_find_int(options, "classes", 2);
    int topk = option_find_int(options, "top", 1);
    if (topk < 1 || topk > classes) {
        dn_fatal("%s: top=%d: expected 1..classes (%d)\n", datacfg, topk, classes);
    }
    if (net->outputs < classes) {
        dn_fatal("%s: classes=%d but the network has only %d outputs\n",
                datacfg, classes, net->outputs);
    }
    char **labels = classify_read_lines(label_list, classes);
    char **names = strcmp(name_list, label_list) ? classify_read_lines(name_list, classes) : labels;
    list *plist = get_paths(valid_list);
    char **paths = (char **)list_to_array(plist);
    int m = plist->size;
    free_list(plist);

    class_eval e = classify_evaluate(net, paths, m, labels, classes, topk, !quiet);
    classify_print_summary(stdout, &e, names);
    if (e.images == 0) {
        dn_fatal("%s: no readable image (%d listed)\n", valid_list, m);
    }
    int status = 0;
    if (json) status = classify_write_json(json, &e, names, cfg, weights, valid_list);
    classify_eval_free(&e);
    free_ptrs((void **)paths, m);
    free_network(net);
    if (status) exit(1);
}
