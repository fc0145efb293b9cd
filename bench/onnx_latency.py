#!/usr/bin/python3
"""Batch-1 latency of OpenCV's dnn module on a model written by `./darknet
export onnx`, timed as bench/train_bench.c times network_predict: 5 calls
to warm up, then ITERATIONS calls of net.forward() on one random image (the
input's shape from the model), and the median in milliseconds, printed as
latency_ms=<float>.  OpenCV's own backend on the CPU, THREADS threads.

  onnx_latency.py MODEL.onnx ITERATIONS THREADS
"""
import sys
import time

import cv2
import numpy as np
import onnx


def main():
    path, iterations, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cv2.setNumThreads(threads)
    dims = [d.dim_value for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
    net = cv2.dnn.readNetFromONNX(path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    x = np.random.default_rng(1).random(dims, dtype=np.float32)
    for _ in range(5):
        net.setInput(x)
        net.forward()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        net.setInput(x)
        net.forward()
        times.append(time.perf_counter() - start)
    print("latency_ms=%.3f iterations=%d" % (1e3 * float(np.median(times)), iterations))
    return 0


if __name__ == "__main__":
    sys.exit(main())
