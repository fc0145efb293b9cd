/* onnx_shortcut.h: [shortcut] in an ONNX export, between layers of any
 * shapes, as upstream's shortcut_cpu adds them (onnx_shortcut.c). */
#ifndef ONNX_SHORTCUT_H
#define ONNX_SHORTCUT_H

#include "deploy/onnx_layers.h"

/* Layer i, a [shortcut]: "layer_i" = its activation of alpha times the
 * layer before plus beta times layer l.index, read and placed as Darknet
 * does when their sizes or channel counts differ. */
void onnx_export_shortcut(onnx_export *x, int i, layer l);

#endif
