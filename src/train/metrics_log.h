/* metrics_log.h: BACKUP/NAME.metrics.jsonl, one JSON object a line.
 *
 * The file is opened for appending, so that a resumed run adds to the log
 * of the run it continues.  Each line is written whole and flushed, so an
 * interrupted run leaves only complete lines.  Numbers that are not finite
 * are written as null.  A write that fails is reported once, and training
 * goes on.  The record types are described in docs/training.md. */
#ifndef METRICS_LOG_H
#define METRICS_LOG_H

typedef struct metrics_log {
    void *file;           /* FILE *, NULL when closed or not opened */
    char path[4096];
    char line[8192];
    int used, warned;
} metrics_log;

/* Opens path for appending; exits with an error naming it when it cannot. */
void metrics_open(metrics_log *m, const char *path);
void metrics_close(metrics_log *m);

/* One record: metrics_begin, then its fields, then metrics_end. */
void metrics_begin(metrics_log *m, const char *type);
void metrics_int(metrics_log *m, const char *key, long long value);
void metrics_num(metrics_log *m, const char *key, double value);
void metrics_str(metrics_log *m, const char *key, const char *value);
void metrics_end(metrics_log *m);

#endif
