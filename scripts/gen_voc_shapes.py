#!/usr/bin/python3
"""Generate a small synthetic detection dataset in PASCAL VOC format.

Writes OUT/VOCdevkit/VOC2007 (and, with --voc2012 N, VOC2012) exactly as the
VOC devkit lays it out: JPEGImages/NAME.jpg, Annotations/NAME.xml and
ImageSets/Main/{trainval,test}.txt.  Each image shows one to three shapes
(classes: circle, square, triangle) in random colours on a textured
background.  Shapes that run off the border are marked truncated; small,
faint shapes are marked difficult, as VOC annotators do.  Images vary in size
and aspect.  The JPEG encoder is our own (baseline, 4:4:4, Huffman tables
built for each image), so only numpy is needed.  The same seed always gives
the same files, and a finished dataset is not written again.

usage: gen_voc_shapes.py OUT [--trainval N] [--test N] [--voc2012 N] [--seed S]
"""
import argparse
import os
import struct
import sys

import numpy as np

CLASSES = ["circle", "square", "triangle"]

# ---- a baseline JPEG encoder ------------------------------------------------

# Quantisation tables of ITU-T T.81 Annex K (luminance, chrominance), row-major.
Q_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], float).reshape(8, 8)
Q_CHROMA = np.full((8, 8), 99.0)
Q_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def zigzag_order():
    """Row-major indices of an 8x8 block in zigzag order."""
    cells = sorted(((r + c, c if (r + c) % 2 == 0 else r, r, c) for r in range(8) for c in range(8)))
    return np.array([r * 8 + c for _, _, r, c in cells])


ZIGZAG = zigzag_order()
_u = np.arange(8)
DCT = np.sqrt(2 / 8) * np.cos((2 * _u[None, :] + 1) * _u[:, None] * np.pi / 16)
DCT[0] /= np.sqrt(2)


def scaled_table(base, quality):
    s = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((base * s + 50) / 100), 1, 255)


def code_lengths(freq):
    """Huffman code lengths (<= 16, none all ones) for symbols with freq > 0."""
    syms = [s for s in range(256) if freq[s] > 0]
    # one reserved symbol keeps every real code from being all ones
    nodes = [(freq[s], [s]) for s in syms] + [(1, [256])]
    length = {s: 0 for s in syms + [256]}
    if len(nodes) == 1:
        nodes.append((0, []))
    while len(nodes) > 1:
        nodes.sort(key=lambda n: n[0])
        (fa, a), (fb, b) = nodes[0], nodes[1]
        for s in a + b:
            length[s] += 1
        nodes = nodes[2:] + [(fa + fb, a + b)]
    bits = [0] * 33
    for s, n in length.items():
        bits[n] += 1
    # shorten codes longer than 16 bits (T.81 Annex K.2)
    for i in range(32, 16, -1):
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    # drop the reserved symbol (it has one of the longest codes)
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1
    # hand out the lengths again, most frequent symbols first
    order = sorted(syms, key=lambda s: (-freq[s], s))
    out, k = {}, 0
    for n in range(1, 17):
        for _ in range(bits[n]):
            out[order[k]] = n
            k += 1
    return out


def huffman_table(freq):
    """(DHT payload without class/id byte, {symbol: (code, length)})."""
    lengths = code_lengths(freq)
    by_len = sorted(lengths, key=lambda s: (lengths[s], s))
    counts = [sum(1 for s in lengths if lengths[s] == n) for n in range(1, 17)]
    codes, code, k = {}, 0, 0
    for n in range(1, 17):
        for _ in range(counts[n - 1]):
            codes[by_len[k]] = (code, n)
            code += 1
            k += 1
        code <<= 1
    return bytes(counts) + bytes(by_len), codes


def magnitude(v):
    """(size category, value bits) of a coefficient."""
    a = abs(int(v))
    size = a.bit_length()
    bits = int(v) if v >= 0 else int(v) + (1 << size) - 1
    return size, bits


