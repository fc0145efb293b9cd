/* cfgopt.h: strict reading of cfg keys, with errors that name the place.
 *
 * Upstream's option_find_int() takes "3abc" as 3 and "abc" as 0.  These
 * readers reject both, and every error names the cfg file, the section, its
 * index, the key and the value, then exits with status 1. */
#ifndef CFGOPT_H
#define CFGOPT_H

#include "darknet.h"

typedef struct cfg_where {
    const char *file;      /* may be NULL when unknown */
    const char *section;   /* "[gcconv]" */
    int index;             /* layer index; -1 for [net] */
} cfg_where;

int cfg_int(list *options, const char *key, int def, cfg_where w);
float cfg_float(list *options, const char *key, float def, cfg_where w);
/* Index of the value in choices (NULL-terminated); def when the key is absent. */
int cfg_choice(list *options, const char *key, const char *const *choices, int def, cfg_where w);
int cfg_has(list *options, const char *key);
void cfg_fail(cfg_where w, const char *key, const char *value, const char *why)
    __attribute__((noreturn));

/* Readers with a range: the value, or the error naming the key, its text
 * and the range ("must be at least 1", "must be in [0, 1]", "must be 0 or
 * 1", "must be >= 0"). */
int cfg_int_min(list *options, const char *key, int def, int lowest, cfg_where w);
int cfg_int_range(list *options, const char *key, int def, int lo, int hi, cfg_where w);
int cfg_flag(list *options, const char *key, int def, cfg_where w);
float cfg_float_min(list *options, const char *key, float def, float lowest, cfg_where w);
float cfg_float_range(list *options, const char *key, float def, float lo, float hi, cfg_where w);

#endif
