/* classify_train.c: `./darknet classifier train`, single GPU or CPU.
 *
 *   ./darknet classifier train DATA CFG [WEIGHTS] [-clear] [-gpus N]
 *       [-valid_every EPOCHS] [-chart FILE] [-dont_show]
 *
 * Same arguments, printed lines and files as upstream's command: BACKUP/
 * NAME_E.weights after each epoch E, NAME.backup every 1000 iterations and
 * NAME.weights at the end.  Each iteration line also ends with the images
 * per second and the time left until max_batches.  Added:
 *   -valid_every E  evaluate the valid list every E epochs (a fraction is
 *                   fine) and at the end; keep the best top-1 weights in
 *                   BACKUP/NAME_best.weights
 *   -chart FILE     the training chart (default BACKUP/NAME_chart.png),
 *                   rewritten as training goes; shown in a window as well
 *                   when built with OpenCV, a display is set and -dont_show
 *                   is not given
 */
#include <math.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "option_list.h"
#include "optim/upstream_rand.h"
#include "utils.h"

#define CHART_W 800
#define CHART_H 500
#define CHART_SECONDS 5.0

static void format_eta(char *buf, size_t n, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e8) {
        snprintf(buf, n, "-");
        return;
    }
    long s = (long)(seconds + .5);
    snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

typedef struct validator {
    char **paths;
    int m;
    char **labels;
    int classes, topk;
    float best;
    int best_iteration;
} validator;

/* Evaluates the valid list; saves BACKUP/BASE_best.weights when top-1 improves. */
static void validate(network *net, validator *v, chart *ch, const char *backup, const char *base, int N)
{
    int it = (int)get_current_batch(net);
    class_eval e = classify_evaluate(net, v->paths, v->m, v->labels, v->classes, v->topk, 0);
    float top1 = e.images ? (float)e.top1 / e.images : 0;
    float topk = e.images ? (float)e.topk_hits / e.images : 0;
    if (top1 > v->best) {
        v->best = top1;
        v->best_iteration = it;
        char buff[4096];
        snprintf(buff, sizeof buff, "%s/%s_best.weights", backup, base);
        save_weights(net, buff);
    }
    printf("valid: iteration %d, epoch %.3f: top 1: %f, top %d: %f, %d images, %.1f seconds,"
           " best top 1: %f at iteration %d\n", it, (float)(*net->seen) / N, top1, v->topk, topk,
           e.images, e.seconds, v->best, v->best_iteration);
    chart_add_accuracy(ch, it, top1, topk, v->topk);
    classify_eval_free(&e);
}

static void update_chart(const chart *ch, const char *file, int show)
{
    chart_save_png(ch, file);
    if (show) {
        image im = chart_draw(ch);
        show_image(im, "chart", 1);
        free_image(im);
    }
}

