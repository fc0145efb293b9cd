/* metrics_log.c: the JSON-lines metrics log (see metrics_log.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/metrics_log.h"
#include "checked.h"

void metrics_open(metrics_log *m, const char *path)
{
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    m->file = fopen(path, "a");
    if (!m->file) {
        dn_fatal("%s: cannot open the metrics log: %s\n", path, strerror(errno));
    }
}

void metrics_close(metrics_log *m)
{
    if (m->file && fclose(m->file) != 0 && !m->warned)
        fprintf(stderr, "warning: %s: %s\n", m->path, strerror(errno));
    m->file = NULL;
}

/* Appends to the line being built; a record too long for it is cut short
 * and reported when written (no field of ours comes near that). */
static void put(metrics_log *m, const char *fmt, ...)
{
    int room = (int)sizeof m->line - m->used;
    if (room <= 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->line + m->used, room, fmt, ap);
    va_end(ap);
    m->used += n < room ? n : room - 1;
}

static void put_key(metrics_log *m, const char *key)
{
    put(m, ", \"%s\": ", key);
}

/* JSON string contents: quotes, backslashes and control characters escaped. */
static void put_string(metrics_log *m, const char *s)
{
    put(m, "\"");
    for (; s && *s; ++s) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') put(m, "\\%c", ch);
        else if (ch < 0x20) put(m, "\\u%04x", ch);
        else put(m, "%c", ch);
    }
    put(m, "\"");
}

void metrics_begin(metrics_log *m, const char *type)
{
    m->used = 0;
    put(m, "{\"type\": ");
    put_string(m, type);
}

void metrics_int(metrics_log *m, const char *key, long long value)
{
    put_key(m, key);
    put(m, "%lld", value);
}

void metrics_num(metrics_log *m, const char *key, double value)
{
    put_key(m, key);
    if (isfinite(value)) put(m, "%.9g", value);
    else put(m, "null");
}

void metrics_str(metrics_log *m, const char *key, const char *value)
{
    put_key(m, key);
    put_string(m, value);
}

void metrics_end(metrics_log *m)
{
    put(m, "}");
    if (!m->file) return;
    FILE *f = m->file;
    int ok = m->used < (int)sizeof m->line - 1 && fprintf(f, "%s\n", m->line) > 0 && fflush(f) == 0;
    if (!ok && !m->warned) {
        fprintf(stderr, "warning: %s: a metrics record could not be written whole: %s\n",
                m->path, errno ? strerror(errno) : "too long");
        m->warned = 1;
    }
}
