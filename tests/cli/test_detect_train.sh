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
expect_error gpus_points_to_one_gpu "train on one GPU, chosen with -i N" \
    ./darknet detector train "$D/voc.data" "$WORK/tiny-det-short.cfg" -gpus 0,1
if gcconv_available; then
    train_and_check tiny-det-gc
else
    echo "SKIP tiny-det-gc: ./darknet has no [gcconv] layer yet"
fi
