/* cfgcheck.h: hostile cfg and .data files meet clear errors, not crashes.
 *
 * patches/0020 routes upstream's option readers (option_find_int and
 * friends) and its cfg parser through here.  Every option list remembers
 * where it came from (file, section, index), so that a bad value anywhere
 * is reported as
 *     darknet: error: FILE: section N [type]: key=value: why
 * and the process exits with status 1.  Before upstream builds a layer,
 * cfgcheck_section() checks what upstream would trip over (sizes, indexes,
 * a kernel larger than its input, element counts past int) for that type. */
#ifndef CFGCHECK_H
#define CFGCHECK_H

#include <stddef.h>
#include "darknet.h"

/* The most bytes one network may ask for while it is parsed (estimated
 * before each layer is made).  0, the default, means no limit beyond the
 * int element counts upstream's code can address. */
void cfgcheck_set_memory_limit(size_t bytes);
/* Counts a layer of ours as upstream's are counted before they are made:
 * OUTPUTS per image and WEIGHTS (with their updates) against the int
 * element counts and the memory limit; an error naming the section when
 * they do not fit.  OPTIONS is the layer's section. */
void cfgcheck_account_layer(list *options, int batch, double outputs, double weights);

/* Where an option list came from; NULL file or section when unknown. */
typedef struct cfg_origin {
    const char *file;
    const char *section;   /* NULL for a .data file */
    int index;             /* layer index; -1 for [net] */
} cfg_origin;
cfg_origin cfgcheck_origin(list *options);
/* Forgets every option list's origin (the fuzz harness, between inputs). */
void cfgcheck_forget_all(void);

#endif
