"""Reference two-stage box mathematics in numpy, from the conventions of
docs/detection.md ("Two-stage detection: box mathematics"), to check
src/rcnn/rcnn_boxes.c on random inputs.

Usage:
    rcnn_boxes_ref.py write CASES [SEED]    write random cases
    rcnn_boxes_ref.py check CASES RESULTS   compare the C results with this
                                            reference; prints PASS/FAIL lines

The C results come from `build/tests/test_rcnn_boxes --dump CASES RESULTS`.
Both files are whitespace-separated words with a keyword before each block:

    cases N
    then per case:
      anchors NS size*NS NR ratio*NR STRIDE H W
      image IMG_W IMG_H
      truths NT (x1 y1 x2 y2)*NT
      encode WX WY WW WH N (ref box, target box)*N
      decode WX WY WW WH N (ref box, dx dy dw dh)*N
      nms N THRESH MAX_KEEP TOP (x1 y1 x2 y2 score)*N

Every number is a float32 written with 9 significant digits, so that both
sides read the same bits.  The reference computes in float64 from those
float32 inputs.  Tolerances:
    anchors            1e-3 px (float32 rounding of coordinates below 2048
                       is at most 1.2e-4)
    IoU                1e-6
    encoding           1e-5 * (1 + |value|)
    decoding, clipping 1e-4 px + 1e-5 * |value|
    anchor labels, matched truths, encoding status, NMS and top-N indices:
                       exact.
The anchor labels are computed from the anchors the C side wrote, so that a
tie between two anchors is a tie on both sides.
"""
import math
import sys

import numpy as np

POS_IOU, NEG_IOU = np.float32(0.7), np.float32(0.3)
CLAMP = math.log(1000.0 / 16.0)
RPN_BATCH, ROI_BATCH = 256, 128   # anchors and RoIs sampled per image


# ---- the reference -----------------------------------------------------------

def make_anchors(sizes, ratios, stride, h, w):
    """(h*w*A, 4): cell (y, x) centred at ((x+.5)s, (y+.5)s); per cell the
    ratios vary slowest, then the sizes; a ratio is height over width."""
    sizes = np.asarray(sizes, np.float64)
    ratios = np.asarray(ratios, np.float64)
    widths = (sizes[None, :] / np.sqrt(ratios)[:, None]).ravel()
    heights = (sizes[None, :] * np.sqrt(ratios)[:, None]).ravel()
    cy, cx = np.meshgrid((np.arange(h) + 0.5) * stride, (np.arange(w) + 0.5) * stride, indexing="ij")
    cx = cx[:, :, None]
    cy = cy[:, :, None]
    boxes = np.stack([cx - widths / 2, cy - heights / 2, cx + widths / 2, cy + heights / 2], axis=-1)
    return boxes.reshape(-1, 4)


def usable(b):
    b = np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(b).all(axis=-1) & (b[..., 2] > b[..., 0]) & (b[..., 3] > b[..., 1])


