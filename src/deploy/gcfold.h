/* gcfold.h: deploying a CCNN where any Darknet runs.
 *
 * At inference a [gcconv] layer is an ordinary convolution with the
 * effective kernel H = R∘w (docs/gcconv.md), so a trained CCNN can be
 * rewritten as plain [convolutional] layers that upstream Darknet, OpenCV's
 * dnn module and every other Darknet reader understand.  See docs/deploy.md. */
#ifndef GCFOLD_H
#define GCFOLD_H

#include "darknet.h"
#include "gcconv/gcfold_kernel.h"

/* ./darknet gcfold CFG WEIGHTS OUT.cfg OUT.weights [-keep] */
void gcfold_command(int argc, char **argv);

#endif
