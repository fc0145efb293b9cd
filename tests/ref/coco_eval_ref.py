"""Reference COCO-style box evaluation in Python, written from the published
rules of the COCO detection evaluation, to check `detector map -coco`
(src/detect/coco_map.c) on a generated set.

Usage:
    coco_eval_ref.py make DIR [--seed N] [--random N]
        writes a set under DIR: images (flat grey PNGs of several sizes),
        labels/, difficult/ and crowd/ files, dets.txt, set.data,
        names.txt, and cases.json (the same boxes in pixels, for `check`)
    coco_eval_ref.py check DIR OUTPUT JSON
        evaluates cases.json here and compares every number that
        `detector map -coco` printed (OUTPUT) and wrote (JSON) with it;
        prints one PASS or FAIL line per group of numbers, exits 1 on a FAIL

The rules, as implemented here (per image and class, then per class):
  - each image keeps its 100 (or 1, 10) highest-scoring detections over all
    classes, equal scores in file order; the evaluation is run again for
    each cap rather than truncating a single run;
  - truths are ignored when crowd, difficult, or of an area (w*h in pixels)
    outside the range [lo, hi]; the truths that count come first;
  - detections of the image and class, by falling score (stable), each
    take in turn the truth of highest overlap >= the threshold, scanning
    the truths in order: a truth already taken is passed over unless it is
    a crowd region or difficult; once a counting truth is held, the scan
    stops at the first ignored one; an overlap equal to the one held
    replaces it (so the later truth wins a tie);
  - overlap: IoU, or intersection / detection area for a crowd region;
  - a detection matched to an ignored truth is ignored, and so is an
    unmatched one whose own area is outside the range;
  - per class: detections of all images concatenated in image order, then
    sorted by falling score (stable); cumulative TP and FP over the ones
    not ignored; recall TP / counting truths; precision TP / (TP + FP);
    precision made non-increasing from the end; at each recall level
    i/100, the precision at the first point reaching it, 0 past the last;
    AP the mean over the 101 levels; recall the last point's (0 without
    detections);
  - a class with no counting truth in the range has no value and is left
    out of the means.

Printed values are rounded by the C side to 2 decimals of a percent on the
screen and 6 decimals of a ratio in JSON.  Both sides compute the same
ratios of small integers in double precision, so they agree to about 1e-15
before printing; the bound is half a unit of the last printed decimal
(0.005 and 5e-7) plus 1e-9 for a value that falls on a rounding boundary.
Counts must agree exactly.
"""
import json
import os
import random
import re
import struct
import sys
import zlib

import numpy as np

IOUS = [(50 + 5 * i) / 100.0 for i in range(10)]
LEVELS = [i / 100.0 for i in range(101)]
AREAS = [("all", 0.0, 1e10), ("small", 0.0, 32.0 ** 2), ("medium", 32.0 ** 2, 96.0 ** 2),
         ("large", 96.0 ** 2, 1e10)]
# name, IoU index (None: the mean of the ten), area index, detections an image
METRICS = [("AP", None, 0, 100), ("AP50", 0, 0, 100), ("AP75", 5, 0, 100),
           ("AP_small", None, 1, 100), ("AP_medium", None, 2, 100), ("AP_large", None, 3, 100),
           ("AR1", None, 0, 1), ("AR10", None, 0, 10), ("AR100", None, 0, 100),
           ("AR_small", None, 1, 100), ("AR_medium", None, 2, 100), ("AR_large", None, 3, 100)]
SCREEN_EPS = 0.005 + 1e-9      # in percent, as printed
JSON_EPS = 5e-7 + 1e-9         # a ratio
LABEL, DIFFICULT, CROWD = 0, 1, 2


# ---- the evaluation -------------------------------------------------------------

