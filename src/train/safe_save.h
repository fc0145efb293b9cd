/* safe_save.h: atomic weights saves (safe_save.c; the hooks are in ext.h). */
#ifndef SAFE_SAVE_H
#define SAFE_SAVE_H

#include "darknet.h"

/* The first layer below cutoff whose saved arrays are not all finite, or -1. */
int safe_save_first_nonfinite(network *net, int cutoff);

#endif
