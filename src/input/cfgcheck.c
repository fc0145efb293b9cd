/* cfgcheck.c: strict option values and per-section checks (cfgcheck.h).
 *
 * Three parts:
 *  - where each option list came from (a small table keyed by the list);
 *  - strict numbers: the whole value must be a number, with per-key ranges;
 *  - per-section checks run before upstream makes a layer, with the input
 *    geometry at hand: what upstream would divide by, index with, assert
 *    on or allocate. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext.h"
#include "input/cfgcheck.h"
#include "option_list.h"
#include "checked.h"

/* ---- where option lists come from ---------------------------------------- */

typedef struct origin_entry {
    list *options;
    char *file;
    char *section;
    int index;
} origin_entry;

static origin_entry *origins;
static size_t n_origins, cap_origins;

static char *copy_or_null(const char *s)
{
    if (!s) return NULL;
    char *c = strdup(s);
    if (!c) {
        dn_fatal("out of memory\n");
    }
    return c;
}

static void drop_entry(size_t i)
{
    free(origins[i].file);
    free(origins[i].section);
    origins[i] = origins[--n_origins];
}

void ext_options_forget(list *options)
{
    for (size_t i = n_origins; i-- > 0;) {
        if (origins[i].options == options) drop_entry(i);
    }
}

void ext_options_origin(list *options, const char *file, const char *section, int index)
{
    ext_options_forget(options);
    if (n_origins == cap_origins) {
        size_t cap = cap_origins ? 2 * cap_origins : 64;
        origin_entry *o = realloc(origins, cap * sizeof(*o));
        if (!o) {
            dn_fatal("out of memory\n");
        }
        origins = o;
        cap_origins = cap;
    }
    origin_entry e = {options, copy_or_null(file), copy_or_null(section), index};
    origins[n_origins++] = e;
}

void cfgcheck_forget_all(void)
{
    while (n_origins) drop_entry(n_origins - 1);
    free(origins);
    origins = NULL;
    cap_origins = 0;
}

cfg_origin cfgcheck_origin(list *options)
{
    for (size_t i = n_origins; i-- > 0;) {
        if (origins[i].options == options) {
            cfg_origin o = {origins[i].file, origins[i].section, origins[i].index};
            return o;
        }
    }
    cfg_origin none = {NULL, NULL, -1};
    return none;
}

/* ---- errors -------------------------------------------------------------- */

/* FILE: section N [type]: key=value: why */
static void __attribute__((noreturn, format(printf, 4, 5)))
fail(cfg_origin o, const char *key, const char *value, const char *fmt, ...)
{
    char place[1024] = "", why[1024];
    size_t at = 0;
    if (o.file) at += snprintf(place + at, sizeof place - at, "%s: ", o.file);
    if (o.section && o.index >= 0 && at < sizeof place) at += snprintf(place + at, sizeof place - at, "section %d ", o.index);
    if (o.section && at < sizeof place) at += snprintf(place + at, sizeof place - at, "%s: ", o.section);
    if (key && at < sizeof place) snprintf(place + at, sizeof place - at, "%s=%s: ", key, value ? value : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    dn_fatal("\n%s%s\n", place, why);
}

void ext_cfg_stray_line(const char *file, int line, const char *text)
{
    dn_fatal("\n%s: line %d: '%s' comes before any [section]\n", file, line, text);
}

/* ---- strict numbers --------------------------------------------------------- */

/* Canonical section names: upstream accepts a few aliases. */
static const char *canonical(const char *section)
{
    static const char *const alias[][2] = {
        {"[conv]", "[convolutional]"}, {"[deconv]", "[deconvolutional]"},
        {"[network]", "[net]"}, {"[conn]", "[connected]"}, {"[max]", "[maxpool]"},
        {"[avg]", "[avgpool]"}, {"[lrn]", "[normalization]"}, {"[soft]", "[softmax]"},
    };
    if (!section) return "";
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); ++i) {
        if (strcmp(section, alias[i][0]) == 0) return alias[i][1];
    }
    return section;
}

/* Ranges of integer keys, checked whenever upstream reads the key.
 * section NULL: every section (and the .data file). */
typedef struct int_rule {
    const char *section;
    const char *key;
    long lo, hi;
} int_rule;

