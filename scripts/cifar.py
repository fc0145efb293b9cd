#!/usr/bin/python3
"""Convert CIFAR-10 or CIFAR-100 (the official binary version) into Darknet's
classifier layout.

SRC is the tarball as downloaded (cifar-10-binary.tar.gz or
cifar-100-binary.tar.gz) or the folder it unpacks to.  Writes 32x32 colour PNG
images, labels.txt, names.txt, train.list, valid.list and cifar10.data or
cifar100.data into OUT (see dataset_layout.py).  The test batch becomes the
valid list; with --split N the first N training images are the train list,
the others the valid list, and the test batch the test list (test=).  A
finished conversion is not done again.

Binary format (https://www.cs.toronto.edu/~kriz/cifar.html): each record is
one label byte (CIFAR-10) or a coarse and a fine label byte (CIFAR-100),
followed by 3072 bytes: the red, green and blue 32x32 planes, rows top to
bottom.

usage: cifar.py SRC [OUT] [--limit N] [--coarse] [--split N]
"""
import argparse
import os
import sys
import tarfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset_layout as dl  # noqa: E402

PIXELS = 3 * 32 * 32
CIFAR10_TRAIN = ["data_batch_%d.bin" % i for i in range(1, 6)]
CIFAR10_TEST = ["test_batch.bin"]


class Source:
    """Files of the tarball or of the unpacked folder, found by base name."""

    def __init__(self, path):
        self.tar = None
        self.files = {}
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for n in names:
                    self.files[n] = os.path.join(root, n)
        elif os.path.isfile(path):
            try:
                self.tar = tarfile.open(path, "r:*")
            except tarfile.TarError as e:
                raise SystemExit("error: %s: not a tar archive (%s)" % (path, e))
            for m in self.tar.getmembers():
                if m.isfile():
                    self.files[os.path.basename(m.name)] = m
        else:
            raise SystemExit("error: %s: no such file or folder" % path)
        self.path = path

    def has(self, name):
        return name in self.files

    def read(self, name):
        if name not in self.files:
            raise SystemExit("error: %s: has no %s" % (self.path, name))
        f = self.files[name]
        if self.tar is not None:
            return self.tar.extractfile(f).read()
        with open(f, "rb") as fh:
            return fh.read()


def records(blob, name, label_bytes, label_index, limit):
    size = label_bytes + PIXELS
    if len(blob) % size:
        raise SystemExit("error: %s: %d bytes is not a whole number of %d-byte records"
                         % (name, len(blob), size))
    rec = np.frombuffer(blob, dtype=np.uint8).reshape(-1, size)
    if limit is not None:
        rec = rec[:limit]
    labels = rec[:, label_index].astype(np.int64)
    images = rec[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def read_names(src, name):
    return [l.strip() for l in src.read(name).decode("utf-8").splitlines() if l.strip()]


def read_split(src, files, label_bytes, label_index, limit, names, what):
    """The images and labels of one split's batch files, at most limit."""
    images, labels = [], []
    left = limit
    for name in files:
        if left is not None and left <= 0:
            break
        im, lab = records(src.read(name), name, label_bytes, label_index, left)
        images.append(im)
        labels.append(lab)
        if left is not None:
            left -= len(im)
    images = np.concatenate(images)
    labels = np.concatenate(labels)
    if labels.size and labels.max() >= len(names):
        raise SystemExit("error: %s: label %d but only %d class names" % (what, labels.max(), len(names)))
    return images, labels


def add_test_list(out, kind):
    """With --split: test= in NAME.data (read by scripts/reproduce.py), and
    NAME-test.data, whose valid list is the test set (for classifier valid)."""
    data = os.path.join(out, kind + ".data")
    text = open(data).read()
    test = os.path.join(os.path.abspath(out), "test.list")
    with open(data, "w") as f:
        f.write(text + "test=%s\n" % test)
    with open(os.path.join(out, kind + "-test.data"), "w") as f:
        f.write("".join(("valid=%s\n" % test) if l.startswith("valid=") else l + "\n"
                        for l in text.splitlines()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="cifar-10-binary.tar.gz, cifar-100-binary.tar.gz, or the unpacked folder")
    ap.add_argument("out", nargs="?", help="default data/generated/cifar-10 or data/generated/cifar-100")
    ap.add_argument("--limit", type=int, help="convert only the first N images of each split")
    ap.add_argument("--coarse", action="store_true", help="CIFAR-100: use the 20 superclasses")
    ap.add_argument("--split", type=int, metavar="N",
                    help="train on the first N training images, validate on the rest (the paper: 45000), "
                         "and keep the test set as test.list")
    args = ap.parse_args()
    src = Source(args.src)
    if src.has("train.bin") and src.has("fine_label_names.txt"):
        kind, label_bytes = "cifar100", 2
        names = read_names(src, "coarse_label_names.txt" if args.coarse else "fine_label_names.txt")
        label_index = 0 if args.coarse else 1
        train_files, test_files = ["train.bin"], ["test.bin"]
        default_out = "data/generated/cifar-100" + ("-coarse" if args.coarse else "")
    elif src.has("data_batch_1.bin"):
        if args.coarse:
            raise SystemExit("error: --coarse is for CIFAR-100 only")
        kind, label_bytes, label_index = "cifar10", 1, 0
        names = read_names(src, "batches.meta.txt")
        train_files, test_files = CIFAR10_TRAIN, CIFAR10_TEST
        default_out = "data/generated/cifar-10"
    else:
        raise SystemExit("error: %s: neither CIFAR-10 (data_batch_1.bin) nor CIFAR-100 "
                         "(train.bin, fine_label_names.txt) in the binary version" % args.src)
    out = args.out or default_out
    os.makedirs(out, exist_ok=True)
    stamp = dl.stamp_path(out, kind, "coarse" if args.coarse else "fine", args.limit or "all",
                          "split%d" % args.split if args.split is not None else "nosplit")
    if dl.already_done(stamp, out):
        return
    train = read_split(src, train_files, label_bytes, label_index, args.limit, names, "train")
    test = read_split(src, test_files, label_bytes, label_index, args.limit, names, "test")
    if args.split is None:
        dl.write_split(out, "train", *train, names)
        dl.write_split(out, "valid", *test, names)
    else:
        if not 0 < args.split < len(train[0]):
            raise SystemExit("error: --split %d: expected 1 to %d (the training set has %d images)"
                             % (args.split, len(train[0]) - 1, len(train[0])))
        dl.write_split(out, "train", train[0][:args.split], train[1][:args.split], names)
        dl.write_split(out, "valid", train[0][args.split:], train[1][args.split:], names)
        dl.write_split(out, "test", *test, names)
    dl.write_meta(out, kind, names, top=5 if len(names) > 10 else 2)
    if args.split is not None:
        add_test_list(out, kind)
    open(stamp, "w").close()
    print("%s: wrote %s.data" % (out, os.path.join(out, kind)), file=sys.stderr)


if __name__ == "__main__":
    main()
