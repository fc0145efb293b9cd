#!/usr/bin/python3
"""Convert a PASCAL VOC devkit into darknet's detection layout.

For every image of the chosen image sets it writes, inside the devkit,

  VOC<year>/labels/<id>.txt      one line per object: class cx cy w h,
                                 relative to the image size
  VOC<year>/difficult/<id>.txt   the objects marked difficult, same format
                                 (only for images that have some)

and, in the output folder, the lists <year>_<set>.txt, train.txt (every
trainval set), test.txt (VOC2007 test), voc.names and voc.data.

Difficult objects are kept out of the training labels and kept for
evaluation: `./darknet detector map` reads the difficult/ files, so that a
detection of a difficult object counts as neither a true nor a false
positive.  Truncated objects are ordinary objects.

Box corners in VOC are 1-based and inclusive; a box xmin..xmax covers the
continuous interval [xmin-1, xmax], so its width is xmax-xmin+1.

usage: voc_convert.py DEVKIT [--out DIR] [--classes a,b,...|--names FILE]
                      [--sets 2007:trainval,2007:test,2012:trainval] [--backup DIR]
"""
import argparse
import os
import struct
import sys
import xml.etree.ElementTree as ET

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
               "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


def jpeg_size(path):
    """(width, height) from a JPEG's frame header, or None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def text(node, tag, default=None):
    child = node.find(tag)
    return child.text.strip() if child is not None and child.text else default


def convert_image(base, image_id, classes, stats):
    """Writes the label files of one image; returns its image path or None."""
    xml_path = os.path.join(base, "Annotations", image_id + ".xml")
    img_path = os.path.join(base, "JPEGImages", image_id + ".jpg")
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as e:
        print("warning: %s: cannot read annotation (%s), image skipped" % (xml_path, e), file=sys.stderr)
        stats["skipped_images"] += 1
        return None
    size = root.find("size")
    w = int(float(text(size, "width", "0"))) if size is not None else 0
    h = int(float(text(size, "height", "0"))) if size is not None else 0
    if w <= 0 or h <= 0:
        wh = jpeg_size(img_path)
        if not wh:
            print("warning: %s: no image size and unreadable %s, image skipped" % (xml_path, img_path),
                  file=sys.stderr)
            stats["skipped_images"] += 1
            return None
        w, h = wh
    lines = {"labels": [], "difficult": []}
    for obj in root.iter("object"):
        name = text(obj, "name", "")
        if name not in classes:
            stats["unknown"][name] = stats["unknown"].get(name, 0) + 1
            continue
        box = obj.find("bndbox")
        try:
            x1, y1, x2, y2 = (float(text(box, k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError, AttributeError):
            print("warning: %s: object %s has no valid bndbox, skipped" % (xml_path, name), file=sys.stderr)
            stats["bad_boxes"] += 1
            continue
        left, top = max(0.0, x1 - 1), max(0.0, y1 - 1)
        right, bottom = min(float(w), x2), min(float(h), y2)
        if right <= left or bottom <= top:
            print("warning: %s: empty box for %s, skipped" % (xml_path, name), file=sys.stderr)
            stats["bad_boxes"] += 1
            continue
        difficult = text(obj, "difficult", "0") == "1"
        if text(obj, "truncated", "0") == "1":
            stats["truncated"] += 1
        line = "%d %.6f %.6f %.6f %.6f" % (classes.index(name), (left + right) / 2 / w,
                                           (top + bottom) / 2 / h, (right - left) / w, (bottom - top) / h)
        lines["difficult" if difficult else "labels"].append(line)
        stats["difficult" if difficult else "objects"] += 1
    for folder in ("labels", "difficult"):
        os.makedirs(os.path.join(base, folder), exist_ok=True)
        path = os.path.join(base, folder, image_id + ".txt")
        if lines[folder] or folder == "labels":
            with open(path, "w") as f:
                f.write("".join(l + "\n" for l in lines[folder]))
        elif os.path.exists(path):
            os.remove(path)
    stats["images"] += 1
    return os.path.abspath(img_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devkit", help="the VOCdevkit folder (holding VOC2007, VOC2012)")
    ap.add_argument("--out", default=".", help="where the lists, voc.names and voc.data go")
    ap.add_argument("--classes", help="comma-separated class names (default: VOC's 20)")
    ap.add_argument("--names", help="a file with one class name a line")
    ap.add_argument("--sets", help="year:set,... (default: 2007:trainval, 2007:test and "
                                   "2012:trainval when VOC2012 exists)")
    ap.add_argument("--backup", default="backup", help="the backup= folder written to voc.data")
    args = ap.parse_args()

    if args.names:
        with open(args.names) as f:
            classes = [l.strip() for l in f if l.strip()]
    elif args.classes:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    else:
        classes = VOC_CLASSES
    if args.sets:
        sets = [tuple(s.split(":", 1)) for s in args.sets.split(",")]
    else:
        sets = [("2007", "trainval"), ("2007", "test")]
        if os.path.isdir(os.path.join(args.devkit, "VOC2012")):
            sets.append(("2012", "trainval"))

    os.makedirs(args.out, exist_ok=True)
    stats = {"images": 0, "objects": 0, "difficult": 0, "truncated": 0, "bad_boxes": 0,
             "skipped_images": 0, "unknown": {}}
    train, test = [], []
    for year, split in sets:
        base = os.path.join(args.devkit, "VOC" + year)
        set_file = os.path.join(base, "ImageSets", "Main", split + ".txt")
        try:
            with open(set_file) as f:
                ids = [l.split()[0] for l in f if l.strip()]
        except OSError as e:
            sys.exit("voc_convert: error: cannot read image set %s (%s)" % (set_file, e))
        paths = [p for p in (convert_image(base, i, classes, stats) for i in ids) if p]
        with open(os.path.join(args.out, "%s_%s.txt" % (year, split)), "w") as f:
            f.write("".join(p + "\n" for p in paths))
        (test if split == "test" else train).extend(paths)
        print("VOC%s %s: %d images" % (year, split, len(paths)), file=sys.stderr)

    out = os.path.abspath(args.out)
    for name, paths in (("train.txt", train), ("test.txt", test)):
        with open(os.path.join(out, name), "w") as f:
            f.write("".join(p + "\n" for p in paths))
    with open(os.path.join(out, "voc.names"), "w") as f:
        f.write("".join(c + "\n" for c in classes))
    with open(os.path.join(out, "voc.data"), "w") as f:
        f.write("classes=%d\ntrain=%s\nvalid=%s\nnames=%s\nbackup=%s\neval=voc\n"
                % (len(classes), os.path.join(out, "train.txt"), os.path.join(out, "test.txt"),
                   os.path.join(out, "voc.names"), args.backup))
    print("converted %d images: %d objects, %d difficult (kept for evaluation), %d truncated"
          % (stats["images"], stats["objects"], stats["difficult"], stats["truncated"]), file=sys.stderr)
    if stats["skipped_images"] or stats["bad_boxes"]:
        print("skipped: %d images, %d boxes" % (stats["skipped_images"], stats["bad_boxes"]), file=sys.stderr)
    if stats["unknown"]:
        print("objects of classes not in the list (left out): %s"
              % ", ".join("%s %d" % kv for kv in sorted(stats["unknown"].items())), file=sys.stderr)


if __name__ == "__main__":
    main()
