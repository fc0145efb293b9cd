# Shared by the ONNX tests (test_onnx_export.sh, test_onnx_node.sh; sourced
# after lib.sh): the shapes set with its .data in $WORK, a classifier trained
# briefly, and compare_layers of a runtime's layer-by-layer dump against
# ./darknet's, within the rounding bounds of tests/unit/helpers/rounding.c.
PY=/usr/bin/python3
RUN="$PY tests/tools/onnx_run.py"
shapes_dataset
IMAGES=$(ls "$SHAPES"/valid/*.png | head -6)
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$WORK/shapes.data"

# train_classifier NAME CFG ITERATIONS [SED]: $WORK/NAME.cfg (batch 8, 4 classes, seed 7; then
# the sed commands SED, which reduce a cfg), $WORK/NAME.weights.  Upstream's cfgs write
# " batch=1" and "max_batches = 500200": the patterns allow the spaces.
train_classifier() {
    sed "s/^ *batch *=.*/batch=8/; s/^ *subdivisions *=.*/subdivisions=1/; s/^max_batches *=.*/max_batches=$3/;
         s/^policy=.*/policy=constant/; s/^output=10$/output=4/; s/^filters=10$/filters=4/; s/^seed=.*//;
         s/^\[net\]/[net]\nseed=7/; ${4:-}" "$2" > "$WORK/$1.cfg"
    check "train_$1" ./darknet classifier train "$WORK/shapes.data" "$WORK/$1.cfg" -dont_show
}

# compare NAME DUMP OUT: compare_layers of $WORK/NAME's reference against DUMP, into $WORK/OUT.out
compare() {
    build/tests/compare_layers "$WORK/$1.cfg" "$WORK/$1.weights" "$WORK/$1.ref.bin" "$WORK/$1.in.bin" "$2" --common \
        > "$WORK/$3.out" 2>&1
}
