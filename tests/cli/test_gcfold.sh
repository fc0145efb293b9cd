#!/bin/sh
# ./darknet gcfold: a CCNN folded into plain [convolutional] layers computes
# what the CCNN computes, on real images (PNG for the classifiers, JPEG for
# the detector), in our build (fast and reference kernels), in stock
# upstream Darknet (build/plain) and in OpenCV's dnn module.  Weights come
# from a few training iterations, so that R and the batch-norm rolling
# statistics are not their initial values.
#
# Layer outputs are compared one by one (tests/tools/compare_dumps.py):
# max |a - b| / max |b| within RTOL.  OpenCV's batch norm divides by
# sqrt(var + 1e-6) where Darknet divides by sqrt(var) + 1e-6, so nets with
# batch norm agree with it to CV_BN_RTOL (about 1e-5 / sqrt(var) after so
# little training: 4.5e-3 measured on the detector); without batch norm to
# RTOL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
RTOL=1e-5
CV_BN_RTOL=2e-2
PY=/usr/bin/python3
CMP="$PY tests/tools/compare_dumps.py"
shapes_dataset
IMAGES=$(ls "$SHAPES"/valid/*.png | head -6)
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$WORK/shapes.data"

# train_classifier NAME CFG ITERATIONS: $WORK/NAME.cfg (batch 8, 4 classes), $WORK/NAME.weights
train_classifier() {
    sed "s/^batch=.*/batch=8/; s/^subdivisions=.*/subdivisions=1/; s/^max_batches=.*/max_batches=$3/;
         s/^policy=.*/policy=constant/; s/^output=10$/output=4/; s/^filters=10$/filters=4/" "$2" > "$WORK/$1.cfg"
    check "train_$1" ./darknet classifier train "$WORK/shapes.data" "$WORK/$1.cfg" -dont_show
}

# dumps NAME CFG WEIGHTS IMAGES...: $WORK/NAME.{fast,ref,plain}.bin and NAME.in.bin
dumps() {
    d=$1 c=$2 w=$3; shift 3
    build/tests/dump_images "$c" "$w" "$WORK/$d.fast.bin" "$WORK/$d.in.bin" "$@" > /dev/null 2>&1
    DARKNET_REFERENCE=1 build/tests/dump_images "$c" "$w" "$WORK/$d.ref.bin" "$WORK/$d.in.bin" "$@" > /dev/null 2>&1
    build/plain/dump_images "$c" "$w" "$WORK/$d.plain.bin" "$WORK/$d.plain-in.bin" "$@" > /dev/null 2>&1
}

# compare NAME A B [ARGS]: passes when A and B agree to RTOL (or ARGS' --rtol)
compare() {
    name=$1 a=$2 b=$3; shift 3
    if $CMP "$a" "$b" --rtol "$RTOL" "$@" > "$WORK/$name.out" 2>&1; then pass "$name"; else fail "$name" "$(cat "$WORK/$name.out")"; fi
    sed "s/^/$name: /" "$WORK/$name.out"
}

# fold_and_compare NAME IMAGES...: folds $WORK/NAME.{cfg,weights} and checks
# the fold against the CCNN in every build
fold_and_compare() {
    n=$1; shift
    check "fold_$n" ./darknet gcfold "$WORK/$n.cfg" "$WORK/$n.weights" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights"
    gc=$(grep -c '^\[gcconv\]' "$WORK/$n.cfg")
    left=$(grep -c '^\[gcconv\]' "$WORK/$n-fold.cfg")
    convs=$(( $(grep -c '^\[convolutional\]' "$WORK/$n.cfg") + gc ))
    [ "$gc" -gt 0 ] && [ "$left" -eq 0 ] && [ "$(grep -c '^\[convolutional\]' "$WORK/$n-fold.cfg")" -eq "$convs" ] \
        && pass "${n}_cfg_has_convolutional_only" || fail "${n}_cfg_has_convolutional_only" "$gc [gcconv], $left left"
    # the header (version and seen) is the CCNN's
    [ "$(head -c 20 "$WORK/$n.weights" | od -An -tx1)" = "$(head -c 20 "$WORK/$n-fold.weights" | od -An -tx1)" ] \
        && pass "${n}_header_kept" || fail "${n}_header_kept"
    dumps "$n" "$WORK/$n.cfg" "$WORK/$n.weights" "$@"
    dumps "$n-fold" "$WORK/$n-fold.cfg" "$WORK/$n-fold.weights" "$@"
    compare "${n}_fold_equals_ccnn" "$WORK/$n-fold.fast.bin" "$WORK/$n.fast.bin"
    compare "${n}_fold_equals_ccnn_reference_kernels" "$WORK/$n-fold.ref.bin" "$WORK/$n.ref.bin"
    compare "${n}_stock_upstream_equals_ccnn" "$WORK/$n-fold.plain.bin" "$WORK/$n.ref.bin"
    # stock upstream and our reference kernels: the same bits on the fold, from the same input
    cmp -s "$WORK/$n-fold.in.bin" "$WORK/$n-fold.plain-in.bin" && cmp -s "$WORK/$n-fold.plain.bin" "$WORK/$n-fold.ref.bin" \
        && pass "${n}_stock_upstream_bit_identical" || fail "${n}_stock_upstream_bit_identical"
}

