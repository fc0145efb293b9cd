#!/usr/bin/python3
"""Check and run a model written by `./darknet export onnx`, for
tests/cli/test_onnx_export.sh.

  onnx_run.py check MODEL.onnx REF.bin
      ONNX's own checker (full_check) and strict shape inference; every
      "layer_i" tensor's inferred shape must hold as many values a batch
      item as Darknet's layer i outputs (REF.bin: a tests/tools/dump_images
      dump of the network), and every graph output a full shape.
  onnx_run.py feed MODEL.onnx INPUTS.bin REF.bin OUT.bin
      OpenCV's dnn runs each layer alone: the part of the graph that
      computes "layer_i" from the tensors of other layers (or the input) is
      cut out (onnx.utils.Extractor) and fed the reference's outputs of
      those layers (REF.bin, a tests/tools/dump_images dump), so OUT.bin
      holds each layer's own arithmetic, for tests/tools/compare_layers
      --common.
  onnx_run.py split MODEL.onnx DIR
      writes the parts that feed runs, for tests/node/run_onnx.mjs:
      DIR/layer_I.onnx, and DIR/parts.txt, one line a layer: I, then each
      input the part reads as NAME:D0,D1,... (its shape).
  onnx_run.py whole MODEL.onnx INPUTS.bin OUT.bin
      OpenCV's dnn runs the whole model on each input; OUT.bin holds the
      first graph output, one record an image, as layer -1.
  onnx_run.py decode MODEL.onnx CFG INPUTS.bin REF.bin
      each [yolo] or [region] layer i's boxes_i and scores_i, computed by
      OpenCV from the reference's output of layer i - 1, against the same
      decoding done here in double, from the cfg's anchors, on the
      reference's output of layer i (Darknet's get_yolo_box and
      get_region_box; scores: objectness times class score).  The bound:
      each side forms a value with at most 8 roundings relative to it
      (the logistic's exp, add and divide with exp's last-place error,
      then an add and a divide, or exp, a multiply and a divide; a score
      is the product of two such), so |a - b| <= 2 * 8 u * max|v| over the
      output, u = 2^-24; a [region]'s softmax adds its relative error,
      6 u max|x| + gamma(C + 3) (tests/unit/helpers/rounding.c), to the
      scores.
  onnx_run.py mutate MODEL.onnx OUT.onnx FAULT
      writes a model with one fault that an exporter could make: "pads"
      (the first Conv's padding all after the image), "swap" (the first
      Conv's first two filters exchanged), "pool" (the first MaxPool's
      padding before the image instead of after), "weight" (the first
      Conv's first weight 1% larger).
  onnx_run.py record REF.bin WHOLE.bin NAME RUNTIME
      prints the largest difference between ./darknet's output and a
      runtime's whole-network output (WHOLE.bin as `whole` writes it).
"""
import os
import re
import sys
import tempfile

import cv2
import numpy as np
import onnx
import onnx.utils
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opencv_dump import read_dump  # noqa: E402

LAYER = re.compile(r"^layer_(\d+)$")


