#!/bin/sh
# ./darknet export onnx: the model it writes passes ONNX's own checker
# (full_check) and strict shape inference (python3-onnx), and OpenCV's dnn
# module (readNetFromONNX) computes what ./darknet computes, on real images.
# Weights come from a few seeded training iterations, so that R and the
# batch-norm rolling statistics are not their initial values.
#
# The comparison rule is test_gcfold.sh's: layer by layer, each layer of
# the ONNX model cut out and run alone by OpenCV on Darknet's outputs of
# the layers it reads (tests/tools/onnx_run.py feed), and its largest
# difference from Darknet's output held to the rounding bound derived for
# that layer from its sum lengths and magnitudes
# (tests/unit/helpers/rounding.c, via tests/tools/compare_layers).  Batch
# norm is folded into the weights with Darknet's own formula, so no
# allowance for OpenCV's batch-norm formula is needed (no --opencv): the
# fold only moves the gain's rounding into the weights, within the
# roundings the bound already counts for batch norm.  Whole networks are
# run too, and their largest output difference printed: end to end, the
# differences compound through the layers, for which no bound is derived.
#
# Every network is trained a few steps first, upstream's ImageNet and COCO
# cfgs included (darknet19.cfg, resnet50.cfg, yolov3-tiny.cfg, from the
# upstream tree the build unpacks), with the number of classes cut to the
# data's.  Reduced so that the whole script stays near two minutes on two
# loaded cores: wrn-40-4-cifar-k2 at 16x16; alexnet-imagenet-k2 at 67x67
# with 16 to 64 filters and 64-wide [connected] layers; darknet19 and
# resnet50 at 64x64; the detectors at 96x96.  Two or three steps leave the
# rolling statistics at a few percent of the real ones (they start at 0
# and move 1% a step): each batch-norm layer then scales its values up by
# 5 to 7, and wrn and resnet50 overflow float before their last layer.
# Their statistics, and darknet19's, are re-estimated from one batch of
# training images (tests/tools/bn_estimate) after training.  resnet50's [shortcut]s add layers of different sizes
# and channel counts, and a small cfg on initialised weights covers the
# other cases (a smaller layer spread to every second pixel, alpha and
# beta not 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
. "$(dirname "$0")/onnxlib.sh"
UPSTREAM_CFG=build/darknet/cfg   # upstream's own cfgs, as the build unpacks them