def iou_matrix(a, b):
    """float32 IoU of every row of a with every row of b, computed in float64;
    0 for an unusable box."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    out = np.zeros((len(a), len(b)), np.float32)
    if len(a) == 0 or len(b) == 0:
        return out
    ok = usable(a)[:, None] & usable(b)[None, :]
    with np.errstate(invalid="ignore"):
        iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
        ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
        ok &= (iw > 0) & (ih > 0)
        inter = iw * ih
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        union = (area_a[:, None] + area_b[None, :]) - inter
        iou = np.where(ok, inter / np.where(ok, union, 1.0), 0.0)
    return iou.astype(np.float32)


def rpn_labels(anchors, truths, img_w, img_h, border=0.0):
    """Labels (1 positive, 0 negative, -1 ignored) and matched truth indices."""
    n = len(anchors)
    labels = np.full(n, -1, np.int64)
    matched = np.full(n, -1, np.int64)
    a = np.asarray(anchors, np.float64)
    with np.errstate(invalid="ignore"):
        inside = usable(a) & (a[:, 0] >= -border) & (a[:, 1] >= -border) \
            & (a[:, 2] <= img_w + border) & (a[:, 3] <= img_h + border)
    good = np.flatnonzero(usable(truths)) if len(truths) else np.zeros(0, np.int64)
    if len(good) == 0:
        labels[inside] = 0
        return labels, matched
    iou = iou_matrix(a, np.asarray(truths)[good])
    iou[~inside] = 0
    best = iou.max(axis=1)
    matched[inside] = good[iou.argmax(axis=1)][inside]
    labels[inside & (best < NEG_IOU)] = 0
    for k in range(len(good)):
        top = iou[inside, k].max() if inside.any() else 0
        if top > 0:
            labels[inside & (iou[:, k] == top)] = 1
    labels[inside & (best >= POS_IOU)] = 1
    return labels, matched


def fix_weights(wt):
    return [float(w) if math.isfinite(w) and w > 0 else 1.0 for w in wt]


def encode(ref, target, wt):
    """(status, d[4]): status -1 and zeros when either box is unusable."""
    if not (usable(ref) and usable(target)):
        return -1, np.zeros(4)
    wx, wy, ww, wh = fix_weights(wt)
    r = np.asarray(ref, np.float64)
    t = np.asarray(target, np.float64)
    rw, rh = r[2] - r[0], r[3] - r[1]
    tw, th = t[2] - t[0], t[3] - t[1]
    return 0, np.array([wx * ((t[0] + tw / 2) - (r[0] + rw / 2)) / rw,
                        wy * ((t[1] + th / 2) - (r[1] + rh / 2)) / rh,
                        ww * math.log(tw / rw), wh * math.log(th / rh)])


def decode(ref, d, wt):
    r = np.asarray(ref, np.float64)
    if not usable(r):
        return r.copy()
    wx, wy, ww, wh = fix_weights(wt)
    d = [float(v) if math.isfinite(v) else 0.0 for v in d]
    rw, rh = r[2] - r[0], r[3] - r[1]
    cx = d[0] / wx * rw + r[0] + rw / 2
    cy = d[1] / wy * rh + r[1] + rh / 2
    pw = math.exp(min(d[2] / ww, CLAMP)) * rw
    ph = math.exp(min(d[3] / wh, CLAMP)) * rh
    return np.array([cx - pw / 2, cy - ph / 2, cx + pw / 2, cy + ph / 2])


def clip(box, img_w, img_h):
    hi = np.array([img_w, img_h, img_w, img_h], np.float64)
    b = np.asarray(box, np.float64)
    return np.where(np.isnan(b), 0.0, np.minimum(np.maximum(b, 0.0), hi))


def score_order(scores, boxes=None):
    """Indices by falling score, ties by index; NaN scores (and unusable
    boxes, when given) left out."""
    ok = ~np.isnan(scores)
    if boxes is not None:
        ok &= usable(boxes)
    idx = np.flatnonzero(ok)
    return idx[np.argsort(-scores[idx].astype(np.float64), kind="stable")]


def nms(boxes, scores, thresh, max_keep):
    order = list(score_order(scores, boxes))
    keep = []
    while order and (max_keep <= 0 or len(keep) < max_keep):
        i = order.pop(0)
        keep.append(i)
        if order:
            overlap = iou_matrix(boxes[i:i + 1], boxes[order])[0]
            order = [j for j, o in zip(order, overlap) if not o > np.float32(thresh)]
    return keep


# ---- random cases ------------------------------------------------------------

def random_box(rng, img_w, img_h, lo, hi):
    w, h = rng.uniform(lo, hi), rng.uniform(lo, hi)
    # mostly inside the image, some a little across its border
    x = rng.uniform(-0.1 * w, max(img_w - 0.9 * w, -0.1 * w))
    y = rng.uniform(-0.1 * h, max(img_h - 0.9 * h, -0.1 * h))
    return [x, y, x + w, y + h]


def random_truths(rng, anchors, stride, img_w, img_h):
    truths = [random_box(rng, img_w, img_h, 8, 0.7 * min(img_w, img_h))
              for _ in range(rng.integers(1, 8))]
    # a truth equal to an anchor, and one spanning an anchor and its right
    # neighbour of the same shape, which the two tie on
    a = anchors[rng.integers(len(anchors))]
    truths.append(list(a))
    truths.append([a[0], a[1], a[2] + stride, a[3]])
    bad = [[5, 5, 5, 9], [20, 10, 10, 30], [float("nan"), 0, 10, 10]]
    truths.append(bad[rng.integers(3)])
    rng.shuffle(truths)
    return truths


def random_case(rng):
    sizes = [[32, 64, 128], [64, 128, 256, 512], [16, 48]][rng.integers(3)]
    ratios = [[0.5, 1, 2], [1], [0.5, 1, 2, 3]][rng.integers(3)]
    stride = [8, 16][rng.integers(2)]
    h, w = int(rng.integers(5, 15)), int(rng.integers(5, 15))
    img_w, img_h = w * stride - rng.integers(0, stride), h * stride - rng.integers(0, stride)
    anchors = make_anchors(sizes, ratios, stride, h, w).astype(np.float32)
    truths = random_truths(rng, anchors, stride, img_w, img_h)
    weights = [[1, 1, 1, 1], [10, 10, 5, 5]]
    pairs = [random_box(rng, img_w, img_h, 2, 200) + random_box(rng, img_w, img_h, 2, 200)
             for _ in range(200)]
    pairs[3][2] = pairs[3][0]           # an empty reference
    pairs[7][5] = float("inf")          # a non-finite target
    deltas = [random_box(rng, img_w, img_h, 2, 200) + list(rng.normal(0, 1.5, 4)) for _ in range(200)]
    deltas[0][4:] = [0, 0, 30, 30]      # past the clamp
    deltas[1][4:] = [float("nan"), 1, float("inf"), -float("inf")]
    centres = [random_box(rng, img_w, img_h, 10, 120) for _ in range(12)]
    boxes = []
    for _ in range(300):
        c = np.array(centres[rng.integers(len(centres))])
        boxes.append(list(c + rng.normal(0, 6, 4)))
    scores = list(np.round(rng.uniform(0, 1, 300), 2))   # two decimals: many ties
    scores[5] = float("nan")
    boxes[9] = [4, 4, 3, 8]
    return {"sizes": sizes, "ratios": ratios, "stride": stride, "h": h, "w": w,
            "img": [img_w, img_h], "truths": truths,
            "enc_w": weights[rng.integers(2)], "pairs": pairs,
            "dec_w": weights[rng.integers(2)], "deltas": deltas,
            "boxes": boxes, "scores": scores, "thresh": [0.3, 0.5, 0.7][rng.integers(3)],
            "max_keep": [0, 25][rng.integers(2)], "top": int(rng.integers(1, 120))}


def fmt(v):
    return "%.9g" % float(np.float32(v))


def write_cases(path, seed, n=8):
    rng = np.random.default_rng(seed)
    words = ["cases", str(n)]
    for _ in range(n):
        c = random_case(rng)
        words += ["anchors", str(len(c["sizes"]))] + [fmt(v) for v in c["sizes"]]
        words += [str(len(c["ratios"]))] + [fmt(v) for v in c["ratios"]]
        words += [fmt(c["stride"]), str(c["h"]), str(c["w"])]
        words += ["image"] + [fmt(v) for v in c["img"]]
        words += ["truths", str(len(c["truths"]))] + [fmt(v) for t in c["truths"] for v in t]
        words += ["encode"] + [fmt(v) for v in c["enc_w"]] + [str(len(c["pairs"]))]
        words += [fmt(v) for p in c["pairs"] for v in p]
        words += ["decode"] + [fmt(v) for v in c["dec_w"]] + [str(len(c["deltas"]))]
        words += [fmt(v) for p in c["deltas"] for v in p]
        words += ["nms", str(len(c["boxes"])), fmt(c["thresh"]), str(c["max_keep"]), str(c["top"])]
        words += [fmt(v) for b, s in zip(c["boxes"], c["scores"]) for v in b + [s]]
    with open(path, "w") as f:
        f.write(" ".join(words) + "\n")


# ---- reading both files ------------------------------------------------------

class Words:
    def __init__(self, path):
        with open(path) as f:
            self.words = f.read().split()
        self.at = 0

    def word(self, expected=None):
        w = self.words[self.at]
        self.at += 1
        if expected is not None and w != expected:
            raise SystemExit("rcnn_boxes_ref: expected '%s', found '%s' at word %d" % (expected, w, self.at))
        return w

    def int(self):
        return int(self.word())

    def floats(self, n, shape=None):
        v = np.array([float(self.word()) for _ in range(n)], np.float32)
        return v.reshape(shape) if shape else v


def read_case(w):
    c = {}
    w.word("anchors")
    c["sizes"] = w.floats(w.int())
    c["ratios"] = w.floats(w.int())
    c["stride"] = float(w.word())
    c["h"], c["w"] = w.int(), w.int()
    w.word("image")
    c["img"] = w.floats(2)
    w.word("truths")
    nt = w.int()
    c["truths"] = w.floats(4 * nt, (nt, 4))
    w.word("encode")
    c["enc_w"] = w.floats(4)
    n = w.int()
    c["pairs"] = w.floats(8 * n, (n, 8))
    w.word("decode")
    c["dec_w"] = w.floats(4)
    n = w.int()
    c["deltas"] = w.floats(8 * n, (n, 8))
    w.word("nms")
    n = w.int()
    c["thresh"] = np.float32(float(w.word()))
    c["max_keep"], c["top"] = w.int(), w.int()
    rows = w.floats(5 * n, (n, 5))
    c["boxes"], c["scores"] = rows[:, :4], rows[:, 4]
    return c


def read_result(w, index):
    r = {}
    w.word("case")
    if w.int() != index:
        raise SystemExit("rcnn_boxes_ref: results out of order")
    w.word("anchors")
    n = w.int()
    r["anchors"] = w.floats(4 * n, (n, 4))
    w.word("iou")
    r["iou"] = w.floats(w.int())
    w.word("labels")
    n = w.int()
    lm = np.array([int(w.word()) for _ in range(2 * n)]).reshape(n, 2)
    r["labels"], r["matched"] = lm[:, 0], lm[:, 1]
    w.word("sampled")
    n, r["n_pos"], r["n_neg"] = w.int(), w.int(), w.int()
    r["sampled"] = np.array([w.int() for _ in range(n)])
    w.word("rois")
    n = w.int()
    rows = w.floats(5 * n, (n, 5))
    r["roi_labels"], r["rois"] = rows[:, 0].astype(int), rows[:, 1:]
    w.word("encode")
    n = w.int()
    rows = w.floats(5 * n, (n, 5))
    r["enc_status"], r["enc"] = rows[:, 0].astype(int), rows[:, 1:]
    w.word("decode")
    n = w.int()
    rows = w.floats(8 * n, (n, 8))
    r["dec"], r["clip"] = rows[:, :4], rows[:, 4:]
    w.word("nms")
    r["nms"] = [w.int() for _ in range(w.int())]
    w.word("top")
    r["top"] = [w.int() for _ in range(w.int())]
    return r


# ---- the comparison ----------------------------------------------------------

class Checks:
    def __init__(self):
        self.problems = {}

    def note(self, name, problem):
        self.problems.setdefault(name, [])
        if problem:
            self.problems[name].append(problem)

    def close(self, name, case, got, want, atol, rtol):
        got = np.asarray(got, np.float64)
        want = np.asarray(want, np.float64)
        if got.shape != want.shape:
            self.note(name, "case %d: shape %s, expected %s" % (case, got.shape, want.shape))
            return
        err = np.abs(got - want)
        bad = ~(err <= atol + rtol * np.abs(want))
        bad &= ~(np.isnan(got) & np.isnan(want))
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            self.note(name, "case %d: %d values off, first at %d: %.9g, expected %.9g" % (
                case, bad.sum(), i, got.ravel()[i], want.ravel()[i]))
        else:
            self.note(name, None)

    def equal(self, name, case, got, want):
        got, want = list(np.asarray(got).ravel()), list(np.asarray(want).ravel())
        if got != want:
            first = next((i for i, (g, e) in enumerate(zip(got, want)) if g != e), min(len(got), len(want)))
            self.note(name, "case %d: %d entries against %d, first difference at %d" % (
                case, len(got), len(want), first))
        else:
            self.note(name, None)

    def report(self):
        failed = 0
        for name, problems in self.problems.items():
            if problems:
                failed += 1
                print("FAIL %s: %s" % (name, "; ".join(problems[:3])))
            else:
                print("PASS %s" % name)
        return failed


def check_anchor_sample(chk, i, labels, r):
    """At most 256 * 0.5 positives and 256 minus those negatives, drawn from
    the reference's own labels; everything else ignored."""
    pos, neg = int((labels == 1).sum()), int((labels == 0).sum())
    want_pos = min(pos, int(RPN_BATCH * 0.5))
    want_neg = min(neg, RPN_BATCH - want_pos)
    s = r["sampled"]
    chk.equal("ref_rpn_sample_counts", i, [r["n_pos"], r["n_neg"], int((s == 1).sum()), int((s == 0).sum())],
              [want_pos, want_neg, want_pos, want_neg])
    chk.equal("ref_rpn_sample_subset", i, bool(np.all((s == -1) | (s == labels))), True)


