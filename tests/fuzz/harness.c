/* harness.c: what every fuzz target shares.
 *
 * The parsers end on bad input with exit(1) and a message.  For a fuzz
 * target that is a good outcome, not a crash, so exit() is interposed at
 * link time (-Wl,--wrap=exit; only fuzz and replay binaries are linked so):
 * inside a target, exit(1) after a message on stderr jumps back to
 * LLVMFuzzerTestOneInput() with longjmp and the input counts as handled.
 * exit() with any other status, or without a message, aborts: that is a
 * finding too.  Outside a target, exit() is the real one.
 *
 * The jump skips every free() and fclose() the code would have made on the
 * way out (and upstream never frees a network anyway), so allocations and
 * FILEs are interposed as well (--wrap=malloc,calloc,realloc,free,fopen,
 * fdopen,fclose): whatever one input allocated or opened and did not
 * release is released after it, and a long run neither grows nor runs out
 * of file descriptors.  Only allocations made by code linked into the
 * binary are tracked; memory that libc allocates for itself (strdup, FILE
 * buffers) passes through untouched, and free() of a pointer the table does
 * not know goes straight to the real free().
 *
 * Why not fork() per input: a child's coverage counters die with it, so
 * libFuzzer would be fuzzing blind; in-process with longjmp keeps its
 * guidance and its speed (thousands of inputs per second). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input/cfgcheck.h"
#include "input/data_keys.h"
#include "fuzz.h"
#include "input/labels.h"
#include "optim/optimizer.h"
#include "rand/upstream_rand.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fdopen(int fd, const char *mode);
int __real_fclose(FILE *fp);
void __real_exit(int status) __attribute__((noreturn));
int __real_vfprintf(FILE *fp, const char *fmt, va_list ap);
int __real_fputs(const char *s, FILE *fp);
int __real_fputc(int c, FILE *fp);
size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *fp);

static jmp_buf back;
static int inside;          /* running a target */
static int wrote_stderr;    /* the target wrote to stderr since it began */

/* ---- the pointer table: open addressing, linear probing ------------------- */

typedef struct table {
    void **slot;
    size_t cap, count;
} table;

static table allocs, files;

