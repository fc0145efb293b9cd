/* gcfold.c: `./darknet gcfold CFG WEIGHTS OUT.cfg OUT.weights [-keep]`
 *
 * Writes a network in which every [gcconv] is a [convolutional] with N*K
 * filters and the dense kernel of gcfold_kernel(), so that stock Darknet
 * and OpenCV's dnn module run a trained CCNN.  A [gcmerge] mode=mean is
 * linear: it becomes a fixed 1x1 [convolutional] whose output c weighs
 * input channels c*K .. c*K+K-1 by 1/K.  The cfg is rewritten from its own
 * text, section by section: every other section, comments included, is
 * copied line for line.  The weights are the loaded network saved again,
 * with the folded layers saved as [convolutional] ones (biases, then
 * scales, rolling_mean, rolling_variance with batch norm, then the
 * kernel).  A layer no upstream layer computes ([gcmerge] mode=max) is
 * refused before anything is written, unless -keep leaves it as it is.
 * Both outputs are written to a temporary file and renamed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activations.h"
#include "darknet.h"
#include "ext.h"
#include "utils.h"

#include "deploy/gcfold.h"
#include "gcconv/gcmerge.h"
#include "gclayer.h"
#include "train/train_state.h"
#include "checked.h"

/* ---- the cfg as text ------------------------------------------------------ */

/* The lines of a cfg file, and where each section's header line is.
 * Section 0 is [net]; section i > 0 is layer i-1. */
typedef struct cfg_text {
    char **lines;
    int nlines;
    int *header;       /* line index of each section's header */
    int nsections;
} cfg_text;

/* Upstream reads a cfg line with all its whitespace removed: a section
 * header is a line whose first such character is '['.  The same rule here
 * keeps the sections in step with the layers upstream made. */
static char first_visible(const char *line)
{
    while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\n') ++line;
    return *line;
}

static void *grow(void *p, size_t n, const char *file)
{
    p = realloc(p, n);
    if (!p) {
        dn_fatal("\ngcfold: out of memory reading %s\n", file);
    }
    return p;
}

static cfg_text read_cfg_text(const char *file)
{
    FILE *fp = dn_fopen(file, "r");
    cfg_text t = {NULL, 0, NULL, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        t.lines = grow(t.lines, (t.nlines + 1) * sizeof(char *), file);
        t.lines[t.nlines] = strdup(line);
        if (first_visible(line) == '[') {
            t.header = grow(t.header, (t.nsections + 1) * sizeof(int), file);
            t.header[t.nsections++] = t.nlines;
        }
        ++t.nlines;
    }
    free(line);
    fclose(fp);
    return t;
}

/* The header of section i without whitespace: "[gcconv]". */
static void section_name(const cfg_text *t, int i, char *name, size_t size)
{
    const char *s = t->lines[t->header[i]];
    size_t n = 0;
    for (; *s && n + 1 < size; ++s)
        if (*s != ' ' && *s != '\t') name[n++] = *s;
    name[n] = '\0';
}

static int section_end(const cfg_text *t, int i)
{
    return i + 1 < t->nsections ? t->header[i + 1] : t->nlines;
}

/* The key of a `key=value` line without whitespace, or "" for a comment. */
static void line_key(const char *line, char *key, size_t size)
{
    size_t n = 0;
    char c = first_visible(line);
    if (c == '#' || c == ';') c = '\0';
    for (const char *s = line; c && *s && *s != '=' && n + 1 < size; ++s)
        if (*s != ' ' && *s != '\t') key[n++] = *s;
    key[n] = '\0';
}

/* ---- which layers fold -------------------------------------------------- */

static int is_gcconv_section(const char *name)
{
    return strcmp(name, "[gcconv]") == 0;
}

/* A [gcmerge] mode=mean: a linear map, folded into a 1x1 convolution. */
static int is_mean_merge(layer l)
{
    return l.type == EXTENSION && l.ext == &gcmerge_ext && gcmerge_mode(l) == GC_MERGE_MEAN;
}

/* Our layers other than [gcconv] and a mean [gcmerge] compute what no
 * upstream layer does (a [gcmerge] max: the largest of the K interleaved
 * branches of a plane, not a linear map).  Refused, naming file, section
 * and type, unless -keep.  Returns how many such layers are kept. */
static int check_foldable(const cfg_text *t, const network *net, const char *cfgfile, int keep)
{
    int kept = 0;
    for (int i = 1; i < t->nsections; ++i) {
        char name[256];
        section_name(t, i, name, sizeof(name));
        if (is_gcconv_section(name) || !ext_find_layer(name) || is_mean_merge(net->layers[i - 1])) continue;
        if (keep) {
            ++kept;
            continue;
        }
        int is_max = net->layers[i - 1].ext == &gcmerge_ext;
        dn_fatal("\n%s: section %d %s: cannot be folded into upstream layers: %s; -keep leaves it as "
                 "it is, for this build only\n", cfgfile, i - 1, name,
                 is_max ? "mode=max takes the largest of the branches of each plane, which is not linear "
                          "and which no upstream Darknet layer computes (mode=mean folds)"
                        : "no upstream Darknet layer computes it");
    }
    return kept;
}