#define BIG 1000000000L
#define DIM 65536L
static const int_rule int_rules[] = {
    {"[net]", "batch", 1, BIG}, {"[net]", "subdivisions", 1, BIG},
    {"[net]", "time_steps", 1, BIG}, {"[net]", "width", 0, DIM},
    {"[net]", "height", 0, DIM}, {"[net]", "channels", 0, DIM},
    {"[net]", "inputs", 0, BIG}, {"[net]", "max_batches", 0, INT_MAX},
    {"[net]", "burn_in", 0, INT_MAX}, {"[net]", "step", 1, INT_MAX},
    {"[net]", "max_crop", 0, DIM}, {"[net]", "min_crop", 0, DIM},
    {"[convolutional]", "filters", 1, BIG}, {"[convolutional]", "size", 1, DIM},
    {"[convolutional]", "stride", 1, DIM}, {"[convolutional]", "padding", 0, DIM},
    {"[convolutional]", "groups", 1, BIG},
    {"[deconvolutional]", "filters", 1, BIG}, {"[deconvolutional]", "size", 1, DIM},
    {"[deconvolutional]", "stride", 1, DIM}, {"[deconvolutional]", "padding", 0, DIM},
    {"[local]", "filters", 1, BIG}, {"[local]", "size", 1, DIM}, {"[local]", "stride", 1, DIM},
    {"[maxpool]", "size", 1, DIM}, {"[maxpool]", "stride", 1, DIM},
    {"[maxpool]", "padding", 0, DIM},
    {"[connected]", "output", 1, BIG}, {"[rnn]", "output", 1, BIG},
    {"[gru]", "output", 1, BIG}, {"[lstm]", "output", 1, BIG},
    {"[crnn]", "output_filters", 1, BIG}, {"[crnn]", "hidden_filters", 1, BIG},
    {"[crop]", "crop_height", 1, DIM}, {"[crop]", "crop_width", 1, DIM},
    {"[reorg]", "stride", 1, DIM}, {"[reorg]", "extra", 0, BIG},
    {"[upsample]", "stride", -DIM, DIM},
    {"[normalization]", "size", 1, DIM},
    {"[softmax]", "groups", 1, BIG},
    {"[yolo]", "classes", 0, BIG}, {"[yolo]", "num", 1, BIG}, {"[yolo]", "max", 1, 90},
    {"[region]", "classes", 0, BIG}, {"[region]", "num", 1, BIG},
    {"[region]", "coords", 0, BIG}, {"[region]", "max", 1, 30},
    {"[detection]", "classes", 0, BIG}, {"[detection]", "num", 1, BIG},
    {"[detection]", "coords", 0, BIG}, {"[detection]", "side", 1, DIM},
    {"[iseg]", "classes", 0, BIG}, {"[iseg]", "ids", 0, BIG},
    {NULL, "classes", 1, BIG},   /* .data files */
};

static const int_rule *find_rule(cfg_origin o, const char *key)
{
    const char *s = canonical(o.section);
    for (size_t i = 0; i < sizeof(int_rules) / sizeof(int_rules[0]); ++i) {
        const int_rule *r = &int_rules[i];
        if (strcmp(r->key, key) != 0) continue;
        if (r->section ? strcmp(r->section, s) == 0 : o.section == NULL) return r;
    }
    return NULL;
}

static long strict_long(cfg_origin o, const char *key, const char *value)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno || v < INT_MIN || v > INT_MAX) {
        fail(o, key, value, "not a whole number");
    }
    return v;
}

int ext_option_int(list *options, const char *key, const char *value)
{
    cfg_origin o = cfgcheck_origin(options);
    long v = strict_long(o, key, value);
    const int_rule *r = find_rule(o, key);
    if (r && (v < r->lo || v > r->hi)) {
        if (r->hi >= BIG) fail(o, key, value, "must be at least %ld", r->lo);
        fail(o, key, value, "must be between %ld and %ld", r->lo, r->hi);
    }
    return (int)v;
}

static float strict_float(cfg_origin o, const char *key, const char *value)
{
    char *end;
    errno = 0;
    float v = strtof(value, &end);
    /* ERANGE on underflow still gives a usable (tiny) number */
    if (end == value || *end != '\0' || !isfinite(v) || (errno == ERANGE && fabsf(v) > 1)) {
        fail(o, key, value, "not a finite number");
    }
    return v;
}

