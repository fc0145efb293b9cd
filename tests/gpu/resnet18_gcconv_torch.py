"""Training throughput of the CCNN ResNet-18-CIFAR (K=4) in PyTorch on CUDA.

The same network as cfg/resnet18-cifar-k4.cfg, written from the
formulas of docs/gcconv.md, for a throughput figure beside darknet's:

    python3 tests/gpu/resnet18_gcconv_torch.py [--batch 128] [--iters 30]

Prints one "BENCH torch ..." line.  Exits 3 when torch or CUDA is missing.
"""
import argparse
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("torch is not installed")
    sys.exit(3)


class GCConv(nn.Module):
    """[gcconv] with full mixing: H[o*K+k, c*K+m, p] = R[k,p] * w[o,c,m,p]."""

    def __init__(self, c_in, filters, size, stride, K, expand):
        super().__init__()
        self.K, self.stride, self.pad, self.expand = K, stride, size // 2, expand
        C = c_in if expand else c_in // K
        fan_in = C * K * size * size
        self.w = nn.Parameter(torch.randn(filters, C, K, size, size) * K * (2.0 / fan_in) ** 0.5)
        R = torch.rand(K, size, size) + 0.5
        self.R = nn.Parameter(R / R.sum(0, keepdim=True))
        self.bn = nn.BatchNorm2d(filters * K)

    def forward(self, x):
        K = self.K
        if self.expand:
            x = x.repeat_interleave(K, dim=1)
        N, C = self.w.shape[0], self.w.shape[1]
        H = (self.w[:, None] * self.R[None, :, None, None]).reshape(N * K, C * K, *self.w.shape[3:])
        return self.bn(F.conv2d(x, H, None, stride=self.stride, padding=self.pad))

    @torch.no_grad()
    def calibrate(self):
        """R = |R|, normalised over the branches at every pixel."""
        R = self.R.abs()
        s = R.sum(0, keepdim=True)
        self.R.copy_(torch.where(s > 1e-12, R / s.clamp_min(1e-12), torch.full_like(R, 1.0 / self.K)))


class Block(nn.Module):
    def __init__(self, c_in, filters, stride, K):
        super().__init__()
        self.a = GCConv(c_in, filters, 3, stride, K, False)
        self.b = GCConv(filters * K, filters, 3, 1, K, False)
        self.proj = GCConv(c_in, filters, 1, stride, K, False) if stride != 1 else None

    def forward(self, x):
        y = self.b(F.relu(self.a(x)))
        return F.relu(y + (self.proj(x) if self.proj is not None else x))


class CCNN18(nn.Module):
    def __init__(self, K=4, widths=(16, 16, 32, 64), classes=10):
        super().__init__()
        self.stem = GCConv(3, widths[0], 3, 1, K, True)
        blocks, c = [], widths[0] * K
        for i, f in enumerate(widths):
            for j in range(2):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(Block(c, f, stride, K))
                c = f * K
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(c, classes, 1)   # [convolutional] 1x1, then [avgpool]

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.head(x).mean((2, 3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--sigma", type=float, default=1e-4)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch has no CUDA device")
        sys.exit(3)
    dev = torch.device("cuda")
    torch.manual_seed(1)
    # full fp32, as darknet's gemm_gpu (no TF32 tensor-core shortcuts)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    net = CCNN18().to(dev)
    gcs = [m for m in net.modules() if isinstance(m, GCConv)]
    weights = [m.w for m in gcs]
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for m in gcs:
                m.calibrate()
            for w in weights:           # csgd weight noise
                w.add_(torch.randn_like(w), alpha=args.sigma)
        return loss

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(args.iters):
        step()
    torch.cuda.synchronize()
    secs = time.time() - t0
    print("BENCH torch CCNN ResNet-18-CIFAR K=4 batch=%d: %.1f img/s (training, %d iterations, %.1f ms each; %s, torch %s)"
          % (args.batch, args.iters * args.batch / secs, args.iters, 1000 * secs / args.iters,
             torch.cuda.get_device_name(0), torch.__version__))


if __name__ == "__main__":
    main()
