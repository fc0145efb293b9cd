/* registry.c: the tables behind the layer and subcommand hooks (ext.h).
 *
 * Adding a layer type or a command means adding one line to a table here;
 * upstream sources are never edited for it. */
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "cpu/parallel.h"
#include "deploy/gcfold.h"
#include "detect/det_eval.h"
#include "detect/det_train.h"
#include "detect/rcnn_layers.h"
#include "ext.h"
#include "gclayer.h"
#include "layers/gcmerge.h"
#include "train/netcheck.h"
#include "utils.h"

static const layer_ext *const layer_table[] = {
    &gcconv_ext,
    &gcmerge_ext,
    &rpn_ext,
    &roipool_ext,
    &rcnn_ext,
    NULL
};

static const ext_command command_table[] = {
    {"classifier", "train", classify_train_command, "train a classifier (validation, chart, ETA)"},
    {"classifier", "valid", classify_valid_command, "evaluate a classifier: top-1, top-k, per class"},
    {"classifier", "predict", classify_predict_command, "the top classes of images; unreadable ones are skipped"},
    {"gcfold", NULL, gcfold_command, "fold [gcconv] into [convolutional] for stock Darknet and OpenCV"},
    {"netcheck", NULL, netcheck_command, "parse a cfg and run training steps on random data"},
    {"detector", "map", det_map_command, "PASCAL VOC mAP of a detector on the valid list"},
    {"detector", "train", det_train_command, "train a detector; -map evaluates while training"},
    {NULL, NULL, NULL, NULL}
};

const layer_ext *ext_find_layer(const char *section)
{
    for (int i = 0; layer_table[i]; ++i) {
        if (strcmp(layer_table[i]->section, section) == 0) return layer_table[i];
    }
    return NULL;
}

layer ext_parse_layer(list *options, ext_params p)
{
    const layer_ext *entry = ext_find_layer(p.section);
    if (!entry) {
        fprintf(stderr, "\ndarknet: error: %s: section %d %s: unknown section type\n",
                p.cfgfile, p.index, p.section);
        exit(1);
    }
    layer l = entry->parse(options, p);
    l.type = EXTENSION;
    l.ext = entry;
    return l;
}

int ext_run_command(int argc, char **argv)
{
    /* Every command passes through here first, so this is where the global
     * `-threads N` (as OMP_NUM_THREADS) is read and removed from argv, the
     * way upstream's main() treats `-i`. */
    dn_set_threads(find_int_arg(argc, argv, "-threads", 0));
    for (const ext_command *c = command_table; c->word; ++c) {
        if (strcmp(argv[1], c->word) != 0) continue;
        if (c->subword && (argc < 3 || strcmp(argv[2], c->subword) != 0)) continue;
        c->run(argc, argv);
        return 1;
    }
    return 0;
}
