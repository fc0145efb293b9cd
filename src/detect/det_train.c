/* det_train.c: `./darknet detector train`, with evaluation while training.
 *
 *   darknet detector train DATA CFG [WEIGHTS] [-clear] [-map] [-map_every N]
 *       [-chart FILE] [-points 11|0] [-iou_thresh 0.5] [-dont_show]
 *
 * -dont_show, which AlexeyAB's tutorials add, is taken by every command
 * (src/registry.c); this one opens no window anyway.
 *
 * Upstream's command, plus:
 *  - training data goes through det_data.c: bad label lines, missing label
 *    files and unreadable images are skipped with a warning, counted and
 *    summarised instead of stopping the run;
 *  - every line shows images per second and the time left;
 *  - with -map, the mAP on the valid list every N iterations (and at the
 *    end), BACKUP/NAME_best.weights kept for the best one, and a chart of
 *    loss and mAP in BACKUP/NAME_chart.png (or -chart FILE);
 *  - [region] layers get a working CPU backward pass (det_region.c);
 *  - random=1 picks sizes around the cfg's own (0.7x to 1.4x, multiples
 *    of 32) every 10 iterations and goes back to it for the last 200
 *    iterations (the last tenth in shorter runs); extension
 *    layers resize through the layer registry's resize hook.  Two-stage
 *    cfgs too ([rcnn] random=1): the trunk, [rpn] and [roipool] resize,
 *    and the head after [roipool] keeps its shape (its input, pooled
 *    ROIs, does not change); 32 is a multiple of their stride, 16.
 * The weights saved are upstream's: NAME.backup every 100 iterations,
 * NAME_N.weights, NAME_final.weights; BACKUP/NAME.metrics.jsonl logs each
 * iteration and evaluation (docs/training.md).  This file holds the
 * command's task; the loop is train/train_loop.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/det_data.h"
#include "detect/det_eval.h"
#include "detect/det_region.h"
#include "detect/det_train.h"
#include "rcnn/rcnn_layers.h"
#include "dist/dist.h"
#include "optim/optimizer.h"
#include "rand/rng.h"
#include "option_list.h"
#include "train/train_loop.h"
#include "utils.h"
#include "checked.h"

typedef struct det_opts {
    char *datacfg, *cfgfile, *weightfile, *chart_path;
    int clear, with_map, map_every;
    det_eval_opts eval;
} det_opts;

/* The task's state: the loader, the multi-scale sizes and the evaluation
 * network (batch 1, loaded from NAME.backup before each evaluation). */
typedef struct det_task {
    det_batch_args args;
    train_loader loader;
    int random, count, base_w, base_h;
    network *eval;
    char **valid_paths;
    int n_valid, classes;
    det_eval_opts eo;
    char backup_file[4096];
} det_task;

double det_eval_network(network *eval, char **paths, int n, int classes, det_eval_opts o,
                        vm_result *r)
{
    vm_set s;
    vm_set_init(&s);
    det_collect(eval, paths, n, classes, o, &s, NULL);
    vm_evaluate(s.dets, s.n_dets, s.truths, s.n_truths, classes, o.iou_thresh, o.points, r);
    vm_set_free(&s);
    return r->map;
}

static det_opts parse_opts(int argc, char **argv)
{
    det_opts o = {0};
    o.clear = det_arg_flag(argc, argv, "-clear");
    o.with_map = det_arg_flag(argc, argv, "-map");
    o.map_every = det_arg_int(argc, argv, "-map_every", 0);
    o.chart_path = det_arg_str(argc, argv, "-chart", NULL);
    o.eval = det_eval_defaults();
    o.eval.points = det_arg_int(argc, argv, "-points", o.eval.points);
    o.eval.iou_thresh = det_arg_float(argc, argv, "-iou_thresh", o.eval.iou_thresh);
    int npos = det_positional(argc, argv);
    if (npos < 5) {
        dn_usage("usage: %s detector train DATA CFG [WEIGHTS] [-clear] [-map] [-map_every N]\n"
                 "           [-chart FILE] [-points 11|0] [-iou_thresh 0.5] [-dont_show]\n", argv[0]);
    }
    for (int i = 1; i < npos; ++i) {
        if (!strcmp(argv[i], "-gpus")) {
            dn_fatal("-gpus %s: several GPUs in one process (upstream's weight averaging) are not supported:"
                     " for several GPUs run the ranks of an MPI job, one GPU each (make MPI=1 GPU=1, then"
                     " mpirun -np 2 build/mpi/darknet detector train ...; docs/gpu.md, \"Several GPUs\"), or train on"
                     " one GPU chosen with -i N\n", i + 1 < npos ? argv[i + 1] : "");
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            dn_fatal("unknown option %s (detector train takes one GPU, "
                            "chosen with -i)\n", argv[i]);
        }
    }
    if (o.eval.points != 0 && o.eval.points != 11) {
        dn_fatal("-points %d: expected 11 (VOC2007) or 0 (all points)\n", o.eval.points);
    }
    if (o.map_every < 0) {
        dn_fatal("-map_every %d: expected a positive number\n", o.map_every);
    }
    o.datacfg = argv[3];
    o.cfgfile = argv[4];
    o.weightfile = npos > 5 ? argv[5] : NULL;
    return o;
}

