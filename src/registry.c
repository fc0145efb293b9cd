/* registry.c: the table behind the subcommand hook (ext.h), and the list
 * of every command that `./darknet help` prints.
 *
 * Adding a command means adding one line to the table here; upstream
 * sources are never edited for it.  The layer types have their table in
 * layer_registry.c. */
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "cpu/parallel.h"
#include "deploy/gcfold.h"
#include "deploy/onnx_export.h"
#include "detect/det_anchors.h"
#include "detect/det_eval.h"
#include "detect/det_test.h"
#include "detect/det_train.h"
#include "ext.h"
#include "train/netcheck.h"
#include "utils.h"

static const ext_command command_table[] = {
    {"classifier", "train", classify_train_command, "train a classifier (validation, chart, ETA)"},
    {"classifier", "valid", classify_valid_command, "evaluate a classifier: top-1, top-k, per class"},
    {"classifier", "predict", classify_predict_command, "the top classes of images; unreadable ones are skipped"},
    {"gcfold", NULL, gcfold_command, "fold [gcconv] into [convolutional] for stock Darknet and OpenCV"},
    {"export", "onnx", onnx_export_command, "write a trained network as an ONNX model ([gcconv] folded)"},
    {"netcheck", NULL, netcheck_command, "parse a cfg and run training steps on random data"},
    {"detector", "map", det_map_command, "PASCAL VOC or COCO-style mAP of a detector on the valid list"},
    {"detector", "train", det_train_command, "train a detector; -map evaluates while training"},
    {"detector", "test", det_test_command, "detect objects in images; -out FILE.json and -ext_output as AlexeyAB's"},
    {"detector", "calc_anchors", det_anchors_command, "k-means anchors (IoU distance) from the training boxes"},
    {NULL, NULL, NULL, NULL}
};

/* Upstream's own commands (examples/darknet.c), which its main() dispatches
 * after ours, with a line each for `./darknet help`.  Upstream prints no
 * such list; these lines are ours. */
typedef struct upstream_command {
    const char *usage;
    const char *help;
} upstream_command;

static const upstream_command upstream_table[] = {
    {"detector valid DATA CFG WEIGHTS", "write detections of the valid list to results/"},
    {"detector recall DATA CFG WEIGHTS", "the detector's recall of the valid list's objects"},
    {"detector demo DATA CFG WEIGHTS", "detect objects in a camera or video stream"},
    {"detect CFG WEIGHTS [IMAGE]", "detector test with cfg/coco.data"},
    {"classifier test|label|valid10|validcrop|validmulti|validfull|demo ...", "upstream's other classifier modes"},
    {"classify CFG WEIGHTS [IMAGE]", "classifier predict with cfg/imagenet1k.data"},
    {"yolo|coco|cifar|go|rnn|regressor|segmenter|isegmenter|art|tag|super|lsd|nightmare MODE CFG ...",
     "upstream's example programs; each prints its modes when run without them"},
    {"rgbgr|reset|normalize|denormalize|rescale|statistics|ops|speed|print|partial|average|"
     "oneoff|oneoff2|visualize|mkimg|3d|test|imtest ...", "upstream's tools for weights, cfgs and images"},
    {NULL, NULL}
};

static void print_help(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s COMMAND [ARGUMENTS] [-threads N] [-i GPU] [-nogpu] [-dont_show]\n\n", prog);
    fprintf(f, "Commands of this project (run one without arguments for its options):\n");
    for (const ext_command *c = command_table; c->word; ++c) {
        char name[64];
        snprintf(name, sizeof name, "%s%s%s", c->word, c->subword ? " " : "", c->subword ? c->subword : "");
        fprintf(f, "  %-20s %s\n", name, c->help);
    }
    fprintf(f, "\nDarknet's own commands:\n");
    for (const upstream_command *u = upstream_table; u->usage; ++u)
        fprintf(f, "  %s\n      %s\n", u->usage, u->help);
    fprintf(f, "\n-threads N sets the CPU threads (OMP_NUM_THREADS); -i picks the GPU of a GPU build;\n"
               "-dont_show opens no window (images are saved instead).\n"
               "Documentation: README.md and docs/ in the source tree.\n");
}

void ext_usage(const char *prog, const char *unknown)
{
    if (unknown) fprintf(stderr, "darknet: error: %s: not a command\n\n", unknown);
    print_help(stderr, prog);
}

int ext_run_command(int argc, char **argv)
{
    /* Every command passes through here first, so this is where the global
     * `-threads N` (as OMP_NUM_THREADS) is read and removed from argv, the
     * way upstream's main() treats `-i`. */
    dn_set_threads(find_int_arg(argc, argv, "-threads", 0));
    /* AlexeyAB's -dont_show, which its tutorials put on every command: no
     * window for the whole run (images are saved instead).  Taken out of
     * argv, it cannot be read as upstream's IMAGE argument. */
    if (find_arg(argc, argv, "-dont_show")) ext_forbid_display();
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        print_help(stdout, argv[0]);
        return 1;
    }
    for (const ext_command *c = command_table; c->word; ++c) {
        if (strcmp(argv[1], c->word) != 0) continue;
        if (c->subword && (argc < 3 || strcmp(argv[2], c->subword) != 0)) continue;
        c->run(argc, argv);
        return 1;
    }
    return 0;
}
