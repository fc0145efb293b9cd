#!/bin/sh
# The main job: generate the small shapes dataset, train a classifier on it,
# then evaluate it on the validation images.
set -eu
cd "$(dirname "$0")/.."
OUT=data/generated/shapes
/usr/bin/python3 scripts/gen_shapes_dataset.py "$OUT" --train 2000 --valid 400
CFG=${CFG:-cfg/shapes-demo.cfg}
NAME=$(basename "$CFG" .cfg)
echo "demo: training $CFG on $OUT (weights in $OUT/backup)"
./darknet classifier train "$OUT/shapes.data" "$CFG"
echo "demo: validating $OUT/backup/$NAME.weights"
./darknet classifier valid "$OUT/shapes.data" "$CFG" "$OUT/backup/$NAME.weights" 2>/dev/null | tail -1
