#!/usr/bin/python3
"""Writes a synthetic CIFAR-10 in the official binary layout (a folder with
data_batch_1.bin ... data_batch_5.bin, test_batch.bin and batches.meta.txt),
for scripts/cifar.py to convert into 32x32 PNG files: the whole-command
benchmark (bench/whole_command.sh) trains from those files.

Each image is a smooth random picture (an 8x8 random image scaled up, plus
a little noise), so that its PNG is about the size of a real CIFAR PNG
(2-3 kB) and costs the decoder about as much.

usage: synthetic_cifar.py OUT [--train N] [--test N] [--seed S]
"""
import argparse
import os

import numpy as np

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def images(rng, n):
    coarse = rng.integers(0, 256, size=(n, 3, 8, 8)).astype(np.float32)
    up = coarse.repeat(4, axis=2).repeat(4, axis=3)
    noise = rng.normal(0, 12, size=up.shape)
    return np.clip(up + noise, 0, 255).astype(np.uint8).reshape(n, 3072)


def write_batch(path, rng, n):
    labels = rng.integers(0, 10, size=(n, 1)).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(np.concatenate([labels, images(rng, n)], axis=1).tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=5000)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for b in range(5):   # the train images spread over the five batch files
        write_batch(os.path.join(a.out, "data_batch_%d.bin" % (b + 1)), rng,
                    (b + 1) * a.train // 5 - b * a.train // 5)
    write_batch(os.path.join(a.out, "test_batch.bin"), rng, a.test)
    with open(os.path.join(a.out, "batches.meta.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")


if __name__ == "__main__":
    main()
