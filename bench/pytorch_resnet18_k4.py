#!/usr/bin/python3
"""The PyTorch side of the CCNN ResNet-18-CIFAR K=4 training benchmark.

The network of cfg/resnet18-cifar-k4.cfg as tests/gpu/resnet18_gcconv_torch.py
writes it (GCConv builds H from w and R with autograd, then torch's conv2d),
trained on the CPU with SGD (momentum 0.9, weight decay 5e-4), R
calibrated and the weights perturbed after every step as CSGD does, on
random 32x32 images.  Prints one line: "images_per_s=<float> iterations=<n>".

usage: pytorch_resnet18_k4.py [--iterations N] [--threads T] [--batch B] [--warmup W]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gpu"))
from resnet18_gcconv_torch import CCNN18, GCConv  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sigma", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = CCNN18()
    net.train()
    gcs = [m for m in net.modules() if isinstance(m, GCConv)]
    weights = [m.w for m in gcs]
    opt = torch.optim.SGD(net.parameters(), lr=0.1 / a.batch, momentum=0.9, weight_decay=5e-4)
    pool = [(torch.rand(a.batch, 3, 32, 32), torch.randint(0, 10, (a.batch,))) for _ in range(2)]

    def step(i):
        x, y = pool[i % len(pool)]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y, reduction="sum")
        loss.backward()
        opt.step()
        with torch.no_grad():
            for m in gcs:
                m.calibrate()
            for w in weights:
                w.add_(torch.randn_like(w), alpha=a.sigma)

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.iterations):
        step(i)
    dt = time.perf_counter() - t0
    print("images_per_s=%.1f iterations=%d" % (a.iterations * a.batch / dt, a.iterations))


if __name__ == "__main__":
    main()
