/* weights_check.c: a weights file holds every layer it is read for
 * (patches/0025 and 0040).
 *
 * Upstream's load_weights_upto() reads each layer's arrays with fread and
 * never looks at what fread returned, so a file cut short (an interrupted
 * download) loads silently with the missing floats left at their
 * initialisation, and a file with bytes to spare (written for another cfg)
 * loads without a word.  Before each layer, the loop now asks here how many
 * bytes the layer reads and compares them with what is left in the file:
 *   - the file ends inside the layer: an error naming the file, the layer,
 *     the array where the file ends and the byte offsets;
 *   - the file ends exactly before the layer: the layers read so far stay
 *     loaded, the rest keep their initialisation, and one line says so
 *     (pretrained backbones such as darknet53.conv.74 are such files);
 *   - bytes left after the last layer: a warning with the count.
 * Nothing here keeps state between calls: the file's size comes from
 * fstat each time, so networks can be loaded from several threads. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ext.h"
#include "train/weights_check.h"
#include "network.h"
#include "checked.h"

/* ---- what each layer type reads -------------------------------------------- */

/* The floats of a [convolutional] (or [deconvolutional]) layer, in file order. */
static int conv_arrays(const layer *l, weights_array *a, const char *prefix)
{
    long n = l->numload ? l->numload : l->n;
    long groups = l->groups > 0 ? l->groups : 1;
    int k = 0;
    a[k++] = (weights_array){prefix, "biases", n};
    if (l->batch_normalize && !l->dontloadscales) {
        a[k++] = (weights_array){prefix, "scales", n};
        a[k++] = (weights_array){prefix, "rolling_mean", n};
        a[k++] = (weights_array){prefix, "rolling_variance", n};
    }
    a[k++] = (weights_array){prefix, "weights", (long)l->c / groups * n * l->size * l->size};
    return k;
}

static int connected_arrays(const layer *l, weights_array *a, const char *prefix)
{
    long out = l->outputs;
    int k = 0;
    a[k++] = (weights_array){prefix, "biases", out};
    a[k++] = (weights_array){prefix, "weights", out * l->inputs};
    if (l->batch_normalize && !l->dontloadscales) {
        a[k++] = (weights_array){prefix, "scales", out};
        a[k++] = (weights_array){prefix, "rolling_mean", out};
        a[k++] = (weights_array){prefix, "rolling_variance", out};
    }
    return k;
}

/* Recurrent layers read whole sublayers, each named by its role. */
static int sublayer_arrays(layer *const *subs, const char *const *names, int n, int conv, weights_array *a)
{
    int k = 0;
    for (int i = 0; i < n; ++i) {
        k += conv ? conv_arrays(subs[i], a + k, names[i]) : connected_arrays(subs[i], a + k, names[i]);
    }
    return k;
}

int weights_layer_arrays(const layer *l, weights_array *a)
{
    static const char *const rnn_names[] = {"input_layer", "self_layer", "output_layer"};
    static const char *const lstm_names[] = {"wi", "wf", "wo", "wg", "ui", "uf", "uo", "ug"};
    static const char *const gru_names[] = {"wz", "wr", "wh", "uz", "ur", "uh"};
    switch (l->type) {
    case CONVOLUTIONAL:
    case DECONVOLUTIONAL:
        return conv_arrays(l, a, NULL);
    case CONNECTED:
        return connected_arrays(l, a, NULL);
    case BATCHNORM:
        a[0] = (weights_array){NULL, "scales", l->c};
        a[1] = (weights_array){NULL, "rolling_mean", l->c};
        a[2] = (weights_array){NULL, "rolling_variance", l->c};
        return 3;
    case LOCAL:
        a[0] = (weights_array){NULL, "biases", l->outputs};
        a[1] = (weights_array){NULL, "weights",
                               (long)l->size * l->size * l->c * l->n * l->out_w * l->out_h};
        return 2;
    case CRNN:
    case RNN: {
        layer *subs[] = {l->input_layer, l->self_layer, l->output_layer};
        return sublayer_arrays(subs, rnn_names, 3, l->type == CRNN, a);
    }
    case LSTM: {
        layer *subs[] = {l->wi, l->wf, l->wo, l->wg, l->ui, l->uf, l->uo, l->ug};
        return sublayer_arrays(subs, lstm_names, 8, 0, a);
    }
    case GRU: {
        layer *subs[] = {l->wz, l->wr, l->wh, l->uz, l->ur, l->uh};
        return sublayer_arrays(subs, gru_names, 6, 0, a);
    }
    default:
        return 0;
    }
}

long weights_layer_bytes(const layer *l)
{
    weights_array a[WEIGHTS_MAX_ARRAYS];
    int n = weights_layer_arrays(l, a);
    long floats = 0;
    for (int i = 0; i < n; ++i) floats += a[i].floats;
    return floats * (long)sizeof(float);
}

