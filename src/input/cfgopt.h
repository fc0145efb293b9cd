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

#endif
