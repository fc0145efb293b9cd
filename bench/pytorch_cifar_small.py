#!/usr/bin/python3
"""The PyTorch side of the cifar_small training benchmark.

Builds the same network as cfg/cifar_small.cfg (3x3 convolutions padded by 1,
1x1 without padding, batch norm and leaky ReLU with slope 0.1, the last 1x1
convolution with a bias and no batch norm, global average pooling, softmax
cross-entropy), and trains it with SGD (momentum 0.9, weight decay 5e-4) on
random 28x28 images, batch 128, the same way bench/train_bench.c trains the
Darknet cfg.  Prints one line: "images_per_s=<float> iterations=<n>".

usage: pytorch_cifar_small.py [--iterations N] [--threads T] [--batch B] [--warmup W]
"""
import torch
import torch.nn as nn

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


def main():
    a = torch_timing.options(iterations=200, warmup=5, batch=128).parse_args()
    torch_timing.start(a)
    net = cifar_small()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1 / a.batch, momentum=0.9,
                          weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    # A fixed pool of random batches, as the Darknet harness uses.
    pool = torch_timing.random_batches(a.batch, 28, 4)
    torch_timing.run(torch_timing.sgd_step(net, opt, loss_fn, pool), a)


if __name__ == "__main__":
    main()
