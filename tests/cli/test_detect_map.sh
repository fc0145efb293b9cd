#!/bin/sh
# detector map on a fixed set with hand-computed AP (the set of
# tests/unit/test_voc_map.c, read from label files, difficult files and a
# detection file): ties, a duplicate, a difficult object, an IoU of exactly
# 0.5, a class without detections and one without truths.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
S=$WORK/set
mkdir -p "$S/JPEGImages" "$S/labels" "$S/difficult"
/usr/bin/python3 - "$S" <<'PY'
import os, sys
import numpy as np
sys.path.insert(0, "scripts")
from gen_voc_shapes import encode_jpeg
S = sys.argv[1]
W = H = 256
truths = {  # image: [(class, difficult, x1, y1, x2, y2)]
    0: [(0, 0, 0, 0, 10, 10), (0, 0, 20, 20, 30, 30), (2, 0, 40, 40, 50, 50)],
    1: [(0, 0, 0, 0, 10, 10), (0, 1, 50, 50, 60, 60)],
    2: [(1, 0, 0, 0, 10, 10), (1, 0, 2, 0, 12, 10)],
    3: [(1, 0, 0, 0, 20, 20)],
    4: [(2, 0, 0, 0, 5, 5)],
}
dets = [(0, 0, .9, 0, 0, 10, 10), (0, 0, .8, 1, 0, 11, 10), (1, 0, .8, 50, 50, 60, 60),
        (1, 0, .7, 0, 0, 10, 5), (0, 0, .6, 100, 100, 110, 110), (0, 0, .5, 20, 20, 30, 30),
        (2, 1, .9, 0, 0, 10, 10), (2, 1, .9, .5, 0, 10.5, 10), (3, 1, .9, 0, 0, 20, 20),
        (3, 1, .3, 30, 30, 40, 40), (4, 3, .4, 0, 0, 5, 5)]
img = np.full((H, W, 3), 128, np.uint8)
paths = []
for i in range(5):
    p = os.path.join(S, "JPEGImages", "img%d.jpg" % i)
    open(p, "wb").write(encode_jpeg(img))
    paths.append(p)
    for kind, flag in (("labels", 0), ("difficult", 1)):
        rows = [t for t in truths[i] if t[1] == flag]
        if rows or kind == "labels":
            with open(os.path.join(S, kind, "img%d.txt" % i), "w") as f:
                for c, _, x1, y1, x2, y2 in rows:
                    f.write("%d %.8f %.8f %.8f %.8f\n" % (c, (x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H))
open(os.path.join(S, "valid.txt"), "w").write("\n".join(paths) + "\n")
open(os.path.join(S, "names.txt"), "w").write("alpha\nbeta\ngamma\ndelta\n")
open(os.path.join(S, "set.data"), "w").write("classes=4\nvalid=%s/valid.txt\nnames=%s/names.txt\n" % (S, S))
with open(os.path.join(S, "dets.txt"), "w") as f:
    for i, c, s, x1, y1, x2, y2 in dets:
        f.write("%s %d %g %g %g %g %g\n" % (paths[i], c, s, x1, y1, x2, y2))
PY

check map_all_points ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -points 0 -json "$WORK/all.json"
# 59/135, 34/45, 5/9
grep -q "mAP@0.50 (all points, VOC2010+) = 43.70 % over 3 classes" "$WORK/map_all_points.out" \
    && pass all_points_map || fail all_points_map "$(tail -2 "$WORK/map_all_points.out")"
grep -qE '^  0  alpha +3 +1 +6 +3 +2 +1\.0000 +75\.56$' "$WORK/map_all_points.out" \
    && grep -qE '^  1  beta .* 55\.56$' "$WORK/map_all_points.out" \
    && grep -qE '^  2  gamma +2 +0 +0 +0 +0 +0\.0000 +0\.00$' "$WORK/map_all_points.out" \
    && grep -qE '^  3  delta +0 +0 +1 +0 +1 +- +-$' "$WORK/map_all_points.out" \
    && pass per_class_table || fail per_class_table "$(cat "$WORK/map_all_points.out")"
grep -q '"map": 0.437037' "$WORK/all.json" && grep -q '"ap": 0.755556' "$WORK/all.json" \
    && grep -q '"ignored": 1' "$WORK/all.json" && grep -q '"ap": null' "$WORK/all.json" \
    && pass json || fail json "$(head -5 "$WORK/all.json")"

check map_11_points ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -json "$WORK/11.json"
grep -q "mAP@0.50 (11-point, VOC2007) = 43.64 %" "$WORK/map_11_points.out" \
    && grep -q '"ap": 0.763636' "$WORK/11.json" && grep -q '"ap": 0.545455' "$WORK/11.json" \
    && pass eleven_points_is_default || fail eleven_points_is_default "$(tail -2 "$WORK/map_11_points.out")"

# at IoU .75 the boundary match (IoU .5) becomes a false positive: class 0 AP 7/15
check map_iou75 ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -points 0 -iou_thresh 0.75 -json "$WORK/75.json"
grep -q '"ap": 0.466667' "$WORK/75.json" && pass iou_thresh_option || fail iou_thresh_option

# without the difficult file, the detection of the difficult object is a false positive
mv "$S/difficult/img1.txt" "$WORK/img1.difficult"
check map_no_difficult ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -points 0 -json "$WORK/nd.json"
grep -q '"ignored": 0' "$WORK/nd.json" && ! grep -q '"ap": 0.755556' "$WORK/nd.json" \
    && pass difficult_file_matters || fail difficult_file_matters
mv "$WORK/img1.difficult" "$S/difficult/img1.txt"

expect_error bad_points "-points 5: expected 11" ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -points 5
expect_error bad_iou "-iou_thresh 2: expected a value in (0, 1]" ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -iou_thresh 2
printf '%s 9 .5 0 0 1 1\n' "$S/JPEGImages/img0.jpg" > "$WORK/badclass.txt"
expect_error bad_det_class "badclass.txt:1: expected IMAGE CLASS SCORE" ./darknet detector map "$S/set.data" -dets "$WORK/badclass.txt"
printf '/elsewhere/x.jpg 0 .5 0 0 1 1\n' > "$WORK/stranger.txt"
expect_error det_image_not_listed "image /elsewhere/x.jpg is not in the valid list" ./darknet detector map "$S/set.data" -dets "$WORK/stranger.txt"
expect_error map_usage "usage: darknet detector map" ./darknet detector map "$S/set.data"