/* The last layer, which must be [yolo], [region] or [rcnn], with classes=
 * checked against the .data file. */
static layer detection_layer_of(network *net, list *options, const det_opts *o)
{
    layer l = net->layers[net->n - 1];
    if (l.type != YOLO && l.type != REGION && !rcnn_is_layer(l, &rcnn_ext)) {
        dn_fatal("%s: the last layer is not [yolo], [region] or [rcnn]\n", o->cfgfile);
    }
    int data_classes = option_find_int_quiet(options, "classes", l.classes);
    if (data_classes != l.classes) {
        dn_fatal("%s has classes=%d, %s has %d\n", o->datacfg, data_classes,
                o->cfgfile, l.classes);
    }
    return l;
}

/* A multiple of 32 near v, at least 32. */
static int near32(float v)
{
    int k = (int)lroundf(v / 32);
    return 32 * (k < 1 ? 1 : k);
}

/* random=1: every 10 iterations a size from the seeded generator, keyed by
 * the iteration so that a resumed run picks the same sizes. */
static void maybe_resize(void *ctx, network *net)
{
    det_task *d = ctx;
    if (!d->random || d->count++ % 10 != 0) return;
    int cur = (int)get_current_batch(net);
    int w = d->base_w, h = d->base_h;
    int tail = net->max_batches / 10 < 200 ? net->max_batches / 10 : 200;
    if (cur + tail < net->max_batches) {
        rng r;
        rng_seed(&r, d->args.seed, 0x200000000ULL + (uint64_t)cur);
        int lo = near32(.7f * d->base_w) / 32, hi = near32(1.4f * d->base_w) / 32;
        w = 32 * (lo + (int)rng_below(&r, (uint32_t)(hi - lo + 1)));
        h = near32((float)w * d->base_h / d->base_w);
    }
    printf("Resizing to %d x %d\n", w, h);
    train_loader_stop(&d->loader);
    d->args.w = w;
    d->args.h = h;
    d->loader.thread = det_load_batch_async(d->args, &d->loader.buffer);
    resize_network(net, w, h);
}

static data next_batch(void *ctx, network *net)
{
    det_task *d = ctx;
    data batch = train_loader_take(&d->loader);
    d->args.index++;
    d->loader.thread = det_load_batch_async(d->args, &d->loader.buffer);
    return batch;
}

static void evaluate(void *ctx, network *net, train_eval *e)
{
    det_task *d = ctx;
    load_weights(d->eval, d->backup_file);
    vm_result r;
    det_eval_network(d->eval, d->valid_paths, d->n_valid, d->classes, d->eo, &r);
    e->score = r.map;
    e->fields[0] = (train_value){"map", r.map};
    e->fields[1] = (train_value){"iou_thresh", d->eo.iou_thresh};
    e->fields[2] = (train_value){"points", d->eo.points};
    e->fields[3] = (train_value){"images", d->n_valid};
    e->n_fields = 4;
    vm_result_free(&r);
}

static void print_eval(void *ctx, network *net, const train_eval *e, double best, int best_iteration)
{
    det_task *d = ctx;
    printf("%d: mAP@%.2f = %.2f %% (%s), best %.2f %% at %d, %.1f seconds\n", (int)get_current_batch(net),
           d->eo.iou_thresh, 100 * e->score, d->eo.points ? "11-point" : "all points",
           100 * (float)best, best_iteration, e->seconds);
}

static void print_best(void *ctx, double best, int best_iteration, const char *best_file)
{
    det_task *d = ctx;
    printf("best mAP@%.2f = %.2f %% at iteration %d: %s\n", d->eo.iou_thresh, 100 * (float)best,
           best_iteration, best_file);
}

static void finish(void *ctx)
{
    det_issue_summary(stdout);
}

static void setup_loader(det_task *d, network *net, layer l, char **paths, int n_train)
{
    det_batch_args *a = &d->args;
    a->paths = paths;
    a->n_paths = n_train;
    a->n = net->batch * net->subdivisions;
    a->w = net->w;
    a->h = net->h;
    a->classes = l.classes;
    a->max_boxes = l.max_boxes;
    a->jitter = l.jitter;
    a->hue = net->hue;
    a->saturation = net->saturation ? net->saturation : 1;
    a->exposure = net->exposure ? net->exposure : 1;
    a->flip = 1;
    a->seed = net_ext_of(net)->seed;
    a->index = get_current_batch(net);
    a->threads = 8;
    if (dist_size() > 1) {   /* under mpirun: this rank's share of each batch */
        a->share_first = a->n / dist_size() * dist_rank();
        a->share_last = a->share_first + a->n / dist_size();
    }
    d->random = l.random;
    d->base_w = net->w;
    d->base_h = net->h;
    d->classes = l.classes;
}

