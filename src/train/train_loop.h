/* train_loop.h: the one training loop behind every `train` command.
 *
 * A command (classifier train, detector train) parses its arguments, loads
 * the network and describes itself as a train_task: how to load the next
 * batch, how to evaluate and how to describe an evaluation.  The loop owns
 * the rest: the training step, the iteration line with img/s and ETA, the
 * saves at upstream's points and names, the evaluation schedule with
 * BACKUP/NAME_best.weights, the chart, the metrics log and the closing
 * summary.  The NaN guard runs inside every optimizer step (optim/guard.h).
 * The format of the metrics log is in docs/training.md. */
#ifndef TRAIN_LOOP_H
#define TRAIN_LOOP_H

#include <pthread.h>

#include "darknet.h"

/* One named number of an evaluation, for the metrics log. */
typedef struct train_value {
    const char *name;
    double value;
} train_value;

#define TRAIN_EVAL_FIELDS 8

typedef struct train_eval {
    double score;          /* compared for the best weights; 0..1 (top-1, mAP) */
    double score2;         /* a second score for the chart (top-k); 0 if none */
    double seconds;        /* filled by the loop */
    train_value fields[TRAIN_EVAL_FIELDS];
    int n_fields;
} train_eval;

/* How the time left is written: 1:02:03 (the classifier's) or 1h02m (the
 * detector's). */
typedef enum { TRAIN_ETA_CLOCK, TRAIN_ETA_UNITS } train_eta_style;

/* Which weights files are written, in upstream's names under BACKUP. */
typedef struct train_saves {
    int backup_every;          /* NAME.backup every this many iterations */
    int backup_at_eval;        /* and just before each evaluation */
    int each_epoch;            /* NAME_E.weights when epoch E is complete */
    int detector_points;       /* NAME_I.weights every 100 iterations up to 1000, then every 10000 */
    const char *final_suffix;  /* NAME<suffix>.weights at the end ("" or "_final") */
} train_saves;

/* A batch being loaded in the background: the thread and where it writes. */
typedef struct train_loader {
    pthread_t thread;
    data buffer;
} train_loader;

typedef struct train_task {
    void *ctx;                 /* passed to every hook */
    const char *command;       /* "classifier train", for the log */
    const char *cfgfile, *weightfile;
    const char *backup, *base; /* BACKUP folder and NAME */
    const char *chart_file;
    int show_chart;            /* also in a window (OpenCV builds) */
    int epoch_images;          /* images in an epoch (the train list) */
    int epoch_in_line;         /* lines start "ITERATION, EPOCH:" (upstream's classifier) */
    int endless;               /* max_batches=0 trains until stopped (upstream's classifier) */
    train_eta_style eta_style;
    train_saves saves;
    double eval_every_images;  /* evaluate every this many images and at the end; 0: never */
    const char *score_name, *score2_name;  /* in the chart ("TOP-1", "TOP-5"; "MAP", NULL) */
    int batch_top1;            /* log the top-1 of each training batch (one-hot truths) */

    /* The task's background loader, which the loop stops at the end. */
    train_loader *loader;
    /* Starts loading the first batch in the background. */
    void (*start_loading)(void *ctx, network *net);
    /* Before each batch, for example a multi-scale resize (may be NULL). */
    void (*before_batch)(void *ctx, network *net);
    /* The batch loaded in the background; starts loading the next one. */
    data (*next_batch)(void *ctx, network *net);
    /* Fills e (score, score2, fields); NULL when the task never evaluates. */
    void (*evaluate)(void *ctx, network *net, train_eval *e);
    /* Prints the evaluation's line; best is the best score so far, this one included. */
    void (*print_eval)(void *ctx, network *net, const train_eval *e, double best, int best_iteration);
    /* Prints the closing line about the best weights. */
    void (*print_best)(void *ctx, double best, int best_iteration, const char *best_file);
    /* Anything else the command prints at the end (may be NULL). */
    void (*finish)(void *ctx);
} train_task;


/* Waits for the loader and returns its batch (the caller frees it). */
data train_loader_take(train_loader *l);
/* Waits for the loader and frees its batch. */
void train_loader_stop(train_loader *l);

/* Trains net to max_batches as the task says, then writes the final
 * weights, the chart and the closing lines. */
void train_loop_run(network *net, const train_task *task);

/* One training step on a batch of images, as upstream's train_network:
 * forward and backward over each subdivision, then the optimizer step.
 * Returns the mean loss; *top1 (when not NULL) gets the share of images
 * whose highest output is their one-hot truth. */
float train_loop_step(network *net, data d, float *top1);

#endif