def encode_jpeg(rgb, quality=90):
    """rgb: uint8 array (h, w, 3).  Returns the bytes of a baseline JPEG."""
    h, w, _ = rgb.shape
    x = rgb.astype(float)
    ycc = np.stack([
        0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2],
        -0.168736 * x[..., 0] - 0.331264 * x[..., 1] + 0.5 * x[..., 2] + 128,
        0.5 * x[..., 0] - 0.418688 * x[..., 1] - 0.081312 * x[..., 2] + 128]) - 128
    ph, pw = -h % 8, -w % 8
    ycc = np.pad(ycc, ((0, 0), (0, ph), (0, pw)), mode="edge")
    by, bx = ycc.shape[1] // 8, ycc.shape[2] // 8
    blocks = ycc.reshape(3, by, 8, bx, 8).transpose(1, 3, 0, 2, 4)   # by, bx, comp, 8, 8
    coef = np.einsum("ux,abcxy,vy->abcuv", DCT, blocks, DCT)
    tables = [scaled_table(Q_LUMA, quality), scaled_table(Q_CHROMA, quality)]
    quant = np.stack([tables[0], tables[1], tables[1]])
    q = np.round(coef / quant).astype(int).reshape(by * bx, 3, 64)[:, :, ZIGZAG]

    # symbols, in scan order (blocks interleaved per component)
    stream = []               # (is_ac, symbol, size, bits)
    pred = [0, 0, 0]
    for b in range(by * bx):
        for c in range(3):
            zz = q[b, c]
            diff = zz[0] - pred[c]
            pred[c] = zz[0]
            size, bits = magnitude(diff)
            stream.append((0, size, size, bits))
            nz = np.nonzero(zz[1:])[0] + 1
            last = 0
            for k in nz:
                run = k - last - 1
                while run > 15:
                    stream.append((1, 0xF0, 0, 0))
                    run -= 16
                size, bits = magnitude(zz[k])
                stream.append((1, (run << 4) | size, size, bits))
                last = k
            if last != 63:
                stream.append((1, 0x00, 0, 0))
    freq = [np.zeros(256, int), np.zeros(256, int)]
    for ac, sym, _, _ in stream:
        freq[ac][sym] += 1
    dc_payload, dc_codes = huffman_table(freq[0])
    ac_payload, ac_codes = huffman_table(freq[1])

    out = bytearray()
    acc, nacc = 0, 0
    for ac, sym, size, bits in stream:
        code, n = (ac_codes if ac else dc_codes)[sym]
        acc = (acc << n) | code
        nacc += n
        if size:
            acc = (acc << size) | bits
            nacc += size
        while nacc >= 8:
            nacc -= 8
            byte = (acc >> nacc) & 0xFF
            out.append(byte)
            if byte == 0xFF:
                out.append(0)
        acc &= (1 << nacc) - 1
    if nacc:
        byte = ((acc << (8 - nacc)) | ((1 << (8 - nacc)) - 1)) & 0xFF
        out.append(byte)
        if byte == 0xFF:
            out.append(0)

    def segment(marker, payload):
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    zz_tables = [t.reshape(64)[ZIGZAG].astype(np.uint8).tobytes() for t in tables]
    head = b"\xFF\xD8"
    head += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    head += segment(0xDB, b"\x00" + zz_tables[0] + b"\x01" + zz_tables[1])
    head += segment(0xC0, struct.pack(">BHHB", 8, h, w, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01")
    head += segment(0xC4, b"\x00" + dc_payload + b"\x10" + ac_payload)
    head += segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3F\x00")
    return head + bytes(out) + b"\xFF\xD9"

# ---- scenes -------------------------------------------------------------------


def background(h, w, rng):
    """Smooth coloured waves plus fine noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    img = np.empty((h, w, 3))
    for c in range(3):
        base = rng.uniform(70, 150)
        layer = np.full((h, w), base)
        for _ in range(3):
            fx, fy = rng.uniform(-0.25, 0.25, 2)
            layer += rng.uniform(8, 25) * np.sin(fx * xx + fy * yy + rng.uniform(0, 6.3))
        img[..., c] = layer
    img += rng.normal(0, 6, (h, w, 1))
    return img


def shape_mask(kind, h, w, cx, cy, r):
    yy, xx = np.mgrid[0:h, 0:w].astype(float) + 0.5
    if kind == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if kind == "square":
        return (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
    # an upward triangle inside the square of half-side r
    top, bottom = cy - r, cy + r
    half = (yy - top) / (2 * r) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)


def scene(rng):
    w = int(rng.integers(112, 177))
    h = int(rng.integers(96, 145))
    img = background(h, w, rng)
    objects = []
    for _ in range(int(rng.integers(1, 4))):
        kind = CLASSES[int(rng.integers(len(CLASSES)))]
        small = rng.uniform() < 0.12
        r = rng.uniform(4, 6) if small else rng.uniform(0.12, 0.24) * min(w, h)
        truncated = (not small) and rng.uniform() < 0.15
        if truncated:          # centre near a border, part of it outside
            cx = rng.choice([rng.uniform(0, r * 0.5), w - rng.uniform(0, r * 0.5)])
            cy = rng.uniform(r, h - r)
        else:
            cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
        mask = shape_mask(kind, h, w, cx, cy, r)
        if mask.sum() < 9:
            continue
        colour = rng.uniform(0, 255, 3)
        if small:              # faint as well as small
            colour = img[mask].mean(axis=0) + rng.choice([-1, 1]) * 35
        img[mask] = colour
        ys, xs = np.nonzero(mask)
        objects.append({
            "name": kind,
            "truncated": int(truncated or xs.min() == 0 or ys.min() == 0
                             or xs.max() == w - 1 or ys.max() == h - 1),
            "difficult": int(small),
            # VOC corners: 1-based, inclusive
            "box": (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1),
        })
    return np.clip(img, 0, 255).astype(np.uint8), objects


def annotation(name, year, w, h, objects):
    parts = ["<annotation>", "\t<folder>VOC%s</folder>" % year, "\t<filename>%s.jpg</filename>" % name,
             "\t<source>\n\t\t<database>synthetic shapes</database>\n\t</source>",
             "\t<size>\n\t\t<width>%d</width>\n\t\t<height>%d</height>\n\t\t<depth>3</depth>\n\t</size>" % (w, h),
             "\t<segmented>0</segmented>"]
    for o in objects:
        x1, y1, x2, y2 = o["box"]
        parts.append("\t<object>\n\t\t<name>%s</name>\n\t\t<pose>Unspecified</pose>\n"
                     "\t\t<truncated>%d</truncated>\n\t\t<difficult>%d</difficult>\n"
                     "\t\t<bndbox>\n\t\t\t<xmin>%d</xmin>\n\t\t\t<ymin>%d</ymin>\n"
                     "\t\t\t<xmax>%d</xmax>\n\t\t\t<ymax>%d</ymax>\n\t\t</bndbox>\n\t</object>"
                     % (o["name"], o["truncated"], o["difficult"], x1, y1, x2, y2))
    parts.append("</annotation>\n")
    return "\n".join(parts)


def write_year(root, year, splits, rng):
    base = os.path.join(root, "VOCdevkit", "VOC%s" % year)
    for d in ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    index = 0
    for split, count in splits:
        names = []
        for _ in range(count):
            index += 1
            name = "%s_%06d" % (year, index)
            img, objects = scene(rng)
            h, w, _ = img.shape
            with open(os.path.join(base, "JPEGImages", name + ".jpg"), "wb") as f:
                f.write(encode_jpeg(img, 90))
            with open(os.path.join(base, "Annotations", name + ".xml"), "w") as f:
                f.write(annotation(name, year, w, h, objects))
            names.append(name)
        with open(os.path.join(base, "ImageSets", "Main", split + ".txt"), "w") as f:
            f.write("\n".join(names) + "\n")
        print("VOC%s %s: %d images" % (year, split, count), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--trainval", type=int, default=160)
    ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--voc2012", type=int, default=0, help="VOC2012 trainval images (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    stamp = os.path.join(args.out, ".complete-%d-%d-%d-%d" % (args.trainval, args.test, args.voc2012, args.seed))
    if os.path.exists(stamp):
        return
    rng = np.random.default_rng(args.seed)
    write_year(args.out, "2007", [("trainval", args.trainval), ("test", args.test)], rng)
    if args.voc2012:
        write_year(args.out, "2012", [("trainval", args.voc2012)], rng)
    with open(os.path.join(args.out, "names.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    open(stamp, "w").close()


if __name__ == "__main__":
    main()
