#!/bin/sh
# Two-stage layers on the synthetic VOC set: a 3-class copy of
# cfg/faster-rcnn-small-voc.cfg trains with -map past MIN_MAP (mAP@0.5),
# then `detector map`, `valid` and `test` run on it; the same for the
# [gcconv] twin.  Bad keys: errors naming the file, section and key.
# random=1 (multi-scale) trains with finite losses.  winograd=1: both train
# past the same bars (the same arithmetic, other rounding).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
# Measured: docs/detection.md section 8; untrained: about 0.  The twin
# learns more slowly (as tiny-det-gc.cfg), so its bar is lower.
MIN_MAP=20
MIN_MAP_GC=10
ITERATIONS=${RCNN_ITERATIONS:-200}
voc_shapes
D=$WORK/dn
convert_to "$D" && pass convert || fail convert "$(tail -3 "$D.convert.out")"

# For the set's 3 classes: classes=3, 5 x 3 + 1 = 16 outputs.
three_classes() {   # $1 = cfg basename in cfg/
    sed "s/^classes=20/classes=3/; s/^output=101/output=16/; s/^max_batches=.*/max_batches=$ITERATIONS/; \
s/^steps=.*/steps=$((ITERATIONS * 4 / 5))/" "cfg/$1.cfg" > "$WORK/$1.cfg"
}

train_and_check() {   # $1 = cfg basename in cfg/, $2 = the mAP to beat
    n=$1
    MIN_MAP=$2
    three_classes "$n"
    C=$WORK/$n.cfg
    check "train_$n" ./darknet detector train "$D/voc.data" "$C" -map -map_every $ITERATIONS
    O=$WORK/train_$n.out
    best=$(value "$O" "best mAP@0.50 =")
    if [ -n "$best" ] && awk -v b="$best" -v m="$MIN_MAP" 'BEGIN { exit !(b > m) }'; then
        pass "${n}_map_above_$MIN_MAP"
    else
        fail "${n}_map_above_$MIN_MAP" "best mAP: ${best:-none}"
    fi
    rate=$(grep -E "^$ITERATIONS: " "$O" | grep -oE '[0-9.]+ img/s')
    echo "$n: best mAP@0.50 $best %, last iteration $rate"
    [ "$(grep -cE '^[0-9]+: [0-9.]+, [0-9.]+ avg, .* [0-9.]+ img/s, ETA [0-9hms]+$' "$O")" -eq "$ITERATIONS" ] \
        && pass "${n}_every_iteration_line" || fail "${n}_every_iteration_line"
    W=$D/${n}_final.weights
    [ -s "$W" ] && pass "${n}_final_weights" || fail "${n}_final_weights"

    check "map_$n" ./darknet detector map "$D/voc.data" "$C" "$W"
    again=$(value "$WORK/map_$n.out" "mAP@0.50 (11-point, VOC2007) =")
    [ "$again" = "$best" ] && pass "${n}_map_command_agrees" || fail "${n}_map_command_agrees" "$again vs $best"

    # detector valid: a comp4 file per class, "image score x1 y1 x2 y2"; the
    # corners are 1-based and clipped, so a sliver at the edge may be < 1 px
    mkdir -p "$WORK/results_$n"
    sed "s#^backup=.*#backup=$D#" "$D/voc.data" > "$WORK/$n.data"
    echo "results=$WORK/results_$n" >> "$WORK/$n.data"
    check "valid_$n" ./darknet detector valid "$WORK/$n.data" "$C" "$W"
    lines=$(cat "$WORK/results_$n"/comp4_det_test_*.txt 2>/dev/null | wc -l)
    bad=$(cat "$WORK/results_$n"/comp4_det_test_*.txt 2>/dev/null | awk 'NF!=6||$2<0||$2>1||$5<$3-1||$6<$4-1' | wc -l)
    [ "$(ls "$WORK/results_$n"/comp4_det_test_*.txt 2>/dev/null | wc -l)" -eq 3 ] && [ "$lines" -gt 0 ] && [ "$bad" -eq 0 ] \
        && pass "${n}_valid_writes_results" || fail "${n}_valid_writes_results" "$lines lines, $bad bad"

    # detector test: boxes drawn and saved
    img=$(head -1 "$D/test.txt")
    check "test_$n" ./darknet detector test "$D/voc.data" "$C" "$W" "$img" -thresh 0.3 -out "$WORK/pred_$n"
    [ "$(od -An -tx1 -N3 "$WORK/pred_$n.jpg" 2>/dev/null | tr -d ' ')" = ffd8ff ] \
        && grep -q 'Predicted in' "$WORK/test_$n.out" && grep -qE '^(circle|square|triangle): [0-9]+%' "$WORK/test_$n.out" \
        && pass "${n}_test_draws_detections" || fail "${n}_test_draws_detections" "$(tail -3 "$WORK/test_$n.out")"
}

