/* checked.c: allocation, files and the error line (see checked.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"

/* The message to stderr after stdout's lines, a prefix after its leading
 * newlines, then exit status 1: dn_fatal's and dn_usage's one way out. */
static void __attribute__((noreturn)) leave(const char *prefix, const char *fmt, va_list ap)
{
    fflush(stdout);
    while (*fmt == '\n') fputc(*fmt++, stderr);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    exit(1);
}

void dn_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leave("darknet: error: ", fmt, ap);
}

void dn_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leave("", fmt, ap);
}

void *dn_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) dn_fatal("out of memory (%zu bytes)\n", bytes);
    return p;
}

void *dn_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) dn_fatal("out of memory (%zu x %zu bytes)\n", n, size);
    return p;
}

void *dn_realloc(void *p, size_t bytes)
{
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) dn_fatal("out of memory (%zu bytes)\n", bytes);
    return q;
}

FILE *dn_fopen(const char *path, const char *mode)
{
    FILE *fp = fopen(path, mode);
    if (!fp) dn_fatal("cannot open %s for %s: %s\n", path, mode[0] == 'r' ? "reading" : "writing", strerror(errno));
    return fp;
}
