/* weights_check.h: what a layer reads from a weights file (weights_check.c;
 * the loader's hooks are declared in ext.h). */
#ifndef WEIGHTS_CHECK_H
#define WEIGHTS_CHECK_H

#include "darknet.h"

/* One array a layer reads, in file order.  prefix names the sublayer of a
 * recurrent layer ("wz"), NULL otherwise. */
typedef struct weights_array {
    const char *prefix;
    const char *name;
    long floats;
} weights_array;

/* The most arrays one layer reads: an [lstm]'s 8 sublayers of 5. */
#define WEIGHTS_MAX_ARRAYS 40

/* The arrays upstream's load_weights_upto() reads for l, in order (0 for a
 * layer without weights and for our own layers, which read themselves). */
int weights_layer_arrays(const layer *l, weights_array *arrays);
long weights_layer_bytes(const layer *l);

#endif
