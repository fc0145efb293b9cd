/* ext.h: the hooks that our patches (patches/) add to upstream Darknet.
 *
 * Upstream calls these functions; everything behind them lives in our own
 * sources.  They come in groups, one per patch or two, each marked below
 * with the file that implements it: the layer registry keyed by cfg section
 * name, the optimizer, seeded random numbers and the data loader, the
 * training state, strict readers of cfgs, weights, labels and images, the
 * crop, atomic saves, upstream's commands, and the subcommands. */
#ifndef EXT_H
#define EXT_H

#include <stdio.h>
#include "darknet.h"

/* What a layer parser knows about where it sits in the cfg. */
typedef struct ext_params {
    const char *cfgfile;   /* path of the cfg being parsed */
    const char *section;   /* section header, brackets included: "[gcconv]" */
    int index;             /* layer index, as the start-up table prints it */
    int batch, h, w, c;    /* input geometry of this layer */
    network *net;
} ext_params;

/* An array a layer trains beyond upstream's biases, batch-norm scales and
 * weights: its values, its updates (minus the gradient, as upstream's
 * *_updates) and its length. */
typedef struct ext_array {
    const char *name;      /* "R" */
    float *values, *updates;
    int n;
    float *values_gpu, *updates_gpu;   /* their device copies in GPU training; else NULL */
} ext_array;
#define EXT_MAX_ARRAYS 4

/* One extension layer type.  Any hook but parse may be NULL. */
typedef struct layer_ext {
    const char *section;   /* "[gcconv]" */
    layer (*parse)(list *options, ext_params p);
    void (*save)(layer l, FILE *fp);
    /* Must fail (exit 1) with the file, layer index and byte offset when the
     * file is short or does not match the layer. */
    void (*load)(layer l, FILE *fp, const char *file, int index);
    void (*resize)(layer *l, int w, int h);
    void (*free)(layer l);
    /* The batch of the layers after this one when its input has `batch`
     * rows (patches/0070: the parser and set_batch_network() apply it).
     * The layer's own l.batch is that output batch.  NULL: unchanged. */
    int (*batch_out)(layer l, int batch);
    /* Detections for get_network_boxes() (patches/0070), of image 0 of the
     * last forward pass: how many score above thresh, and writing them
     * into dets (w, h: the image; netw, neth: the letterboxed input).
     * get_detections returns how many it wrote, which may be fewer; the
     * entries left stay empty (zero probabilities). */
    int (*num_detections)(layer l, float thresh);
    int (*get_detections)(layer l, int w, int h, int netw, int neth, float thresh,
                          int relative, detection *dets);
    /* The arrays the layer trains beyond those of layer_param_counts
     * (src/optim/params.h), in a fixed order; returns how many (at most
     * EXT_MAX_ARRAYS).  The MPI exchange sums their updates over the ranks
     * (src/dist/grads.c), netcheck counts them, the Python package reads
     * them by name.  The layer's own update applies them.  NULL: none. */
    int (*arrays)(layer l, ext_array *out);
    /* Multiply-adds of one image's forward pass, as the CPU runs it
     * (netcheck).  NULL: none counted. */
    double (*multiply_adds)(layer l);
} layer_ext;

/* The trainable arrays of any layer (0 for upstream's types and for an
 * extension without the hook); by name, NULL when it has none so called. */
int ext_layer_arrays(layer l, ext_array *out);
const ext_array *ext_layer_array(layer l, const char *name, ext_array *slot);

/* A subcommand: `./darknet WORD [SUBWORD] ...`.  subword NULL matches any. */
typedef struct ext_command {
    const char *word;
    const char *subword;
    void (*run)(int argc, char **argv);
    const char *help;
} ext_command;

/* --- layer registry (layer_registry.c) --- */
const layer_ext *ext_find_layer(const char *section);
layer ext_parse_layer(list *options, ext_params p);

/* --- optimizer hook (optimizer.c) --- */
void ext_parse_net_options(list *options, network *net);
void ext_update_network(network *net, update_args a);
void ext_update_network_gpu(network *net, update_args a);
void ext_free_network(network *net);

/* --- seeded random numbers for upstream code (rand/upstream_rand.c;
 *     patches/0005).  utils.h turns upstream's rand calls into ext_rand(). --- */
int ext_rand(void);
/* --- the data loader (input/loader_threads.c; patches/0005, 0060, 0080) --- */
/* Numbers the next batch asked of the data loader (0 when not seeded). */
size_t ext_loader_next_batch(void);
/* A loader thread about to load part `part` of batch `batch` / done. */
void ext_loader_thread_begin(size_t batch, int part);
void ext_loader_thread_end(void);
/* Data-parallel training (patches/0060): 1 when the rows of loader thread
 * a->ext_part lie outside rank a->ext_rank's share of a batch of `total`
 * (a->ext_ranks > 1); its part a->d is then made rows without pixels. */
int ext_loader_skip_part(load_args *a, int total);
/* Gives the skipped parts the row sizes of the loaded ones. */
void ext_loader_fill_skipped(data *parts, const int *skipped, int n);
/* Runs run(copy of parts[i]) for each of the n parts (run frees its
 * argument) and returns when all have finished (patches/0080;
 * loader_threads.c). */
void ext_loader_run_parts(void *(*run)(void *), const load_args *parts, int n);

/* --- training state beside the weights (train_state.c; patches/0006) ---
 * Called after save_weights_upto() / load_weights_upto() closed the file. */
