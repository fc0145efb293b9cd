#!/bin/sh
# ./darknet gcfold: a CCNN folded into plain [convolutional] layers computes
# what the CCNN computes, on real images (PNG for the classifiers, JPEG for
# the detector), in our build (fast and reference kernels), in stock
# upstream Darknet (build/plain) and in OpenCV's dnn module.  Weights come
# from a few seeded training iterations, so that R and the batch-norm
# rolling statistics are not their initial values, and a failure replays.
#
# Layers are compared one at a time (tests/tools/compare_layers): the fold
# runs each layer on the CCNN's outputs of the layers before it
# (dump_images --feed), and each layer's largest difference must be within
# the rounding bound derived for it from its sum lengths and magnitudes
# (tests/unit/helpers/rounding.c).  For OpenCV, each layer with weights or
# pooling runs alone on the CCNN's inputs, and the bound adds the
# difference between its batch norm, (x - mean) / sqrt(var + 1e-6), and
# Darknet's, (x - mean) / (sqrt(var) + 1e-6).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
PY=/usr/bin/python3
shapes_dataset
IMAGES=$(ls "$SHAPES"/valid/*.png | head -6)
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$WORK/shapes.data"

# train_classifier NAME CFG ITERATIONS: $WORK/NAME.cfg (batch 8, 4 classes, seed 7), $WORK/NAME.weights
train_classifier() {
    sed "s/^batch=.*/batch=8/; s/^subdivisions=.*/subdivisions=1/; s/^max_batches=.*/max_batches=$3/;
         s/^policy=.*/policy=constant/; s/^output=10$/output=4/; s/^filters=10$/filters=4/; s/^seed=.*//;
         s/^\[net\]/[net]\nseed=7/" "$2" > "$WORK/$1.cfg"
    check "train_$1" ./darknet classifier train "$WORK/shapes.data" "$WORK/$1.cfg" -dont_show
}

# dumps NAME CFG WEIGHTS IMAGES...: $WORK/NAME.{fast,ref,plain}.bin and
# NAME.in.bin, every layer run on its own outputs
dumps() {
    d=$1 c=$2 w=$3; shift 3
    build/tests/dump_images "$c" "$w" "$WORK/$d.fast.bin" "$WORK/$d.in.bin" "$@" > /dev/null 2>&1
    DARKNET_REFERENCE=1 build/tests/dump_images "$c" "$w" "$WORK/$d.ref.bin" "$WORK/$d.in.bin" "$@" > /dev/null 2>&1
    build/plain/dump_images "$c" "$w" "$WORK/$d.plain.bin" "$WORK/$d.plain-in.bin" "$@" > /dev/null 2>&1
}

# fed NAME CFG WEIGHTS REF BUILD IMAGES...: $WORK/NAME.BUILD.fed.bin, each
# layer of CFG run on REF's outputs of the layers before it, by BUILD
# (fast, ref or plain)
fed() {
    d=$1 c=$2 w=$3 ref=$4 b=$5; shift 5
    case $b in
        fast) tool=build/tests/dump_images;;
        ref) tool="env DARKNET_REFERENCE=1 build/tests/dump_images";;
        plain) tool=build/plain/dump_images;;
    esac
    $tool --feed "$ref" "$c" "$w" "$WORK/$d.$b.fed.bin" "$WORK/$d.$b.fed-in.bin" "$@" > "$WORK/$d.$b.fed.out" 2>&1
}

# compare NAME CCNN REF FED [ARGS]: passes when every layer of FED is within
# its bound of REF, the dump of $WORK/CCNN.{cfg,weights} on $WORK/CCNN.in.bin
compare() {
    name=$1 net=$2 ref=$3 got=$4; shift 4
    build/tests/compare_layers "$WORK/$net.cfg" "$WORK/$net.weights" "$ref" "$WORK/$net.in.bin" "$got" "$@" \
        > "$WORK/$name.out" 2>&1
    status=$?
    if [ $status -eq 0 ]; then pass "$name"; else fail "$name" "status $status"; fi
    grep -E '^(worst|compare_layers|layer .*OVER)' "$WORK/$name.out" | sed "s/^/$name: /"
}