float ext_option_float(list *options, const char *key, const char *value)
{
    cfg_origin o = cfgcheck_origin(options);
    float v = strict_float(o, key, value);
    const char *s = canonical(o.section);
    if (strcmp(s, "[dropout]") == 0 && strcmp(key, "probability") == 0 && !(v >= 0 && v < 1)) {
        fail(o, key, value, "must be at least 0 and below 1");
    }
    if (strcmp(s, "[net]") == 0 && strcmp(key, "learning_rate") == 0 && v < 0) {
        fail(o, key, value, "must be >= 0");
    }
    return v;
}

char *ext_after_comma(char *s)
{
    char *comma = strchr(s, ',');
    return comma ? comma + 1 : s + strlen(s);
}

/* ---- .data files: the files they name -------------------------------------- */

static int has_a_line(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ch, seen = 0;
    while ((ch = fgetc(f)) != EOF) {
        if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t') {
            seen = 1;
            break;
        }
    }
    fclose(f);
    return seen;
}

static void check_list_file(cfg_origin o, const char *key, const char *value, int given, int nonempty)
{
    struct stat st;
    if (stat(value, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (given) fail(o, key, value, "no such file");
        fail(o, key, NULL, "missing, and its default %s does not exist", value);
    }
    if (nonempty && !has_a_line(value)) fail(o, key, value, "the list is empty");
}

/* The backup folder must take new files: tried by making one. */
static void check_backup_folder(cfg_origin o, const char *value, int given)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s/.darknet-write-test.XXXXXX", value) >= (int)sizeof(tmp)) {
        fail(o, "backup", value, "the path is too long");
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        if (given) fail(o, "backup", value, "cannot write files there: %s", strerror(e));
        fail(o, "backup", NULL, "missing, and its default %s cannot take files: %s", value, strerror(e));
    }
    close(fd);
    unlink(tmp);
}

char *ext_option_str(list *options, const char *key, char *value, char *def)
{
    cfg_origin o = cfgcheck_origin(options);
    char *v = value ? value : def;
    if (o.section || !o.file || !v) return v;   /* only .data files */
    if (strcmp(key, "train") == 0 || strcmp(key, "valid") == 0) {
        check_list_file(o, key, v, value != NULL, 1);
    } else if (strcmp(key, "labels") == 0 || strcmp(key, "names") == 0) {
        check_list_file(o, key, v, value != NULL, 0);
    } else if (strcmp(key, "backup") == 0) {
        check_backup_folder(o, v, value != NULL);
    }
    return v;
}

/* ---- per-section checks --------------------------------------------------- */

static size_t memory_limit;
static size_t network_bytes;

void cfgcheck_set_memory_limit(size_t bytes)
{
    memory_limit = bytes;
}

typedef struct section_in {
    network *net;
    list *options;
    cfg_origin o;
    int batch, h, w, c, inputs;
} section_in;

/* A key's value as upstream would read it, but strictly; def when absent. */
static long get_int(section_in *s, const char *key, long def)
{
    char *v = option_find(s->options, (char *)key);
    if (!v) return def;
    long x = strict_long(s->o, key, v);
    const int_rule *r = find_rule(s->o, key);
    if (r && (x < r->lo || x > r->hi)) ext_option_int(s->options, key, v);   /* reports it */
    return x;
}

static void need_image(section_in *s)
{
    if (s->h < 1 || s->w < 1 || s->c < 1) {
        fail(s->o, NULL, NULL, "the layer before does not output an image (%d x %d x %d)", s->w, s->h, s->c);
    }
}

static void need_inputs(section_in *s)
{
    if (s->inputs < 1) fail(s->o, NULL, NULL, "the layer before has no outputs");
}

/* Element counts upstream keeps in int; the bytes a layer takes, roughly
 * (outputs and deltas per image, weights with their updates and moments). */
static void account(section_in *s, double outputs, double weights)
{
    double per_batch = outputs * s->batch;
    if (outputs > INT_MAX || per_batch > INT_MAX || weights > INT_MAX) {
        fail(s->o, NULL, NULL, "too large: %.0f outputs per image, %.0f weights "
             "(upstream counts elements in int)", outputs, weights);
    }
    double bytes = 4.0 * (6 * per_batch + 4 * weights);
    network_bytes += (size_t)bytes;
    if (memory_limit && network_bytes > memory_limit) {
        fail(s->o, NULL, NULL, "the network needs more than %zu MiB", memory_limit >> 20);
    }
}

