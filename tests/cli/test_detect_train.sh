#!/bin/sh
# End to end on the synthetic VOC set: convert, train the tiny detector with
# -map for 450 iterations on the CPU, and reach mAP@0.5 (VOC2007 11-point)
# above MIN_MAP on the test list.  The best weights, the chart and the
# iteration lines (img/s, ETA) are checked, `detector map` on the best
# weights must give the same mAP, and a short random=1 run resizes.  The
# [gcconv] twin runs the same checks once ./darknet knows the layer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
MIN_MAP=15      # measured on 2 CPU cores: plain 68.9, [gcconv] K=2 27.9; untrained: about 1
voc_shapes
D=$WORK/dn
convert_to "$D" && pass convert || fail convert "$(tail -3 "$D.convert.out")"

train_and_check() {   # $1 = cfg basename in tests/data
    n=$1
    check "train_$n" ./darknet detector train "$D/voc.data" "tests/data/$n.cfg" -map -map_every 150
    O=$WORK/train_$n.out
    best=$(value "$O" "best mAP@0.50 =")
    if [ -n "$best" ] && awk -v b="$best" -v m="$MIN_MAP" 'BEGIN { exit !(b > m) }'; then
        pass "${n}_map_above_$MIN_MAP"
    else
        fail "${n}_map_above_$MIN_MAP" "best mAP: ${best:-none}"
    fi
    echo "$n: best mAP@0.50 $best %"
    [ "$(grep -c ': mAP@0.50 = ' "$O")" -eq 3 ] && pass "${n}_map_every_150" || fail "${n}_map_every_150"
    [ "$(grep -cE '^[0-9]+: [0-9.]+, [0-9.]+ avg, .* [0-9.]+ img/s, ETA [0-9hms]+$' "$O")" -eq 450 ] \
        && pass "${n}_lines_show_rate_and_eta" || fail "${n}_lines_show_rate_and_eta" "$(grep -m1 'img/s' "$O")"
    [ -s "$D/${n}_best.weights" ] && [ -s "$D/${n}_final.weights" ] && pass "${n}_best_weights" || fail "${n}_best_weights"
    # a PNG of 800 x 500 pixels
    hdr=$(od -An -tx1 -N24 "$D/${n}_chart.png" 2>/dev/null | tr -d ' \n')
    [ "$hdr" = "89504e470d0a1a0a0000000d4948445200000320000001f4" ] && pass "${n}_chart_png" || fail "${n}_chart_png" "$hdr"
    check "map_$n" ./darknet detector map "$D/voc.data" "tests/data/$n.cfg" "$D/${n}_best.weights"
    again=$(value "$WORK/map_$n.out" "mAP@0.50 (11-point, VOC2007) =")
    [ "$again" = "$best" ] && pass "${n}_map_command_agrees" || fail "${n}_map_command_agrees" "$again vs $best"

    # random=1: the input size changes every 10 iterations
    sed 's/^random=0/random=1/; s/^max_batches=.*/max_batches=30/' "tests/data/$n.cfg" > "$WORK/$n-random.cfg"
    check "random_$n" ./darknet detector train "$D/voc.data" "$WORK/$n-random.cfg"
    sizes=$(grep '^Resizing to' "$WORK/random_$n.out" | sort -u | wc -l)
    [ "$sizes" -ge 2 ] && [ -s "$D/$n-random_final.weights" ] && pass "${n}_random_resizes" \
        || fail "${n}_random_resizes" "$(grep '^Resizing' "$WORK/random_$n.out" | tr '\n' ' ')"
}

train_and_check tiny-det

# AlexeyAB's forms: -dont_show on any command, even before upstream's IMAGE
# argument, and with a display set no window is opened (the image is saved)
sed 's/^max_batches=.*/max_batches=2/' tests/data/tiny-det.cfg > "$WORK/tiny-det-short.cfg"
check dont_show_train ./darknet detector train "$D/voc.data" "$WORK/tiny-det-short.cfg" -dont_show
img=$(head -1 "$D/test.txt")
check dont_show_test env DISPLAY=:4242 ./darknet detector test "$D/voc.data" tests/data/tiny-det.cfg \
    "$D/tiny-det_best.weights" -dont_show "$img" -out "$WORK/pred"
[ "$(od -An -tx1 -N3 "$WORK/pred.jpg" 2>/dev/null | tr -d ' ')" = ffd8ff ] && grep -q 'Predicted in' "$WORK/dont_show_test.out" \
    && pass dont_show_test_reads_the_image || fail dont_show_test_reads_the_image "$(tail -2 "$WORK/dont_show_test.out")"
# -out FILE.json and -ext_output (AlexeyAB's): image paths from standard
# input, one JSON frame each; every object is listed with its box in pixels
# and an unreadable path between them is reported and skipped
{ head -1 "$D/test.txt"; echo "$WORK/missing.jpg"; sed -n 2p "$D/test.txt"; } > "$WORK/two.txt"
./darknet detector test "$D/voc.data" tests/data/tiny-det.cfg "$D/tiny-det_best.weights" -dont_show -ext_output \
    -thresh 0.2 -out "$WORK/result.json" < "$WORK/two.txt" > "$WORK/json_test.out" 2>&1
/usr/bin/python3 - "$WORK/result.json" "$WORK/json_test.out" "$WORK/two.txt" "$D/voc.data" > "$WORK/json.check" 2>&1 <<'PY'
import json, re, struct, sys
frames = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
paths = [l.strip() for l in open(sys.argv[3]) if l.strip() and "missing" not in l]
assert re.search(r"warning: .*missing\.jpg: .*skipped", out), "no warning for the unreadable path"
data = dict(l.strip().split("=", 1) for l in open(sys.argv[4]) if "=" in l)
names = [l.strip() for l in open(data["names"].strip()) if l.strip()]
assert [f["frame_id"] for f in frames] == [1, 2] and [f["filename"] for f in frames] == paths, frames
def size(path):   # a JPEG's width and height from its SOF marker
    b = open(path, "rb").read(); i = 2
    while True:
        m, n = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if m in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", b[i + 5:i + 9]); return w, h
        i += 2 + n
lines = re.findall(r"^(\w+): (\d+)%\t\(left_x: +(-?\d+) +top_y: +(-?\d+) +width: +(\d+) +height: +(\d+)\)$", out, re.M)
objs = [(f, o) for f in frames for o in f["objects"]]
assert objs, "no objects at thresh 0.2"
assert len(lines) == len(objs), (len(lines), len(objs))
for (f, o), l in zip(objs, lines):
    w, h = size(f["filename"]); r = o["relative_coordinates"]
    assert o["name"] == names[o["class_id"]] == l[0], (o, l)
    assert 0.2 < o["confidence"] <= 1 and int(l[1]) == round(100 * o["confidence"]), (o, l)
    want = [(r["center_x"] - r["width"] / 2) * w, (r["center_y"] - r["height"] / 2) * h, r["width"] * w, r["height"] * h]
    assert all(abs(int(g) - v) <= 0.5 + 1e-3 for g, v in zip(l[2:], want)), (l, want)
print("ok", len(objs), "objects")
PY
grep -q '^ok' "$WORK/json.check" && pass json_out_and_ext_output || fail json_out_and_ext_output "$(tail -2 "$WORK/json.check")"
expect_error gpus_points_to_mpi "docs/gpu.md, \"Several GPUs\"" \
    ./darknet detector train "$D/voc.data" "$WORK/tiny-det-short.cfg" -gpus 0,1
if gcconv_available; then
    train_and_check tiny-det-gc
else
    echo "SKIP tiny-det-gc: ./darknet has no [gcconv] layer yet"
fi
