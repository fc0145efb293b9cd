"""Reference RoIAlign and RoIPool (max) in numpy, written from the definitions
that src/rcnn/roi_pool.h states, for tests/cli/test_roi_pool_ref.sh.

Usage:
    roi_align_ref.py make CASES [--seed N] [--count N]
        writes random cases (the format of tests/tools/roi_pool_run.c)
    roi_align_ref.py check CASES RESULTS --only align|max
        recomputes every case of that mode and compares with RESULTS (what
        roi_pool_run wrote); exits 1 on any difference beyond the tolerance
    roi_align_ref.py corrupt CASES RESULTS OUT
        copies RESULTS to OUT with one align output changed by a relative
        1e-3, to show that check notices

Align is computed as a matrix per ROI: row (bin) i holds the weights that
bin's four bilinear samples, /4, give to each pixel of the plane; the
forward pass is M @ plane and the backward pass M.T @ gradient.  The ROI's
geometry (scaled corners, bin sizes, sample positions) is single precision,
as in the definition; the weights and sums are double precision.

Tolerances: align, 1e-5 + 1e-5 * |reference| on outputs and feature
gradients (single against double precision); max, outputs and argmax exact,
feature gradients 1e-5 + 1e-5 * |reference| (gradients that meet at one
pixel are summed in a different precision).
"""
import argparse
import math
import struct
import sys

import numpy as np

F32 = np.float32
COORD_LIMIT = F32(16777216.0)
HEAD = struct.Struct("<7if")
ROI = np.dtype([("image", "<i4"), ("box", "<f4", (4,))])
TOL = 1e-5


def usable(roi, batch, scale):
    if not 0 <= roi["image"] < batch:
        return False
    for v in roi["box"]:
        if not np.isfinite(v) or abs(F32(v) * scale) > COORD_LIMIT:
            return False
    return True


def add_sample(row, y, x, h, w):
    """Adds the bilinear weights of a sample at (y, x) to one bin's row."""
    if not (-1 <= y <= h and -1 <= x <= w):
        return
    y, x = max(float(y), 0.0), max(float(x), 0.0)
    r0, c0 = int(math.floor(y)), int(math.floor(x))
    if r0 >= h - 1:
        r0 = r1 = h - 1
        y = float(r0)
    else:
        r1 = r0 + 1
    if c0 >= w - 1:
        c0 = c1 = w - 1
        x = float(c0)
    else:
        c1 = c0 + 1
    ly, lx = y - r0, x - c0
    for r, wy in ((r0, 1 - ly), (r1, ly)):
        for c, wx in ((c0, 1 - lx), (c1, lx)):
            row[r * w + c] += wy * wx / 4


def align_matrix(roi, h, w, scale, S):
    x1, y1, x2, y2 = (F32(v) for v in roi["box"])
    x0, y0 = x1 * scale, y1 * scale
    rw = max(x2 * scale - x0, F32(1))
    rh = max(y2 * scale - y0, F32(1))
    bw, bh = rw / F32(S), rh / F32(S)
    m = np.zeros((S * S, h * w))
    for i in range(S):
        for j in range(S):
            for sy in (0, 1):
                y = y0 + (F32(i) + F32(0.25) + F32(0.5) * F32(sy)) * bh
                for sx in (0, 1):
                    x = x0 + (F32(j) + F32(0.25) + F32(0.5) * F32(sx)) * bw
                    add_sample(m[i * S + j], y, x, h, w)
    return m


