/* onnx_heads.c: detection heads in an ONNX export (onnx_heads.h). */
#include "darknet.h"

#include "deploy/onnx_heads.h"
#include "deploy/onnx_layers.h"

void onnx_export_head(onnx_export *x, int i, layer l)
{
    onnx_refuse(x, i, "not exported yet");
}

void onnx_head_outputs(onnx_export *x, int i)
{
}