void cfgcheck_account_layer(list *options, int batch, double outputs, double weights)
{
    section_in s = {0};
    s.options = options;
    s.o = cfgcheck_origin(options);
    s.batch = batch;
    account(&s, outputs, weights);
}

static void check_out(section_in *s, const char *what, long out_w, long out_h)
{
    if (out_w < 1 || out_h < 1) {
        fail(s->o, NULL, NULL, "%s is larger than the %d x %d input: the output would be %ld x %ld",
             what, s->w, s->h, out_w, out_h);
    }
}

/* The input size: width, height and channels, or inputs= (recurrent cfgs).
 * Upstream reads a missing one as 0 and then stops with "No input
 * parameters supplied", naming no key. */
static void check_net_input(section_in *s)
{
    static const char *const dims[] = {"width", "height", "channels"};
    const char *missing = NULL;
    int given = 0;
    for (int i = 0; i < 3; ++i) {
        char *v = option_find(s->options, (char *)dims[i]);
        if (!v) {
            if (!missing) missing = dims[i];
            continue;
        }
        ++given;
        if (strict_long(s->o, dims[i], v) < 1) fail(s->o, dims[i], v, "expected a positive number");
    }
    char *inputs = option_find(s->options, "inputs");
    if (inputs && strict_long(s->o, "inputs", inputs) < 1) {
        fail(s->o, "inputs", inputs, "expected a positive number");
    }
    if (inputs || !missing) return;
    if (!given) fail(s->o, NULL, NULL, "no input size: give width=, height= and channels= (or inputs=)");
    fail(s->o, missing, NULL, "missing: the input needs width=, height= and channels= (or inputs=)");
}

static void check_net(section_in *s)
{
    check_net_input(s);
    long batch = get_int(s, "batch", 1);
    long subdivs = get_int(s, "subdivisions", 1);
    long steps = get_int(s, "time_steps", 1);
    if (batch < subdivs) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", batch);
        fail(s->o, "batch", v, "must be at least subdivisions=%ld", subdivs);
    }
    long h = get_int(s, "height", 0), w = get_int(s, "width", 0), c = get_int(s, "channels", 0);
    double inputs = (double)h * w * c;
    double per_batch = (double)(batch / subdivs) * steps;
    if (per_batch > INT_MAX || inputs * per_batch > INT_MAX) {
        fail(s->o, "batch", option_find(s->options, "batch"), "too large for %ld x %ld x %ld inputs", w, h, c);
    }
    long in = get_int(s, "inputs", (long)inputs);
    if (in * per_batch > INT_MAX) fail(s->o, "inputs", option_find(s->options, "inputs"), "too large");
    network_bytes = 0;
    s->batch = (int)per_batch;
    account(s, (double)in, 0);

    char *policy = option_find(s->options, "policy");
    if (policy && strcmp(policy, "steps") == 0) {
        char *st = option_find(s->options, "steps");
        char *sc = option_find(s->options, "scales");
        if (!st || !sc) fail(s->o, "policy", policy, "needs steps= and scales=");
        int ns = 1, nc = 1;
        for (char *p = st; *p; ++p) ns += *p == ',';
        for (char *p = sc; *p; ++p) nc += *p == ',';
        if (ns != nc) fail(s->o, "scales", sc, "has %d values, steps= has %d", nc, ns);
    }
}

static void check_convolutional(section_in *s)
{
    need_image(s);
    long n = get_int(s, "filters", 1), size = get_int(s, "size", 1), stride = get_int(s, "stride", 1);
    long pad = get_int(s, "pad", 0), padding = get_int(s, "padding", 0), groups = get_int(s, "groups", 1);
    if (pad) padding = size / 2;
    if (s->c % groups || n % groups) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", groups);
        fail(s->o, "groups", v, "must divide both the %d input channels and filters=%ld", s->c, n);
    }
    long ow = (s->w + 2 * padding - size) / stride + 1, oh = (s->h + 2 * padding - size) / stride + 1;
    if (s->w + 2 * padding < size || s->h + 2 * padding < size) ow = oh = 0;
    char what[128];
    snprintf(what, sizeof(what), "the %ldx%ld kernel (padding %ld)", size, size, padding);
    check_out(s, what, ow, oh);
    account(s, (double)ow * oh * n, (double)s->c / groups * n * size * size);
}