def dims(value):
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def check(model_path, ref_path):
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    shapes = {v.name: dims(v) for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    bad = 0
    counts = {layer: len(v) for (image, layer), v in read_dump(ref_path).items() if image == 0}
    for index, outputs in sorted(counts.items()):
        name = "layer_%d" % index
        if name not in shapes:
            continue
        per_item = int(np.prod(shapes[name][1:]))
        if per_item != outputs:
            print("%s: inferred shape %s holds %d values an item, Darknet's layer %d %d"
                  % (name, shapes[name], per_item, index, outputs))
            bad += 1
    for out in inferred.graph.output:
        if not dims(out) or 0 in dims(out):
            print("output %s has no full shape" % out.name)
            bad += 1
    print("checker and shape inference passed; %d layer shapes compared" % len(shapes))
    return 1 if bad else 0


def boundary(model, target):
    """the tensors that the part of the graph computing `target` reads:
    other layers' outputs and the graph input"""
    producer = {out: node for node in model.graph.node for out in node.output}
    constants = {t.name for t in model.graph.initializer}
    inputs, seen, todo = [], set(), [target]
    while todo:
        name = todo.pop()
        for tensor in producer[name].input:
            if tensor in seen or tensor in constants or tensor == "":
                continue
            seen.add(tensor)
            if tensor == "input" or LAYER.match(tensor):
                inputs.append(tensor)
            else:
                todo.append(tensor)
    return inputs


def opencv_net(model):
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(model.SerializeToString())
        f.flush()
        net = cv2.dnn.readNetFromONNX(f.name)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def input_shape(model):
    return dims(model.graph.input[0])


def layer_parts(model_path):
    """[(layer index, ONNX model, [(input name, shape)])], one per layer:
    the part of the graph that computes the layer from its boundary"""
    model = onnx.load(model_path)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: dims(v) for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    shapes["input"] = input_shape(model)
    extractor = onnx.utils.Extractor(model)
    parts = []
    for node in model.graph.node:
        match = LAYER.match(node.output[0])
        if not match:
            continue
        inputs = boundary(model, node.output[0])
        part = extractor.extract_model(inputs, [node.output[0]])
        parts.append((int(match.group(1)), part, [(t, shapes[t]) for t in inputs]))
    return parts


def layer_nets(model_path):
    """[(layer index, OpenCV net, [(input name, shape)])], one per layer"""
    return [(index, opencv_net(part), inputs) for index, part, inputs in layer_parts(model_path)]


def split(model_path, out_dir):
    """the parts feed runs, for another runtime: OUT_DIR/layer_I.onnx and
    OUT_DIR/parts.txt, a line a layer: I, then each input as NAME:D0,D1,..."""
    with open(out_dir + "/parts.txt", "w") as f:
        for index, part, inputs in layer_parts(model_path):
            onnx.save(part, "%s/layer_%d.onnx" % (out_dir, index))
            f.write("%d %s\n" % (index, " ".join("%s:%s" % (t, ",".join(map(str, s))) for t, s in inputs)))
    return 0


def feed(model_path, inputs_path, ref_path, out_path):
    shape = input_shape(onnx.load(model_path))
    data = np.fromfile(inputs_path, np.float32).reshape([-1] + shape[1:])
    refs = read_dump(ref_path)
    nets = layer_nets(model_path)
    with open(out_path, "wb") as f:
        for image in range(len(data)):
            for index, net, inputs in nets:
                for name, want in inputs:
                    x = data[image] if name == "input" else refs[(image, int(LAYER.match(name).group(1)))]
                    net.setInput(np.ascontiguousarray(x, np.float32).reshape(want), name)
                flat = np.ascontiguousarray(net.forward(), np.float32).ravel()
                f.write(np.array([index, flat.size], np.int32).tobytes())
                f.write(flat.tobytes())
    print("%d layers run alone by OpenCV: %s" % (len(nets), " ".join(str(n[0]) for n in nets)))
    return 0


def whole(model_path, inputs_path, out_path):
    model = onnx.load(model_path)
    shape = input_shape(model)
    data = np.fromfile(inputs_path, np.float32).reshape([-1] + shape[1:])
    net = opencv_net(model)
    # Darknet's network output: the last layer's
    last = max((o.name for o in model.graph.output if LAYER.match(o.name)), key=lambda n: int(n[6:]))
    with open(out_path, "wb") as f:
        for image in data:
            net.setInput(image[np.newaxis].copy())
            flat = np.ascontiguousarray(net.forward(last), np.float32).ravel()
            f.write(np.array([-1, flat.size], np.int32).tobytes())
            f.write(flat.tobytes())
    return 0


U = 2.0 ** -24


def cfg_heads(cfg):
    """[(layer index, type, {key: value})] of the cfg's [yolo] and [region]
    sections, and the [net] options"""
    sections = []
    for line in open(cfg):
        text = "".join(line.split("#")[0].split())
        if text.startswith("["):
            sections.append((text.strip("[]"), {}))
        elif "=" in text and sections:
            key, value = text.split("=", 1)
            sections[-1][1][key] = value
    heads = [(i, name, opts) for i, (name, opts) in enumerate(sections[1:]) if name in ("yolo", "region")]
    return heads, sections[0][1]


def decode_reference(values, kind, opts, net):
    """boxes and scores of a head's output, as Darknet's formulas give them"""
    floats = [float(v) for v in opts["anchors"].split(",")]
    classes = int(opts.get("classes", 20))
    if kind == "yolo":
        mask = [int(v) for v in opts["mask"].split(",")] if "mask" in opts else list(range(len(floats) // 2))
        anchors = [(floats[2 * m], floats[2 * m + 1]) for m in mask]
    else:
        anchors = [(floats[2 * a], floats[2 * a + 1]) for a in range(int(opts.get("num", 1)))]
    n = len(anchors)
    cells = values.size // (n * (5 + classes))
    side = int(round(cells ** 0.5))
    t = values.astype(np.float64).reshape(n, 5 + classes, side, side)
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    div_w, div_h = (int(net["width"]), int(net["height"])) if kind == "yolo" else (side, side)
    boxes = np.stack([(col + t[:, 0]) / side, (row + t[:, 1]) / side,
                      np.exp(t[:, 2]) * np.array([a[0] for a in anchors])[:, None, None] / div_w,
                      np.exp(t[:, 3]) * np.array([a[1] for a in anchors])[:, None, None] / div_h], axis=1)
    scores = t[:, 4:5] * t[:, 5:]
    flat = lambda a: a.reshape(n, a.shape[1], -1).transpose(0, 2, 1).reshape(-1, a.shape[1])
    return flat(boxes), flat(scores), classes


def decode(model_path, cfg, inputs_path, ref_path):
    model = onnx.load(model_path)
    refs = read_dump(ref_path)
    images = 1 + max(image for image, _ in refs)
    extractor = onnx.utils.Extractor(model)
    heads, net_options = cfg_heads(cfg)
    worst, bad = 0.0, 0
    for index, kind, opts in heads:
        source = "layer_%d" % (index - 1)
        outputs = ["boxes_%d" % index, "scores_%d" % index]
        part = extractor.extract_model([source], outputs)
        net = opencv_net(part)
        want = next(dims(v) for v in part.graph.input if v.name == source)
        for image in range(images):
            x = refs[(image, index - 1)]
            net.setInput(np.ascontiguousarray(x, np.float32).reshape(want), source)
            got = net.forward(outputs)
            boxes, scores, classes = decode_reference(refs[(image, index)], kind, opts, net_options)
            xmax = float(np.abs(x).max())
            for name, a, b, extra in (("boxes", got[0], boxes, 0.0),
                                      ("scores", got[1], scores,
                                       6 * U * xmax + (classes + 3) * U / (1 - (classes + 3) * U)
                                       if kind == "region" else 0.0)):
                a = a.reshape(b.shape).astype(np.float64)
                # exp of a briefly trained head's large raw w or h overflows
                # on both sides: equal infinities agree, and the bound is
                # taken over the finite values
                finite = np.isfinite(b)
                bound = 2 * (8 * U + extra) * float(np.abs(b[finite]).max(initial=0))
                with np.errstate(invalid="ignore"):
                    d = float(np.where(a == b, 0, np.abs(a - b)).max())
                worst = max(worst, d / bound if bound > 0 else (0 if d == 0 else np.inf))
                if not d <= bound:
                    print("layer %d %s_%d image %d: max |a-b| %.3g over bound %.3g" % (index, name, index, image, d, bound))
                    bad += 1
    print("decoded %d heads; worst ratio of difference to bound %.3g" % (len(heads), worst))
    return 1 if bad or not heads else 0


def first(model, op):
    return next(node for node in model.graph.node if node.op_type == op)


def attribute(node, name):
    return next(a for a in node.attribute if a.name == name)


def mutate(model_path, out_path, fault):
    model = onnx.load(model_path)
    if fault == "pads":
        pads = attribute(first(model, "Conv"), "pads")
        total = pads.ints[0] + pads.ints[2]
        pads.ints[:] = [0, 0, total, total]
    elif fault == "swap":
        name = first(model, "Conv").input[1]
        tensor = next(t for t in model.graph.initializer if t.name == name)
        w = numpy_helper.to_array(tensor).copy()
        w[[0, 1]] = w[[1, 0]]
        tensor.CopyFrom(numpy_helper.from_array(w, name))
    elif fault == "weight":
        name = first(model, "Conv").input[1]
        tensor = next(t for t in model.graph.initializer if t.name == name)
        w = numpy_helper.to_array(tensor).copy()
        w.flat[0] *= np.float32(1.01)
        tensor.CopyFrom(numpy_helper.from_array(w, name))
    elif fault == "pool":
        pads = attribute(first(model, "MaxPool"), "pads")
        pads.ints[:] = [pads.ints[2], pads.ints[3], pads.ints[0], pads.ints[1]]
    onnx.save(model, out_path)
    return 0


def record(ref_path, got_path, name, runtime):
    """Prints the largest difference between ./darknet's output layer (the
    last one whose size matches: a [cost] at the end is not an output) and a
    runtime's whole-network output, for the record: no bound is derived end
    to end, the layers are checked one by one."""
    ref, got = read_dump(ref_path), open(got_path, "rb").read()
    last = max(layer for (_, layer) in ref)
    while ref[(0, last)].size != int(np.frombuffer(got, np.int32, 1, 4)[0]):
        last -= 1
    at, worst, scale, image = 0, 0.0, 0.0, 0
    while at < len(got):
        count = int(np.frombuffer(got, np.int32, 1, at + 4)[0])
        values = np.frombuffer(got, np.float32, count, at + 8)
        worst = max(worst, float(np.abs(values - ref[(image, last)]).max()))
        scale = max(scale, float(np.abs(ref[(image, last)]).max()))
        at, image = at + 8 + 4 * count, image + 1
    print("%s: whole network%s, largest output difference %.3g (largest output %.3g) over %d images"
          % (name, runtime and " in " + runtime, worst, scale, image))
    return 0


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    run = {"check": check, "feed": feed, "split": split, "whole": whole, "decode": decode, "mutate": mutate,
           "record": record}[mode]
    return run(*args)


if __name__ == "__main__":
    sys.exit(main())
