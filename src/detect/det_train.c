/* det_train.c: `./darknet detector train`, with evaluation while training.
 *
 *   darknet detector train DATA CFG [WEIGHTS] [-clear] [-map] [-map_every N]
 *       [-chart FILE] [-points 11|0] [-iou_thresh 0.5]
 *
 * Upstream's loop, plus:
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
 *    layers resize through the layer registry's resize hook.
 * The weights saved are upstream's: NAME.backup every 100 iterations,
 * NAME_N.weights, NAME_final.weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/det_chart.h"
#include "detect/det_data.h"
#include "detect/det_eval.h"
#include "detect/det_region.h"
#include "detect/det_train.h"
#include "optim/optimizer.h"
#include "option_list.h"
#include "utils.h"

static void format_eta(char *buf, size_t size, double seconds)
{
    if (!isfinite(seconds) || seconds < 0) seconds = 0;
    long s = (long)(seconds + .5);
    if (s >= 3600) snprintf(buf, size, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else snprintf(buf, size, "%lds", s);
}

/* A multiple of 32 near base*scale, at least 32. */
static int near32(float v)
{
    int k = (int)lroundf(v / 32);
    return 32 * (k < 1 ? 1 : k);
}

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

void det_train_command(int argc, char **argv)
{
    int clear = det_arg_flag(argc, argv, "-clear");
    int with_map = det_arg_flag(argc, argv, "-map");
    int map_every = det_arg_int(argc, argv, "-map_every", 0);
    char *chart_path = det_arg_str(argc, argv, "-chart", NULL);
    det_eval_opts eo = det_eval_defaults();
    eo.points = det_arg_int(argc, argv, "-points", eo.points);
    eo.iou_thresh = det_arg_float(argc, argv, "-iou_thresh", eo.iou_thresh);
    int npos = det_positional(argc, argv);
    if (npos < 5) {
        fprintf(stderr, "usage: %s detector train DATA CFG [WEIGHTS] [-clear] [-map] [-map_every N]\n"
                        "           [-chart FILE] [-points 11|0] [-iou_thresh 0.5]\n", argv[0]);
        exit(1);
    }
    for (int i = 1; i < npos; ++i) {
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "darknet: error: unknown option %s (detector train takes one GPU, "
                            "chosen with -i)\n", argv[i]);
            exit(1);
        }
    }
    if (eo.points != 0 && eo.points != 11) {
        fprintf(stderr, "darknet: error: -points %d: expected 11 (VOC2007) or 0 (all points)\n", eo.points);
        exit(1);
    }
    if (map_every < 0) {
        fprintf(stderr, "darknet: error: -map_every %d: expected a positive number\n", map_every);
        exit(1);
    }
    char *datacfg = argv[3], *cfgfile = argv[4], *weightfile = npos > 5 ? argv[5] : NULL;

    list *options = read_data_cfg(datacfg);
    char *train_list = option_find(options, "train");
    char *valid_list = option_find(options, "valid");
    /* option_find_str checks at start that the folder takes new files */
    char *backup = option_find_str(options, "backup", "backup");
    if (!train_list) {
        fprintf(stderr, "darknet: error: %s: no train= list\n", datacfg);
        exit(1);
    }
    if (with_map && !valid_list) {
        fprintf(stderr, "darknet: error: %s: -map needs a valid= list\n", datacfg);
        exit(1);
    }

    char *base = basecfg(cfgfile);
    printf("%s\n", base);
    network *net = load_network(cfgfile, weightfile, clear);
    det_fix_network(net);
    printf("Learning Rate: %g, Momentum: %g, Decay: %g\n", net->learning_rate, net->momentum, net->decay);
    layer l = net->layers[net->n - 1];
    if (l.type != YOLO && l.type != REGION) {
        fprintf(stderr, "darknet: error: %s: the last layer is not [yolo] or [region]\n", cfgfile);
        exit(1);
    }
    int classes = l.classes;
    int data_classes = option_find_int_quiet(options, "classes", classes);
    if (data_classes != classes) {
        fprintf(stderr, "darknet: error: %s has classes=%d, %s has %d\n", datacfg, data_classes, cfgfile, classes);
        exit(1);
    }

    int n_all, n_train;
    char **all_paths = det_read_list(train_list, &n_all);
    char **paths = det_scan_list(all_paths, n_all, classes, &n_train);
    printf("training images: %d usable of %d in %s\n", n_train, n_all, train_list);
    det_issue_summary(stdout);
    if (n_train == 0) {
        fprintf(stderr, "darknet: error: no usable training image in %s\n", train_list);
        exit(1);
    }

    network *eval = NULL;
    char **valid_paths = NULL;
    int n_valid = 0;
    if (with_map) {
        valid_paths = det_read_list(valid_list, &n_valid);
        eval = parse_network_cfg(cfgfile);
        set_batch_network(eval, 1);
        if (!map_every) {
            map_every = net->max_batches / 10;
            if (map_every > 1000) map_every = 1000;
            if (map_every < 1) map_every = 1;
        }
        printf("mAP@%.2f on %d images of %s every %d iterations\n", eo.iou_thresh, n_valid, valid_list, map_every);
    }

    int imgs = net->batch * net->subdivisions;
    int base_w = net->w, base_h = net->h;
    uint64_t seed = net_ext_of(net)->seed;
    det_batch_args args = {0};
    args.paths = paths;
    args.n_paths = n_train;
    args.n = imgs;
    args.w = net->w;
    args.h = net->h;
    args.classes = classes;
    args.max_boxes = l.max_boxes;
    args.jitter = l.jitter;
    args.hue = net->hue;
    args.saturation = net->saturation ? net->saturation : 1;
    args.exposure = net->exposure ? net->exposure : 1;
    args.flip = 1;
    args.seed = seed;
    args.index = get_current_batch(net);
    args.threads = 8;

    det_chart chart = {0};
    chart.max_iter = net->max_batches;
    char chart_file[4096], buff[4096], backup_file[4096];
    snprintf(backup_file, sizeof(backup_file), "%s/%s.backup", backup, base);
    if (chart_path) snprintf(chart_file, sizeof(chart_file), "%s", chart_path);
    else snprintf(chart_file, sizeof(chart_file), "%s/%s_chart.png", backup, base);

    data train, buffer;
    pthread_t loader = det_load_batch_async(args, &buffer);
    float avg_loss = -1;
    double avg_iter_time = -1;
    float best_map = -1;
    int best_iter = 0, last_eval = -1, count = 0;
    while (get_current_batch(net) < net->max_batches) {
        double t0 = what_time_is_it_now();
        if (l.random && count++ % 10 == 0) {
            int cur = (int)get_current_batch(net);
            int w = base_w, h = base_h;
            int tail = net->max_batches / 10 < 200 ? net->max_batches / 10 : 200;
            if (cur + tail < net->max_batches) {
                rng r;
                rng_seed(&r, seed, 0x200000000ULL + (uint64_t)cur);
                int lo = near32(.7f * base_w) / 32, hi = near32(1.4f * base_w) / 32;
                w = 32 * (lo + (int)rng_below(&r, (uint32_t)(hi - lo + 1)));
                h = near32((float)w * base_h / base_w);
            }
            printf("Resizing to %d x %d\n", w, h);
            pthread_join(loader, 0);
            free_data(buffer);
            args.w = w;
            args.h = h;
            loader = det_load_batch_async(args, &buffer);
            resize_network(net, w, h);
        }
        pthread_join(loader, 0);
        train = buffer;
        args.index++;
        loader = det_load_batch_async(args, &buffer);
        double t1 = what_time_is_it_now();
        float loss = train_network(net, train);
        double t2 = what_time_is_it_now();
        free_data(train);
        if (avg_loss < 0) avg_loss = loss;
        avg_loss = avg_loss * .9f + loss * .1f;

        int i = (int)get_current_batch(net);
        double it = t2 - t0;
        avg_iter_time = avg_iter_time < 0 ? it : .9 * avg_iter_time + .1 * it;
        char eta[32];
        format_eta(eta, sizeof(eta), (net->max_batches - i) * avg_iter_time);
        printf("%d: %f, %f avg, %f rate, %lf seconds, %d images, %.1f img/s, ETA %s\n",
               i, loss, avg_loss, get_current_rate(net), t2 - t1, i * imgs, imgs / avg_iter_time, eta);
        fflush(stdout);
        det_chart_add_loss(&chart, i, avg_loss);

        int eval_now = with_map && (i % map_every == 0 || i >= net->max_batches);
        if (i % 100 == 0 || eval_now) save_weights(net, backup_file);
        if (i % 10000 == 0 || (i < 1000 && i % 100 == 0)) {
            snprintf(buff, sizeof(buff), "%s/%s_%d.weights", backup, base, i);
            save_weights(net, buff);
        }
        if (eval_now) {
            load_weights(eval, backup_file);
            vm_result r;
            double te = what_time_is_it_now();
            det_eval_network(eval, valid_paths, n_valid, classes, eo, &r);
            last_eval = i;
            det_chart_add_map(&chart, i, (float)r.map);
            if (r.map > best_map) {
                best_map = (float)r.map;
                best_iter = i;
                snprintf(buff, sizeof(buff), "%s/%s_best.weights", backup, base);
                save_weights(net, buff);
            }
            printf("%d: mAP@%.2f = %.2f %% (%s), best %.2f %% at %d, %.1f seconds\n", i, eo.iou_thresh,
                   100 * r.map, eo.points ? "11-point" : "all points", 100 * best_map, best_iter,
                   what_time_is_it_now() - te);
            vm_result_free(&r);
        }
        if (i % 100 == 0 || eval_now) det_chart_save(&chart, chart_file);
    }
    pthread_join(loader, 0);
    free_data(buffer);
    snprintf(buff, sizeof(buff), "%s/%s_final.weights", backup, base);
    save_weights(net, buff);
    if (det_chart_save(&chart, chart_file) == 0) printf("chart: %s\n", chart_file);
    if (with_map && last_eval >= 0) {
        printf("best mAP@%.2f = %.2f %% at iteration %d: %s/%s_best.weights\n", eo.iou_thresh,
               100 * best_map, best_iter, backup, base);
    }
    det_issue_summary(stdout);
    det_chart_free(&chart);
    free(paths);
    free(base);
}