# fold_and_compare NAME IMAGES...: folds $WORK/NAME.{cfg,weights} and checks
# the fold against the CCNN in every build
fold_and_compare() {
    n=$1; shift
    check "fold_$n" ./darknet gcfold "$WORK/$n.cfg" "$WORK/$n.weights" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights"
    gc=$(grep -c '^\[gcconv\]' "$WORK/$n.cfg")
    left=$(grep -c '^\[gcconv\]' "$WORK/$n-fold.cfg")
    # a [gcmerge] mode=mean becomes one more [convolutional]
    means=$(grep -A1 '^\[gcmerge\]' "$WORK/$n.cfg" | grep -c '^mode=mean')
    convs=$(( $(grep -c '^\[convolutional\]' "$WORK/$n.cfg") + gc + means ))
    [ "$gc" -gt 0 ] && [ "$left" -eq 0 ] && [ "$(grep -c '^\[convolutional\]' "$WORK/$n-fold.cfg")" -eq "$convs" ] \
        && pass "${n}_cfg_has_convolutional_only" || fail "${n}_cfg_has_convolutional_only" "$gc [gcconv], $left left"
    # the header (version and seen) is the CCNN's
    [ "$(head -c 20 "$WORK/$n.weights" | od -An -tx1)" = "$(head -c 20 "$WORK/$n-fold.weights" | od -An -tx1)" ] \
        && pass "${n}_header_kept" || fail "${n}_header_kept"
    dumps "$n" "$WORK/$n.cfg" "$WORK/$n.weights" "$@"
    dumps "$n-fold" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights" "$@"
    fed "$n-fold" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights" "$WORK/$n.fast.bin" fast "$@"
    fed "$n-fold" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights" "$WORK/$n.ref.bin" ref "$@"
    fed "$n-fold" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights" "$WORK/$n.ref.bin" plain "$@"
    compare "${n}_fold_equals_ccnn" "$n" "$WORK/$n.fast.bin" "$WORK/$n-fold.fast.fed.bin"
    compare "${n}_fold_equals_ccnn_reference_kernels" "$n" "$WORK/$n.ref.bin" "$WORK/$n-fold.ref.fed.bin"
    compare "${n}_stock_upstream_equals_ccnn" "$n" "$WORK/$n.ref.bin" "$WORK/$n-fold.plain.fed.bin"
    # stock upstream and our reference kernels: the same bits on the fold, from the same input
    cmp -s "$WORK/$n-fold.in.bin" "$WORK/$n-fold.plain-in.bin" && cmp -s "$WORK/$n-fold.plain.bin" "$WORK/$n-fold.ref.bin" \
        && pass "${n}_stock_upstream_bit_identical" || fail "${n}_stock_upstream_bit_identical"
}

# opencv NAME: OpenCV's dnn on the fold's layers, each alone on the CCNN's
# inputs, against the CCNN
opencv() {
    build/tests/dump_images --shapes "$WORK/$1-fold.shapes" "$WORK/$1-fold.cfg" "$WORK/$1-fold.weights" \
        "$WORK/$1.shapes.bin" "$WORK/$1.shapes-in.bin" $(echo $IMAGES | cut -d' ' -f1) > /dev/null 2>&1
    if $PY tests/tools/opencv_dump.py "$WORK/$1-fold.cfg" "$WORK/$1-fold.weights" "$WORK/$1.in.bin" \
        "$WORK/$1.cv.bin" --feed "$WORK/$1.fast.bin" "$WORK/$1-fold.shapes" > "$WORK/$1.cv.out" 2>&1; then
        pass "${1}_opencv_reads_fold"
    else fail "${1}_opencv_reads_fold" "$(tail -3 "$WORK/$1.cv.out")"; fi
    compare "${1}_opencv_equals_ccnn" "$1" "$WORK/$1.fast.bin" "$WORK/$1.cv.bin" --common --opencv
}

