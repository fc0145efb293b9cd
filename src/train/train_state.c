/* train_state.c: FILE.state beside FILE (see train_state.h) and the save /
 * load hooks of patches/0006. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext.h"
#include "optim/optimizer.h"
#include "rand/upstream_rand.h"
#include "train/train_state.h"
#include "checked.h"

#define STATE_MAGIC "DNSTATE1"
#define STATE_END "DNSTATE."
#define STATE_VERSION 1u
#define STATE_SLOTS 9

typedef struct slot {
    float *data;
    int count;
} slot;

/* The buffers of one layer in file order; count 0 where there is none. */
static void layer_slots(layer *l, slot s[STATE_SLOTS])
{
    param_counts c = layer_param_counts(l);
    float *ptr[STATE_SLOTS] = {l->weight_updates, l->bias_updates, l->scale_updates,
                               l->m, l->v, l->bias_m, l->bias_v, l->scale_m, l->scale_v};
    int count[STATE_SLOTS] = {c.weights, c.biases, c.scales, c.weights, c.weights,
                              c.biases, c.biases, c.scales, c.scales};
    for (int i = 0; i < STATE_SLOTS; ++i) {
        s[i].data = count[i] ? ptr[i] : NULL;
        s[i].count = s[i].data ? count[i] : 0;
    }
}

#ifdef GPU
#include "cuda.h"

/* Training on the GPU keeps these buffers on the device: pull them before
 * the state is written, push them after it is read. */
static void sync_slots_gpu(network *net, int push)
{
    if (net->gpu_index < 0) return;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        slot s[STATE_SLOTS];
        layer_slots(l, s);
        float *gpu[STATE_SLOTS] = {l->weight_updates_gpu, l->bias_updates_gpu, l->scale_updates_gpu,
                                   l->m_gpu, l->v_gpu, l->bias_m_gpu, l->bias_v_gpu,
                                   l->scale_m_gpu, l->scale_v_gpu};
        for (int k = 0; k < STATE_SLOTS; ++k) {
            if (!s[k].data || !gpu[k]) continue;
            if (push) cuda_push_array(gpu[k], s[k].data, s[k].count);
            else cuda_pull_array(gpu[k], s[k].data, s[k].count);
        }
    }
}
#endif

char *train_state_path(const char *weightfile)
{
    size_t n = strlen(weightfile);
    char *path = malloc(n + sizeof(".state"));
    if (!path) {
        dn_fatal("out of memory\n");
    }
    memcpy(path, weightfile, n);
    memcpy(path + n, ".state", sizeof(".state"));
    return path;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct writer {
    FILE *fp;
    int ok;
} writer;

static void put(writer *w, const void *p, size_t size, size_t n)
{
    if (w->ok && n && fwrite(p, size, n, w->fp) != n) w->ok = 0;
}

static void put_u32(writer *w, uint32_t v) { put(w, &v, sizeof(v), 1); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, sizeof(v), 1); }

static void put_stream(writer *w, const rng *r)
{
    for (int i = 0; i < 4; ++i) put_u64(w, r->s[i]);
    put_u32(w, (uint32_t)r->has_spare);
    put(w, &r->spare, sizeof(float), 1);
}

static void put_state(writer *w, network *net)
{
    net_ext *x = net_ext_of(net);
    put(w, STATE_MAGIC, 1, 8);
    put_u32(w, STATE_VERSION);
    put_u64(w, (uint64_t)*net->seen);
    put_u64(w, (uint64_t)*net->t);
    put_u32(w, (uint32_t)net->n);
    put_u32(w, RNG_STREAMS);
    put_u32(w, (uint32_t)x->seeded);
    put_u64(w, x->seed);
    for (int i = 0; i < RNG_STREAMS; ++i) put_stream(w, &x->streams[i]);
    for (int i = 0; i < net->n; ++i) {
        slot s[STATE_SLOTS];
        layer_slots(&net->layers[i], s);
        put_u32(w, (uint32_t)net->layers[i].type);
        put_u32(w, STATE_SLOTS);
        for (int k = 0; k < STATE_SLOTS; ++k) {
            put_u32(w, (uint32_t)s[k].count);
            put(w, s[k].data, sizeof(float), (size_t)s[k].count);
        }
    }
    put(w, STATE_END, 1, 8);
}

