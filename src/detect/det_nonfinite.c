/* det_nonfinite.c: a warning, once per layer, when a detection layer's
 * output is not finite (patches/0031 calls it while counting boxes).
 *
 * An untrained or diverged network can give NaN or infinite objectness; its
 * boxes are left out (no comparison with a threshold holds for NaN), and
 * the user is told why a detector finds nothing. */
#include <math.h>
#include <stdio.h>

#include "ext.h"

#define WARNED_LAYERS 4096

static unsigned char warned[WARNED_LAYERS];

static const char *detection_type(LAYER_TYPE t)
{
    if (t == YOLO) return "yolo";
    if (t == REGION) return "region";
    return "detection";
}

void ext_check_detections(network *net, int index)
{
    if (index < 0 || index >= WARNED_LAYERS || warned[index]) return;
    layer l = net->layers[index];
    size_t n = (size_t)l.outputs * l.batch, bad = 0;
    for (size_t i = 0; i < n; ++i) bad += !isfinite(l.output[i]);
    if (!bad) return;
    warned[index] = 1;
    fprintf(stderr, "warning: layer %d [%s]: %zu of %zu outputs are not finite (NaN or infinite);"
            " their boxes are left out\n", index, detection_type(l.type), bad, n);
}