# ---- classifiers --------------------------------------------------------------
# mnist-small-k2 ends in [gcmerge] mode=mean, folded into a fixed 1x1
# [convolutional] (weights 1/K on each output's K branches).
train_classifier mnist cfg/mnist-small-k2.cfg 40
fold_and_compare mnist $IMAGES
opencv mnist
[ "$(grep -c '^# folded from \[gcmerge\] mode=mean' "$WORK/mnist-fold.cfg")" -eq 1 ] && ! grep -q '^\[gcmerge\]' "$WORK/mnist-fold.cfg" \
    && pass mnist_mean_merge_folded || fail mnist_mean_merge_folded
# the [connected] head is copied as it was: the files end alike
tail_bytes=$(( (4 + 4 * 7 * 7 * 32) * 4 ))
[ "$(tail -c $tail_bytes "$WORK/mnist.weights" | md5sum)" = "$(tail -c $tail_bytes "$WORK/mnist-fold.weights" | md5sum)" ] \
    && pass mnist_connected_copied || fail mnist_connected_copied

train_classifier resnet18 cfg/resnet18-cifar-k2.cfg 6
fold_and_compare resnet18 $IMAGES
grep -q "as 3x3 with the weights at the centre" "$WORK/resnet18-fold.cfg" \
    && pass resnet18_strided_1x1_widened || fail resnet18_strided_1x1_widened
opencv resnet18

# every kind of [gcconv]: branch mixing with and without expand, 1x1, K=1, padding=2
train_classifier mixes tests/data/fold-mixes.cfg 20
fold_and_compare mixes $IMAGES
opencv mixes
sed 's/^batch_normalize=1/batch_normalize=0/' tests/data/fold-mixes.cfg > "$WORK/mixes-nobn.src.cfg"
train_classifier mixes-nobn "$WORK/mixes-nobn.src.cfg" 20
fold_and_compare mixes-nobn $IMAGES
opencv mixes-nobn

# ---- a YOLOv3 detector, on JPEG images ------------------------------------------
voc_shapes
convert_to "$WORK/dn"
sed "s/^batch=.*/batch=2/; s/^subdivisions=.*/subdivisions=1/; s/^width=.*/width=96/; s/^height=.*/height=96/;
     s/^max_batches=.*/max_batches=4/; s/^burn_in=.*/burn_in=0/; s/^classes=20/classes=3/; s/^filters=75/filters=24/;
     s/^\[net\]/[net]\nseed=7/" cfg/yolov3-tiny-voc-gc.cfg > "$WORK/yolo.cfg"
check train_yolo ./darknet detector train "$WORK/dn/voc.data" "$WORK/yolo.cfg"
mv "$WORK/dn/yolo_final.weights" "$WORK/yolo.weights"
fold_and_compare yolo $(head -3 "$WORK/dn/test.txt")
opencv yolo

