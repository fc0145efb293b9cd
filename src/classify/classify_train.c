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
 *                   (taken by every command, src/registry.c) is not given
 * and BACKUP/NAME.metrics.jsonl (docs/training.md).  This file holds the
 * command's task; the loop is train/train_loop.c. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "classify/augment.h"
#include "classify/classify.h"
#include "dist/dist.h"
#include "ext.h"
#include "input/data_keys.h"
#include "input/image_cache.h"
#include "input/image_check.h"
#include "input/loader_threads.h"
#include "option_list.h"
#include "rand/upstream_rand.h"
#include "train/train_loop.h"
#include "utils.h"
#include "checked.h"

typedef struct classify_opts {
    char *datacfg, *cfgfile, *weightfile, *chart_file;
    int clear;
    float valid_every;
} classify_opts;

/* The task's state: the data loader and the valid list. */
typedef struct classify_task {
    load_args args;
    train_loader loader;
    int resize_count;
    char **paths, **labels;
    int n_paths, classes;
    char **valid_paths;        /* the usable ones; the strings are valid_listed's */
    char **valid_listed;
    int n_valid, n_valid_listed, topk;
    char **listed;             /* the train list; paths holds its usable images */
    int n_listed;
    char topk_name[16];        /* in the chart: "TOP-5" */
} classify_task;

static void usage_exit(const char *prog)
{
    dn_usage("usage: %s classifier train DATA CFG [WEIGHTS] [-clear] [-gpus N]"
             " [-valid_every EPOCHS] [-chart FILE] [-dont_show]\n", prog);
}

static classify_opts parse_opts(int argc, char **argv)
{
    classify_opts o = {0};
    char *gpu_list = find_char_arg(argc, argv, "-gpus", 0);
    o.clear = find_arg(argc, argv, "-clear");
    o.valid_every = find_float_arg(argc, argv, "-valid_every", 0);
    o.chart_file = find_char_arg(argc, argv, "-chart", 0);
    int ngpus;
    int *gpus = read_intlist(gpu_list, &ngpus, gpu_index);
    if (argc < 5 || !argv[3] || !argv[4]) usage_exit(argv[0]);
    if (ngpus > 1) {
        dn_fatal("classifier train: one GPU at a time (-gpus %s): for several GPUs run the ranks of an MPI"
                 " job, one GPU each (make MPI=1 GPU=1; docs/gpu.md, \"Several GPUs\")\n", gpu_list);
    }
    if (!(o.valid_every >= 0)) {
        dn_fatal("-valid_every %g: expected a number of epochs >= 0\n", o.valid_every);
    }
    o.datacfg = argv[3];
    o.cfgfile = argv[4];
    o.weightfile = argc > 5 ? argv[5] : 0;
    char *base = basecfg(o.cfgfile);
    printf("%s\n", base);
    free(base);
    printf("%d\n", ngpus);
#ifdef GPU
    cuda_set_device(gpus[0]);
#endif
    free(gpus);
    return o;
}

static void print_range(const load_args *a) { printf("%d %d\n", a->min, a->max); }

static void setup_loader(classify_task *c, network *net, int tag)
{
    load_args *a = &c->args;
    memset(a, 0, sizeof *a);
    a->w = net->w;
    a->h = net->h;
    /* 32 parts, each with its own seeded stream, as upstream split a batch;
     * how many decode at once is set apart (loader_threads.h) */
    a->threads = 32;
    a->hierarchy = net->hierarchy;
    a->min = net->min_ratio * net->w;
    a->max = net->max_ratio * net->w;
    print_range(a);
    a->angle = net->angle;
    a->aspect = net->aspect;
    a->exposure = net->exposure;
    a->saturation = net->saturation;
    a->hue = net->hue;
    a->size = net->w;
    a->paths = c->paths;
    a->classes = c->classes;
    a->n = net->batch * net->subdivisions;
    a->m = c->n_paths;
    a->labels = c->labels;
    a->type = tag ? TAG_DATA : CLASSIFICATION_DATA;
    a->d = &c->loader.buffer;
    /* under mpirun: every rank draws the whole batch alike, decodes its share */
    a->ext_rank = dist_rank();
    a->ext_ranks = dist_size();
}

