#!/bin/sh
# detector map -coco against an independent Python implementation of the
# COCO evaluation rules (tests/ref/coco_eval_ref.py), on generated sets:
# hand-made images (ties in score and in IoU, duplicates, IoU of exactly .5
# and .75, a crowd region, a difficult object, areas on and between the
# range bounds, images of several sizes, 120 detections in one image over
# two classes, a class with no truths and no detections, one with only a
# crowd region and a difficult object) and random ones.  Every number the
# command prints and writes to JSON is compared: counts exactly, values to
# half a unit of the last printed decimal (0.005 % on the screen, 5e-7 in
# JSON; both sides compute the same ratios in double precision).
. "$(dirname "$0")/lib.sh"
REF="/usr/bin/python3 tests/ref/coco_eval_ref.py"

# compare NAME SET ARGS...: runs detector map on SET with ARGS and checks
# its output against the reference (the reference prints PASS/FAIL lines)
compare() {
    name=$1 set=$2; shift 2
    check "$name" ./darknet detector map "$set/set.data" -dets "$set/dets.txt" -json "$WORK/$name.json" "$@"
    $REF check "$set" "$WORK/$name.out" "$WORK/$name.json" | sed "s/^\(PASS\|FAIL\) /\1 ${name}_/"
}

for seed in 1 2 3; do
    $REF make "$WORK/set$seed" --seed $seed --random 40 > "$WORK/make$seed.out" 2>&1 \
        || fail "make_set$seed" "$(tail -2 "$WORK/make$seed.out")"
done
compare coco1 "$WORK/set1" -coco
compare coco2 "$WORK/set2" -iou_thresh 0.5:0.95 -points 101
compare coco3 "$WORK/set3" -points 101

# the three spellings ask for the same evaluation
./darknet detector map "$WORK/set1/set.data" -dets "$WORK/set1/dets.txt" -iou_thresh 0.5:0.95 \
    -points 101 -json "$WORK/spelled.json" > /dev/null 2>&1
cmp -s "$WORK/coco1.json" "$WORK/spelled.json" && pass spellings_agree || fail spellings_agree

# the comparison can fail: one value moved by 1e-5 in JSON, one by 0.01 % on the screen
/usr/bin/python3 - "$WORK/coco1.json" "$WORK/coco1.out" "$WORK/wrong.json" "$WORK/wrong.out" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
doc["classes"][2]["AP75"] += 1e-5
json.dump(doc, open(sys.argv[3], "w"))
text = open(sys.argv[2]).read()
m = re.search(r"^(AR10 .* )([0-9]+\.[0-9]{2})( +\d+)$", text, re.M)
text = text[:m.start(2)] + "%.2f" % (float(m.group(2)) + .01) + text[m.end(2):]
open(sys.argv[4], "w").write(text)
PY
$REF check "$WORK/set1" "$WORK/coco1.out" "$WORK/wrong.json" > "$WORK/wrong_json.out" 2>&1
[ $? -eq 1 ] && grep -q "^FAIL json_numbers: class 2 AP75" "$WORK/wrong_json.out" \
    && pass reference_catches_json_value || fail reference_catches_json_value "$(head -1 "$WORK/wrong_json.out")"
$REF check "$WORK/set1" "$WORK/wrong.out" "$WORK/coco1.json" > "$WORK/wrong_screen.out" 2>&1
[ $? -eq 1 ] && grep -q "^FAIL screen_summary: AR10" "$WORK/wrong_screen.out" \
    && pass reference_catches_screen_value || fail reference_catches_screen_value "$(head -1 "$WORK/wrong_screen.out")"

# VOC leaves crowd regions out: class 5's detection inside its region is a
# false positive there, the one on its difficult object ignored
S=$WORK/set1
check voc_on_crowd_set ./darknet detector map "$S/set.data" -dets "$S/dets.txt" -points 0
grep -qE '^  5  crowdonly +0 +1 +3 +0 +2 +- +-$' "$WORK/voc_on_crowd_set.out" \
    && pass voc_ignores_crowd_folder || fail voc_ignores_crowd_folder "$(grep crowdonly "$WORK/voc_on_crowd_set.out")"

# no detections at all: AP 0 wherever there are truths
: > "$WORK/none.txt"
check coco_no_dets ./darknet detector map "$S/set.data" -dets "$WORK/none.txt" -coco
grep -q '^mAP@\[.50:.95\] (COCO-style) = 0.00 % over 4 classes$' "$WORK/coco_no_dets.out" \
    && grep -q '(0 of 0 kept)' "$WORK/coco_no_dets.out" \
    && pass no_detections || fail no_detections "$(tail -2 "$WORK/coco_no_dets.out")"

# no truths at all: every value is "-" on the screen and null in JSON
E=$WORK/empty
mkdir -p "$E/images" "$E/labels"
cp "$S/images/img000.png" "$E/images/a.png" && : > "$E/labels/a.txt"
printf '%s\n' "$E/images/a.png" > "$E/valid.txt"
printf 'classes=2\nvalid=%s/valid.txt\n' "$E" > "$E/set.data"
printf '%s 0 .5 0 0 10 10\n' "$E/images/a.png" > "$E/dets.txt"
check coco_no_truths ./darknet detector map "$E/set.data" -dets "$E/dets.txt" -coco -json "$WORK/empty.json"
grep -q '^mAP@\[.50:.95\] (COCO-style) = - (no class has a truth)$' "$WORK/coco_no_truths.out" \
    && grep -qE '^AR_large +0.50:0.95 +large +100 +- +0$' "$WORK/coco_no_truths.out" \
    && grep -q '"map": null' "$WORK/empty.json" && grep -q '"AP": null' "$WORK/empty.json" \
    && pass no_truths || fail no_truths "$(tail -3 "$WORK/coco_no_truths.out")"

# bad values name the option and exit with status 1
D="$S/set.data -dets $S/dets.txt"
expect_error iou_range_cut "-iou_thresh 0.5:: expected a number in (0, 1] or the range 0.5:0.95" \
    ./darknet detector map $D -iou_thresh 0.5:
expect_error iou_range_start "-iou_thresh :0.95: expected a number" ./darknet detector map $D -iou_thresh :0.95
expect_error iou_range_other "-iou_thresh 0.3:0.9: the only range is 0.5:0.95" \
    ./darknet detector map $D -iou_thresh 0.3:0.9
expect_error iou_not_number "-iou_thresh abc: expected a number" ./darknet detector map $D -iou_thresh abc
expect_error coco_with_one_iou "-iou_thresh 0.6: the COCO-style evaluation" ./darknet detector map $D -coco -iou_thresh 0.6
expect_error coco_with_11_points "-points 11: the COCO-style evaluation" ./darknet detector map $D -coco -points 11
expect_error range_with_0_points "-points 0: the COCO-style evaluation" \
    ./darknet detector map $D -iou_thresh 0.5:0.95 -points 0
expect_error points_unknown "-points 7: expected 11 (VOC2007), 0 (all points) or 101" ./darknet detector map $D -points 7
expect_error iou_missing "option -iou_thresh needs a value" ./darknet detector map $D -coco -iou_thresh
printf '%s 0 nan 0 0 10 10\n' "$S/images/img000.png" > "$WORK/nan.txt"
expect_error det_nan_score "nan.txt:1: the score and corners must be finite numbers" \
    ./darknet detector map "$S/set.data" -dets "$WORK/nan.txt" -coco
expect_error json_unwritable "cannot open $WORK/no/such/dir.json for writing" \
    ./darknet detector map $D -coco -json "$WORK/no/such/dir.json"
