#!/bin/sh
# Bad data never stops training silently: a missing label file, a malformed
# line, a class id out of range, a box outside the image, a truncated JPEG
# and a file that is no image are each skipped with a warning naming the
# file, counted, and summarised; training and evaluation still finish.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
V=$WORK/voc
/usr/bin/python3 scripts/gen_voc_shapes.py "$V" --trainval 16 --test 6 --seed 4 2>/dev/null
D=$WORK/dn
/usr/bin/python3 scripts/voc_convert.py "$V/VOCdevkit" --out "$D" --names "$V/names.txt" --backup "$WORK" 2>/dev/null
L=$V/VOCdevkit/VOC2007/labels
J=$V/VOCdevkit/VOC2007/JPEGImages
rm "$L/2007_000001.txt"                                   # missing label file
printf '0 0.5 0.5 0.2\n' >> "$L/2007_000002.txt"           # malformed line
printf '7 0.5 0.5 0.2 0.2\n' >> "$L/2007_000003.txt"       # class id out of range
printf '1 1.3 0.5 0.2 0.2\n' >> "$L/2007_000004.txt"       # box outside the image
head -c 600 "$J/2007_000005.jpg" > "$WORK/cut.jpg" && cp "$WORK/cut.jpg" "$J/2007_000005.jpg"   # truncated
echo "not a jpeg" > "$J/2007_000006.jpg"                   # not an image
# the test images get the same problems
printf '0 0.5 0.5\n' >> "$L/2007_000017.txt"
cp "$WORK/cut.jpg" "$J/2007_000018.jpg"

sed 's/^max_batches=.*/max_batches=3/' tests/data/tiny-det.cfg > "$WORK/tiny.cfg"
check train ./darknet detector train "$D/voc.data" "$WORK/tiny.cfg" -map -map_every 3
O=$WORK/train.out
warned() { grep -q "^warning: $1.*$2" "$O"; }
warned "$L/2007_000001.txt" "missing label file" && pass warn_missing_labels || fail warn_missing_labels
warned "$L/2007_000002.txt:[0-9]*:" "malformed line" && pass warn_malformed_line || fail warn_malformed_line
warned "$L/2007_000003.txt:[0-9]*:" "class id 7 outside \[0, 3)" && pass warn_class_id || fail warn_class_id
warned "$L/2007_000004.txt:[0-9]*:" "box outside the image" && pass warn_box_outside || fail warn_box_outside
warned "$J/2007_000005.jpg" "corrupt image" && pass warn_truncated_jpeg || fail warn_truncated_jpeg
warned "$J/2007_000006.jpg" "image" && pass warn_not_an_image || fail warn_not_an_image
grep -q "^training images: 13 usable of 16" "$O" && pass bad_images_left_out || fail bad_images_left_out "$(grep '^training images' "$O")"
S="data issues (each skipped with a warning): 1 missing label file, 2 malformed line, 1 class id out of range, 1 box outside the image, 3 unreadable image"
[ "$(grep -c "^$S\$" "$O")" -ge 1 ] && pass summary_counts || fail summary_counts "$(grep '^data issues' "$O" | tail -1)"
# each problem is reported once, however often its image comes up
[ "$(grep -c "^warning: $L/2007_000002.txt" "$O")" -eq 1 ] && pass warned_once || fail warned_once
grep -q "mAP@0.50 = " "$O" && [ -s "$WORK/tiny_final.weights" ] && pass training_finished || fail training_finished

check map ./darknet detector map "$D/voc.data" "$WORK/tiny.cfg" "$WORK/tiny_final.weights"
grep -q "^warning: $J/2007_000018.jpg" "$WORK/map.out" && grep -q "^5 of 6 images scored" "$WORK/map.out" \
    && grep -q "^mAP@0.50" "$WORK/map.out" && pass map_skips_bad_image || fail map_skips_bad_image "$(grep scored "$WORK/map.out")"
# the same COCO-style, and again from the detections it saved: as many kept
check map_coco ./darknet detector map "$D/voc.data" "$WORK/tiny.cfg" "$WORK/tiny_final.weights" -coco \
    -save_dets "$WORK/coco_dets.txt"
grep -q "^5 of 6 images scored" "$WORK/map_coco.out" && grep -q "^mAP@\[.50:.95\] (COCO-style) = " "$WORK/map_coco.out" \
    && pass map_coco_skips_bad_image || fail map_coco_skips_bad_image "$(grep scored "$WORK/map_coco.out")"
check map_coco_saved ./darknet detector map "$D/voc.data" -dets "$WORK/coco_dets.txt" -coco
kept() { grep -o '([0-9]* of [0-9]* kept)' "$1"; }
[ -n "$(kept "$WORK/map_coco.out")" ] && [ "$(kept "$WORK/map_coco.out")" = "$(kept "$WORK/map_coco_saved.out")" ] \
    && pass map_coco_saved_agrees || fail map_coco_saved_agrees "$(kept "$WORK/map_coco.out") / $(kept "$WORK/map_coco_saved.out")"

# every image unusable: a clear error, not a silent exit
printf 'classes=3\ntrain=%s/none.txt\nbackup=%s\n' "$WORK" "$WORK" > "$WORK/none.data"
printf '%s\n' "$J/2007_000005.jpg" "$J/2007_000006.jpg" > "$WORK/none.txt"
expect_error no_usable_images "no usable training image" ./darknet detector train "$WORK/none.data" "$WORK/tiny.cfg"