# ---- bad keys: file, section index and key in the message
bad_key() {   # $1 = name, $2 = sed expression, $3 = expected text
    sed "$2" cfg/faster-rcnn-small-voc.cfg > "$WORK/bad_$1.cfg"
    expect_error "bad_$1" "$3" ./darknet detector map "$D/voc.data" "$WORK/bad_$1.cfg" "$WORK/none.weights"
}
bad_key anchor_sizes 's/^anchor_sizes=.*/anchor_sizes=24,48/' "bad_anchor_sizes.cfg: section 11 [rpn]: anchor_sizes"
bad_key roipool_from 's/^from=8/from=40/' "[roipool]: from"
bad_key roipool_mode 's/^mode=align/mode=avg/' "[roipool]: mode"
bad_key rcnn_classes 's/^classes=20/classes=7/' "[rcnn]: classes"
bad_key rcnn_random 's/^detections=100/random=2/' "[rcnn]: random"

# random=1: multi-scale training of a two-stage cfg.  Every 10 iterations a
# size of 96 to 192 (0.7x to 1.4x of 128, to multiples of 32), then 128 for the
# last tenth; every loss finite and the weights saved.
three_classes faster-rcnn-small-voc
sed "s/^detections=100/detections=100\nrandom=1/; s/^max_batches=.*/max_batches=40/" \
    "$WORK/faster-rcnn-small-voc.cfg" > "$WORK/multiscale.cfg"
sed "s#^backup *=.*#backup=$WORK/multiscale#" "$D/voc.data" > "$WORK/multiscale.data"
mkdir -p "$WORK/multiscale"
check multiscale_train ./darknet detector train "$WORK/multiscale.data" "$WORK/multiscale.cfg"
O=$WORK/multiscale_train.out
sizes=$(grep -o '^Resizing to [0-9]* x [0-9]*' "$O" | sort -u | wc -l)
losses=$(grep -cE '^[0-9]+: [0-9.]+, [0-9.]+ avg' "$O")
[ "$sizes" -ge 2 ] && [ "$losses" -eq 40 ] && ! grep -qiE '^[0-9]+: (-?nan|-?inf)' "$O" &&
    [ -s "$WORK/multiscale/multiscale_final.weights" ] && pass multiscale_two_stage_trains ||
    fail multiscale_two_stage_trains "$sizes sizes, $losses finite loss lines: $(tail -2 "$O")"

# winograd=1 in [net]: the 3x3 convolutions by Winograd's algorithm
# (docs/performance.md), the twin's by the convolution with H.
winograd_trains() {   # $1 = cfg basename in cfg/, $2 = the mAP to beat
    three_classes "$1"
    sed "s/^\[net\]/[net]\nwinograd=1/" "$WORK/$1.cfg" > "$WORK/winograd_$1.cfg"
    sed "s#^backup *=.*#backup=$WORK/winograd_$1#" "$D/voc.data" > "$WORK/winograd_$1.data"
    mkdir -p "$WORK/winograd_$1"
    check "winograd_train_$1" ./darknet detector train "$WORK/winograd_$1.data" "$WORK/winograd_$1.cfg" \
        -map -map_every $ITERATIONS
    best=$(value "$WORK/winograd_train_$1.out" "best mAP@0.50 =")
    echo "$1 with winograd=1: best mAP@0.50 $best %"
    if [ -n "$best" ] && awk -v b="$best" -v m="$2" 'BEGIN { exit !(b > m) }'; then
        pass "${1}_winograd_map_above_$2"
    else
        fail "${1}_winograd_map_above_$2" "best mAP: ${best:-none}"
    fi
}

train_and_check faster-rcnn-small-voc $MIN_MAP
winograd_trains faster-rcnn-small-voc $MIN_MAP
if gcconv_available; then
    train_and_check faster-rcnn-small-voc-gc $MIN_MAP_GC
    winograd_trains faster-rcnn-small-voc-gc $MIN_MAP_GC
else
    echo "SKIP faster-rcnn-small-voc-gc: ./darknet has no [gcconv] layer yet"
fi
