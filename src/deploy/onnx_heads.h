/* onnx_heads.h: the layers of detection heads in an ONNX export: [yolo] and
 * [region] (the raw map, and decoded boxes and scores as outputs of their
 * own), [reorg] and [crop] (onnx_heads.c; the layout is in docs/deploy.md). */
#ifndef ONNX_HEADS_H
#define ONNX_HEADS_H

#include "deploy/onnx_layers.h"

/* Layer i, a [yolo], [region], [reorg] or [crop]. */
void onnx_export_head(onnx_export *x, int i, layer l);

/* The graph outputs that layer i adds if it is a [yolo] or [region]: its
 * map (with_map; the network's last layer is an output anyway), boxes_i
 * and scores_i.  None for other layers. */
void onnx_head_outputs(onnx_export *x, int i, int with_map);

#endif