static void check_deconvolutional(section_in *s)
{
    need_image(s);
    long n = get_int(s, "filters", 1), size = get_int(s, "size", 1), stride = get_int(s, "stride", 1);
    long pad = get_int(s, "pad", 0), padding = get_int(s, "padding", 0);
    if (pad) padding = size / 2;
    long ow = (s->w - 1) * stride + size - 2 * padding, oh = (s->h - 1) * stride + size - 2 * padding;
    check_out(s, "the padding", ow, oh);
    account(s, (double)ow * oh * n, (double)s->c * n * size * size);
}

static void check_local(section_in *s)
{
    need_image(s);
    long n = get_int(s, "filters", 1), size = get_int(s, "size", 1), stride = get_int(s, "stride", 1);
    long pad = get_int(s, "pad", 0);
    long ow = (s->w - (pad ? 1 : size)) / stride + 1, oh = (s->h - (pad ? 1 : size)) / stride + 1;
    if (s->w - (pad ? 1 : size) < 0 || s->h - (pad ? 1 : size) < 0) ow = oh = 0;
    check_out(s, "the kernel", ow, oh);
    account(s, (double)ow * oh * n, (double)ow * oh * size * size * s->c * n);
}

static void check_maxpool(section_in *s)
{
    need_image(s);
    long stride = get_int(s, "stride", 1), size = get_int(s, "size", stride);
    long padding = get_int(s, "padding", size - 1);
    if (size < 1) fail(s->o, "size", option_find(s->options, "size"), "must be at least 1");
    if (padding < 0) fail(s->o, "padding", NULL, "must be at least 0 (its default is size-1)");
    long ow = (s->w + padding - size) / stride + 1, oh = (s->h + padding - size) / stride + 1;
    if (s->w + padding < size || s->h + padding < size) ow = oh = 0;
    char what[128];
    snprintf(what, sizeof(what), "the %ldx%ld window (padding %ld)", size, size, padding);
    check_out(s, what, ow, oh);
    account(s, (double)ow * oh * s->c, 0);
}

static void check_crop(section_in *s)
{
    need_image(s);
    long ch = get_int(s, "crop_height", 1), cw = get_int(s, "crop_width", 1);
    if (ch > s->h || cw > s->w) {
        fail(s->o, NULL, NULL, "the %ld x %ld crop is larger than the %d x %d input", cw, ch, s->w, s->h);
    }
    account(s, (double)ch * cw * s->c, 0);
}

static void check_reorg(section_in *s)
{
    need_image(s);
    long stride = get_int(s, "stride", 1), reverse = get_int(s, "reverse", 0);
    long extra = get_int(s, "extra", 0);
    char v[32];
    snprintf(v, sizeof(v), "%ld", stride);
    if (reverse && s->c % (stride * stride)) {
        fail(s->o, "stride", v, "reverse needs the %d input channels to be a multiple of stride^2", s->c);
    }
    if (!reverse && (s->w % stride || s->h % stride)) {
        fail(s->o, "stride", v, "does not divide the %d x %d input", s->w, s->h);
    }
    account(s, (double)s->inputs + extra, 0);
}

static void check_upsample(section_in *s)
{
    need_image(s);
    long stride = get_int(s, "stride", 2);
    char v[32];
    snprintf(v, sizeof(v), "%ld", stride);
    if (stride == 0) fail(s->o, "stride", v, "must not be 0");
    if (stride < 0 && (s->w % -stride || s->h % -stride)) {
        fail(s->o, "stride", v, "does not divide the %d x %d input", s->w, s->h);
    }
    double scale = stride > 0 ? (double)stride * stride : 1.0 / ((double)stride * stride);
    account(s, s->inputs * scale, 0);
}

/* An index into the layers before this one; negative counts back. */
static int layer_ref(section_in *s, const char *key, const char *text)
{
    long v = strict_long(s->o, key, text);
    long i = v < 0 ? s->o.index + v : v;
    if (i < 0 || i >= s->o.index) {
        fail(s->o, key, text, "%ld is not a layer before this one (0 to %d, or -1 to -%d)",
             v, s->o.index - 1, s->o.index);
    }
    if (s->net->layers[i].outputs < 1) fail(s->o, key, text, "layer %ld has no outputs", i);
    return (int)i;
}

/* Copies the item of a comma-separated list that starts at p into buf;
 * returns where the next item starts, or NULL after the last.  No
 * allocation, so an error exits from here without leaking. */
