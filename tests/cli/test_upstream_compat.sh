#!/bin/sh
# Upstream behaviour is unchanged: weights written by the unpatched upstream
# build (build/plain, same compiler flags) load in ours and give identical
# outputs, and the other way round; upstream cfgs still parse and run.
# Our dumps run on upstream's reference kernels (DARKNET_REFERENCE=1), which
# must give upstream's bits; test_fastpath_outputs.sh checks that the fast
# kernels agree with them to float rounding.
. "$(dirname "$0")/lib.sh"
shapes_dataset
PLAIN=build/plain
CFG=$WORK/compat.cfg
sed 's/^max_batches=.*/max_batches=3/' tests/data/tiny-classifier.cfg > "$CFG"
sed "s#backup=.*#backup=$WORK/plain#" "$SHAPES/shapes.data" > "$WORK/plain.data"
sed "s#backup=.*#backup=$WORK/ours#" "$SHAPES/shapes.data" > "$WORK/ours.data"
mkdir -p "$WORK/plain" "$WORK/ours"

check plain_trains $PLAIN/darknet classifier train "$WORK/plain.data" "$CFG"
check ours_trains ./darknet classifier train "$WORK/ours.data" "$CFG"

same_output() {   # name cfg weights
    $PLAIN/dump_output "$2" "$3" "$WORK/$1.plain.bin" > /dev/null 2>&1 &&
    DARKNET_REFERENCE=1 build/tests/dump_output "$2" "$3" "$WORK/$1.ours.bin" > /dev/null 2>&1 &&
    [ -s "$WORK/$1.ours.bin" ] && cmp -s "$WORK/$1.plain.bin" "$WORK/$1.ours.bin"
}
same_output upstream_weights "$CFG" "$WORK/plain/compat.weights" \
    && pass upstream_weights_identical_outputs || fail upstream_weights_identical_outputs
same_output our_weights "$CFG" "$WORK/ours/compat.weights" \
    && pass our_weights_identical_outputs || fail our_weights_identical_outputs

# Stock upstream cfgs parse and run forward identically with random weights
# (both builds draw them from rand() with its default seed).
for c in tiny resnet18 yolov3-tiny; do
    src=build/darknet/cfg/$c.cfg
    sed 's/^batch=.*/batch=1/; s/^subdivisions=.*/subdivisions=1/; s/^width=.*/width=64/; s/^height=.*/height=64/' "$src" > "$WORK/$c.cfg"
    same_output "$c" "$WORK/$c.cfg" "" && pass "stock_${c}_identical" || fail "stock_${c}_identical"
done