# ---- a wrong fold fails the comparison ----------------------------------------------
# The bounds must still catch the faults they exist for.  Each fault is
# made in the CCNN's weights before folding, as a fold that read the wrong
# R would make it: layer 0 of mnist holds biases, scales, rolling mean and
# variance (16 each), w (8 x 3 x 2 x 3 x 3), then R (2 x 3 x 3).
#   transposed:  R[k, x, y] for R[k, y, x]
#   branch:      each branch reads the other branch's R
#   off_by_one:  each kernel pixel reads the next pixel's R
wrong_fold() {
    $PY - "$WORK/mnist.weights" "$WORK/wrong-$1.weights" "$1" <<'EOF'
import sys
import numpy as np
data = np.fromfile(sys.argv[1], np.uint8)
at = 20 + 4 * (4 * 16 + 8 * 3 * 2 * 9)
r = data[at:at + 4 * 18].view(np.float32).reshape(2, 3, 3)
r = {"transposed": r.transpose(0, 2, 1), "branch": r[::-1],
     "off_by_one": np.roll(r.reshape(2, 9), -1, axis=1).reshape(2, 3, 3)}[sys.argv[3]]
data[at:at + 4 * 18] = np.ascontiguousarray(r).view(np.uint8).ravel()
data.tofile(sys.argv[2])
EOF
    ./darknet gcfold "$WORK/mnist.cfg" "$WORK/wrong-$1.weights" "$WORK/wrong-$1.cfg" "$WORK/wrong-$1-fold.weights" \
        > /dev/null 2>&1
    fed "wrong-$1" "$WORK/wrong-$1.cfg" "$WORK/wrong-$1-fold.weights" "$WORK/mnist.fast.bin" fast $IMAGES
    build/tests/compare_layers "$WORK/mnist.cfg" "$WORK/mnist.weights" "$WORK/mnist.fast.bin" "$WORK/mnist.in.bin" \
        "$WORK/wrong-$1.fast.fed.bin" > "$WORK/wrong-$1.out" 2>&1
    status=$?
    [ $status -eq 1 ] && pass "wrong_fold_detected_$1" || fail "wrong_fold_detected_$1" "status $status: $(tail -1 "$WORK/wrong-$1.out")"
    tail -1 "$WORK/wrong-$1.out" | sed "s/^/wrong_fold_detected_$1: /"
}
for fault in transposed branch off_by_one; do wrong_fold $fault; done

# ---- refusals, -keep and errors --------------------------------------------------
expect_error gcmerge_max_refused "cfg/gcconv-example.cfg: section 7 [gcmerge]: cannot be folded into upstream layers: mode=max" \
    ./darknet gcfold cfg/gcconv-example.cfg "$WORK/none.weights" "$WORK/merge.cfg" "$WORK/merge.weights"
[ ! -e "$WORK/merge.cfg" ] && [ ! -e "$WORK/merge.weights" ] && pass refusal_writes_nothing || fail refusal_writes_nothing
train_classifier merge tests/data/memcheck.cfg 3
check fold_keep ./darknet gcfold "$WORK/merge.cfg" "$WORK/merge.weights" "$WORK/merge-fold.cfg" \
    "$WORK/merge-fold.weights" -keep
grep -q '^\[gcmerge\]' "$WORK/merge-fold.cfg" && ! grep -q '^\[gcconv\]' "$WORK/merge-fold.cfg" \
    && pass keep_leaves_gcmerge || fail keep_leaves_gcmerge
build/tests/dump_images "$WORK/merge.cfg" "$WORK/merge.weights" "$WORK/merge.bin" "$WORK/merge.in.bin" $IMAGES > /dev/null 2>&1
fed merge-fold "$WORK/merge-fold.cfg" "$WORK/merge-fold.weights" "$WORK/merge.bin" fast $IMAGES
compare keep_equals_ccnn merge "$WORK/merge.bin" "$WORK/merge-fold.fast.fed.bin"
expect_error missing_cfg "cannot open $WORK/nope.cfg for reading" \
    ./darknet gcfold "$WORK/nope.cfg" "$WORK/mnist.weights" "$WORK/x.cfg" "$WORK/x.weights"
expect_error short_weights "$WORK/short.weights" sh -c "head -c 4000 '$WORK/mnist.weights' > '$WORK/short.weights' &&
    ./darknet gcfold '$WORK/mnist.cfg' '$WORK/short.weights' '$WORK/x.cfg' '$WORK/x.weights'"
expect_error unwritable_output "cannot save $WORK/no/such/dir/x.weights" \
    ./darknet gcfold "$WORK/mnist.cfg" "$WORK/mnist.weights" "$WORK/x.cfg" "$WORK/no/such/dir/x.weights"
expect_error usage "usage:" ./darknet gcfold "$WORK/mnist.cfg"