/* The loader threads that may run at once: one per core unless
 * DARKNET_LOADER_THREADS says otherwise (docs/performance.md, "The loader"). */
static void limit_loader_threads(void)
{
    int n = loader_threads_default();
    if (n < 0) {
        dn_fatal("DARKNET_LOADER_THREADS=%s: expected a number of threads >= 0"
                " (0: no limit)\n", getenv("DARKNET_LOADER_THREADS"));
    }
    loader_threads_set_limit(n);
}

static void start_loading(void *ctx, network *net)
{
    classify_task *c = ctx;
    c->loader.thread = load_data(c->args);
}

/* Upstream's multi-scale training: every 40 batches a new size from 128 to
 * 448 (random=1 in [net]). */
static void maybe_resize(void *ctx, network *net)
{
    classify_task *c = ctx;
    if (!net->random || c->resize_count++ % 40 != 0) return;
    int dim = (ext_rand() % 11 + 4) * 32;
    printf("Resizing\n%d\n", dim);
    load_args *a = &c->args;
    a->w = a->h = a->size = dim;
    a->min = net->min_ratio * dim;
    a->max = net->max_ratio * dim;
    print_range(a);
    train_loader_stop(&c->loader);
    c->loader.thread = load_data(*a);
    resize_network(net, dim, dim);
}

static data next_batch(void *ctx, network *net)
{
    classify_task *c = ctx;
    double start = what_time_is_it_now();
    data d = train_loader_take(&c->loader);
    c->loader.thread = load_data(c->args);
    printf("Loaded: %lf seconds\n", what_time_is_it_now() - start);
    return d;
}

static void evaluate(void *ctx, network *net, train_eval *e)
{
    classify_task *c = ctx;
    class_eval r = classify_evaluate(net, c->valid_paths, c->n_valid, c->labels, c->classes, c->topk, 0);
    /* single precision, as the printed lines always had it */
    e->score = r.images ? (float)r.top1 / r.images : 0;
    e->score2 = r.images ? (float)r.topk_hits / r.images : 0;
    e->fields[0] = (train_value){"top1", e->score};
    e->fields[1] = (train_value){"topk", e->score2};
    e->fields[2] = (train_value){"k", c->topk};
    e->fields[3] = (train_value){"images", r.images};
    e->n_fields = 4;
    classify_eval_free(&r);
}

static void print_eval(void *ctx, network *net, const train_eval *e, double best, int best_iteration)
{
    classify_task *c = ctx;
    printf("valid: iteration %d, epoch %.3f: top 1: %f, top %d: %f, %d images, %.1f seconds,"
           " best top 1: %f at iteration %d\n", (int)get_current_batch(net), (float)(*net->seen) / c->n_paths,
           e->score, c->topk, e->score2, (int)e->fields[3].value, e->seconds, best, best_iteration);
}

static void print_best(void *ctx, double best, int best_iteration, const char *best_file)
{
    printf("best top 1: %f at iteration %d (%s)\n", best, best_iteration, best_file);
}

/* The valid list and the k of top-k, for -valid_every. */
static void setup_validation(classify_task *c, list *options, const char *datacfg, float every, int tag)
{
    if (tag) {
        dn_fatal("-valid_every needs a labelled dataset (tag=1 in %s)\n", datacfg);
    }
    char *valid_list = option_find_str(options, "valid", "data/train.list");
    c->valid_paths = classify_usable_images(valid_list, &c->n_valid, &c->n_valid_listed, &c->valid_listed);
    c->topk = option_find_int_quiet(options, "top", 1);
    if (c->topk < 1 || c->topk > c->classes) c->topk = c->classes < 5 ? c->classes : 5;
    printf("validating %d images every %g epochs\n", c->n_valid, every);
}

