#!/usr/bin/python3
"""The PyTorch side of the cifar_small training benchmark.

Builds the same network as cfg/cifar_small.cfg (3x3 convolutions padded by 1,
1x1 without padding, batch norm and leaky ReLU with slope 0.1, the last 1x1
convolution with a bias and no batch norm, global average pooling, softmax
cross-entropy), and trains it with SGD (momentum 0.9, weight decay 5e-4) on
random 28x28 images, batch 128, the same way bench/train_bench.c trains the
Darknet cfg.  Prints one line: "images_per_s=<float> iterations=<n>".

With --png-list LIST (and --labels, the label file of the .data file) it
reads its batches from the PNG files of LIST instead, the way
`./darknet classifier train` does (bench/whole_command.sh): images drawn at
random with replacement, decoded (Pillow), cut to a random 28x28 window and
flipped half of the time, through a torch DataLoader with --workers worker
processes (default 1, which prepares the next batches while the network
trains, as Darknet's loader threads do; 0 decodes in the training process).

usage: pytorch_cifar_small.py [--iterations N] [--threads T] [--batch B] [--warmup W]
                              [--png-list LIST --labels FILE [--workers W]]
"""
import numpy as np
import torch
import torch.nn as nn
import torch.utils.data
from PIL import Image

import torch_timing


def block(cin, cout, k):
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout, eps=1e-6, momentum=0.01),
            nn.LeakyReLU(0.1)]


def cifar_small():
    layers = block(3, 32, 3) + [nn.MaxPool2d(2, 2)]
    layers += block(32, 16, 1) + block(16, 64, 3) + [nn.MaxPool2d(2, 2)]
    layers += block(64, 32, 1) + block(32, 128, 3) + block(128, 64, 1)
    layers += [nn.Conv2d(64, 10, 1), nn.LeakyReLU(0.1),
               nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


class PngFiles(torch.utils.data.Dataset):
    """The images of a Darknet list; the class is the label whose text the
    path contains (Darknet's rule)."""

    def __init__(self, list_file, label_file, size):
        self.paths = [l.strip() for l in open(list_file) if l.strip()]
        labels = [l.strip() for l in open(label_file) if l.strip()]
        self.classes = [next((k for k, t in enumerate(labels) if t in p), 0) for p in self.paths]
        self.size = size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            px = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        h, w, _ = px.shape
        y, x = np.random.randint(0, h - self.size + 1), np.random.randint(0, w - self.size + 1)
        px = px[y:y + self.size, x:x + self.size]
        if np.random.randint(2):
            px = px[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(px.transpose(2, 0, 1))), self.classes[i]


def png_batches(a):
    """An endless iterator of (images, labels) batches from the PNG files."""
    files = PngFiles(a.png_list, a.labels, 28)
    draws = (a.warmup + a.iterations) * a.batch
    sampler = torch.utils.data.RandomSampler(files, replacement=True, num_samples=draws)
    loader = torch.utils.data.DataLoader(files, batch_size=a.batch, sampler=sampler, num_workers=a.workers,
                                         drop_last=True)
    return iter(loader)


def main():
    ap = torch_timing.options(iterations=200, warmup=5, batch=128)
    ap.add_argument("--png-list", help="read the batches from these PNG files (a Darknet list)")
    ap.add_argument("--labels", help="with --png-list: the label file of the .data file")
    ap.add_argument("--workers", type=int, default=1, help="with --png-list: DataLoader worker processes")
    a = ap.parse_args()
    torch_timing.start(a)
    net = cifar_small()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1 / a.batch, momentum=0.9,
                          weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    if a.png_list:
        batches = png_batches(a)
        # each step takes the next batch the DataLoader has ready
        pool = _NextBatch(batches)
    else:
        # A fixed pool of random batches, as the Darknet harness uses.
        pool = torch_timing.random_batches(a.batch, 28, 4)
    torch_timing.run(torch_timing.sgd_step(net, opt, loss_fn, pool), a)


class _NextBatch:
    """Looks like the pool sgd_step indexes, but hands out the loader's
    batches in turn, whatever the index."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return next(self.batches)


if __name__ == "__main__":
    main()
