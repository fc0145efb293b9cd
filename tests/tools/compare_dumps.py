#!/usr/bin/python3
"""Compare two dumps of tests/tools/dump_images (or an OpenCV dump in the
same format) layer by layer.

The error of a layer's output is normwise: max |a - b| over its values,
divided by max |b| (b the reference, the second file).  Every layer of
every image must be within --rtol.  Prints the worst layer; exits 1 when
a layer is out of tolerance or the dumps do not have the same layers.

With --common, only the layers A has are compared (A from
tests/tools/opencv_dump.py, which leaves some out); each must be in B.

usage: compare_dumps.py A.bin B.bin [--rtol R] [--layers 3,7] [--common]
"""
import argparse
import sys

import numpy as np


def read_dump(path):
    """[(layer, values)] in file order."""
    data = open(path, "rb").read()
    out, at = [], 0
    while at < len(data):
        index, count = np.frombuffer(data, np.int32, 2, at)
        at += 8
        out.append((int(index), np.frombuffer(data, np.float32, int(count), at)))
        at += 4 * int(count)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--layers", default="", help="only these layer indices")
    ap.add_argument("--common", action="store_true", help="only the layers A has")
    args = ap.parse_args()
    a, b = read_dump(args.a), read_dump(args.b)
    if args.common:
        b = [x for x in b if x[0] in {y[0] for y in a}]
    only = {int(x) for x in args.layers.split(",") if x}
    if only:
        a = [x for x in a if x[0] in only]
        b = [x for x in b if x[0] in only]
    if not a or len(a) != len(b) or any(x[0] != y[0] or x[1].size != y[1].size for x, y in zip(a, b)):
        print("dumps differ in layers: %d and %d entries" % (len(a), len(b)))
        return 1
    worst, worst_layer = 0.0, -1
    for (layer, x), (_, y) in zip(a, b):
        x, y = x.astype(np.float64), y.astype(np.float64)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            print("layer %d: values that are not finite" % layer)
            return 1
        scale = np.max(np.abs(y))
        err = np.max(np.abs(x - y)) / scale if scale > 0 else np.max(np.abs(x))
        if err > worst:
            worst, worst_layer = err, layer
    print("worst relative error %.3g at layer %d over %d layer outputs (rtol %g)"
          % (worst, worst_layer, len(a), args.rtol))
    return 0 if worst <= args.rtol else 1


if __name__ == "__main__":
    sys.exit(main())
