/* classify_predict.c: `./darknet classifier predict`, upstream's command with
 * images that cannot be read skipped.
 *
 *   ./darknet classifier predict DATA CFG WEIGHTS [IMAGE] [-t TOP]
 *
 * Same arguments and lines as upstream's: "PATH: Predicted in S seconds."
 * on stderr, then the top classes as "PERCENT%: NAME".  Without IMAGE, paths
 * are read from standard input after an "Enter Image Path: " prompt, until
 * its end.  An image that cannot be read (missing, not an image, cut short;
 * upstream predicted on a blank image) is skipped with a warning naming it,
 * and a closing line counts them; when no image given could be read, the
 * command fails with status 1. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify/classify.h"
#include "input/image_check.h"
#include "option_list.h"
#include "utils.h"
#include "checked.h"

typedef struct predictor {
    network *net;
    char **names;
    int n_names, top;
    int *indexes;
} predictor;

/* 1 when the image was read and predicted. */
static int predict_one(predictor *p, const char *path)
{
    image im;
    if (image_load_checked(path, &im) != 0) return 0;
    network *net = p->net;
    image r = letterbox_image(im, net->w, net->h);
    clock_t start = clock();
    float *predictions = network_predict(net, r.data);
    if (net->hierarchy) hierarchy_predictions(predictions, net->outputs, net->hierarchy, 1, 1);
    top_k(predictions, net->outputs, p->top, p->indexes);
    fprintf(stderr, "%s: Predicted in %f seconds.\n", path, sec(clock() - start));
    for (int i = 0; i < p->top; ++i) {
        int index = p->indexes[i];
        /* a names file shorter than the outputs: upstream read past its end */
        printf("%5.2f%%: %s\n", predictions[index] * 100, index < p->n_names ? p->names[index] : "(no name)");
    }
    if (r.data != im.data) free_image(r);
    free_image(im);
    return 1;
}

static void read_names(predictor *p, char *datacfg)
{
    list *options = read_data_cfg(datacfg);
    char *name_list = option_find_str(options, "names", 0);
    if (!name_list) name_list = option_find_str(options, "labels", "data/labels.list");
    if (p->top == 0) p->top = option_find_int(options, "top", 1);
    if (p->top < 1 || p->top > p->net->outputs) p->top = p->net->outputs < 5 ? p->net->outputs : 5;
    list *l = get_paths(name_list);
    p->names = (char **)list_to_array(l);
    p->n_names = l->size;
    free_list(l);
}

void classify_predict_command(int argc, char **argv)
{
    /* upstream's run_classifier() takes these out of argv first */
    find_char_arg(argc, argv, "-gpus", 0);
    find_int_arg(argc, argv, "-c", 0);
    predictor p = {0};
    p.top = find_int_arg(argc, argv, "-t", 0);
    if (argc < 5 || !argv[3] || !argv[4]) {
        dn_usage("usage: %s classifier predict DATA CFG WEIGHTS [IMAGE] [-t TOP] [-c N] [-gpus LIST]\n"
                 "  -c and -gpus are taken as upstream's classifier takes them, and not used\n", argv[0]);
    }
    char *filename = argc > 6 ? argv[6] : 0;
    p.net = load_network(argv[4], argc > 5 ? argv[5] : 0, 0);
    set_batch_network(p.net, 1);
    read_names(&p, argv[3]);
    p.indexes = calloc(p.top, sizeof(int));
    int given = 0, predicted = 0;
    char line[4096];
    for (;;) {
        const char *path = filename;
        if (!filename) {
            printf("Enter Image Path: ");
            fflush(stdout);
            if (!fgets(line, sizeof line, stdin)) break;
            line[strcspn(line, "\r\n")] = '\0';
            path = line;
        }
        ++given;
        predicted += predict_one(&p, path);
        if (filename) break;
    }
    image_issue_summary(stdout);
    if (given && !predicted) {
        dn_fatal("no readable image to predict (%d given)\n", given);
    }
    free(p.indexes);
    free_ptrs((void **)p.names, p.n_names);
    free_network(p.net);
}
