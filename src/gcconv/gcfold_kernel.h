/* gcfold_kernel.h: a [gcconv] layer as the dense kernel of one
 * [convolutional] (gcfold_kernel.c), for ./darknet gcfold (src/deploy/) and
 * the tests. */
#ifndef GCFOLD_KERNEL_H
#define GCFOLD_KERNEL_H

#include <stddef.h>

#include "darknet.h"

/* The kernel size and padding of the [convolutional] that computes layer
 * l in every Darknet.  Upstream's [convolutional] takes its input as its
 * own im2col for every 1x1 kernel, which is wrong with a stride or a
 * padding; such a layer is written as a 3x3 kernel with one more pixel of
 * padding and w at its centre, which reads the same pixels. */
typedef struct gcfold_geometry {
    int size, padding;
} gcfold_geometry;
gcfold_geometry gcfold_geometry_of(layer l);

/* Floats in the dense kernel of a [gcconv] layer as a [convolutional] over
 * its real input: N*K filters x l.c channels x size x size (the size of
 * gcfold_geometry_of). */
size_t gcfold_kernel_floats(layer l);

/* The dense kernel in upstream's [convolutional] layout (filter, channel,
 * row, column; the last fastest), built from the layer's w and R:
 *   full mixing:   H[o*K+k, c*K+m, p] = R[k,p] w[o,c,m,p]
 *   branch mixing: the same with zeros wherever input branch m is not k
 *   expand=1:      the K replicas of input channel c summed into one. */
void gcfold_kernel(layer l, float *kernel);

#endif
