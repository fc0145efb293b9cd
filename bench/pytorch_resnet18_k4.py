#!/usr/bin/python3
"""The PyTorch side of the CCNN ResNet-18-CIFAR K=4 training benchmark.

The network of cfg/resnet18-cifar-k4.cfg as tests/gpu/resnet18_gcconv_torch.py
writes it (GCConv builds H from w and R with autograd, then torch's conv2d),
trained on the CPU with SGD (momentum 0.9, weight decay 5e-4), R
calibrated and the weights perturbed after every step as CSGD does, on
random 32x32 images.  Prints one line: "images_per_s=<float> iterations=<n>".

usage: pytorch_resnet18_k4.py [--iterations N] [--threads T] [--batch B] [--warmup W]
"""
import os
import sys

import torch
import torch.nn.functional as F

import torch_timing

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gpu"))
from resnet18_gcconv_torch import CCNN18, GCConv  # noqa: E402


def main():
    ap = torch_timing.options(iterations=5, warmup=2, batch=32)
    ap.add_argument("--sigma", type=float, default=1e-4)
    a = ap.parse_args()
    torch_timing.start(a)
    net = CCNN18()
    net.train()
    gcs = [m for m in net.modules() if isinstance(m, GCConv)]
    weights = [m.w for m in gcs]
    opt = torch.optim.SGD(net.parameters(), lr=0.1 / a.batch, momentum=0.9, weight_decay=5e-4)
    pool = torch_timing.random_batches(a.batch, 32, 2)

    def loss_fn(out, y):
        return F.cross_entropy(out, y, reduction="sum")

    @torch.no_grad()
    def calibrate_and_perturb():
        for m in gcs:
            m.calibrate()
        for w in weights:
            w.add_(torch.randn_like(w), alpha=a.sigma)

    torch_timing.run(torch_timing.sgd_step(net, opt, loss_fn, pool, calibrate_and_perturb), a)


if __name__ == "__main__":
    main()