void classify_train_command(int argc, char **argv)
{
    char *gpu_list = find_char_arg(argc, argv, "-gpus", 0);
    int clear = find_arg(argc, argv, "-clear");
    int dont_show = find_arg(argc, argv, "-dont_show");
    float valid_every = find_float_arg(argc, argv, "-valid_every", 0);
    char *chart_file = find_char_arg(argc, argv, "-chart", 0);
    int ngpus;
    int *gpus = read_intlist(gpu_list, &ngpus, gpu_index);
    if (argc < 5 || !argv[3] || !argv[4]) {
        fprintf(stderr, "usage: %s classifier train DATA CFG [WEIGHTS] [-clear] [-gpus N]"
                " [-valid_every EPOCHS] [-chart FILE] [-dont_show]\n", argv[0]);
        exit(1);
    }
    if (ngpus > 1) {
        fprintf(stderr, "darknet: error: classifier train: one GPU at a time (-gpus %s)\n", gpu_list);
        exit(1);
    }
    if (!(valid_every >= 0)) {
        fprintf(stderr, "darknet: error: -valid_every %g: expected a number of epochs >= 0\n", valid_every);
        exit(1);
    }
    char *datacfg = argv[3], *cfgfile = argv[4];
    char *weightfile = (argc > 5) ? argv[5] : 0;

    char *base = basecfg(cfgfile);
    printf("%s\n", base);
    printf("%d\n", ngpus);
#ifdef GPU
    cuda_set_device(gpus[0]);
#endif
    free(gpus);
    /* Augmentation, data order and initial weights draw through ext_rand():
     * from the network's seeded streams with seed=, else from the clock. */
    upstream_rand_seed_from_time();
    network *net = load_network(cfgfile, weightfile, clear);
    int imgs = net->batch * net->subdivisions;
    printf("Learning Rate: %g, Momentum: %g, Decay: %g\n", net->learning_rate, net->momentum, net->decay);

    list *options = read_data_cfg(datacfg);
    char *backup = option_find_str(options, "backup", "/backup/");
    int tag = option_find_int_quiet(options, "tag", 0);
    char *label_list = option_find_str(options, "labels", "data/labels.list");
    char *train_list = option_find_str(options, "train", "data/train.list");
    char *tree = option_find(options, "tree");
    if (tree) net->hierarchy = read_tree(tree);
    int classes = option_find_int(options, "classes", 2);

    char **labels = tag ? 0 : classify_read_lines(label_list, classes);
    list *plist = get_paths(train_list);
    char **paths = (char **)list_to_array(plist);
    int N = plist->size;
    printf("%d\n", N);
    if (N < 1) {
        fprintf(stderr, "darknet: error: %s: no images\n", train_list);
        exit(1);
    }

    validator v = {0};
    v.best = -1;
    v.best_iteration = -1;
    if (valid_every > 0) {
        if (tag) {
            fprintf(stderr, "darknet: error: -valid_every needs a labelled dataset (tag=1 in %s)\n", datacfg);
            exit(1);
        }
        char *valid_list = option_find_str(options, "valid", "data/train.list");
        list *vl = get_paths(valid_list);
        v.paths = (char **)list_to_array(vl);
        v.m = vl->size;
        free_list(vl);
        v.labels = labels;
        v.classes = classes;
        v.topk = option_find_int_quiet(options, "top", 1);
        if (v.topk < 1 || v.topk > classes) v.topk = classes < 5 ? classes : 5;
        printf("validating %d images every %g epochs\n", v.m, valid_every);
    }

    char chart_default[4096];
    snprintf(chart_default, sizeof chart_default, "%s/%s_chart.png", backup, base);
    if (!chart_file) chart_file = chart_default;
    int show = 0;
#ifdef OPENCV
    show = !dont_show && getenv("DISPLAY") && *getenv("DISPLAY");
#endif
    chart *ch = chart_make(CHART_W, CHART_H);
    chart_set_max_iteration(ch, net->max_batches);

    load_args args = {0};
    args.w = net->w;
    args.h = net->h;
    args.threads = 32;
    args.hierarchy = net->hierarchy;
    args.min = net->min_ratio * net->w;
    args.max = net->max_ratio * net->w;
    printf("%d %d\n", args.min, args.max);
    args.angle = net->angle;
    args.aspect = net->aspect;
    args.exposure = net->exposure;
    args.saturation = net->saturation;
    args.hue = net->hue;
    args.size = net->w;
    args.paths = paths;
    args.classes = classes;
    args.n = imgs;
    args.m = N;
    args.labels = labels;
    args.type = tag ? TAG_DATA : CLASSIFICATION_DATA;

    data train, buffer;
    args.d = &buffer;
    pthread_t load_thread = load_data(args);

    float avg_loss = -1;
    double ips = 0;
    double last_chart = 0;
    int count = 0;
    int epoch = (*net->seen) / N;
    double every_imgs = valid_every * N;
    double next_valid = every_imgs > 0 ? (floor(*net->seen / every_imgs) + 1) * every_imgs : 0;
    int last_valid_iteration = -1;

    while (get_current_batch(net) < net->max_batches || net->max_batches == 0) {
        double start = what_time_is_it_now();
        if (net->random && count++ % 40 == 0) {
            int dim = (ext_rand() % 11 + 4) * 32;
            printf("Resizing\n%d\n", dim);
            args.w = args.h = args.size = dim;
            args.min = net->min_ratio * dim;
            args.max = net->max_ratio * dim;
            printf("%d %d\n", args.min, args.max);
            pthread_join(load_thread, 0);
            free_data(buffer);
            load_thread = load_data(args);
            resize_network(net, dim, dim);
        }
        pthread_join(load_thread, 0);
        train = buffer;
        load_thread = load_data(args);
        printf("Loaded: %lf seconds\n", what_time_is_it_now() - start);

        double t = what_time_is_it_now();
        float loss = train_network(net, train);
        double now = what_time_is_it_now();
        if (avg_loss == -1) avg_loss = loss;
        avg_loss = avg_loss * .9 + loss * .1;
        double rate_now = (now - start) > 0 ? imgs / (now - start) : 0;
        ips = ips == 0 ? rate_now : .9 * ips + .1 * rate_now;
        long batch_now = (long)get_current_batch(net);
        char eta[32];
        if (net->max_batches > 0 && ips > 0) format_eta(eta, sizeof eta, (net->max_batches - batch_now) * (double)imgs / ips);
        else snprintf(eta, sizeof eta, "-");
        printf("%ld, %.3f: %f, %f avg, %f rate, %lf seconds, %ld images, %.1f img/s, ETA %s\n",
               batch_now, (float)(*net->seen) / N, loss, avg_loss, get_current_rate(net), now - t,
               (long)*net->seen, ips, eta);
        fflush(stdout);
        free_data(train);
        chart_add_loss(ch, (int)batch_now, avg_loss);

        if (*net->seen / N > epoch) {
            epoch = *net->seen / N;
            char buff[4096];
            snprintf(buff, sizeof buff, "%s/%s_%d.weights", backup, base, epoch);
            save_weights(net, buff);
        }
        if (batch_now % 1000 == 0) {
            char buff[4096];
            snprintf(buff, sizeof buff, "%s/%s.backup", backup, base);
            save_weights(net, buff);
        }
        int changed = 0;
        if (every_imgs > 0 && *net->seen >= next_valid) {
            validate(net, &v, ch, backup, base, N);
            last_valid_iteration = (int)batch_now;
            while (next_valid <= *net->seen) next_valid += every_imgs;
            changed = 1;
        }
        if (changed || now - last_chart >= CHART_SECONDS) {
            update_chart(ch, chart_file, show);
            last_chart = what_time_is_it_now();
        }
    }
    char buff[4096];
    snprintf(buff, sizeof buff, "%s/%s.weights", backup, base);
    save_weights(net, buff);
    pthread_join(load_thread, 0);
    free_data(buffer);
    if (every_imgs > 0 && last_valid_iteration != (int)get_current_batch(net)) {
        validate(net, &v, ch, backup, base, N);
    }
    update_chart(ch, chart_file, show);
    if (every_imgs > 0) {
        printf("best top 1: %f at iteration %d (%s/%s_best.weights)\n", v.best, v.best_iteration, backup, base);
        free_ptrs((void **)v.paths, v.m);
    }
    chart_free(ch);
    free_network(net);
    if (labels) free_ptrs((void **)labels, classes);
    free_ptrs((void **)paths, N);
    free_list(plist);
    free(base);
}