def half_away(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def max_edges(a, b, S, extent):
    """Bin edges [lo, hi) along one axis, exact integer floor and ceil."""
    span = max(b - a + 1, 1)
    clip = lambda v: min(max(v, 0), extent)
    return [(clip(a + (j * span) // S), clip(a - ((-(j + 1) * span) // S))) for j in range(S)]


def max_roi(planes, roi, scale, S):
    """Max and argmax (plane offset, -1 when empty) of each channel's bins."""
    c, h, w = planes.shape
    x1, y1, x2, y2 = (half_away(float(F32(v) * scale)) for v in roi["box"])
    rows, cols = max_edges(y1, y2, S, h), max_edges(x1, x2, S, w)
    out = np.zeros((c, S * S))
    at = np.full((c, S * S), -1, dtype=np.int64)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            if r1 <= r0 or c1 <= c0:
                continue
            block = planes[:, r0:r1, c0:c1].reshape(c, -1)
            k = np.argmax(block, axis=1)          # the first largest, row-major
            out[:, i * S + j] = block[np.arange(c), k]
            at[:, i * S + j] = (r0 + k // (c1 - c0)) * w + c0 + k % (c1 - c0)
    return out, at


def reference(case):
    """(out, argmax or None, feature delta) in float64, by the definitions."""
    mode, batch, c, h, w, S, n, scale = case["head"]
    scale = F32(scale)
    feats, rois, g = case["features"], case["rois"], case["out_delta"]
    out = np.zeros((n, c, S * S))
    at = np.full((n, c, S * S), -1, dtype=np.int64)
    delta = np.zeros((batch, c, h * w))
    for r in range(n):
        if not usable(rois[r], batch, scale):
            continue
        b = rois[r]["image"]
        planes = feats[b].astype(np.float64)
        if mode == 1:
            m = align_matrix(rois[r], h, w, scale, S)
            out[r] = planes.reshape(c, -1) @ m.T
            delta[b] += g[r] @ m
        else:
            out[r], at[r] = max_roi(planes, rois[r], scale, S)
            for ch in range(c):
                for k in np.nonzero(at[r, ch] >= 0)[0]:
                    delta[b, ch, at[r, ch, k]] += g[r, ch, k]
    return out, (at if mode == 0 else None), delta


def random_rois(rng, n, batch, h, w, scale):
    iw, ih = w / scale, h / scale
    rois = np.zeros(n, dtype=ROI)
    for i in range(n):
        x1 = rng.uniform(-0.3 * iw, 1.1 * iw)
        y1 = rng.uniform(-0.3 * ih, 1.1 * ih)
        # Some tiny (below one feature pixel), some reversed.
        x2 = x1 + rng.uniform(-0.1, 1.0) * iw * rng.choice([0.05, 1.0])
        y2 = y1 + rng.uniform(-0.1, 1.0) * ih * rng.choice([0.05, 1.0])
        rois[i] = (rng.integers(batch), (x1, y1, x2, y2))
    # The unusable kinds: each must give zeros.
    specials = [(batch, (0, 0, iw, ih)), (0, (np.nan, 0, iw, ih)),
                (0, (0, 0, np.inf, ih)), (0, (-1e30, -1e30, 1e30, 1e30)),
                (0, (10 * iw, 10 * ih, 12 * iw, 12 * ih))]
    for k, special in enumerate(specials[: max(n // 4, 1)]):
        rois[(3 * k + 1) % n] = special
    return rois


def make(args):
    rng = np.random.default_rng(args.seed)
    with open(args.cases, "wb") as f:
        f.write(struct.pack("<i", args.count))
        for k in range(args.count):
            mode = k % 2
            batch, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
            h, w = (int(v) for v in rng.integers(1, 21, size=2))
            S = int(rng.choice([1, 2, 3, 7, 14]))
            scale = float(rng.choice([1 / 16, 1 / 8, 0.25, 0.3, 1.0]))
            n = int(rng.integers(1, 17))
            f.write(HEAD.pack(mode, batch, c, h, w, S, n, scale))
            f.write(rng.standard_normal(batch * c * h * w).astype("<f4").tobytes())
            f.write(random_rois(rng, n, batch, h, w, scale).tobytes())
            f.write(rng.standard_normal(n * c * S * S).astype("<f4").tobytes())


def read(f, dtype, count):
    data = np.frombuffer(f.read(np.dtype(dtype).itemsize * count), dtype=dtype)
    if data.size != count:
        raise SystemExit("roi_align_ref: file ends early")
    return data


def read_cases(path):
    with open(path, "rb") as f:
        (count,) = struct.unpack("<i", f.read(4))
        for _ in range(count):
            head = HEAD.unpack(f.read(HEAD.size))
            mode, batch, c, h, w, S, n, _scale = head
            yield {"head": head,
                   "features": read(f, "<f4", batch * c * h * w).reshape(batch, c, h, w),
                   "rois": read(f, ROI, n),
                   "out_delta": read(f, "<f4", n * c * S * S).reshape(n, c, S * S)}


def read_result(f, case):
    mode, batch, c, h, w, S, n, _scale = case["head"]
    outs = n * c * S * S
    out = read(f, "<f4", outs).reshape(n, c, S * S)
    at = read(f, "<i4", outs).reshape(n, c, S * S) if mode == 0 else None
    return out, at, read(f, "<f4", batch * c * h * w).reshape(batch, c, h * w)


def worst(got, want):
    """The largest error relative to the tolerance: above 1 fails."""
    if want.size == 0:
        return 0.0
    return float(np.max(np.abs(got.astype(np.float64) - want) / (TOL + TOL * np.abs(want))))


def check(args):
    mode_wanted = {"max": 0, "align": 1}[args.only]
    bad, seen = 0, 0
    with open(args.results, "rb") as f:
        for k, case in enumerate(read_cases(args.cases)):
            got = read_result(f, case)
            if case["head"][0] != mode_wanted:
                continue
            seen += 1
            out, at, delta = reference(case)
            problems = []
            if mode_wanted == 0:
                if not np.array_equal(got[0], out):
                    problems.append("outputs differ")
                if not np.array_equal(got[1], at):
                    problems.append("argmax differs")
            elif worst(got[0], out) > 1:
                problems.append("outputs off by %.3g tolerances" % worst(got[0], out))
            if worst(got[2], delta) > 1:
                problems.append("feature gradient off by %.3g tolerances" % worst(got[2], delta))
            bad += bool(problems)
            margin = max(worst(got[0], out), worst(got[2], delta))
            print("%s case %d %s: %s (largest error %.3g of the tolerance)"
                  % (args.only, k, case["head"][:7], "; ".join(problems) or "ok", margin))
    print("%s: %d cases, %d differ" % (args.only, seen, bad))
    return 1 if bad or not seen else 0


def corrupt(args):
    with open(args.results, "rb") as f:
        data = bytearray(f.read())
    # Case 1 is align (make alternates the modes), its output comes after
    # case 0's results.
    cases = list(read_cases(args.cases))
    offset = 0
    mode, batch, c, h, w, S, n, _scale = cases[0]["head"]
    offset += 4 * (2 * n * c * S * S + batch * c * h * w)
    mode1, _, c1, _, _, S1, n1, _ = cases[1]["head"]
    assert mode == 0 and mode1 == 1
    values = np.frombuffer(bytes(data[offset:offset + 4 * n1 * c1 * S1 * S1]), dtype="<f4").copy()
    k = int(np.argmax(np.abs(values)))
    values[k] += F32(1e-3) * max(F32(1), abs(values[k]))
    data[offset:offset + values.nbytes] = values.tobytes()
    with open(args.out, "wb") as f:
        f.write(data)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("cases")
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--count", type=int, default=40)
    c = sub.add_parser("check")
    c.add_argument("cases")
    c.add_argument("results")
    c.add_argument("--only", choices=["align", "max"], required=True)
    k = sub.add_parser("corrupt")
    k.add_argument("cases")
    k.add_argument("results")
    k.add_argument("out")
    args = p.parse_args()
    return {"make": make, "check": check, "corrupt": corrupt}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
