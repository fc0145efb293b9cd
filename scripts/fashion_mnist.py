#!/usr/bin/python3
"""Convert Fashion-MNIST (or MNIST) into Darknet's classifier layout.

Reads the four IDX files (gzipped or not) from SRC, by default Debian's
dataset-fashion-mnist package, and writes 28x28 grey PNG images, labels.txt,
names.txt, train.list, valid.list and fashion-mnist.data into OUT (see
dataset_layout.py).  The 10000 test images become the valid list.  A finished
conversion is not done again.

usage: fashion_mnist.py [OUT] [--src DIR] [--limit N] [--mnist]
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset_layout as dl  # noqa: E402

FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DEFAULT_SRC = "/usr/share/datasets/fashion-mnist"


def open_idx(src, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(src, name)
        if os.path.exists(path):
            return (gzip.open if name.endswith(".gz") else open)(path, "rb"), path
    raise SystemExit("error: %s: no %s or %s.gz (install Debian's dataset-fashion-mnist, or give --src)"
                     % (src, stem, stem))


def read_idx(src, stem, limit):
    f, path = open_idx(src, stem)
    with f:
        magic = f.read(4)
        if len(magic) != 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != 8:
            raise SystemExit("error: %s: not an IDX file of unsigned bytes" % path)
        dims = struct.unpack(">" + "I" * magic[3], f.read(4 * magic[3]))
        n = dims[0] if limit is None else min(limit, dims[0])
        size = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        buf = f.read(n * size)
        if len(buf) != n * size:
            raise SystemExit("error: %s: file ends early" % path)
    return np.frombuffer(buf, dtype=np.uint8).reshape((n,) + tuple(dims[1:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="data/generated/fashion-mnist")
    ap.add_argument("--src", default=DEFAULT_SRC, help="folder with the IDX files (default %(default)s)")
    ap.add_argument("--limit", type=int, help="convert only the first N images of each split")
    ap.add_argument("--mnist", action="store_true", help="the files are MNIST digits (class names zero..nine)")
    args = ap.parse_args()
    names = DIGIT_NAMES if args.mnist else FASHION_NAMES
    data_name = "mnist" if args.mnist else "fashion-mnist"
    os.makedirs(args.out, exist_ok=True)
    stamp = dl.stamp_path(args.out, data_name, args.limit or "all")
    if dl.already_done(stamp, args.out):
        return
    for split, prefix in (("train", "train"), ("valid", "t10k")):
        images = read_idx(args.src, prefix + "-images-idx3-ubyte", args.limit)
        labels = read_idx(args.src, prefix + "-labels-idx1-ubyte", args.limit)
        if len(images) != len(labels) or images.ndim != 3:
            raise SystemExit("error: %s: %d images but %d labels" % (prefix, len(images), len(labels)))
        if labels.size and labels.max() >= len(names):
            raise SystemExit("error: %s: label %d out of range" % (prefix, labels.max()))
        dl.write_split(args.out, split, images, labels, names)
    dl.write_meta(args.out, data_name, names, top=2)
    open(stamp, "w").close()
    print("%s: wrote %s.data" % (args.out, os.path.join(args.out, data_name)), file=sys.stderr)


if __name__ == "__main__":
    main()
