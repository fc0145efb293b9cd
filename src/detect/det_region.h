/* det_region.h: repairs to upstream detection layers (det_region.c). */
#ifndef DET_REGION_H
#define DET_REGION_H

#include "darknet.h"

/* Gives every [region] layer of net a working CPU backward pass. */
void det_fix_network(network *net);

#endif
