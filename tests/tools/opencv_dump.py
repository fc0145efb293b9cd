#!/usr/bin/python3
"""Run a Darknet cfg and weights with OpenCV's dnn module on the inputs a
tests/tools/dump_images run wrote, and dump each Darknet layer's output in
dump_images's format, for tests/tools/compare_dumps.py.

OpenCV turns one Darknet layer into a few of its own ("conv_3", "bn_3", then
the activation, named after the next index).  A Darknet layer's output is
the last of its group; [yolo] layers (a permute and a region layer in OpenCV) are left out, since OpenCV's region
output is laid out differently from Darknet's.

usage: opencv_dump.py CFG WEIGHTS INPUTS.bin OUT.bin
"""
import sys

import cv2
import numpy as np

# OpenCV layers that continue the Darknet layer before them
FOLLOWERS = ("bn", "relu", "leaky", "logistic", "tanh", "swish", "mish", "hardswish", "elu", "sigmoid")


def darknet_groups(net):
    """[(darknet layer index, OpenCV name of its output, kind)]"""
    groups = []
    for name in net.getLayerNames():
        kind, _, index = name.rpartition("_")
        if kind in FOLLOWERS and groups:
            groups[-1] = (groups[-1][0], name, groups[-1][2])
        else:
            groups.append((int(index), name, kind))
    return groups


def net_size(cfg):
    """width, height and channels of the cfg's [net] section"""
    size, sections = {}, 0
    for line in open(cfg):
        line = "".join(line.split())
        if line.startswith("["):
            sections += 1
        elif sections == 1 and "=" in line:
            key, value = line.split("=", 1)
            if key in ("width", "height", "channels"):
                size[key] = int(value)
    return size


def main():
    cfg, weights, inputs, out = sys.argv[1:5]
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    size = net_size(cfg)
    groups = [g for g in darknet_groups(net) if g[2] not in ("yolo", "permute", "region")]
    data = np.fromfile(inputs, np.float32).reshape(-1, size["channels"], size["height"], size["width"])
    with open(out, "wb") as f:
        for image in data:
            net.setInput(image[np.newaxis].copy())
            outputs = net.forward([g[1] for g in groups])
            for (index, _, _), value in zip(groups, outputs):
                flat = np.ascontiguousarray(value, np.float32).ravel()
                f.write(np.array([index, flat.size], np.int32).tobytes())
                f.write(flat.tobytes())
    print("%d Darknet layers dumped: %s" % (len(groups), " ".join(g[1] for g in groups)))


if __name__ == "__main__":
    main()
