/* classify.h: our `classifier train` and `classifier valid` commands.
 *
 * Both keep upstream's command line, file names and printed lines; they add
 * a closing summary (top-1, top-k, per-class accuracy), a JSON report, and
 * periodic validation during training with a kept best weights file.  The
 * training loop itself is train/train_loop.c. */
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

/* The images of a list file that can be read (image_scan_list: the others
 * are reported and counted), n_good of them; an error when there is none.
 * *listed gets every line (the strings the result shares), n_listed of them. */
char **classify_usable_images(const char *list_file, int *n_good, int *n_listed, char ***listed);

typedef struct class_eval {
    int classes, topk;
    int images;          /* the images scored */
    int skipped;         /* images that could not be read (reported, not scored) */
    int unlabeled;       /* no label matched the path */
    int ambiguous;       /* more than one label matched */
    int top1, topk_hits; /* correct answers over all images */
    int *class_images;   /* per true class: images */
    int *class_top1;     /* per true class: correct top-1 answers */
    double seconds;
} class_eval;

/* Runs net over paths (center crop to the network size, as upstream's
 * `classifier valid`), in batches of at most net->batch images.  With
 * per_image set, prints upstream's two lines per image.  An image that
 * cannot be read is reported (input/image_check.h), counted in skipped and
 * not scored. */
class_eval classify_evaluate(network *net, char **paths, int m, char **labels,
                             int classes, int topk, int per_image);
void classify_eval_free(class_eval *e);
void classify_print_summary(FILE *out, const class_eval *e, char **names);
/* Returns 0 on success; prints the reason and returns -1 otherwise. */
int classify_write_json(const char *file, const class_eval *e, char **names,
                        const char *cfg, const char *weights, const char *list);

/* The subcommands (registered in registry.c). */
void classify_valid_command(int argc, char **argv);
void classify_train_command(int argc, char **argv);
void classify_predict_command(int argc, char **argv);

#endif