def check_roi_sample(chk, i, proposals, truths, r):
    """Candidates: usable proposals, then usable truths (truth k has class
    k % 3).  At most round(128 * 0.25) foreground (best IoU >= 0.5) and 128
    minus those background; each kept RoI labelled by its best truth."""
    t = np.asarray(truths, np.float64).reshape(-1, 4)
    good = np.flatnonzero(usable(t)) if len(t) else np.zeros(0, np.int64)
    cand = np.concatenate([np.asarray(proposals)[usable(proposals)], t[good]])
    best = iou_matrix(cand, t[good]).max(axis=1) if len(good) else np.zeros(len(cand), np.float32)
    fg, bg = int((best >= 0.5).sum()), int((best < 0.5).sum())
    want_fg = min(fg, int(round(ROI_BATCH * 0.25)))
    want_bg = min(bg, ROI_BATCH - want_fg)
    got = r["roi_labels"]
    chk.equal("ref_roi_sample_counts", i, [len(got), int((got > 0).sum())], [want_fg + want_bg, want_fg])
    want = []
    for roi in r["rois"]:
        ious = iou_matrix(roi[None, :], t[good])[0] if len(good) else np.zeros(0, np.float32)
        k = int(np.argmax(ious)) if len(ious) else -1
        want.append(int(good[k]) % 3 + 1 if k >= 0 and ious[k] >= 0.5 else 0)
    chk.equal("ref_roi_sample_labels", i, list(got), want)


