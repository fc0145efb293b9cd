/* train_loop.c: the one training loop (see train_loop.h).
 *
 * Each iteration: the task's before_batch (a resize) and next_batch, one
 * training step, the iteration line and its metrics record, the saves that
 * fall due, an evaluation when one falls due, and the chart every few
 * seconds and after each evaluation.  Evaluations fall due every
 * eval_every_images images seen (so a resumed run keeps the schedule) and
 * at the last iteration. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist.h"
#include "optim/guard.h"
#include "optim/optimizer.h"
#include "rand/upstream_rand.h"
#include "train/metrics_log.h"
#include "train/train_chart.h"
#include "train/train_loop.h"
#include "utils.h"
#include "checked.h"

#define CHART_SECONDS 5.0

/* Set while loader threads may be running. */
static volatile int loaders_running;
static int exit_hook_set;

/* A fatal error during training (the NaN guard, a failed save, a bad file)
 * calls exit() while loader threads may still be decoding images.  exit()
 * would then run the C++ static destructors of OpenCV under those threads,
 * which crashed about one such run in two.  Registered after the libraries'
 * own handlers, this one runs before them: it flushes stdio and ends the
 * process with the same status, skipping them.  OpenCV registers some of
 * its destructors only when its decoder first runs, so the handler is
 * registered again once the first batch has loaded. */
static void exit_while_loading(int status, void *unused)
{
    (void)unused;
    if (!loaders_running) return;
    fflush(NULL);
    dist_abort(status);   /* in an MPI job, end the other ranks too */
    _exit(status);
}

static void set_loaders_running(int running)
{
    if (running && exit_hook_set < 2) {
        on_exit(exit_while_loading, NULL);
        exit_hook_set++;
    }
    loaders_running = running;
}

typedef struct loop_state {
    network *net;
    const train_task *t;
    int imgs;                  /* images per iteration */
    float avg_loss;            /* running average; -1 before the first batch */
    double avg_seconds;        /* running average of whole iterations; -1 before */
    double best;               /* best score so far; -1 before any evaluation */
    int best_iteration, last_eval, evaluations;
    double next_eval;          /* images seen at the next evaluation */
    int epoch;
    double started, last_chart;
    dist_traffic traffic;      /* dist_traffic_total() at the last iteration */
    uint64_t batch_hash;       /* of the batch the last iteration trained on */
    train_chart *chart;
    metrics_log log;
} loop_state;

/* FNV-1a over the batch's inputs and truths, as loaded and augmented: two
 * runs whose iterations log the same hashes trained on the same images in
 * the same order (docs/reproducing.md, "Paired runs").  Under mpirun the
 * rows outside this rank's share are loaded without pixels (ext.h), so a
 * rank hashes its own share only. */