/* fsync of the folder makes the rename itself durable. */
static void sync_folder_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int train_state_save(network *net, const char *path)
{
    char *tmp = malloc(strlen(path) + sizeof(".XXXXXX"));
    if (!tmp) return -1;
    sprintf(tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    writer w = {fd >= 0 ? fdopen(fd, "wb") : NULL, 1};
    if (!w.fp) {
        fprintf(stderr, "darknet: warning: cannot write %s: %s\n", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    put_state(&w, net);
    if (fflush(w.fp) != 0 || fsync(fileno(w.fp)) != 0) w.ok = 0;
    if (fclose(w.fp) != 0) w.ok = 0;
    if (w.ok && rename(tmp, path) != 0) w.ok = 0;
    if (!w.ok) {
        fprintf(stderr, "darknet: warning: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    } else {
        sync_folder_of(path);
    }
    free(tmp);
    return w.ok ? 0 : -1;
}

void ext_save_state(network *net, const char *weightfile, int cutoff)
{
    /* Weights sent to a device or a pipe (/dev/null, a FIFO) have no state
     * file beside them: /dev/null.state would be a new file in /dev. */
    struct stat st;
    if (stat(weightfile, &st) == 0 && !S_ISREG(st.st_mode)) return;
    char *path = train_state_path(weightfile);
#ifdef GPU
    if (cutoff >= net->n) sync_slots_gpu(net, 0);
#endif
    /* A state file must never pair with weights it was not saved with: when
     * these weights get none (a partial save, a failed write), any older
     * one goes. */
    if (cutoff < net->n || train_state_save(net, path) != 0) unlink(path);
    free(path);
}

/* ---- reading ------------------------------------------------------------- */

typedef struct reader {
    FILE *fp;
    const char *path;
    long offset;
} reader;

static void __attribute__((noreturn)) read_fail(reader *r, int layer_index, const char *why)
{
    char where[32] = "";
    if (layer_index >= 0) snprintf(where, sizeof(where), "layer %d: ", layer_index);
    dn_fatal("\n%s: %s%s at byte offset %ld\n", r->path, where, why, r->offset);
}

static void get(reader *r, void *p, size_t size, size_t n, int layer_index)
{
    if (n && fread(p, size, n, r->fp) != n) read_fail(r, layer_index, "file ends early");
    r->offset += (long)(size * n);
}

static uint32_t get_u32(reader *r, int layer_index)
{
    uint32_t v;
    get(r, &v, sizeof(v), 1, layer_index);
    return v;
}

static uint64_t get_u64(reader *r, int layer_index)
{
    uint64_t v;
    get(r, &v, sizeof(v), 1, layer_index);
    return v;
}

static void get_stream(reader *r, rng *g)
{
    for (int i = 0; i < 4; ++i) g->s[i] = get_u64(r, -1);
    g->has_spare = (int)get_u32(r, -1);
    get(r, &g->spare, sizeof(float), 1, -1);
}

static void skip_floats(reader *r, uint32_t count, int layer_index)
{
    if (fseek(r->fp, (long)count * (long)sizeof(float), SEEK_CUR) != 0) {
        read_fail(r, layer_index, "file ends early");
    }
    r->offset += (long)count * (long)sizeof(float);
}

static void get_layer(reader *r, layer *l, int index, int adam)
{
    static const char *const names[STATE_SLOTS] = {
        "weight_updates", "bias_updates", "scale_updates", "m", "v",
        "bias_m", "bias_v", "scale_m", "scale_v"};
    optimizer_prepare_layer(l, adam);
    slot s[STATE_SLOTS];
    layer_slots(l, s);
    if (get_u32(r, index) != (uint32_t)l->type) read_fail(r, index, "layer type differs from the cfg");
    if (get_u32(r, index) != STATE_SLOTS) read_fail(r, index, "unknown buffer count");
    for (int k = 0; k < STATE_SLOTS; ++k) {
        uint32_t count = get_u32(r, index);
        if (count == 0) continue;
        /* a buffer this optimizer does not use (say Adam's m after a switch
         * to sgd) is skipped; a size that differs means another cfg */
        if (!s[k].data) {
            skip_floats(r, count, index);
        } else if (count != (uint32_t)s[k].count) {
            char why[96];
            snprintf(why, sizeof(why), "%s has %u values, the cfg %d", names[k], count, s[k].count);
            read_fail(r, index, why);
        } else {
            get(r, s[k].data, sizeof(float), count, index);
        }
    }
}

/* The generators continue the saved run when this cfg seeds as it did. */
static void get_streams(reader *r, net_ext *x, uint32_t seeded, uint64_t seed)
{
    rng saved[RNG_STREAMS];
    for (int i = 0; i < RNG_STREAMS; ++i) get_stream(r, &saved[i]);
    if ((uint32_t)x->seeded == seeded && (!seeded || seed == x->seed)) {
        memcpy(x->streams, saved, sizeof(saved));
    } else {
        fprintf(stderr, "darknet: note: %s: the cfg's seed differs from the saved run's; "
                "generators start from the cfg's seed\n", r->path);
    }
}

static int stale(reader *r, network *net, uint64_t seen)
{
    if (seen == (uint64_t)*net->seen) return 0;
    fprintf(stderr, "darknet: warning: %s belongs to another save (seen %llu, weights %llu): "
            "ignored, optimizer state starts afresh\n",
            r->path, (unsigned long long)seen, (unsigned long long)*net->seen);
    return 1;
}

int train_state_load(network *net, const char *path)
{
    reader r = {fopen(path, "rb"), path, 0};
    if (!r.fp) return 0;
    char magic[8];
    get(&r, magic, 1, 8, -1);
    if (memcmp(magic, STATE_MAGIC, 8) != 0) read_fail(&r, -1, "not a training-state file");
    if (get_u32(&r, -1) != STATE_VERSION) read_fail(&r, -1, "unknown version");
    uint64_t seen = get_u64(&r, -1);
    if (stale(&r, net, seen)) {
        fclose(r.fp);
        return 0;
    }
    uint64_t t = get_u64(&r, -1);
    if (get_u32(&r, -1) != (uint32_t)net->n) read_fail(&r, -1, "layer count differs from the cfg");
    if (get_u32(&r, -1) != RNG_STREAMS) read_fail(&r, -1, "generator stream count differs");
    uint32_t seeded = get_u32(&r, -1);
    uint64_t seed = get_u64(&r, -1);
    get_streams(&r, net_ext_of(net), seeded, seed);
    for (int i = 0; i < net->n; ++i) get_layer(&r, &net->layers[i], i, net->adam);
    get(&r, magic, 1, 8, -1);
    if (memcmp(magic, STATE_END, 8) != 0) read_fail(&r, -1, "no end marker");
    fclose(r.fp);
    *net->t = (int)t;
    upstream_rand_set_batches((size_t)t);
    return 1;
}

void ext_load_state(network *net, const char *weightfile, int start, int cutoff)
{
    static int told;
    /* A partial load (pretrained layers for a new run) starts afresh. */
    if (start != 0 || cutoff < net->n) return;
    char *path = train_state_path(weightfile);
    int loaded = train_state_load(net, path);
#ifdef GPU
    if (loaded) sync_slots_gpu(net, 1);
#endif
    if (!loaded && !told && access(path, F_OK) != 0) {
        fprintf(stderr, "darknet: note: no %s: momentum, Adam moments, step count and "
                "generators start afresh, as in upstream darknet\n", path);
        told = 1;
    }
    free(path);
}
