#!/bin/sh
# detector calc_anchors, as AlexeyAB's users type it (docs/detection.md):
# - on boxes of exactly three sizes, three clusters are those sizes, in
#   pixels of the input, smallest area first, with an average IoU of 100 %;
# - on the synthetic VOC set, the average IoU printed is the one that an
#   independent computation (below, in Python) gets from the anchors
#   printed and the label files, over the same number of boxes, and
#   anchors.txt holds the same line;
# - bad arguments are errors that name them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"

# three sizes, 20 boxes each, in label files of images that need not exist
S=$WORK/three
mkdir -p "$S/labels"
: > "$S/train.txt"
for i in $(seq 1 20); do
    printf '0 0.5 0.5 0.125 0.25\n1 0.3 0.3 0.5 0.5\n0 0.6 0.6 0.75 0.375\n' > "$S/labels/img$i.txt"
    echo "$S/images/img$i.jpg" >> "$S/train.txt"
done
printf 'classes=2\ntrain=%s\n' "$S/train.txt" > "$S/three.data"
(cd "$WORK" && "$ROOT/darknet" detector calc_anchors "$S/three.data" -num_of_clusters 3 -width 416 -height 320) \
    > "$WORK/three.out" 2>&1
grep -qx 'anchors = 52,80, 208,160, 312,120' "$WORK/three.out" && grep -qx 'avg IoU = 100.00 %' "$WORK/three.out" \
    && pass three_sizes_found_smallest_first || fail three_sizes_found_smallest_first "$(tail -3 "$WORK/three.out")"
grep -qx 'anchors = 52,80, 208,160, 312,120' "$WORK/anchors.txt" && pass anchors_txt_written || fail anchors_txt_written

# the synthetic VOC set: the printed IoU against Python's, from the labels
voc_shapes
D=$WORK/dn
convert_to "$D" || fail convert "$(tail -3 "$D.convert.out")"
(cd "$WORK" && "$ROOT/darknet" detector calc_anchors "$D/voc.data" -num_of_clusters 5 -width 416 -height 416) \
    > "$WORK/voc.out" 2>&1
/usr/bin/python3 - "$D/voc.data" "$WORK/voc.out" "$WORK/anchors.txt" > "$WORK/voc.check" 2>&1 <<'PY'
import re, sys
data = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
out = open(sys.argv[2]).read()
line = re.search(r"^anchors = (.*)$", out, re.M).group(1)
a = [tuple(map(float, p.split(","))) for p in line.split(", ")]
assert len(a) == 5, a
assert all(x[0] * x[1] <= y[0] * y[1] for x, y in zip(a, a[1:])), "not smallest area first"
assert open(sys.argv[3]).read().strip() == "anchors = " + line, "anchors.txt differs"
boxes = []
for img in open(data["train"].strip()):
    img = img.strip()
    if not img:
        continue
    lab = re.sub(r"\.(jpg|jpeg|png)$", ".txt", img.replace("/JPEGImages/", "/labels/").replace("/images/", "/labels/"))
    for row in open(lab):
        f = row.split()
        if len(f) == 5 and float(f[3]) > 0 and float(f[4]) > 0:
            boxes.append((float(f[3]) * 416, float(f[4]) * 416))
def iou(b, c):
    inter = min(b[0], c[0]) * min(b[1], c[1])
    return inter / (b[0] * b[1] + c[0] * c[1] - inter)
mean = 100 * sum(max(iou(b, c) for c in a) for b in boxes) / len(boxes)
printed = float(re.search(r"avg IoU = ([0-9.]+) %", out).group(1))
n = int(re.search(r"^(\d+) boxes", out, re.M).group(1))
assert n == len(boxes), (n, len(boxes))
assert abs(mean - printed) <= 0.005 + 1e-9, (mean, printed)   # printed with 2 decimals
print("ok", len(boxes), "boxes, avg IoU", round(mean, 4))
PY
grep -q '^ok' "$WORK/voc.check" && pass voc_avg_iou_matches_python || fail voc_avg_iou_matches_python "$(tail -2 "$WORK/voc.check")"

expect_error no_clusters "-num_of_clusters 0: give the number of anchors" \
    ./darknet detector calc_anchors "$S/three.data" -width 416 -height 416
expect_error no_size "-width 0 -height 320: give the network's input size" \
    ./darknet detector calc_anchors "$S/three.data" -num_of_clusters 3 -height 320
expect_error more_clusters_than_boxes "60 boxes in the labels of $S/train.txt, fewer than 61 clusters" \
    ./darknet detector calc_anchors "$S/three.data" -num_of_clusters 61 -width 416 -height 320
expect_error bad_number "-num_of_clusters 9x: not a whole number" \
    ./darknet detector calc_anchors "$S/three.data" -num_of_clusters 9x -width 416 -height 320
