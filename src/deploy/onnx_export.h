/* onnx_export.h: `./darknet export onnx CFG WEIGHTS OUT.onnx [-batch N]
 * [-opset K]` writes a trained network as an ONNX model that OpenCV's dnn
 * module, onnxruntime and other ONNX runtimes run.  Every [gcconv] is
 * folded first, by the gcfold code (gcconv/gcfold_kernel.h); see
 * docs/deploy.md for the layers, the outputs and their layout. */
#ifndef ONNX_EXPORT_H
#define ONNX_EXPORT_H

void onnx_export_command(int argc, char **argv);

#endif
