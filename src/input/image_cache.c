/* image_cache.c: the decoded-image cache of classifier training (see
 * image_cache.h).
 *
 * The table of paths is built once, when the training list is registered,
 * and never grows afterwards: a lookup only ever changes a slot's entry
 * from none to one, under the lock.  An entry is written whole before it is
 * published and never changed, so a reader copies its pixels without the
 * lock.  Two threads decoding the same image at once both return their own
 * decode (the same bits); the first to offer it is kept. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input/image_cache.h"
#include "input/key_set.h"
#include "utils.h"
#include "checked.h"

typedef struct cache_entry {
    int w, h, c;
    unsigned char pixels[];   /* k of k/255, in the image's own layout */
} cache_entry;

typedef struct cache_slot {
    const char *path;         /* NULL: a free slot */
    cache_entry *entry;       /* NULL until decoded; &not_8bit_mark when it cannot be kept */
} cache_slot;

static cache_entry not_8bit_mark;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_slot *slots;
static size_t capacity;       /* a power of two, at least twice the paths */
static image_cache_stats stats;

static cache_slot *find_slot(const char *path)
{
    if (!capacity) return NULL;
    size_t mask = capacity - 1;
    for (size_t i = (size_t)key_of(path, 0) & mask;; i = (i + 1) & mask) {
        if (!slots[i].path) return NULL;
        if (strcmp(slots[i].path, path) == 0) return &slots[i];
    }
}

static void add_path(const char *path)
{
    size_t mask = capacity - 1;
    for (size_t i = (size_t)key_of(path, 0) & mask;; i = (i + 1) & mask) {
        if (!slots[i].path) {
            slots[i].path = path;
            ++stats.listed;
            return;
        }
        if (strcmp(slots[i].path, path) == 0) return;   /* listed twice: one entry */
    }
}

long image_cache_budget_mb(void)
{
    const char *v = getenv("DARKNET_IMAGE_CACHE_MB");
    if (!v || !*v) return IMAGE_CACHE_DEFAULT_MB;
    char *end;
    long mb = strtol(v, &end, 10);
    return (*end || mb < 0) ? -1 : mb;
}

void image_cache_open(char **paths, int n)
{
    long mb = image_cache_budget_mb();
    if (mb < 0) {
        dn_fatal("DARKNET_IMAGE_CACHE_MB=%s: expected a number of megabytes >= 0"
                " (0 turns the cache off)\n", getenv("DARKNET_IMAGE_CACHE_MB"));
    }
    image_cache_open_budget(paths, n, (size_t)mb << 20);
}

void image_cache_open_budget(char **paths, int n, size_t budget)
{
    image_cache_close();
    pthread_mutex_lock(&cache_lock);
    stats.budget = budget;
    if (budget > 0 && n > 0) {
        capacity = 16;
        while (capacity < 2 * (size_t)n) capacity *= 2;
        slots = calloc(capacity, sizeof *slots);
        if (!slots) malloc_error();
        for (int i = 0; i < n; ++i) add_path(paths[i]);
    }
    pthread_mutex_unlock(&cache_lock);
}

void image_cache_close(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < capacity; ++i) {
        if (slots[i].entry != &not_8bit_mark) free(slots[i].entry);
    }
    free(slots);
    slots = NULL;
    capacity = 0;
    memset(&stats, 0, sizeof stats);
    pthread_mutex_unlock(&cache_lock);
}

int image_cache_get(const char *path, image *out)
{
    pthread_mutex_lock(&cache_lock);
    cache_slot *s = find_slot(path);
    cache_entry *e = s ? s->entry : NULL;
    pthread_mutex_unlock(&cache_lock);
    if (!e || e == &not_8bit_mark) return 0;
    image im = make_image(e->w, e->h, e->c);
    size_t n = (size_t)e->w * e->h * e->c;
    /* the decoders' own expression, byte / 255. in double, so the same bits */
    for (size_t i = 0; i < n; ++i) im.data[i] = e->pixels[i] / 255.;
    *out = im;
    return 1;
}

/* The bytes k with k/255. == im's floats bit for bit, or NULL. */
static cache_entry *as_bytes(image im)
{
    size_t n = (size_t)im.w * im.h * im.c;
    cache_entry *e = malloc(sizeof *e + n);
    if (!e) malloc_error();
    e->w = im.w;
    e->h = im.h;
    e->c = im.c;
    for (size_t i = 0; i < n; ++i) {
        float f = im.data[i];
        if (!(f >= 0 && f <= 1)) break;
        int k = (int)lrintf(f * 255.f);
        float back = k / 255.;
        if (memcmp(&back, &f, sizeof f) != 0) break;   /* -0.0 and 0.0 differ too */
        e->pixels[i] = (unsigned char)k;
        if (i + 1 == n) return e;
    }
    free(e);
    return NULL;
}

void image_cache_offer(const char *path, image im)
{
    pthread_mutex_lock(&cache_lock);
    cache_slot *s = find_slot(path);
    int wanted = s && !s->entry;
    size_t size = sizeof(cache_entry) + (size_t)im.w * im.h * im.c;
    if (wanted && stats.bytes + size > stats.budget) {
        ++stats.over_budget;
        wanted = 0;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!wanted || im.w <= 0 || im.h <= 0 || im.c <= 0) return;
    cache_entry *e = as_bytes(im);
    pthread_mutex_lock(&cache_lock);
    s = find_slot(path);   /* the table is the same: it never grows */
    if (s->entry) {
        /* another thread got there first */
    } else if (!e) {
        s->entry = &not_8bit_mark;
        ++stats.not_8bit;
    } else if (stats.bytes + size <= stats.budget) {
        s->entry = e;
        e = NULL;
        stats.bytes += size;
        ++stats.kept;
    } else {
        ++stats.over_budget;
    }
    pthread_mutex_unlock(&cache_lock);
    free(e);
}

image_cache_stats image_cache_stat(void)
{
    pthread_mutex_lock(&cache_lock);
    image_cache_stats s = stats;
    pthread_mutex_unlock(&cache_lock);
    return s;
}

void image_cache_summary(FILE *fp)
{
    image_cache_stats s = image_cache_stat();
    if (!s.budget) return;
    fprintf(fp, "image cache: %d of %d images kept (%.1f MB of a %.0f MB budget)", s.kept, s.listed,
            s.bytes / 1048576.0, s.budget / 1048576.0);
    if (s.over_budget) fprintf(fp, ", %d decodes beyond the budget", s.over_budget);
    if (s.not_8bit) fprintf(fp, ", %d images not 8-bit (decoded each time)", s.not_8bit);
    fprintf(fp, "\n");
}