# opencv NAME RTOL: OpenCV's dnn on the fold against our CCNN's outputs
opencv() {
    if $PY tests/tools/opencv_dump.py "$WORK/$1-fold.cfg" "$WORK/$1-fold.weights" "$WORK/$1.in.bin" \
        "$WORK/$1.cv.bin" > "$WORK/$1.cv.out" 2>&1; then pass "${1}_opencv_reads_fold"
    else fail "${1}_opencv_reads_fold" "$(tail -3 "$WORK/$1.cv.out")"; fi
    compare "${1}_opencv_equals_ccnn" "$WORK/$1.cv.bin" "$WORK/$1.fast.bin" --common --rtol "$2"
}

# ---- classifiers --------------------------------------------------------------
# mnist-small-k2's [gcmerge] head is left out: it cannot be folded, and
# what is tested here is the fold of the [gcconv] layers before it.
sed '/^\[gcmerge\]/,/^$/d' cfg/mnist-small-k2.cfg > "$WORK/mnist-nomerge.cfg"
train_classifier mnist "$WORK/mnist-nomerge.cfg" 40
fold_and_compare mnist $IMAGES
opencv mnist "$CV_BN_RTOL"
# the [connected] head is copied as it was: the files end alike
tail_bytes=$(( (4 + 4 * 7 * 7 * 64) * 4 ))
[ "$(tail -c $tail_bytes "$WORK/mnist.weights" | md5sum)" = "$(tail -c $tail_bytes "$WORK/mnist-fold.weights" | md5sum)" ] \
    && pass mnist_connected_copied || fail mnist_connected_copied

train_classifier resnet18 cfg/resnet18-cifar-k2.cfg 6
fold_and_compare resnet18 $IMAGES
grep -q "as 3x3 with the weights at the centre" "$WORK/resnet18-fold.cfg" \
    && pass resnet18_strided_1x1_widened || fail resnet18_strided_1x1_widened
opencv resnet18 "$CV_BN_RTOL"

# every kind of [gcconv]: branch mixing with and without expand, 1x1, K=1, padding=2
train_classifier mixes tests/data/fold-mixes.cfg 20
fold_and_compare mixes $IMAGES
opencv mixes "$CV_BN_RTOL"
sed 's/^batch_normalize=1/batch_normalize=0/' tests/data/fold-mixes.cfg > "$WORK/mixes-nobn.src.cfg"
train_classifier mixes-nobn "$WORK/mixes-nobn.src.cfg" 20
fold_and_compare mixes-nobn $IMAGES
opencv mixes-nobn "$RTOL"

# ---- a YOLOv3 detector, on JPEG images ------------------------------------------
voc_shapes
convert_to "$WORK/dn"
sed "s/^batch=.*/batch=2/; s/^subdivisions=.*/subdivisions=1/; s/^width=.*/width=96/; s/^height=.*/height=96/;
     s/^max_batches=.*/max_batches=4/; s/^burn_in=.*/burn_in=0/; s/^classes=20/classes=3/; s/^filters=75/filters=24/" \
    cfg/yolov3-tiny-voc-gc.cfg > "$WORK/yolo.cfg"