static const char *next_item(section_in *s, const char *key, const char *list, const char *p,
                             char *buf, size_t size)
{
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n == 0) fail(s->o, key, list, "an empty entry");
    if (n >= size) fail(s->o, key, list, "an entry is too long to be a number");
    memcpy(buf, p, n);
    buf[n] = '\0';
    return comma ? comma + 1 : NULL;
}

static void check_route(section_in *s)
{
    char *l = option_find(s->options, "layers");
    if (!l) fail(s->o, "layers", NULL, "missing: which layers to route");
    double outputs = 0;
    char item[64];
    for (const char *p = l; p;) {
        p = next_item(s, "layers", l, p, item, sizeof(item));
        int i = layer_ref(s, "layers", item);
        outputs += s->net->layers[i].outputs;
    }
    account(s, outputs, 0);
}

static void check_shortcut(section_in *s)
{
    char *from = option_find(s->options, "from");
    if (!from) fail(s->o, "from", NULL, "missing: which layer to add");
    need_image(s);
    layer f = s->net->layers[layer_ref(s, "from", from)];
    int w1 = f.out_w, h1 = f.out_h, w2 = s->w, h2 = s->h;
    if (w1 < 1 || h1 < 1 || f.out_c < 1 || w1 / w2 != h1 / h2 || w2 / w1 != h2 / h1) {
        fail(s->o, "from", from, "its %d x %d x %d output cannot be added to the %d x %d x %d input",
             w1, h1, f.out_c, w2, h2, s->c);
    }
    account(s, s->inputs, 0);
}

static void check_dropout(section_in *s)
{
    if (s->o.index < 1) fail(s->o, NULL, NULL, "a dropout layer cannot be the first layer");
    need_inputs(s);
}

/* Comma-separated numbers, each checked; how many. */
static int number_list(section_in *s, const char *key, const char *text, int integers)
{
    int n = 0;
    char item[64];
    for (const char *p = text; p;) {
        p = next_item(s, key, text, p, item, sizeof(item));
        if (integers) strict_long(s->o, key, item);
        else strict_float(s->o, key, item);
        ++n;
    }
    return n;
}

static void check_outputs_match(section_in *s, double outputs, const char *what)
{
    if (outputs != s->inputs) {
        fail(s->o, NULL, NULL, "the layer expects %.0f inputs (%s), the layer before gives %d",
             outputs, what, s->inputs);
    }
}

static void check_anchors(section_in *s, long count)
{
    char *a = option_find(s->options, "anchors");
    if (!a) return;
    int n = number_list(s, "anchors", a, 0);
    if (n > 2 * count) fail(s->o, "anchors", a, "%d values, more than 2 per anchor box (%ld boxes)", n, count);
}

static void check_yolo(section_in *s)
{
    need_image(s);
    long classes = get_int(s, "classes", 20), total = get_int(s, "num", 1), n = total;
    char *mask = option_find(s->options, "mask");
    if (mask) {
        n = number_list(s, "mask", mask, 1);
        char item[64];
        for (const char *p = mask; p;) {
            p = next_item(s, "mask", mask, p, item, sizeof(item));
            long m = strict_long(s->o, "mask", item);
            if (m < 0 || m >= total) {
                fail(s->o, "mask", mask, "entries must be anchor indexes from 0 to num-1 (num=%ld)", total);
            }
        }
    }
    get_int(s, "max", 90);
    check_anchors(s, total);
    check_outputs_match(s, (double)s->w * s->h * n * (classes + 5), "width x height x boxes x (classes+5)");
    account(s, s->inputs, 0);
}

static void check_region(section_in *s)
{
    need_image(s);
    long coords = get_int(s, "coords", 4), classes = get_int(s, "classes", 20), num = get_int(s, "num", 1);
    get_int(s, "max", 30);
    check_anchors(s, num);
    check_outputs_match(s, (double)s->w * s->h * num * (classes + coords + 1),
                        "width x height x num x (classes+coords+1)");
    account(s, s->inputs, 0);
}

static void check_detection(section_in *s)
{
    long coords = get_int(s, "coords", 1), classes = get_int(s, "classes", 1);
    long num = get_int(s, "num", 1), side = get_int(s, "side", 7);
    check_outputs_match(s, (double)side * side * ((1 + coords) * num + classes),
                        "side x side x ((1+coords) x num + classes)");
    account(s, s->inputs, 0);
}