static uint64_t data_hash(data d)
{
    uint64_t h = 14695981039346656037ULL;
    const matrix *m[2] = {&d.X, &d.y};
    for (int k = 0; k < 2; ++k)
        for (int r = 0; r < m[k]->rows; ++r) {
            const unsigned char *p = (const unsigned char *)m[k]->vals[r];
            if (!p) continue;
            for (size_t i = 0; i < (size_t)m[k]->cols * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ULL;
        }
    return h;
}

data train_loader_take(train_loader *l)
{
    pthread_join(l->thread, 0);
    return l->buffer;
}

void train_loader_stop(train_loader *l)
{
    pthread_join(l->thread, 0);
    free_data(l->buffer);
}

/* How many images of the pass just run have their one-hot truth as the
 * highest output. */
static int pass_hits(network *net)
{
    int hits = 0;
    for (int b = 0; b < net->batch; ++b) {
        const float *out = net->output + (size_t)b * net->outputs;
        const float *truth = net->truth + (size_t)b * net->truths;
        hits += truth[max_index((float *)out, net->outputs)] > .5f;
    }
    return hits;
}

/* Grows a buffer kept between steps. */
static float *reserve(float **buf, size_t *have, size_t want)
{
    if (want > *have) {
        free(*buf);
        *buf = malloc(want * sizeof(float));
        if (!*buf) {
            dn_fatal("out of memory for %zu gradient floats\n", want);
        }
        *have = want;
    }
    return *buf;
}

/* The step of an MPI=1 build (dist/dist.h): d holds the global batch, in
 * net->subdivisions passes; this rank runs its share of them, keeping each
 * pass's fresh gradient in a slot.  The slots of all ranks are gathered in
 * rank order, which is pass order, and summed onto the momentum part; the
 * optimizer step (decay, momentum, noise) then runs once, alike on every
 * rank.  seen counts every rank's images, and each pass sees the value it
 * would see in one process. */
static float parallel_step(network *net, data d, float *top1)
{
    static float *stash, *grads, *sum, *mine, *all;
    static size_t have_stash, have_grads, have_sum, have_mine, have_all;
    int batch = net->batch, passes = d.X.rows / batch, ranks = dist_size();
    int per_rank = passes / ranks, first = dist_rank() * per_rank;
    size_t ng = dist_grad_floats(net), record = dist_stats_floats(net), base = *net->seen;
    reserve(&stash, &have_stash, dist_stash_floats(net));
    reserve(&grads, &have_grads, per_rank * ng);
    reserve(&sum, &have_sum, ng);
    reserve(&mine, &have_mine, per_rank * record);
    reserve(&all, &have_all, passes * record);
    dist_begin_step(net, stash);
    for (int j = 0; j < per_rank; ++j) {
        int k = first + j;
        get_next_batch(d, batch, k * batch, net->input, net->truth);
        *net->seen = base + (size_t)(k + 1) * batch;
        upstream_rand_pass((size_t)*net->t, k);   /* [dropout]'s draws: the pass's own */
        net->train = 1;
        forward_network(net);
        backward_network(net);
        float *stats = mine + j * record;
        dist_take_pass(net, grads + j * ng, stats);
        stats[record - 2] = *net->cost;
        stats[record - 1] = top1 ? (float)pass_hits(net) : 0;
    }
    /* Data-parallel training reduces the gradients here, between the last
     * backward pass and the optimizer step. */
    upstream_rand_passes_done();
    dist_reduce_grads(grads, per_rank, ng, stash, sum);
    dist_allgather(mine, per_rank * record, all);
    *net->seen = base + (size_t)passes * batch;
    dist_end_step(net, sum, stash, all, passes);
    float cost = 0;
    int hits = 0;
    for (int k = 0; k < passes; ++k) {
        cost += all[k * record + record - 2];
        hits += (int)all[k * record + record - 1];
    }
    update_network(net);
    if (top1) *top1 = passes ? (float)hits / (passes * batch) : 0;
    return cost / (passes * batch);
}

float train_loop_step(network *net, data d, float *top1)
{
    if (dist_exact()) return parallel_step(net, d, top1);
    int batch = net->batch;
    int n = d.X.rows / batch;
    float sum = 0;
    int hits = 0;
    for (int i = 0; i < n; ++i) {
        get_next_batch(d, batch, i * batch, net->input, net->truth);
        *net->seen += net->batch;
        net->train = 1;
        forward_network(net);
        backward_network(net);
        sum += *net->cost;
        if (top1) hits += pass_hits(net);
        /* MPI=1 builds take parallel_step instead, which gathers the
         * gradients of every rank here. */
        if (((*net->seen) / net->batch) % net->subdivisions == 0) update_network(net);
    }
    if (top1) *top1 = n ? (float)hits / (n * batch) : 0;
    return (float)sum / (n * batch);
}

static void format_eta(char *buf, size_t size, train_eta_style style, double seconds)
{
    if (style == TRAIN_ETA_CLOCK) {
        if (!(seconds >= 0) || seconds > 1e8) {
            snprintf(buf, size, "-");
            return;
        }
        long s = (long)(seconds + .5);
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        return;
    }
    if (!isfinite(seconds) || seconds < 0) seconds = 0;
    long s = (long)(seconds + .5);
    if (s >= 3600) snprintf(buf, size, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else snprintf(buf, size, "%lds", s);
}

static void weights_path(const loop_state *s, char *buf, size_t size, const char *suffix)
{
    snprintf(buf, size, "%s/%s%s", s->t->backup, s->t->base, suffix);
}

static void save_as(loop_state *s, const char *suffix)
{
    char path[4096];
    weights_path(s, path, sizeof path, suffix);
    if (dist_rank() == 0) save_weights(s->net, path);   /* the ranks' weights are equal */
}

static double epoch_of(const loop_state *s)
{
    return s->t->epoch_images > 0 ? (double)*s->net->seen / s->t->epoch_images : 0;
}

static int keep_going(const loop_state *s)
{
    int max = s->net->max_batches;
    return get_current_batch(s->net) < (size_t)max || (max == 0 && s->t->endless);
}

static void log_start(loop_state *s)
{
    network *net = s->net;
    net_ext *x = net_ext_of(net);
    metrics_begin(&s->log, "start");
    metrics_str(&s->log, "command", s->t->command);
    metrics_str(&s->log, "cfg", s->t->cfgfile);
    metrics_str(&s->log, "weights", s->t->weightfile ? s->t->weightfile : "");
    metrics_int(&s->log, "iteration", (long long)get_current_batch(net));
    metrics_int(&s->log, "images", (long long)*net->seen);
    metrics_int(&s->log, "max_batches", net->max_batches);
    metrics_int(&s->log, "batch", s->imgs);
    metrics_int(&s->log, "epoch_images", s->t->epoch_images);
    if (x->seeded) metrics_int(&s->log, "seed", (long long)x->seed);
    if (dist_exact()) {
        metrics_int(&s->log, "ranks", dist_size());
        metrics_int(&s->log, "gradient_floats", (long long)dist_grad_floats(net));
        metrics_int(&s->log, "stats_floats", (long long)dist_stats_floats(net));
    }
    metrics_int(&s->log, "unix_time", (long long)time(NULL));
    metrics_end(&s->log);
}

/* This step's traffic on this rank (dist.h): payload bytes and the seconds
 * in each collective; allreduce_seconds is the three together. */
static void log_traffic(loop_state *s, metrics_log *m)
{
    dist_traffic now = dist_traffic_total(), *was = &s->traffic;
    double scatter = now.scatter_seconds - was->scatter_seconds;
    double gather = now.allgather_seconds - was->allgather_seconds;
    double stats = now.stats_seconds - was->stats_seconds;
    metrics_int(m, "bytes_sent", (long long)(now.bytes_sent - was->bytes_sent));
    metrics_int(m, "bytes_received", (long long)(now.bytes_received - was->bytes_received));
    metrics_num(m, "reduce_scatter_seconds", scatter);
    metrics_num(m, "allgather_seconds", gather);
    metrics_num(m, "stats_gather_seconds", stats);
    metrics_num(m, "allreduce_seconds", scatter + gather + stats);
    metrics_num(m, "allreduce_wait_seconds", now.wait_seconds - was->wait_seconds);
    *was = now;
}

/* The running averages, the iteration line and its metrics record. */
static void note_iteration(loop_state *s, int it, float loss, float top1, double train_seconds,
                           double iteration_seconds)
{
    network *net = s->net;
    const train_task *t = s->t;
    if (s->avg_loss == -1) s->avg_loss = loss;
    s->avg_loss = s->avg_loss * .9 + loss * .1;
    s->avg_seconds = s->avg_seconds < 0 ? iteration_seconds : .9 * s->avg_seconds + .1 * iteration_seconds;
    double ips = s->avg_seconds > 0 ? s->imgs / s->avg_seconds : 0;
    char eta[32];
    if (t->eta_style == TRAIN_ETA_CLOCK && net->max_batches <= 0) snprintf(eta, sizeof eta, "-");
    else format_eta(eta, sizeof eta, t->eta_style, (net->max_batches - it) * s->avg_seconds);
    float rate = get_current_rate(net);
    if (t->epoch_in_line) printf("%d, %.3f: ", it, (float)(*net->seen) / t->epoch_images);
    else printf("%d: ", it);
    printf("%f, %f avg, %f rate, %lf seconds, %ld images, %.1f img/s, ETA %s\n", loss, s->avg_loss,
           rate, train_seconds, (long)*net->seen, ips, eta);
    fflush(stdout);
    train_chart_add_loss(s->chart, it, s->avg_loss);

    metrics_log *m = &s->log;
    metrics_begin(m, "iteration");
    metrics_int(m, "iteration", it);
    metrics_num(m, "epoch", epoch_of(s));
    metrics_int(m, "images", (long long)*net->seen);
    metrics_num(m, "loss", loss);
    metrics_num(m, "avg_loss", s->avg_loss);
    metrics_num(m, "learning_rate", rate);
    metrics_num(m, "seconds", train_seconds);
    metrics_num(m, "iteration_seconds", iteration_seconds);
    metrics_num(m, "img_s", ips);
    if (dist_exact()) log_traffic(s, m);
    if (t->batch_top1) metrics_num(m, "train_top1", top1);
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)s->batch_hash);
    metrics_str(m, "batch_hash", hash);
    metrics_num(m, "elapsed", what_time_is_it_now() - s->started);
    metrics_end(m);
}