/* ---- writing the cfg ------------------------------------------------------ */

/* Keys any upstream section reads (parse_network_cfg), kept with a
 * [gcconv] turned [convolutional].  numload is left out: it would cut the
 * filters a [convolutional] loads. */
static int is_common_key(const char *key)
{
    static const char *const keys[] = {"learning_rate", "stopbackward", "onlyforward", "dontsave",
                                       "dontload", "dontloadscales", "smooth", "truth", NULL};
    for (int i = 0; keys[i]; ++i)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

/* The [convolutional] that computes layer l, from the parsed layer (so the
 * defaults are resolved).  pad=1 where the padding is size/2, which every
 * Darknet reader knows; an explicit padding= otherwise. */
static void write_convolutional(FILE *fp, const cfg_text *t, int i, layer l)
{
    const gcconv_state *s = gcconv_state_of(l);
    gcfold_geometry g = gcfold_geometry_of(l);
    fprintf(fp, "# folded from [gcconv] branches=%d mixing=%s expand=%d (./darknet gcfold)\n", s->K,
            s->mixing == GC_MIX_FULL ? "full" : "branch", s->expand);
    if (g.size != l.size)
        fprintf(fp, "# size=1 stride=%d padding=%d as 3x3 with the weights at the centre: upstream's 1x1 "
                    "[convolutional] ignores stride and padding\n", l.stride, l.pad);
    fprintf(fp, "[convolutional]\nbatch_normalize=%d\nfilters=%d\nsize=%d\nstride=%d\n", l.batch_normalize,
            l.n, g.size, l.stride);
    if (g.padding > 0 && g.padding == g.size / 2) fprintf(fp, "pad=1\n");
    else fprintf(fp, "padding=%d\n", g.padding);
    fprintf(fp, "activation=%s\n", get_activation_string(l.activation));
    for (int j = t->header[i] + 1; j < section_end(t, i); ++j) {
        char key[256];
        line_key(t->lines[j], key, sizeof(key));
        char c = first_visible(t->lines[j]);
        /* comments, blank lines and the common keys as they were */
        if (c == '#' || c == ';' || c == '\0' || is_common_key(key)) fprintf(fp, "%s\n", t->lines[j]);
    }
}

/* A [gcmerge] mode=mean as the fixed 1x1 [convolutional] of
 * mean_merge_kernel(): stride 1 and no padding, which upstream's 1x1
 * convolution computes right. */
static void write_mean_merge(FILE *fp, const cfg_text *t, int i, layer l)
{
    fprintf(fp, "# folded from [gcmerge] mode=mean branches=%d (./darknet gcfold): weights 1/%d\n",
            gcmerge_branches(l), gcmerge_branches(l));
    fprintf(fp, "[convolutional]\nbatch_normalize=0\nfilters=%d\nsize=1\nstride=1\npad=0\nactivation=linear\n",
            l.out_c);
    for (int j = t->header[i] + 1; j < section_end(t, i); ++j) {
        char c = first_visible(t->lines[j]);
        if (c == '#' || c == ';' || c == '\0') fprintf(fp, "%s\n", t->lines[j]);
    }
}

static int section_has_key(const cfg_text *t, int i, const char *want)
{
    for (int j = t->header[i] + 1; j < section_end(t, i); ++j) {
        char key[256];
        line_key(t->lines[j], key, sizeof(key));
        if (strcmp(key, want) == 0) return 1;
    }
    return 0;
}

/* A section copied as it is.  A kept [gcmerge] takes K from the nearest
 * [gcconv] before it when it has no branches=; with those folded it is
 * written down. */
static void write_kept(FILE *fp, const cfg_text *t, int i, const char *name, layer l)
{
    fprintf(fp, "%s\n", t->lines[t->header[i]]);
    if (strcmp(name, "[gcmerge]") == 0 && !section_has_key(t, i, "branches") && l.out_c > 0)
        fprintf(fp, "branches=%d\n", l.c / l.out_c);
    for (int j = t->header[i] + 1; j < section_end(t, i); ++j) fprintf(fp, "%s\n", t->lines[j]);
}

static void write_cfg(const cfg_text *t, network *net, const char *out)
{
    FILE *fp = ext_save_open(out);
    for (int j = 0; j < t->header[0]; ++j) fprintf(fp, "%s\n", t->lines[j]);
    for (int i = 0; i < t->nsections; ++i) {
        char name[256];
        section_name(t, i, name, sizeof(name));
        if (i == 0) {
            for (int j = t->header[0]; j < section_end(t, 0); ++j) fprintf(fp, "%s\n", t->lines[j]);
        } else if (is_gcconv_section(name)) {
            write_convolutional(fp, t, i, net->layers[i - 1]);
        } else if (is_mean_merge(net->layers[i - 1])) {
            write_mean_merge(fp, t, i, net->layers[i - 1]);
        } else {
            write_kept(fp, t, i, name, net->layers[i - 1]);
        }
    }
    /* cutoff 0: no layer arrays to check, only the flush, fsync and rename */
    ext_save_close(net, fp, out, 0);
}

/* ---- writing the weights ------------------------------------------------ */

/* What upstream's [convolutional] reads: biases, the batch-norm arrays,
 * then n x c x size x size weights. */
static void save_folded_gcconv(layer l, FILE *fp)
{
    size_t n = gcfold_kernel_floats(l);
    float *kernel = malloc(n * sizeof(float));
    if (!kernel) malloc_error();
    gcfold_kernel(l, kernel);
    fwrite(l.biases, sizeof(float), l.n, fp);
    if (l.batch_normalize) {
        fwrite(l.scales, sizeof(float), l.n, fp);
        fwrite(l.rolling_mean, sizeof(float), l.n, fp);
        fwrite(l.rolling_variance, sizeof(float), l.n, fp);
    }
    fwrite(kernel, sizeof(float), n, fp);
    free(kernel);
}

/* The kernel of a mean [gcmerge] as a 1x1 convolution over its N*K
 * channels: out_c filters, each 1/K on its own K branches and 0 elsewhere.
 * For K a power of two 1/K is exact; otherwise it carries one rounding. */
static void save_folded_mean_merge(layer l, FILE *fp)
{
    int K = gcmerge_branches(l);
    float *kernel = calloc((size_t)l.out_c * l.c, sizeof(float));
    float *biases = calloc((size_t)l.out_c, sizeof(float));
    if (!kernel || !biases) malloc_error();
    for (int o = 0; o < l.out_c; ++o)
        for (int k = 0; k < K; ++k) kernel[(size_t)o * l.c + o * K + k] = 1.0f / K;
    fwrite(biases, sizeof(float), l.out_c, fp);
    fwrite(kernel, sizeof(float), (size_t)l.out_c * l.c, fp);
    free(kernel);
    free(biases);
}

static const layer_ext folded_mean_merge_ext = {"[gcmerge]", NULL, save_folded_mean_merge, NULL, NULL, NULL, NULL,
                                                NULL, NULL, NULL, NULL};

static const layer_ext folded_gcconv_ext = {"[gcconv]", NULL, save_folded_gcconv, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

/* upstream's save_weights writes every layer in order (and the header
 * with `seen`); for the time of the save each [gcconv] saves itself
 * folded.  A deployed network has no training state, so the state file
 * that saving leaves beside the weights goes. */
static int write_weights(network *net, const char *out)
{
    const layer_ext **was = calloc(net->n ? net->n : 1, sizeof(*was));
    if (!was) malloc_error();
    int folded = 0;
    for (int i = 0; i < net->n; ++i) {
        was[i] = net->layers[i].ext;
        if (is_mean_merge(net->layers[i])) {
            net->layers[i].ext = &folded_mean_merge_ext;
            ++folded;
        }
        if (net->layers[i].type != EXTENSION || net->layers[i].ext != &gcconv_ext) continue;
        net->layers[i].ext = &folded_gcconv_ext;
        ++folded;
    }
    save_weights(net, (char *)out);
    for (int i = 0; i < net->n; ++i) net->layers[i].ext = was[i];
    free(was);
    char *state = train_state_path(out);
    unlink(state);
    free(state);
    return folded;
}

/* ---- the command -------------------------------------------------------- */

void gcfold_command(int argc, char **argv)
{
    /* find_arg takes -keep out of argv, but argc stays */
    int keep = find_arg(argc, argv, "-keep");
    if (argc - keep != 6) {
        dn_usage("usage: %s gcfold CFG WEIGHTS OUT.cfg OUT.weights [-keep]\n"
                 "  every [gcconv] and [gcmerge] mode=mean becomes a [convolutional] computing the\n"
                 "  same; -keep leaves layers upstream cannot compute ([gcmerge] mode=max) as they are\n", argv[0]);
    }
    char *cfgfile = argv[2], *weightfile = argv[3], *out_cfg = argv[4], *out_weights = argv[5];
    cfg_text text = read_cfg_text(cfgfile);
    /* parsed first, so that a refusal (which needs each [gcmerge]'s mode)
     * comes before the weights are read */
    network *net = parse_network_cfg(cfgfile);
    if (text.nsections != net->n + 1) {
        dn_fatal("\ngcfold: %s has %d sections but the network %d layers\n", cfgfile,
                text.nsections, net->n);
    }
    int kept = check_foldable(&text, net, cfgfile, keep);
    load_weights(net, weightfile);
    int folded = write_weights(net, out_weights);
    write_cfg(&text, net, out_cfg);
    fprintf(stderr, "gcfold: %d layer%s ([gcconv], [gcmerge] mode=mean) folded into [convolutional]%s; wrote %s and %s\n", folded,
            folded == 1 ? "" : "s", kept ? " (some layers kept: this build only)" : "", out_cfg, out_weights);
}