def compare_case(chk, i, c, r):
    anchors = make_anchors(c["sizes"], c["ratios"], c["stride"], c["h"], c["w"])
    chk.close("ref_anchors", i, r["anchors"], anchors, 1e-3, 0)
    chk.close("ref_iou", i, r["iou"], iou_matrix(r["anchors"], c["truths"]).ravel(), 1e-6, 0)
    labels, matched = rpn_labels(r["anchors"], c["truths"], float(c["img"][0]), float(c["img"][1]))
    chk.equal("ref_rpn_labels", i, r["labels"], labels)
    chk.equal("ref_rpn_matched", i, r["matched"], matched)
    check_anchor_sample(chk, i, labels, r)
    check_roi_sample(chk, i, r["anchors"], c["truths"], r)
    enc = [encode(p[:4], p[4:], c["enc_w"]) for p in c["pairs"]]
    chk.equal("ref_encode_status", i, r["enc_status"], [s for s, _ in enc])
    chk.close("ref_encode", i, r["enc"], np.array([d for _, d in enc]), 1e-5, 1e-5)
    dec = np.array([decode(p[:4], p[4:], c["dec_w"]) for p in c["deltas"]])
    chk.close("ref_decode", i, r["dec"], dec, 1e-4, 1e-5)
    chk.close("ref_clip", i, r["clip"], np.array([clip(b, *c["img"]) for b in dec]), 1e-4, 1e-5)
    chk.equal("ref_nms", i, r["nms"], nms(c["boxes"], c["scores"], c["thresh"], c["max_keep"]))
    chk.equal("ref_top_n", i, r["top"], score_order(c["scores"])[:c["top"]])


def check(cases_path, results_path):
    cw, rw = Words(cases_path), Words(results_path)
    cw.word("cases")
    chk = Checks()
    for i in range(cw.int()):
        compare_case(chk, i, read_case(cw), read_result(rw, i))
    return 1 if chk.report() else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "write":
        write_cases(argv[2], int(argv[3]) if len(argv) > 3 else 1)
        return 0
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