static size_t hash(void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static void table_put(table *t, void *p);

static void table_grow(table *t)
{
    table old = *t;
    t->cap = old.cap ? 2 * old.cap : 1024;
    t->slot = __real_calloc(t->cap, sizeof(void *));
    if (!t->slot) abort();
    t->count = 0;
    for (size_t i = 0; i < old.cap; ++i) {
        if (old.slot[i]) table_put(t, old.slot[i]);
    }
    __real_free(old.slot);
}

static void table_put(table *t, void *p)
{
    if (!p) return;
    if (2 * (t->count + 1) > t->cap) table_grow(t);
    size_t i = hash(p, t->cap);
    while (t->slot[i]) {
        if (t->slot[i] == p) return;
        i = (i + 1) & (t->cap - 1);
    }
    t->slot[i] = p;
    ++t->count;
}

/* Removes p; 0 when it was not there.  Backward-shift deletion keeps every
 * probe chain unbroken. */
static int table_take(table *t, void *p)
{
    if (!p || !t->cap) return 0;
    size_t i = hash(p, t->cap);
    while (t->slot[i] != p) {
        if (!t->slot[i]) return 0;
        i = (i + 1) & (t->cap - 1);
    }
    t->slot[i] = NULL;
    --t->count;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (t->cap - 1);
        if (!t->slot[j]) break;
        size_t home = hash(t->slot[j], t->cap);
        /* move slot j back to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            t->slot[i] = t->slot[j];
            t->slot[j] = NULL;
            i = j;
        }
    }
    return 1;
}

/* ---- interposed functions ---------------------------------------------- */

void *__wrap_malloc(size_t n)
{
    void *p = __real_malloc(n);
    if (inside) table_put(&allocs, p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p = __real_calloc(n, size);
    if (inside) table_put(&allocs, p);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    int tracked = table_take(&allocs, p);
    void *q = __real_realloc(p, n);
    if (!q && n && tracked) table_put(&allocs, p);   /* p is still alive */
    if (q && (inside || tracked)) table_put(&allocs, q);
    return q;
}

void __wrap_free(void *p)
{
    table_take(&allocs, p);
    __real_free(p);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    FILE *f = __real_fopen(path, mode);
    if (inside) table_put(&files, f);
    return f;
}

FILE *__wrap_fdopen(int fd, const char *mode)
{
    FILE *f = __real_fdopen(fd, mode);
    if (inside) table_put(&files, f);
    return f;
}

int __wrap_fclose(FILE *fp)
{
    table_take(&files, fp);
    return __real_fclose(fp);
}

/* Messages: anything written to stderr counts. */
int __wrap_vfprintf(FILE *fp, const char *fmt, va_list ap)
{
    if (fp == stderr) wrote_stderr = 1;
    return __real_vfprintf(fp, fmt, ap);
}

int __wrap_fprintf(FILE *fp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = __wrap_vfprintf(fp, fmt, ap);
    va_end(ap);
    return n;
}

int __wrap_fputs(const char *s, FILE *fp)
{
    if (fp == stderr) wrote_stderr = 1;
    return __real_fputs(s, fp);
}

int __wrap_fputc(int c, FILE *fp)
{
    if (fp == stderr) wrote_stderr = 1;
    return __real_fputc(c, fp);
}

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *fp)
{
    if (fp == stderr) wrote_stderr = 1;
    return __real_fwrite(p, size, n, fp);
}

void __wrap_exit(int status)
{
    if (!inside) __real_exit(status);
    if (status == 1 && wrote_stderr) longjmp(back, 1);
    fprintf(stderr, "fuzz: exit(%d) %s: a clean error is exit(1) after a message\n",
            status, wrote_stderr ? "with a message" : "without a message");
    abort();
}

/* ---- the driver ---------------------------------------------------------- */

static void release_all(void)
{
    /* state of ours that outlives one input but was allocated inside it */
    cfgcheck_forget_all();
    labels_forget_all();
    data_keys_forget_all();
    upstream_rand_attach(NULL, 0, 0);   /* libc's draws again */

    for (size_t i = 0; i < files.cap; ++i) {
        if (files.slot[i]) __real_fclose(files.slot[i]);
    }
    for (size_t i = 0; i < allocs.cap; ++i) {
        if (allocs.slot[i]) __real_free(allocs.slot[i]);
    }
    if (files.count) memset(files.slot, 0, files.cap * sizeof(void *));
    if (allocs.count) memset(allocs.slot, 0, allocs.cap * sizeof(void *));
    files.count = allocs.count = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wrote_stderr = 0;
    inside = 1;
    if (setjmp(back) == 0) fuzz_one(data, size);
    inside = 0;
    release_all();
    return 0;
}

/* ---- files for the parsers ----------------------------------------------- */

static char folder[] = "/tmp/darknet-fuzz.XXXXXX";

/* The folder and what the targets wrote there (two levels deep). */
static void remove_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (unlink(p) != 0 && depth > 0) remove_tree(p, depth - 1);
    }
    if (d) closedir(d);
    rmdir(path);
}

static void remove_folder(void)
{
    remove_tree(folder, 2);
}

const char *fuzz_folder(void)
{
    static int made;
    if (!made) {
        if (!mkdtemp(folder)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(remove_folder);
        made = 1;
    }
    return folder;
}

char *fuzz_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", fuzz_folder(), name);
    return buf;
}

void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = __real_fopen(path, "wb");
    if (!f || (size && __real_fwrite(data, 1, size, f) != size) || __real_fclose(f) != 0) {
        perror(path);
        abort();
    }
}