static void start_loading(void *ctx, network *net)
{
    det_task *d = ctx;
    d->loader.thread = det_load_batch_async(d->args, &d->loader.buffer);
}

/* -map: the valid list, a batch-1 network to evaluate with, and the
 * default interval (a tenth of the run, at most 1000). */
static int setup_evaluation(det_task *d, const det_opts *o, network *net, const char *valid_list)
{
    d->valid_paths = det_read_list(valid_list, &d->n_valid);
    d->eval = parse_network_cfg(o->cfgfile);
    set_batch_network(d->eval, 1);
    int every = o->map_every;
    if (!every) {
        every = net->max_batches / 10;
        if (every > 1000) every = 1000;
        if (every < 1) every = 1;
    }
    d->eo = o->eval;
    printf("mAP@%.2f on %d images of %s every %d iterations\n", d->eo.iou_thresh, d->n_valid, valid_list, every);
    return every;
}

static void describe_task(train_task *t, det_task *d, const det_opts *o, int n_train, int map_every,
                          int imgs)
{
    t->ctx = d;
    t->loader = &d->loader;
    t->command = "detector train";
    t->cfgfile = o->cfgfile;
    t->weightfile = o->weightfile;
    t->epoch_images = n_train;
    t->eta_style = TRAIN_ETA_UNITS;
    t->saves = (train_saves){.backup_every = 100, .backup_at_eval = 1, .detector_points = 1,
                             .final_suffix = "_final"};
    t->eval_every_images = o->with_map ? (double)map_every * imgs : 0;
    t->score_name = "MAP";
    t->start_loading = start_loading;
    t->before_batch = maybe_resize;
    t->next_batch = next_batch;
    t->evaluate = evaluate;
    t->print_eval = print_eval;
    t->print_best = print_best;
    t->finish = finish;
}

void det_train_command(int argc, char **argv)
{
    dist_start();   /* under mpirun: join the job before anything is parsed or printed */
    det_opts o = parse_opts(argc, argv);
    list *options = read_data_cfg(o.datacfg);
    /* option_find_str checks the lists at once, before a network loads */
    char *train_list = option_find_str(options, "train", NULL);
    char *valid_list = o.with_map ? option_find_str(options, "valid", NULL) : NULL;
    /* option_find_str checks at start that the folder takes new files */
    char *backup = option_find_str(options, "backup", "backup");
    if (!train_list) {
        dn_fatal("%s: no train= list\n", o.datacfg);
    }
    if (o.with_map && !valid_list) {
        dn_fatal("%s: -map needs a valid= list\n", o.datacfg);
    }

    char *base = basecfg(o.cfgfile);
    printf("%s\n", base);
    network *net = load_network(o.cfgfile, o.weightfile, o.clear);
    det_fix_network(net);
    dist_share_network(net, o.cfgfile);
    printf("Learning Rate: %g, Momentum: %g, Decay: %g\n", net->learning_rate, net->momentum, net->decay);
    layer l = detection_layer_of(net, options, &o);

    int n_all, n_train;
    char **all_paths = det_read_list(train_list, &n_all);
    char **paths = det_scan_list(all_paths, n_all, l.classes, &n_train);
    printf("training images: %d usable of %d in %s\n", n_train, n_all, train_list);
    det_issue_summary(stdout);
    if (n_train == 0) {
        dn_fatal("no usable training image in %s\n", train_list);
    }

    det_task d = {0};
    int map_every = o.with_map ? setup_evaluation(&d, &o, net, valid_list) : 0;
    snprintf(d.backup_file, sizeof d.backup_file, "%s/%s.backup", backup, base);
    char chart_file[4096];
    /* written as PATH, or PATH.png when PATH does not end in .png */
    const char *chart = o.chart_path ? o.chart_path : "";
    size_t len = strlen(chart);
    if (o.chart_path) snprintf(chart_file, sizeof chart_file, "%s%s", chart,
                               len > 4 && strcmp(chart + len - 4, ".png") == 0 ? "" : ".png");
    else snprintf(chart_file, sizeof chart_file, "%s/%s_chart.png", backup, base);

    train_task t = {0};
    t.backup = backup;
    t.base = base;
    t.chart_file = chart_file;
    describe_task(&t, &d, &o, n_train, map_every, net->batch * net->subdivisions);
    setup_loader(&d, net, l, paths, n_train);
    train_loop_run(net, &t);
    free(paths);
    free(base);
}
