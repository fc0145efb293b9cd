#!/usr/bin/python3
"""Writes tiny CIFAR archives in the official binary format, and checks a
conversion of them.

    cifar_sample.py write10 FILE.tar.gz     CIFAR-10: 5 train batches of 2, a test batch of 4
    cifar_sample.py write100 FILE.tar.gz    CIFAR-100: 12 train, 6 test records
    cifar_sample.py verify10 OUT            check OUT (converted from write10)
    cifar_sample.py verify100 OUT [--coarse]

Each record's pixels follow a formula of its split, index and plane, so the
checker knows every expected byte.  verify compares the list order, each
file name's class and each PNG's pixels; it prints what differs and exits 1.
"""
import io
import os
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngcheck import read_png  # noqa: E402

NAMES10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# A few real CIFAR-100 fine names, with the pairs that break substring matching.
FINE = ["aquarium_fish", "man", "maple_tree", "oak_tree", "sweet_pepper", "woman"]
COARSE = ["fish", "people", "trees", "fruit_and_vegetables"]
FINE_TO_COARSE = [0, 1, 2, 2, 3, 1]


def pixels(split, i):
    return bytes(((i * 31 + p * 7 + (101 if split == "valid" else 0)) % 256) for p in range(3072))


def cifar10_records():
    out = {"train": [], "valid": []}
    for i in range(10):
        out["train"].append(((i * 3) % 10, pixels("train", i)))
    for i in range(4):
        out["valid"].append(((i * 7 + 1) % 10, pixels("valid", i)))
    return out


def cifar100_records():
    out = {"train": [], "valid": []}
    for split, n in (("train", 12), ("valid", 6)):
        for i in range(n):
            out[split].append((i % len(FINE), pixels(split, i)))
    return out


def add(tar, name, blob):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    tar.addfile(info, io.BytesIO(blob))


def write10(path):
    rec = cifar10_records()
    with tarfile.open(path, "w:gz") as tar:
        for b in range(5):
            blob = b"".join(bytes([lab]) + px for lab, px in rec["train"][2 * b:2 * b + 2])
            add(tar, "cifar-10-batches-bin/data_batch_%d.bin" % (b + 1), blob)
        add(tar, "cifar-10-batches-bin/test_batch.bin", b"".join(bytes([lab]) + px for lab, px in rec["valid"]))
        add(tar, "cifar-10-batches-bin/batches.meta.txt", ("\n".join(NAMES10) + "\n\n").encode())
        add(tar, "cifar-10-batches-bin/readme.html", b"<html></html>")


def write100(path):
    rec = cifar100_records()
    with tarfile.open(path, "w:gz") as tar:
        for split, name in (("train", "train.bin"), ("valid", "test.bin")):
            add(tar, "cifar-100-binary/" + name,
                b"".join(bytes([FINE_TO_COARSE[lab], lab]) + px for lab, px in rec[split]))
        add(tar, "cifar-100-binary/fine_label_names.txt", ("\n".join(FINE) + "\n").encode())
        add(tar, "cifar-100-binary/coarse_label_names.txt", ("\n".join(COARSE) + "\n").encode())


def verify(out, rec, names, relabel=lambda lab: lab):
    bad = 0
    for split in ("train", "valid"):
        paths = [l.strip() for l in open(os.path.join(out, split + ".list")) if l.strip()]
        if len(paths) != len(rec[split]):
            print("%s: %d paths, expected %d" % (split, len(paths), len(rec[split])))
            return 1
        for i, (path, (lab, px)) in enumerate(zip(paths, rec[split])):
            want = "%05d_%s.png" % (i, names[relabel(lab)].replace("_", "-"))
            if os.path.basename(path) != want:
                print("%s: %s, expected %s" % (split, os.path.basename(path), want))
                bad = 1
                continue
            w, h, c, got = read_png(path)
            planes = [px[k * 1024:(k + 1) * 1024] for k in range(3)]
            expect = bytes(planes[k][j] for j in range(1024) for k in range(3))
            if (w, h, c) != (32, 32, 3) or got != expect:
                print("%s: pixels differ (%dx%dx%d)" % (path, w, h, c))
                bad = 1
    return bad


def main():
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "write10":
        write10(arg)
    elif cmd == "write100":
        write100(arg)
    elif cmd == "verify10":
        sys.exit(verify(arg, cifar10_records(), NAMES10))
    elif cmd == "verify100":
        if "--coarse" in sys.argv:
            sys.exit(verify(arg, cifar100_records(), COARSE, lambda lab: FINE_TO_COARSE[lab]))
        sys.exit(verify(arg, cifar100_records(), FINE))
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
