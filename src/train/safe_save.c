/* safe_save.c: weights files written whole or not at all (patches/0024).
 *
 * save_weights_upto() writes into a temporary file beside the target
 * (FILE.XXXXXX, same folder, so the same filesystem), which
 * ext_save_close() flushes, fsyncs and renames over FILE, then fsyncs the
 * folder.  rename() replaces a name atomically: a crash or kill -9 at any
 * moment leaves the old FILE or the new one, never a part of either (a
 * stray FILE.XXXXXX may stay behind).  Any failure (no room, no
 * permission, a folder gone) is an error naming FILE, and the old FILE
 * stays as it was.  Weights that are not all finite are never saved.
 *
 * A target that exists and is not a regular file (/dev/null, a pipe) is
 * written directly, as upstream did; a symbolic link is followed, so the
 * file it points to is replaced. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext.h"
#include "network.h"
#include "optim/optimizer.h"
#include "train/safe_save.h"
#include "checked.h"

typedef struct pending {
    FILE *fp;
    char *tmp;     /* NULL: written directly */
    char *target;
} pending;

enum { MAX_PENDING = 16 };
static pending saves[MAX_PENDING];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void __attribute__((noreturn, format(printf, 2, 3)))
save_fail(const char *file, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    struct stat st;
    int kept = stat(file, &st) == 0 && S_ISREG(st.st_mode);
    dn_fatal("\ncannot save %s: %s%s%s%s\n", file, why, kept ? "; the " : "", kept ? file : "",
             kept ? " already there is kept" : "");
}

static void remember(FILE *fp, char *tmp, char *target)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PENDING; ++i) {
        if (!saves[i].fp) {
            saves[i] = (pending){fp, tmp, target};
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    pthread_mutex_unlock(&lock);
    dn_fatal("more than %d weights files open for saving at once\n", MAX_PENDING);
}

static pending take(FILE *fp)
{
    pending p = {NULL, NULL, NULL};
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PENDING; ++i) {
        if (saves[i].fp == fp) {
            p = saves[i];
            saves[i] = (pending){NULL, NULL, NULL};
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return p;
}

static char *copy(const char *s)
{
    char *c = strdup(s);
    if (!c) {
        dn_fatal("out of memory\n");
    }
    return c;
}

/* The name to replace: FILE itself, or what a symbolic link points to. */
static char *target_of(const char *filename, int *direct)
{
    struct stat st;
    *direct = 0;
    if (lstat(filename, &st) != 0) return copy(filename);
    if (S_ISLNK(st.st_mode)) {
        char *real = realpath(filename, NULL);
        if (real && stat(real, &st) == 0 && !S_ISREG(st.st_mode)) *direct = 1;
        return real ? real : copy(filename);
    }
    if (!S_ISREG(st.st_mode)) *direct = 1;
    return copy(filename);
}

FILE *ext_save_open(const char *filename)
{
    int direct;
    char *target = target_of(filename, &direct);
    if (direct) {
        FILE *fp = fopen(target, "wb");
        if (!fp) save_fail(filename, "%s", strerror(errno));
        remember(fp, NULL, target);
        return fp;
    }
    char *tmp = malloc(strlen(target) + sizeof(".XXXXXX"));
    if (!tmp) save_fail(filename, "out of memory");
    sprintf(tmp, "%s.XXXXXX", target);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        char *folder = copy(target);
        save_fail(filename, "cannot create a file in %s: %s", dirname(folder), strerror(e));
    }
    /* mkstemp makes 0600; a weights file gets what fopen would give it */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        save_fail(filename, "%s", strerror(e));
    }
    remember(fp, tmp, target);
    return fp;
}

static void sync_folder(const char *path)
{
    char *c = copy(path);
    int fd = open(dirname(c), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(c);
}

/* "[gcconv]", "[softmax]": the layer's cfg section */
static const char *layer_name(const layer *l)
{
    static __thread char name[64];
    if (l->type == EXTENSION && l->ext) return l->ext->section;
    snprintf(name, sizeof(name), "[%s]", get_layer_string(l->type));
    return name;
}

/* The first layer (below cutoff) whose saved arrays hold a NaN or an
 * infinity, or -1. */
int safe_save_first_nonfinite(network *net, int cutoff)
{
    for (int i = 0; i < net->n && i < cutoff; ++i) {
        layer *l = &net->layers[i];
        param_counts c = layer_param_counts(l);
        const float *arrays[5] = {l->weights, l->biases, l->scales, l->rolling_mean, l->rolling_variance};
        int counts[5] = {c.weights, c.biases, c.scales, l->rolling_mean ? c.scales : 0,
                         l->rolling_variance ? c.scales : 0};
        for (int a = 0; a < 5; ++a) {
            for (int k = 0; k < counts[a]; ++k) {
                if (!isfinite(arrays[a][k])) return i;
            }
        }
    }
    return -1;
}

void ext_save_close(network *net, FILE *fp, const char *filename, int cutoff)
{
    pending p = take(fp);
    /* Upstream wrote every array by now (pulling them from the GPU first),
     * so the host copies are the ones in the file. */
    int bad = safe_save_first_nonfinite(net, cutoff);
    int failed = ferror(fp) || fflush(fp) != 0 || (p.tmp && fsync(fileno(fp)) != 0);
    int e = errno;
    if (fclose(fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    if (bad >= 0 || failed) {
        if (p.tmp) unlink(p.tmp);
        free(p.tmp);
        free(p.target);
        if (bad >= 0) {
            save_fail(filename, "layer %d %s holds values that are not finite (NaN or infinity)",
                      bad, layer_name(&net->layers[bad]));
        }
        save_fail(filename, "%s", e ? strerror(e) : "write error");
    }
    if (p.tmp && rename(p.tmp, p.target) != 0) {
        e = errno;
        unlink(p.tmp);
        save_fail(filename, "renaming %s: %s", p.tmp, strerror(e));
    }
    if (p.tmp) sync_folder(p.target);
    free(p.tmp);
    free(p.target);
}