check train_yolo ./darknet detector train "$WORK/dn/voc.data" "$WORK/yolo.cfg"
mv "$WORK/dn/yolo_final.weights" "$WORK/yolo.weights"
fold_and_compare yolo $(head -3 "$WORK/dn/test.txt")
opencv yolo "$CV_BN_RTOL"

# ---- a wrong fold fails the comparison ----------------------------------------------
# layer 0 of mnist: biases, scales, rolling mean and variance (16 each),
# w (8 x 3 x 2 x 3 x 3), then R (2 x 3 x 3): R's pixels transposed
$PY - "$WORK/mnist.weights" "$WORK/wrong.weights" <<'EOF'
import sys
import numpy as np
data = np.fromfile(sys.argv[1], np.uint8)
at = 20 + 4 * (4 * 16 + 8 * 3 * 2 * 9)
r = data[at:at + 4 * 18].view(np.float32).reshape(2, 3, 3)
data[at:at + 4 * 18] = np.ascontiguousarray(r.transpose(0, 2, 1)).view(np.uint8).ravel()
data.tofile(sys.argv[2])
EOF
./darknet gcfold "$WORK/mnist.cfg" "$WORK/wrong.weights" "$WORK/wrong-fold.cfg" "$WORK/wrong-fold.weights" > /dev/null 2>&1
build/tests/dump_images "$WORK/wrong-fold.cfg" "$WORK/wrong-fold.weights" "$WORK/wrong.bin" "$WORK/wrong.in.bin" \
    $IMAGES > /dev/null 2>&1
[ -s "$WORK/wrong.bin" ] && ! $CMP "$WORK/wrong.bin" "$WORK/mnist.fast.bin" > "$WORK/wrong.out" 2>&1 \
    && pass wrong_fold_detected || fail wrong_fold_detected "$(cat "$WORK/wrong.out")"

# ---- refusals, -keep and errors --------------------------------------------------
expect_error gcmerge_refused "cfg/gcconv-example.cfg: section 7 [gcmerge]: cannot be folded into upstream layers" \
    ./darknet gcfold cfg/gcconv-example.cfg "$WORK/none.weights" "$WORK/merge.cfg" "$WORK/merge.weights"
[ ! -e "$WORK/merge.cfg" ] && [ ! -e "$WORK/merge.weights" ] && pass refusal_writes_nothing || fail refusal_writes_nothing
train_classifier merge tests/data/memcheck.cfg 3
check fold_keep ./darknet gcfold "$WORK/merge.cfg" "$WORK/merge.weights" "$WORK/merge-fold.cfg" \
    "$WORK/merge-fold.weights" -keep
grep -q '^\[gcmerge\]' "$WORK/merge-fold.cfg" && ! grep -q '^\[gcconv\]' "$WORK/merge-fold.cfg" \
    && pass keep_leaves_gcmerge || fail keep_leaves_gcmerge
build/tests/dump_images "$WORK/merge.cfg" "$WORK/merge.weights" "$WORK/merge.bin" "$WORK/merge.in.bin" $IMAGES > /dev/null 2>&1
build/tests/dump_images "$WORK/merge-fold.cfg" "$WORK/merge-fold.weights" "$WORK/merge-fold.bin" "$WORK/merge.in.bin" \
    $IMAGES > /dev/null 2>&1
compare keep_equals_ccnn "$WORK/merge-fold.bin" "$WORK/merge.bin"
expect_error missing_cfg "cannot read $WORK/nope.cfg" \
    ./darknet gcfold "$WORK/nope.cfg" "$WORK/mnist.weights" "$WORK/x.cfg" "$WORK/x.weights"
expect_error short_weights "$WORK/short.weights" sh -c "head -c 4000 '$WORK/mnist.weights' > '$WORK/short.weights' &&
    ./darknet gcfold '$WORK/mnist.cfg' '$WORK/short.weights' '$WORK/x.cfg' '$WORK/x.weights'"
expect_error unwritable_output "cannot save $WORK/no/such/dir/x.weights" \
    ./darknet gcfold "$WORK/mnist.cfg" "$WORK/mnist.weights" "$WORK/x.cfg" "$WORK/no/such/dir/x.weights"
expect_error usage "usage:" ./darknet gcfold "$WORK/mnist.cfg"