# settle NAME: NAME's batch-norm rolling statistics re-estimated from one batch of
# training images (tests/tools/bn_estimate.c), for the deep networks whose few
# training steps leave statistics near zero and activations that overflow
settle() {
    check "settle_$1" build/tests/bn_estimate "$WORK/$1.cfg" "$WORK/$1.weights" "$WORK/$1.weights" \
        $(ls "$SHAPES"/train/*.png | head -8)
}

# reduced SIZE: sed commands that set [net]'s input and crops to SIZE x SIZE, a
# learning rate of 0.01 and no burn-in (whose rate would be 0 for these few steps)
reduced() {
    echo "s/^width=.*/width=$1/; s/^height=.*/height=$1/; s/^min_crop=.*/min_crop=$1/; s/^max_crop=.*/max_crop=$1/;
          s/^learning_rate=.*/learning_rate=0.01/; s/^burn_in *=.*/burn_in=0/"
}

# export_and_compare NAME IMAGES...: exports $WORK/NAME.{cfg,weights}, checks
# the model with python3-onnx, and compares OpenCV's run of it with ours
export_and_compare() {
    n=$1; shift
    check "export_$n" ./darknet export onnx "$WORK/$n.cfg" "$WORK/$n.weights" "$WORK/$n.onnx"
    build/tests/dump_images "$WORK/$n.cfg" "$WORK/$n.weights" "$WORK/$n.ref.bin" "$WORK/$n.in.bin" "$@" > /dev/null 2>&1
    if $RUN check "$WORK/$n.onnx" "$WORK/$n.ref.bin" > "$WORK/$n.check.out" 2>&1; then pass "${n}_onnx_checker"
    else fail "${n}_onnx_checker" "$(tail -3 "$WORK/$n.check.out")"; fi
    if $RUN feed "$WORK/$n.onnx" "$WORK/$n.in.bin" "$WORK/$n.ref.bin" "$WORK/$n.cv.bin" > "$WORK/$n.feed.out" 2>&1; then
        pass "${n}_opencv_reads_onnx"
    else fail "${n}_opencv_reads_onnx" "$(tail -3 "$WORK/$n.feed.out")"; fi
    compare "$n" "$WORK/$n.cv.bin" "$n.compare"
    status=$?
    [ $status -eq 0 ] && pass "${n}_opencv_equals_darknet" || fail "${n}_opencv_equals_darknet" "status $status"
    grep -E '^(worst|compare_layers|layer .*OVER)' "$WORK/$n.compare.out" | sed "s/^/${n}_opencv_equals_darknet: /"
    # the whole network end to end, for the record
    $RUN whole "$WORK/$n.onnx" "$WORK/$n.in.bin" "$WORK/$n.whole.bin" > /dev/null 2>&1 &&
        $RUN record "$WORK/$n.ref.bin" "$WORK/$n.whole.bin" "$n" "OpenCV"
}

# ---- classifiers --------------------------------------------------------------
train_classifier cifar_small cfg/cifar_small.cfg 20
export_and_compare cifar_small $IMAGES
train_classifier mnist cfg/mnist-small-k2.cfg 40
export_and_compare mnist $IMAGES
grep -q '"ReduceMean"\|ReduceMean' "$WORK/mnist.onnx" && pass mnist_gcmerge_exported || fail mnist_gcmerge_exported
train_classifier resnet18 cfg/resnet18-cifar-k2.cfg 6
export_and_compare resnet18 $IMAGES
# the plain twin: its projection shortcuts are 1x1 [convolutional] layers at
# stride 2, which OpenCV computes as convolutions, and so does this build
# (patches/0091; stock Darknet reads their input as if the stride were 1)
train_classifier resnet18_plain cfg/resnet18-cifar.cfg 6
export_and_compare resnet18_plain $IMAGES
# the larger ones at reduced sizes, on two images
TWO=$(echo $IMAGES | cut -d' ' -f1-2)
train_classifier wrn cfg/wrn-40-4-cifar-k2.cfg 2 "$(reduced 16); s/^batch=8/batch=4/"
settle wrn
export_and_compare wrn $TWO
train_classifier alexnet cfg/alexnet-imagenet-k2.cfg 4 "$(reduced 67); s/^filters=96$/filters=16/;
    s/^filters=256$/filters=32/; s/^filters=384$/filters=32/; s/^output=4096$/output=64/; s/^output=1000$/output=4/"
export_and_compare alexnet $TWO
train_classifier darknet19 "$UPSTREAM_CFG/darknet19.cfg" 2 "$(reduced 64); s/^filters=1000$/filters=4/"
settle darknet19
export_and_compare darknet19 $TWO
train_classifier resnet50 "$UPSTREAM_CFG/resnet50.cfg" 2 "$(reduced 64); s/^filters=1000$/filters=4/"
settle resnet50
export_and_compare resnet50 $TWO
grep -q 'steps' "$WORK/resnet50.onnx" && pass resnet50_strided_shortcut_exported || fail resnet50_strided_shortcut_exported
# The [shortcut] cases no shipped cfg has, on initialised weights: a smaller
# layer added to every second pixel of the first 4 of 6 channels, and a larger
# one read every second pixel, its first 3 channels, with alpha and beta not 1
# (alpha scales only where a value is added: shortcut_cpu).
printf '[net]\nwidth=16\nheight=16\nchannels=3\n
[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n
[convolutional]\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=linear\n
[upsample]\nstride=2\n
[shortcut]\nfrom=0\nalpha=0.5\nbeta=2\nactivation=leaky\n
[convolutional]\nfilters=3\nsize=3\nstride=2\npad=1\nactivation=linear\n
[shortcut]\nfrom=2\nalpha=0.75\nbeta=1.5\nactivation=linear\n' > "$WORK/shortcuts.cfg"
build/tests/init_weights "$WORK/shortcuts.cfg" "$WORK/shortcuts.weights" > /dev/null 2>&1
export_and_compare shortcuts $TWO

# ---- detectors, on JPEG images: the heads' maps layer by layer, and their ------
# ---- decoded boxes and scores against Darknet's formulas (onnx_run.py decode) ---
voc_shapes
convert_to "$WORK/dn"
# train_detector NAME CFG FILTERS NEW: 96 x 96, 3 classes (the head's FILTERS become NEW), 4 iterations, seed 7
train_detector() {
    sed "s/^batch=.*/batch=2/; s/^subdivisions=.*/subdivisions=1/; s/^width=.*/width=96/; s/^height=.*/height=96/;
         s/^max_batches *=.*/max_batches=4/; s/^burn_in *=.*/burn_in=0/; s/^classes=[0-9]*/classes=3/; s/^filters=$3$/filters=$4/;
         s/^\[net\]/[net]\nseed=7/" "$2" > "$WORK/$1.cfg"
    check "train_$1" ./darknet detector train "$WORK/dn/voc.data" "$WORK/$1.cfg"
    mv "$WORK/dn/$1_final.weights" "$WORK/$1.weights"
}
decoded() {
    if $RUN decode "$WORK/$1.onnx" "$WORK/$1.cfg" "$WORK/$1.in.bin" "$WORK/$1.ref.bin" > "$WORK/$1.decode.out" 2>&1; then
        pass "${1}_decoded_boxes_and_scores"
    else fail "${1}_decoded_boxes_and_scores" "$(tail -3 "$WORK/$1.decode.out")"; fi
    tail -1 "$WORK/$1.decode.out" | sed "s/^/${1}_decoded_boxes_and_scores: /"
}
DET_IMAGES=$(head -3 "$WORK/dn/test.txt")
train_detector yolov3 cfg/yolov3-tiny-voc-gc.cfg 75 24
export_and_compare yolov3 $DET_IMAGES
decoded yolov3
train_detector yolov2 cfg/yolov2-tiny-voc-gc.cfg 125 40
export_and_compare yolov2 $DET_IMAGES
decoded yolov2
train_detector yolov3_upstream "$UPSTREAM_CFG/yolov3-tiny.cfg" 255 24
export_and_compare yolov3_upstream $DET_IMAGES
decoded yolov3_upstream

# ---- a wrong exporter fails the comparison --------------------------------------------
# Each fault is one an exporter could make, written into cifar_small's
# model: the first Conv's padding all after the image instead of around
# it; its first two filters exchanged; the first MaxPool's padding before
# the image instead of after (Darknet's window starts pad/2 before).
# A fault in the exporter's C code is caught the same way; checked by hand
# once, not run here (it needs a second build): with alpha applied to the
# whole of prev in src/deploy/onnx_shortcut.c (the scalar instead of
# alpha_mask()), shortcuts_opencv_equals_darknet fails at layer 3 by a
# factor of 3.9e5 over its bound.
for fault in pads swap pool; do
    $RUN mutate "$WORK/cifar_small.onnx" "$WORK/wrong-$fault.onnx" $fault &&
        $RUN feed "$WORK/wrong-$fault.onnx" "$WORK/cifar_small.in.bin" "$WORK/cifar_small.ref.bin" \
            "$WORK/wrong-$fault.cv.bin" > /dev/null 2>&1
    compare cifar_small "$WORK/wrong-$fault.cv.bin" "wrong-$fault"
    status=$?
    [ $status -eq 1 ] && pass "wrong_export_detected_$fault" ||
        fail "wrong_export_detected_$fault" "status $status: $(tail -1 "$WORK/wrong-$fault.out")"
    tail -1 "$WORK/wrong-$fault.out" | sed "s/^/wrong_export_detected_$fault: /"
done

# ---- options, refusals and errors --------------------------------------------------
check export_batch_opset ./darknet export onnx "$WORK/cifar_small.cfg" "$WORK/cifar_small.weights" \
    "$WORK/b4.onnx" -batch 4 -opset 11
$PY -c "
import onnx, sys
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
assert m.opset_import[0].version == 11
" "$WORK/b4.onnx" && pass batch_and_opset_written || fail batch_and_opset_written
expect_error two_stage_refused "section 11 [rpn]: cannot be exported to ONNX: a two-stage detector" \
    ./darknet export onnx cfg/faster-rcnn-small-voc-gc.cfg "" "$WORK/rcnn.onnx"
[ ! -e "$WORK/rcnn.onnx" ] && [ -z "$(ls "$WORK" | grep '^rcnn\.onnx')" ] && pass refusal_writes_nothing ||
    fail refusal_writes_nothing
printf '[net]\nwidth=8\nheight=8\nchannels=1\n\n[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=stair\n' \
    > "$WORK/stair.cfg"
expect_error activation_refused "$WORK/stair.cfg: section 0 [convolutional]: cannot be exported to ONNX: its activation" \
    ./darknet export onnx "$WORK/stair.cfg" "" "$WORK/stair.onnx"
expect_error bad_opset "-opset 9: must be from 11 to 17" \
    ./darknet export onnx "$WORK/cifar_small.cfg" "$WORK/cifar_small.weights" "$WORK/x.onnx" -opset 9
expect_error unwritable_output "cannot save $WORK/no/such/dir/x.onnx" \
    ./darknet export onnx "$WORK/cifar_small.cfg" "$WORK/cifar_small.weights" "$WORK/no/such/dir/x.onnx"
expect_error usage "usage:" ./darknet export onnx "$WORK/cifar_small.cfg"