static int detector_point(int it)
{
    return it % 10000 == 0 || (it < 1000 && it % 100 == 0);
}

static void save_due(loop_state *s, int it)
{
    const train_saves *w = &s->t->saves;
    if (w->each_epoch && s->t->epoch_images > 0 && *s->net->seen / s->t->epoch_images > (size_t)s->epoch) {
        s->epoch = (int)(*s->net->seen / s->t->epoch_images);
        char suffix[32];
        snprintf(suffix, sizeof suffix, "_%d.weights", s->epoch);
        save_as(s, suffix);
    }
    if (w->backup_every > 0 && it % w->backup_every == 0) save_as(s, ".backup");
    if (w->detector_points && detector_point(it)) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "_%d.weights", it);
        save_as(s, suffix);
    }
}

static void next_eval_after(loop_state *s)
{
    while (s->next_eval <= *s->net->seen) s->next_eval += s->t->eval_every_images;
}

static int eval_due(const loop_state *s, int it)
{
    if (!(s->t->eval_every_images > 0)) return 0;
    return *s->net->seen >= s->next_eval || (s->net->max_batches > 0 && it >= s->net->max_batches);
}

static void log_eval(loop_state *s, int it, const train_eval *e)
{
    metrics_log *m = &s->log;
    metrics_begin(m, "eval");
    metrics_int(m, "iteration", it);
    metrics_num(m, "epoch", epoch_of(s));
    for (int i = 0; i < e->n_fields; ++i) metrics_num(m, e->fields[i].name, e->fields[i].value);
    metrics_num(m, "best", s->best);
    metrics_int(m, "best_iteration", s->best_iteration);
    metrics_num(m, "seconds", e->seconds);
    metrics_end(m);
}