/* Anything skipped since the start, once more at the end. */
static void finish(void *ctx)
{
    image_issue_summary(stdout);
    image_cache_summary(stdout);
    double seconds;
    long parts;
    loader_threads_usage(&seconds, &parts);
    int limit = loader_threads_limit();
    printf("loader threads: %.2f CPU seconds for %ld parts of batches, ", seconds, parts);
    if (limit) printf("at most %d at once\n", limit);
    else printf("no limit at once\n");
}

static void describe_task(train_task *t, classify_task *c, const classify_opts *o, network *net)
{
    snprintf(c->topk_name, sizeof c->topk_name, "TOP-%d", c->topk);
    t->ctx = c;
    t->loader = &c->loader;
    t->command = "classifier train";
    t->cfgfile = o->cfgfile;
    t->weightfile = o->weightfile;
    t->epoch_images = c->n_paths;
    t->epoch_in_line = 1;
    t->endless = 1;
    t->eta_style = TRAIN_ETA_CLOCK;
    t->saves = (train_saves){.backup_every = 1000, .each_epoch = 1, .final_suffix = ""};
    t->eval_every_images = (double)o->valid_every * c->n_paths;
    t->score_name = "TOP-1";
    t->score2_name = c->topk > 1 ? c->topk_name : NULL;
    t->batch_top1 = !net->hierarchy && c->labels;
    t->start_loading = start_loading;
    t->before_batch = maybe_resize;
    t->next_batch = next_batch;
    t->evaluate = evaluate;
    t->print_eval = print_eval;
    t->print_best = print_best;
    t->finish = finish;
#ifdef OPENCV
    t->show_chart = ext_display_available();   /* no display, or -dont_show (registry.c) */
#endif
}

void classify_train_command(int argc, char **argv)
{
    dist_start();   /* under mpirun: join the job before anything is parsed or printed */
    classify_opts o = parse_opts(argc, argv);
    /* Augmentation, data order and initial weights draw through ext_rand():
     * from the network's seeded streams with seed=, else from the clock. */
    upstream_rand_seed_from_time();
    network *net = load_network(o.cfgfile, o.weightfile, o.clear);
    dist_share_network(net, o.cfgfile);
    printf("Learning Rate: %g, Momentum: %g, Decay: %g\n", net->learning_rate, net->momentum, net->decay);

    list *options = read_data_cfg(o.datacfg);
    char *backup = option_find_str(options, "backup", "/backup/");
    int tag = option_find_int_quiet(options, "tag", 0);
    char *label_list = option_find_str(options, "labels", "data/labels.list");
    char *train_list = option_find_str(options, "train", "data/train.list");
    char *tree = option_find(options, "tree");
    if (tree) net->hierarchy = read_tree(tree);
    classify_task c = {0};
    c.classes = option_find_int(options, "classes", 2);
    c.labels = tag ? 0 : classify_read_lines(label_list, c.classes);
    c.paths = classify_usable_images(train_list, &c.n_paths, &c.n_listed, &c.listed);
    printf("%d\n", c.n_paths);
    /* a bad image the loader still meets (one the checks let through) is
     * replaced by a draw from the usable ones */
    image_set_replacements(c.paths, c.n_paths);
    if (o.valid_every > 0) setup_validation(&c, options, o.datacfg, o.valid_every, tag);

    train_task t = {0};
    char *base = basecfg(o.cfgfile);
    char chart_default[4096];
    snprintf(chart_default, sizeof chart_default, "%s/%s_chart.png", backup, base);
    t.backup = backup;
    t.base = base;
    t.chart_file = o.chart_file ? o.chart_file : chart_default;
    describe_task(&t, &c, &o, net);
    augment_set_pad_crop(data_keys_of(net).pad_crop);
    setup_loader(&c, net, tag);
    limit_loader_threads();
    train_loop_run(net, &t);
    loader_threads_set_limit(0);
    augment_set_pad_crop(0);

    image_set_replacements(NULL, 0);
    if (c.valid_paths) {
        free(c.valid_paths);
        free_ptrs((void **)c.valid_listed, c.n_valid_listed);
    }
    free_network(net);
    if (c.labels) free_ptrs((void **)c.labels, c.classes);
    free(c.paths);
    free_ptrs((void **)c.listed, c.n_listed);
    free(base);
}
