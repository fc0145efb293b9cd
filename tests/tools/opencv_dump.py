#!/usr/bin/python3
"""Run a Darknet cfg and weights with OpenCV's dnn module on the inputs a
tests/tools/dump_images run wrote, and dump each Darknet layer's output in
dump_images's format, for tests/tools/compare_dumps.py.

OpenCV turns one Darknet layer into a few of its own ("conv_3", "bn_3", then
the activation, named after the next index).  A Darknet layer's output is
the last of its group; [yolo] layers (a permute and a region layer in OpenCV) are left out, since OpenCV's region
output is laid out differently from Darknet's.

With --feed REF.bin SHAPES (a dump of the same network by dump_images,
and its --shapes file), each layer that reads only the layer before it
and has weights or pools ([convolutional], [connected], [maxpool],
[avgpool], [upsample], [softmax]) runs alone, as a one-layer network, on
the reference's output of the layer before it: the dump then holds each
such layer's own arithmetic, for tests/tools/compare_layers --common.

usage: opencv_dump.py CFG WEIGHTS INPUTS.bin OUT.bin [--feed REF.bin SHAPES]
"""
import os
import sys
import tempfile

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


# the sections that run alone with --feed
ALONE = ("convolutional", "connected", "maxpool", "avgpool", "upsample", "softmax")


def sections(cfg):
    """[(name, lines)] of the cfg's sections, [net] first"""
    out = []
    for line in open(cfg):
        text = line.split("#")[0].strip()
        if text.startswith("["):
            out.append((text.strip("[]"), []))
        elif text and out:
            out[-1][1].append(text)
    return out


def read_dump(path):
    """{(image, layer): values}, images counted from each layer 0"""
    data, at, image, out = open(path, "rb").read(), 0, -1, {}
    while at < len(data):
        index, count = np.frombuffer(data, np.int32, 2, at)
        image += index == 0
        out[(image, int(index))] = np.frombuffer(data, np.float32, int(count), at + 8)
        at += 8 + 4 * int(count)
    return out


def one_layer_nets(cfg, weights, shapes_file, folder):
    """{layer: (OpenCV net, input shape)} for the layers that run alone"""
    raw = open(weights, "rb").read()
    major, minor = np.frombuffer(raw, np.int32, 2)
    at = 12 + (8 if major * 10 + minor >= 2 else 4)
    header = raw[:at]
    nets = {}
    for (name, lines), shape in zip(sections(cfg)[1:], open(shapes_file)):
        index, c, h, w, floats = (int(v) for v in shape.split())
        own = raw[at:at + 4 * floats]
        at += 4 * floats
        if name not in ALONE:
            continue
        path = os.path.join(folder, "layer%d" % index)
        with open(path + ".cfg", "w") as f:
            f.write("[net]\nbatch=1\nwidth=%d\nheight=%d\nchannels=%d\n\n[%s]\n%s\n" % (w, h, c, name, "\n".join(lines)))
        with open(path + ".weights", "wb") as f:
            f.write(header + own)
        net = cv2.dnn.readNetFromDarknet(path + ".cfg", path + ".weights")
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        nets[index] = (net, (1, c, h, w))
    return nets


def main_fed(cfg, weights, inputs, out, ref, shapes_file):
    size = net_size(cfg)
    data = np.fromfile(inputs, np.float32).reshape(-1, size["channels"], size["height"], size["width"])
    refs = read_dump(ref)
    with tempfile.TemporaryDirectory() as folder, open(out, "wb") as f:
        nets = one_layer_nets(cfg, weights, shapes_file, folder)
        for image in range(len(data)):
            for index, (net, shape) in sorted(nets.items()):
                x = data[image] if index == 0 else refs[(image, index - 1)]
                net.setInput(np.ascontiguousarray(x, np.float32).reshape(shape))
                flat = np.ascontiguousarray(net.forward(), np.float32).ravel()
                f.write(np.array([index, flat.size], np.int32).tobytes())
                f.write(flat.tobytes())
    print("%d layers run alone: %s" % (len(nets), " ".join(str(i) for i in sorted(nets))))


def main():
    cfg, weights, inputs, out = sys.argv[1:5]
    if sys.argv[5:6] == ["--feed"]:
        return main_fed(cfg, weights, inputs, out, sys.argv[6], sys.argv[7])
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