/* Evaluates, keeps BACKUP/NAME_best.weights when the score improves, and
 * reports the result. */
static void run_evaluation(loop_state *s, int it)
{
    const train_task *t = s->t;
    if (t->saves.backup_at_eval && !(t->saves.backup_every > 0 && it % t->saves.backup_every == 0))
        save_as(s, ".backup");
    train_eval e = {0};
    double start = what_time_is_it_now();
    t->evaluate(t->ctx, s->net, &e);
    e.seconds = what_time_is_it_now() - start;
    if (e.score > s->best) {
        s->best = e.score;
        s->best_iteration = it;
        save_as(s, "_best.weights");
    }
    s->last_eval = it;
    s->evaluations++;
    next_eval_after(s);
    t->print_eval(t->ctx, s->net, &e, s->best, s->best_iteration);
    fflush(stdout);
    train_chart_add_score(s->chart, it, (float)e.score, (float)e.score2);
    log_eval(s, it, &e);
}

static int write_chart(loop_state *s)
{
    if (dist_rank() != 0) return 1;
    int rc = train_chart_save(s->chart, s->t->chart_file);
    if (s->t->show_chart) {
        image im = train_chart_draw(s->chart);
        show_image(im, "chart", 1);
        free_image(im);
    }
    s->last_chart = what_time_is_it_now();
    return rc;
}