/* ---- the file ---------------------------------------------------------------- */

/* The file's size, or -1 when it has none (a pipe): then nothing is checked. */
static long file_size(FILE *fp)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return (long)st.st_size;
}

static const char *layer_section(const layer *l)
{
    static __thread char name[64];
    if (l->type == EXTENSION && l->ext) return l->ext->section;
    snprintf(name, sizeof(name), "[%s]", get_layer_string(l->type));
    return name;
}

/* A FILE.state written with the weights records the size of every array of
 * the cfg that wrote them: reading it names the first layer whose shape
 * differs from this cfg's (an error of its own), when that is the cause. */
static void explain_by_state(network *net, const char *file)
{
    char state[4096];
    struct stat st;
    if (snprintf(state, sizeof(state), "%s.state", file) >= (int)sizeof(state)) return;
    if (stat(state, &st) != 0) return;
    ext_load_state(net, file, 0, net->n);
}

/* The file ends at byte size, inside layer index which starts at byte at. */
static void __attribute__((noreturn))
fail_inside(network *net, const char *file, int index, const layer *l, long at, long size)
{
    weights_array a[WEIGHTS_MAX_ARRAYS];
    int n = weights_layer_arrays(l, a);
    long start = at;
    int k = 0;
    while (k + 1 < n && start + a[k].floats * (long)sizeof(float) <= size) {
        start += a[k].floats * (long)sizeof(float);
        ++k;
    }
    fprintf(stderr, "\ndarknet: error: %s: layer %d %s needs %ld bytes from byte %ld, but the file ends "
                    "at byte %ld, inside its %s%s%s (%ld floats from byte %ld): the file is cut short, "
                    "or was written for another cfg\n",
            file, index, layer_section(l), weights_layer_bytes(l), at, size,
            a[k].prefix ? a[k].prefix : "", a[k].prefix ? " " : "", a[k].name, a[k].floats, start);
    explain_by_state(net, file);
    exit(1);
}

int ext_weights_layer(network *net, int index, FILE *fp, const char *filename)
{
    const layer *l = &net->layers[index];
    long bytes = weights_layer_bytes(l);
    int reads = bytes > 0 || (l->type == EXTENSION && l->ext && l->ext->load);
    long size = file_size(fp);
    if (!reads || size < 0) return 1;
    long at = ftell(fp);
    if (at == size) return 0;                 /* ends right before this layer */
    /* our own layers check their arrays themselves, with their names */
    if (bytes > 0 && size - at < bytes) fail_inside(net, filename, index, l, at, size);
    return 1;
}

void ext_weights_end(network *net, FILE *fp, const char *filename, int start, int stopped, int cutoff)
{
    int asked = cutoff < net->n ? cutoff : net->n;
    if (stopped < asked) {
        fprintf(stderr, "loaded %d of %d layers from %s; the rest keep their initialisation\n",
                stopped - start, asked - start, filename);
        return;
    }
    long size = file_size(fp);
    long at = ftell(fp);
    /* a cutoff reads the layers asked for, out of a longer file: no warning */
    if (cutoff < net->n || size < 0 || at >= size) return;
    fprintf(stderr, "warning: %s: %ld bytes after the last layer were not read "
                    "(was the file written for another cfg?)\n", filename, size - at);
}

/* ---- the header ---------------------------------------------------------------- */

/* Darknet has written versions 0.1.0 and 0.2.0 (major > 1000 or minor >
 * 1000 marks transposed connected weights); nothing it wrote is negative
 * or anywhere near 100000.  The images seen follow: a 64-bit count from
 * version 0.2 on, as upstream decides, else a 32-bit one. */
void ext_read_weights_header(FILE *fp, const char *filename, int *major, int *minor, int *revision)
{
    int v[3];
    if (fread(v, sizeof(int), 3, fp) != 3) {
        dn_fatal("\n%s: too short for a weights file's header (12 bytes)\n", filename);
    }
    for (int i = 0; i < 3; ++i) {
        if (v[i] < 0 || v[i] > 100000) {
            dn_fatal("\n%s: not a darknet weights file (version %d.%d.%d)\n",
                    filename, v[0], v[1], v[2]);
        }
    }
    long seen_bytes = (v[0] * 10 + v[1]) >= 2 && v[0] < 1000 && v[1] < 1000 ? 8 : 4;
    long size = file_size(fp);
    if (size >= 0 && size < 12 + seen_bytes) {
        dn_fatal("\n%s: too short for a weights file's header (%ld bytes for "
                        "version %d.%d.%d, the file has %ld)\n", filename, 12 + seen_bytes, v[0], v[1], v[2], size);
    }
    *major = v[0];
    *minor = v[1];
    *revision = v[2];
}
