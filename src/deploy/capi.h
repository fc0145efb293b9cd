/* capi.h: a few plain functions over a loaded network, for bindings that
 * cannot read Darknet's structs (python/csgd_darknet).  Everything else
 * they call is upstream's public API (darknet.h). */
#ifndef CAPI_H
#define CAPI_H

#include "darknet.h"

/* The network's input: channels, height, width; returns its floats. */
int dn_input_shape(network *net, int *c, int *h, int *w);
/* The floats of one image's output, and the batch the network runs. */
int dn_outputs(network *net);
int dn_batch(network *net);
int dn_layer_count(network *net);
/* Layer i's type as its cfg section is named ("convolutional", "gcconv"),
 * or NULL for no such layer. */
const char *dn_layer_type(network *net, int i);
/* Layer i's output: channels, height, width; returns its floats. */
int dn_layer_shape(network *net, int i, int *c, int *h, int *w);
/* [gcconv] layer i: its branches K and kernel size; 0 for other layers. */
int dn_gcconv_branches(network *net, int i, int *size);
/* Copies [gcconv] layer i's R (K x size x size floats) into r. */
void dn_gcconv_r(network *net, int i, float *r);

#endif