static void start_run(loop_state *s, network *net, const train_task *t)
{
    memset(s, 0, sizeof *s);
    s->net = net;
    s->t = t;
    s->imgs = net->batch * net->subdivisions;
    s->avg_loss = -1;
    s->avg_seconds = -1;
    s->best = -1;
    s->best_iteration = -1;
    s->last_eval = -1;
    s->epoch = t->epoch_images > 0 ? (int)(*net->seen / t->epoch_images) : 0;
    double every = t->eval_every_images;
    s->next_eval = every > 0 ? (floor(*net->seen / every) + 1) * every : 0;
    s->started = s->last_chart = what_time_is_it_now();
    s->chart = train_chart_make(net->max_batches, t->score_name, t->score2_name);
    char path[4096];
    weights_path(s, path, sizeof path, ".metrics.jsonl");
    metrics_open(&s->log, dist_rank() == 0 ? path : "/dev/null");
    log_start(s);
}

/* The final weights, a last evaluation when the last iteration had none,
 * the chart and the closing lines. */
static void finish_run(loop_state *s)
{
    const train_task *t = s->t;
    int it = (int)get_current_batch(s->net);
    char suffix[64];
    snprintf(suffix, sizeof suffix, "%s.weights", t->saves.final_suffix ? t->saves.final_suffix : "");
    save_as(s, suffix);
    train_loader_stop(t->loader);
    set_loaders_running(0);
    if (t->eval_every_images > 0 && s->last_eval != it && dist_rank() == 0) run_evaluation(s, it);
    if (write_chart(s) == 0) printf("chart: %s\n", t->chart_file);
    if (s->evaluations) {
        char best[4096];
        weights_path(s, best, sizeof best, "_best.weights");
        t->print_best(t->ctx, s->best, s->best_iteration, best);
    }
    if (t->finish) t->finish(t->ctx);
    metrics_begin(&s->log, "end");
    metrics_int(&s->log, "iteration", it);
    metrics_int(&s->log, "images", (long long)*s->net->seen);
    if (s->evaluations) {
        metrics_num(&s->log, "best", s->best);
        metrics_int(&s->log, "best_iteration", s->best_iteration);
    }
    metrics_num(&s->log, "elapsed", what_time_is_it_now() - s->started);
    metrics_end(&s->log);
    metrics_close(&s->log);
    train_chart_free(s->chart);
}

void train_loop_run(network *net, const train_task *t)
{
    loop_state s;
    guard_check_trainable(net, t->cfgfile);
    start_run(&s, net, t);
    set_loaders_running(1);
    t->start_loading(t->ctx, net);
    while (keep_going(&s)) {
        double t0 = what_time_is_it_now();
        if (t->before_batch) t->before_batch(t->ctx, net);
        data d = t->next_batch(t->ctx, net);
        s.batch_hash = data_hash(d);
        set_loaders_running(1);
        double t1 = what_time_is_it_now();
        float top1 = 0;
        float loss = train_loop_step(net, d, t->batch_top1 ? &top1 : NULL);
        double t2 = what_time_is_it_now();
        free_data(d);
        int it = (int)get_current_batch(net);
        note_iteration(&s, it, loss, top1, t2 - t1, t2 - t0);
        save_due(&s, it);
        /* rank 0 evaluates and keeps the best weights; the others go on */
        int due = eval_due(&s, it), evaluated = due && dist_rank() == 0;
        if (due) dist_expect_slow_step();   /* the others wait for rank 0's evaluation */
        if (evaluated) run_evaluation(&s, it);
        else if (due) next_eval_after(&s);
        if (evaluated || what_time_is_it_now() - s.last_chart >= CHART_SECONDS) write_chart(&s);
    }
    finish_run(&s);
}