def area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def overlap(d, g, crowd):
    iw = min(d[2], g[2]) - max(d[0], g[0])
    ih = min(d[3], g[3]) - max(d[1], g[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    da = (d[2] - d[0]) * (d[3] - d[1])
    union = da if crowd else da + (g[2] - g[0]) * (g[3] - g[1]) - inter
    return inter / union if union > 0 else 0.0


def capped(dets, max_dets):
    """The detections each image keeps: its max_dets best over all classes."""
    by_image = {}
    for d in dets:
        by_image.setdefault(d["image"], []).append(d)
    kept = []
    for ds in by_image.values():
        kept += sorted(ds, key=lambda d: -d["score"])[:max_dets]   # sorted() is stable
    return kept


def evaluate_image(dts, gts, lo, hi):
    """Matches one image's detections and truths of one class in one area
    range.  Returns (scores, [per threshold: (matched, ignored) lists], npig)."""
    gt_ign = [g["kind"] != LABEL or not (lo <= area(g["box"]) <= hi) for g in gts]
    order = sorted(range(len(gts)), key=lambda j: gt_ign[j])
    gts = [gts[j] for j in order]
    gt_ign = [gt_ign[j] for j in order]
    many = [g["kind"] != LABEL for g in gts]
    dts = sorted(dts, key=lambda d: -d["score"])
    ov = [[overlap(d["box"], g["box"], g["kind"] == CROWD) for g in gts] for d in dts]
    per_t = []
    for t in IOUS:
        taken = [False] * len(gts)
        matched = [False] * len(dts)
        ignored = [False] * len(dts)
        for di in range(len(dts)):
            best, m = min(t, 1 - 1e-10), -1
            for gi in range(len(gts)):
                if taken[gi] and not many[gi]:
                    continue
                if m > -1 and not gt_ign[m] and gt_ign[gi]:
                    break
                if ov[di][gi] < best:
                    continue
                best, m = ov[di][gi], gi
            if m == -1:
                a = area(dts[di]["box"])
                ignored[di] = not (lo <= a <= hi)
                continue
            taken[m] = True
            matched[di] = True
            ignored[di] = gt_ign[m]
        per_t.append((matched, ignored))
    return [d["score"] for d in dts], per_t, sum(1 for x in gt_ign if not x)


def accumulate(results):
    """AP and recall per threshold from the per-image results of a class;
    None when no truth counts."""
    npig = sum(r[2] for r in results)
    if npig == 0:
        return None
    scores = np.array([s for r in results for s in r[0]], dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    aps, recalls = [], []
    for t in range(len(IOUS)):
        matched = np.array([x for r in results for x in r[1][t][0]], dtype=bool)[order]
        ignored = np.array([x for r in results for x in r[1][t][1]], dtype=bool)[order]
        tp = np.cumsum(matched & ~ignored).astype(np.float64)
        fp = np.cumsum(~matched & ~ignored).astype(np.float64)
        n = len(tp)
        rc = tp / npig
        pr = [tp[i] / (tp[i] + fp[i]) if tp[i] + fp[i] > 0 else 0.0 for i in range(n)]
        recalls.append(rc[-1] if n else 0.0)
        for i in range(n - 1, 0, -1):
            pr[i - 1] = max(pr[i - 1], pr[i])
        q = [0.0] * len(LEVELS)
        for li, pi in enumerate(np.searchsorted(rc, LEVELS, side="left")):
            if pi < n:
                q[li] = pr[pi]
        aps.append(sum(q) / len(q))
    return aps, recalls


def evaluate(case):
    classes = case["classes"]
    images = range(len(case["images"]))
    dets = [d for d in case["dets"] if 0 <= d["cls"] < classes]
    truths = case["truths"]
    per_class = []
    for c in range(classes):
        row = {"truths": sum(1 for g in truths if g["cls"] == c and g["kind"] == LABEL),
               "crowd": sum(1 for g in truths if g["cls"] == c and g["kind"] == CROWD),
               "difficult": sum(1 for g in truths if g["cls"] == c and g["kind"] == DIFFICULT),
               "detections": sum(1 for d in capped(dets, 100) if d["cls"] == c)}
        for max_dets in (1, 10, 100):
            kept = capped(dets, max_dets)
            for ai, (_, lo, hi) in enumerate(AREAS):
                if max_dets != 100 and ai != 0:
                    continue
                res = [evaluate_image([d for d in kept if d["image"] == i and d["cls"] == c],
                                      [g for g in truths if g["image"] == i and g["cls"] == c], lo, hi)
                       for i in images]
                row[(max_dets, ai)] = accumulate(res)
        for name, t, ai, max_dets in METRICS:
            got = row[(max_dets, ai)]
            if got is None:
                row[name] = None
                continue
            v = got[1] if name.startswith("AR") else got[0]
            row[name] = v[t] if t is not None else sum(v) / len(v)
        per_class.append(row)
    summary = {}
    for name, _, _, _ in METRICS:
        vals = [r[name] for r in per_class if r[name] is not None]
        summary[name] = (sum(vals) / len(vals) if vals else None, len(vals))
    return {"classes": per_class, "summary": summary, "detections": len(dets),
            "kept": len(capped(dets, 100))}


# ---- the generated set ----------------------------------------------------------

def png(w, h):
    raw = b"".join(b"\x00" + b"\x80" * w for _ in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def designed():
    """Images of hand-made situations: (w, h, truths, dets); truths are
    (cls, kind, x1, y1, x2, y2), dets (cls, score, x1, y1, x2, y2)."""
    imgs = []
    # ties and duplicates: two detections of equal score on one truth (the
    # first in the file is the true positive), a third lower, and equal
    # scores across images
    imgs.append((512, 512, [(0, LABEL, 10, 10, 60, 60), (0, LABEL, 200, 200, 260, 250)],
                 [(0, .8, 10, 10, 60, 60), (0, .8, 12, 10, 62, 60), (0, .7, 10, 12, 60, 62),
                  (0, .6, 200, 200, 260, 240), (0, .8, 300, 300, 340, 340)]))
    # IoU exactly 0.5 and 0.75; a tie in IoU between two truths (the later
    # one is taken, so the next detection still finds the earlier one free)
    imgs.append((512, 512, [(0, LABEL, 0, 0, 40, 40), (0, LABEL, 100, 0, 140, 40),
                            (0, LABEL, 200, 0, 240, 40), (0, LABEL, 220, 0, 260, 40)],
                 [(0, .9, 0, 0, 40, 20), (0, .85, 100, 0, 140, 30), (0, .8, 220, 0, 240, 40),
                  (0, .75, 200, 0, 230, 40)]))
    # crowd region: detections inside it are ignored however many; one that
    # is half inside; a truth inside the region is preferred to it
    imgs.append((512, 512, [(1, CROWD, 100, 100, 400, 400), (1, LABEL, 150, 150, 200, 200)],
                 [(1, .95, 150, 150, 200, 200), (1, .9, 110, 110, 160, 160), (1, .9, 300, 300, 350, 350),
                  (1, .85, 60, 200, 140, 260), (1, .5, 390, 390, 450, 450), (1, .3, 152, 150, 202, 200)]))
    # difficult: any number of detections of it are ignored
    imgs.append((512, 512, [(1, DIFFICULT, 20, 20, 80, 80), (1, LABEL, 300, 20, 340, 80)],
                 [(1, .7, 20, 20, 80, 80), (1, .65, 22, 20, 82, 80), (1, .6, 300, 20, 340, 80)]))
    # areas, in pixels of a 1024 x 256 image: small 20x20, exactly 32x32
    # (small and medium), medium 50x50, exactly 96x96 (medium and large),
    # large 150x120; detections sized off their truths, and unmatched ones
    # of each size
    imgs.append((1024, 256, [(2, LABEL, 0, 0, 20, 20), (2, LABEL, 50, 0, 82, 32),
                             (2, LABEL, 100, 0, 150, 50), (2, LABEL, 200, 0, 296, 96),
                             (2, LABEL, 400, 0, 550, 120)],
                 [(2, .9, 0, 0, 22, 22), (2, .8, 50, 0, 82, 34), (2, .7, 100, 0, 148, 50),
                  (2, .6, 200, 0, 294, 96), (2, .5, 400, 0, 550, 100), (2, .45, 600, 0, 610, 10),
                  (2, .44, 600, 100, 660, 160), (2, .43, 700, 0, 900, 200)]))
    # a tall image, large truth
    imgs.append((256, 1024, [(2, LABEL, 10, 100, 210, 400)], [(2, .55, 12, 110, 210, 400)]))
    # more than 100 detections in one image, over two classes: the cap keeps
    # the 100 best of all, so the low-scoring true positives drop out
    truths = [(0, LABEL, 20 * i, 300, 20 * i + 18, 318) for i in range(8)]
    truths += [(1, LABEL, 20 * i, 400, 20 * i + 18, 418) for i in range(4)]
    dets = [(0, .99 - .005 * i, 5 * i, 0, 5 * i + 16, 16) for i in range(70)]
    dets += [(1, .98 - .005 * i, 5 * i, 100, 5 * i + 16, 116) for i in range(40)]
    dets += [(0, .5 - .01 * i, 20 * i, 300, 20 * i + 18, 318) for i in range(8)]
    dets += [(1, .8, 0, 400, 18, 418), (1, .2, 20, 400, 38, 418)]
    imgs.append((512, 512, truths, dets))
    # truths and no detections; detections and no truths; an empty label file
    imgs.append((128, 128, [(0, LABEL, 0, 0, 64, 64), (2, LABEL, 64, 64, 128, 128)], []))
    imgs.append((128, 128, [], [(0, .9, 0, 0, 64, 64), (3, .4, 10, 10, 20, 20)]))
    # class 5 has only a crowd region and a difficult object (no value),
    # class 4 nothing at all
    imgs.append((512, 512, [(5, CROWD, 0, 0, 256, 256), (5, DIFFICULT, 300, 300, 340, 340)],
                 [(5, .9, 10, 10, 60, 60), (5, .8, 300, 300, 340, 340), (5, .1, 400, 0, 450, 50)]))
    return imgs


def jitter(rng, b, w, h, amount):
    x1, y1, x2, y2 = (v + rng.randint(-amount, amount) for v in b)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(w, max(x1 + 1, x2)), min(h, max(y1 + 1, y2))
    return x1, y1, x2, y2


def random_image(rng, classes):
    w, h = rng.choice([(512, 512), (1024, 256), (256, 512), (128, 128)])
    truths, dets = [], []
    for _ in range(rng.randint(0, 6)):
        bw = rng.choice([rng.randint(4, 30), rng.randint(30, 100), rng.randint(90, min(w, 250))])
        bh = min(h, max(2, int(bw * rng.choice([0.5, 1, 1.5]))))
        bw = min(w, bw)
        x1, y1 = rng.randint(0, w - bw), rng.randint(0, h - bh)
        kind = rng.choice([LABEL] * 8 + [DIFFICULT, CROWD])
        truths.append((rng.randrange(classes), kind, x1, y1, x1 + bw, y1 + bh))
    for t in truths:
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            cls = t[0] if rng.random() < .9 else rng.randrange(classes)
            amount = max(1, (t[4] - t[2]) // rng.choice([3, 6, 12]))
            dets.append((cls, rng.choice(SCORES), *jitter(rng, t[2:], w, h, amount)))
    for _ in range(rng.randint(0, 4)):
        bw, bh = rng.randint(2, min(w, 200)), rng.randint(2, min(h, 200))
        x1, y1 = rng.randint(0, w - bw), rng.randint(0, h - bh)
        dets.append((rng.randrange(classes), rng.choice(SCORES), x1, y1, x1 + bw, y1 + bh))
    rng.shuffle(dets)
    return w, h, truths, dets


SCORES = [i / 20 for i in range(1, 20)]   # few values: many ties


def make(out, seed, n_random):
    rng = random.Random(seed)
    classes = 6
    # random images use classes 0-3: class 4 stays empty, class 5 crowd-only
    imgs = designed() + [random_image(rng, 4) for _ in range(n_random)]
    for sub in ("images", "labels", "difficult", "crowd"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    case = {"classes": classes, "images": [], "truths": [], "dets": []}
    paths, det_lines = [], []
    for i, (w, h, truths, dets) in enumerate(imgs):
        path = os.path.join(out, "images", "img%03d.png" % i)
        with open(path, "wb") as f:
            f.write(png(w, h))
        paths.append(path)
        case["images"].append({"path": path, "w": w, "h": h})
        for kind, sub in ((LABEL, "labels"), (DIFFICULT, "difficult"), (CROWD, "crowd")):
            rows = [t for t in truths if t[1] == kind]
            if not rows and kind != LABEL:
                continue
            with open(os.path.join(out, sub, "img%03d.txt" % i), "w") as f:
                for c, _, x1, y1, x2, y2 in rows:
                    # powers of two as sizes: these fractions are exact in float
                    f.write("%d %r %r %r %r\n" % (c, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h,
                                                  (x2 - x1) / w, (y2 - y1) / h))
        for c, kind, x1, y1, x2, y2 in truths:
            case["truths"].append({"image": i, "cls": c, "kind": kind, "box": [x1, y1, x2, y2]})
        for c, s, x1, y1, x2, y2 in dets:
            det_lines.append("%s %d %r %r %r %r %r\n" % (path, c, s, x1, y1, x2, y2))
            # the C side reads scores as float
            case["dets"].append({"image": i, "cls": c, "score": float(np.float32(s)),
                                 "box": [float(x1), float(y1), float(x2), float(y2)]})
    with open(os.path.join(out, "dets.txt"), "w") as f:
        f.writelines(det_lines)
    with open(os.path.join(out, "valid.txt"), "w") as f:
        f.write("\n".join(paths) + "\n")
    names = ["person", "bicycle", "car", "dog", "kite", "crowdonly"]
    with open(os.path.join(out, "names.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    with open(os.path.join(out, "set.data"), "w") as f:
        f.write("classes=%d\nvalid=%s\nnames=%s\n" % (classes, os.path.join(out, "valid.txt"),
                                                      os.path.join(out, "names.txt")))
    case["names"] = names
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(case, f)


# ---- the comparison -------------------------------------------------------------

class Checker:
    def __init__(self):
        self.failed = False

    def group(self, name, problems):
        if problems:
            self.failed = True
            print("FAIL %s: %s" % (name, "; ".join(problems[:6])))
        else:
            print("PASS %s" % name)


def close(got, want, eps, what, problems):
    """got: a printed number or None ('-'/null); want: the reference in the
    same unit, or None."""
    if want is None or got is None:
        if want is not got:
            problems.append("%s: got %s, reference %s" % (what, got, want))
        return
    if abs(got - want) > eps:
        problems.append("%s: got %.9g, reference %.9g" % (what, got, want))


def screen_value(word):
    """A printed percent, or None for '-'."""
    return None if word == "-" else float(word)


def percent(ratio):
    return None if ratio is None else 100 * ratio


def check_screen(text, ref, names, chk):
    problems = []
    m = re.search(r"^(\d+) of (\d+) images scored, (\d+) detections", text, re.M)
    n_images = len(ref["images"])
    if not m or (int(m.group(1)), int(m.group(2)), int(m.group(3))) != (n_images, n_images, ref["all_dets"]):
        problems.append("scored line: %s" % (m.group(0) if m else "missing"))
    m = re.search(r"at most 100 detections an image \((\d+) of (\d+) kept\)", text)
    if not m or (int(m.group(1)), int(m.group(2))) != (ref["kept"], ref["detections"]):
        problems.append("kept line: %s" % (m.group(0) if m else "missing"))
    chk.group("screen_counts", problems)

    problems = []
    for c, row in enumerate(ref["classes"]):
        m = re.search(r"^ *%d  %s +(\d+) +(\d+) +(\d+) +(\d+)((?: +(?:-|[0-9.]+)){6})$" % (c, names[c]),
                      text, re.M)
        if not m:
            problems.append("no line for class %d" % c)
            continue
        counts = [int(m.group(k)) for k in range(1, 5)]
        want = [row["truths"], row["crowd"], row["difficult"], row["detections"]]
        if counts != want:
            problems.append("class %d counts %s, reference %s" % (c, counts, want))
        for name, word in zip(("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large"), m.group(5).split()):
            close(screen_value(word), percent(row[name]), SCREEN_EPS, "class %d %s" % (c, name), problems)
    chk.group("screen_per_class", problems)

    problems = []
    for name, t, ai, max_dets in METRICS:
        iou = "0.50:0.95" if t is None else "%.2f" % IOUS[t]
        m = re.search(r"^%s +%s +%s +%d +(-|[0-9.]+) +(\d+)$" % (name, re.escape(iou), AREAS[ai][0], max_dets),
                      text, re.M)
        want, counted = ref["summary"][name]
        if not m:
            problems.append("no line for %s" % name)
            continue
        close(screen_value(m.group(1)), percent(want), SCREEN_EPS, name, problems)
        if int(m.group(2)) != counted:
            problems.append("%s over %s classes, reference %d" % (name, m.group(2), counted))
    want, counted = ref["summary"]["AP"]
    m = re.search(r"^mAP@\[\.50:\.95\] \(COCO-style\) = ([0-9.]+) % over (\d+) classes$", text, re.M)
    if not m or int(m.group(2)) != counted:
        problems.append("mAP line: %s" % (m.group(0) if m else "missing"))
    else:
        close(float(m.group(1)), percent(want), SCREEN_EPS, "mAP line", problems)
    chk.group("screen_summary", problems)


def check_json(doc, ref, names, chk):
    problems = []
    head = {"protocol": "coco", "points": 101, "max_dets": 100, "detections": ref["detections"],
            "kept": ref["kept"]}
    for key, want in head.items():
        if doc.get(key) != want:
            problems.append("%s: %r, reference %r" % (key, doc.get(key), want))
    if [round(x, 2) for x in doc.get("iou_thresholds", [])] != [round(x, 2) for x in IOUS]:
        problems.append("iou_thresholds %r" % doc.get("iou_thresholds"))
    close(doc.get("map"), ref["summary"]["AP"][0], JSON_EPS, "map", problems)
    for name, _, _, _ in METRICS:
        want, counted = ref["summary"][name]
        close(doc["metrics"].get(name), want, JSON_EPS, "metrics." + name, problems)
        if doc["classes_counted"].get(name) != counted:
            problems.append("classes_counted.%s" % name)
    if len(doc.get("classes", [])) != len(ref["classes"]):
        problems.append("%d classes" % len(doc.get("classes", [])))
    for c, (row, got) in enumerate(zip(ref["classes"], doc.get("classes", []))):
        for key in ("truths", "crowd", "difficult", "detections"):
            if got.get(key) != row[key]:
                problems.append("class %d %s: %r, reference %r" % (c, key, got.get(key), row[key]))
        if got.get("id") != c or got.get("name") != names[c]:
            problems.append("class %d id or name" % c)
        for name, _, _, _ in METRICS:
            close(got.get(name), row[name], JSON_EPS, "class %d %s" % (c, name), problems)
    chk.group("json_numbers", problems)


def check(out, output, json_path):
    with open(os.path.join(out, "cases.json")) as f:
        case = json.load(f)
    ref = evaluate(case)
    ref["images"] = case["images"]
    ref["all_dets"] = len(case["dets"])
    chk = Checker()
    with open(output) as f:
        check_screen(f.read(), ref, case["names"], chk)
    with open(json_path) as f:
        check_json(json.load(f), ref, case["names"], chk)
    return 1 if chk.failed else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "make":
        seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 1
        n_random = int(argv[argv.index("--random") + 1]) if "--random" in argv else 40
        make(argv[1], seed, n_random)
        return 0
    if len(argv) == 4 and argv[0] == "check":
        return check(argv[1], argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