void ext_save_state(network *net, const char *weightfile, int cutoff);
void ext_load_state(network *net, const char *weightfile, int start, int cutoff);

/* --- hostile input (cfgcheck.c; patches/0020) ---
 * Option lists remember the file and section they came from; upstream's
 * option_find_int/_float (and _quiet) read values strictly through
 * ext_option_int/_float, option_find_str through ext_option_str (which
 * checks the files a .data file names).  ext_check_section() runs before
 * upstream makes each layer (index -1: [net]), ext_check_layer() after. */
void ext_options_origin(list *options, const char *file, const char *section, int index);
void ext_options_forget(list *options);
int ext_option_int(list *options, const char *key, const char *value);
float ext_option_float(list *options, const char *key, const char *value);
char *ext_option_str(list *options, const char *key, char *value, char *def);
void ext_cfg_stray_line(const char *file, int line, const char *text);
void ext_check_section(network *net, list *options, const char *section, int index,
                       int batch, int h, int w, int c, int inputs);
void ext_check_layer(layer *l, list *options, const char *section, int index);
/* After the last layer (patches/0026): the network as a whole. */
void ext_check_network(network *net, const char *file);
/* The item after the next comma of a cfg list, or the string's end
 * (patches/0023: upstream stepped with strchr(s, ',')+1, NULL+1 at the end). */
char *ext_after_comma(char *s);

/* --- weights files (weights_check.c; patches/0025, 0040) ---
 * The header: too short, or version numbers no darknet wrote, is an error
 * naming the file.  Before layer i, load_weights_upto() asks
 * ext_weights_layer(): an error when the file ends inside the layer, 0
 * (stop loading here) when it ends exactly before it, else 1.  After the
 * loop, ext_weights_end() says when the file held fewer layers than asked
 * ("loaded N of M layers") and warns about bytes left after the last. */
void ext_read_weights_header(FILE *fp, const char *filename, int *major, int *minor, int *revision);
int ext_weights_layer(network *net, int index, FILE *fp, const char *filename);
void ext_weights_end(network *net, FILE *fp, const char *filename, int start, int stopped, int cutoff);

/* --- label files (labels.c; patches/0022) ---
 * read_boxes() is ext_read_boxes(): one "class x y w h" per line, finite
 * numbers, class >= 0, or an error naming file and line.  The box fillers
 * check classes against the network's; get_labels() records how many
 * labels it read, and fill_truth() refuses classes= beyond that. */
box_label *ext_read_boxes(const char *filename, int *n);
void ext_check_box_classes(const char *filename, const box_label *boxes, int n, int classes);
void ext_labels_read(const char *filename, char **labels, int count);
void ext_check_labels(char **labels, int k);

/* --- classification images (image_check.c; patches/0042) ---
 * load_image_augment_paths() loads paths[i] through here: a file that
 * cannot be read is skipped with a warning, and paths[i] becomes a
 * replacement drawn (ext_rand) from the list the command registered. */
image ext_load_augment_image(char **paths, int i);

/* --- the crop of classification training images (augment.c; patches/0050) ---
 * load_image_augment_paths() crops through here: with pad_crop=P in [net]
 * the image is padded with P zero pixels on each side and a size x size
 * window is taken at a random offset; otherwise upstream's
 * random_augment_image(im, angle, aspect, min, max, size, size). */
image ext_augment_crop(image im, float angle, float aspect, int min, int max, int size);

/* --- atomic weights saves (safe_save.c; patches/0024) ---
 * save_weights_upto() opens with ext_save_open() (a temporary file beside
 * FILE) and ends with ext_save_close(), which refuses non-finite weights,
 * flushes, fsyncs and renames it over FILE; any failure is an error and
 * the old FILE stays. */
FILE *ext_save_open(const char *filename);
void ext_save_close(network *net, FILE *fp, const char *filename, int cutoff);

/* --- upstream's commands as documented (patches/0030, 0031, 0032) ---
 * ext_display_available(): whether a window can be opened (input/files.c):
 * a display is set and the command line did not say -dont_show, which
 * ext_run_command() takes out of argv for every command and passes on
 * through ext_forbid_display().
 * ext_check_detections(): warns once per layer when a [yolo], [region] or
 * [detection] layer's output is not finite (detect/det_nonfinite.c).
 * ext_find_replace(): upstream's find_replace() for paths of at most 4095
 * bytes, an error naming the path otherwise (input/files.c).
 * ext_require_regular_file(): an error unless FILE is a regular file, for
 * readers that would hang on a device or a pipe (input/files.c). */
int ext_display_available(void);
void ext_forbid_display(void);
void ext_check_detections(network *net, int index);
void ext_find_replace(const char *str, const char *orig, const char *rep, char *output);
void ext_require_regular_file(const char *file, const char *what);
/* Ends the process with STATUS at once, stdio flushed, no exit handlers:
 * for fatal errors in loader threads, where exit() would run OpenCV's
 * destructors under the other loaders (input/files.c). */
__attribute__((noreturn)) void ext_exit_now(int status);

/* --- subcommand hook (registry.c): 1 when argv named one of ours --- */
int ext_run_command(int argc, char **argv);
/* The list of every command, ours and upstream's, on stderr; with `unknown`
 * (not NULL) first an error line naming it.  For a missing or unknown
 * command. */
void ext_usage(const char *prog, const char *unknown);

#endif
