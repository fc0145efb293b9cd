#!/usr/bin/python3
"""Generate a small image-classification dataset in Darknet's classifier layout.

Four classes of 32x32 colour images: horizontal bars, vertical bars, a disc and
a cross, each drawn at a random position, size and colour on a noisy
background.  Writes OUT/{train,valid}/NNNNN_CLASS.png, OUT/labels.txt,
OUT/train.list, OUT/valid.list and OUT/shapes.data.  The same seed always gives
the same files, and a finished dataset is not written again.

usage: gen_shapes_dataset.py OUT [--train N] [--valid N] [--seed S]
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np

CLASSES = ["hbars", "vbars", "disc", "cross"]
SIZE = 32


def write_png(path, rgb):
    """rgb: uint8 array (h, w, 3).  A minimal, valid PNG (one IDAT chunk)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def draw(label, rng):
    img = rng.normal(100, 25, (SIZE, SIZE, 3))
    color = rng.uniform(150, 255, 3) * rng.permutation([1.0, 0.6, 0.3])
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cy, cx = rng.uniform(10, 22, 2)
    r = rng.uniform(5, 9)
    if label == "hbars":
        mask = (np.abs(yy - cy) < r) & ((yy // 3) % 2 == 0)
    elif label == "vbars":
        mask = (np.abs(xx - cx) < r) & ((xx // 3) % 2 == 0)
    elif label == "disc":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    else:
        mask = ((np.abs(yy - cy) < 2) & (np.abs(xx - cx) < r)) | ((np.abs(xx - cx) < 2) & (np.abs(yy - cy) < r))
    img[mask] = color
    return np.clip(img, 0, 255).astype(np.uint8)


def write_split(out, split, count, rng):
    folder = os.path.join(out, split)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        label = CLASSES[i % len(CLASSES)]
        path = os.path.join(folder, "%05d_%s.png" % (i, label))
        write_png(path, draw(label, rng))
        paths.append(path)
        if (i + 1) % 200 == 0 or i + 1 == count:
            print("\r%s: %d/%d images" % (split, i + 1, count), end="", file=sys.stderr)
    print(file=sys.stderr)
    with open(os.path.join(out, split + ".list"), "w") as f:
        f.write("\n".join(paths) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--valid", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    stamp = os.path.join(args.out, ".complete-%d-%d-%d" % (args.train, args.valid, args.seed))
    if os.path.exists(stamp):
        print("%s: already generated" % args.out, file=sys.stderr)
        return
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    write_split(args.out, "train", args.train, rng)
    write_split(args.out, "valid", args.valid, rng)
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    with open(os.path.join(args.out, "shapes.data"), "w") as f:
        f.write("classes=%d\ntrain=%s/train.list\nvalid=%s/valid.list\nlabels=%s/labels.txt\n"
                "names=%s/labels.txt\nbackup=%s/backup\ntop=2\n"
                % (len(CLASSES), args.out, args.out, args.out, args.out, args.out))
    os.makedirs(os.path.join(args.out, "backup"), exist_ok=True)
    open(stamp, "w").close()


if __name__ == "__main__":
    main()
