"""Shared pieces of the dataset converters: PNG writing and the classifier layout.

The layout, for a dataset converted into OUT:

    OUT/train/NNNNN_<class>.png     training images
    OUT/valid/NNNNN_<class>.png     validation (test split) images
    OUT/labels.txt                  one match token per class: _<class>.png
    OUT/names.txt                   one readable name per class
    OUT/train.list, OUT/valid.list  absolute image paths
    OUT/NAME.data                   the file darknet's classifier commands read
    OUT/backup/                     where training writes its weights

Darknet finds an image's class by looking for each line of the labels file as a
substring of the image path (strstr).  Plain class names break that when one
name contains another ("shirt" in "t-shirt", "man" in "woman").  Here a class
<c> is written as the token "_<c>.png": <c> holds only [a-z0-9-], so the token
can only match the end of a file name "NNNNN_<c>.png" with exactly that class,
and each image matches exactly one line.
"""
import os
import re
import struct
import sys
import zlib


def slug(name):
    """Class name -> the [a-z0-9-] form used in file names and tokens."""
    s = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not s:
        raise ValueError("class name %r has no letters or digits" % name)
    return s


def token(name):
    return "_%s.png" % slug(name)


def write_png(path, pixels):
    """pixels: uint8 array (h, w) for grey or (h, w, 3) for colour."""
    if pixels.ndim == 2:
        h, w = pixels.shape
        colour_type = 0
    else:
        h, w, _ = pixels.shape
        colour_type = 2
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


class Progress:
    def __init__(self, what, total):
        self.what, self.total, self.step = what, total, max(100, total // 100)

    def __call__(self, done):
        if done % self.step == 0 or done == self.total:
            print("\r%s: %d/%d images" % (self.what, done, self.total), end="", file=sys.stderr)
            if done == self.total:
                print(file=sys.stderr)


def check_unique(names):
    slugs = [slug(n) for n in names]
    if len(set(slugs)) != len(slugs):
        raise SystemExit("error: two class names give the same file-name form: %s" % slugs)
    return slugs


def write_split(out, split, images, labels, names):
    """images: sequence of uint8 arrays; labels: class indexes into names."""
    slugs = check_unique(names)
    folder = os.path.abspath(os.path.join(out, split))
    os.makedirs(folder, exist_ok=True)
    for t in (token(n) for n in names):
        if t in folder + "/":
            raise SystemExit("error: output folder %s contains the class token %s" % (folder, t))
    progress = Progress(split, len(images))
    paths = []
    for i, (img, lab) in enumerate(zip(images, labels)):
        path = os.path.join(folder, "%05d_%s.png" % (i, slugs[lab]))
        write_png(path, img)
        paths.append(path)
        progress(i + 1)
    with open(os.path.join(out, split + ".list"), "w") as f:
        f.write("".join(p + "\n" for p in paths))
    return paths


def write_meta(out, data_name, names, top):
    """labels.txt, names.txt, backup/ and the .data file."""
    out_abs = os.path.abspath(out)
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("".join(token(n) + "\n" for n in names))
    with open(os.path.join(out, "names.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    os.makedirs(os.path.join(out, "backup"), exist_ok=True)
    with open(os.path.join(out, data_name + ".data"), "w") as f:
        f.write("classes=%d\ntrain=%s/train.list\nvalid=%s/valid.list\n"
                "labels=%s/labels.txt\nnames=%s/names.txt\nbackup=%s/backup\ntop=%d\n"
                % (len(names), out_abs, out_abs, out_abs, out_abs, out_abs, top))


def stamp_path(out, *key):
    return os.path.join(out, ".complete-" + "-".join(str(k) for k in key))


def already_done(stamp, out):
    if os.path.exists(stamp):
        print("%s: already converted" % out, file=sys.stderr)
        return True
    for old in (os.listdir(out) if os.path.isdir(out) else []):
        if old.startswith(".complete-"):
            os.remove(os.path.join(out, old))   # a different --limit: redo it
    return False