static void check_iseg(section_in *s)
{
    need_image(s);
    long classes = get_int(s, "classes", 20), ids = get_int(s, "ids", 32);
    check_outputs_match(s, (double)s->w * s->h * (classes + ids), "width x height x (classes+ids)");
    account(s, s->inputs, 0);
}

static void check_softmax(section_in *s)
{
    need_inputs(s);
    long groups = get_int(s, "groups", 1);
    if (groups > s->inputs || s->inputs % groups) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", groups);
        fail(s->o, "groups", v, "must divide the %d inputs", s->inputs);
    }
    account(s, s->inputs, 0);
}

static void check_recurrent(section_in *s, const char *key, double gates)
{
    need_inputs(s);
    long out = get_int(s, key, 1);
    account(s, out * gates, gates * ((double)s->inputs + out) * out);
}

static void check_crnn(section_in *s)
{
    need_image(s);
    long out = get_int(s, "output_filters", 1), hidden = get_int(s, "hidden_filters", 1);
    double plane = (double)s->w * s->h;
    account(s, plane * (out + 2 * hidden), 9.0 * ((double)s->c + hidden + out) * (hidden + out));
}

void ext_check_section(network *net, list *options, const char *section, int index,
                       int batch, int h, int w, int c, int inputs)
{
    section_in s = {net, options, cfgcheck_origin(options), batch, h, w, c, inputs};
    if (!s.o.section) {
        s.o.section = section;
        s.o.index = index;
    }
    const char *t = canonical(section);
    if (strcmp(t, "[net]") == 0) check_net(&s);
    else if (strcmp(t, "[convolutional]") == 0) check_convolutional(&s);
    else if (strcmp(t, "[deconvolutional]") == 0) check_deconvolutional(&s);
    else if (strcmp(t, "[local]") == 0) check_local(&s);
    else if (strcmp(t, "[maxpool]") == 0) check_maxpool(&s);
    else if (strcmp(t, "[avgpool]") == 0) { need_image(&s); account(&s, c, 0); }
    else if (strcmp(t, "[connected]") == 0) {
        need_inputs(&s);
        long out = get_int(&s, "output", 1);
        account(&s, out, (double)inputs * out);
    }
    else if (strcmp(t, "[crop]") == 0) check_crop(&s);
    else if (strcmp(t, "[reorg]") == 0) check_reorg(&s);
    else if (strcmp(t, "[upsample]") == 0) check_upsample(&s);
    else if (strcmp(t, "[route]") == 0) check_route(&s);
    else if (strcmp(t, "[shortcut]") == 0) check_shortcut(&s);
    else if (strcmp(t, "[dropout]") == 0) check_dropout(&s);
    else if (strcmp(t, "[yolo]") == 0) check_yolo(&s);
    else if (strcmp(t, "[region]") == 0) check_region(&s);
    else if (strcmp(t, "[detection]") == 0) check_detection(&s);
    else if (strcmp(t, "[iseg]") == 0) check_iseg(&s);
    else if (strcmp(t, "[softmax]") == 0) check_softmax(&s);
    else if (strcmp(t, "[rnn]") == 0) check_recurrent(&s, "output", 3);
    else if (strcmp(t, "[gru]") == 0) check_recurrent(&s, "output", 6);
    else if (strcmp(t, "[lstm]") == 0) check_recurrent(&s, "output", 8);
    else if (strcmp(t, "[crnn]") == 0) check_crnn(&s);
    else if (strcmp(t, "[normalization]") == 0 || strcmp(t, "[batchnorm]") == 0) {
        need_image(&s);
        account(&s, inputs, 0);
    } else {
        /* [cost], [activation], [logistic], [l2norm] and our own layers
         * (which check themselves) */
        need_inputs(&s);
        account(&s, inputs, 0);
    }
}

void ext_check_layer(layer *l, list *options, const char *section, int index)
{
    if (l->outputs >= 1) return;
    cfg_origin o = cfgcheck_origin(options);
    if (!o.section) {
        o.section = section;
        o.index = index;
    }
    fail(o, NULL, NULL, "the layer has no outputs (is its input too small?)");
}

void ext_check_network(network *net, const char *file)
{
    for (int i = 0; i < net->n; ++i) {
        if (net->layers[i].type != COST) return;
    }
    dn_fatal("\n%s: every layer is a [cost] layer: the network has no output\n", file);
}
