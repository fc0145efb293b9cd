"""Reference [gcconv] in PyTorch, from the formulas of SPEC section 2.

Usage: gcconv_ref.py CASES_IN RESULTS_OUT

CASES_IN holds cases one after another, little-endian:
    int32 K, c, N, size, stride, pad, mixing (0 full, 1 branch), expand, batch, h, w
    float32 x[batch, c, h, w], w[...], R[K, size, size], bias[N*K], gout[batch, N*K, oh, ow]
w is (N, C, K, s, s) for full mixing and (N, C, s, s) for branch mixing,
where C = c with expand and c/K without.

For each case RESULTS_OUT gets float64 arrays: out, dL/dx, dL/dw, dL/dR,
dL/dbias, with L = sum(out * gout) and a linear activation.
"""
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HEADER = struct.Struct("<11i")


def read_floats(f, count, shape):
    data = np.frombuffer(f.read(4 * count), dtype="<f4")
    if data.size != count:
        raise SystemExit("gcconv_ref: cases file ends early")
    return torch.tensor(data.astype(np.float64)).reshape(shape).requires_grad_(True)


def forward(x, w, R, bias, K, stride, pad, full, expand):
    # Interleaved layout: channel c*K + m is plane c of branch m.
    xin = x.repeat_interleave(K, dim=1) if expand else x
    if full:
        # H[o*K+k, c*K+m, p] = R[k,p] * w[o,c,m,p]
        N, C = w.shape[0], w.shape[1]
        H = w[:, None] * R[None, :, None, None]          # (N, K, C, K, s, s)
        H = H.reshape(N * K, C * K, *w.shape[3:])
        return F.conv2d(xin, H, bias, stride=stride, padding=pad)
    # branch k: input channels c*K+k, H_k[o, c, p] = R[k,p] * w[o,c,p], outputs o*K+k
    outs = [F.conv2d(xin[:, k::K], R[k] * w, None, stride=stride, padding=pad) for k in range(K)]
    out = torch.stack(outs, dim=2)                       # (B, N, K, oh, ow)
    out = out.reshape(out.shape[0], -1, *out.shape[3:])
    return out + bias[None, :, None, None]


def run_case(f, g, header):
    K, c, N, s, stride, pad, mixing, expand, batch, h, w_ = header
    full = mixing == 0
    C = c if expand else c // K
    oh = (h + 2 * pad - s) // stride + 1
    ow = (w_ + 2 * pad - s) // stride + 1
    x = read_floats(f, batch * c * h * w_, (batch, c, h, w_))
    wshape = (N, C, K, s, s) if full else (N, C, s, s)
    w = read_floats(f, int(np.prod(wshape)), wshape)
    R = read_floats(f, K * s * s, (K, s, s))
    bias = read_floats(f, N * K, (N * K,))
    gout = read_floats(f, batch * N * K * oh * ow, (batch, N * K, oh, ow)).detach()
    out = forward(x, w, R, bias, K, stride, pad, full, expand)
    (out * gout).sum().backward()
    for t in (out.detach(), x.grad, w.grad, R.grad, bias.grad):
        g.write(t.numpy().astype("<f8").tobytes())


def main():
    with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as g:
        while True:
            raw = f.read(HEADER.size)
            if not raw:
                break
            run_case(f, g, HEADER.unpack(raw))


if __name__ == "__main__":
    main()
