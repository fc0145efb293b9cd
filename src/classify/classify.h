/* classify.h: our `classifier train` and `classifier valid` commands.
 *
 * Both keep upstream's command line, file names and printed lines; they add
 * a closing summary (top-1, top-k, per-class accuracy), a JSON report,
 * periodic validation during training with a kept best weights file, a
 * training chart, and throughput and ETA in each iteration line. */
#ifndef CLASSIFY_H
#define CLASSIFY_H

#include <stdio.h>
#include "darknet.h"

/* The class of an image path as upstream finds it: the first label that is a
 * substring of the path, or -1.  *matches (when not NULL) receives how many
 * labels are substrings; anything but 1 means the layout is ambiguous. */
int classify_truth(const char *path, char **labels, int classes, int *matches);

/* The lines of a labels or names file; exits when it has fewer than need. */
char **classify_read_lines(char *file, int need);

typedef struct class_eval {
    int classes, topk;
    int images;          /* all images of the list */
    int unlabeled;       /* no label matched the path */
    int ambiguous;       /* more than one label matched */
    int top1, topk_hits; /* correct answers over all images */
    int *class_images;   /* per true class: images */
    int *class_top1;     /* per true class: correct top-1 answers */
    double seconds;
} class_eval;

/* Runs net over paths (center crop to the network size, as upstream's
 * `classifier valid`), in batches of at most net->batch images.  With
 * per_image set, prints upstream's two lines per image. */
class_eval classify_evaluate(network *net, char **paths, int m, char **labels,
                             int classes, int topk, int per_image);
void classify_eval_free(class_eval *e);
void classify_print_summary(FILE *out, const class_eval *e, char **names);
/* Returns 0 on success; prints the reason and returns -1 otherwise. */
int classify_write_json(const char *file, const class_eval *e, char **names,
                        const char *cfg, const char *weights, const char *list);

/* The two subcommands (registered in registry.c). */
void classify_valid_command(int argc, char **argv);
void classify_train_command(int argc, char **argv);
/* `./darknet netcheck CFG`: parse a cfg and run training steps (netcheck.c). */
void netcheck_command(int argc, char **argv);

/* --- the training chart (chart.c) --- */
typedef struct chart chart;
chart *chart_make(int w, int h);
void chart_free(chart *c);
void chart_add_loss(chart *c, int iteration, float loss);
void chart_add_accuracy(chart *c, int iteration, float top1, float topk, int k);
void chart_set_max_iteration(chart *c, int max_iteration);
/* Draws the chart into an image (3 channels, values in [0,1]). */
image chart_draw(const chart *c);
/* Draws and writes a PNG; returns 0 on success, -1 with a message otherwise. */
int chart_save_png(const chart *c, const char *path);

#endif
